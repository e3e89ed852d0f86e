//! Redis glob patterns for KEYS and SCAN MATCH.
//!
//! The syntax is Redis's `stringmatchlen` with case-sensitive matching, byte by byte:
//!
//! - `*` matches any run of bytes (also none); `?` matches exactly one byte;
//! - `[abc]` one byte of the set, `[^abc]` one byte not in it, `[a-z]` a range (its ends may be
//!   written in either order), `\x` inside a class the byte `x`; `[]` matches nothing; a class
//!   missing its `]` runs to the end of the pattern;
//! - `\x` outside a class is the byte `x`; a trailing lone `\` is a literal backslash;
//! - anything else matches itself.
//!
//! A pattern is compiled once into tokens, each of which (except `*`) consumes exactly one byte.
//! Matching then uses the classic single-backtrack-point algorithm: on a mismatch it resumes
//! after the most recent `*`, one byte further along. That is correct for this token set and runs
//! in O(pattern × key) time, unlike the recursive matcher that made Redis's KEYS exponential on
//! patterns such as `a*a*a*a*b` (CVE-2022-36021). Ranges compare bytes as unsigned.

/// One compiled pattern element.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    /// `*`: any run of bytes.
    Star,
    /// `?`: any one byte.
    Any,
    /// One literal byte.
    Byte(u8),
    /// `[...]`: one byte that is (or with `negated`, is not) in one of the inclusive ranges.
    Class {
        /// True for `[^...]`.
        negated: bool,
        /// Inclusive byte ranges; a single byte `x` is `(x, x)`.
        ranges: Vec<(u8, u8)>,
    },
}

impl Token {
    /// True if this single-byte token accepts `b` (never called on `Star`).
    fn accepts(&self, b: u8) -> bool {
        match self {
            Token::Star | Token::Any => true,
            Token::Byte(x) => *x == b,
            Token::Class { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| lo <= b && b <= hi) != *negated
            }
        }
    }
}

/// A compiled glob pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pattern {
    /// The tokens, with runs of `*` collapsed to one.
    tokens: Vec<Token>,
    /// True if the pattern is just `*`, so matching can be skipped.
    match_all: bool,
}

impl Pattern {
    /// Compiles `pattern`. Every byte string is a valid pattern.
    pub(crate) fn new(pattern: &[u8]) -> Pattern {
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < pattern.len() {
            let token = match pattern[i] {
                b'*' => {
                    i += 1;
                    if tokens.last() == Some(&Token::Star) {
                        continue;
                    }
                    Token::Star
                }
                b'?' => {
                    i += 1;
                    Token::Any
                }
                b'\\' if i + 1 < pattern.len() => {
                    i += 2;
                    Token::Byte(pattern[i - 1])
                }
                b'[' => {
                    let (token, next) = parse_class(pattern, i + 1);
                    i = next;
                    token
                }
                b => {
                    i += 1;
                    Token::Byte(b)
                }
            };
            tokens.push(token);
        }
        let match_all = tokens == [Token::Star];
        Pattern { tokens, match_all }
    }

    /// True if `key` matches the whole pattern.
    pub(crate) fn matches(&self, key: &[u8]) -> bool {
        if self.match_all {
            return true;
        }
        let tokens = &self.tokens;
        let (mut t, mut k) = (0, 0);
        // Where to resume after the last `*`: (token after it, key position it now covers to).
        let mut resume: Option<(usize, usize)> = None;
        while k < key.len() {
            match tokens.get(t) {
                Some(Token::Star) => {
                    resume = Some((t + 1, k));
                    t += 1;
                }
                Some(token) if token.accepts(key[k]) => {
                    t += 1;
                    k += 1;
                }
                _ => match resume {
                    Some((after_star, covered)) => {
                        t = after_star;
                        k = covered + 1;
                        resume = Some((after_star, covered + 1));
                    }
                    None => return false,
                },
            }
        }
        tokens[t..].iter().all(|token| *token == Token::Star)
    }
}

/// Parses a class whose body starts at `start` (just after `[`); returns the token and the index
/// just after the closing `]` (or the pattern's end when it is missing).
fn parse_class(pattern: &[u8], start: usize) -> (Token, usize) {
    let mut i = start;
    let negated = pattern.get(i) == Some(&b'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    while i < pattern.len() {
        match pattern[i] {
            b'\\' if i + 1 < pattern.len() => {
                ranges.push((pattern[i + 1], pattern[i + 1]));
                i += 2;
            }
            b']' => return (Token::Class { negated, ranges }, i + 1),
            lo if i + 2 < pattern.len() && pattern[i + 1] == b'-' => {
                let hi = pattern[i + 2];
                ranges.push((lo.min(hi), lo.max(hi)));
                i += 3;
            }
            b => {
                ranges.push((b, b));
                i += 1;
            }
        }
    }
    (Token::Class { negated, ranges }, i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, key: &str) -> bool {
        Pattern::new(pattern.as_bytes()).matches(key.as_bytes())
    }

    #[test]
    fn basics() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h*llo", "hllo"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("a\\", "a\\"));
        assert!(m("[\\]]", "]"));
    }

    #[test]
    fn class_edge_cases() {
        // An empty class matches nothing; a lone `[` at the end is an empty class.
        assert!(!m("[]", "a"));
        assert!(!m("a[", "a"));
        assert!(!m("a[", "ab"));
        // `[^` at the end is a negated empty class: any one byte.
        assert!(m("a[^", "ab"));
        // An unterminated class runs to the end.
        assert!(m("[ab", "b"));
        // `]` can end a range: `[a-]x` is the range `]`..=`a` plus `x`, unterminated.
        assert!(m("[a-]x", "_"));
        assert!(m("[a-]x", "x"));
        assert!(!m("[a-]x", "_x"));
    }

    #[test]
    fn backtracking_is_not_exponential() {
        let key = "a".repeat(5000);
        let pattern = "a*".repeat(50) + "b";
        assert!(!m(&pattern, &key));
    }

    #[test]
    fn star_backtracks_correctly() {
        assert!(m("*a*b", "xxaxxb"));
        assert!(m("a*b*c", "abbbc"));
        assert!(!m("a*b*c", "abbb"));
        assert!(m("*?", "x"));
        assert!(!m("*?", ""));
        assert!(m("**x", "x"));
    }
}
