//! Inline requests: one text line split into words.
//!
//! Inline commands are what a person types into `telnet` or `nc`, and what `redis-benchmark`
//! sends for `PING_INLINE`: a line ending in `\n` (a `\r` before it is dropped), split the way
//! Redis's `sdssplitargs` splits it. Words are separated by spaces, tabs, `\r` or `\n` (runs of
//! any C whitespace between words are skipped); a word may contain `"double quoted"` parts with
//! the escapes `\n \r \t \b \a \xHH`, and `\` before any other character gives that character;
//! or `'single quoted'` parts where only `\'` is an escape. A closing quote must be followed by
//! whitespace or the end of the line, and an unclosed quote is an error ("unbalanced quotes").
//! Quotes may start in the middle of a word (`a"b c"` is the one word `ab c`). As in Redis, the
//! line is a C string: a NUL byte ends it.
//!
//! A line longer than [`Limits::max_inline_bytes`](crate::Limits) is refused as soon as that is
//! known, whether or not its end has arrived, so the verdict does not depend on read sizes.
//!
//! Words that are plain runs of the line (no escapes, no quote pairs inside) are zero-copy
//! slices of the buffer; the others are built in a fresh allocation.

use std::ops::Range;

use bytes::{Bytes, BytesMut};

use crate::{Limits, ProtocolError};

/// Decodes the inline request at the front of `buf` (see the module docs).
pub(crate) fn decode_inline(
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let max = limits.max_inline_bytes;
    let window = &buf[..buf.len().min(max.saturating_add(1))];
    let Some(newline) = window.iter().position(|&b| b == b'\n') else {
        return if buf.len() > max {
            Err(ProtocolError::TooBigInlineRequest)
        } else {
            Ok(None)
        };
    };
    let mut line = &buf[..newline];
    if let Some(stripped) = line.strip_suffix(b"\r") {
        line = stripped;
    }
    if let Some(nul) = line.iter().position(|&b| b == 0) {
        line = &line[..nul];
    }
    let words = split_args(line)?;
    let line = buf.split_to(newline + 1).freeze();
    Ok(Some(
        words
            .into_iter()
            .map(|word| word.into_bytes(&line))
            .collect(),
    ))
}

/// One word of an inline line.
#[derive(Debug, PartialEq)]
enum Word {
    /// A run of the line's bytes, taken as they are.
    Slice(Range<usize>),
    /// Bytes assembled from escapes or from pieces around quotes.
    Owned(Vec<u8>),
}

impl Word {
    /// The word's bytes, slicing `line` when possible.
    fn into_bytes(self, line: &Bytes) -> Bytes {
        match self {
            Word::Slice(range) => line.slice(range),
            Word::Owned(bytes) => Bytes::from(bytes),
        }
    }
}

/// Accumulates one word, staying a slice of the line while the appended bytes are contiguous.
struct WordBuilder<'l> {
    /// The line being split.
    line: &'l [u8],
    /// The slice gathered so far, while no copy has been needed.
    range: Range<usize>,
    /// The copied bytes, once the word stopped being one contiguous run.
    owned: Option<Vec<u8>>,
}

impl<'l> WordBuilder<'l> {
    fn new(line: &'l [u8]) -> Self {
        WordBuilder {
            line,
            range: 0..0,
            owned: None,
        }
    }

    /// Appends the line's byte at index `i`.
    fn push_at(&mut self, i: usize) {
        if self.owned.is_none() {
            if self.range.is_empty() {
                self.range = i..i + 1;
                return;
            }
            if self.range.end == i {
                self.range.end += 1;
                return;
            }
        }
        self.push_byte(self.line[i]);
    }

    /// Appends a byte that is not a plain copy of the line at the current position.
    fn push_byte(&mut self, byte: u8) {
        let (line, range) = (self.line, self.range.clone());
        self.owned
            .get_or_insert_with(|| line[range].to_vec())
            .push(byte);
    }

    fn finish(self) -> Word {
        match self.owned {
            Some(bytes) => Word::Owned(bytes),
            None => Word::Slice(self.range),
        }
    }
}

/// C's `isspace` in the C locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The value of an ASCII hex digit, `None` for any other byte.
fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Splits a line into words exactly like Redis's `sdssplitargs` (the line holds no NUL).
fn split_args(line: &[u8]) -> Result<Vec<Word>, ProtocolError> {
    // Reading past the end gives 0, like the NUL that terminates a C string.
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    // A closing quote must be followed by whitespace or the end of the line.
    let closes_cleanly = |i: usize| at(i + 1) == 0 || is_space(at(i + 1));
    let mut words = Vec::new();
    let mut p = 0;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Ok(words);
        }
        let mut word = WordBuilder::new(line);
        let (mut in_double, mut in_single, mut done) = (false, false, false);
        while !done {
            let c = at(p);
            if in_double {
                let hex = (hex_value(at(p + 2)), hex_value(at(p + 3)));
                if let (b'\\', b'x', (Some(high), Some(low))) = (c, at(p + 1), hex) {
                    word.push_byte(high * 16 + low);
                    p += 3;
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    word.push_byte(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if !closes_cleanly(p) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    done = true;
                } else if c == 0 {
                    return Err(ProtocolError::UnbalancedQuotes);
                } else {
                    word.push_at(p);
                }
            } else if in_single {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    word.push_byte(b'\'');
                } else if c == b'\'' {
                    if !closes_cleanly(p) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    done = true;
                } else if c == 0 {
                    return Err(ProtocolError::UnbalancedQuotes);
                } else {
                    word.push_at(p);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    _ => word.push_at(p),
                }
            }
            if p < line.len() {
                p += 1;
            }
        }
        words.push(word.finish());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Result<Vec<Word>, ProtocolError> {
        split_args(line.as_bytes())
    }

    #[test]
    fn plain_and_quoted_words_are_slices() {
        assert_eq!(
            split(r#"  SET "k 1" 'v'  x"#).unwrap(),
            vec![
                Word::Slice(2..5),
                Word::Slice(7..10),
                Word::Slice(13..14),
                Word::Slice(17..18)
            ]
        );
        assert_eq!(split(r#""""#).unwrap(), vec![Word::Slice(0..0)]);
    }

    #[test]
    fn escapes_and_joined_quotes_are_owned() {
        assert_eq!(
            split(r#""a\x41\n""#).unwrap(),
            vec![Word::Owned(b"aA\n".to_vec())]
        );
        assert_eq!(
            split(r#"a"b c""#).unwrap(),
            vec![Word::Owned(b"ab c".to_vec())]
        );
        assert_eq!(
            split(r"'it\'s'").unwrap(),
            vec![Word::Owned(b"it's".to_vec())]
        );
    }

    #[test]
    fn unbalanced() {
        for line in [r#""abc"#, r#""abc"d"#, "'abc", "'abc'd", r#""abc\"#] {
            assert_eq!(split(line), Err(ProtocolError::UnbalancedQuotes), "{line}");
        }
    }
}
