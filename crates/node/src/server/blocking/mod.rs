//! Blocking commands: the pops BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP,
//! and XREAD/XREADGROUP with BLOCK (their attempts are in [`stream`]). The
//! registry of waiting clients is [`crate::blocked`].
//!
//! A blocked command is an attempt to repeat ([`Attempt`]) until it is served, with the keys
//! whose writes may serve it and its [`Turn`] in line. A client may block on any node; the wait
//! is local and every attempt goes through the log (or, for XREAD, is a linearizable read). A
//! blocking pop is run as its non-blocking form (LMPOP, LMOVE, RPOPLPUSH, ZMPOP), which pops
//! atomically in one log entry or answers nil when every key is empty. On nil the client waits
//! in this node's [`Registry`], in line per key; the state machine reports the keys of every
//! applied write that may serve a blocked client, and the registry wakes the clients whose
//! turn it is, which then try again. If one lost the race (another client, possibly on another
//! node, took the element first) it waits again, keeping its place.
//!
//! Invariants:
//! - A client registers before its first attempt, so a write applied after that attempt always
//!   wakes it (a wake-up that comes while it is not waiting is stored, never lost).
//! - Which waiters a write wakes depends on their [`Turn`]. Pops, and XREADGROUP clients of one
//!   consumer group, take what they find: they wait in a FIFO queue per key (one for the pops,
//!   one per group), only the first of a queue is woken by a write, and a client that leaves
//!   the queue (served, timed out, or closed) wakes the next one on each of its keys, so an
//!   element pushed for two clients reaches both, in the order they blocked. XREAD clients
//!   take nothing, so a write wakes every one of them.
//! - A client whose connection closes leaves the registry before any further attempt, so no
//!   element is popped for a client that is gone (a pop already in the log when the connection
//!   closes still completes, as in Redis).
//! - An attempt that failed without reaching the log (no leader, no quorum) is retried, through
//!   the new leader once there is one: the client keeps waiting. An attempt whose outcome is
//!   unknown is answered with that error, never retried blindly.
//! - At most [`MAX_BLOCKED_CLIENTS`] clients wait on one node; beyond that a blocking command
//!   is refused with [`TOO_MANY_BLOCKED`].
//!
//! FIFO order holds among the clients blocked on one node; clients blocked on different nodes
//! race through the log. Inside MULTI a blocking command never blocks: it runs as its
//! non-blocking form and answers nil at once if there is nothing to pop (or read).

pub mod stream;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use resp::Reply;
use tokio::io::AsyncReadExt;
use tokio::time::Instant;

pub use crate::blocked::{Registry, Turn, Waiter, Wakes, MAX_BLOCKED_CLIENTS};

pub use super::families::{is_blocking_command, BLOCKING_COMMANDS};
use super::ServerContext;
use crate::limits::MAX_QUERY_BUFFER_BYTES;

/// The error a blocking command gets when [`MAX_BLOCKED_CLIENTS`] are already blocked.
pub const TOO_MANY_BLOCKED: &str = "ERR max number of blocked clients reached";

/// How long a client whose pop could not reach a leader waits before trying again (a write to
/// one of its keys wakes it sooner).
const RETRY_AFTER: Duration = Duration::from_millis(200);

/// How the non-blocking form's reply becomes the blocking command's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// The same reply (BLMOVE, BRPOPLPUSH, BLMPOP, BZMPOP).
    Same,
    /// `[key, [element]]` to `[key, element]` (BLPOP, BRPOP).
    KeyElement,
    /// `[key, [[member, score]]]` to `[key, member, score]` (BZPOPMIN, BZPOPMAX).
    KeyMemberScore,
}

impl Shape {
    /// Reshape a successful reply; errors and nil pass through.
    pub fn apply(self, reply: Reply) -> Reply {
        let Reply::Array(mut parts) = reply else {
            return reply;
        };
        if self == Shape::Same || parts.len() != 2 {
            return Reply::Array(parts);
        }
        let (Some(Reply::Array(mut popped)), Some(key)) = (parts.pop(), parts.pop()) else {
            return Reply::error("ERR internal: unexpected pop reply");
        };
        if popped.is_empty() {
            return Reply::NullArray;
        }
        match (self, popped.swap_remove(0)) {
            (Shape::KeyMemberScore, Reply::Array(pair)) => {
                Reply::Array(std::iter::once(key).chain(pair).collect())
            }
            (_, element) => Reply::Array(vec![key, element]),
        }
    }
}

/// A parsed blocking command.
#[derive(Clone, Debug)]
pub struct BlockingPop {
    /// The non-blocking form, run through the log at each attempt.
    pub command: kv::Command,
    /// How its reply is reshaped.
    pub shape: Shape,
    /// How long to wait; `None` waits forever (timeout 0).
    pub timeout: Option<Duration>,
    /// The keys whose writes may let the pop succeed.
    pub keys: Vec<Bytes>,
}

