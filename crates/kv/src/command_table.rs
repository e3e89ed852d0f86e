//! The command table: one row per command raftkv serves, the one source of its metadata.
//!
//! Each row gives the name, Redis's arity, flags, key positions, group, the Redis version that
//! introduced it, who serves it ([`ServedBy`]), a one-line summary and the argument syntax. The
//! table drives:
//!
//! - the arity check of [`crate::Command::parse`] (data commands) and of the node's own
//!   commands;
//! - `COMMAND`, `COMMAND COUNT`, `COMMAND LIST`, `COMMAND INFO` and `COMMAND DOCS` on the node,
//!   so `redis-cli`'s `help set` and its inline hints show the summary and syntax.
//!
//! # Invariants
//!
//! - Rows are sorted by name (lower case) and names are unique (`COMMAND` lists them in this
//!   order, [`lookup`]'s index needs one row per name); a test checks it.
//! - A row exists exactly for each command that is served: every [`ServedBy::Data`] row is
//!   named in [`crate::COMMANDS`], and the node's tests check its own rows the same way. A
//!   command raftkv refuses has no row, so `COMMAND` never lists it.
//! - Adding a command is one row here, in name order. Summaries and syntax follow Redis 7's
//!   command reference.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Who answers a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServedBy {
    /// The state machine ([`crate::Command::parse`] accepts it).
    Data,
    /// The node itself (connection, server, transaction and admin commands).
    Node,
}

/// One command's metadata, as `COMMAND INFO` and `COMMAND DOCS` report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis's arity: positive means exactly that many arguments (name included), negative
    /// means at least that many.
    pub arity: i32,
    /// Redis's command flags (`write`, `readonly`, `fast`, ...).
    pub flags: &'static [&'static str],
    /// Position of the first key argument (0: none).
    pub first_key: i32,
    /// Position of the last key argument (-1: the last argument; 0: none).
    pub last_key: i32,
    /// Step between key arguments (0: none).
    pub key_step: i32,
    /// Redis's command group (`string`, `hash`, `connection`, ...).
    pub group: &'static str,
    /// The Redis version that introduced the command (raftkv's own: `0.1.0`).
    pub since: &'static str,
    /// Who serves it.
    pub served_by: ServedBy,
    /// One-line summary.
    pub summary: &'static str,
    /// The arguments after the name, Redis-style (`key value [NX | XX]`).
    pub syntax: &'static str,
}

impl CommandSpec {
    /// True if `argc` arguments (name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }
}

#[allow(clippy::too_many_arguments)]
const fn row(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    keys: (i32, i32, i32),
    group: &'static str,
    since: &'static str,
    served_by: ServedBy,
    summary: &'static str,
    syntax: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        key_step: keys.2,
        group,
        since,
        served_by,
        summary,
        syntax,
    }
}

use ServedBy::{Data, Node};

