//! The append checker: a key that only sees `APPEND` of unique tokens and `GET`, in linear time.
//!
//! Each `append` writes one token followed by [`APPEND_DELIMITER`] (`"t17,"`), each token at most
//! once per key; a `get` returns the concatenation, which splits back into the sequence of tokens
//! appended so far. Because tokens are unique, one read fixes the order of every append it
//! contains, and the longest read `R*` fixes the order of every append that any read saw. The
//! checks, in order:
//!
//! 1. `R*` is a well-formed sequence of tokens that were appended, with no token twice (a token
//!    twice means an append took effect twice, say a retry applied both times).
//! 2. Every other read is a prefix of `R*`: two reads that disagree cannot both be right.
//! 3. No token of a `fail` append appears; an `append` that reported its new length reported the
//!    length at its token's place in `R*` (or, if no read saw it, at least `R*`'s length plus its
//!    own).
//! 4. Real time agrees with the order. Give the append at position `p` of `R*` rank `2p+1`, a read
//!    of `L` tokens rank `2L`, and acknowledged appends that no read saw ranks after `R*` in call
//!    order. A linearization exists exactly when no operation that returned before another was
//!    called has a larger rank; one sweep in call order, with the largest rank among operations
//!    already returned, finds the first pair that breaks this. That single rule covers stale and
//!    non-monotonic reads (read before read), lost acknowledged appends (append before read),
//!    reads of a token before its append was called (read before append) and appends landing in
//!    the wrong order (append before append).
//!
//! `info` appends that some read saw take their rank and may happen any time after their call;
//! those no read saw are dropped (they may never have happened, or happened after every read).
//! Unknown reads and `fail` reads are ignored. A read of `""` is a violation: a missing key reads
//! as nil and an existing one holds at least one token. The whole check costs one pass over the
//! bytes of the reads plus a sort, so it handles histories far beyond the register search. It is
//! complete for such keys, with one exception: the reported lengths of appends that no read saw
//! are only checked against `R*`, not against each other.

use std::collections::HashMap;

use crate::error::HistoryError;
use crate::op::{Command, Op};
use crate::value::Value;

/// The character that ends every appended token. An `append` argument is a non-empty token
/// without this character, followed by it: `"c3-17,"`.
pub const APPEND_DELIMITER: char = ',';

/// Tokens shown from each end of a long sequence in an explanation.
const SEQUENCE_SHOWN_ENDS: usize = 3;

/// The verdict on one append key.
pub(crate) enum AppendVerdict<'a> {
    /// A linearization exists.
    Linearizable,
    /// None exists.
    Violation {
        /// The operations involved, in call order.
        window: Vec<&'a Op>,
        /// Why, for people.
        explanation: String,
    },
}

/// Whether a key's operations fit the append model: only `get` and `append`, at least one
/// append, every argument a unique well-formed token.
pub(crate) fn fits(ops: &[&Op]) -> bool {
    let any_append = ops
        .iter()
        .any(|op| matches!(op.command, Command::Append(_)));
    any_append && parse_appends("", ops).is_ok()
}

/// An append, with its token.
struct Append<'a> {
    op: &'a Op,
    token: &'a str,
    /// Index of the operation in the key's ops.
    index: usize,
}

/// An operation for the real-time sweep.
#[derive(Clone, Copy)]
struct Ranked {
    call: u64,
    /// Return time; `None` for never (unknown outcome).
    ret: Option<u64>,
    rank: usize,
    /// Index into the key's ops.
    op: usize,
}

fn violation<'a>(mut window: Vec<&'a Op>, explanation: String) -> AppendVerdict<'a> {
    window.sort_by_key(|op| (op.call_ns, op.id));
    window.dedup_by_key(|op| op.id);
    AppendVerdict::Violation {
        window,
        explanation,
    }
}

/// Splits a read into tokens, or `None` if it is not a delimited sequence.
fn tokens(s: &str) -> Option<Vec<&str>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    let body = s.strip_suffix(APPEND_DELIMITER)?;
    let tokens: Vec<&str> = body.split(APPEND_DELIMITER).collect();
    tokens.iter().all(|t| !t.is_empty()).then_some(tokens)
}

