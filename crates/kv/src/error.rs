//! Command errors and their Redis texts.
//!
//! Every way a client command can fail is one variant of [`Error`]. Its `Display` is the exact
//! text Redis 7 sends, prefix included (`ERR syntax error`), because clients map error prefixes
//! and sometimes whole messages to exception types. [`Error::to_reply`] is the one place where a
//! kv error becomes a [`resp::Reply`]; it guarantees the text holds no `\r` or `\n`, which would
//! break the wire protocol (Redis replaces them with spaces too).
//!
//! Errors are values, not panics: a command error never changes state, never closes the
//! connection, and replicas produce the same error for the same log entry.

use crate::limits::{
    MAX_ARGUMENTS, MAX_KEY_BYTES, MAX_LCS_CELLS, MAX_PATTERN_BYTES, MAX_REPLY_ELEMENTS,
    MAX_VALUE_BYTES,
};
use resp::Reply;

/// A command failed; the variant says why and `Display` gives Redis's text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The command name is not one kv knows. Both fields are pre-formatted as Redis does: the
    /// name as the client typed it (up to 128 bytes) and its first arguments each quoted and
    /// followed by a space.
    #[error("ERR unknown command '{name}', with args beginning with: {args}")]
    UnknownCommand {
        /// The command name as given, truncated to 128 bytes.
        name: String,
        /// The leading arguments, formatted `'a' 'b' `.
        args: String,
    },
    /// Too few or too many arguments for the named (lower-case) command.
    #[error("ERR wrong number of arguments for '{0}' command")]
    WrongArity(&'static str),
    /// An unknown option or a forbidden combination of options.
    #[error("ERR syntax error")]
    Syntax,
    /// An argument or a stored value is not a 64-bit signed decimal integer.
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    /// An argument or a stored value is not a valid floating point number.
    #[error("ERR value is not a valid float")]
    NotFloat,
    /// INCR, DECR, INCRBY or DECRBY would leave the signed 64-bit range.
    #[error("ERR increment or decrement would overflow")]
    IncrOverflow,
    /// DECRBY was given -9223372036854775808, whose negation does not exist.
    #[error("ERR decrement would overflow")]
    DecrOverflow,
    /// INCRBYFLOAT would store NaN or an infinity.
    #[error("ERR increment would produce NaN or Infinity")]
    NanOrInfinity,
    /// HINCRBYFLOAT was given an infinite increment.
    #[error("ERR value is NaN or Infinity")]
    NanOrInfinityArgument,
    /// A TTL is zero, negative or out of range; the field is the lower-case command name.
    #[error("ERR invalid expire time in '{0}' command")]
    InvalidExpireTime(&'static str),
    /// A value (given, or grown by APPEND/SETRANGE) would exceed [`MAX_VALUE_BYTES`].
    #[error("ERR string exceeds maximum allowed size ({MAX_VALUE_BYTES} bytes)")]
    ValueTooLarge,
    /// A key exceeds [`MAX_KEY_BYTES`].
    #[error("ERR key exceeds maximum allowed size ({MAX_KEY_BYTES} bytes)")]
    KeyTooLarge,
    /// A KEYS or SCAN MATCH pattern exceeds [`MAX_PATTERN_BYTES`].
    #[error("ERR pattern exceeds maximum allowed size ({MAX_PATTERN_BYTES} bytes)")]
    PatternTooLarge,
    /// SETRANGE was given a negative offset.
    #[error("ERR offset is out of range")]
    OffsetOutOfRange,
    /// RENAME or RENAMENX of a key that does not exist.
    #[error("ERR no such key")]
    NoSuchKey,
    /// A SCAN cursor that is not an unsigned decimal integer.
    #[error("ERR invalid cursor")]
    InvalidCursor,
    /// EXPIRE and friends got an option other than NX, XX, GT or LT; the field is the option as
    /// given.
    #[error("ERR Unsupported option {0}")]
    UnsupportedOption(String),
    /// EXPIRE and friends got NX together with XX, GT or LT.
    #[error("ERR NX and XX, GT or LT options at the same time are not compatible")]
    NxAndXxGtLt,
    /// EXPIRE and friends got both GT and LT.
    #[error("ERR GT and LT options at the same time are not compatible")]
    GtAndLt,
    /// A command for one type met a key holding another.
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    /// HINCRBY on a field whose value is not an integer.
    #[error("ERR hash value is not an integer")]
    HashNotInteger,
    /// HINCRBYFLOAT on a field whose value is not a float.
    #[error("ERR hash value is not a float")]
    HashNotFloat,
    /// A count that must be positive (LPOP, SPOP, ...) is not.
    #[error("ERR value is out of range, must be positive")]
    NotPositive,
    /// A number outside the range the command accepts.
    #[error("ERR value is out of range")]
    OutOfRange,
    /// LSET past the end of the list.
    #[error("ERR index out of range")]
    IndexOutOfRange,
    /// LMPOP, SINTERCARD and friends with a numkeys that is not positive.
    #[error("ERR numkeys should be greater than 0")]
    NumKeysNotPositive,
    /// A numkeys larger than the arguments that follow it.
    #[error("ERR Number of keys can't be greater than number of args")]
    NumKeysTooMany,
    /// LMPOP's COUNT is not positive.
    #[error("ERR count should be greater than 0")]
    CountNotPositive,
    /// LPOS with RANK 0.
    #[error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")]
    RankZero,
    /// LPOS with a negative COUNT.
    #[error("ERR COUNT can't be negative")]
    CountNegative,
    /// LPOS with a negative MAXLEN.
    #[error("ERR MAXLEN can't be negative")]
    MaxLenNegative,
    /// SINTERCARD with a negative LIMIT.
    #[error("ERR LIMIT can't be negative")]
    LimitNegative,
    /// An unknown subcommand (OBJECT ...).
    #[error("ERR unknown subcommand '{sub}'. Try {command} HELP.")]
    UnknownSubcommand {
        /// The subcommand as given.
        sub: String,
        /// The command, upper case.
        command: &'static str,
    },
    /// OBJECT FREQ: there is no LFU policy.
    #[error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")]
    NoLfuPolicy,
    /// COPY to a database other than 0.
    #[error("ERR DB index is out of range")]
    DbIndexOutOfRange,
    /// COPY of a key onto itself.
    #[error("ERR source and destination objects are the same")]
    SameObject,
    /// A score range bound (ZCOUNT, ZRANGE BYSCORE, ...) is not a float or `(float`.
    #[error("ERR min or max is not a float")]
    MinMaxNotFloat,
    /// A lex range bound (ZLEXCOUNT, ZRANGE BYLEX, ...) is not `-`, `+`, `[x` or `(x`.
    #[error("ERR min or max not valid string range item")]
    MinMaxNotLex,
    /// ZADD with both NX and XX.
    #[error("ERR XX and NX options at the same time are not compatible")]
    XxAndNx,
    /// ZADD with GT and LT, or either with NX.
    #[error("ERR GT, LT, and/or NX options at the same time are not compatible")]
    GtLtNx,
    /// ZADD INCR with more than one score/member pair.
    #[error("ERR INCR option supports a single increment-element pair")]
    IncrSinglePair,
    /// ZADD INCR or ZINCRBY would make a score NaN (`inf` plus `-inf`).
    #[error("ERR resulting score is not a number (NaN)")]
    ScoreNaN,
    /// ZRANGE with LIMIT but neither BYSCORE nor BYLEX.
    #[error(
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    )]
    LimitNeedsByScoreOrLex,
    /// ZRANGE BYLEX with WITHSCORES.
    #[error("ERR syntax error, WITHSCORES not supported in combination with BYLEX")]
    WithScoresByLex,
    /// ZUNION and friends with a numkeys below 1; the field is the lower-case command name.
    #[error("ERR at least 1 input key is needed for '{0}' command")]
    AtLeastOneKey(&'static str),
    /// ZUNION/ZINTER WEIGHTS with a weight that is not a float.
    #[error("ERR weight value is not a float")]
    WeightNotFloat,
    /// SETBIT/GETBIT with an offset that is not an integer in 0..2^32.
    #[error("ERR bit offset is not an integer or out of range")]
    BitOffset,
    /// SETBIT with a value other than 0 or 1.
    #[error("ERR bit is not an integer or out of range")]
    BitValue,
    /// BITPOS looking for something other than 0 or 1.
    #[error("ERR The bit argument must be 1 or 0.")]
    BitArgument,
    /// BITOP NOT with more than one source.
    #[error("ERR BITOP NOT must be called with a single source key.")]
    BitOpNotSingleKey,
    /// LCS of a key that is not a string.
    #[error("ERR The specified keys must contain string values")]
    LcsNotStrings,
    /// LCS with both LEN and IDX.
    #[error("ERR If you want both the length and indexes, please just use IDX.")]
    LcsLenAndIdx,
    /// LCS of strings whose table would exceed [`MAX_LCS_CELLS`].
    #[error("ERR LCS of these strings would need more than {MAX_LCS_CELLS} table cells (two strings of about 4 KiB each)")]
    LcsTooLarge,
    /// A reply would hold more than [`MAX_REPLY_ELEMENTS`] elements.
    #[error(
        "ERR reply would exceed {MAX_REPLY_ELEMENTS} elements; ask for a smaller range or COUNT"
    )]
    ReplyTooLarge,
    /// A stream ID argument that is not `ms` or `ms-seq` (or an exclusive `-`/`+`).
    #[error("ERR Invalid stream ID specified as stream command argument")]
    StreamIdInvalid,
    /// XADD with an ID not above the stream's last ID.
    #[error("ERR The ID specified in XADD is equal or smaller than the target stream top item")]
    StreamIdTooSmall,
    /// XADD with the ID `0-0`.
    #[error("ERR The ID specified in XADD must be greater than 0-0")]
    StreamIdZero,
    /// XADD `*` on a stream whose last ID is the greatest possible.
    #[error("ERR The stream has exhausted the last possible ID, unable to add more items")]
    StreamExhausted,
    /// A negative MAXLEN threshold.
    #[error("ERR The MAXLEN argument must be >= 0.")]
    StreamMaxLenNegative,
    /// LIMIT given without `~`.
    #[error("ERR syntax error, LIMIT cannot be used without the special ~ option")]
    StreamLimitWithoutTilde,
    /// MAXLEN and MINID together.
    #[error("ERR syntax error, MAXLEN and MINID options at the same time are not compatible")]
    StreamMaxLenAndMinId,
    /// An exclusive range start that is the greatest ID.
    #[error("ERR invalid start ID for the interval")]
    StreamInvalidStart,
    /// An exclusive range end that is `0-0`.
    #[error("ERR invalid end ID for the interval")]
    StreamInvalidEnd,
    /// XREAD/XREADGROUP with a different number of keys and IDs (Redis 7.0 names XREAD for
    /// both).
    #[error(
        "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."
    )]
    StreamUnbalanced,
    /// XREAD or XREADGROUP with a BLOCK timeout that is not an integer of milliseconds.
    #[error("ERR timeout is not an integer or out of range")]
    BlockTimeoutInvalid,
    /// XREAD or XREADGROUP with a negative BLOCK timeout.
    #[error("ERR timeout is negative")]
    BlockTimeoutNegative,
    /// XREADGROUP on a missing key or group.
    #[error(
        "NOGROUP No such key '{key}' or consumer group '{group}' in XREADGROUP with GROUP option"
    )]
    NoGroupRead {
        /// The key, lossily decoded.
        key: String,
        /// The group, lossily decoded.
        group: String,
    },
    /// A group command on a group that does not exist.
    #[error("NOGROUP No such consumer group '{group}' for key name '{key}'")]
    NoGroup {
        /// The key, lossily decoded.
        key: String,
        /// The group, lossily decoded.
        group: String,
    },
    /// A subcommand of XGROUP with an option it does not take; the field is the subcommand as
    /// given.
    #[error("ERR unknown subcommand or wrong number of arguments for '{0}'. Try XGROUP HELP.")]
    XGroupSyntax(String),
    /// XPENDING, XCLAIM or XAUTOCLAIM on a missing key or group.
    #[error("NOGROUP No such key '{key}' or consumer group '{group}'")]
    NoGroupKey {
        /// The key, lossily decoded.
        key: String,
        /// The group, lossily decoded.
        group: String,
    },
    /// XGROUP CREATE of a group that exists.
    #[error("BUSYGROUP Consumer Group name already exists")]
    BusyGroup,
    /// XGROUP on a missing key.
    #[error("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.")]
    XGroupNoKey,
    /// A negative LIMIT in XADD or XTRIM.
    #[error("ERR The LIMIT argument must be >= 0.")]
    StreamLimitNegative,
    /// XSETID with an ID below the stream's greatest entry.
    #[error("ERR The ID specified in XSETID is smaller than the target stream top item")]
    XSetIdTooSmall,
    /// XSETID's ENTRIESADDED below the stream's length.
    #[error("ERR The entries_added specified in XSETID is smaller than the target stream length")]
    XSetIdEntriesBelowLength,
    /// XSETID's ENTRIESADDED negative.
    #[error("ERR entries_added must be positive")]
    XSetIdEntriesAdded,
    /// XSETID's MAXDELETEDID above its ID.
    #[error("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")]
    XSetIdBelowMaxDeleted,
    /// XREAD with `>`.
    #[error("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")]
    XReadGreater,
    /// XINFO STREAM FULL, which raftkv does not serve.
    #[error("ERR XINFO STREAM FULL is not supported")]
    XInfoFull,
    /// A bad min-idle-time, IDLE or TIME argument of XCLAIM; the field names it as Redis does.
    #[error("ERR Invalid {0} argument for XCLAIM")]
    XClaimArgument(&'static str),
    /// An XCLAIM option raftkv does not know; the field is the option as given.
    #[error("ERR Unrecognized XCLAIM option '{0}'")]
    XClaimOption(String),
    /// XAUTOCLAIM's COUNT out of range.
    #[error("ERR COUNT must be > 0")]
    XAutoClaimCount,
    /// XGROUP's ENTRIESREAD out of range.
    #[error("ERR value for ENTRIESREAD must be positive or -1")]
    EntriesRead,
    /// XREADGROUP with `$`.
    #[error("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.")]
    XReadGroupDollar,
    /// A command has more than [`MAX_ARGUMENTS`] arguments.
    #[error("ERR too many arguments: at most {MAX_ARGUMENTS} per command")]
    TooManyArguments,
    /// [`crate::Store::query`] was given a command that changes state; the field is its name.
    #[error("ERR '{0}' may change state and must be applied through the log, not queried")]
    NotReadOnly(&'static str),
    /// EVAL and friends with a negative numkeys.
    #[error("ERR Number of keys can't be negative")]
    NumKeysNegative,
    /// A script body larger than [`crate::script::MAX_SCRIPT_BYTES`].
    #[error(
        "ERR script exceeds maximum allowed size ({} bytes)",
        crate::script::MAX_SCRIPT_BYTES
    )]
    ScriptTooLarge,
    /// SCRIPT LOAD with [`crate::script::MAX_CACHED_SCRIPTS`] scripts cached already.
    #[error(
        "ERR too many cached scripts (at most {}); use SCRIPT FLUSH",
        crate::script::MAX_CACHED_SCRIPTS
    )]
    TooManyScripts,
    /// SCRIPT FLUSH with a mode other than ASYNC or SYNC.
    #[error("ERR SCRIPT FLUSH only support SYNC|ASYNC option")]
    ScriptFlushMode,
    /// A write that may grow memory while the leader is past `maxmemory` (Redis's text).
    #[error("OOM command not allowed when used memory > 'maxmemory'.")]
    OutOfMemory,
    /// SCRIPT KILL: no script is ever running between commands.
    #[error("NOTBUSY No scripts in execution right now.")]
    NotBusy,
    /// FCALL of a function no library registered.
    #[error("ERR Function not found")]
    FunctionNotFound,
    /// FCALL_RO of a function not flagged `no-writes`.
    #[error("ERR Can not execute a script with write flag using *_ro command.")]
    FcallWriteFunction,
    /// FCALL's numkeys is not an integer.
    #[error("ERR Bad number of keys provided")]
    FcallNumKeys,
    /// FUNCTION DELETE of a library that is not loaded.
    #[error("ERR Library not found")]
    LibraryNotFound,
    /// FUNCTION LOAD (without REPLACE) of a library already loaded.
    #[error("ERR Library '{0}' already exists")]
    LibraryExists(String),
    /// FUNCTION RESTORE (APPEND) of a library already loaded (Redis's text, without quotes).
    #[error("ERR Library {0} already exists")]
    LibraryExistsOnRestore(String),
    /// A library registers a function another library has.
    #[error("ERR Function {0} already exists")]
    FunctionExists(String),
    /// Library code that does not start with `#!`.
    #[error("ERR Missing library metadata")]
    MissingLibraryMetadata,
    /// Library code that is only a `#!` line.
    #[error("ERR Invalid library metadata")]
    InvalidLibraryMetadata,
    /// A `#!` line naming an engine other than `lua`.
    #[error("ERR Engine '{0}' not found")]
    EngineNotFound(String),
    /// A `#!lua` line with something other than `name=...`.
    #[error("ERR Invalid metadata value given: {0}")]
    InvalidMetadataValue(String),
    /// A `#!lua` line with two names.
    #[error("ERR Invalid metadata value, name argument was given multiple times")]
    LibraryNameRepeated,
    /// A `#!lua` line without a name.
    #[error("ERR Library name was not given")]
    LibraryNameMissing,
    /// A library name with characters other than letters, digits and `_`.
    #[error("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long")]
    BadLibraryName,
    /// FUNCTION LOAD with an option other than REPLACE.
    #[error("ERR Unknown option given: {0}")]
    FunctionLoadOption(String),
    /// FUNCTION FLUSH with a mode other than ASYNC or SYNC.
    #[error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")]
    FunctionFlushMode,
    /// FUNCTION FLUSH with more than one argument.
    #[error("ERR unknown subcommand or wrong number of arguments for '{0}'. Try FUNCTION HELP.")]
    FunctionFlushArity(String),
    /// FUNCTION LIST with an unknown (or repeated) option.
    #[error("ERR Unknown argument {0}")]
    FunctionListArgument(String),
    /// FUNCTION LIST LIBRARYNAME without the pattern.
    #[error("ERR library name argument was not given")]
    FunctionListNoName,
    /// FUNCTION RESTORE with a policy other than FLUSH, APPEND or REPLACE.
    #[error("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")]
    RestorePolicy,
    /// FUNCTION RESTORE of a payload that FUNCTION DUMP did not write.
    #[error("ERR DUMP payload version or checksum are wrong")]
    BadDumpPayload,
    /// FUNCTION LOAD or RESTORE beyond [`crate::script::function::MAX_FUNCTION_LIBRARIES`].
    #[error(
        "ERR too many function libraries (at most {}); use FUNCTION DELETE or FUNCTION FLUSH",
        crate::script::function::MAX_FUNCTION_LIBRARIES
    )]
    TooManyLibraries,
    /// CONFIG SET notify-keyspace-events with a letter that is not a flag (Redis's text).
    #[error("ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")]
    InvalidNotifyFlags,
    /// An ACL SETUSER rule that cannot be applied: the rule as given and why (Redis's texts).
    #[error("ERR Error in ACL SETUSER modifier '{modifier}': {reason}")]
    AclRule {
        /// The rule as the client gave it (a password shown as its hash).
        modifier: String,
        /// Redis's reason text.
        reason: &'static str,
    },
    /// ACL DELUSER default.
    #[error("ERR The 'default' user cannot be removed")]
    AclDefaultUndeletable,
    /// A user name with a space or a control character, or too long.
    #[error("ERR Usernames can't contain spaces or null characters")]
    AclBadUserName,
    /// More users than [`crate::acl::MAX_USERS`].
    #[error(
        "ERR too many ACL users (at most {}); use ACL DELUSER",
        crate::acl::MAX_USERS
    )]
    AclTooManyUsers,
    /// A command other than AUTH/HELLO on a connection that has not authenticated.
    #[error("NOAUTH Authentication required.")]
    NoAuth,
    /// AUTH or HELLO AUTH with an unknown user, a wrong password or a disabled user.
    #[error("WRONGPASS invalid username-password pair or user is disabled.")]
    WrongPass,
    /// The user may not run this command (`name` or `name|subcommand`, lower case).
    #[error("NOPERM this user has no permissions to run the '{0}' command")]
    NoPermCommand(String),
    /// The user may not access one of the command's keys.
    #[error("NOPERM this user has no permissions to access one of the keys used as arguments")]
    NoPermKey,
    /// The user may not access one of the command's channels.
    #[error("NOPERM this user has no permissions to access one of the channels used as arguments")]
    NoPermChannel,
}