/// Every command raftkv serves, sorted by name: `row(name, arity, flags, (first key, last key,
/// step), group, since, served by, summary, syntax)`.
#[rustfmt::skip]
pub const COMMAND_TABLE: &[CommandSpec] = &[
    row("acl", -2, &[], (0, 0, 0), "server", "6.0.0", Node, "A container for Access List Control commands", "CAT [category] | DELUSER username [username ...] | GETUSER username | LIST | SETUSER username [rule [rule ...]] | USERS | WHOAMI | HELP"),
    row("append", 3, &["write", "denyoom", "fast"], (1, 1, 1), "string", "2.0.0", Data, "Append a value to a key", "key value"),
    row("auth", -2, &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], (0, 0, 0), "connection", "1.0.0", Node, "Authenticate to the server", "[username] password"),
    row("bitcount", -2, &["readonly"], (1, 1, 1), "bitmap", "2.6.0", Data, "Count set bits in a string", "key [start end [BYTE | BIT]]"),
    row("bitop", -4, &["write", "denyoom"], (2, -1, 1), "bitmap", "2.6.0", Data, "Perform bitwise operations between strings", "operation destkey key [key ...]"),
    row("bitpos", -3, &["readonly"], (1, 1, 1), "bitmap", "2.8.7", Data, "Find first bit set or clear in a string", "key bit [start [end [BYTE | BIT]]]"),
    row("blmove", 6, &["write", "denyoom", "noscript", "blocking"], (1, 2, 1), "list", "6.2.0", Node, "Pop an element from a list, push it to another list and return it; or block until one is available", "source destination <LEFT | RIGHT> <LEFT | RIGHT> timeout"),
    row("blmpop", -5, &["write", "blocking", "movablekeys"], (0, 0, 0), "list", "7.0.0", Node, "Pop elements from a list, or block until one is available", "timeout numkeys key [key ...] <LEFT | RIGHT> [COUNT count]"),
    row("blpop", -3, &["write", "noscript", "blocking"], (1, -2, 1), "list", "2.0.0", Node, "Remove and get the first element in a list, or block until one is available", "key [key ...] timeout"),
    row("brpop", -3, &["write", "noscript", "blocking"], (1, -2, 1), "list", "2.0.0", Node, "Remove and get the last element in a list, or block until one is available", "key [key ...] timeout"),
    row("brpoplpush", 4, &["write", "denyoom", "noscript", "blocking"], (1, 2, 1), "list", "2.2.0", Node, "Pop an element from a list, push it to another list and return it; or block until one is available", "source destination timeout"),
    row("bzmpop", -5, &["write", "blocking", "movablekeys"], (0, 0, 0), "sorted-set", "7.0.0", Node, "Remove and return members with scores in a sorted set or block until one is available", "timeout numkeys key [key ...] <MIN | MAX> [COUNT count]"),
    row("bzpopmax", -3, &["write", "noscript", "blocking", "fast"], (1, -2, 1), "sorted-set", "5.0.0", Node, "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", "key [key ...] timeout"),
    row("bzpopmin", -3, &["write", "noscript", "blocking", "fast"], (1, -2, 1), "sorted-set", "5.0.0", Node, "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", "key [key ...] timeout"),
    row("client", -2, &[], (0, 0, 0), "connection", "2.4.0", Node, "A container for client connection commands", "GETNAME | ID | INFO | SETNAME connection-name | SETINFO <LIB-NAME libname | LIB-VER libver> | HELP"),
    row("command", -1, &["loading", "stale"], (0, 0, 0), "server", "2.8.13", Node, "Get array of Redis command details", "[COUNT | LIST | INFO [command-name [command-name ...]] | DOCS [command-name [command-name ...]] | HELP]"),
    row("config", -2, &[], (0, 0, 0), "server", "2.0.0", Node, "A container for server configuration commands", "GET parameter [parameter ...] | RESETSTAT | HELP"),
    row("copy", -3, &["write", "denyoom"], (1, 2, 1), "generic", "6.2.0", Data, "Copy a key", "source destination [DB destination-db] [REPLACE]"),
    row("dbsize", 1, &["readonly", "fast"], (0, 0, 0), "server", "1.0.0", Data, "Return the number of keys in the selected database", ""),
    row("decr", 2, &["write", "denyoom", "fast"], (1, 1, 1), "string", "1.0.0", Data, "Decrement the integer value of a key by one", "key"),
    row("decrby", 3, &["write", "denyoom", "fast"], (1, 1, 1), "string", "1.0.0", Data, "Decrement the integer value of a key by the given number", "key decrement"),
    row("del", -2, &["write"], (1, -1, 1), "generic", "1.0.0", Data, "Delete a key", "key [key ...]"),
    row("discard", 1, &["noscript", "loading", "stale", "fast", "allow_busy"], (0, 0, 0), "transactions", "2.0.0", Node, "Discard all commands issued after MULTI", ""),
    row("echo", 2, &["loading", "stale", "fast"], (0, 0, 0), "connection", "1.0.0", Node, "Echo the given string", "message"),
    row("eval", -3, &["noscript", "stale", "skip_monitor", "no_mandatory_keys", "movablekeys"], (0, 0, 0), "scripting", "2.6.0", Data, "Execute a Lua script server side", "script numkeys [key [key ...]] [arg [arg ...]]"),
    row("eval_ro", -3, &["readonly", "noscript", "stale", "skip_monitor", "no_mandatory_keys", "movablekeys"], (0, 0, 0), "scripting", "7.0.0", Data, "Execute a read-only Lua script server side", "script numkeys [key [key ...]] [arg [arg ...]]"),
    row("evalsha", -3, &["noscript", "stale", "skip_monitor", "no_mandatory_keys", "movablekeys"], (0, 0, 0), "scripting", "2.6.0", Data, "Execute a Lua script server side", "sha1 numkeys [key [key ...]] [arg [arg ...]]"),
    row("evalsha_ro", -3, &["readonly", "noscript", "stale", "skip_monitor", "no_mandatory_keys", "movablekeys"], (0, 0, 0), "scripting", "7.0.0", Data, "Execute a read-only Lua script server side", "sha1 numkeys [key [key ...]] [arg [arg ...]]"),
    row("exec", 1, &["noscript", "loading", "stale", "skip_slowlog"], (0, 0, 0), "transactions", "1.2.0", Node, "Execute all commands issued after MULTI", ""),
    row("exists", -2, &["readonly", "fast"], (1, -1, 1), "generic", "1.0.0", Data, "Determine if a key exists", "key [key ...]"),
    row("expire", -3, &["write", "fast"], (1, 1, 1), "generic", "1.0.0", Data, "Set a key's time to live in seconds", "key seconds [NX | XX | GT | LT]"),
    row("expireat", -3, &["write", "fast"], (1, 1, 1), "generic", "1.2.0", Data, "Set the expiration for a key as a UNIX timestamp", "key unix-time-seconds [NX | XX | GT | LT]"),
    row("expiretime", 2, &["readonly", "fast"], (1, 1, 1), "generic", "7.0.0", Data, "Get the expiration Unix timestamp for a key", "key"),
    row("fcall", -3, &["noscript", "stale", "skip_monitor", "no_mandatory_keys", "movablekeys"], (0, 0, 0), "scripting", "7.0.0", Data, "Invoke a function", "function numkeys [key [key ...]] [arg [arg ...]]"),
    row("fcall_ro", -3, &["readonly", "noscript", "stale", "skip_monitor", "no_mandatory_keys", "movablekeys"], (0, 0, 0), "scripting", "7.0.0", Data, "Invoke a read-only function", "function numkeys [key [key ...]] [arg [arg ...]]"),
    row("flushall", -1, &["write"], (0, 0, 0), "server", "1.0.0", Data, "Remove all keys from all databases", "[ASYNC | SYNC]"),
    row("flushdb", -1, &["write"], (0, 0, 0), "server", "1.0.0", Data, "Remove all keys from the current database", "[ASYNC | SYNC]"),
    row("function", -2, &[], (0, 0, 0), "scripting", "7.0.0", Data, "A container for function commands", "LOAD [REPLACE] code | DELETE library | FLUSH [ASYNC | SYNC] | LIST [LIBRARYNAME pattern] [WITHCODE] | DUMP | RESTORE payload [FLUSH | APPEND | REPLACE] | STATS | KILL | HELP"),
    row("get", 2, &["readonly", "fast"], (1, 1, 1), "string", "1.0.0", Data, "Get the value of a key", "key"),
    row("getbit", 3, &["readonly", "fast"], (1, 1, 1), "bitmap", "2.2.0", Data, "Returns the bit value at offset in the string value stored at key", "key offset"),
    row("getdel", 2, &["write", "fast"], (1, 1, 1), "string", "6.2.0", Data, "Get the value of a key and delete the key", "key"),
    row("getex", -2, &["write", "fast"], (1, 1, 1), "string", "6.2.0", Data, "Get the value of a key and optionally set its expiration", "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]"),
    row("getrange", 4, &["readonly"], (1, 1, 1), "string", "2.4.0", Data, "Get a substring of the string stored at a key", "key start end"),
    row("getset", 3, &["write", "denyoom", "fast"], (1, 1, 1), "string", "1.0.0", Data, "Set the string value of a key and return its old value", "key value"),
    row("hdel", -3, &["write", "fast"], (1, 1, 1), "hash", "2.0.0", Data, "Delete one or more hash fields", "key field [field ...]"),
    row("hello", -1, &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], (0, 0, 0), "connection", "6.0.0", Node, "Handshake with Redis", "[protover [AUTH username password] [SETNAME clientname]]"),
    row("hexists", 3, &["readonly", "fast"], (1, 1, 1), "hash", "2.0.0", Data, "Determine if a hash field exists", "key field"),
    row("hget", 3, &["readonly", "fast"], (1, 1, 1), "hash", "2.0.0", Data, "Get the value of a hash field", "key field"),
    row("hgetall", 2, &["readonly"], (1, 1, 1), "hash", "2.0.0", Data, "Get all the fields and values in a hash", "key"),
    row("hincrby", 4, &["write", "denyoom", "fast"], (1, 1, 1), "hash", "2.0.0", Data, "Increment the integer value of a hash field by the given number", "key field increment"),
    row("hincrbyfloat", 4, &["write", "denyoom", "fast"], (1, 1, 1), "hash", "2.6.0", Data, "Increment the float value of a hash field by the given amount", "key field increment"),
    row("hkeys", 2, &["readonly"], (1, 1, 1), "hash", "2.0.0", Data, "Get all the fields in a hash", "key"),
    row("hlen", 2, &["readonly", "fast"], (1, 1, 1), "hash", "2.0.0", Data, "Get the number of fields in a hash", "key"),
    row("hmget", -3, &["readonly", "fast"], (1, 1, 1), "hash", "2.0.0", Data, "Get the values of all the given hash fields", "key field [field ...]"),
    row("hmset", -4, &["write", "denyoom", "fast"], (1, 1, 1), "hash", "2.0.0", Data, "Set multiple hash fields to multiple values", "key field value [field value ...]"),
    row("hrandfield", -2, &["readonly"], (1, 1, 1), "hash", "6.2.0", Data, "Get one or multiple random fields from a hash", "key [count [WITHVALUES]]"),
    row("hscan", -3, &["readonly"], (1, 1, 1), "hash", "2.8.0", Data, "Incrementally iterate hash fields and associated values", "key cursor [MATCH pattern] [COUNT count]"),
    row("hset", -4, &["write", "denyoom", "fast"], (1, 1, 1), "hash", "2.0.0", Data, "Set the string value of a hash field", "key field value [field value ...]"),
    row("hsetnx", 4, &["write", "denyoom", "fast"], (1, 1, 1), "hash", "2.0.0", Data, "Set the value of a hash field, only if the field does not exist", "key field value"),
    row("hstrlen", 3, &["readonly", "fast"], (1, 1, 1), "hash", "3.2.0", Data, "Get the length of the value of a hash field", "key field"),
    row("hvals", 2, &["readonly"], (1, 1, 1), "hash", "2.0.0", Data, "Get all the values in a hash", "key"),
    row("incr", 2, &["write", "denyoom", "fast"], (1, 1, 1), "string", "1.0.0", Data, "Increment the integer value of a key by one", "key"),
    row("incrby", 3, &["write", "denyoom", "fast"], (1, 1, 1), "string", "1.0.0", Data, "Increment the integer value of a key by the given amount", "key increment"),
    row("incrbyfloat", 3, &["write", "denyoom", "fast"], (1, 1, 1), "string", "2.6.0", Data, "Increment the float value of a key by the given amount", "key increment"),
    row("info", -1, &["loading", "stale"], (0, 0, 0), "server", "1.0.0", Node, "Get information and statistics about the server", "[section [section ...]]"),
    row("keys", 2, &["readonly"], (0, 0, 0), "generic", "1.0.0", Data, "Find all keys matching the given pattern", "pattern"),
    row("lcs", -3, &["readonly"], (1, 2, 1), "string", "7.0.0", Data, "Find longest common substring", "key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]"),
    row("lindex", 3, &["readonly"], (1, 1, 1), "list", "1.0.0", Data, "Get an element from a list by its index", "key index"),
    row("linsert", 5, &["write", "denyoom"], (1, 1, 1), "list", "2.2.0", Data, "Insert an element before or after another element in a list", "key <BEFORE | AFTER> pivot element"),
    row("llen", 2, &["readonly", "fast"], (1, 1, 1), "list", "1.0.0", Data, "Get the length of a list", "key"),
    row("lmove", 5, &["write", "denyoom"], (1, 2, 1), "list", "6.2.0", Data, "Pop an element from a list, push it to another list and return it", "source destination <LEFT | RIGHT> <LEFT | RIGHT>"),
    row("lmpop", -4, &["write", "movablekeys"], (0, 0, 0), "list", "7.0.0", Data, "Pop elements from a list", "numkeys key [key ...] <LEFT | RIGHT> [COUNT count]"),
    row("lpop", -2, &["write", "fast"], (1, 1, 1), "list", "1.0.0", Data, "Remove and get the first elements in a list", "key [count]"),
    row("lpos", -3, &["readonly"], (1, 1, 1), "list", "6.0.6", Data, "Return the index of matching elements on a list", "key element [RANK rank] [COUNT num-matches] [MAXLEN len]"),
    row("lpush", -3, &["write", "denyoom", "fast"], (1, 1, 1), "list", "1.0.0", Data, "Prepend one or multiple elements to a list", "key element [element ...]"),
    row("lpushx", -3, &["write", "denyoom", "fast"], (1, 1, 1), "list", "2.2.0", Data, "Prepend an element to a list, only if the list exists", "key element [element ...]"),
    row("lrange", 4, &["readonly"], (1, 1, 1), "list", "1.0.0", Data, "Get a range of elements from a list", "key start stop"),
    row("lrem", 4, &["write"], (1, 1, 1), "list", "1.0.0", Data, "Remove elements from a list", "key count element"),
    row("lset", 4, &["write", "denyoom"], (1, 1, 1), "list", "1.0.0", Data, "Set the value of an element in a list by its index", "key index element"),
    row("ltrim", 4, &["write"], (1, 1, 1), "list", "1.0.0", Data, "Trim a list to the specified range", "key start stop"),
    row("mget", -2, &["readonly", "fast"], (1, -1, 1), "string", "1.0.0", Data, "Get the values of all the given keys", "key [key ...]"),
    row("mset", -3, &["write", "denyoom"], (1, -1, 2), "string", "1.0.1", Data, "Set multiple keys to multiple values", "key value [key value ...]"),
    row("msetnx", -3, &["write", "denyoom"], (1, -1, 2), "string", "1.0.1", Data, "Set multiple keys to multiple values, only if none of the keys exist", "key value [key value ...]"),
    row("multi", 1, &["noscript", "loading", "stale", "fast", "allow_busy"], (0, 0, 0), "transactions", "1.2.0", Node, "Mark the start of a transaction block", ""),
    row("object", -2, &[], (0, 0, 0), "generic", "2.2.3", Data, "A container for object introspection commands", "ENCODING key | REFCOUNT key | IDLETIME key | FREQ key | HELP"),
    row("persist", 2, &["write", "fast"], (1, 1, 1), "generic", "2.2.0", Data, "Remove the expiration from a key", "key"),
    row("pexpire", -3, &["write", "fast"], (1, 1, 1), "generic", "2.6.0", Data, "Set a key's time to live in milliseconds", "key milliseconds [NX | XX | GT | LT]"),
    row("pexpireat", -3, &["write", "fast"], (1, 1, 1), "generic", "2.6.0", Data, "Set the expiration for a key as a UNIX timestamp specified in milliseconds", "key unix-time-milliseconds [NX | XX | GT | LT]"),
    row("pexpiretime", 2, &["readonly", "fast"], (1, 1, 1), "generic", "7.0.0", Data, "Get the expiration Unix timestamp for a key in milliseconds", "key"),
    row("ping", -1, &["fast"], (0, 0, 0), "connection", "1.0.0", Node, "Ping the server", "[message]"),
    row("psetex", 4, &["write", "denyoom"], (1, 1, 1), "string", "2.6.0", Data, "Set the value and expiration in milliseconds of a key", "key milliseconds value"),
    row("psubscribe", -2, &["pubsub", "noscript", "loading", "stale"], (0, 0, 0), "pubsub", "2.0.0", Node, "Listen for messages published to channels matching the given patterns", "pattern [pattern ...]"),
    row("pttl", 2, &["readonly", "fast"], (1, 1, 1), "generic", "2.6.0", Data, "Get the time to live for a key in milliseconds", "key"),
    row("publish", 3, &["pubsub", "loading", "stale", "fast"], (0, 0, 0), "pubsub", "2.0.0", Data, "Post a message to a channel", "channel message"),
    row("pubsub", -2, &[], (0, 0, 0), "pubsub", "2.8.0", Node, "A container for Pub/Sub commands", "<CHANNELS [pattern] | NUMSUB [channel [channel ...]] | NUMPAT | HELP>"),
    row("punsubscribe", -1, &["pubsub", "noscript", "loading", "stale"], (0, 0, 0), "pubsub", "2.0.0", Node, "Stop listening for messages posted to channels matching the given patterns", "[pattern [pattern ...]]"),
    row("quit", -1, &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], (0, 0, 0), "connection", "1.0.0", Node, "Close the connection", ""),
    row("raftkv", -2, &["admin", "noscript"], (0, 0, 0), "raftkv", "0.1.0", Node, "A container for raftkv's cluster administration commands (membership, snapshots)", "MEMBER LIST | MEMBER ADD id peer-addr client-addr [LEARNER] | MEMBER PROMOTE|REMOVE|TRANSFER-LEADER id | SNAPSHOT ... | HELP"),
    row("randomkey", 1, &["readonly"], (0, 0, 0), "generic", "1.0.0", Data, "Return a random key from the keyspace", ""),
    row("readonly", 1, &["loading", "stale", "fast"], (0, 0, 0), "cluster", "3.0.0", Node, "Enables read queries for a connection to a cluster replica node", ""),
    row("readwrite", 1, &["loading", "stale", "fast"], (0, 0, 0), "cluster", "3.0.0", Node, "Disables read queries for a connection to a cluster replica node", ""),
    row("rename", 3, &["write"], (1, 2, 1), "generic", "1.0.0", Data, "Rename a key", "key newkey"),
    row("renamenx", 3, &["write", "fast"], (1, 2, 1), "generic", "1.0.0", Data, "Rename a key, only if the new key does not exist", "key newkey"),
    row("reset", 1, &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], (0, 0, 0), "connection", "6.2.0", Node, "Reset the connection", ""),
    row("rpop", -2, &["write", "fast"], (1, 1, 1), "list", "1.0.0", Data, "Remove and get the last elements in a list", "key [count]"),
    row("rpoplpush", 3, &["write", "denyoom"], (1, 2, 1), "list", "1.2.0", Data, "Remove the last element in a list, prepend it to another list and return it", "source destination"),
    row("rpush", -3, &["write", "denyoom", "fast"], (1, 1, 1), "list", "1.0.0", Data, "Append one or multiple elements to a list", "key element [element ...]"),
    row("rpushx", -3, &["write", "denyoom", "fast"], (1, 1, 1), "list", "2.2.0", Data, "Append an element to a list, only if the list exists", "key element [element ...]"),
    row("sadd", -3, &["write", "denyoom", "fast"], (1, 1, 1), "set", "1.0.0", Data, "Add one or more members to a set", "key member [member ...]"),
    row("scan", -2, &["readonly"], (0, 0, 0), "generic", "2.8.0", Data, "Incrementally iterate the keys space", "cursor [MATCH pattern] [COUNT count] [TYPE type]"),
    row("scard", 2, &["readonly", "fast"], (1, 1, 1), "set", "1.0.0", Data, "Get the number of members in a set", "key"),
    row("script", -2, &[], (0, 0, 0), "scripting", "2.6.0", Data, "A container for Lua scripts management commands", "LOAD script | EXISTS sha1 [sha1 ...] | FLUSH [ASYNC | SYNC] | KILL | HELP"),
    row("sdiff", -2, &["readonly"], (1, -1, 1), "set", "1.0.0", Data, "Subtract multiple sets", "key [key ...]"),
    row("sdiffstore", -3, &["write", "denyoom"], (1, -1, 1), "set", "1.0.0", Data, "Subtract multiple sets and store the resulting set in a key", "destination key [key ...]"),
    row("select", 2, &["loading", "stale", "fast"], (0, 0, 0), "connection", "1.0.0", Node, "Change the selected database for the current connection", "index"),
    row("set", -3, &["write", "denyoom"], (1, 1, 1), "string", "1.0.0", Data, "Set the string value of a key", "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]"),
    row("setbit", 4, &["write", "denyoom"], (1, 1, 1), "bitmap", "2.2.0", Data, "Sets or clears the bit at offset in the string value stored at key", "key offset value"),
    row("setex", 4, &["write", "denyoom"], (1, 1, 1), "string", "2.0.0", Data, "Set the value and expiration of a key", "key seconds value"),
    row("setnx", 3, &["write", "denyoom", "fast"], (1, 1, 1), "string", "1.0.0", Data, "Set the value of a key, only if the key does not exist", "key value"),
    row("setrange", 4, &["write", "denyoom"], (1, 1, 1), "string", "2.2.0", Data, "Overwrite part of a string at key starting at the specified offset", "key offset value"),
    row("sinter", -2, &["readonly"], (1, -1, 1), "set", "1.0.0", Data, "Intersect multiple sets", "key [key ...]"),
    row("sintercard", -3, &["readonly", "movablekeys"], (0, 0, 0), "set", "7.0.0", Data, "Intersect multiple sets and return the cardinality of the result", "numkeys key [key ...] [LIMIT limit]"),
    row("sinterstore", -3, &["write", "denyoom"], (1, -1, 1), "set", "1.0.0", Data, "Intersect multiple sets and store the resulting set in a key", "destination key [key ...]"),
    row("sismember", 3, &["readonly", "fast"], (1, 1, 1), "set", "1.0.0", Data, "Determine if a given value is a member of a set", "key member"),
    row("smembers", 2, &["readonly"], (1, 1, 1), "set", "1.0.0", Data, "Get all the members in a set", "key"),
    row("smismember", -3, &["readonly", "fast"], (1, 1, 1), "set", "6.2.0", Data, "Returns the membership associated with the given elements for a set", "key member [member ...]"),
    row("smove", 4, &["write", "fast"], (1, 2, 1), "set", "1.0.0", Data, "Move a member from one set to another", "source destination member"),
    row("spop", -2, &["write", "fast"], (1, 1, 1), "set", "1.0.0", Data, "Remove and return one or multiple random members from a set", "key [count]"),
    row("srandmember", -2, &["readonly"], (1, 1, 1), "set", "1.0.0", Data, "Get one or multiple random members from a set", "key [count]"),
    row("srem", -3, &["write", "fast"], (1, 1, 1), "set", "1.0.0", Data, "Remove one or more members from a set", "key member [member ...]"),
    row("sscan", -3, &["readonly"], (1, 1, 1), "set", "2.8.0", Data, "Incrementally iterate Set elements", "key cursor [MATCH pattern] [COUNT count]"),
    row("strlen", 2, &["readonly", "fast"], (1, 1, 1), "string", "2.2.0", Data, "Get the length of the value stored in a key", "key"),
    row("subscribe", -2, &["pubsub", "noscript", "loading", "stale"], (0, 0, 0), "pubsub", "2.0.0", Node, "Listen for messages published to the given channels", "channel [channel ...]"),
    row("substr", 4, &["readonly"], (1, 1, 1), "string", "1.0.0", Data, "Get a substring of the string stored at a key", "key start end"),
    row("sunion", -2, &["readonly"], (1, -1, 1), "set", "1.0.0", Data, "Add multiple sets", "key [key ...]"),
    row("sunionstore", -3, &["write", "denyoom"], (1, -1, 1), "set", "1.0.0", Data, "Add multiple sets and store the resulting set in a key", "destination key [key ...]"),
    row("time", 1, &["loading", "stale", "fast"], (0, 0, 0), "server", "2.6.0", Data, "Return the current server time", ""),
    row("touch", -2, &["readonly", "fast"], (1, -1, 1), "generic", "3.2.1", Data, "Alters the last access time of a key(s). Returns the number of existing keys specified.", "key [key ...]"),
    row("ttl", 2, &["readonly", "fast"], (1, 1, 1), "generic", "1.0.0", Data, "Get the time to live for a key in seconds", "key"),
    row("type", 2, &["readonly", "fast"], (1, 1, 1), "generic", "1.0.0", Data, "Determine the type stored at key", "key"),
    row("unlink", -2, &["write", "fast"], (1, -1, 1), "generic", "4.0.0", Data, "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", "key [key ...]"),
    row("unsubscribe", -1, &["pubsub", "noscript", "loading", "stale"], (0, 0, 0), "pubsub", "2.0.0", Node, "Stop listening for messages posted to the given channels", "[channel [channel ...]]"),
    row("unwatch", 1, &["noscript", "loading", "stale", "fast", "allow_busy"], (0, 0, 0), "transactions", "2.2.0", Node, "Forget about all watched keys", ""),
    row("watch", -2, &["noscript", "loading", "stale", "fast", "allow_busy"], (1, -1, 1), "transactions", "2.2.0", Node, "Watch the given keys to determine execution of the MULTI/EXEC block", "key [key ...]"),
    row("xack", -4, &["write", "fast"], (1, 1, 1), "stream", "5.0.0", Data, "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.", "key group id [id ...]"),
    row("xadd", -5, &["write", "denyoom", "fast"], (1, 1, 1), "stream", "5.0.0", Data, "Appends a new entry to a stream", "key [NOMKSTREAM] [MAXLEN | MINID [= | ~] threshold [LIMIT count]] * | id field value [field value ...]"),
    row("xautoclaim", -6, &["write", "fast"], (1, 1, 1), "stream", "6.2.0", Data, "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.", "key group consumer min-idle-time start [COUNT count] [JUSTID]"),
    row("xclaim", -6, &["write", "fast"], (1, 1, 1), "stream", "5.0.0", Data, "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.", "key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]"),
    row("xdel", -3, &["write", "fast"], (1, 1, 1), "stream", "5.0.0", Data, "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.", "key id [id ...]"),
    row("xgroup", -2, &[], (0, 0, 0), "stream", "5.0.0", Data, "A container for consumer groups commands", "CREATE key group id | $ [MKSTREAM] [ENTRIESREAD entries-read] | SETID key group id | $ [ENTRIESREAD entries-read] | DESTROY key group | CREATECONSUMER key group consumer | DELCONSUMER key group consumer"),
    row("xinfo", -2, &[], (0, 0, 0), "stream", "5.0.0", Data, "A container for stream introspection commands", "STREAM key | GROUPS key | CONSUMERS key group"),
    row("xlen", 2, &["readonly", "fast"], (1, 1, 1), "stream", "5.0.0", Data, "Return the number of entries in a stream", "key"),
    row("xpending", -3, &["readonly"], (1, 1, 1), "stream", "5.0.0", Data, "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.", "key group [[IDLE min-idle-time] start end count [consumer]]"),
    row("xrange", -4, &["readonly"], (1, 1, 1), "stream", "5.0.0", Data, "Return a range of elements in a stream, with IDs matching the specified IDs interval", "key start end [COUNT count]"),
    row("xread", -4, &["readonly", "blocking", "movablekeys"], (0, 0, 0), "stream", "5.0.0", Data, "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.", "[COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]"),
    row("xreadgroup", -7, &["write", "blocking", "movablekeys"], (0, 0, 0), "stream", "5.0.0", Data, "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.", "GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]"),
    row("xrevrange", -4, &["readonly"], (1, 1, 1), "stream", "5.0.0", Data, "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE", "key end start [COUNT count]"),
    row("xsetid", -3, &["write", "denyoom", "fast"], (1, 1, 1), "stream", "5.0.0", Data, "An internal command for replicating stream values", "key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]"),
    row("xtrim", -4, &["write"], (1, 1, 1), "stream", "5.0.0", Data, "Trims the stream to (approximately if '~' is passed) a certain size", "key MAXLEN | MINID [= | ~] threshold [LIMIT count]"),
    row("zadd", -4, &["write", "denyoom", "fast"], (1, 1, 1), "sorted-set", "1.2.0", Data, "Add one or more members to a sorted set, or update its score if it already exists", "key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]"),
    row("zcard", 2, &["readonly", "fast"], (1, 1, 1), "sorted-set", "1.2.0", Data, "Get the number of members in a sorted set", "key"),
    row("zcount", 4, &["readonly", "fast"], (1, 1, 1), "sorted-set", "2.0.0", Data, "Count the members in a sorted set with scores within the given values", "key min max"),
    row("zdiff", -3, &["readonly", "movablekeys"], (0, 0, 0), "sorted-set", "6.2.0", Data, "Subtract multiple sorted sets", "numkeys key [key ...] [WITHSCORES]"),
    row("zdiffstore", -4, &["write", "denyoom", "movablekeys"], (1, 1, 1), "sorted-set", "6.2.0", Data, "Subtract multiple sorted sets and store the resulting sorted set in a new key", "destination numkeys key [key ...]"),
    row("zincrby", 4, &["write", "denyoom", "fast"], (1, 1, 1), "sorted-set", "1.2.0", Data, "Increment the score of a member in a sorted set", "key increment member"),
    row("zinter", -3, &["readonly", "movablekeys"], (0, 0, 0), "sorted-set", "6.2.0", Data, "Intersect multiple sorted sets", "numkeys key [key ...] [WEIGHTS weight [WEIGHTS weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]"),
    row("zintercard", -3, &["readonly", "movablekeys"], (0, 0, 0), "sorted-set", "7.0.0", Data, "Intersect multiple sorted sets and return the cardinality of the result", "numkeys key [key ...] [LIMIT limit]"),
    row("zinterstore", -4, &["write", "denyoom", "movablekeys"], (1, 1, 1), "sorted-set", "2.0.0", Data, "Intersect multiple sorted sets and store the resulting sorted set in a new key", "destination numkeys key [key ...] [WEIGHTS weight [WEIGHTS weight ...]] [AGGREGATE SUM | MIN | MAX]"),
    row("zlexcount", 4, &["readonly", "fast"], (1, 1, 1), "sorted-set", "2.8.9", Data, "Count the number of members in a sorted set between a given lexicographical range", "key min max"),
    row("zmpop", -4, &["write", "movablekeys"], (0, 0, 0), "sorted-set", "7.0.0", Data, "Remove and return members with scores in a sorted set", "numkeys key [key ...] <MIN | MAX> [COUNT count]"),
    row("zmscore", -3, &["readonly", "fast"], (1, 1, 1), "sorted-set", "6.2.0", Data, "Get the score associated with the given members in a sorted set", "key member [member ...]"),
    row("zpopmax", -2, &["write", "fast"], (1, 1, 1), "sorted-set", "5.0.0", Data, "Remove and return members with the highest scores in a sorted set", "key [count]"),
    row("zpopmin", -2, &["write", "fast"], (1, 1, 1), "sorted-set", "5.0.0", Data, "Remove and return members with the lowest scores in a sorted set", "key [count]"),
    row("zrandmember", -2, &["readonly"], (1, 1, 1), "sorted-set", "6.2.0", Data, "Get one or multiple random elements from a sorted set", "key [count [WITHSCORES]]"),
    row("zrange", -4, &["readonly"], (1, 1, 1), "sorted-set", "1.2.0", Data, "Return a range of members in a sorted set", "key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]"),
    row("zrangebylex", -4, &["readonly"], (1, 1, 1), "sorted-set", "2.8.9", Data, "Return a range of members in a sorted set, by lexicographical range", "key min max [LIMIT offset count]"),
    row("zrangebyscore", -4, &["readonly"], (1, 1, 1), "sorted-set", "1.0.5", Data, "Return a range of members in a sorted set, by score", "key min max [WITHSCORES] [LIMIT offset count]"),
    row("zrangestore", -5, &["write", "denyoom"], (1, 2, 1), "sorted-set", "6.2.0", Data, "Store a range of members from sorted set into another key", "dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]"),
    row("zrank", 3, &["readonly", "fast"], (1, 1, 1), "sorted-set", "2.0.0", Data, "Determine the index of a member in a sorted set", "key member"),
    row("zrem", -3, &["write", "fast"], (1, 1, 1), "sorted-set", "1.2.0", Data, "Remove one or more members from a sorted set", "key member [member ...]"),
    row("zremrangebylex", 4, &["write"], (1, 1, 1), "sorted-set", "2.8.9", Data, "Remove all members in a sorted set between the given lexicographical range", "key min max"),
    row("zremrangebyrank", 4, &["write"], (1, 1, 1), "sorted-set", "2.0.0", Data, "Remove all members in a sorted set within the given indexes", "key start stop"),
    row("zremrangebyscore", 4, &["write"], (1, 1, 1), "sorted-set", "1.2.0", Data, "Remove all members in a sorted set within the given scores", "key min max"),
    row("zrevrange", -4, &["readonly"], (1, 1, 1), "sorted-set", "1.2.0", Data, "Return a range of members in a sorted set, by index, with scores ordered from high to low", "key start stop [WITHSCORES]"),
    row("zrevrangebylex", -4, &["readonly"], (1, 1, 1), "sorted-set", "2.8.9", Data, "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", "key max min [LIMIT offset count]"),
    row("zrevrangebyscore", -4, &["readonly"], (1, 1, 1), "sorted-set", "2.2.0", Data, "Return a range of members in a sorted set, by score, with scores ordered from high to low", "key max min [WITHSCORES] [LIMIT offset count]"),
    row("zrevrank", 3, &["readonly", "fast"], (1, 1, 1), "sorted-set", "2.0.0", Data, "Determine the index of a member in a sorted set, with scores ordered from high to low", "key member"),
    row("zscan", -3, &["readonly"], (1, 1, 1), "sorted-set", "2.8.0", Data, "Incrementally iterate sorted sets elements and associated scores", "key cursor [MATCH pattern] [COUNT count]"),
    row("zscore", 3, &["readonly", "fast"], (1, 1, 1), "sorted-set", "1.2.0", Data, "Get the score associated with the given member in a sorted set", "key member"),
    row("zunion", -3, &["readonly", "movablekeys"], (0, 0, 0), "sorted-set", "6.2.0", Data, "Add multiple sorted sets", "numkeys key [key ...] [WEIGHTS weight [WEIGHTS weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]"),
    row("zunionstore", -4, &["write", "denyoom", "movablekeys"], (1, 1, 1), "sorted-set", "2.0.0", Data, "Add multiple sorted sets and store the resulting sorted set in a new key", "destination numkeys key [key ...] [WEIGHTS weight [WEIGHTS weight ...]] [AGGREGATE SUM | MIN | MAX]"),
];

