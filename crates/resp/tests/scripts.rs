//! Data-driven tests: goldenscripts under `tests/scripts/`.
//!
//! Each script is a list of commands with their expected output; regenerate the output with
//! `UPDATE_GOLDENFILES=1 cargo test -p raftkv-resp --test scripts` and review the diff.
//!
//! Commands:
//!
//! * `decode [max_bulk=N] [max_args=N] [max_inline=N] INPUT`: decodes requests from INPUT until
//!   the decoder needs more bytes or fails. Prints one line per request (its arguments, quoted
//!   and escaped, or `(empty)`), then `error: <reply text>` on failure or `incomplete: <rest>`
//!   if bytes are left over. The same input is also fed split at every possible point and one
//!   byte at a time, to `decode_request` and to a `RequestDecoder`; the command fails unless
//!   every feeding gives the same output, and unless the buffer is left untouched whenever the
//!   decoder returns `None` or an error.
//! * `encode REPLY`: prints REPLY's RESP2 and RESP3 encodings, escaped, and checks with
//!   redis-protocol's decoders that each is exactly one complete frame. REPLY is written in
//!   prefix form: `simple S`, `error S`, `int I`, `bulk S`, `null`, `nullarray`, `double F`,
//!   `bool true|false`, `verbatim S`, `array N <N replies>`, `set N <N replies>`,
//!   `map N <N key/value reply pairs>`, `score F`, `pairs N <N member/score reply pairs>`,
//!   `keyed N <N key/value reply pairs>`.
//! * `parse i64|u64|f64 VALUE...`: prints what the strict number parser makes of each VALUE.
//! * `format_double VALUE...`: parses each VALUE with Rust's parser, prints `format_double`.

use std::error::Error;
use std::fmt::Write as _;

use bytes::{Bytes, BytesMut};
use goldenscript::{Argument, Command, Context};
use resp::{decode_request, format_double, Limits, Protocol, Reply, RequestDecoder};

/// Every script in `tests/scripts/`; `all_scripts_are_listed` keeps this in step.
const SCRIPTS: &[&str] = &[
    "decode_multibulk",
    "decode_inline",
    "decode_errors",
    "decode_limits",
    "encode",
    "numbers",
];

macro_rules! script_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() -> std::io::Result<()> {
                goldenscript::run(&mut Runner, concat!("tests/scripts/", stringify!($name)))
            }
        )*
    };
}

script_tests!(
    decode_multibulk,
    decode_inline,
    decode_errors,
    decode_limits,
    encode,
    numbers
);

#[test]
fn all_scripts_are_listed() {
    let mut found: Vec<String> = std::fs::read_dir("tests/scripts")
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    found.sort();
    let mut listed: Vec<&str> = SCRIPTS.to_vec();
    listed.sort();
    assert_eq!(found, listed);
}

/// Runs the script commands described in the module docs.
struct Runner;

impl goldenscript::Runner for Runner {
    type Command = Command;

    fn run(&mut self, command: &Command, _: &Context) -> Result<String, Box<dyn Error>> {
        match command.name.as_str() {
            "decode" => run_decode(command),
            "encode" => run_encode(command),
            "parse" => run_parse(command),
            "format_double" => run_format_double(command),
            name => Err(format!("unknown command {name}").into()),
        }
    }
}

/// The `decode` command.
fn run_decode(command: &Command) -> Result<String, Box<dyn Error>> {
    let mut args = command.consume_args();
    let mut limits = Limits::default();
    if let Some(v) = args.take_key("max_bulk") {
        limits.max_bulk_bytes = v.parse()?;
    }
    if let Some(v) = args.take_key("max_args") {
        limits.max_args = v.parse()?;
    }
    if let Some(v) = args.take_key("max_inline") {
        limits.max_inline_bytes = v.parse()?;
    }
    let input = args.next_pos().ok_or("no input given")?.as_bytes();
    args.reject_next()?;

    let whole = feed(&[input], &limits, false)?;
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    for stateful in [false, true] {
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            let output = feed(&[a, b], &limits, stateful)?;
            if output != whole {
                let how = format!("split at {split} (stateful: {stateful})");
                return Err(format!("{how} gave:\n{output}\nwhole input gave:\n{whole}").into());
            }
        }
        let output = feed(&bytes, &limits, stateful)?;
        if output != whole {
            let how = format!("byte-wise feeding (stateful: {stateful})");
            return Err(format!("{how} gave:\n{output}\nwhole input gave:\n{whole}").into());
        }
    }
    Ok(whole)
}

/// Feeds `chunks` to the decoder one after the other, draining it after each, and describes the
/// requests, the error or the left-over bytes. Uses one [`RequestDecoder`] if `stateful`, else
/// [`decode_request`].
fn feed(chunks: &[&[u8]], limits: &Limits, stateful: bool) -> Result<String, Box<dyn Error>> {
    let mut output = String::new();
    let mut buf = BytesMut::new();
    let mut decoder = RequestDecoder::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            let before = buf.clone();
            let result = if stateful {
                decoder.decode(&mut buf, limits)
            } else {
                decode_request(&mut buf, limits)
            };
            match result {
                Ok(Some(args)) => {
                    if args.is_empty() {
                        writeln!(output, "(empty)")?;
                    } else {
                        let args: Vec<String> = args.iter().map(|a| escape(a)).collect();
                        writeln!(output, "{}", args.join(" "))?;
                    }
                    if buf.len() >= before.len() {
                        return Err("a decoded request consumed nothing".into());
                    }
                }
                Ok(None) => {
                    if buf != before {
                        return Err("Ok(None) changed the buffer".into());
                    }
                    break;
                }
                Err(err) => {
                    if buf != before {
                        return Err("an error changed the buffer".into());
                    }
                    let Reply::Error(text) = err.to_reply() else {
                        return Err("to_reply is not an error".into());
                    };
                    writeln!(output, "error: {text}")?;
                    return Ok(output);
                }
            }
        }
    }
    if !buf.is_empty() {
        writeln!(output, "incomplete: {}", escape(&buf))?;
    }
    Ok(output)
}

