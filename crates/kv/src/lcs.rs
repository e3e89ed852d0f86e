//! LCS: the longest common subsequence of two strings, as in Redis 7.0 (`lcsCommand`):
//! `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`.
//!
//! The classic dynamic program needs a table of `(len1 + 1) × (len2 + 1)` cells; it is refused
//! above [`MAX_LCS_CELLS`] (two strings of about 4 KiB each) so that one command cannot make
//! every replica allocate gigabytes. Redis's own ceiling is its 512 MiB bulk length. A missing
//! key is an empty string; a key of another type is `ERR The specified keys must contain
//! string values`, as in Redis (not WRONGTYPE). With IDX the reply is a map (`matches`, `len`),
//! a flat array in RESP2.

use crate::aggregate::{bulk, int, is};
use crate::keyspace::Keyspace;
use crate::limits::MAX_LCS_CELLS;
use crate::Error;
use bytes::Bytes;
use resp::Reply;

/// The options of LCS.
#[derive(Default)]
struct Options {
    /// LEN: only the length.
    len: bool,
    /// IDX: the matching ranges.
    idx: bool,
    /// WITHMATCHLEN: each range with its length.
    with_match_len: bool,
    /// MINMATCHLEN: ranges shorter than this are left out.
    min_match_len: u64,
}

/// A string argument of LCS: empty if absent, an error if another type.
fn string(ks: &Keyspace, now: u64, key: &Bytes) -> Result<Bytes, Error> {
    match ks.live(key, now) {
        None => Ok(Bytes::new()),
        Some(record) => record.string_bytes().ok_or(Error::LcsNotStrings),
    }
}

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`.
pub(crate) fn lcs(ks: &Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let a = string(ks, now, &args[0])?;
    let b = string(ks, now, &args[1])?;
    let mut opts = Options::default();
    let mut i = 2;
    while let Some(opt) = args.get(i) {
        if is(opt, "idx") {
            opts.idx = true;
        } else if is(opt, "len") {
            opts.len = true;
        } else if is(opt, "withmatchlen") {
            opts.with_match_len = true;
        } else if is(opt, "minmatchlen") && i + 1 < args.len() {
            opts.min_match_len = u64::try_from(int(&args[i + 1])?).unwrap_or(0);
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    if opts.idx && opts.len {
        return Err(Error::LcsLenAndIdx);
    }
    let cells = (a.len() as u64 + 1).saturating_mul(b.len() as u64 + 1);
    if cells > MAX_LCS_CELLS {
        return Err(Error::LcsTooLarge);
    }
    Ok(compute(&a, &b, &opts))
}

/// The dynamic program and the walk back through it that Redis does, with its reply shapes.
fn compute(a: &[u8], b: &[u8], opts: &Options) -> Reply {
    let width = b.len() + 1;
    let mut table = vec![0u32; (a.len() + 1) * width];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            table[i * width + j] = if a[i - 1] == b[j - 1] {
                table[(i - 1) * width + j - 1] + 1
            } else {
                table[(i - 1) * width + j].max(table[i * width + j - 1])
            };
        }
    }
    let at = |i: usize, j: usize| table[i * width + j];
    let total = at(a.len(), b.len());
    if opts.len && !opts.idx {
        return Reply::Integer(i64::from(total));
    }
    let mut common = vec![0u8; total as usize];
    let mut matches = Vec::new();
    // The current range, walking backwards: (a_start, a_end, b_start, b_end).
    let mut range: Option<(usize, usize, usize, usize)> = None;
    let (mut i, mut j, mut k) = (a.len(), b.len(), total as usize);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            common[k - 1] = a[i - 1];
            range = Some(match range {
                None => (i - 1, i - 1, j - 1, j - 1),
                Some((_, a_end, _, b_end)) => (i - 1, a_end, j - 1, b_end),
            });
            if i == 1 || j == 1 {
                emit = true;
            }
            k -= 1;
            i -= 1;
            j -= 1;
        } else {
            if at(i - 1, j) > at(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = range.is_some();
        }
        if let (true, Some((a_start, a_end, b_start, b_end))) = (emit, range) {
            let len = (a_end - a_start + 1) as u64;
            if len >= opts.min_match_len {
                let pair = |x: usize, y: usize| {
                    Reply::Array(vec![Reply::Integer(x as i64), Reply::Integer(y as i64)])
                };
                let mut item = vec![pair(a_start, a_end), pair(b_start, b_end)];
                if opts.with_match_len {
                    item.push(Reply::Integer(len as i64));
                }
                matches.push(Reply::Array(item));
            }
            range = None;
        }
    }
    if opts.idx {
        Reply::Map(vec![
            (bulk(&Bytes::from("matches")), Reply::Array(matches)),
            (bulk(&Bytes::from("len")), Reply::Integer(i64::from(total))),
        ])
    } else {
        Reply::Bulk(Bytes::from(common))
    }
}
