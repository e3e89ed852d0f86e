//! Number parsing and formatting that kv needs beyond `resp`'s strict parsers.
//!
//! Integers and floats in arguments and stored values are parsed with `resp::parse_i64` and
//! `resp::parse_f64`, which follow Redis's `string2ll` and `string2ld` (so `INCR` on `"01"`
//! fails where Redis fails). This module adds the lenient SCAN cursor parser and the INCRBYFLOAT
//! result formatter.
//!
//! Floats are IEEE `f64`, not the x87 80-bit `long double` Redis uses: `f64` arithmetic is the
//! same on every platform, which determinism across replicas requires. To hide `f64` noise the
//! way Redis's extra precision hides it, [`format_float`] prints at most 15 significant digits
//! (every decimal of up to 15 digits survives a round trip through `f64`) and at most 17
//! decimals (Redis's `%.17Lf`), so `0.1 + 0.2` prints `0.3` as in Redis (where `resp`'s
//! shortest-round-trip `format_double` would print `0.30000000000000004`). Known differences from
//! Redis: hex floats (`0x1p3`) and magnitudes outside `f64` (`1e400`, `1e-400`) are rejected as
//! arguments, sums beyond about 1.8e308 are "NaN or Infinity" errors, and results keep 15
//! significant digits where Redis keeps about 18 (a huge result prints as its 15 leading digits
//! followed by zeros).

/// Parses a SCAN cursor: an unsigned 64-bit decimal integer made of digits only. Leading zeros
/// are accepted, as Redis's `strtoul` accepts them.
pub(crate) fn parse_u64(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 20 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// Formats a finite float as INCRBYFLOAT stores it: plain decimal notation (never an exponent),
/// at most 15 significant digits and 17 decimals, without trailing zeros or a trailing point.
pub(crate) fn format_float(value: f64) -> String {
    debug_assert!(value.is_finite());
    if value == 0.0 {
        return "0".to_string();
    }
    // The decimal exponent after rounding to 15 significant digits.
    let scientific = format!("{:.14e}", value.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let mut text = if exponent >= 14 {
        // Large: the 15 rounded digits followed by zeros; no fraction.
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        let zeros = usize::try_from(exponent - 14).unwrap_or(0);
        format!("{digits}{}", "0".repeat(zeros))
    } else {
        let decimals = usize::try_from((14 - exponent).min(17)).unwrap_or(0);
        format!("{:.*}", decimals, value.abs())
    };
    if text.contains('.') {
        let trimmed = text.trim_end_matches('0').trim_end_matches('.').len();
        text.truncate(trimmed);
    }
    if text == "0" || value > 0.0 {
        text
    } else {
        format!("-{text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_format_like_redis() {
        assert_eq!(format_float(0.1 + 0.2), "0.3");
        assert_eq!(format_float(10.5 + 0.1), "10.6");
        assert_eq!(format_float(5200.0), "5200");
        assert_eq!(format_float(1e20), "100000000000000000000");
        assert_eq!(format_float(1e-20), "0");
        assert_eq!(format_float(-1e-20), "0");
        assert_eq!(format_float(-2.5), "-2.5");
        assert_eq!(format_float(1.0 / 3.0), "0.333333333333333");
        assert_eq!(format_float(1.5e-10), "0.00000000015");
    }
}
