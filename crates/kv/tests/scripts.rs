//! Data-driven tests: every file in `tests/scripts/` is a goldenscript run against a fresh
//! [`Store`].
//!
//! Commands (time is always explicit; `now` is milliseconds since the Unix epoch):
//!
//! - `apply now=N CMD ARG...`: parse the Redis command and apply it; prints `CMD ARG... → reply`,
//!   then each message it published (script PUBLISHes, keyspace notifications), indented.
//!   A parse error prints the error reply the client would get. `CONFIG SET|GET
//!   notify-keyspace-events` is parsed as the node parses it.
//! - `query now=N CMD ARG...`: parse and answer with `Store::query` (checks that the store is
//!   unchanged and, for reads other than TIME, that `apply` on a clone gives the same reply).
//! - `parse CMD ARG...`: prints the parsed `Command` (or the error).
//! - `expire_due now=N max=M`: applies the internal `Command::ExpireDue`.
//! - `scan_all now=N [count=C] [match=P]`: SCAN from cursor 0 to the end, one line per page.
//! - `dump`: every stored entry by key, expired ones included, with deadlines.
//! - `stats now=N`, `next_expiry`, `clock`: the corresponding `Store` methods.
//! - `versions now=N KEY...`: `Store::watch_version` of each key (what WATCH records).
//! - `guard now=N KEY=VERSION... CMD ARG...`: `Store::apply_batch` of a `WatchGuard` with those
//!   versions followed by the command (what EXEC sends); prints both replies.
//!
//! After every command that can change the store, the runner checks that a snapshot round trip
//! gives back an equal store (which also checks the internal indexes against the entries).

use bytes::Bytes;
use goldenscript::{Argument, Command as ScriptCommand, Context, Runner};
use kv::{Command, Store};
use resp::Reply;
use std::error::Error;
use std::fmt::Write as _;

/// Runs every script in `tests/scripts`.
#[test]
fn scripts() -> std::io::Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    paths.sort();
    assert!(!paths.is_empty(), "no scripts in {dir:?}");
    for path in paths {
        goldenscript::run(&mut StoreRunner::default(), &path)?;
    }
    Ok(())
}

/// Runs script commands against one store.
#[derive(Default)]
struct StoreRunner {
    /// The store under test.
    store: Store,
}

impl Runner for StoreRunner {
    type Command = ScriptCommand;

    fn run(&mut self, command: &ScriptCommand, _: &Context) -> Result<String, Box<dyn Error>> {
        let mut output = String::new();
        match command.name.as_str() {
            "apply" => {
                let (now, args) = now_and_args(command)?;
                let mut messages = Vec::new();
                let parsed =
                    kv::notify::parse_config(&args).unwrap_or_else(|| Command::parse(&args));
                let reply = match parsed {
                    Ok(cmd) => self.store.apply_publishing(now, &cmd, &mut messages),
                    Err(error) => error.to_reply(),
                };
                writeln!(output, "{} → {}", show_args(&args), show(&reply))?;
                show_messages(&messages, &mut output)?;
                self.check_round_trip()?;
            }
            "query" => {
                let (now, args) = now_and_args(command)?;
                let reply = match Command::parse(&args) {
                    Ok(cmd) => self.query(now, &cmd)?,
                    Err(error) => error.to_reply(),
                };
                writeln!(output, "{} → {}", show_args(&args), show(&reply))?;
            }
            "parse" => {
                let args = positional(command);
                match Command::parse(&args) {
                    Ok(cmd) => writeln!(output, "{cmd:?}")?,
                    Err(error) => writeln!(output, "{}", show(&error.to_reply()))?,
                }
            }
            "expire_due" => {
                let now = key_u64(command, "now")?;
                let max_keys = u32::try_from(key_u64(command, "max")?)?;
                let mut messages = Vec::new();
                let cmd = Command::ExpireDue { max_keys };
                let reply = self.store.apply_publishing(now, &cmd, &mut messages);
                writeln!(output, "expire_due max={max_keys} → {}", show(&reply))?;
                show_messages(&messages, &mut output)?;
                self.check_round_trip()?;
            }
            "scan_all" => self.scan_all(command, &mut output)?,
            "dump" => self.dump(&mut output)?,
            "stats" => {
                let stats = self.store.stats(key_u64(command, "now")?);
                writeln!(output, "{stats:?}")?;
            }
            "versions" => {
                let (now, keys) = now_and_args(command)?;
                let shown: Vec<String> = keys
                    .iter()
                    .map(|key| {
                        format!("{}={}", show_bytes(key), self.store.watch_version(now, key))
                    })
                    .collect();
                writeln!(output, "{}", shown.join(" "))?;
            }
            "guard" => {
                // guard now=N key=version ... -- CMD ARG...: apply_batch of a WatchGuard and one
                // command, as EXEC sends it.
                let now = key_u64(command, "now")?;
                let mut watched = Vec::new();
                for arg in &command.args {
                    if let Argument::KeyValue(key, value) = arg {
                        if key != "now" {
                            watched.push((Bytes::from(key.clone()), value.parse::<i64>()?));
                        }
                    }
                }
                let args = positional(command);
                let cmds = vec![Command::WatchGuard { watched }, Command::parse(&args)?];
                let replies = self.store.apply_batch(now, &cmds);
                let shown: Vec<String> = replies.iter().map(show).collect();
                writeln!(output, "{} → {}", show_args(&args), shown.join(", "))?;
                self.check_round_trip()?;
            }
            "next_expiry" => writeln!(output, "{:?}", self.store.next_expiry_ms())?,
            "clock" => writeln!(output, "{}", self.store.clock_ms())?,
            name => return Err(format!("unknown script command {name}").into()),
        }
        Ok(output)
    }
}

