//! Redis 7 functions: FUNCTION LOAD / DELETE / FLUSH / LIST / DUMP / RESTORE / STATS / KILL /
//! HELP, FCALL and FCALL_RO.
//!
//! A library is Lua code that starts with a `#!lua name=<library>` line and registers functions
//! with `redis.register_function` when it runs. The `Functions` registry (part of the
//! replicated [`Store`], and of snapshots from format version 5) keeps each library's code and
//! what its functions declared (name, description, flags); nothing else. So:
//!
//! - FUNCTION LOAD, DELETE, FLUSH and RESTORE are log entries, applied on every replica. LOAD
//!   runs the library's code once, in the loading environment Redis 7 gives it (only
//!   `redis.register_function`, `redis.log`, the log levels and the version), to check it and
//!   learn its functions; every replica gets the same answer because the code sees nothing
//!   else.
//! - FCALL runs the library's code again, in a fresh environment, to register its functions,
//!   and calls the one asked for with `(keys, args)`; like EVAL, nothing survives between
//!   calls, so a call's result is a function of the store and the entry only. Running the
//!   loading code costs one pass over the library's top level on each call; the registered
//!   callbacks are not kept between calls because they would keep the library's locals too,
//!   which a replica that restarted (or a thread that never ran the library) would not have.
//! - FCALL is a write and goes through the log; a function flagged `no-writes` then runs as a
//!   read-only script (its writes are refused). FCALL_RO is a read, answered on the
//!   linearizable read path, and refuses functions without `no-writes`, with Redis's error.
//! - Function names are unique across libraries ignoring case (FCALL finds `F1` for `f1`), as
//!   in Redis; library names are case-sensitive.
//! - FUNCTION DUMP's payload is raftkv's own format, not Redis's RDB blob: the magic
//!   [`DUMP_MAGIC`], a format version byte ([`DUMP_VERSION`]), the libraries' code as a
//!   postcard-encoded list of byte strings in library-name order, and a CRC-32 of everything
//!   before it. FUNCTION RESTORE accepts exactly that (any other payload is Redis's
//!   `DUMP payload version or checksum are wrong`), so a DUMP from one raftkv cluster restores
//!   on another, but not on Redis, nor the other way round.
//! - The registry holds at most [`MAX_FUNCTION_LIBRARIES`] libraries; a library's code is at
//!   most [`super::MAX_SCRIPT_BYTES`].

use super::engine::{self, FunctionMeta};
use super::request::{FunctionCommand, RestorePolicy};
use super::MAX_SCRIPT_BYTES;
use crate::random::Rng;
use crate::{Error, Store};
use bytes::Bytes;
use resp::Reply;

/// Most libraries the registry holds; FUNCTION LOAD or RESTORE beyond it is an error.
pub const MAX_FUNCTION_LIBRARIES: usize = 10_000;

/// The first bytes of a FUNCTION DUMP payload.
pub const DUMP_MAGIC: &[u8; 8] = b"RKVFUNC\0";

/// The version of the FUNCTION DUMP payload format this code writes and reads.
pub const DUMP_VERSION: u8 = 1;

/// The engine name every library has (Redis's `LUA`).
const ENGINE: &str = "LUA";

/// `FUNCTION HELP`'s lines (Redis 7.0's, with the explanations that apply here).
const FUNCTION_HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running (never one between commands)",
    "    and the number of libraries and functions of each engine.",
    "KILL",
    "    Kill the current running function (there never is one between commands).",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries. ASYNC and SYNC do the same.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries.",
    "HELP",
    "    Prints this help.",
];

/// One loaded library.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Library {
    /// Its code, the `#!lua` line included.
    pub(crate) code: Bytes,
    /// Where the Lua code starts in `code`: at the newline ending the `#!lua` line, so that
    /// line numbers count the metadata line, as in Redis.
    body_start: usize,
    /// Its functions, in the order the code registered them.
    pub(crate) functions: Vec<FunctionMeta>,
}

impl Library {
    /// The Lua code to run (after the metadata line).
    pub(crate) fn body(&self) -> &[u8] {
        &self.code[self.body_start..]
    }
}

