//! Conversions between Lua values and replies, as Redis 7 does them.
//!
//! Two directions, each depending on the protocol the script chose with `redis.setresp`
//! (2 by default):
//!
//! - **Reply → Lua** (what `redis.call` returns): integers become numbers, bulk strings
//!   strings, a status `{ok = text}`, an error `{err = text}`, arrays tables. A null is `false`
//!   under RESP2 and `nil` under RESP3; under RESP3 maps are `{map = {k = v}}`, sets
//!   `{set = {member = true}}`, doubles `{double = n}` and booleans Lua booleans, while under
//!   RESP2 they arrive as the RESP2 client would see them (flat arrays, strings, 1 and 0).
//! - **Lua → reply** (what the script returns): numbers are truncated to integers (a number
//!   outside the 64-bit range becomes the smallest integer, as Redis's C cast does on x86),
//!   strings are bulk strings, `true` is 1 and `false` nil (under RESP3 both are booleans), a
//!   table with a string `err` field is an error, with `ok` a status, with `double`, `map` or
//!   `set` the RESP3 type, and any other table an array of its elements `1, 2, ...` up to the
//!   first nil. Functions and other values are nil.
//!
//! Nesting is bounded by [`MAX_REPLY_DEPTH`] and size by [`MAX_REPLY_ELEMENTS`], so a table
//! that contains itself is an error, not a stack overflow.

use crate::limits::MAX_REPLY_ELEMENTS;
use bytes::Bytes;
use mlua::{Lua, Table, Value};
use resp::Reply;

/// Deepest nesting of tables a script may return (Redis stops at Lua's stack limit).
pub(crate) const MAX_REPLY_DEPTH: usize = 128;

/// Error text for a returned table nested deeper than [`MAX_REPLY_DEPTH`].
const TOO_DEEP: &str = "ERR reached lua stack limit";

/// Error text for a returned reply with more than [`MAX_REPLY_ELEMENTS`] elements.
const TOO_LARGE: &str = "ERR script reply exceeds the element limit";

/// Converts a command's reply into the Lua value `redis.call` returns, for protocol `resp`
/// (2 or 3). Errors become `{err = text}` (the caller decides whether to raise it).
pub(crate) fn reply_to_lua(lua: &Lua, reply: &Reply, resp: u8) -> mlua::Result<Value> {
    let resp3 = resp == 3;
    Ok(match reply {
        Reply::Simple(text) => single(
            lua,
            "ok",
            Value::String(lua.create_string(text.as_bytes())?),
        )?,
        Reply::Error(text) => single(lua, "err", Value::String(lua.create_string(text)?))?,
        Reply::Integer(n) => Value::Number(*n as f64),
        Reply::Bulk(bytes) => Value::String(lua.create_string(bytes)?),
        Reply::Verbatim(text) => Value::String(lua.create_string(text)?),
        Reply::Null | Reply::NullArray if resp3 => Value::Nil,
        Reply::Null | Reply::NullArray => Value::Boolean(false),
        Reply::Array(items) => array(lua, items, resp)?,
        Reply::Set(items) if resp3 => {
            let set = lua.create_table()?;
            for item in items {
                set.raw_set(reply_to_lua(lua, item, resp)?, true)?;
            }
            single(lua, "set", Value::Table(set))?
        }
        Reply::Set(items) => array(lua, items, resp)?,
        Reply::Map(pairs) | Reply::Keyed(pairs) if resp3 => {
            let map = lua.create_table()?;
            for (key, value) in pairs {
                map.raw_set(
                    reply_to_lua(lua, key, resp)?,
                    reply_to_lua(lua, value, resp)?,
                )?;
            }
            single(lua, "map", Value::Table(map))?
        }
        Reply::Keyed(pairs) => nested_pairs(lua, pairs, resp)?,
        Reply::Pairs(pairs) if resp3 => nested_pairs(lua, pairs, resp)?,
        Reply::Map(pairs) | Reply::Pairs(pairs) => {
            let flat = lua.create_table()?;
            for (i, (key, value)) in pairs.iter().enumerate() {
                flat.raw_set(2 * i + 1, reply_to_lua(lua, key, resp)?)?;
                flat.raw_set(2 * i + 2, reply_to_lua(lua, value, resp)?)?;
            }
            Value::Table(flat)
        }
        Reply::Double(d) | Reply::Score(d) if resp3 => single(lua, "double", Value::Number(*d))?,
        Reply::Score(d) => Value::String(lua.create_string(resp::format_score(*d))?),
        Reply::Double(d) => Value::String(lua.create_string(resp::format_double(*d))?),
        Reply::Boolean(b) if resp3 => Value::Boolean(*b),
        Reply::Boolean(b) => Value::Number(f64::from(u8::from(*b))),
    })
}

