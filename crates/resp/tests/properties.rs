//! Property tests: the decoder against random and randomly split input, the encoder against
//! random replies, the number parsers against reference oracles.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use resp::{
    decode_request, encode, format_double, parse_f64, parse_i64, parse_u64, Limits, Protocol,
    ProtocolError, Reply, RequestDecoder,
};

/// The multibulk encoding of one request.
fn multibulk(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// What decoding produced: the requests, then the error if one ended decoding, and the number
/// of input bytes not consumed.
type Outcome = (Vec<Vec<Bytes>>, Option<ProtocolError>, usize);

/// Feeds `input` to the decoder in pieces cut at `cuts` (positions, any order, clamped),
/// draining after each piece, and checks the decoder's buffer invariants along the way. With
/// cuts, a [`RequestDecoder`] is used; without, the stateless [`decode_request`].
fn feed(input: &[u8], cuts: &[usize], limits: &Limits) -> Outcome {
    let mut decoder = (!cuts.is_empty()).then(RequestDecoder::new);
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    cuts.push(input.len());
    cuts.sort_unstable();
    let mut requests = Vec::new();
    let mut buf = BytesMut::new();
    let mut fed = 0;
    for cut in cuts {
        buf.extend_from_slice(&input[fed..cut]);
        fed = cut;
        loop {
            let before = buf.clone();
            let result = match &mut decoder {
                Some(decoder) => decoder.decode(&mut buf, limits),
                None => decode_request(&mut buf, limits),
            };
            match result {
                Ok(Some(args)) => {
                    assert!(buf.len() < before.len(), "a request consumed nothing");
                    requests.push(args);
                }
                Ok(None) => {
                    assert_eq!(buf, before, "Ok(None) changed the buffer");
                    break;
                }
                Err(err) => {
                    assert_eq!(buf, before, "an error changed the buffer");
                    return (requests, Some(err), buf.len() + input.len() - fed);
                }
            }
        }
    }
    (requests, None, buf.len())
}

/// Bytes drawn mostly from the protocol's own alphabet, so random input reaches deep paths.
fn protocol_noise() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => prop::sample::select(b"*$\r\n0123456789-+ \"'\\xPING\t".to_vec()),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..200)
}

/// A random reply tree.
fn reply() -> impl Strategy<Value = Reply> {
    let text = "[a-zA-Z0-9 \r\n:+-]{0,12}";
    let leaf = prop_oneof![
        text.prop_map(|s| Reply::Simple(s.into())),
        text.prop_map(Reply::Error),
        any::<i64>().prop_map(Reply::Integer),
        prop::collection::vec(any::<u8>(), 0..20).prop_map(|b| Reply::Bulk(b.into())),
        Just(Reply::Null),
        Just(Reply::NullArray),
        any::<f64>().prop_map(Reply::Double),
        any::<bool>().prop_map(Reply::Boolean),
        text.prop_map(Reply::Verbatim),
    ];
    // redis-protocol's RESP3 decoder (the checker) refuses aggregate map keys and set members,
    // so those are leaves; RESP3 itself allows any.
    leaf.clone().prop_recursive(4, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Reply::Array),
            prop::collection::vec(leaf.clone(), 0..6).prop_map(Reply::Set),
            prop::collection::vec((leaf.clone(), inner), 0..4).prop_map(Reply::Map),
        ]
    })
}

