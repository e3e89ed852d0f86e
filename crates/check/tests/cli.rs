//! The `raftkv-check` binary: verdict line, exit codes, timeline files.

use std::path::PathBuf;
use std::process::Command;

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("raftkv-check-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the binary; returns (exit code, stdout).
fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_raftkv-check"))
        .args(args)
        .output()
        .expect("run raftkv-check");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

const GOOD: &str = r#"{"id":1,"client":1,"key":"k1","op":"set","arg":"v1","call_ns":0,"ret_ns":10,"result":{"type":"ok","value":null}}
{"id":2,"client":2,"key":"k1","op":"get","call_ns":5,"ret_ns":20,"result":{"type":"ok","value":"v1"}}

{"id":3,"client":3,"key":"k1","op":"incr","arg":null,"call_ns":30,"ret_ns":null,"result":{"type":"info","error":"timeout"}}
{"id":4,"client":1,"key":"log","op":"append","arg":"t1,","call_ns":0,"ret_ns":10,"result":{"type":"ok","value":3}}
{"id":5,"client":2,"key":"log","op":"get","call_ns":20,"ret_ns":30,"result":{"type":"ok","value":"t1,"}}
"#;

const STALE: &str = r#"{"id":1,"client":1,"key":"k1","op":"set","arg":"v1","call_ns":1000,"ret_ns":2000,"result":{"type":"ok","value":"OK"}}
{"id":2,"client":1,"key":"k1","op":"set","arg":"v2","call_ns":3000,"ret_ns":4000,"result":{"type":"ok","value":null}}
{"id":3,"client":2,"key":"k1","op":"get","call_ns":5000,"ret_ns":6000,"result":{"type":"ok","value":"v1"}}
{"id":4,"client":3,"key":"k1","op":"get","call_ns":500,"ret_ns":900,"result":{"type":"fail","error":"ERR"}}
"#;

#[test]
fn linearizable_history_exits_0() {
    let dir = scratch("good");
    let file = dir.join("h.jsonl");
    std::fs::write(&file, GOOD).unwrap();
    for model in ["auto", "register"] {
        let (code, out) = run(&["--model", model, file.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}");
        assert!(
            out.starts_with("linearizable: 5 operations on 2 keys"),
            "{out}"
        );
    }
}

#[test]
fn violation_exits_1_and_writes_timelines() {
    let dir = scratch("stale");
    let file = dir.join("h.jsonl");
    std::fs::write(&file, STALE).unwrap();
    for name in ["t.html", "t.txt"] {
        let timeline = dir.join(name);
        let (code, out) = run(&[
            "--timeline",
            timeline.to_str().unwrap(),
            file.to_str().unwrap(),
        ]);
        assert_eq!(code, 1, "{out}");
        assert!(out.starts_with("NOT linearizable: key \"k1\""), "{out}");
        assert!(out.contains("#3 get -> \"v1\""), "{out}");
        let written = std::fs::read_to_string(&timeline).unwrap();
        assert!(written.contains("not linearizable"), "{written}");
        assert_eq!(
            name.ends_with("html"),
            written.starts_with("<!doctype html>")
        );
    }
}

#[test]
fn append_model_on_register_history_is_bad_input() {
    let dir = scratch("model");
    let file = dir.join("h.jsonl");
    std::fs::write(&file, STALE).unwrap();
    let (code, out) = run(&["--model", "append", file.to_str().unwrap()]);
    assert_eq!(code, 3, "{out}");
    assert!(out.starts_with("bad input:"), "{out}");
}

#[test]
fn malformed_input_exits_3_with_line_number() {
    let dir = scratch("bad");
    let cases = [
        ("{\"id\":1}\n", "line 1"),
        (&format!("{GOOD}not json\n"), "line 7"),
        (
            r#"{"id":1,"client":1,"key":"k","op":"put","arg":"v","call_ns":0,"ret_ns":1,"result":{"type":"ok"}}"#,
            "unknown op",
        ),
        (
            r#"{"id":1,"client":1,"key":"k","op":"get","call_ns":5,"ret_ns":1,"result":{"type":"ok"}}"#,
            "before call_ns",
        ),
        (
            r#"{"id":1,"client":1,"key":"k","op":"del","call_ns":0,"ret_ns":1,"result":{"type":"ok","value":"x"}}"#,
            "del cannot return",
        ),
        (
            r#"{"id":1,"client":1,"key":"k","op":"get","call_ns":0,"ret_ns":1,"extra":1,"result":{"type":"ok"}}"#,
            "unknown field",
        ),
    ];
    for (i, (text, expect)) in cases.iter().enumerate() {
        let file = dir.join(format!("h{i}.jsonl"));
        std::fs::write(&file, text).unwrap();
        let (code, out) = run(&[file.to_str().unwrap()]);
        assert_eq!(code, 3, "{out}");
        assert!(out.contains(expect), "case {i}: {out}");
    }
    let (code, _) = run(&[dir.join("missing.jsonl").to_str().unwrap()]);
    assert_eq!(code, 3);
}

#[test]
fn timeout_exits_2() {
    let dir = scratch("timeout");
    let file = dir.join("h.jsonl");
    let mut text = String::new();
    for c in 0..40 {
        text.push_str(&format!(
            "{{\"id\":{c},\"client\":{c},\"key\":\"k\",\"op\":\"incr\",\"call_ns\":0,\"ret_ns\":null,\"result\":{{\"type\":\"info\"}}}}\n"
        ));
    }
    text.push_str(r#"{"id":99,"client":99,"key":"k","op":"get","call_ns":10,"ret_ns":20,"result":{"type":"ok","value":"1000"}}"#);
    std::fs::write(&file, text).unwrap();
    let (code, out) = run(&["--timeout-secs", "1", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(out.starts_with("UNDECIDED"), "{out}");
}