/// The registry of libraries, part of the replicated state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Functions {
    /// Libraries by name.
    libraries: imbl::OrdMap<String, Library>,
    /// Every function's library, by the function's lower-case name.
    index: imbl::OrdMap<String, (String, String)>,
}

impl Functions {
    /// The libraries, in name order.
    pub(crate) fn libraries(&self) -> impl DoubleEndedIterator<Item = (&String, &Library)> {
        self.libraries.iter()
    }

    /// The number of libraries.
    pub(crate) fn len(&self) -> usize {
        self.libraries.len()
    }

    /// The library and exact name of function `name` (any case).
    fn find(&self, name: &str) -> Option<(&Library, &FunctionMeta)> {
        let (library, exact) = self.index.get(&name.to_lowercase())?;
        let library = self.libraries.get(library)?;
        let meta = library.functions.iter().find(|f| f.name == *exact)?;
        Some((library, meta))
    }

    /// Adds `library` named `name`, replacing one of the same name if `replace`; refuses a
    /// function whose name another library has. Changes nothing on error.
    fn add(&mut self, name: &str, library: Library, replace: bool) -> Result<(), Error> {
        if !replace && self.libraries.contains_key(name) {
            return Err(Error::LibraryExists(name.to_string()));
        }
        for f in &library.functions {
            if let Some((owner, _)) = self.index.get(&f.name.to_lowercase()) {
                if owner != name {
                    return Err(Error::FunctionExists(f.name.clone()));
                }
            }
        }
        if !self.libraries.contains_key(name) && self.libraries.len() >= MAX_FUNCTION_LIBRARIES {
            return Err(Error::TooManyLibraries);
        }
        self.remove(name);
        for f in &library.functions {
            self.index
                .insert(f.name.to_lowercase(), (name.to_string(), f.name.clone()));
        }
        self.libraries.insert(name.to_string(), library);
        Ok(())
    }

    /// Removes library `name`; false if there is none.
    fn remove(&mut self, name: &str) -> bool {
        let Some(old) = self.libraries.remove(name) else {
            return false;
        };
        for f in &old.functions {
            let key = f.name.to_lowercase();
            if self.index.get(&key).is_some_and(|(owner, _)| owner == name) {
                self.index.remove(&key);
            }
        }
        true
    }

    /// Loads a library from its code (as a snapshot or FUNCTION RESTORE does): checks its
    /// metadata and runs its loading code. Returns its name and the library.
    pub(crate) fn compile(code: &Bytes) -> Result<(String, Library), Reply> {
        if code.len() > MAX_SCRIPT_BYTES {
            return Err(Error::ScriptTooLarge.to_reply());
        }
        let (name, body_start) = metadata(code).map_err(|e| e.to_reply())?;
        let functions = engine::load_library(&code[body_start..])?;
        Ok((
            name,
            Library {
                code: code.clone(),
                body_start,
                functions,
            },
        ))
    }

    /// Adds a library read from a snapshot (its name checked by the caller).
    pub(crate) fn load(&mut self, code: &Bytes) -> Result<String, String> {
        let (name, library) = Functions::compile(code).map_err(error_text)?;
        self.add(&name, library, false)
            .map_err(|e| error_text(e.to_reply()))?;
        Ok(name)
    }
}

/// The text of an error reply.
fn error_text(reply: Reply) -> String {
    match reply {
        Reply::Error(text) => text,
        other => format!("{other:?}"),
    }
}

/// Reads a library's `#!lua name=<name>` line: the name, and where the code after the line
/// starts (Redis's checks and texts, in Redis's order).
fn metadata(code: &[u8]) -> Result<(String, usize), Error> {
    if !code.starts_with(b"#!") {
        return Err(Error::MissingLibraryMetadata);
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err(Error::InvalidLibraryMetadata);
    };
    let line = String::from_utf8_lossy(&code[2..end]);
    let mut words = line.split_ascii_whitespace();
    let engine = words.next().unwrap_or_default();
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(Error::EngineNotFound(engine.to_string()));
    }
    let mut name = None;
    for word in words {
        match word.strip_prefix("name=") {
            Some(_) if name.is_some() => return Err(Error::LibraryNameRepeated),
            Some(value) => name = Some(value.to_string()),
            None => return Err(Error::InvalidMetadataValue(word.to_string())),
        }
    }
    let name = name.ok_or(Error::LibraryNameMissing)?;
    if !valid_name(&name) {
        return Err(Error::BadLibraryName);
    }
    Ok((name, end))
}