proptest! {
    // No failure persistence: proptest cannot place its file for an integration test, and the
    // minimal failing input is printed anyway. PROPTEST_CASES overrides the count of 512.
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    /// Random requests encoded as multibulk and pipelined decode back exactly, however the
    /// bytes are split.
    #[test]
    fn multibulk_round_trip(
        requests in prop::collection::vec(
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..8), 1..5),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let input: Vec<u8> = requests.iter().flat_map(|r| multibulk(r)).collect();
        let cuts: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        let (decoded, error, left) = feed(&input, &cuts, &Limits::default());
        prop_assert_eq!(error, None);
        prop_assert_eq!(left, 0);
        let decoded: Vec<Vec<Vec<u8>>> =
            decoded.iter().map(|r| r.iter().map(|a| a.to_vec()).collect()).collect();
        prop_assert_eq!(decoded, requests);
    }

    /// Plain words joined by blanks decode as inline requests, however the bytes are split.
    #[test]
    fn inline_round_trip(
        words in prop::collection::vec("[!#-&(-~]{1,10}", 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        // A line starting with '*' would be a multibulk request.
        let input = format!("ECHO {}\r\n", words.join(" \t "));
        let cut = cut.index(input.len() + 1);
        let (decoded, error, left) = feed(input.as_bytes(), &[cut], &Limits::default());
        prop_assert_eq!(error, None);
        prop_assert_eq!(left, 0);
        prop_assert_eq!(decoded.len(), 1);
        let decoded: Vec<String> =
            decoded[0][1..].iter().map(|a| String::from_utf8(a.to_vec()).unwrap()).collect();
        prop_assert_eq!(decoded, words);
    }

    /// Any bytes, written as a double-quoted inline argument with every byte escaped one way
    /// or another, decode back to themselves.
    #[test]
    fn inline_quoting_round_trip(arg in prop::collection::vec(any::<u8>(), 0..40)) {
        let mut quoted = String::from("ECHO \"");
        for &b in &arg {
            match b {
                b'"' => quoted.push_str("\\\""),
                b'\\' => quoted.push_str("\\\\"),
                b'\n' => quoted.push_str("\\n"),
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b' ' => quoted.push(char::from(b)),
                _ => quoted.push_str(&format!("\\x{b:02X}")),
            }
        }
        quoted.push_str("\"\n");
        let (decoded, error, _) = feed(quoted.as_bytes(), &[], &Limits::default());
        prop_assert_eq!(error, None);
        prop_assert_eq!(&decoded[0][1][..], &arg[..]);
    }

    /// Random bytes never panic the decoder, and the outcome does not depend on the split.
    #[test]
    fn noise_never_panics(
        input in protocol_noise(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let limits = Limits { max_bulk_bytes: 100, max_args: 10, max_inline_bytes: 50 };
        let whole = feed(&input, &[], &limits);
        let cuts: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        prop_assert_eq!(feed(&input, &cuts, &limits), whole);
    }

    /// Fully random bytes never panic the decoder either.
    #[test]
    fn random_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..300)) {
        feed(&input, &[], &Limits::default());
    }

    /// Every encoded reply is exactly one complete frame for redis-protocol's decoders.
    #[test]
    fn encodes_one_frame(reply in reply()) {
        for protocol in [Protocol::Resp2, Protocol::Resp3] {
            let mut out = BytesMut::new();
            encode(&reply, protocol, &mut out);
            let used = match protocol {
                Protocol::Resp2 => redis_protocol::resp2::decode::decode_range(&out)
                    .map(|r| r.map(|(_, n)| n)),
                Protocol::Resp3 => redis_protocol::resp3::decode::complete::decode_range(&out)
                    .map(|r| r.map(|(_, n)| n)),
            };
            prop_assert_eq!(used.ok().flatten(), Some(out.len()), "{:?} {:?}", protocol, out);
        }
    }

    /// parse_i64 accepts exactly the canonical decimal forms, with str::parse's value.
    #[test]
    fn parse_i64_matches_canonical_parse(s in "[-+ 0]?[0-9]{0,20}[ a]?") {
        let oracle = s.parse::<i64>().ok().filter(|v| v.to_string() == s);
        prop_assert_eq!(parse_i64(s.as_bytes()), oracle);
    }

    /// Every i64 round-trips through its decimal text.
    #[test]
    fn parse_i64_accepts_every_i64(v in any::<i64>()) {
        prop_assert_eq!(parse_i64(v.to_string().as_bytes()), Some(v));
    }

    /// parse_u64 accepts exactly the canonical decimal forms, with str::parse's value.
    #[test]
    fn parse_u64_matches_canonical_parse(s in "[-+ 0]?[0-9]{0,21}") {
        let oracle = s.parse::<u64>().ok().filter(|v| v.to_string() == s);
        prop_assert_eq!(parse_u64(s.as_bytes()), oracle);
    }

    /// format_double's output parses back to the same value.
    #[test]
    fn format_double_round_trips(v in any::<f64>().prop_filter("not NaN", |v| !v.is_nan())) {
        let text = format_double(v);
        let back = parse_f64(text.as_bytes());
        prop_assert_eq!(back, Some(if v == 0.0 { 0.0 } else { v }), "{}", text);
    }
}

/// Decoded multibulk arguments point into the read buffer: no copies.
#[test]
fn multibulk_arguments_are_zero_copy() {
    let mut buf = BytesMut::from(&b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"[..]);
    let range = buf.as_ptr_range();
    let args = decode_request(&mut buf, &Limits::default())
        .unwrap()
        .unwrap();
    assert_eq!(args.len(), 3);
    for arg in &args {
        assert!(range.contains(&arg.as_ptr()), "{arg:?} was copied");
    }
}

/// Plain inline words point into the read buffer too.
#[test]
fn inline_words_are_zero_copy() {
    let mut buf = BytesMut::from(&b"SET key \"value\"\r\n"[..]);
    let range = buf.as_ptr_range();
    let args = decode_request(&mut buf, &Limits::default())
        .unwrap()
        .unwrap();
    assert_eq!(args, vec!["SET", "key", "value"]);
    for arg in &args {
        assert!(range.contains(&arg.as_ptr()), "{arg:?} was copied");
    }
}

/// A huge declared bulk length fails on its header, with no payload buffered.
#[test]
fn huge_bulk_header_fails_fast() {
    let mut buf = BytesMut::from(&b"*1\r\n$2000000000\r\n"[..]);
    assert_eq!(
        decode_request(&mut buf, &Limits::default()),
        Err(ProtocolError::InvalidBulkLength)
    );
}

/// The protocol error reply carries the ERR prefix.
#[test]
fn protocol_error_reply() {
    assert_eq!(
        ProtocolError::ExpectedBulk(b'x').to_reply(),
        Reply::Error("ERR Protocol error: expected '$', got 'x'".into())
    );
}