/// The `encode` command.
fn run_encode(command: &Command) -> Result<String, Box<dyn Error>> {
    let mut words = command.args.iter().map(|arg| match arg {
        Argument::Positional(value) => Ok(value.as_str()),
        other => Err(format!("unexpected argument {other}")),
    });
    let reply = parse_reply(&mut words)?;
    if words.next().is_some() {
        return Err("trailing words after the reply".into());
    }
    let mut output = String::new();
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        let mut out = BytesMut::from(&b"prefix"[..]);
        resp::encode(&reply, protocol, &mut out);
        let frame = out.split_off(6).freeze();
        check_one_frame(&frame, protocol)?;
        let name = if protocol == Protocol::Resp2 {
            "resp2"
        } else {
            "resp3"
        };
        writeln!(output, "{name}: {}", escape(&frame))?;
    }
    Ok(output)
}

/// Checks with redis-protocol's decoder that `frame` is exactly one complete frame.
fn check_one_frame(frame: &Bytes, protocol: Protocol) -> Result<(), Box<dyn Error>> {
    let used = match protocol {
        Protocol::Resp2 => redis_protocol::resp2::decode::decode_range(frame)?.map(|(_, n)| n),
        Protocol::Resp3 => {
            redis_protocol::resp3::decode::complete::decode_range(frame)?.map(|(_, n)| n)
        }
    };
    match used {
        Some(n) if n == frame.len() => Ok(()),
        other => Err(format!("{protocol:?} output is not one frame: {other:?}").into()),
    }
}

/// Parses one reply in prefix form from `words`.
fn parse_reply<'a>(
    words: &mut impl Iterator<Item = Result<&'a str, String>>,
) -> Result<Reply, Box<dyn Error>> {
    let mut word =
        || -> Result<&'a str, Box<dyn Error>> { Ok(words.next().ok_or("reply ends early")??) };
    let kind = word()?;
    Ok(match kind {
        "simple" => Reply::Simple(word()?.to_string().into()),
        "error" => Reply::Error(word()?.to_string()),
        "int" => Reply::Integer(word()?.parse()?),
        "bulk" => Reply::bulk(word()?.to_string()),
        "null" => Reply::Null,
        "nullarray" => Reply::NullArray,
        "double" => Reply::Double(word()?.parse()?),
        "score" => Reply::Score(word()?.parse()?),
        "bool" => Reply::Boolean(word()?.parse()?),
        "verbatim" => Reply::Verbatim(word()?.to_string()),
        "array" | "set" | "map" | "pairs" | "keyed" => {
            let n: usize = word()?.parse()?;
            let items = (0..n * if matches!(kind, "map" | "pairs" | "keyed") {
                2
            } else {
                1
            })
                .map(|_| parse_reply(words))
                .collect::<Result<Vec<_>, _>>()?;
            match kind {
                "array" => Reply::Array(items),
                "set" => Reply::Set(items),
                _ => {
                    let mut items = items.into_iter();
                    let pairs = std::iter::from_fn(|| Some((items.next()?, items.next()?)));
                    match kind {
                        "map" => Reply::Map(pairs.collect()),
                        "pairs" => Reply::Pairs(pairs.collect()),
                        _ => Reply::Keyed(pairs.collect()),
                    }
                }
            }
        }
        other => return Err(format!("unknown reply kind {other}").into()),
    })
}

/// The `parse` command.
fn run_parse(command: &Command) -> Result<String, Box<dyn Error>> {
    let mut args = command.consume_args();
    let kind = args.next_pos().ok_or("no type given")?;
    let mut output = String::new();
    while let Some(value) = args.next_pos() {
        let b = value.as_bytes();
        let parsed = match kind {
            "i64" => resp::parse_i64(b).map(|v| v.to_string()),
            "u64" => resp::parse_u64(b).map(|v| v.to_string()),
            "f64" => resp::parse_f64(b).map(|v| format!("{v:?}")),
            other => return Err(format!("unknown type {other}").into()),
        };
        writeln!(
            output,
            "{} → {}",
            escape(b),
            parsed.as_deref().unwrap_or("None")
        )?;
    }
    args.reject_next()?;
    Ok(output)
}

/// The `format_double` command.
fn run_format_double(command: &Command) -> Result<String, Box<dyn Error>> {
    let mut args = command.consume_args();
    let mut output = String::new();
    while let Some(value) = args.next_pos() {
        let v: f64 = value.parse()?;
        writeln!(output, "{value} → {}", format_double(v))?;
    }
    args.reject_next()?;
    Ok(output)
}

/// Bytes as a double-quoted string with `\r \n \t \" \\` and `\xHH` escapes for other
/// non-printable or non-ASCII bytes.
fn escape(bytes: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => write!(s, "\\x{b:02x}").unwrap(),
        }
    }
    s.push('"');
    s
}
