//! Command families: which module of the client server answers a command name, by name
//! alone. A leaf, so the dispatch in `connection`, the transaction queue and subscribed mode can
//! all ask without importing each other. Every name here has a [`kv::command_table`] row, and
//! every row the table marks as served by the node is here (a test checks both).

/// The connection-level commands (`server::commands`).
pub const CONNECTION_COMMANDS: &[&str] = &[
    "PING",
    "ECHO",
    "HELLO",
    "QUIT",
    "RESET",
    "SELECT",
    "AUTH",
    "CLIENT",
    "COMMAND",
    "CONFIG",
    "INFO",
    "READONLY",
    "READWRITE",
    "RAFTKV",
    "ACL",
];

/// True if `name` is a connection-level command: answered by the node that receives it, not
/// by the state machine.
pub fn is_connection_command(name: &[u8]) -> bool {
    is_one_of(CONNECTION_COMMANDS, name)
}

/// The transaction commands (`server::transaction`).
pub const TRANSACTION_COMMANDS: &[&str] = &["MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH"];

/// The pub/sub commands (`server::pubsub`).
pub const PUBSUB_COMMANDS: &[&str] = &[
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "PSUBSCRIBE",
    "PUNSUBSCRIBE",
    "PUBSUB",
];

/// The blocking commands (`server::blocking`).
pub const BLOCKING_COMMANDS: &[&str] = &[
    "BLPOP",
    "BRPOP",
    "BLMOVE",
    "BRPOPLPUSH",
    "BLMPOP",
    "BZPOPMIN",
    "BZPOPMAX",
    "BZMPOP",
];

fn is_one_of(list: &[&str], name: &[u8]) -> bool {
    list.iter().any(|c| c.as_bytes().eq_ignore_ascii_case(name))
}

/// True if `name` is a transaction command.
pub fn is_transaction_command(name: &[u8]) -> bool {
    is_one_of(TRANSACTION_COMMANDS, name)
}

/// True if `name` is one of [`PUBSUB_COMMANDS`].
pub fn is_pubsub_command(name: &[u8]) -> bool {
    is_one_of(PUBSUB_COMMANDS, name)
}

/// True if `name` is a blocking command.
pub fn is_blocking_command(name: &[u8]) -> bool {
    is_one_of(BLOCKING_COMMANDS, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kv::command_table::{ServedBy, COMMAND_TABLE};

    /// Known to the node but refused, so never listed by COMMAND.
    const REFUSED: &[&str] = &[];

    #[test]
    fn node_rows_are_exactly_what_the_node_serves() {
        let served: Vec<String> = CONNECTION_COMMANDS
            .iter()
            .chain(TRANSACTION_COMMANDS)
            .chain(PUBSUB_COMMANDS)
            .chain(BLOCKING_COMMANDS)
            .filter(|c| !REFUSED.contains(c))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let rows: Vec<&str> = COMMAND_TABLE
            .iter()
            .filter(|c| c.served_by == ServedBy::Node)
            .map(|c| c.name)
            .collect();
        for name in &served {
            assert!(
                rows.contains(&name.as_str()),
                "{name} is served but has no command-table row"
            );
        }
        for name in &rows {
            assert!(
                served.iter().any(|s| s == name),
                "the command table lists {name}, which the node does not serve"
            );
        }
        for name in REFUSED {
            assert!(
                kv::command_table::lookup(name.as_bytes()).is_none(),
                "{name} is refused, so it must not be listed"
            );
        }
    }
}