/// The row of a command, by name in any case.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    if name.len() > MAX_NAME_BYTES {
        return None;
    }
    // Lower-cased on the stack and found through a hash index: this runs several times per
    // command on the node that takes it (connection, ACL check, parse), where a heap `String`
    // and a binary search of string compares took 90 ns a call (23 ns now, `measure_lookup`).
    // Names are ASCII, so a byte that is not never matches.
    let mut buf = [0u8; MAX_NAME_BYTES];
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    static INDEX: OnceLock<HashMap<&'static [u8], usize>> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        COMMAND_TABLE
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_bytes(), i))
            .collect()
    });
    index.get(&*lower).map(|&i| &COMMAND_TABLE[i])
}

/// Longest command name, in bytes; longer names are unknown without a lookup.
pub const MAX_NAME_BYTES: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_sorted_unique_and_complete() {
        for pair in COMMAND_TABLE.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} before {}",
                pair[0].name,
                pair[1].name
            );
        }
        for c in COMMAND_TABLE {
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(c.name.len() <= MAX_NAME_BYTES, "{}", c.name);
            assert!(!c.summary.is_empty(), "{} has no summary", c.name);
            assert!(!c.group.is_empty() && !c.since.is_empty(), "{}", c.name);
            // A command that takes arguments shows them.
            assert!(
                c.arity == 1 || c.arity == -1 || !c.syntax.is_empty(),
                "{} has no syntax",
                c.name
            );
        }
    }

    #[test]
    fn data_rows_are_exactly_what_parse_serves() {
        let data: Vec<&str> = COMMAND_TABLE
            .iter()
            .filter(|c| c.served_by == ServedBy::Data)
            .map(|c| c.name)
            .collect();
        for name in crate::COMMANDS {
            assert!(
                data.contains(name),
                "{name} is served but missing from the command table"
            );
        }
        for name in &data {
            assert!(
                crate::COMMANDS.contains(name),
                "the command table lists {name}, which kv does not serve"
            );
        }
    }

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(lookup(b"SeT").map(|c| c.arity), Some(-3));
        assert!(lookup(b"nosuch").is_none());
        assert!(lookup(&[b'a'; 100]).is_none());
        assert!(CommandSpec {
            arity: -3,
            ..*lookup(b"set").unwrap()
        }
        .arity_ok(3));
        assert!(!lookup(b"get").unwrap().arity_ok(3));
    }

    #[test]
    fn lookup_finds_every_row_in_any_case_and_nothing_else() {
        for c in COMMAND_TABLE {
            let upper = c.name.to_ascii_uppercase();
            assert_eq!(lookup(upper.as_bytes()).map(|o| o.name), Some(c.name));
            assert_eq!(lookup(c.name.as_bytes()).map(|o| o.name), Some(c.name));
            let mut longer = c.name.as_bytes().to_vec();
            longer.push(b'x');
            assert!(lookup(&longer).is_none_or(|o| o.name != c.name));
            assert!(lookup(&c.name.as_bytes()[..c.name.len() - 1]).is_none_or(|o| o.name != c.name));
        }
        assert!(lookup(b"").is_none());
        assert!(lookup(b"s\xffet").is_none(), "not UTF-8");
        assert!(lookup(&[b'a'; MAX_NAME_BYTES]).is_none());
    }

    /// `cargo test --release -p raftkv-kv --lib -- --ignored measure_lookup --nocapture`: the
    /// cost of one lookup (it runs several times per command on the node that takes it).
    #[test]
    #[ignore]
    fn measure_lookup() {
        let names: [&[u8]; 4] = [b"SET", b"get", b"ZUNIONSTORE", b"nosuchcommand"];
        let rounds = 2_000_000;
        let started = std::time::Instant::now();
        let mut found = 0;
        for i in 0..rounds {
            found += usize::from(lookup(std::hint::black_box(names[i % 4])).is_some());
        }
        let ns = started.elapsed().as_nanos() as f64 / rounds as f64;
        assert_eq!(found, rounds / 4 * 3);
        println!("lookup: {ns:.1} ns per call (SET, get, ZUNIONSTORE, an unknown name in turn)");
    }
}
