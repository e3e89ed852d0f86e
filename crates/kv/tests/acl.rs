//! ACL rules and checks (see `kv::acl`): parsing, Redis 7's reply texts (checked against
//! redis-server 7.0.15), the rule list ACL LIST shows and its round trip, replication through
//! `Store::apply`, and the snapshot.

use bytes::Bytes;
use kv::acl::{category, AclCommand, Target, User};
use kv::{Command, Store};
use resp::Reply;

fn args(line: &str) -> Vec<Bytes> {
    line.split(' ')
        .map(|a| Bytes::from(a.to_string()))
        .collect()
}

/// Applies `ACL SETUSER/DELUSER ...` as the node does (parse, then through the store).
fn acl(store: &mut Store, line: &str) -> Reply {
    match AclCommand::parse(&args(line)).expect("an ACL change") {
        Ok(cmd) => store.apply(1, &cmd),
        Err(e) => e.to_reply(),
    }
}

fn user(store: &Store, name: &str) -> User {
    store
        .acl()
        .user(name.as_bytes())
        .expect("user exists")
        .clone()
}

fn rules(store: &Store, name: &str) -> String {
    user(store, name).rules().join(" ")
}

#[test]
fn setuser_builds_the_user_acl_list_shows() {
    let mut s = Store::new();
    assert_eq!(
        acl(
            &mut s,
            "ACL SETUSER alice on >p1 ~k* %R~r* &ch* +@read -@dangerous +set +config|get"
        ),
        Reply::ok()
    );
    assert_eq!(
        rules(&s, "alice"),
        "on #f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a ~k* %R~r* \
         resetchannels &ch* -@all +@read -@dangerous +set +config|get"
    );
    // Redis's text for a new user with no rules.
    assert_eq!(acl(&mut s, "ACL SETUSER bob"), Reply::ok());
    assert_eq!(rules(&s, "bob"), "off resetchannels -@all");
    // A later rule for the same command replaces the earlier one; +@all starts over.
    acl(&mut s, "ACL SETUSER bob +get -get +@all -@all +get allkeys");
    assert_eq!(rules(&s, "bob"), "off ~* resetchannels -@all +get");
    acl(&mut s, "ACL SETUSER bob +config|get +config");
    assert_eq!(rules(&s, "bob"), "off ~* resetchannels -@all +get +config");
    // The default user starts as Redis's.
    acl(&mut s, "ACL SETUSER default");
    assert_eq!(rules(&s, "default"), "on nopass ~* &* +@all");
}

#[test]
fn the_rules_shown_rebuild_the_same_user() {
    let mut s = Store::new();
    for line in [
        "ACL SETUSER a on >x >y ~k* %W~w* %R~r* &c* +@read -@dangerous +set -get +client|id",
        "ACL SETUSER b on nopass allkeys allchannels +@all -@admin -flushall",
        "ACL SETUSER c off #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4",
    ] {
        assert_eq!(acl(&mut s, line), Reply::ok(), "{line}");
    }
    for name in ["a", "b", "c"] {
        let original = user(&s, name);
        let mut rebuilt = User::default();
        for rule in original.rules() {
            rebuilt.apply_rule(rule.as_bytes()).unwrap();
        }
        assert_eq!(rebuilt, original, "{name}");
    }
}

#[test]
fn refused_rules_answer_redis_texts_and_change_nothing() {
    let mut s = Store::new();
    acl(&mut s, "ACL SETUSER x on ~*");
    let before = s.acl().clone();
    for (line, reply) in [
        ("ACL SETUSER x bogus", "ERR Error in ACL SETUSER modifier 'bogus': Syntax error"),
        ("ACL SETUSER x +nosuch", "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"),
        ("ACL SETUSER x +@nosuch", "ERR Error in ACL SETUSER modifier '+@nosuch': Unknown command or category name in ACL"),
        ("ACL SETUSER x +config|nosuch", "ERR Error in ACL SETUSER modifier '+config|nosuch': Unknown command or category name in ACL"),
        ("ACL SETUSER x #abc", "ERR Error in ACL SETUSER modifier '#abc': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"),
        ("ACL SETUSER x ~k*", "ERR Error in ACL SETUSER modifier '~k*': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"),
        // All or nothing: `off` before the bad rule is not kept.
        ("ACL SETUSER x off +bad", "ERR Error in ACL SETUSER modifier '+bad': Unknown command or category name in ACL"),
        ("ACL DELUSER default", "ERR The 'default' user cannot be removed"),
    ] {
        assert_eq!(acl(&mut s, line), Reply::error(reply), "{line}");
    }
    assert_eq!(s.acl(), &before);
    assert!(user(&s, "x").enabled);
    assert_eq!(acl(&mut s, "ACL DELUSER x nobody"), Reply::Integer(1));
    assert!(s.acl().user(b"x").is_none());
}