/// `[a, b, c]`, or `[a, b, c, ... (n more) ..., x, y, z]` for long sequences.
fn show(tokens: &[&str]) -> String {
    let k = SEQUENCE_SHOWN_ENDS;
    if tokens.len() <= 2 * k + 1 {
        return format!("[{}]", tokens.join(", "));
    }
    let (head, tail) = (&tokens[..k], &tokens[tokens.len() - k..]);
    let hidden = tokens.len() - 2 * k;
    format!(
        "[{}, ... ({hidden} more) ..., {}]",
        head.join(", "),
        tail.join(", ")
    )
}

/// Checks one append key. Errors when the key breaks the model's input rules (not get/append,
/// malformed or repeated tokens).
pub(crate) fn check_append_key<'a>(
    key: &str,
    ops: &[&'a Op],
) -> Result<AppendVerdict<'a>, HistoryError> {
    let (appends, by_token) = parse_appends(key, ops)?;
    // Known reads: (op index, value as a string; nil reads as "").
    let reads: Vec<(usize, &str)> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| op.command.is_read())
        .filter_map(|(i, op)| match op.outcome.value()? {
            Value::Str(s) => Some((i, s.as_str())),
            _ => Some((i, "")),
        })
        .collect();
    // A missing key reads as nil and every token is non-empty, so "" can never be read.
    let empty = reads
        .iter()
        .find(|(i, s)| s.is_empty() && ops[*i].outcome.value() != Some(&Value::Nil));
    if let Some(&(i, _)) = empty {
        let why = format!(
            "{} returned an empty string: a missing key reads as nil, and an existing one holds \
             at least one token.",
            ops[i].short()
        );
        return Ok(violation(vec![ops[i]], why));
    }
    // 1. the longest read, R*.
    let longest = reads
        .iter()
        .max_by_key(|(i, s)| (s.len(), std::cmp::Reverse(*i)));
    let (star_op, star) = longest.map_or((None, ""), |&(i, s)| (Some(ops[i]), s));
    let star_tokens = match read_sequence(star, star_op, &appends, &by_token) {
        Ok(t) => t,
        Err(v) => return Ok(v),
    };
    let star_window =
        |extra: Vec<&'a Op>| -> Vec<&'a Op> { extra.into_iter().chain(star_op).collect() };
    // Position of each append in R*, and the byte length of R* up to and including it.
    let mut position: Vec<Option<usize>> = vec![None; appends.len()];
    let mut ends = Vec::with_capacity(star_tokens.len());
    let mut end = 0;
    for (p, t) in star_tokens.iter().enumerate() {
        position[by_token[t]] = Some(p);
        end += t.len() + 1;
        ends.push(end);
    }
    // 2. every read is a prefix of R*.
    for &(i, s) in &reads {
        if !(star.starts_with(s) && (s.is_empty() || s.ends_with(APPEND_DELIMITER))) {
            return Ok(diverging(ops[i], s, star_op, star, &appends, &by_token));
        }
    }
    // 3. fail appends absent, reported lengths consistent.
    for (a, pos) in appends.iter().zip(&position) {
        if let Some(why) = append_problem(a, *pos, &ends, star.len()) {
            return Ok(violation(star_window(vec![a.op]), why));
        }
    }
    // 4. real time against rank.
    let ranked = rank(ops, &reads, &appends, &position, star_tokens.len());
    Ok(match sweep(&ranked) {
        None => AppendVerdict::Linearizable,
        Some((a, b)) => {
            let explanation = explain_pair(ops, &ranked[a], &ranked[b], &appends, &by_token);
            let pair = vec![ops[ranked[a].op], ops[ranked[b].op]];
            violation(star_window(pair), explanation)
        }
    })
}