impl Error {
    /// True for errors that depend on what the keyspace holds rather than on the arguments
    /// (a missing key or consumer group). [`crate::Command::parse`] checks a command by running
    /// it on an empty keyspace, where these are expected; they are answered when applied.
    pub(crate) fn depends_on_state(&self) -> bool {
        matches!(
            self,
            Error::NoSuchKey
                | Error::NoGroup { .. }
                | Error::NoGroupRead { .. }
                | Error::NoGroupKey { .. }
                | Error::XGroupNoKey
        )
    }

    /// The error as a RESP error reply, with any `\r` or `\n` replaced by a space.
    pub fn to_reply(&self) -> Reply {
        let text = self.to_string();
        Reply::Error(text.replace(['\r', '\n'], " "))
    }

    /// Builds [`Error::UnknownCommand`] exactly as Redis formats it: the name up to 128 bytes,
    /// then each following argument quoted and followed by a space until the list reaches 128
    /// bytes. Like Redis's C strings, each part stops at a NUL byte.
    pub(crate) fn unknown_command(args: &[bytes::Bytes]) -> Error {
        const MAX: usize = 128;
        let name = args.first().map(|a| c_str(a, MAX)).unwrap_or_default();
        let mut list = String::new();
        for arg in args.iter().skip(1) {
            if list.len() >= MAX {
                break;
            }
            let room = MAX - list.len();
            list.push('\'');
            list.push_str(&c_str(arg, room));
            list.push_str("' ");
        }
        Error::UnknownCommand { name, args: list }
    }
}

/// The bytes of `arg` up to its first NUL and at most `max` bytes, as (lossy) text.
fn c_str(arg: &[u8], max: usize) -> String {
    let end = arg
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(arg.len())
        .min(max);
    String::from_utf8_lossy(&arg[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn unknown_command_text_matches_redis() {
        let args: Vec<Bytes> = ["foo", "a", "b"].iter().map(|s| Bytes::from(*s)).collect();
        assert_eq!(
            Error::unknown_command(&args).to_string(),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
    }

    #[test]
    fn reply_never_contains_newlines() {
        let args = vec![Bytes::from("a\r\nb"), Bytes::from("x\ny")];
        let Reply::Error(text) = Error::unknown_command(&args).to_reply() else {
            panic!("not an error reply");
        };
        assert!(!text.contains(['\r', '\n']), "{text:?}");
    }

    #[test]
    fn limits_appear_in_texts() {
        assert_eq!(
            Error::ValueTooLarge.to_string(),
            "ERR string exceeds maximum allowed size (8388608 bytes)"
        );
    }
}