#[test]
fn passwords_travel_hashed() {
    let parsed = AclCommand::parse(&args("ACL SETUSER u >secret <old"))
        .unwrap()
        .unwrap();
    let Command::Acl(AclCommand::SetUser { rules, .. }) = &parsed else {
        panic!("{parsed:?}")
    };
    let hex = |p: &[u8]| kv::acl::user::hex(&kv::acl::user::hash_password(p));
    assert_eq!(rules[0], format!("#{}", hex(b"secret")));
    assert_eq!(rules[1], format!("!{}", hex(b"old")));
    assert_eq!(
        hex(b"secret"),
        "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b",
        "redis-server 7.0.15 shows this digest for requirepass secret"
    );
    let encoded = postcard::to_allocvec(&parsed).unwrap();
    assert!(!encoded.windows(6).any(|w| w == b"secret"));
    let mut s = Store::new();
    acl(&mut s, "ACL SETUSER u on >secret");
    let u = user(&s, "u");
    assert!(u.password_matches(b"secret"));
    assert!(!u.password_matches(b"Secret"));
    // `<pass` removes by hash; a password the user lacks is Redis's error.
    assert_eq!(
        acl(&mut s, "ACL SETUSER u <nope"),
        Reply::error(format!(
            "ERR Error in ACL SETUSER modifier '!{}': The password you are trying to remove from the user does not exist",
            hex(b"nope")
        ))
    );
    acl(&mut s, "ACL SETUSER u <secret");
    assert!(!user(&s, "u").password_matches(b"secret"));
}

#[test]
fn checks_follow_the_rules() {
    let mut s = Store::new();
    acl(
        &mut s,
        "ACL SETUSER alice on >p ~k* %R~r* %W~w* &ch* +@read -@dangerous +set +config|get",
    );
    let alice = user(&s, "alice");
    let may = |line: &str| alice.may_run(&category::target(&args(line)));
    assert!(may("GET k"));
    assert!(may("get k"));
    assert!(may("SET k v"));
    assert!(may("CONFIG GET maxmemory"));
    assert!(!may("CONFIG SET maxmemory 1"));
    assert!(!may("KEYS *"), "keys is @dangerous");
    assert!(!may("DEL k"));
    assert!(!may("FLUSHALL"));
    assert!(!may("RAFTKV MEMBER LIST"));
    assert!(!may("ACL WHOAMI"));
    // An unknown command is not refused here (it fails as unknown).
    assert_eq!(category::target(&args("NOSUCH")), Target::Unknown);
    assert!(alice.may_access_key(b"k1", false) && alice.may_access_key(b"k1", true));
    assert!(alice.may_access_key(b"r1", false) && !alice.may_access_key(b"r1", true));
    assert!(!alice.may_access_key(b"w1", false) && alice.may_access_key(b"w1", true));
    assert!(!alice.may_access_key(b"x", false));
    assert!(alice.may_access_channel(b"chat", false));
    assert!(!alice.may_access_channel(b"news", false));
    // PSUBSCRIBE patterns must be one of the user's patterns, literally.
    assert!(alice.may_access_channel(b"ch*", true));
    assert!(!alice.may_access_channel(b"c*", true));
    assert!(!alice.may_access_channel(b"chat", true));
}

#[test]
fn admin_category_holds_raftkv_admin_commands() {
    let mut s = Store::new();
    acl(&mut s, "ACL SETUSER ops on nopass +@admin");
    acl(&mut s, "ACL SETUSER app on nopass +@all -@admin");
    let ops = user(&s, "ops");
    let app = user(&s, "app");
    for line in [
        "RAFTKV MEMBER ADD 4 a:1 b:2",
        "RAFTKV SNAPSHOT SAVE",
        "RAFTKV FAULT HEAL",
        "FLUSHALL",
        "CONFIG SET maxmemory 1",
        "CONFIG GET maxmemory",
        "ACL SETUSER x",
    ] {
        let target = category::target(&args(line));
        assert!(ops.may_run(&target), "{line}");
        assert!(!app.may_run(&target), "{line}");
    }
    assert!(app.may_run(&category::target(&args("GET k"))));
}

#[test]
fn users_survive_a_snapshot() {
    let mut s = Store::new();
    acl(
        &mut s,
        "ACL SETUSER alice on >p ~k* &ch* +@read -@dangerous",
    );
    acl(&mut s, "ACL SETUSER default resetpass >secret");
    s.apply(1, &Command::parse(&args("SET k v")).unwrap());
    let mut bytes = Vec::new();
    s.write_snapshot(&mut bytes).unwrap();
    let back = Store::read_snapshot(&mut bytes.as_slice()).unwrap();
    assert_eq!(back, s);
    assert_eq!(back.acl().len(), 2);
    assert!(user(&back, "default").password_matches(b"secret"));
}
