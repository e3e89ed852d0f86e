//! `<container> HELP` texts for the commands with subcommands that the node answers.
//!
//! Redis answers `CLIENT HELP`, `CONFIG HELP` and the like with an array of status lines: a
//! usage line, then each subcommand and an indented description, ending with `HELP`. These are
//! raftkv's, listing only the subcommands raftkv serves. (`OBJECT HELP` lives with OBJECT in
//! the `kv` crate.)

use resp::Reply;

/// `CLIENT HELP`.
pub const CLIENT: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.",
    "    * LIB-VER: the client lib version.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "HELP",
    "    Print this help.",
];

/// `COMMAND HELP`.
pub const COMMAND: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all commands raftkv serves.",
    "COUNT",
    "    Return the total number of commands raftkv serves.",
    "DOCS [<command-name> ...]",
    "    Return documentary information about commands.",
    "    By default, the reply includes all of the server's commands.",
    "INFO [<command-name> ...]",
    "    Return details about multiple commands.",
    "    By default, the reply includes all of the server's commands.",
    "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
    "    Return a list of all commands, optionally filtered by a glob-style pattern.",
    "    raftkv has no modules or ACL categories: those filters match nothing.",
    "HELP",
    "    Print this help.",
];

/// `CONFIG HELP`.
pub const CONFIG: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern> [<pattern> ...]",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "    raftkv reports a few fixed values that Redis tools ask for.",
    "RESETSTAT",
    "    Accepted for compatibility; raftkv's counters are not reset.",
    "SET",
    "    Refused: raftkv is configured by its config file and flags.",
    "HELP",
    "    Print this help.",
];

/// `ACL HELP`.
pub const ACL: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "GETUSER <username>",
    "    Get the user's details.",
    "LIST",
    "    Show users details in config file format.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Print this help.",
];

/// `RAFTKV HELP`.
pub const RAFTKV: &[&str] = &[
    "RAFTKV <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "MEMBER LIST",
    "    Return every member: id, peer address, client address, voter|learner, is-leader.",
    "MEMBER ADD <id> <peer-addr> <client-addr> [LEARNER]",
    "    Add a node (as a voter once caught up, or a learner).",
    "MEMBER PROMOTE <id>",
    "    Make a learner a voter.",
    "MEMBER REMOVE <id>",
    "    Remove a node from the cluster.",
    "MEMBER TRANSFER-LEADER <id>",
    "    Hand leadership to another voter.",
    "SNAPSHOT BEGIN | READ <id> <offset> <count> | END <id>",
    "    Export a consistent snapshot in pieces (used by `raftkv snapshot save`).",
    "FAULT ISOLATE <id> [<id> ...] | FAULT HEAL",
    "    Test-only link faults; refused unless the node runs with --unsafe-fault-injection.",
    "HELP",
    "    Print this help.",
];

/// A help text as Redis sends it: an array of status lines.
pub fn reply(lines: &[&'static str]) -> Reply {
    Reply::Array(lines.iter().map(|l| Reply::Simple((*l).into())).collect())
}
