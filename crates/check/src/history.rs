//! A recorded history and its JSON Lines form.
//!
//! [`History`] is a plain list of [`Op`]s in any order; the checker sorts what it needs. Reading
//! is strict and bounded: every line must parse, ids must be unique, every operation must pass
//! [`Op::validate`], a line may be at most [`MAX_LINE_BYTES`] long and a history at most
//! [`MAX_HISTORY_OPS`] operations. Blank lines are skipped, so a file can be appended to by several
//! writers line by line. Errors name the line, so a broken recorder is easy to find.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use crate::error::HistoryError;
use crate::op::{Command, Op};
use crate::value::Outcome;

/// Longest accepted JSON Lines record, in bytes (values are short test strings, but an append
/// read may carry a long sequence).
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Most operations accepted in one history.
pub const MAX_HISTORY_OPS: usize = 20_000_000;

/// A recorded history: the operations of every client on every key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    ops: Vec<Op>,
    /// One more than the largest id so far: the id [`History::add`] hands out next.
    next_id: u64,
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        History::default()
    }

    /// A history of these operations (not validated; see [`History::validate`]).
    pub fn from_ops(ops: Vec<Op>) -> Self {
        let next_id = ops
            .iter()
            .map(|op| op.id.saturating_add(1))
            .max()
            .unwrap_or(0);
        History { ops, next_id }
    }

    /// Adds an operation.
    pub fn push(&mut self, op: Op) {
        self.next_id = self.next_id.max(op.id.saturating_add(1));
        self.ops.push(op);
    }

    /// Adds an operation with the next free id (one more than the largest so far) and returns
    /// that id. Times are nanoseconds; `ret_ns` is `None` when no reply arrived.
    pub fn add(
        &mut self,
        client: u64,
        key: &str,
        command: Command,
        call_ns: u64,
        ret_ns: Option<u64>,
        outcome: Outcome,
    ) -> u64 {
        let id = self.next_id;
        self.push(Op {
            id,
            client,
            key: key.to_string(),
            command,
            call_ns,
            ret_ns,
            outcome,
        });
        id
    }

    /// The operations, in the order they were added or read.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether there are no operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Checks the whole history: size limit, unique ids, and [`Op::validate`] on every operation.
    pub fn validate(&self) -> Result<(), HistoryError> {
        if self.ops.len() > MAX_HISTORY_OPS {
            return Err(HistoryError::TooLarge {
                max: MAX_HISTORY_OPS,
            });
        }
        let mut ids = HashSet::with_capacity(self.ops.len());
        for op in &self.ops {
            if !ids.insert(op.id) {
                return Err(HistoryError::DuplicateId { id: op.id });
            }
            op.validate()
                .map_err(|message| HistoryError::Invalid { id: op.id, message })?;
        }
        Ok(())
    }

    /// The operations grouped by key, keys in sorted order, each group in history order.
    pub fn by_key(&self) -> BTreeMap<&str, Vec<&Op>> {
        let mut keys: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
        for op in &self.ops {
            keys.entry(op.key.as_str()).or_default().push(op);
        }
        keys
    }

    /// Reads a JSON Lines history and validates it.
    pub fn read_jsonl<R: BufRead>(mut reader: R) -> Result<History, HistoryError> {
        let mut ops = Vec::new();
        let mut buf = Vec::new();
        let mut line = 0;
        loop {
            buf.clear();
            line += 1;
            let limit = MAX_LINE_BYTES as u64 + 1;
            let n = reader.by_ref().take(limit).read_until(b'\n', &mut buf)?;
            if n == 0 {
                break;
            }
            if buf.len() > MAX_LINE_BYTES {
                return Err(HistoryError::Parse {
                    line,
                    message: format!("line longer than {MAX_LINE_BYTES} bytes"),
                });
            }
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let op: Op = serde_json::from_slice(&buf).map_err(|e| HistoryError::Parse {
                line,
                message: e.to_string(),
            })?;
            ops.push(op);
            if ops.len() > MAX_HISTORY_OPS {
                return Err(HistoryError::TooLarge {
                    max: MAX_HISTORY_OPS,
                });
            }
        }
        let history = History::from_ops(ops);
        history.validate()?;
        Ok(history)
    }

    /// Writes the history as JSON Lines, one operation per line, in history order.
    pub fn write_jsonl<W: Write>(&self, mut writer: W) -> Result<(), HistoryError> {
        for op in &self.ops {
            serde_json::to_writer(&mut writer, op).map_err(std::io::Error::other)?;
            writer.write_all(b"\n")?;
        }
        writer.flush()?;
        Ok(())
    }

    /// Reads and validates a JSON Lines history file.
    pub fn load(path: &Path) -> Result<History, HistoryError> {
        History::read_jsonl(BufReader::new(File::open(path)?))
    }

    /// Writes the history to a JSON Lines file, replacing it.
    pub fn save(&self, path: &Path) -> Result<(), HistoryError> {
        self.write_jsonl(BufWriter::new(File::create(path)?))
    }
}

impl FromIterator<Op> for History {
    fn from_iter<I: IntoIterator<Item = Op>>(iter: I) -> Self {
        History::from_ops(iter.into_iter().collect())
    }
}
