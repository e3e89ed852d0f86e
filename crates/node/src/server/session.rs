//! Per-connection state: what one client's commands can change (protocol, name, READONLY, an
//! open MULTI, WATCHed keys, subscriptions, the authenticated user). One [`ClientState`] per connection, owned by its
//! task in `connection`; nothing here is shared between connections.

use std::net::SocketAddr;

use resp::Protocol;

use super::subscriptions::Subscriptions;
use super::transaction::{self, Transaction};

/// Per-connection state that commands can change.
#[derive(Debug)]
pub struct ClientState {
    /// CLIENT ID.
    pub id: u64,
    /// CLIENT SETNAME.
    pub name: Option<String>,
    /// Protocol chosen with HELLO.
    pub protocol: Protocol,
    /// READONLY: serve reads from this node's state without a read barrier (may be stale).
    pub readonly: bool,
    /// The client's address.
    pub addr: SocketAddr,
    /// Commands queued since MULTI, if a transaction is open.
    pub transaction: Option<Transaction>,
    /// Keys WATCHed, with the versions seen (cleared by EXEC, DISCARD, UNWATCH and RESET).
    pub watched: transaction::Watches,
    /// Pub/sub channels and patterns (SUBSCRIBE, PSUBSCRIBE) and the outbox of messages.
    pub subscriptions: Subscriptions,
    /// The user AUTH or HELLO AUTH authenticated; None: not yet (acts as `default` if that
    /// user needs no password, see `server::acl`).
    pub user: Option<bytes::Bytes>,
    /// This connection's copy of the ACL table (refreshed when `acl_version` moves).
    pub acl: std::sync::Arc<kv::acl::Acl>,
    /// The version of `acl` (see `StateView::acl_version`).
    pub acl_version: u64,
}