/// Parse a timeout in seconds, decimals allowed, as Redis does (0 = forever).
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, Reply> {
    let not_float = || Reply::error("ERR timeout is not a float or out of range");
    let text = std::str::from_utf8(arg).map_err(|_| not_float())?;
    if text.is_empty()
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
    {
        return Err(not_float());
    }
    let seconds: f64 = text.parse().map_err(|_| not_float())?;
    if !seconds.is_finite() {
        return Err(not_float());
    }
    if seconds < 0.0 {
        return Err(Reply::error("ERR timeout is negative"));
    }
    if seconds * 1000.0 > i64::MAX as f64 {
        return Err(Reply::error("ERR timeout is out of range"));
    }
    let millis = (seconds * 1000.0) as u64;
    Ok((millis > 0).then_some(Duration::from_millis(millis)))
}

/// Parse a blocking command (`args[0]` is its name) into its non-blocking form, checking arity,
/// the timeout and then the rest as the non-blocking form does.
pub fn parse(args: &[Bytes]) -> Result<BlockingPop, Reply> {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let not_blocking = || Reply::error("ERR internal: not a blocking command");
    let spec = kv::command_table::lookup(name.as_bytes()).ok_or_else(not_blocking)?;
    if !spec.arity_ok(args.len()) {
        return Err(super::errors::wrong_arity(spec.name));
    }
    let n = args.len();
    let word = |s: &'static str| Bytes::from_static(s.as_bytes());
    let count = |k: usize| Bytes::from(k.to_string());
    let (timeout_arg, form, shape): (&Bytes, Vec<Bytes>, Shape) = match spec.name {
        "blpop" | "brpop" | "bzpopmin" | "bzpopmax" => {
            let keys = &args[1..n - 1];
            let (form, end, shape) = match spec.name {
                "blpop" => ("lmpop", "left", Shape::KeyElement),
                "brpop" => ("lmpop", "right", Shape::KeyElement),
                "bzpopmin" => ("zmpop", "min", Shape::KeyMemberScore),
                _ => ("zmpop", "max", Shape::KeyMemberScore),
            };
            let mut built = vec![word(form), count(keys.len())];
            built.extend(keys.iter().cloned());
            built.push(word(end));
            (&args[n - 1], built, shape)
        }
        "blmove" => {
            let built = [&[word("lmove")], &args[1..5]].concat();
            (&args[5], built, Shape::Same)
        }
        "brpoplpush" => {
            let built = [&[word("rpoplpush")], &args[1..3]].concat();
            (&args[3], built, Shape::Same)
        }
        "blmpop" | "bzmpop" => {
            let form = if spec.name == "blmpop" {
                "lmpop"
            } else {
                "zmpop"
            };
            let built = [&[word(form)], &args[2..]].concat();
            (&args[1], built, Shape::Same)
        }
        _ => return Err(not_blocking()),
    };
    let timeout = parse_timeout(timeout_arg)?;
    let command = kv::Command::parse(&form).map_err(|e| e.to_reply())?;
    let keys = match spec.name {
        // A move waits on its source only.
        "blmove" | "brpoplpush" => vec![args[1].clone()],
        _ => command.keys().into_iter().cloned().collect(),
    };
    Ok(BlockingPop {
        command,
        shape,
        timeout,
        keys,
    })
}

/// What a blocked client repeats until it is served.
pub enum Attempt {
    /// A pop: its non-blocking form and how its reply is reshaped.
    Pop {
        /// The non-blocking form, run through the log.
        command: kv::Command,
        /// How its reply is reshaped.
        shape: Shape,
    },
    /// XREAD or XREADGROUP with BLOCK.
    Stream(stream::StreamRead),
}

/// A parsed blocking command.
pub struct Blocked {
    /// What is repeated.
    pub attempt: Attempt,
    /// How long to wait; `None` waits forever (timeout 0).
    pub timeout: Option<Duration>,
    /// The keys whose writes may serve it.
    pub keys: Vec<Bytes>,
    /// Which writes wake it.
    pub turn: Turn,
}

impl From<BlockingPop> for Blocked {
    fn from(pop: BlockingPop) -> Blocked {
        Blocked {
            attempt: Attempt::Pop {
                command: pop.command,
                shape: pop.shape,
            },
            timeout: pop.timeout,
            keys: pop.keys,
            turn: Turn::Queue(None),
        }
    }
}