/// The appends of a key with their tokens, and each token's append; rejects keys that do not
/// fit the model.
fn parse_appends<'a>(
    key: &str,
    ops: &[&'a Op],
) -> Result<(Vec<Append<'a>>, HashMap<&'a str, usize>), HistoryError> {
    let bad = |message: String| HistoryError::Model {
        key: key.to_string(),
        message,
    };
    let mut appends: Vec<Append<'a>> = Vec::new();
    let mut by_token: HashMap<&str, usize> = HashMap::new();
    for (index, op) in ops.iter().enumerate() {
        let arg = match &op.command {
            Command::Get => continue,
            Command::Append(arg) => arg,
            other => {
                return Err(bad(format!(
                    "#{}: {} under the append model (only get and append)",
                    op.id,
                    other.name()
                )))
            }
        };
        let token = arg
            .strip_suffix(APPEND_DELIMITER)
            .filter(|t| !t.is_empty() && !t.contains(APPEND_DELIMITER))
            .ok_or_else(|| {
                bad(format!(
                    "append #{}: argument {arg:?} is not a token followed by \
                     {APPEND_DELIMITER:?}",
                    op.id
                ))
            })?;
        if by_token.insert(token, appends.len()).is_some() {
            return Err(bad(format!("token {token:?} is appended more than once")));
        }
        appends.push(Append { op, token, index });
    }
    Ok((appends, by_token))
}

/// Check 3 for one append at `position` in R* (`ends[p]`: R*'s length through token `p`).
fn append_problem(
    a: &Append<'_>,
    position: Option<usize>,
    ends: &[usize],
    star_len: usize,
) -> Option<String> {
    let arg_len = a.token.len() + 1;
    let (op, token) = (a.op.short(), a.token);
    match (position, a.op.outcome.value()) {
        (Some(_), None) if a.op.outcome.is_fail() => Some(format!(
            "{op} failed (it definitely did not take effect), yet a read contains its token \
             {token:?}."
        )),
        (Some(p), Some(&Value::Int(n))) if n as usize != ends[p] => Some(format!(
            "{op} reported length {n}, but its token {token:?} is at position {} of the longest \
             read, where the value is {} bytes long.",
            p + 1,
            ends[p]
        )),
        (None, Some(&Value::Int(n))) if (n as usize) < star_len + arg_len => Some(format!(
            "{op} reported length {n}, but no read contains its token {token:?} and the longest \
             read is already {star_len} bytes long, so it must have been at least {}.",
            star_len + arg_len
        )),
        _ => None,
    }
}

/// Parses and validates the longest read (check 1).
fn read_sequence<'s, 'a>(
    s: &'s str,
    read: Option<&'a Op>,
    appends: &[Append<'a>],
    by_token: &HashMap<&str, usize>,
) -> Result<Vec<&'s str>, AppendVerdict<'a>> {
    let Some(read) = read else {
        return Ok(Vec::new());
    };
    let Some(seq) = tokens(s) else {
        return Err(violation(
            vec![read],
            format!(
                "{} is not a sequence of appended tokens (each ends with {APPEND_DELIMITER:?}).",
                read.short()
            ),
        ));
    };
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(seq.len());
    for (p, t) in seq.iter().enumerate() {
        let Some(&a) = by_token.get(t) else {
            return Err(violation(
                vec![read],
                format!(
                    "{} contains token {t:?} at position {}, which no operation appended.",
                    read.short(),
                    p + 1
                ),
            ));
        };
        if let Some(first) = seen.insert(t, p) {
            return Err(violation(
                vec![read, appends[a].op],
                format!(
                    "{} contains token {t:?} twice (positions {} and {}): {} took effect more than \
                 once.",
                    read.short(),
                    first + 1,
                    p + 1,
                    appends[a].op.short()
                ),
            ));
        }
    }
    Ok(seq)
}

/// Explains a read that is not a prefix of the longest read.
fn diverging<'a>(
    read: &'a Op,
    s: &str,
    star_op: Option<&'a Op>,
    star: &str,
    appends: &[Append<'a>],
    by_token: &HashMap<&str, usize>,
) -> AppendVerdict<'a> {
    // The read may be broken on its own (not a sequence, unknown or repeated token).
    if let Err(v) = read_sequence(s, Some(read), appends, by_token) {
        return v;
    }
    let mine = tokens(s).unwrap_or_default();
    let theirs = tokens(star).unwrap_or_default();
    let at = mine.iter().zip(&theirs).take_while(|(a, b)| a == b).count();
    let star_op = star_op.expect("a read exists, so the longest read does");
    violation(
        vec![read, star_op],
        format!(
            "{} and {} disagree at position {}: {} vs {}. Reads must all be prefixes of one \
             sequence.",
            read.short(),
            star_op.short(),
            at + 1,
            show(&mine),
            show(&theirs)
        ),
    )
}