/// True for a library or function name Redis accepts: letters, digits and `_`, at least one.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Parses `FUNCTION subcommand ...` (arity already checked: at least the subcommand).
pub(crate) fn parse_function(args: &[Bytes]) -> Result<FunctionCommand, Error> {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let rest = &args[2..];
    let is = |arg: &Bytes, word: &str| arg.eq_ignore_ascii_case(word.as_bytes());
    Ok(match sub.as_str() {
        "load" => {
            let Some((code, options)) = rest.split_last() else {
                return Err(Error::WrongArity("function|load"));
            };
            let mut replace = false;
            for option in options {
                if !is(option, "replace") {
                    return Err(Error::FunctionLoadOption(
                        String::from_utf8_lossy(option).into_owned(),
                    ));
                }
                replace = true;
            }
            if code.len() > MAX_SCRIPT_BYTES {
                return Err(Error::ScriptTooLarge);
            }
            FunctionCommand::Load {
                code: code.clone(),
                replace,
            }
        }
        "delete" => match rest {
            [library] => FunctionCommand::Delete {
                library: String::from_utf8_lossy(library).into_owned(),
            },
            _ => return Err(Error::WrongArity("function|delete")),
        },
        "flush" => match rest {
            [] => FunctionCommand::Flush,
            [mode] if is(mode, "sync") || is(mode, "async") => FunctionCommand::Flush,
            [_] => return Err(Error::FunctionFlushMode),
            _ => {
                let sub = String::from_utf8_lossy(&args[1]).into_owned();
                return Err(Error::FunctionFlushArity(sub));
            }
        },
        "list" => parse_list(rest)?,
        "dump" if rest.is_empty() => FunctionCommand::Dump,
        "dump" => return Err(Error::WrongArity("function|dump")),
        "restore" => {
            let policy = match rest {
                [_] => RestorePolicy::Append,
                [_, p] if is(p, "append") => RestorePolicy::Append,
                [_, p] if is(p, "replace") => RestorePolicy::Replace,
                [_, p] if is(p, "flush") => RestorePolicy::Flush,
                [_, _] => return Err(Error::RestorePolicy),
                _ => return Err(Error::WrongArity("function|restore")),
            };
            FunctionCommand::Restore {
                payload: rest[0].clone(),
                policy,
            }
        }
        "stats" if rest.is_empty() => FunctionCommand::Stats,
        "stats" => return Err(Error::WrongArity("function|stats")),
        "kill" if rest.is_empty() => FunctionCommand::Kill,
        "kill" => return Err(Error::WrongArity("function|kill")),
        "help" if rest.is_empty() => FunctionCommand::Help,
        "help" => return Err(Error::WrongArity("function|help")),
        _ => {
            return Err(Error::UnknownSubcommand {
                sub: String::from_utf8_lossy(&args[1]).into_owned(),
                command: "FUNCTION",
            })
        }
    })
}

/// Parses FUNCTION LIST's options.
fn parse_list(mut rest: &[Bytes]) -> Result<FunctionCommand, Error> {
    let (mut pattern, mut with_code) = (None, false);
    while let Some((option, tail)) = rest.split_first() {
        rest = tail;
        if option.eq_ignore_ascii_case(b"withcode") && !with_code {
            with_code = true;
        } else if option.eq_ignore_ascii_case(b"libraryname") && pattern.is_none() {
            let Some((p, tail)) = rest.split_first() else {
                return Err(Error::FunctionListNoName);
            };
            pattern = Some(p.clone());
            rest = tail;
        } else {
            return Err(Error::FunctionListArgument(
                String::from_utf8_lossy(option).into_owned(),
            ));
        }
    }
    Ok(FunctionCommand::List { pattern, with_code })
}

