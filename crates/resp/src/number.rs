//! Strict number parsing and Redis's number formatting.
//!
//! Commands take numbers as strings (`EXPIRE k 10`, `INCRBYFLOAT k 1.5`), and clients rely on
//! Redis's exact acceptance rules: `INCRBY k " 1"`, `INCRBY k +1` and `INCRBY k 01` are errors in
//! Redis, so they are errors here. The parsers mirror Redis's `string2ll` (integers) and
//! `string2d`/`string2ld` (floats); they return `None` for anything Redis would reject, and the
//! caller picks the error text (`ERR value is not an integer or out of range`, `ERR value is not
//! a valid float`).
//!
//! Differences from Redis, all on the side of rejecting more: floats are `f64`, not C `long
//! double`, so values beyond the `f64` range (`1e400`) are rejected, and hexadecimal floats
//! (`0x1p3`, which C's `strtod` accepts) are rejected. `parse_u64` accepts only canonical
//! digits, where Redis's `string2ull` falls back to `strtoull` for values above `i64::MAX`.
//!
//! [`format_double`] prints the shortest decimal that reads back as the same `f64`, never in
//! exponent notation: `3` for 3.0, `1.5`, `100000000000000000000` for 1e20,
//! `0.30000000000000004` for 0.1 + 0.2, `inf` / `-inf`. This is what Redis shows for
//! `INCRBYFLOAT` results in practice (Redis prints `%.17Lf` of a `long double` and trims trailing
//! zeros, which hides the same representation noise that the shortest form avoids).

/// Redis's `LONG_STR_SIZE`: a string this long or longer is never a valid 64-bit integer.
const LONG_STR_SIZE: usize = 21;

/// Redis's `MAX_LONG_DOUBLE_CHARS`: a longer string is never a valid float.
const MAX_FLOAT_CHARS: usize = 5 * 1024;

/// Parses a signed 64-bit integer exactly as Redis's `string2ll` does.
///
/// Accepts an optional `-` and decimal digits with no leading zeros (`0` itself is fine); rejects
/// empty input, spaces, `+`, `-0`, anything after the digits and values outside `i64`.
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    let (negative, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    if b.len() >= LONG_STR_SIZE || (negative && digits == b"0") {
        return None;
    }
    let magnitude = parse_canonical_digits(digits)?;
    if negative {
        // -(i64::MIN) does not fit in i64, so go through the unsigned magnitude.
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Parses an unsigned 64-bit integer in canonical form: decimal digits, no sign, no leading
/// zeros (`0` itself is fine), at most `u64::MAX`.
pub fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.len() >= LONG_STR_SIZE {
        return None;
    }
    parse_canonical_digits(b)
}

/// Digits `[1-9][0-9]*` or a lone `0`, as a `u64`; `None` on anything else or on overflow.
fn parse_canonical_digits(digits: &[u8]) -> Option<u64> {
    match digits {
        [] => None,
        [b'0'] => Some(0),
        [b'0', ..] => None,
        _ => digits.iter().try_fold(0u64, |acc, &d| {
            if !d.is_ascii_digit() {
                return None;
            }
            acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        }),
    }
}

/// Parses a float as Redis's `string2d` / `string2ld` do (C `strtod` plus checks).
///
/// Accepts decimal notation with optional sign, fraction and exponent (`1`, `-1.5`, `.5`, `1e3`,
/// `+2.5E-3`) and `inf` / `infinity` in any case and with a sign. Rejects empty input, leading or
/// trailing spaces, trailing garbage, NaN, values that overflow to infinity (`1e400`) and
/// non-zero values that underflow to zero (`1e-400`).
pub fn parse_f64(b: &[u8]) -> Option<f64> {
    if b.is_empty() || b.len() >= MAX_FLOAT_CHARS {
        return None;
    }
    // Rust's parser accepts exactly C's decimal and infinity forms minus hex floats, and never
    // skips whitespace; it also accepts "nan", and it saturates where C reports ERANGE.
    let text = std::str::from_utf8(b).ok()?;
    let value: f64 = text.parse().ok()?;
    if value.is_nan() {
        return None;
    }
    let mantissa = text.split(['e', 'E']).next().unwrap_or(text);
    let infinity_literal = mantissa.bytes().any(|c| c.is_ascii_alphabetic());
    if value.is_infinite() && !infinity_literal {
        return None; // overflow
    }
    if value == 0.0 && mantissa.bytes().any(|c| matches!(c, b'1'..=b'9')) {
        return None; // underflow
    }
    Some(value)
}

/// Formats a sorted-set score as Redis 7.0 replies with it (C's `%.17g`): 17 significant
/// digits, trailing zeros dropped, an exponent below 1e-4 or from 1e17 (`1e+20`,
/// `1.0000000000000001e-05`), `inf` / `-inf`, and `-0` for negative zero (which only a reply
/// computed on the fly shows: a stored score is never `-0`). Scores are never NaN.
pub fn format_score(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if value == 0.0 || value.is_nan() {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // The decimal exponent after rounding to 17 significant digits.
    let scientific = format!("{value:.16e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let strip = |text: &str| -> String {
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            text.to_string()
        }
    };
    if !(-4..17).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", strip(mantissa), exponent.unsigned_abs())
    } else {
        let decimals = usize::try_from(16 - exponent).unwrap_or(0);
        strip(&format!("{value:.decimals$}"))
    }
}