/// A table `{name = value}`.
fn single(lua: &Lua, name: &str, value: Value) -> mlua::Result<Value> {
    let table = lua.create_table()?;
    table.raw_set(name, value)?;
    Ok(Value::Table(table))
}

/// A Lua array of two-element arrays, one per pair (RESP2's `Keyed`, RESP3's `Pairs`).
fn nested_pairs(lua: &Lua, pairs: &[(Reply, Reply)], resp: u8) -> mlua::Result<Value> {
    let table = lua.create_table_with_capacity(pairs.len(), 0)?;
    for (i, (first, second)) in pairs.iter().enumerate() {
        let pair = lua.create_table_with_capacity(2, 0)?;
        pair.raw_set(1, reply_to_lua(lua, first, resp)?)?;
        pair.raw_set(2, reply_to_lua(lua, second, resp)?)?;
        table.raw_set(i + 1, pair)?;
    }
    Ok(Value::Table(table))
}

/// A Lua array of converted replies.
fn array(lua: &Lua, items: &[Reply], resp: u8) -> mlua::Result<Value> {
    let table = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        table.raw_set(i + 1, reply_to_lua(lua, item, resp)?)?;
    }
    Ok(Value::Table(table))
}

/// Converts what a script returned into its reply, for protocol `resp` (2 or 3).
pub(crate) fn lua_to_reply(value: &Value, resp: u8) -> Reply {
    let mut budget = MAX_REPLY_ELEMENTS;
    match convert(value, resp, 0, &mut budget) {
        Ok(reply) => reply,
        Err(text) => Reply::error(text),
    }
}

/// A Lua number as Redis turns it into an integer: truncated toward zero; NaN and numbers out
/// of the 64-bit range give `i64::MIN`, as the C cast does on x86.
pub(crate) fn number_to_integer(n: f64) -> i64 {
    let two_to_63 = -(i64::MIN as f64);
    if n.is_finite() && n >= -two_to_63 && n < two_to_63 {
        n as i64
    } else {
        i64::MIN
    }
}

/// One conversion step; `budget` counts the elements still allowed.
fn convert(
    value: &Value,
    resp: u8,
    depth: usize,
    budget: &mut usize,
) -> Result<Reply, &'static str> {
    if depth > MAX_REPLY_DEPTH {
        return Err(TOO_DEEP);
    }
    *budget = budget.checked_sub(1).ok_or(TOO_LARGE)?;
    Ok(match value {
        Value::Nil => Reply::Null,
        Value::Boolean(b) if resp == 3 => Reply::Boolean(*b),
        Value::Boolean(true) => Reply::Integer(1),
        Value::Boolean(false) => Reply::Null,
        Value::Integer(n) => Reply::Integer(*n),
        Value::Number(n) => Reply::Integer(number_to_integer(*n)),
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Table(table) => table_to_reply(table, resp, depth, budget)?,
        _ => Reply::Null,
    })
}

