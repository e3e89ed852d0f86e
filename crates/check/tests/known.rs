//! Hand-written histories with known verdicts, for both models.

mod common;

use std::time::Duration;

use check::{check, CheckOptions, Command, History, HistoryError, Model, Outcome, Value, Verdict};
use common::{append, brute_force, getset, s, set, Builder};

fn run(history: &History, model: Model) -> Verdict {
    let options = CheckOptions {
        model,
        time_limit: Duration::from_secs(20),
        ..CheckOptions::default()
    };
    check(history, &options).expect("valid history")
}

/// Asserts a violation under `model`, that the oracle agrees, and returns the explanation.
fn assert_bad(b: &Builder, model: Model) -> String {
    assert!(!brute_force(&b.history), "oracle finds it linearizable");
    match run(&b.history, model) {
        Verdict::Violation {
            window,
            explanation,
            key,
        } => {
            assert_eq!(key, "k");
            assert!(!window.is_empty());
            let text = check::timeline::render_text(&window);
            assert_eq!(text.lines().count(), window.len() + 1, "{text}");
            explanation
        }
        other => panic!("expected a violation, got {other:?}"),
    }
}

fn assert_good(b: &Builder, model: Model) {
    assert!(brute_force(&b.history), "oracle finds it non-linearizable");
    let verdict = run(&b.history, model);
    assert!(verdict.is_linearizable(), "{verdict:?}");
}

// ---- register: known bad ----

#[test]
fn stale_read() {
    let mut b = Builder::new();
    b.ok(1, set("a"), 0, 10, Value::Nil);
    b.ok(1, set("b"), 20, 30, Value::Nil);
    b.ok(2, Command::Get, 40, 50, s("a"));
    let why = assert_bad(&b, Model::Register);
    assert!(why.contains("holds \"b\""), "{why}");
    match run(&b.history, Model::Auto) {
        Verdict::Violation { window, .. } => assert_eq!(window.len(), 3),
        other => panic!("{other:?}"),
    }
}

#[test]
fn lost_write() {
    let mut b = Builder::new();
    b.ok(1, set("a"), 0, 10, Value::Nil);
    b.ok(2, Command::Get, 20, 30, Value::Nil);
    assert_bad(&b, Model::Register);
}

#[test]
fn read_of_value_never_written() {
    let mut b = Builder::new();
    b.ok(1, set("a"), 0, 10, Value::Nil);
    b.ok(2, Command::Get, 5, 30, s("zzz"));
    let why = assert_bad(&b, Model::Register);
    assert!(why.contains("zzz"), "{why}");
}

#[test]
fn non_monotonic_reads_across_clients() {
    let mut b = Builder::new();
    b.ok(1, set("a"), 0, 10, Value::Nil);
    b.ok(1, set("b"), 20, 100, Value::Nil);
    b.ok(2, Command::Get, 30, 40, s("b"));
    b.ok(3, Command::Get, 50, 60, s("a"));
    assert_bad(&b, Model::Register);
}

#[test]
fn del_count_must_match() {
    let mut b = Builder::new();
    b.ok(1, set("a"), 0, 10, Value::Nil);
    b.ok(2, Command::Del, 20, 30, Value::Int(0));
    assert_bad(&b, Model::Register);
}

#[test]
fn lost_increment() {
    let mut b = Builder::new();
    b.ok(1, Command::Incr, 0, 10, Value::Int(1));
    b.ok(2, Command::Incr, 20, 30, Value::Int(1));
    assert_bad(&b, Model::Register);
}

#[test]
fn getset_returns_wrong_previous_value() {
    let mut b = Builder::new();
    b.ok(1, set("a"), 0, 10, Value::Nil);
    b.ok(2, getset("b"), 20, 30, Value::Nil);
    assert_bad(&b, Model::Register);
}

#[test]
fn failed_write_must_not_be_visible() {
    let mut b = Builder::new();
    b.fail(1, set("a"), 0, 10);
    b.ok(2, Command::Get, 20, 30, s("a"));
    assert_bad(&b, Model::Register);
}

#[test]
fn unknown_write_cannot_explain_a_read_before_its_call() {
    let mut b = Builder::new();
    b.ok(2, Command::Get, 0, 10, s("a"));
    b.info(1, set("a"), 20);
    assert_bad(&b, Model::Register);
}

