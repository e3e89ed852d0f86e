//! `COMMAND` and its subcommands, answered from [`kv::command_table`].
//!
//! Every reply is generated from the one command table, so `COMMAND COUNT`, `COMMAND LIST`,
//! `COMMAND INFO` and `COMMAND DOCS` agree with each other and with the arity checks, and never
//! list a command raftkv does not serve. `COMMAND DOCS` is what `redis-cli` reads at start for
//! `help <command>` and its inline hints: each command's syntax travels as one argument whose
//! name is the whole syntax line, which redis-cli prints as is.
//!
//! `COMMAND INFO` rows follow Redis 7's layout: name, arity, flags, first key, last key, step,
//! ACL categories (Redis 7.0's, see `kv::acl::category`; none for a container command), tips
//! (none), key specifications (none), subcommands (none).

use bytes::Bytes;
use kv::command_table::{lookup, CommandSpec, COMMAND_TABLE};
use resp::Reply;

use super::errors::unknown_subcommand;
use super::help;

fn upper(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_ascii_uppercase()
}

/// Handle `COMMAND [COUNT | LIST | INFO | DOCS | HELP ...]`.
pub fn command(args: &[Bytes]) -> Reply {
    let Some(sub) = args.get(1) else {
        return Reply::Array(COMMAND_TABLE.iter().map(info).collect());
    };
    let rest = &args[2..];
    match upper(sub).as_str() {
        "COUNT" if rest.is_empty() => Reply::Integer(COMMAND_TABLE.len() as i64),
        "LIST" => list(rest),
        "INFO" if rest.is_empty() => Reply::Array(COMMAND_TABLE.iter().map(info).collect()),
        "INFO" => Reply::Array(
            rest.iter()
                .map(|n| lookup(n).map_or(Reply::Null, info))
                .collect(),
        ),
        "DOCS" if rest.is_empty() => Reply::Map(COMMAND_TABLE.iter().map(docs).collect()),
        "DOCS" => Reply::Map(rest.iter().filter_map(|n| lookup(n)).map(docs).collect()),
        "HELP" if rest.is_empty() => help::reply(help::COMMAND),
        "COUNT" | "HELP" => Reply::error(format!(
            "ERR wrong number of arguments for 'command|{}' command",
            upper(sub).to_lowercase()
        )),
        _ => unknown_subcommand("command", sub),
    }
}

/// `COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]`. raftkv has no
/// modules, so that filter matches nothing; `ACLCAT` lists the commands in the category.
fn list(rest: &[Bytes]) -> Reply {
    let names = |keep: &dyn Fn(&CommandSpec) -> bool| {
        Reply::Array(
            COMMAND_TABLE
                .iter()
                .filter(|c| keep(c))
                .map(|c| Reply::bulk(c.name))
                .collect(),
        )
    };
    match rest {
        [] => names(&|_| true),
        [filterby, kind, value] if upper(filterby) == "FILTERBY" => match upper(kind).as_str() {
            "PATTERN" => names(&|c| kv::glob_match(value, c.name.as_bytes())),
            "ACLCAT" => {
                let cat = String::from_utf8_lossy(value).to_lowercase();
                names(&|c| kv::acl::category::categories_of(c.name).contains(&cat.as_str()))
            }
            "MODULE" => Reply::Array(vec![]),
            _ => Reply::error("ERR syntax error"),
        },
        _ => Reply::error("ERR syntax error"),
    }
}

/// One `COMMAND INFO` row.
fn info(c: &CommandSpec) -> Reply {
    Reply::Array(vec![
        Reply::bulk(c.name),
        Reply::Integer(c.arity.into()),
        Reply::Set(c.flags.iter().map(|f| Reply::Simple((*f).into())).collect()),
        Reply::Integer(c.first_key.into()),
        Reply::Integer(c.last_key.into()),
        Reply::Integer(c.key_step.into()),
        Reply::Set(
            kv::acl::category::categories_of(c.name)
                .iter()
                .map(|cat| Reply::Simple(format!("@{cat}").into()))
                .collect(),
        ),
        Reply::Array(vec![]),
        Reply::Array(vec![]),
        Reply::Array(vec![]),
    ])
}

/// One `COMMAND DOCS` entry: name → {summary, since, group, complexity, arguments}.
fn docs(c: &CommandSpec) -> (Reply, Reply) {
    let mut doc = vec![
        (Reply::bulk("summary"), Reply::bulk(c.summary)),
        (Reply::bulk("since"), Reply::bulk(c.since)),
        (Reply::bulk("group"), Reply::bulk(c.group)),
    ];
    if !c.syntax.is_empty() {
        let argument = Reply::Map(vec![
            (Reply::bulk("name"), Reply::bulk(c.syntax)),
            (Reply::bulk("type"), Reply::bulk("string")),
            (Reply::bulk("display_text"), Reply::bulk(c.syntax)),
        ]);
        doc.push((Reply::bulk("arguments"), Reply::Array(vec![argument])));
    }
    (Reply::bulk(c.name), Reply::Map(doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(words: &[&str]) -> Reply {
        let args: Vec<Bytes> = words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        command(&args)
    }

    #[test]
    fn count_list_info_and_docs_come_from_the_table() {
        assert_eq!(
            call(&["COMMAND", "COUNT"]),
            Reply::Integer(COMMAND_TABLE.len() as i64)
        );
        let Reply::Array(names) = call(&["command", "list"]) else {
            panic!("LIST is an array")
        };
        assert_eq!(names.len(), COMMAND_TABLE.len());
        let Reply::Array(rows) = call(&["COMMAND", "INFO", "get", "nosuch"]) else {
            panic!("INFO is an array")
        };
        assert_eq!(rows[1], Reply::Null);
        let Reply::Array(get) = &rows[0] else {
            panic!("a row is an array")
        };
        assert_eq!(get[1], Reply::Integer(2));
        let Reply::Map(docs) = call(&["COMMAND", "DOCS", "SET", "nosuch"]) else {
            panic!("DOCS is a map")
        };
        assert_eq!(docs.len(), 1, "an unknown command has no docs");
        let text = format!("{docs:?}");
        assert!(text.contains("Set the string value of a key"), "{text}");
        assert!(text.contains("key value [NX | XX]"), "{text}");
        let Reply::Array(hashes) = call(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "h*"]) else {
            panic!("LIST is an array")
        };
        assert!(hashes.contains(&Reply::bulk("hset")) && hashes.contains(&Reply::bulk("hello")));
        assert!(!hashes.contains(&Reply::bulk("get")));
    }

    #[test]
    fn bad_subcommands_get_redis_errors() {
        assert_eq!(
            call(&["COMMAND", "nope"]),
            Reply::error("ERR unknown subcommand 'nope'. Try COMMAND HELP.")
        );
        assert!(matches!(call(&["COMMAND", "HELP"]), Reply::Array(_)));
    }
}