/// The blocking command in `args`, if it is one: a blocking pop, or XREAD/XREADGROUP with a
/// valid BLOCK option (`Err` is the reply to a pop that does not parse; an invalid XREAD is
/// not blocking and gets its error from the state machine).
pub fn blocking_command(args: &[Bytes]) -> Option<Result<Blocked, Reply>> {
    if is_blocking_command(&args[0]) {
        return Some(parse(args).map(Blocked::from));
    }
    stream::parse(args).map(Ok)
}

impl Attempt {
    /// Run the attempt once.
    async fn run(&mut self, ctx: &ServerContext) -> Step {
        match self {
            Attempt::Pop { command, shape } => {
                let reply = ctx
                    .execute(vec![command.clone()])
                    .await
                    .pop()
                    .unwrap_or_else(|| Reply::error("ERR internal: missing reply"));
                classify(reply, *shape)
            }
            Attempt::Stream(read) => read.run(ctx).await,
        }
    }
}

/// What one attempt's reply means.
pub(super) enum Step {
    /// Served, or an error to answer: the command is done.
    Done(Reply),
    /// Nothing to take: wait for a write.
    Empty,
    /// The pop could not reach a leader and was not applied: try again.
    Unreachable,
}

/// What `reply` to an attempt means, reshaped by `shape` if it is served.
pub(super) fn classify(reply: Reply, shape: Shape) -> Step {
    match reply {
        Reply::Null | Reply::NullArray => Step::Empty,
        Reply::Error(ref e) if e.starts_with("TRYAGAIN") || e.starts_with("CLUSTERDOWN") => {
            Step::Unreachable
        }
        reply => Step::Done(shape.apply(reply)),
    }
}

/// Run a blocking command for a client: attempt, wait, attempt again, until it is served,
/// times out (nil), gets an error, or the connection closes (`Ok(None)`: close it). Bytes the
/// client sends meanwhile are kept in `input` for after the reply.
pub async fn run(
    mut blocked: Blocked,
    ctx: &ServerContext,
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
    input: &mut BytesMut,
) -> std::io::Result<Option<Reply>> {
    let registry = ctx.consensus.view().blocking().clone();
    let Some(mut waiter) = registry.register(blocked.keys.clone(), blocked.turn.clone()) else {
        return Ok(Some(Reply::error(TOO_MANY_BLOCKED)));
    };
    // A timeout too long to represent waits forever.
    let deadline = blocked.timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        let retry_after = match blocked.attempt.run(ctx).await {
            Step::Done(reply) => return Ok(Some(reply)),
            Step::Empty => {
                waiter.waiting();
                None
            }
            Step::Unreachable => Some(RETRY_AFTER),
        };
        loop {
            tokio::select! {
                biased;
                read = stream.read_buf(input) => {
                    if read? == 0 || input.len() > MAX_QUERY_BUFFER_BYTES {
                        drop(waiter); // leave the line before anything else can happen
                        return Ok(None);
                    }
                    continue; // pipelined commands wait until this one is answered
                }
                () = waiter.woken() => break,
                () = sleep_until(deadline) => return Ok(Some(Reply::NullArray)),
                () = tokio::time::sleep(retry_after.unwrap_or(RETRY_AFTER)),
                    if retry_after.is_some() => break,
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Bytes {
        Bytes::copy_from_slice(k.as_bytes())
    }

    #[test]
    fn timeouts_parse_as_redis_does() {
        assert_eq!(parse_timeout(b"0").unwrap(), None);
        assert_eq!(
            parse_timeout(b"0.5").unwrap(),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse_timeout(b"2").unwrap(), Some(Duration::from_secs(2)));
        let err = |a: &[u8]| match parse_timeout(a) {
            Err(Reply::Error(e)) => e.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(err(b"-1"), "ERR timeout is negative");
        assert_eq!(err(b"abc"), "ERR timeout is not a float or out of range");
        assert_eq!(err(b"inf"), "ERR timeout is not a float or out of range");
        assert_eq!(err(b"1e300"), "ERR timeout is out of range");
    }

    #[test]
    fn replies_are_reshaped() {
        let b = |s: &str| Reply::Bulk(key(s));
        let lmpop = Reply::Array(vec![b("q"), Reply::Array(vec![b("x")])]);
        assert_eq!(
            Shape::KeyElement.apply(lmpop),
            Reply::Array(vec![b("q"), b("x")])
        );
        let zmpop = Reply::Array(vec![
            b("z"),
            Reply::Array(vec![Reply::Array(vec![b("m"), b("1")])]),
        ]);
        assert_eq!(
            Shape::KeyMemberScore.apply(zmpop),
            Reply::Array(vec![b("z"), b("m"), b("1")])
        );
        assert_eq!(Shape::KeyElement.apply(Reply::NullArray), Reply::NullArray);
    }
}
