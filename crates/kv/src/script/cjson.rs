//! The `cjson` library Redis ships (lua-cjson 2.1 with Redis's defaults): `cjson.encode`,
//! `cjson.decode` and `cjson.null`, written in Rust.
//!
//! Encoding follows lua-cjson: numbers with `%.14g` (NaN and infinities are errors), strings
//! with `"`, `\`, `/` and control characters escaped, a table whose keys are all positive
//! integers is an array (holes become `null`; more than 10 entries and fewer than half filled
//! is `excessively sparse`), an empty table is `{}`, any other table an object whose keys
//! must be strings or numbers, in Lua's iteration order (the same on every replica running the
//! same build), nesting up to [`MAX_JSON_DEPTH`]. Decoding builds tables in document order;
//! JSON `null` is `cjson.null`, a light userdata equal only to itself.
//!
//! Errors are raised as Lua errors with the caller's position, as lua-cjson's are; their
//! texts follow lua-cjson's for encoding, and its general shape (`Expected value but found
//! invalid token at character N`) for decoding.

use super::convert::format_g;
use mlua::{LightUserData, Lua, Table, Value, Variadic};

/// Deepest nesting `cjson.encode` and `cjson.decode` accept (lua-cjson's default).
pub(crate) const MAX_JSON_DEPTH: usize = 1000;

/// `cjson.null`.
pub(crate) fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// The `cjson` table.
pub(crate) fn library(lua: &Lua) -> mlua::Result<Table> {
    let cjson = lua.create_table()?;
    cjson.raw_set(
        "encode",
        lua.create_function(|lua, args: Variadic<Value>| {
            let [value] = args.as_slice() else {
                return Err(super::convert::lua_error(
                    lua,
                    "bad argument #1 to 'encode' (expected 1 argument)",
                ));
            };
            let mut out = Vec::new();
            encode(value, 0, &mut out).map_err(|text| super::convert::lua_error(lua, &text))?;
            lua.create_string(&out)
        })?,
    )?;
    cjson.raw_set(
        "decode",
        lua.create_function(|lua, text: mlua::LuaString| {
            let bytes = text.as_bytes();
            let mut parser = Parser {
                lua,
                text: &bytes,
                pos: 0,
            };
            parser
                .document()
                .map_err(|text| super::convert::lua_error(lua, &text))
        })?,
    )?;
    cjson.raw_set("null", null())?;
    Ok(cjson)
}

/// Appends the JSON of `value` to `out`.
fn encode(value: &Value, depth: usize, out: &mut Vec<u8>) -> Result<(), String> {
    match value {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(ud) if ud.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Number(n) => {
            if !n.is_finite() {
                return Err("Cannot serialise number: must not be NaN or Inf".into());
            }
            out.extend_from_slice(format_g(*n, 14).as_bytes());
        }
        Value::String(s) => string(&s.as_bytes(), out),
        Value::Table(t) => {
            if depth + 1 > MAX_JSON_DEPTH {
                return Err(format!(
                    "Cannot serialise, excessive nesting ({})",
                    depth + 1
                ));
            }
            // A table may hold the same subtable many times over: the text can grow
            // exponentially with the nesting, outside Lua's memory accounting.
            if out.len() > super::MAX_ENCODED_BYTES {
                return Err(super::ENCODED_TOO_LARGE.to_string());
            }
            table(t, depth + 1, out)?;
        }
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ))
        }
    }
    Ok(())
}

/// Appends a JSON string.
fn string(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            8 => out.extend_from_slice(b"\\b"),
            9 => out.extend_from_slice(b"\\t"),
            10 => out.extend_from_slice(b"\\n"),
            12 => out.extend_from_slice(b"\\f"),
            13 => out.extend_from_slice(b"\\r"),
            0..=31 | 127 => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Appends a table as an array or an object.
fn table(t: &Table, depth: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let mut entries = Vec::new();
    for pair in t.pairs::<Value, Value>() {
        entries.push(pair.map_err(|e| e.to_string())?);
    }
    if let Some(len) = array_length(&entries)? {
        out.push(b'[');
        for i in 1..=len {
            if i > 1 {
                out.push(b',');
            }
            let value: Value = t.raw_get(i).map_err(|e| e.to_string())?;
            encode(&value, depth, out)?;
        }
        out.push(b']');
        return Ok(());
    }
    out.push(b'{');
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match key {
            Value::String(s) => string(&s.as_bytes(), out),
            Value::Integer(n) => string(n.to_string().as_bytes(), out),
            Value::Number(n) => string(format_g(*n, 14).as_bytes(), out),
            other => {
                return Err(format!(
                    "Cannot serialise {}: table key must be a number or string",
                    other.type_name()
                ))
            }
        }
        out.push(b':');
        encode(value, depth, out)?;
    }
    out.push(b'}');
    Ok(())
}

/// The array length if every key is a positive integer (lua-cjson's rule), `None` for an
/// object (an empty table included); an error if the array is excessively sparse.
fn array_length(entries: &[(Value, Value)]) -> Result<Option<usize>, String> {
    if entries.is_empty() {
        return Ok(None);
    }
    let mut max = 0usize;
    for (key, _) in entries {
        let k = match key {
            Value::Integer(n) => *n as f64,
            Value::Number(n) => *n,
            _ => return Ok(None),
        };
        if k < 1.0 || k != k.floor() || k > 1e15 {
            return Ok(None);
        }
        max = max.max(k as usize);
    }
    if max > 10 && max > entries.len() * 2 {
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok(Some(max))
}

/// A recursive-descent JSON parser producing Lua values.
struct Parser<'a> {
    /// The interpreter.
    lua: &'a Lua,
    /// The document.
    text: &'a [u8],
    /// The next byte to read.
    pos: usize,
}

