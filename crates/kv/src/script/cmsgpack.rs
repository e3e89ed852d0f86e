//! The `cmsgpack` library Redis ships (lua-cmsgpack 0.4.0 as Redis 7 has it): `pack`,
//! `unpack`, `unpack_one` and `unpack_limit`, written in Rust.
//!
//! Encoding follows Redis's copy byte for byte (checked against redis-server 7.0.15):
//!
//! - `nil` is `0xc0`, booleans `0xc3`/`0xc2`; functions and other values without an encoding
//!   are `nil` too.
//! - A number equal to a 64-bit integer (`-0.0` included) takes the smallest integer encoding
//!   (positive and negative fixints, `0xcc`..`0xcf` for non-negative values, `0xd0`..`0xd3`
//!   for negative ones); any other number is a `float 32` (`0xca`) if a 32-bit float holds it
//!   exactly (infinities included), else a `float 64` (`0xcb`; NaN).
//! - Strings are `fixstr`, `str 8` (`0xd9`), `str 16` or `str 32`.
//! - A table whose keys are exactly `1..n` is an array (`fixarray`, `0xdc`, `0xdd`), any other
//!   table a map (`fixmap`, `0xde`, `0xdf`) in Lua's iteration order (the same on every replica
//!   running the same build); an empty table is an empty array. Tables nested deeper than
//!   [`MAX_PACK_NESTING`] are encoded as `nil`, as Redis does.
//!
//! Decoding accepts what Redis's accepts (no `bin` or `ext` types: they are
//! `Bad data format in input.`); every integer becomes a Lua number. Unlike Redis, decoding
//! stops nesting at [`MAX_UNPACK_NESTING`] (Redis recurses on the C stack without a limit), so
//! no input can exhaust the node's stack. Errors are raised with the caller's position, with
//! lua-cmsgpack's texts.

use super::convert::lua_error;
use mlua::{Lua, MultiValue, Table, Value, Variadic};

/// Tables nested deeper than this are packed as `nil` (lua-cmsgpack's
/// `LUACMSGPACK_MAX_NESTING`).
pub const MAX_PACK_NESTING: usize = 16;

/// Deepest nesting of arrays and maps `unpack` decodes; deeper is an error.
pub const MAX_UNPACK_NESTING: usize = 1000;

/// The error for truncated input.
const MISSING_BYTES: &str = "Missing bytes in input.";
/// The error for an unknown type byte.
const BAD_FORMAT: &str = "Bad data format in input.";

/// The `cmsgpack` table.
pub(crate) fn library(lua: &Lua) -> mlua::Result<Table> {
    let cmsgpack = lua.create_table()?;
    cmsgpack.raw_set(
        "pack",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.is_empty() {
                return Err(lua_error(
                    lua,
                    "bad argument #0 to 'pack' (MessagePack pack needs input.)",
                ));
            }
            let mut out = Vec::new();
            for arg in args.iter() {
                encode(arg, 0, &mut out).map_err(|e| {
                    if out.len() > super::MAX_ENCODED_BYTES {
                        lua_error(lua, super::ENCODED_TOO_LARGE)
                    } else {
                        e
                    }
                })?;
            }
            lua.create_string(&out)
        })?,
    )?;
    cmsgpack.raw_set(
        "unpack",
        lua.create_function(|lua, args: Variadic<Value>| {
            let data = string_arg(lua, &args, "unpack")?;
            unpack(lua, &data, 0, 0)
        })?,
    )?;
    cmsgpack.raw_set(
        "unpack_one",
        lua.create_function(|lua, args: Variadic<Value>| {
            let data = string_arg(lua, &args, "unpack_one")?;
            let offset = integer_arg(lua, &args, 1, "unpack_one")?.unwrap_or(0);
            unpack(lua, &data, 1, offset)
        })?,
    )?;
    cmsgpack.raw_set(
        "unpack_limit",
        lua.create_function(|lua, args: Variadic<Value>| {
            let data = string_arg(lua, &args, "unpack_limit")?;
            let Some(limit) = integer_arg(lua, &args, 1, "unpack_limit")? else {
                return Err(lua_error(
                    lua,
                    "bad argument #2 to 'unpack_limit' (number expected, got no value)",
                ));
            };
            let offset = integer_arg(lua, &args, 2, "unpack_limit")?.unwrap_or(0);
            unpack(lua, &data, limit, offset)
        })?,
    )?;
    cmsgpack.raw_set("_NAME", "cmsgpack")?;
    cmsgpack.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    Ok(cmsgpack)
}