#[test]
fn violation_window_is_small_in_a_long_history() {
    // 200 good sequential writes and reads, one stale read in the middle.
    let mut b = Builder::new();
    let mut t = 0;
    for i in 0..200 {
        let v = format!("v{i}");
        b.ok(1, set(&v), t, t + 5, Value::Nil);
        b.ok(2, Command::Get, t + 6, t + 9, s(&v));
        if i == 120 {
            b.ok(3, Command::Get, t + 10, t + 12, s("v3"));
        }
        t += 20;
    }
    match run(&b.history, Model::Register) {
        Verdict::Violation {
            window,
            explanation,
            ..
        } => {
            assert!(window.len() <= 4, "{window:?}");
            assert!(window.iter().any(|op| op.outcome.value() == Some(&s("v3"))));
            assert!(explanation.contains("not shown"), "{explanation}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn hard_history_times_out_and_timeout_is_a_failure() {
    // 40 concurrent unknown increments and an impossible final read: the search must explore
    // every subset of the increments.
    let mut b = Builder::new();
    for c in 0..40 {
        b.info(c, Command::Incr, 0);
    }
    b.ok(99, Command::Get, 10, 20, s("1000"));
    let options = CheckOptions {
        model: Model::Register,
        time_limit: Duration::from_millis(200),
        ..CheckOptions::default()
    };
    let verdict = check(&b.history, &options).unwrap();
    assert!(matches!(verdict, Verdict::Timeout { .. }), "{verdict:?}");
    assert!(!verdict.is_linearizable());
    assert_eq!(verdict.exit_code(), 2);
}

// ---- register: known good ----

#[test]
fn concurrent_reads_may_see_either_value() {
    let mut b = Builder::new();
    b.ok(1, set("a"), 0, 10, Value::Nil);
    b.ok(1, set("b"), 20, 60, Value::Nil);
    b.ok(2, Command::Get, 25, 35, s("a"));
    b.ok(3, Command::Get, 30, 40, s("b"));
    b.ok(2, Command::Get, 45, 50, s("b"));
    assert_good(&b, Model::Register);
}

#[test]
fn unknown_write_that_took_effect() {
    let mut b = Builder::new();
    b.ok(1, set("a"), 0, 10, Value::Nil);
    b.info(1, set("b"), 20);
    b.ok(2, Command::Get, 100, 110, s("b"));
    b.ok(3, Command::Get, 120, 130, s("b"));
    assert_good(&b, Model::Register);
}

#[test]
fn unknown_write_that_did_not_take_effect() {
    let mut b = Builder::new();
    b.ok(1, set("a"), 0, 10, Value::Nil);
    b.info(1, set("b"), 20);
    b.ok(2, Command::Get, 100, 110, s("a"));
    b.ok(3, Command::Get, 120, 130, s("a"));
    assert_good(&b, Model::Register);
}

#[test]
fn unknown_write_that_took_effect_after_the_client_gave_up() {
    let mut b = Builder::new();
    b.ok(1, set("a"), 0, 10, Value::Nil);
    b.history
        .add(1, "k", set("b"), 20, Some(30), Outcome::info("timeout"));
    b.ok(2, Command::Get, 40, 50, s("a"));
    b.ok(2, Command::Get, 60, 70, s("b"));
    assert_good(&b, Model::Register);
}

#[test]
fn unknown_write_of_a_repeated_value_may_never_happen() {
    // The read of "v" is explained by #0, so the unknown #3 (same value) need not happen before
    // the read returns; forcing it to would clobber "a".
    let mut b = Builder::new();
    b.ok(1, set("v"), 0, 10, Value::Nil);
    b.ok(2, Command::Get, 20, 40, s("v"));
    b.ok(1, set("a"), 22, 25, Value::Nil);
    b.info(3, set("v"), 26);
    b.ok(1, Command::Get, 41, 50, s("a"));
    assert_good(&b, Model::Register);
}

#[test]
fn concurrent_increments_in_either_order() {
    let mut b = Builder::new();
    b.ok(1, Command::Incr, 0, 50, Value::Int(2));
    b.ok(2, Command::Incr, 10, 60, Value::Int(1));
    b.info(3, Command::Incr, 70);
    b.ok(1, Command::Get, 80, 90, s("3"));
    assert_good(&b, Model::Register);
}

#[test]
fn concurrent_deletes_one_wins() {
    let mut b = Builder::new();
    b.ok(1, set("a"), 0, 10, Value::Nil);
    b.ok(2, Command::Del, 20, 40, Value::Int(1));
    b.ok(3, Command::Del, 25, 45, Value::Int(0));
    b.ok(1, Command::Get, 50, 60, Value::Nil);
    assert_good(&b, Model::Register);
}

#[test]
fn failed_ops_and_unknown_reads_are_ignored() {
    let mut b = Builder::new();
    b.ok(1, set("a"), 0, 10, Value::Nil);
    b.fail(2, set("zzz"), 12, 14);
    b.fail(2, Command::Incr, 15, 16);
    b.info(3, Command::Get, 11);
    b.ok(1, getset("b"), 20, 30, s("a"));
    b.ok(2, Command::Get, 40, 50, s("b"));
    assert_good(&b, Model::Register);
}

#[test]
fn touching_intervals_are_concurrent() {
    let mut b = Builder::new();
    b.ok(1, set("a"), 10, 10, Value::Nil);
    b.ok(2, Command::Get, 10, 10, Value::Nil);
    assert_good(&b, Model::Register);
}

#[test]
fn keys_are_independent() {
    let mut b = Builder::new();
    b.ok_on("x", 1, set("a"), 0, 10, Value::Nil);
    b.ok_on("y", 1, set("b"), 0, 10, Value::Nil);
    b.ok_on("x", 2, Command::Get, 20, 30, s("a"));
    b.ok_on("y", 2, Command::Get, 20, 30, s("b"));
    assert!(matches!(
        run(&b.history, Model::Auto),
        Verdict::Linearizable { keys: 2, ops: 4 }
    ));
}

// ---- append: known bad ----

/// An append history checked by the append model, the register search and the oracle.
fn assert_bad_append(b: &Builder) -> String {
    let why = assert_bad(b, Model::Append);
    assert_bad(b, Model::Register);
    assert!(matches!(
        run(&b.history, Model::Auto),
        Verdict::Violation { .. }
    ));
    why
}

fn assert_good_append(b: &Builder) {
    assert_good(b, Model::Append);
    assert_good(b, Model::Register);
}

#[test]
fn duplicate_append() {
    let mut b = Builder::new();
    b.ok(1, append("t1,"), 0, 10, Value::Int(3));
    b.ok(2, Command::Get, 20, 30, s("t1,t1,"));
    let why = assert_bad_append(&b);
    assert!(why.contains("twice"), "{why}");
}

#[test]
fn missing_acknowledged_append() {
    let mut b = Builder::new();
    b.ok(1, append("t1,"), 0, 10, Value::Nil);
    b.ok(2, append("t2,"), 0, 10, Value::Nil);
    b.ok(3, Command::Get, 20, 30, s("t2,"));
    let why = assert_bad_append(&b);
    assert!(why.contains("missing"), "{why}");
}

#[test]
fn appends_out_of_real_time_order() {
    let mut b = Builder::new();
    b.ok(1, append("t1,"), 0, 10, Value::Nil);
    b.ok(2, append("t2,"), 20, 30, Value::Nil);
    b.ok(3, Command::Get, 40, 50, s("t2,t1,"));
    let why = assert_bad_append(&b);
    assert!(why.contains("real-time order"), "{why}");
}

#[test]
fn append_reads_go_backwards() {
    let mut b = Builder::new();
    b.ok(1, append("t1,"), 0, 10, Value::Nil);
    b.ok(1, append("t2,"), 20, 100, Value::Nil);
    b.ok(2, Command::Get, 30, 40, s("t1,t2,"));
    b.ok(3, Command::Get, 50, 60, s("t1,"));
    let why = assert_bad_append(&b);
    assert!(why.contains("backwards"), "{why}");
}

#[test]
fn read_sees_append_before_it_was_sent() {
    let mut b = Builder::new();
    b.ok(2, Command::Get, 0, 10, s("t1,"));
    b.ok(1, append("t1,"), 20, 30, Value::Nil);
    let why = assert_bad_append(&b);
    assert!(why.contains("before it was sent"), "{why}");
}

#[test]
fn diverging_reads() {
    let mut b = Builder::new();
    b.ok(1, append("t1,"), 0, 100, Value::Nil);
    b.ok(2, append("t2,"), 0, 100, Value::Nil);
    b.ok(3, Command::Get, 10, 90, s("t1,t2,"));
    b.ok(4, Command::Get, 10, 90, s("t2,t1,"));
    let why = assert_bad_append(&b);
    assert!(why.contains("disagree"), "{why}");
}

#[test]
fn append_token_never_written() {
    let mut b = Builder::new();
    b.ok(1, append("t1,"), 0, 10, Value::Nil);
    b.ok(2, Command::Get, 20, 30, s("t1,t9,"));
    let why = assert_bad_append(&b);
    assert!(why.contains("no operation appended"), "{why}");
}

#[test]
fn failed_append_visible() {
    let mut b = Builder::new();
    b.fail(1, append("t1,"), 0, 10);
    b.ok(2, Command::Get, 20, 30, s("t1,"));
    let why = assert_bad_append(&b);
    assert!(why.contains("failed"), "{why}");
}

#[test]
fn append_length_must_match_position() {
    let mut b = Builder::new();
    b.ok(1, append("t1,"), 0, 10, Value::Int(3));
    b.ok(1, append("t2,"), 20, 30, Value::Int(3));
    b.ok(2, Command::Get, 40, 50, s("t1,t2,"));
    let why = assert_bad_append(&b);
    assert!(why.contains("length"), "{why}");
}

#[test]
fn torn_append_read() {
    let mut b = Builder::new();
    b.ok(1, append("t1,"), 0, 10, Value::Nil);
    b.ok(2, Command::Get, 20, 30, s("t1"));
    assert_bad_append(&b);
}

#[test]
fn empty_string_read_is_impossible() {
    let mut b = Builder::new();
    b.ok(1, append("t1,"), 0, 10, Value::Nil);
    b.ok(2, Command::Get, 5, 30, s(""));
    let why = assert_bad_append(&b);
    assert!(why.contains("empty string"), "{why}");
}

// ---- append: known good ----

#[test]
fn concurrent_appends_and_reads() {
    let mut b = Builder::new();
    b.ok(1, append("t1,"), 0, 50, Value::Int(6));
    b.ok(2, append("t2,"), 10, 40, Value::Int(3));
    b.ok(3, Command::Get, 5, 15, Value::Nil);
    b.ok(3, Command::Get, 20, 45, s("t2,"));
    b.ok(4, Command::Get, 30, 60, s("t2,t1,"));
    b.ok(3, Command::Get, 70, 80, s("t2,t1,"));
    assert_good_append(&b);
}

#[test]
fn unknown_appends_seen_and_unseen() {
    let mut b = Builder::new();
    b.ok(1, append("t1,"), 0, 10, Value::Nil);
    b.info(2, append("t2,"), 5);
    b.info(3, append("t3,"), 6);
    b.fail(4, append("t4,"), 7, 8);
    b.ok(1, Command::Get, 20, 30, s("t1,"));
    b.ok(1, Command::Get, 40, 50, s("t1,t3,"));
    assert_good_append(&b);
}

#[test]
fn acknowledged_append_after_the_last_read() {
    let mut b = Builder::new();
    b.ok(1, Command::Get, 0, 10, Value::Nil);
    b.ok(1, append("t1,"), 5, 20, Value::Int(3));
    b.ok(2, append("t2,"), 25, 30, Value::Nil);
    assert_good_append(&b);
}

// ---- models and input ----

#[test]
fn append_model_rejects_register_commands() {
    let mut b = Builder::new();
    b.ok(1, set("a"), 0, 10, Value::Nil);
    let options = CheckOptions {
        model: Model::Append,
        ..CheckOptions::default()
    };
    assert!(matches!(
        check(&b.history, &options),
        Err(HistoryError::Model { .. })
    ));
}

#[test]
fn append_model_rejects_repeated_or_malformed_tokens() {
    for args in [["t1,", "t1,"], ["t1", "t2,"], ["t1,x,", "t2,"]] {
        let mut b = Builder::new();
        b.ok(1, append(args[0]), 0, 10, Value::Nil);
        b.ok(1, append(args[1]), 20, 30, Value::Nil);
        let options = CheckOptions {
            model: Model::Append,
            ..CheckOptions::default()
        };
        assert!(
            matches!(check(&b.history, &options), Err(HistoryError::Model { .. })),
            "{args:?}"
        );
    }
}

#[test]
fn auto_uses_register_search_for_free_form_appends() {
    let mut b = Builder::new();
    b.ok(1, append("ab"), 0, 10, Value::Int(2));
    b.ok(2, append("ab"), 20, 30, Value::Int(4));
    b.ok(3, Command::Get, 40, 50, s("abab"));
    assert_good(&b, Model::Auto);
}

#[test]
fn auto_uses_register_search_for_mixed_keys() {
    let mut b = Builder::new();
    b.ok(1, append("ab"), 0, 10, Value::Int(2));
    b.ok(1, set("x"), 20, 30, Value::Nil);
    b.ok(1, append("y"), 40, 50, Value::Int(2));
    b.ok(2, Command::Get, 60, 70, s("xy"));
    assert_good(&b, Model::Auto);
}