impl StoreRunner {
    /// `Store::query`, checking it changes nothing and agrees with `apply` for reads.
    fn query(&self, now: u64, cmd: &Command) -> Result<Reply, Box<dyn Error>> {
        let before = self.store.clone();
        let reply = self.store.query(now, cmd);
        if before != self.store {
            return Err("query changed the store".into());
        }
        // TIME is the one read whose query differs from its apply on purpose: a query answers
        // the last applied clock, an apply the entry's own timestamp.
        if !cmd.is_write() && cmd.name() != "time" {
            let applied = self.store.clone().apply(now, cmd);
            if applied != reply {
                return Err(format!("query gave {reply:?} but apply gave {applied:?}").into());
            }
        }
        Ok(reply)
    }

    /// Checks that the store survives a snapshot round trip unchanged.
    fn check_round_trip(&self) -> Result<(), Box<dyn Error>> {
        let mut bytes = Vec::new();
        self.store.write_snapshot(&mut bytes)?;
        let loaded = Store::read_snapshot(&mut bytes.as_slice())?;
        if loaded != self.store {
            return Err("snapshot round trip changed the store".into());
        }
        Ok(())
    }

    /// SCAN from 0 to the end, printing each page.
    fn scan_all(&self, command: &ScriptCommand, output: &mut String) -> Result<(), Box<dyn Error>> {
        let now = key_u64(command, "now")?;
        let mut cursor = Bytes::from("0");
        for _ in 0..10_000 {
            let mut args = vec![Bytes::from("SCAN"), cursor.clone()];
            for arg in &command.args {
                if let Argument::KeyValue(key, value) = arg {
                    if key == "count" || key == "match" {
                        args.push(Bytes::from(key.clone()));
                        args.push(Bytes::from(value.clone()));
                    }
                }
            }
            let reply = self.store.query(now, &Command::parse(&args)?);
            let Reply::Array(parts) = &reply else {
                return Err(format!("SCAN replied {reply:?}").into());
            };
            let [Reply::Bulk(next), keys] = parts.as_slice() else {
                return Err(format!("SCAN replied {reply:?}").into());
            };
            writeln!(output, "SCAN {} → {}", show_args(&[cursor]), show(keys))?;
            if next.as_ref() == b"0" {
                writeln!(output, "end")?;
                return Ok(());
            }
            cursor = next.clone();
        }
        Err("SCAN did not finish".into())
    }

    /// Every stored entry, sorted by key, with its deadline.
    fn dump(&self, output: &mut String) -> Result<(), Box<dyn Error>> {
        // Expired entries are invisible to every command, so read them from a snapshot.
        let mut bytes = Vec::new();
        self.store.write_snapshot(&mut bytes)?;
        let mut entries = decode_entries(&bytes);
        entries.sort();
        for (key, value, deadline) in entries {
            let deadline = match deadline {
                Some(d) if d <= self.store.clock_ms() => format!(" deadline={d} (expired)"),
                Some(d) => format!(" deadline={d}"),
                None => String::new(),
            };
            writeln!(
                output,
                "{} = {}{deadline}",
                show_bytes(&key),
                String::from_utf8_lossy(&value)
            )?;
        }
        if output.is_empty() {
            writeln!(output, "(empty)")?;
        }
        Ok(())
    }
}