/// Argument 1 as a string (numbers as text, as `luaL_checklstring` takes them).
fn string_arg(lua: &Lua, args: &[Value], name: &str) -> mlua::Result<Vec<u8>> {
    match args.first() {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(n)) => Ok(n.to_string().into_bytes()),
        Some(Value::Number(n)) => Ok(super::convert::format_g(*n, 14).into_bytes()),
        other => Err(lua_error(
            lua,
            &format!(
                "bad argument #1 to '{name}' (string expected, got {})",
                other.map_or("no value", |v| v.type_name())
            ),
        )),
    }
}

/// Argument `i` (0-based) as an integer, if present and not nil.
fn integer_arg(lua: &Lua, args: &[Value], i: usize, name: &str) -> mlua::Result<Option<i64>> {
    match args.get(i) {
        None | Some(Value::Nil) => Ok(None),
        Some(Value::Integer(n)) => Ok(Some(*n)),
        Some(Value::Number(n)) => Ok(Some(*n as i64)),
        Some(Value::String(s)) => {
            match s.to_str().ok().and_then(|t| t.trim().parse::<f64>().ok()) {
                Some(n) => Ok(Some(n as i64)),
                None => Err(lua_error(
                    lua,
                    &format!(
                        "bad argument #{} to '{name}' (number expected, got string)",
                        i + 1
                    ),
                )),
            }
        }
        Some(other) => Err(lua_error(
            lua,
            &format!(
                "bad argument #{} to '{name}' (number expected, got {})",
                i + 1,
                other.type_name()
            ),
        )),
    }
}