/// A returned table: an error, a status, a RESP3 type, or an array.
fn table_to_reply(
    table: &Table,
    resp: u8,
    depth: usize,
    budget: &mut usize,
) -> Result<Reply, &'static str> {
    if let Ok(Value::String(err)) = table.raw_get::<Value>("err") {
        let text = String::from_utf8_lossy(&err.as_bytes()).replace(['\r', '\n'], " ");
        return Ok(Reply::Error(text));
    }
    if let Ok(Value::String(ok)) = table.raw_get::<Value>("ok") {
        let text = String::from_utf8_lossy(&ok.as_bytes()).replace(['\r', '\n'], " ");
        return Ok(Reply::Simple(text.into()));
    }
    match table.raw_get::<Value>("double") {
        Ok(Value::Number(d)) => return Ok(Reply::Double(d)),
        Ok(Value::Integer(d)) => return Ok(Reply::Double(d as f64)),
        _ => {}
    }
    if let Ok(Value::Table(map)) = table.raw_get::<Value>("map") {
        let mut pairs = Vec::new();
        for pair in map.pairs::<Value, Value>() {
            let (key, value) = pair.map_err(|_| TOO_DEEP)?;
            let key = convert(&key, resp, depth + 1, budget)?;
            pairs.push((key, convert(&value, resp, depth + 1, budget)?));
        }
        return Ok(Reply::Map(pairs));
    }
    if let Ok(Value::Table(set)) = table.raw_get::<Value>("set") {
        let mut members = Vec::new();
        for pair in set.pairs::<Value, Value>() {
            let (member, _) = pair.map_err(|_| TOO_DEEP)?;
            members.push(convert(&member, resp, depth + 1, budget)?);
        }
        return Ok(Reply::Set(members));
    }
    let mut items = Vec::new();
    for i in 1.. {
        match table.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(value) => items.push(convert(&value, resp, depth + 1, budget)?),
        }
    }
    Ok(Reply::Array(items))
}

/// A Lua number as an argument of `redis.call`: Redis formats it with `%.17g`.
pub(crate) fn number_argument(n: f64) -> String {
    format_g(n, 17)
}

/// `n` as C's `printf("%.<precision>g")` writes it: `precision` significant digits,
/// scientific notation below 1e-4 or from 10^precision, trailing zeros cut.
pub(crate) fn format_g(n: f64, precision: usize) -> String {
    if n == 0.0 {
        return if n.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    if !n.is_finite() {
        return if n.is_nan() {
            "nan"
        } else if n > 0.0 {
            "inf"
        } else {
            "-inf"
        }
        .to_string();
    }
    let sci = format!("{:.*e}", precision - 1, n);
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if exponent < -4 || exponent >= precision as i32 {
        let mantissa = trim_zeros(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    let decimals = (precision as i32 - 1 - exponent).max(0) as usize;
    trim_zeros(&format!("{n:.decimals$}")).to_string()
}

/// `1.500` → `1.5`, `2.000` → `2`.
fn trim_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

/// A Lua error raised by a library written in Rust (`cjson`): its text starts with the
/// caller's position, as `luaL_error`'s does, and gets the `ERR ` prefix at the top level.
#[derive(Debug)]
pub(crate) struct LibraryError(pub(crate) String);

impl std::fmt::Display for LibraryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LibraryError {}

/// The Lua error for a library failure with `text`, prefixed by the calling Lua function's
/// position (`user_script:1: `).
pub(crate) fn lua_error(lua: &Lua, text: &str) -> mlua::Error {
    let position = lua.inspect_stack(1, |debug| {
        let source = debug.source().short_src.map(|s| s.into_owned());
        (source, debug.current_line())
    });
    let text = match position {
        Some((Some(source), Some(line))) => format!("{source}:{line}: {text}"),
        _ => text.to_string(),
    };
    mlua::Error::external(LibraryError(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_arguments_match_percent_17g() {
        assert_eq!(number_argument(3.0), "3");
        assert_eq!(number_argument(-12.0), "-12");
        assert_eq!(number_argument(3.7), "3.7000000000000002");
        assert_eq!(number_argument(0.5), "0.5");
        assert_eq!(number_argument(1e20), "1e+20");
        assert_eq!(number_argument(1.5e-7), "1.4999999999999999e-07");
        assert_eq!(format_g(0.1, 14), "0.1");
        assert_eq!(format_g(1e20, 14), "1e+20");
        assert_eq!(format_g(-0.0, 14), "-0");
        assert_eq!(format_g(123456.789, 14), "123456.789");
        assert_eq!(format_g(1e14, 14), "1e+14");
        assert_eq!(format_g(99999999999999.0, 14), "99999999999999");
    }

    #[test]
    fn numbers_truncate_like_redis() {
        assert_eq!(number_to_integer(3.99), 3);
        assert_eq!(number_to_integer(-3.99), -3);
        assert_eq!(number_to_integer(1e20), i64::MIN);
        assert_eq!(number_to_integer(f64::NAN), i64::MIN);
    }
}