/// Ranks for the sweep (check 4); unread `info` and all `fail` appends are left out.
fn rank(
    ops: &[&Op],
    reads: &[(usize, &str)],
    appends: &[Append<'_>],
    position: &[Option<usize>],
    star_len: usize,
) -> Vec<Ranked> {
    let item = |i: usize, rank: usize| Ranked {
        call: ops[i].call_ns,
        ret: ops[i].completed_ns(),
        rank,
        op: i,
    };
    let mut ranked: Vec<Ranked> = reads
        .iter()
        .map(|&(i, s)| item(i, 2 * s.matches(APPEND_DELIMITER).count()))
        .collect();
    let mut unread: Vec<usize> = Vec::new();
    for (a, pos) in appends.iter().zip(position) {
        match pos {
            _ if a.op.outcome.is_fail() => {}
            Some(p) => ranked.push(item(a.index, 2 * p + 1)),
            None if a.op.outcome.value().is_some() => unread.push(a.index),
            None => {}
        }
    }
    unread.sort_by_key(|&i| (ops[i].call_ns, ops[i].id));
    for (j, i) in unread.into_iter().enumerate() {
        ranked.push(item(i, 2 * (star_len + j) + 1));
    }
    ranked
}

/// Finds `(a, b)` with `a` returned before `b` was called and `rank(a) > rank(b)`.
fn sweep(ranked: &[Ranked]) -> Option<(usize, usize)> {
    let mut by_call: Vec<usize> = (0..ranked.len()).collect();
    by_call.sort_by_key(|&i| ranked[i].call);
    let mut by_ret: Vec<usize> = (0..ranked.len())
        .filter(|&i| ranked[i].ret.is_some())
        .collect();
    by_ret.sort_by_key(|&i| ranked[i].ret);
    let mut best: Option<usize> = None;
    let mut j = 0;
    for &b in &by_call {
        while j < by_ret.len() && ranked[by_ret[j]].ret < Some(ranked[b].call) {
            let a = by_ret[j];
            if best.is_none_or(|x| ranked[a].rank > ranked[x].rank) {
                best = Some(a);
            }
            j += 1;
        }
        if let Some(a) = best.filter(|&a| ranked[a].rank > ranked[b].rank) {
            return Some((a, b));
        }
    }
    None
}

/// Explains a real-time pair from [`sweep`]: `a` returned before `b` was called, yet `a` ranks
/// after `b`.
fn explain_pair(
    ops: &[&Op],
    a: &Ranked,
    b: &Ranked,
    appends: &[Append<'_>],
    by_token: &HashMap<&str, usize>,
) -> String {
    let (oa, ob) = (ops[a.op], ops[b.op]);
    let token = |op: &Op| {
        let t = op
            .command
            .arg()
            .unwrap_or("")
            .trim_end_matches(APPEND_DELIMITER);
        debug_assert!(by_token.get(t).is_some_and(|&i| appends[i].op.id == op.id));
        t.to_string()
    };
    let before = format!("{} returned before {} was called", oa.short(), ob.short());
    match (oa.command.is_read(), ob.command.is_read()) {
        (false, true) => format!(
            "{before}, but the read does not contain the acknowledged token {:?}: an \
             acknowledged append is missing.",
            token(oa)
        ),
        (true, true) => format!(
            "{before}, but the later read saw {} tokens and the earlier {}: reads went backwards \
             (stale read).",
            b.rank / 2,
            a.rank / 2
        ),
        (true, false) => format!(
            "{before}, but the read already contains its token {:?}: a read saw an append before \
             it was sent.",
            token(ob)
        ),
        (false, false) => format!(
            "{before}, but the reads put token {:?} before {:?} (or contain the first and not the \
             second): appends took effect out of real-time order.",
            token(ob),
            token(oa)
        ),
    }
}
