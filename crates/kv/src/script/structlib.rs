//! The `struct` library Redis ships (Roberto Ierusalimschy's struct 0.2, as in Redis 7's
//! `lua_struct.c`): `struct.pack`, `struct.unpack` and `struct.size`, written in Rust.
//!
//! A format is a sequence of options, each optionally followed by a count:
//!
//! | option | meaning |
//! |---|---|
//! | `>` `<` `=` | big-endian, little-endian, native (little-endian here) from now on |
//! | `!n` | maximum alignment `n` (a power of 2; `!` alone: 8) |
//! | `x` | one zero byte of padding |
//! | `b` `B` | signed, unsigned char (1 byte) |
//! | `h` `H` | signed, unsigned short (2 bytes) |
//! | `l` `L`, `T` | signed, unsigned long, `size_t` (8 bytes) |
//! | `in` `In` | signed, unsigned integer of `n` bytes (default 4, at most 32) |
//! | `f` `d` | float (4 bytes), double (8 bytes) |
//! | `s` | a zero-terminated string |
//! | `cn` | `n` bytes of a string (`c0` in `pack`: the whole string; in `unpack`: as many bytes as the previous value says) |
//! | space | ignored |
//!
//! The defaults are little-endian with alignment 1 (no padding). Integers go through 64 bits
//! and Lua numbers as in Redis's C (a value wider than 8 bytes gets zero bytes beyond the
//! eighth). Errors are raised with the caller's position and Redis's texts.

use super::convert::lua_error;
use mlua::{Lua, MultiValue, Table, Value, Variadic};

/// Largest integer option, in bytes (struct's `MAXINTSIZE`).
pub const MAX_INT_SIZE: usize = 32;

/// The default maximum alignment (`!` without a number): the platform's largest, 8.
const MAX_ALIGN: usize = 8;

/// Byte order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Endian {
    /// Most significant byte first.
    Big,
    /// Least significant byte first.
    Little,
}

/// The state a format carries along: byte order and maximum alignment.
struct Header {
    /// Current byte order.
    endian: Endian,
    /// Current maximum alignment.
    align: usize,
}

impl Default for Header {
    fn default() -> Header {
        Header {
            endian: Endian::Little,
            align: 1,
        }
    }
}

/// A format being read, option by option.
struct Format<'a> {
    /// The format text.
    text: &'a [u8],
    /// The next byte.
    pos: usize,
}

impl Format<'_> {
    /// The next option, if any.
    fn next_option(&mut self) -> Option<u8> {
        let opt = *self.text.get(self.pos)?;
        self.pos += 1;
        Some(opt)
    }

    /// The count after an option, or `default`.
    fn number(&mut self, lua: &Lua, default: usize) -> mlua::Result<usize> {
        if !self.text.get(self.pos).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut n: usize = 0;
        while let Some(d) = self.text.get(self.pos).filter(|d| d.is_ascii_digit()) {
            let digit = usize::from(d - b'0');
            if n > (i32::MAX as usize - digit) / 10 {
                return Err(lua_error(lua, "integral size overflow"));
            }
            n = n * 10 + digit;
            self.pos += 1;
        }
        Ok(n)
    }

    /// The size of option `opt` (reading its count), 0 for the options without one.
    fn size(&mut self, lua: &Lua, opt: u8) -> mlua::Result<usize> {
        Ok(match opt {
            b'B' | b'b' | b'x' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.number(lua, 1)?,
            b'i' | b'I' => {
                let size = self.number(lua, 4)?;
                if size > MAX_INT_SIZE {
                    return Err(lua_error(
                        lua,
                        &format!("integral size {size} is larger than limit of {MAX_INT_SIZE}"),
                    ));
                }
                size
            }
            _ => 0,
        })
    }

    /// Applies a control option (`>`, `<`, `=`, `!`, space); anything else is an error.
    fn control(&mut self, lua: &Lua, opt: u8, h: &mut Header, function: &str) -> mlua::Result<()> {
        match opt {
            b' ' => {}
            b'>' => h.endian = Endian::Big,
            b'<' | b'=' => h.endian = Endian::Little,
            b'!' => {
                let a = self.number(lua, MAX_ALIGN)?;
                if !a.is_power_of_two() {
                    return Err(lua_error(
                        lua,
                        &format!("alignment {a} is not a power of 2"),
                    ));
                }
                h.align = a;
            }
            _ => {
                return Err(lua_error(
                    lua,
                    &format!(
                        "bad argument #1 to '{function}' (invalid format option '{}')",
                        opt as char
                    ),
                ))
            }
        }
        Ok(())
    }
}