impl Parser<'_> {
    /// The whole document: one value and nothing after it.
    fn document(&mut self) -> Result<Value, String> {
        let value = self.value(0)?;
        self.skip_space();
        if self.pos < self.text.len() {
            return Err(self.expected("the end"));
        }
        Ok(value)
    }

    /// Skips JSON whitespace.
    fn skip_space(&mut self) {
        while matches!(self.text.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// An error at the current position (1-based, as lua-cjson counts).
    fn expected(&self, what: &str) -> String {
        let found = if self.pos >= self.text.len() {
            "T_END"
        } else {
            "invalid token"
        };
        format!(
            "Expected {what} but found {found} at character {}",
            self.pos + 1
        )
    }

    /// One value.
    fn value(&mut self, depth: usize) -> Result<Value, String> {
        self.skip_space();
        let lua_err = |e: mlua::Error| e.to_string();
        match self.text.get(self.pos) {
            Some(b'{') | Some(b'[') if depth + 1 > MAX_JSON_DEPTH => Err(format!(
                "Found too many nested data structures ({}) at character {}",
                depth + 1,
                self.pos + 1
            )),
            Some(b'{') => {
                self.pos += 1;
                let table = self.lua.create_table().map_err(lua_err)?;
                self.skip_space();
                if self.text.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                    return Ok(Value::Table(table));
                }
                loop {
                    self.skip_space();
                    if self.text.get(self.pos) != Some(&b'"') {
                        return Err(self.expected("object key string"));
                    }
                    let key = self.string()?;
                    self.skip_space();
                    if self.text.get(self.pos) != Some(&b':') {
                        return Err(self.expected("colon"));
                    }
                    self.pos += 1;
                    let value = self.value(depth + 1)?;
                    let key = self.lua.create_string(&key).map_err(lua_err)?;
                    table.raw_set(key, value).map_err(lua_err)?;
                    self.skip_space();
                    match self.text.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Value::Table(table));
                        }
                        _ => return Err(self.expected("comma or object end")),
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let table = self.lua.create_table().map_err(lua_err)?;
                self.skip_space();
                if self.text.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    return Ok(Value::Table(table));
                }
                let mut i = 1;
                loop {
                    let value = self.value(depth + 1)?;
                    table.raw_set(i, value).map_err(lua_err)?;
                    i += 1;
                    self.skip_space();
                    match self.text.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Value::Table(table));
                        }
                        _ => return Err(self.expected("comma or array end")),
                    }
                }
            }
            Some(b'"') => {
                let bytes = self.string()?;
                Ok(Value::String(
                    self.lua.create_string(&bytes).map_err(lua_err)?,
                ))
            }
            Some(b't') if self.text[self.pos..].starts_with(b"true") => {
                self.pos += 4;
                Ok(Value::Boolean(true))
            }
            Some(b'f') if self.text[self.pos..].starts_with(b"false") => {
                self.pos += 5;
                Ok(Value::Boolean(false))
            }
            Some(b'n') if self.text[self.pos..].starts_with(b"null") => {
                self.pos += 4;
                Ok(null())
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.expected("value")),
        }
    }

    /// A number: the longest run of number characters, read as a double.
    fn number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        while matches!(
            self.text.get(self.pos),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.pos += 1;
        }
        let token = std::str::from_utf8(&self.text[start..self.pos]).unwrap_or("");
        match token.parse::<f64>() {
            Ok(n) => Ok(Value::Number(n)),
            Err(_) => {
                self.pos = start;
                Err(self.expected("value"))
            }
        }
    }

    /// A string starting at the opening quote; its bytes, escapes decoded (UTF-8 for `\u`).
    fn string(&mut self) -> Result<Vec<u8>, String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.text.get(self.pos) else {
                self.pos = start;
                return Err(self.expected("value"));
            };
            self.pos += 1;
            match b {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(&e) = self.text.get(self.pos) else {
                        self.pos = start;
                        return Err(self.expected("value"));
                    };
                    self.pos += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let c = self.unicode_escape(start)?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => {
                            self.pos = start;
                            return Err(self.expected("value"));
                        }
                    }
                }
                _ => out.push(b),
            }
        }
    }

    /// The character of a `\uXXXX` escape (a surrogate pair takes two), the `\u` read.
    fn unicode_escape(&mut self, start: usize) -> Result<char, String> {
        let first = self.hex4(start)?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if !self.text[self.pos..].starts_with(b"\\u") {
                self.pos = start;
                return Err(self.expected("value"));
            }
            self.pos += 2;
            let second = self.hex4(start)?;
            if !(0xDC00..0xE000).contains(&second) {
                self.pos = start;
                return Err(self.expected("value"));
            }
            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| self.expected("value"))
    }

    /// Four hex digits.
    fn hex4(&mut self, start: usize) -> Result<u32, String> {
        let digits = self.text.get(self.pos..self.pos + 4).unwrap_or(b"");
        let parsed = std::str::from_utf8(digits)
            .ok()
            .filter(|d| d.len() == 4)
            .and_then(|d| u32::from_str_radix(d, 16).ok());
        match parsed {
            Some(n) => {
                self.pos += 4;
                Ok(n)
            }
            None => {
                self.pos = start;
                Err(self.expected("value"))
            }
        }
    }
}