/// Appends the encoding of `value` at table nesting `level` to `out`.
fn encode(value: &Value, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match value {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => encode_integer(*n, out),
        Value::Number(n) => encode_number(*n, out),
        Value::String(s) => encode_bytes(&s.as_bytes(), out),
        Value::Table(t) if level < MAX_PACK_NESTING => {
            // A table may hold the same subtable many times over: the encoding can grow
            // exponentially with the nesting, outside Lua's memory accounting.
            if out.len() > super::MAX_ENCODED_BYTES {
                return Err(mlua::Error::runtime(super::ENCODED_TOO_LARGE));
            }
            encode_table(t, level, out)?
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

/// 2^63: the first number past `i64`'s range.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// A number: an integer encoding if it equals a 64-bit integer, else a float.
fn encode_number(n: f64, out: &mut Vec<u8>) {
    // (int64_t)n == n, without C's undefined conversions: finite and within i64's range.
    if n.is_finite() && n.trunc() == n && (-TWO_POW_63..TWO_POW_63).contains(&n) {
        return encode_integer(n as i64, out);
    }
    let f = n as f32;
    if f64::from(f) == n {
        out.push(0xca);
        out.extend_from_slice(&f.to_bits().to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_bits().to_be_bytes());
    }
}

/// The smallest integer encoding of `n` (lua-cmsgpack's choice of types).
fn encode_integer(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// A string: `fixstr`, `str 8`, `str 16` or `str 32`.
fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    let len = bytes.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(bytes);
}

/// A container header: the fix form below 16 entries, else the 16- or 32-bit form.
fn encode_header(len: usize, fix: u8, wide: u8, out: &mut Vec<u8>) {
    if len < 16 {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(wide);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(wide + 1);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// A table: an array if its keys are exactly `1..n`, else a map.
fn encode_table(t: &Table, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    let entries: Vec<(Value, Value)> = t
        .clone()
        .pairs::<Value, Value>()
        .collect::<mlua::Result<_>>()?;
    let mut max = 0f64;
    let is_array = entries.iter().all(|(key, _)| {
        let n = match key {
            Value::Integer(n) => *n as f64,
            Value::Number(n) => *n,
            _ => return false,
        };
        if n <= 0.0 || n.trunc() != n || n > f64::from(i32::MAX) {
            return false;
        }
        max = max.max(n);
        true
    }) && max == entries.len() as f64;
    if is_array {
        encode_header(entries.len(), 0x90, 0xdc, out);
        for i in 1..=entries.len() {
            encode(&t.raw_get::<Value>(i)?, level + 1, out)?;
        }
    } else {
        encode_header(entries.len(), 0x80, 0xde, out);
        for (key, value) in &entries {
            encode(key, level + 1, out)?;
            encode(value, level + 1, out)?;
        }
    }
    Ok(())
}

/// `unpack`, `unpack_one`, `unpack_limit`: up to `limit` values from `offset` (all of them
/// when both are 0), preceded (unless both are 0) by the next offset, -1 at the end.
fn unpack(lua: &Lua, data: &[u8], limit: i64, offset: i64) -> mlua::Result<MultiValue> {
    let len = data.len();
    if offset < 0 || limit < 0 {
        return Err(lua_error(
            lua,
            &format!("Invalid request to unpack with offset of {offset} and limit of {len}."),
        ));
    }
    if offset as u64 > len as u64 {
        return Err(lua_error(
            lua,
            &format!("Start offset {offset} greater than input length {len}."),
        ));
    }
    let all = limit == 0 && offset == 0;
    let limit = if all { i64::MAX } else { limit };
    let mut decoder = Decoder {
        lua,
        data,
        pos: offset as usize,
    };
    let mut values = Vec::new();
    while decoder.pos < len && (values.len() as i64) < limit {
        let value = decoder.value(0).map_err(|e| e.into_lua(lua))?;
        values.push(value);
    }
    if !all {
        let next = if decoder.pos == len {
            -1
        } else {
            decoder.pos as i64
        };
        values.insert(0, Value::Integer(next));
    }
    Ok(MultiValue::from_iter(values))
}

/// Why decoding failed.
enum DecodeError {
    /// The input ended inside a value, or is malformed.
    Text(&'static str),
    /// Lua failed (out of memory, a nil map key).
    Lua(mlua::Error),
}

impl DecodeError {
    /// The Lua error to raise.
    fn into_lua(self, lua: &Lua) -> mlua::Error {
        match self {
            DecodeError::Text(text) => lua_error(lua, text),
            DecodeError::Lua(e) => e,
        }
    }
}

impl From<mlua::Error> for DecodeError {
    fn from(e: mlua::Error) -> DecodeError {
        DecodeError::Lua(e)
    }
}

/// A cursor over the input.
struct Decoder<'a> {
    /// The interpreter the values are built in.
    lua: &'a Lua,
    /// The input.
    data: &'a [u8],
    /// The next byte to read.
    pos: usize,
}

impl<'a> Decoder<'a> {
    /// The next `n` bytes.
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.data.len() - self.pos < n {
            return Err(DecodeError::Text(MISSING_BYTES));
        }
        let data: &'a [u8] = self.data;
        let bytes = &data[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    /// The next `N` bytes as an array.
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A length of `width` bytes (1, 2 or 4), big-endian.
    fn length(&mut self, width: usize) -> Result<usize, DecodeError> {
        Ok(match width {
            1 => usize::from(self.array::<1>()?[0]),
            2 => usize::from(u16::from_be_bytes(self.array()?)),
            _ => u32::from_be_bytes(self.array()?) as usize,
        })
    }

    /// One value at container nesting `depth`.
    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        let tag = self.array::<1>()?[0];
        let number = |n: f64| Ok(Value::Number(n));
        match tag {
            0x00..=0x7f => number(f64::from(tag)),
            0xe0..=0xff => number(f64::from(tag as i8)),
            0xc0 => Ok(Value::Nil),
            0xc2 => Ok(Value::Boolean(false)),
            0xc3 => Ok(Value::Boolean(true)),
            0xcc => number(f64::from(self.array::<1>()?[0])),
            0xcd => number(f64::from(u16::from_be_bytes(self.array()?))),
            0xce => number(f64::from(u32::from_be_bytes(self.array()?))),
            0xcf => number(u64::from_be_bytes(self.array()?) as f64),
            0xd0 => number(f64::from(self.array::<1>()?[0] as i8)),
            0xd1 => number(f64::from(i16::from_be_bytes(self.array()?))),
            0xd2 => number(f64::from(i32::from_be_bytes(self.array()?))),
            0xd3 => number(i64::from_be_bytes(self.array()?) as f64),
            0xca => number(f64::from(f32::from_bits(u32::from_be_bytes(self.array()?)))),
            0xcb => number(f64::from_bits(u64::from_be_bytes(self.array()?))),
            0xa0..=0xbf => self.string(usize::from(tag & 0x1f)),
            0xd9 => {
                let len = self.length(1)?;
                self.string(len)
            }
            0xda => {
                let len = self.length(2)?;
                self.string(len)
            }
            0xdb => {
                let len = self.length(4)?;
                self.string(len)
            }
            0x90..=0x9f => self.array_of(usize::from(tag & 0x0f), depth),
            0xdc => {
                let len = self.length(2)?;
                self.array_of(len, depth)
            }
            0xdd => {
                let len = self.length(4)?;
                self.array_of(len, depth)
            }
            0x80..=0x8f => self.map_of(usize::from(tag & 0x0f), depth),
            0xde => {
                let len = self.length(2)?;
                self.map_of(len, depth)
            }
            0xdf => {
                let len = self.length(4)?;
                self.map_of(len, depth)
            }
            _ => Err(DecodeError::Text(BAD_FORMAT)),
        }
    }

    /// A string of `len` bytes.
    fn string(&mut self, len: usize) -> Result<Value, DecodeError> {
        let bytes = self.take(len)?;
        Ok(Value::String(self.lua.create_string(bytes)?))
    }

    /// Checks the nesting before opening a container.
    fn nest(depth: usize) -> Result<usize, DecodeError> {
        if depth >= MAX_UNPACK_NESTING {
            return Err(DecodeError::Text("Nesting too deep in input."));
        }
        Ok(depth + 1)
    }

    /// An array of `len` values: a table `1..len` (nil values leave holes).
    fn array_of(&mut self, len: usize, depth: usize) -> Result<Value, DecodeError> {
        let depth = Self::nest(depth)?;
        // Every element takes at least one byte: a length beyond the input is truncated.
        let table = self
            .lua
            .create_table_with_capacity(len.min(self.data.len() - self.pos), 0)?;
        for i in 1..=len {
            let value = self.value(depth)?;
            table.raw_set(i, value)?;
        }
        Ok(Value::Table(table))
    }

    /// A map of `len` pairs.
    fn map_of(&mut self, len: usize, depth: usize) -> Result<Value, DecodeError> {
        let depth = Self::nest(depth)?;
        let table = self.lua.create_table()?;
        for _ in 0..len {
            let key = self.value(depth)?;
            let value = self.value(depth)?;
            if key.is_nil() {
                return Err(DecodeError::Lua(mlua::Error::runtime("table index is nil")));
            }
            table.raw_set(key, value)?;
        }
        Ok(Value::Table(table))
    }
}