/// Padding before an option of `size` at offset `len`.
fn to_align(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size - (len & (size - 1))) & (size - 1)
}

/// The `struct` table.
pub(crate) fn library(lua: &Lua) -> mlua::Result<Table> {
    let lib = lua.create_table()?;
    lib.raw_set(
        "pack",
        lua.create_function(|lua, args: Variadic<Value>| {
            let out = pack(lua, &args)?;
            lua.create_string(&out)
        })?,
    )?;
    lib.raw_set(
        "unpack",
        lua.create_function(|lua, args: Variadic<Value>| unpack(lua, &args))?,
    )?;
    lib.raw_set(
        "size",
        lua.create_function(|lua, args: Variadic<Value>| size(lua, &args))?,
    )?;
    Ok(lib)
}

/// Argument `i` (0-based) of `function` as a string (numbers as text).
fn string_arg(lua: &Lua, args: &[Value], i: usize, function: &str) -> mlua::Result<Vec<u8>> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(n)) => Ok(n.to_string().into_bytes()),
        Some(Value::Number(n)) => Ok(super::convert::format_g(*n, 14).into_bytes()),
        other => Err(bad_type(lua, i, function, "string", other)),
    }
}

/// Argument `i` (0-based) of `function` as a number (numeric strings too).
fn number_arg(lua: &Lua, args: &[Value], i: usize, function: &str) -> mlua::Result<f64> {
    match args.get(i) {
        Some(Value::Integer(n)) => Ok(*n as f64),
        Some(Value::Number(n)) => Ok(*n),
        Some(v @ Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|t| t.trim().parse::<f64>().ok())
            .ok_or_else(|| bad_type(lua, i, function, "number", Some(v))),
        other => Err(bad_type(lua, i, function, "number", other)),
    }
}

/// `bad argument #n to 'function' (T expected, got U)`. A missing argument of `pack` is
/// `nil` (Redis's pushes a marker after its arguments), of the others `no value`.
fn bad_type(
    lua: &Lua,
    i: usize,
    function: &str,
    expected: &str,
    got: Option<&Value>,
) -> mlua::Error {
    let missing = if function == "pack" {
        "nil"
    } else {
        "no value"
    };
    lua_error(
        lua,
        &format!(
            "bad argument #{} to '{function}' ({expected} expected, got {})",
            i + 1,
            got.map_or(missing, |v| v.type_name())
        ),
    )
}

/// The bytes of integer `value` in `size` bytes.
fn put_integer(n: f64, endian: Endian, size: usize, out: &mut Vec<u8>) {
    let mut value = if n < 0.0 { n as i64 as u64 } else { n as u64 };
    let mut bytes = vec![0u8; size];
    for i in 0..size {
        let at = if endian == Endian::Little {
            i
        } else {
            size - 1 - i
        };
        bytes[at] = (value & 0xff) as u8;
        value = value.checked_shr(8).unwrap_or(0);
    }
    out.extend_from_slice(&bytes);
}

/// `struct.pack(fmt, ...)`.
fn pack(lua: &Lua, args: &[Value]) -> mlua::Result<Vec<u8>> {
    let text = string_arg(lua, args, 0, "pack")?;
    let mut fmt = Format {
        text: &text,
        pos: 0,
    };
    let mut h = Header::default();
    let mut arg = 1;
    let mut out = Vec::new();
    while let Some(opt) = fmt.next_option() {
        let mut size = fmt.size(lua, opt)?;
        let pad = to_align(out.len(), &h, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = number_arg(lua, args, arg, "pack")?;
                arg += 1;
                put_integer(n, h.endian, size, &mut out);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = number_arg(lua, args, arg, "pack")? as f32;
                arg += 1;
                out.extend_from_slice(&match h.endian {
                    Endian::Big => f.to_be_bytes(),
                    Endian::Little => f.to_le_bytes(),
                });
            }
            b'd' => {
                let d = number_arg(lua, args, arg, "pack")?;
                arg += 1;
                out.extend_from_slice(&match h.endian {
                    Endian::Big => d.to_be_bytes(),
                    Endian::Little => d.to_le_bytes(),
                });
            }
            b'c' | b's' => {
                let s = string_arg(lua, args, arg, "pack")?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    return Err(lua_error(
                        lua,
                        &format!("bad argument #{} to 'pack' (string too short)", arg + 1),
                    ));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => fmt.control(lua, opt, &mut h, "pack")?,
        }
    }
    Ok(out)
}