/// Formats a double the way raftkv replies with it: the shortest decimal that parses back to
/// the same value, without exponent; `inf`, `-inf`, `nan`; negative zero prints as `0`.
///
/// Examples: 3.0 → `3`, 1.5 → `1.5`, 1e20 → `100000000000000000000`, 0.1 + 0.2 →
/// `0.30000000000000004`.
pub fn format_double(v: f64) -> String {
    if v.is_nan() {
        "nan".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.to_string()
    } else if v == 0.0 {
        "0".to_string()
    } else {
        // Display for f64 is the shortest round-trip representation in positional notation.
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn scores_format_like_redis_7_0() {
        assert_eq!(format_score(0.1), "0.10000000000000001");
        assert_eq!(format_score(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_score(1.5), "1.5");
        assert_eq!(format_score(-2.0), "-2");
        assert_eq!(format_score(1e20), "1e+20");
        assert_eq!(format_score(1e-5), "1.0000000000000001e-05");
        assert_eq!(format_score(0.0001), "0.0001");
        assert_eq!(format_score(123456789012345678.0), "1.2345678901234568e+17");
        assert_eq!(format_score(12345678901234567.0), "12345678901234568");
        assert_eq!(format_score(-0.0), "-0");
        assert_eq!(format_score(f64::INFINITY), "inf");
        assert_eq!(format_score(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_score(1e300), "1.0000000000000001e+300");
    }

    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"-9223372036854775809"), None);
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"+1",
            b"01",
            b" 1",
            b"1 ",
            b"1a",
            b"00",
            b"--1",
        ] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"-1"), None);
    }

    #[test]
    fn floats() {
        for (text, value) in [
            ("1", 1.0),
            ("-1.5", -1.5),
            (".5", 0.5),
            ("1.", 1.0),
            ("1e3", 1000.0),
            ("+2.5E-3", 0.0025),
            ("inf", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
            ("+INF", f64::INFINITY),
            ("0", 0.0),
            ("-0.0e10", 0.0),
            ("4e-320", 4e-320),
        ] {
            assert_eq!(parse_f64(text.as_bytes()), Some(value), "{text}");
        }
        for bad in [
            "", " 1", "1 ", "nan", "NaN", "1e400", "-1e400", "1e-400", "1e", "e1", "1x", "0x10",
            ".",
        ] {
            assert_eq!(parse_f64(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn doubles() {
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(1e20), "100000000000000000000");
        assert_eq!(format_double(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_double(10.5 + 0.1), "10.6");
        assert_eq!(format_double(-0.0), "0");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
    }
}