/// Parses FCALL and FCALL_RO (arity already checked): the function's name, keys and args.
pub(crate) fn parse_fcall(
    name: &'static str,
    args: &[Bytes],
) -> Result<super::ScriptCommand, Error> {
    let numkeys = resp::parse_i64(&args[2]).ok_or(Error::FcallNumKeys)?;
    if numkeys < 0 {
        return Err(Error::NumKeysNegative);
    }
    let rest = &args[3..];
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > rest.len() {
        return Err(Error::NumKeysTooMany);
    }
    Ok(super::ScriptCommand::FCall {
        function: String::from_utf8_lossy(&args[1]).into_owned(),
        keys: rest[..numkeys].to_vec(),
        args: rest[numkeys..].to_vec(),
        read_only: name == "fcall_ro",
    })
}

/// Applies a FUNCTION subcommand as part of a log entry.
pub(crate) fn apply(store: &mut Store, cmd: &FunctionCommand) -> Reply {
    let result = match cmd {
        FunctionCommand::Load { code, replace } => load(&mut store.functions, code, *replace),
        FunctionCommand::Delete { library } => {
            if store.functions.remove(library) {
                Ok(Reply::ok())
            } else {
                Err(Error::LibraryNotFound.to_reply())
            }
        }
        FunctionCommand::Flush => {
            store.functions = Functions::default();
            Ok(Reply::ok())
        }
        FunctionCommand::Restore { payload, policy } => {
            restore(&mut store.functions, payload, *policy)
        }
        _ => Ok(query(store, cmd)),
    };
    result.unwrap_or_else(|reply| reply)
}

/// FUNCTION LOAD: the library's name, or the error reply.
fn load(functions: &mut Functions, code: &Bytes, replace: bool) -> Result<Reply, Reply> {
    let (name, _) = metadata(code).map_err(|e| e.to_reply())?;
    if !replace && functions.libraries.contains_key(&name) {
        return Err(Error::LibraryExists(name).to_reply());
    }
    let (name, library) = Functions::compile(code)?;
    functions
        .add(&name, library, replace)
        .map_err(|e| e.to_reply())?;
    Ok(Reply::bulk(name))
}

/// FUNCTION RESTORE: all the payload's libraries, or none.
fn restore(
    functions: &mut Functions,
    payload: &[u8],
    policy: RestorePolicy,
) -> Result<Reply, Reply> {
    let codes = decode_dump(payload).ok_or_else(|| Error::BadDumpPayload.to_reply())?;
    let mut next = match policy {
        RestorePolicy::Flush => Functions::default(),
        _ => functions.clone(),
    };
    for code in &codes {
        let (name, library) = Functions::compile(code)?;
        if policy == RestorePolicy::Append && next.libraries.contains_key(&name) {
            return Err(Error::LibraryExistsOnRestore(name).to_reply());
        }
        next.add(&name, library, true).map_err(|e| e.to_reply())?;
    }
    *functions = next;
    Ok(Reply::ok())
}