/// The integer of `size` bytes at the start of `bytes`, as a Lua number.
fn get_integer(bytes: &[u8], endian: Endian, signed: bool, size: usize) -> f64 {
    let mut l: u64 = 0;
    for i in 0..size {
        let at = if endian == Endian::Big {
            i
        } else {
            size - 1 - i
        };
        l = (l << 8) | u64::from(bytes[at]);
    }
    if !signed {
        return l as f64;
    }
    // As the C code does on x86-64: the shift count is taken modulo 64.
    let mask = u64::MAX << ((size * 8 - 1) % 64);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

/// `struct.unpack(fmt, s [, i])`: the values, then the position after them.
fn unpack(lua: &Lua, args: &[Value]) -> mlua::Result<MultiValue> {
    let text = string_arg(lua, args, 0, "unpack")?;
    let data = string_arg(lua, args, 1, "unpack")?;
    let start = match args.get(2) {
        None | Some(Value::Nil) => 1.0,
        Some(_) => number_arg(lua, args, 2, "unpack")?,
    };
    if start < 1.0 {
        return Err(lua_error(
            lua,
            "bad argument #3 to 'unpack' (offset must be 1 or greater)",
        ));
    }
    let too_short = || lua_error(lua, "bad argument #2 to 'unpack' (data string too short)");
    // Past the end: refused before any offset arithmetic can overflow.
    if start - 1.0 > data.len() as f64 {
        return Err(too_short());
    }
    let mut pos = start as usize - 1;
    let mut fmt = Format {
        text: &text,
        pos: 0,
    };
    let mut h = Header::default();
    let mut values: Vec<Value> = Vec::new();
    let len = data.len();
    while let Some(opt) = fmt.next_option() {
        let mut size = fmt.size(lua, opt)?;
        pos += to_align(pos, &h, opt, size);
        if size > len || pos > len - size {
            return Err(too_short());
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let signed = opt.is_ascii_lowercase();
                let n = get_integer(&data[pos..], h.endian, signed, size);
                values.push(Value::Number(n));
            }
            b'x' => {}
            b'f' => {
                let bytes: [u8; 4] = data[pos..pos + 4].try_into().expect("4 bytes");
                let f = match h.endian {
                    Endian::Big => f32::from_be_bytes(bytes),
                    Endian::Little => f32::from_le_bytes(bytes),
                };
                values.push(Value::Number(f64::from(f)));
            }
            b'd' => {
                let bytes: [u8; 8] = data[pos..pos + 8].try_into().expect("8 bytes");
                let d = match h.endian {
                    Endian::Big => f64::from_be_bytes(bytes),
                    Endian::Little => f64::from_le_bytes(bytes),
                };
                values.push(Value::Number(d));
            }
            b'c' => {
                if size == 0 {
                    let n = match values.pop() {
                        Some(Value::Number(n)) => n,
                        Some(Value::Integer(n)) => n as f64,
                        _ => return Err(lua_error(lua, "format 'c0' needs a previous size")),
                    };
                    size = if n > 0.0 { n as usize } else { 0 };
                    if size > len || pos > len - size {
                        return Err(too_short());
                    }
                }
                values.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(end) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(lua_error(lua, "unfinished string in data"));
                };
                values.push(Value::String(lua.create_string(&data[pos..pos + end])?));
                size = end + 1;
            }
            _ => fmt.control(lua, opt, &mut h, "unpack")?,
        }
        pos += size;
    }
    values.push(Value::Number((pos + 1) as f64));
    Ok(MultiValue::from_iter(values))
}

/// `struct.size(fmt)`.
fn size(lua: &Lua, args: &[Value]) -> mlua::Result<f64> {
    let text = string_arg(lua, args, 0, "size")?;
    let mut fmt = Format {
        text: &text,
        pos: 0,
    };
    let mut h = Header::default();
    let mut pos = 0usize;
    while let Some(opt) = fmt.next_option() {
        let size = fmt.size(lua, opt)?;
        pos += to_align(pos, &h, opt, size);
        if opt == b's' {
            return Err(lua_error(
                lua,
                "bad argument #1 to 'size' (option 's' has no fixed size)",
            ));
        }
        if opt == b'c' && size == 0 {
            return Err(lua_error(
                lua,
                "bad argument #1 to 'size' (option 'c0' has no fixed size)",
            ));
        }
        // Letters without a size (an unknown `z`) are ignored here, as in Redis.
        if !opt.is_ascii_alphanumeric() {
            fmt.control(lua, opt, &mut h, "size")?;
        }
        pos += size;
    }
    Ok(pos as f64)
}