/// Decodes the entries of a snapshot (format version 3 in kv's `snapshot` module docs),
/// joining an aggregate's pieces and showing it as text.
fn decode_entries(bytes: &[u8]) -> Vec<(Vec<u8>, Vec<u8>, Option<u64>)> {
    #[derive(serde::Deserialize)]
    enum ValueIn {
        Str(Vec<u8>),
        Hash(Vec<(Vec<u8>, Vec<u8>)>),
        List(Vec<Vec<u8>>),
        Set(Vec<Vec<u8>>),
        ZSet(Vec<(Vec<u8>, f64)>),
    }
    #[derive(serde::Deserialize)]
    struct EntryIn {
        key: Vec<u8>,
        deadline_ms: Option<u64>,
        value: ValueIn,
        more: bool,
        #[allow(dead_code)] // read past; `versions` shows it
        version: u64,
    }
    let mut entries: Vec<(Vec<u8>, Vec<u8>, Option<u64>)> = Vec::new();
    let mut continued = false;
    let mut pos = 52;
    while bytes[pos] == b'C' {
        let count = u32::from_le_bytes(bytes[pos + 1..pos + 5].try_into().unwrap());
        let len = u32::from_le_bytes(bytes[pos + 5..pos + 9].try_into().unwrap()) as usize;
        let mut payload = &bytes[pos + 9..pos + 9 + len];
        for _ in 0..count {
            let (entry, rest) = postcard::take_from_bytes::<EntryIn>(payload).unwrap();
            let (kind, parts): (&str, Vec<String>) = match entry.value {
                ValueIn::Str(s) => ("", vec![show_bytes(&s)]),
                ValueIn::Hash(h) => (
                    "hash",
                    h.iter()
                        .map(|(f, v)| format!("{}={}", show_bytes(f), show_bytes(v)))
                        .collect(),
                ),
                ValueIn::List(l) => ("list", l.iter().map(|i| show_bytes(i)).collect()),
                ValueIn::Set(s) => ("set", s.iter().map(|m| show_bytes(m)).collect()),
                ValueIn::ZSet(z) => (
                    "zset",
                    z.iter()
                        .map(|(m, s)| format!("{}:{s}", show_bytes(m)))
                        .collect(),
                ),
            };
            let text = if kind.is_empty() {
                parts.join("")
            } else {
                format!("{kind}[{}]", parts.join(" "))
            };
            if continued {
                let last = entries.last_mut().unwrap();
                last.1 = format!("{}+{text}", String::from_utf8_lossy(&last.1)).into_bytes();
            } else {
                entries.push((entry.key, text.into_bytes(), entry.deadline_ms));
            }
            continued = entry.more;
            payload = rest;
        }
        pos += 9 + len + 4;
    }
    entries
}

/// The `now=` argument and the positional arguments.
fn now_and_args(command: &ScriptCommand) -> Result<(u64, Vec<Bytes>), Box<dyn Error>> {
    Ok((key_u64(command, "now")?, positional(command)))
}

/// A required numeric `key=value` argument.
fn key_u64(command: &ScriptCommand, key: &str) -> Result<u64, Box<dyn Error>> {
    let mut args = command.consume_args();
    let value = args.take_key(key).ok_or(format!("{key}= not given"))?;
    Ok(value.parse()?)
}

/// The positional arguments as bytes.
fn positional(command: &ScriptCommand) -> Vec<Bytes> {
    command
        .args
        .iter()
        .filter_map(|arg| match arg {
            Argument::Positional(value) => Some(Bytes::from(value.clone())),
            _ => None,
        })
        .collect()
}

/// Arguments joined by spaces, each shown like a bulk string only if it needs quoting.
fn show_args(args: &[Bytes]) -> String {
    let shown: Vec<String> = args
        .iter()
        .map(|arg| {
            let plain = !arg.is_empty()
                && arg
                    .iter()
                    .all(|b| b.is_ascii_graphic() && *b != b'"' && *b != b'\\');
            if plain {
                String::from_utf8_lossy(arg).into_owned()
            } else {
                show_bytes(arg)
            }
        })
        .collect();
    shown.join(" ")
}

/// Bytes as a quoted string, escaping anything not printable ASCII.
fn show_bytes(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b' '..=b'~' => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// A reply in a compact redis-cli-like form.
/// Prints the messages an applied command published (script PUBLISHes, keyspace
/// notifications), one a line, indented under its reply.
fn show_messages(messages: &[(Bytes, Bytes)], output: &mut String) -> std::fmt::Result {
    for (channel, message) in messages {
        writeln!(
            output,
            "    {}",
            show_args(&[channel.clone(), message.clone()])
        )?;
    }
    Ok(())
}

fn show(reply: &Reply) -> String {
    match reply {
        Reply::Simple(s) => s.to_string(),
        Reply::Error(e) => format!("(error) {e}"),
        Reply::Integer(n) => format!("(integer) {n}"),
        Reply::Bulk(b) => show_bytes(b),
        Reply::Null => "(nil)".to_string(),
        Reply::NullArray => "(nil array)".to_string(),
        Reply::Array(items) | Reply::Set(items) => {
            let items: Vec<String> = items.iter().map(show).collect();
            format!("[{}]", items.join(", "))
        }
        // As RESP2 sends them, which is what the scripts compare with Redis.
        Reply::Map(pairs) | Reply::Pairs(pairs) => {
            let items: Vec<String> = pairs.iter().flat_map(|(k, v)| [show(k), show(v)]).collect();
            format!("[{}]", items.join(", "))
        }
        Reply::Double(d) => show_bytes(resp::format_double(*d).as_bytes()),
        Reply::Score(d) => show_bytes(resp::format_score(*d).as_bytes()),
        Reply::Keyed(pairs) => {
            let items: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("[{}, {}]", show(k), show(v)))
                .collect();
            format!("[{}]", items.join(", "))
        }
        other => format!("{other:?}"),
    }
}
