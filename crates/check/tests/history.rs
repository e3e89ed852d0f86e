//! The history format, its validation, and the recorder.

use check::{Command, History, HistoryError, Op, Outcome, Recorder, Value};

#[test]
fn documented_example_line_parses() {
    let line = r#"{"id":17,"client":3,"key":"k1","op":"set","arg":"v5","call_ns":123,"ret_ns":456,"result":{"type":"ok","value":null}}"#;
    let history = History::read_jsonl(line.as_bytes()).unwrap();
    assert_eq!(
        history.ops(),
        &[Op {
            id: 17,
            client: 3,
            key: "k1".into(),
            command: Command::Set("v5".into()),
            call_ns: 123,
            ret_ns: Some(456),
            outcome: Outcome::ok(Value::Nil),
        }]
    );
}

#[test]
fn every_shape_round_trips() {
    let mut h = History::new();
    h.add(1, "k", Command::Get, 0, Some(1), Outcome::ok(Value::Nil));
    h.add(
        1,
        "k",
        Command::Get,
        2,
        Some(3),
        Outcome::ok(Value::from("v")),
    );
    h.add(
        2,
        "k",
        Command::Set("v".into()),
        0,
        Some(5),
        Outcome::ok(Value::from("OK")),
    );
    h.add(2, "k", Command::Del, 6, Some(7), Outcome::ok(Value::Int(1)));
    h.add(
        3,
        "k",
        Command::GetSet("w".into()),
        1,
        None,
        Outcome::info("timeout"),
    );
    h.add(
        3,
        "c",
        Command::Incr,
        8,
        Some(9),
        Outcome::ok(Value::Int(-4)),
    );
    h.add(
        4,
        "l",
        Command::Append("t,".into()),
        8,
        Some(9),
        Outcome::fail("ERR"),
    );
    h.add(
        4,
        "l",
        Command::Append("u,".into()),
        10,
        None,
        Outcome::Info { error: None },
    );
    h.add(
        4,
        "l",
        Command::Append("v,".into()),
        11,
        Some(12),
        Outcome::ok(Value::Int(2)),
    );
    let mut bytes = Vec::new();
    h.write_jsonl(&mut bytes).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert_eq!(text.lines().count(), h.len());
    assert!(text.contains(r#""op":"getset","arg":"w""#), "{text}");
    assert!(
        text.contains(r#""result":{"type":"info","error":"timeout"}"#),
        "{text}"
    );
    assert_eq!(History::read_jsonl(bytes.as_slice()).unwrap(), h);
    let ids: Vec<u64> = h.ops().iter().map(|op| op.id).collect();
    assert_eq!(ids, (0..9).collect::<Vec<_>>());
}

#[test]
fn validation_rejects_bad_operations() {
    let op = |command: Command, ret: Option<u64>, outcome: Outcome| Op {
        id: 1,
        client: 1,
        key: "k".into(),
        command,
        call_ns: 10,
        ret_ns: ret,
        outcome,
    };
    let bad = [
        op(Command::Get, Some(5), Outcome::ok(Value::Nil)),
        op(Command::Get, None, Outcome::ok(Value::Nil)),
        op(Command::Get, Some(20), Outcome::ok(Value::Int(1))),
        op(
            Command::Set("a".into()),
            Some(20),
            Outcome::ok(Value::from("no")),
        ),
        op(Command::Del, Some(20), Outcome::ok(Value::Int(2))),
        op(Command::Incr, Some(20), Outcome::ok(Value::from("1"))),
        op(
            Command::Append("t,".into()),
            Some(20),
            Outcome::ok(Value::Int(-1)),
        ),
    ];
    for op in bad {
        let h = History::from_ops(vec![op.clone()]);
        assert!(
            matches!(h.validate(), Err(HistoryError::Invalid { id: 1, .. })),
            "{op:?}"
        );
    }
    let fine = op(Command::Get, None, Outcome::info("lost"));
    let h = History::from_ops(vec![fine.clone(), fine]);
    assert!(matches!(
        h.validate(),
        Err(HistoryError::DuplicateId { id: 1 })
    ));
}

#[test]
fn parse_errors_name_the_line() {
    let text = "\n{\"id\":1,\"client\":1,\"key\":\"k\",\"op\":\"get\",\"call_ns\":0,\"ret_ns\":1,\"result\":{\"type\":\"ok\"}}\n{oops}\n";
    match History::read_jsonl(text.as_bytes()) {
        Err(HistoryError::Parse { line: 3, .. }) => {}
        other => panic!("{other:?}"),
    }
    let missing_arg =
        r#"{"id":1,"client":1,"key":"k","op":"set","call_ns":0,"ret_ns":1,"result":{"type":"ok"}}"#;
    let err = History::read_jsonl(missing_arg.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("needs an arg"), "{err}");
    let bad_type = r#"{"id":1,"client":1,"key":"k","op":"get","call_ns":0,"ret_ns":1,"result":{"type":"maybe"}}"#;
    assert!(History::read_jsonl(bad_type.as_bytes()).is_err());
}

#[test]
fn recorder_stamps_times_and_never_loses_an_operation() {
    let recorder = Recorder::new();
    let clone = recorder.clone();
    let a = recorder.begin(1, "k", Command::Set("v".into()));
    let b = clone.begin(2, "k", Command::Get);
    let c = clone.begin(3, "k", Command::Incr);
    let d = clone.begin(4, "k", Command::Del);
    b.ok("v");
    a.ok(Value::Nil);
    c.info("timeout");
    drop(d); // e.g. a cancelled task
    let history = recorder.history();
    assert!(history.validate().is_ok());
    let ops = history.ops();
    assert_eq!(ops.iter().map(|op| op.id).collect::<Vec<_>>(), [0, 1, 2, 3]);
    assert_eq!(ops[1].outcome, Outcome::ok(Value::from("v")));
    assert!(ops[0].call_ns <= ops[1].call_ns);
    assert!(ops[0].ret_ns.unwrap() >= ops[0].call_ns);
    assert!(ops[2].outcome.is_info() && ops[2].ret_ns.is_some());
    assert!(ops[3].outcome.is_info() && ops[3].ret_ns.is_none());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let r = recorder.clone();
            std::thread::spawn(move || {
                for _ in 0..100 {
                    r.begin(t, "x", Command::Get).ok(Value::Nil);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let history = recorder.history();
    assert_eq!(history.len(), 404);
    assert!(check::check(&history, &check::CheckOptions::default())
        .unwrap()
        .is_linearizable());
}