/// FUNCTION DUMP's payload for `functions` (see the module docs).
fn encode_dump(functions: &Functions) -> Vec<u8> {
    let codes: Vec<&[u8]> = functions.libraries.values().map(|l| &l.code[..]).collect();
    let mut out = DUMP_MAGIC.to_vec();
    out.push(DUMP_VERSION);
    out = postcard::to_extend(&codes, out).expect("encoding into a vector cannot fail");
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The libraries' code in a FUNCTION DUMP payload, if it is one this code wrote.
fn decode_dump(payload: &[u8]) -> Option<Vec<Bytes>> {
    let header = DUMP_MAGIC.len() + 1;
    if payload.len() < header + 4 || !payload.starts_with(DUMP_MAGIC) {
        return None;
    }
    if payload[DUMP_MAGIC.len()] != DUMP_VERSION {
        return None;
    }
    let (data, crc) = payload.split_at(payload.len() - 4);
    if crc32fast::hash(data).to_le_bytes() != crc {
        return None;
    }
    let codes: Vec<&[u8]> = postcard::from_bytes(&data[header..]).ok()?;
    Some(codes.into_iter().map(Bytes::copy_from_slice).collect())
}

/// Answers a FUNCTION subcommand that only reads.
pub(crate) fn query(store: &Store, cmd: &FunctionCommand) -> Reply {
    let functions = &store.functions;
    match cmd {
        FunctionCommand::List { pattern, with_code } => list(functions, pattern, *with_code),
        FunctionCommand::Dump => Reply::bulk(encode_dump(functions)),
        FunctionCommand::Stats => {
            let count: usize = functions
                .libraries
                .values()
                .map(|l| l.functions.len())
                .sum();
            let lua = Reply::Map(vec![
                (
                    Reply::bulk("libraries_count"),
                    Reply::Integer(functions.len() as i64),
                ),
                (Reply::bulk("functions_count"), Reply::Integer(count as i64)),
            ]);
            Reply::Map(vec![
                (Reply::bulk("running_script"), Reply::Null),
                (
                    Reply::bulk("engines"),
                    Reply::Map(vec![(Reply::bulk(ENGINE), lua)]),
                ),
            ])
        }
        FunctionCommand::Kill => Error::NotBusy.to_reply(),
        FunctionCommand::Help => Reply::Array(
            FUNCTION_HELP
                .iter()
                .map(|line| Reply::Simple((*line).into()))
                .collect(),
        ),
        FunctionCommand::Load { .. }
        | FunctionCommand::Delete { .. }
        | FunctionCommand::Flush
        | FunctionCommand::Restore { .. } => Error::NotReadOnly("function").to_reply(),
    }
}

/// FUNCTION LIST's reply: libraries in name order, functions in registration order.
fn list(functions: &Functions, pattern: &Option<Bytes>, with_code: bool) -> Reply {
    let pattern = pattern.as_ref().map(|p| crate::glob::Pattern::new(p));
    let libraries = functions
        .libraries
        .iter()
        .filter(|(name, _)| pattern.as_ref().is_none_or(|p| p.matches(name.as_bytes())))
        .map(|(name, library)| {
            let functions = library
                .functions
                .iter()
                .map(|f| {
                    Reply::Map(vec![
                        (Reply::bulk("name"), Reply::bulk(f.name.clone())),
                        (
                            Reply::bulk("description"),
                            f.description.clone().map_or(Reply::Null, Reply::bulk),
                        ),
                        (
                            Reply::bulk("flags"),
                            Reply::Set(
                                f.flags
                                    .iter()
                                    .map(|flag| Reply::Simple(flag.clone().into()))
                                    .collect(),
                            ),
                        ),
                    ])
                })
                .collect();
            let mut fields = vec![
                (Reply::bulk("library_name"), Reply::bulk(name.clone())),
                (Reply::bulk("engine"), Reply::bulk(ENGINE)),
                (Reply::bulk("functions"), Reply::Array(functions)),
            ];
            if with_code {
                fields.push((
                    Reply::bulk("library_code"),
                    Reply::bulk(library.code.clone()),
                ));
            }
            Reply::Map(fields)
        })
        .collect();
    Reply::Array(libraries)
}

/// Runs FCALL (`read_only`: FCALL_RO) of `function` at `now`. A write call draws from the
/// store's random sequence, which advances; `messages` collects its PUBLISHes.
pub(crate) fn fcall(
    access: engine::Access<'_>,
    now: u64,
    rng: Rng,
    function: &str,
    keys: &[Bytes],
    args: &[Bytes],
    read_only: bool,
) -> Reply {
    let store: &Store = match &access {
        engine::Access::Write(store, _) => store,
        engine::Access::Read(store) => store,
    };
    let Some((library, meta)) = store.functions.find(function) else {
        return Error::FunctionNotFound.to_reply();
    };
    let no_writes = meta.no_writes();
    if read_only && !no_writes {
        return Error::FcallWriteFunction.to_reply();
    }
    let (body, name) = (library.body().to_vec(), meta.name.clone());
    let script = engine::Script {
        body: &body,
        sha: &name,
        keys,
        args,
        kind: engine::Kind::Call { no_writes },
    };
    engine::run(access, now, rng, &script).0
}
