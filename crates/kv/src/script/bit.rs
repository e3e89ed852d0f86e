//! The `bit` library Redis ships (LuaBitOp 1.0), written in Rust: 32-bit operations on Lua
//! numbers. Every argument is first normalized as `bit.tobit` does (rounded to an integer,
//! ties to even, then taken modulo 2^32 as a signed 32-bit value), and every result is a
//! signed 32-bit number, so results are the same on every platform and replica.

use mlua::{Lua, Table, Value, Variadic};

/// `x` as LuaBitOp's `tobit`.
fn tobit(x: f64) -> i32 {
    let r = x.round_ties_even();
    if !r.is_finite() {
        return 0;
    }
    r.rem_euclid(4_294_967_296.0) as u32 as i32
}

/// Argument `i` (0-based) of `name` as a normalized number, or the Lua error LuaBitOp raises.
fn arg(lua: &Lua, name: &str, args: &[Value], i: usize) -> mlua::Result<i32> {
    match args.get(i) {
        Some(Value::Integer(n)) => Ok(tobit(*n as f64)),
        Some(Value::Number(n)) => Ok(tobit(*n)),
        Some(Value::String(s)) => match std::str::from_utf8(&s.as_bytes())
            .ok()
            .and_then(|t| t.trim().parse::<f64>().ok())
        {
            Some(n) => Ok(tobit(n)),
            None => Err(bad(lua, name, i, "string")),
        },
        other => {
            let got = other.map_or("no value", |v| v.type_name());
            Err(bad(lua, name, i, got))
        }
    }
}

/// LuaBitOp's argument error.
fn bad(lua: &Lua, name: &str, i: usize, got: &str) -> mlua::Error {
    super::convert::lua_error(
        lua,
        &format!(
            "bad argument #{} to '{name}' (number expected, got {got})",
            i + 1
        ),
    )
}

/// A one-argument operation.
type Unary = fn(i32) -> i32;
/// A two-argument operation folded over the arguments.
type Fold = fn(i32, i32) -> i32;
/// A shift or rotation by a count in 0..32.
type Shift = fn(i32, u32) -> i32;

/// The `bit` table.
pub(crate) fn library(lua: &Lua) -> mlua::Result<Table> {
    let bit = lua.create_table()?;
    let unary: [(&str, Unary); 3] = [
        ("tobit", |x| x),
        ("bnot", |x| !x),
        ("bswap", |x| x.swap_bytes()),
    ];
    for (name, f) in unary {
        bit.raw_set(
            name,
            lua.create_function(move |lua, args: Variadic<Value>| {
                Ok(f64::from(f(arg(lua, name, &args, 0)?)))
            })?,
        )?;
    }
    let folds: [(&str, Fold); 3] = [
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for (name, f) in folds {
        bit.raw_set(
            name,
            lua.create_function(move |lua, args: Variadic<Value>| {
                let mut acc = arg(lua, name, &args, 0)?;
                for i in 1..args.len() {
                    acc = f(acc, arg(lua, name, &args, i)?);
                }
                Ok(f64::from(acc))
            })?,
        )?;
    }
    let shifts: [(&str, Shift); 5] = [
        ("lshift", |x, n| ((x as u32) << n) as i32),
        ("rshift", |x, n| ((x as u32) >> n) as i32),
        ("arshift", |x, n| x >> n),
        ("rol", |x, n| (x as u32).rotate_left(n) as i32),
        ("ror", |x, n| (x as u32).rotate_right(n) as i32),
    ];
    for (name, f) in shifts {
        bit.raw_set(
            name,
            lua.create_function(move |lua, args: Variadic<Value>| {
                let x = arg(lua, name, &args, 0)?;
                let n = arg(lua, name, &args, 1)? as u32 & 31;
                Ok(f64::from(f(x, n)))
            })?,
        )?;
    }
    bit.raw_set(
        "tohex",
        lua.create_function(|lua, args: Variadic<Value>| {
            let x = arg(lua, "tohex", &args, 0)? as u32;
            let n = if args.len() > 1 {
                arg(lua, "tohex", &args, 1)?
            } else {
                8
            };
            let upper = n < 0;
            let digits = n.unsigned_abs().min(8) as usize;
            let masked = if digits == 8 {
                x
            } else {
                x & ((1u32 << (4 * digits)) - 1)
            };
            let text = if upper {
                format!("{masked:0digits$X}")
            } else {
                format!("{masked:0digits$x}")
            };
            lua.create_string(text)
        })?,
    )?;
    Ok(bit)
}

#[cfg(test)]
mod tests {
    use super::tobit;

    #[test]
    fn tobit_wraps_and_rounds_like_luabitop() {
        assert_eq!(tobit(0xffff_ffffu32 as f64), -1);
        assert_eq!(tobit(4_294_967_296.0 + 5.0), 5);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(2.5), 2);
        assert_eq!(tobit(3.5), 4);
    }
}
