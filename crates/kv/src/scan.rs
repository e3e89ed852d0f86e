//! SCAN: incremental iteration with a numeric cursor, deterministic on every replica.
//!
//! # The cursor scheme
//!
//! The keyspace is ordered by `(h, key)` where `h = key_hash(key)` is a fixed, seedless 64-bit
//! hash (see [`crate::hash`]). A cursor is a position in the hash space, written as a decimal
//! integer: cursor `c` means "continue with the keys whose hash is at least `c`". Cursor 0
//! starts the iteration and a returned cursor of 0 ends it.
//!
//! One call visits entries from the first one with `h >= c`, in order, until it has visited
//! COUNT entries, and then keeps going until the hash changes, so a page always ends on a hash
//! boundary and keys sharing a hash are returned together. The next cursor is the hash of the
//! first entry not visited, or 0 when the end is reached. Because each page contains at least one
//! whole hash group, a returned cursor is strictly greater than every hash already visited, so
//! it is never 0 before the end; a page starting at 0 includes hash 0 itself.
//!
//! # Guarantees (Redis's, kept)
//!
//! - A key present during the whole iteration is returned: its hash never changes, the cursors
//!   of successive calls split the hash space into consecutive half-open ranges `[c_i, c_i+1)`,
//!   and each call visits every key stored in its range at that moment.
//! - A key is returned at most once per iteration unless it is deleted and re-added (its hash
//!   range is visited once). Keys added or deleted during the iteration may or may not appear.
//! - The iteration ends: cursors strictly increase.
//! - Any u64 is an acceptable cursor; an arbitrary one just starts mid-way.
//! - The same state and cursor give the same page on every replica, and cursors stay valid
//!   across leader changes and snapshots (the order depends only on the keys).
//!
//! COUNT counts entries visited, including expired ones and ones MATCH or TYPE filter out, so a
//! page may hold fewer keys than COUNT, or none, while the cursor is not 0 (as in Redis). COUNT
//! is clamped to [`MAX_SCAN_COUNT`] to bound the work of one call.

use crate::glob::Pattern;
use crate::keyspace::Keyspace;
use crate::limits::MAX_SCAN_COUNT;
use bytes::Bytes;
use resp::Reply;

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`: `[next cursor, [keys...]]`.
pub(crate) fn scan(
    ks: &Keyspace,
    now: u64,
    cursor: u64,
    pattern: Option<&Bytes>,
    count: u64,
    type_name: Option<&Bytes>,
) -> Reply {
    let budget = count.clamp(1, MAX_SCAN_COUNT);
    let pattern = pattern.map(|pattern| Pattern::new(pattern));
    let mut last_hash = None;
    let mut next_cursor = 0;
    let mut keys = Vec::new();
    for (visited, slot) in (0u64..).zip(ks.starting_at_hash(cursor)) {
        let record = &slot.record;
        if visited >= budget && last_hash != Some(slot.hash) {
            next_cursor = slot.hash;
            break;
        }
        last_hash = Some(slot.hash);
        let type_ok =
            type_name.is_none_or(|name| name.eq_ignore_ascii_case(record.type_name().as_bytes()));
        let wanted = record.is_live(now)
            && type_ok
            && pattern.as_ref().is_none_or(|p| p.matches(record.key()));
        if wanted {
            keys.push(Reply::Bulk(Bytes::copy_from_slice(record.key())));
        }
    }
    debug_assert!(next_cursor == 0 || Some(next_cursor) > last_hash);
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(next_cursor.to_string())),
        Reply::Array(keys),
    ])
}
