//! A cursor over one request's arguments.
//!
//! Command parsers walk a request left to right: the name, then positional arguments, then
//! options such as `EX 10` or `NX`. [`Args`] is that walk: it borrows the decoded arguments,
//! hands them out one at a time and never copies them. Every accessor returns `Option`, so a
//! parser turns a missing or malformed argument into its own error (`wrong number of
//! arguments`, `value is not an integer or out of range`, `syntax error`) in one place.
//!
//! The typed accessors (`next_i64`, `next_f64`, ...) consume the argument even when it does not
//! parse; check [`Args::remaining`] first when "missing" and "malformed" need different errors.

use bytes::Bytes;

use crate::number::{parse_f64, parse_i64, parse_u64};

/// A forward-only cursor over a request's arguments; also an [`Iterator`] over them.
#[derive(Clone, Debug)]
pub struct Args<'a> {
    /// The arguments not yet consumed.
    rest: &'a [Bytes],
}

impl<'a> Args<'a> {
    /// A cursor at the first of `args`.
    pub fn new(args: &'a [Bytes]) -> Args<'a> {
        Args { rest: args }
    }

    /// The next argument without consuming it.
    pub fn peek(&self) -> Option<&'a Bytes> {
        self.rest.first()
    }

    /// How many arguments are left.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// True when every argument has been consumed.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Consumes and returns all remaining arguments.
    pub fn rest(&mut self) -> &'a [Bytes] {
        std::mem::take(&mut self.rest)
    }

    /// Consumes the next argument and returns a cheap clone of it (a reference-counted slice,
    /// suitable for storing as a key or value).
    pub fn next_bytes(&mut self) -> Option<Bytes> {
        self.next().cloned()
    }

    /// Consumes the next argument and returns it as UTF-8 text, `None` if missing or not UTF-8.
    pub fn next_str(&mut self) -> Option<&'a str> {
        self.next().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// Consumes the next argument as a strict signed integer (see [`parse_i64`]).
    pub fn next_i64(&mut self) -> Option<i64> {
        self.next().and_then(|b| parse_i64(b))
    }

    /// Consumes the next argument as a strict unsigned integer (see [`parse_u64`]).
    pub fn next_u64(&mut self) -> Option<u64> {
        self.next().and_then(|b| parse_u64(b))
    }

    /// Consumes the next argument as a strict float (see [`parse_f64`]).
    pub fn next_f64(&mut self) -> Option<f64> {
        self.next().and_then(|b| parse_f64(b))
    }

    /// True if the next argument equals `word` ignoring ASCII case; does not consume it.
    pub fn peek_is(&self, word: &str) -> bool {
        self.peek()
            .is_some_and(|b| b.eq_ignore_ascii_case(word.as_bytes()))
    }

    /// Consumes the next argument if it equals `word` ignoring ASCII case, and says whether it
    /// did. For optional flags: `if args.next_if_word("NX") { ... }`.
    pub fn next_if_word(&mut self, word: &str) -> bool {
        let matched = self.peek_is(word);
        if matched {
            self.next();
        }
        matched
    }
}

impl<'a> Iterator for Args<'a> {
    type Item = &'a Bytes;

    /// Consumes and returns the next argument.
    fn next(&mut self) -> Option<&'a Bytes> {
        let (first, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(first)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.rest.len(), Some(self.rest.len()))
    }
}

impl ExactSizeIterator for Args<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&'static str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::from_static(w.as_bytes()))
            .collect()
    }

    #[test]
    fn walk() {
        let v = args(&["SET", "k", "v", "ex", "10", "NX", "x", "1.5"]);
        let mut a = Args::new(&v);
        assert_eq!(a.remaining(), 8);
        assert_eq!(a.peek().map(|b| &b[..]), Some(&b"SET"[..]));
        assert_eq!(a.next_str(), Some("SET"));
        assert_eq!(a.next_bytes(), Some(Bytes::from_static(b"k")));
        assert_eq!(a.next().map(|b| &b[..]), Some(&b"v"[..]));
        assert!(!a.next_if_word("PX"));
        assert!(a.peek_is("EX"));
        assert!(a.next_if_word("EX"));
        assert_eq!(a.next_u64(), Some(10));
        assert!(a.next_if_word("nx"));
        assert_eq!(a.next_i64(), None); // "x" consumed even though it is not a number
        assert_eq!(a.len(), 1);
        assert_eq!(a.next_f64(), Some(1.5));
        assert!(a.is_empty());
        assert_eq!(a.next(), None);
        assert_eq!(a.next_i64(), None);
    }

    #[test]
    fn rest() {
        let v = args(&["MSET", "a", "1", "b", "2"]);
        let mut a = Args::new(&v);
        a.next();
        assert_eq!(a.rest().len(), 4);
        assert_eq!(a.remaining(), 0);
    }
}
