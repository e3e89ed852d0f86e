//! The script runner: one `.script` file drives one [`SimCluster`] line by line, and every
//! reply is checked by an `expect` line right after the command (the format is described in
//! docs/testing.md, with an example; `scripts/*.script` are the cases).
//!
//! A failing line stops the script with the file, line number, the line, what went wrong and
//! the transcript so far. Every reply must be expected: a command whose replies are not all
//! checked before the next command (or the end) is an error, so a script cannot silently ignore
//! an answer.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::time::Duration;

use resp::Reply;

use super::cluster::{NodeId, SimCluster, Wait};

/// Run the script at `path` on a fresh cluster; return its transcript.
pub async fn run(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut runner = Runner {
        cluster: SimCluster::new(),
        replies: VecDeque::new(),
        recorded: HashMap::new(),
        transcript: String::new(),
    };
    let mut result = Ok(());
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        runner
            .transcript
            .push_str(&format!("{:>4}  {line}\n", i + 1));
        if let Err(e) = runner.step(line).await {
            result = Err(format!(
                "{}:{}: {line}\n    {e}\n--- transcript ---\n{}",
                path.display(),
                i + 1,
                runner.transcript
            ));
            break;
        }
    }
    if result.is_ok() {
        if let Some(r) = runner.replies.front() {
            result = Err(format!(
                "{}: the script ends with an unchecked reply {}",
                path.display(),
                render(r)
            ));
        }
    }
    runner.cluster.shutdown().await;
    result.map(|()| runner.transcript)
}

struct Runner {
    cluster: SimCluster,
    /// Replies of the last command not yet matched by `expect`.
    replies: VecDeque<Reply>,
    /// Values saved by `record N field`.
    recorded: HashMap<(NodeId, String), i64>,
    transcript: String,
}

impl Runner {
    async fn step(&mut self, line: &str) -> Result<(), String> {
        if let Some(want) = line.strip_prefix("expect") {
            return self.expect(want.trim());
        }
        if let Some(r) = self.replies.front() {
            return Err(format!(
                "the reply {} of the command before was not checked with `expect`",
                render(r)
            ));
        }
        if let Some((target, command)) = split_command(line) {
            return self.command(target, command).await;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["cluster", n] => self.cluster.start_cluster(number(n)?).await,
            ["start", n] => self.cluster.start_node(number(n)?, false).await,
            ["crash", n] => self.cluster.crash(number(n)?).await,
            ["restart", n] => self.cluster.restart(number(n)?).await,
            ["heal"] => {
                self.cluster.net().heal();
                Ok(())
            }
            ["partition", rest @ ..] => {
                let groups = partition_groups(rest)?;
                self.cluster.net().partition(&groups);
                Ok(())
            }
            ["cut", a, b] => {
                self.cluster.net().cut(number(a)?, number(b)?);
                Ok(())
            }
            ["delay", a, b, d] => {
                self.cluster
                    .net()
                    .delay(number(a)?, number(b)?, duration(d)?);
                Ok(())
            }
            ["wait", "leader", "in", ids @ ..] => self.cluster.wait_leader(&numbers(ids)?).await,
            ["wait", "caught-up", ids @ ..] => {
                let ids = if ids.is_empty() {
                    self.cluster.running_ids()
                } else {
                    numbers(ids)?
                };
                self.cluster.wait_caught_up(&ids).await
            }
            ["wait", cond, "on", ids @ ..] if cond.contains(">=+") => {
                self.wait_growth(cond, &numbers(ids)?).await
            }
            ["wait", cond, "on", ids @ ..] => {
                let (name, value) = cond
                    .split_once('=')
                    .ok_or_else(|| format!("`wait FIELD=VALUE on IDS...`, got {cond:?}"))?;
                self.cluster.wait_field(&numbers(ids)?, name, value).await
            }
            ["record", n, field] => {
                let id = number(n)?;
                let v = self.number_field(id, field).await?;
                self.recorded.insert((id, field.to_string()), v);
                self.note(format!("{field} = {v}"));
                Ok(())
            }
            ["check", n, cond] => self.check(number(n)?, cond).await,
            _ => Err("unknown line (see docs/testing.md for the script format)".into()),
        }
    }

    /// `N> CMD ...`, `leader> CMD ...`, or `pipe N> CMD ... ; CMD ...`.
    async fn command(&mut self, target: &str, command: &str) -> Result<(), String> {
        let (pipelined, target) = match target.strip_prefix("pipe ") {
            Some(t) => (true, t.trim()),
            None => (false, target),
        };
        let id = match target {
            "leader" => self.cluster.current_leader().await?,
            n => number(n)?,
        };
        let words = tokenize(command)?;
        let words = self.substitute(words)?;
        let commands: Vec<Vec<&str>> = if pipelined {
            words
                .split(|w| w == ";")
                .map(|c| c.iter().map(String::as_str).collect())
                .collect()
        } else {
            vec![words.iter().map(String::as_str).collect()]
        };
        if commands.iter().any(Vec::is_empty) {
            return Err("an empty command".into());
        }
        let replies = self.cluster.pipeline(id, &commands).await?;
        for r in &replies {
            self.note(render(r));
        }
        self.replies.extend(replies);
        Ok(())
    }

    fn expect(&mut self, want: &str) -> Result<(), String> {
        let got = self
            .replies
            .pop_front()
            .ok_or_else(|| "no reply left to expect".to_string())?;
        let got = render(&got);
        let matches = match want.strip_suffix('*') {
            Some(prefix) => got.starts_with(prefix),
            None => got == want,
        };
        if matches {
            Ok(())
        } else {
            Err(format!("expected {want}\n    got      {got}"))
        }
    }

    /// `check N FIELD=VALUE` (exactly) or `check N FIELD=+D` (D more than `record`ed).
    async fn check(&mut self, id: NodeId, cond: &str) -> Result<(), String> {
        let (field, want) = cond
            .split_once('=')
            .ok_or_else(|| format!("`check N FIELD=VALUE` or `FIELD=+D`, got {cond:?}"))?;
        if let Some(delta) = want.strip_prefix('+') {
            let delta: i64 = delta.parse().map_err(|_| format!("bad delta {delta:?}"))?;
            let before = *self
                .recorded
                .get(&(id, field.to_string()))
                .ok_or_else(|| format!("`record {id} {field}` first"))?;
            let now = self.number_field(id, field).await?;
            self.note(format!("{field} = {now}"));
            if now - before != delta {
                return Err(format!(
                    "{field} on node {id} went from {before} to {now} (+{}), expected +{delta}",
                    now - before
                ));
            }
            return Ok(());
        }
        let now = self.cluster.field(id, field).await?;
        self.note(format!("{field} = {now}"));
        if now == want {
            Ok(())
        } else {
            Err(format!(
                "{field} on node {id} is {now:?}, expected {want:?}"
            ))
        }
    }

    /// `wait FIELD>=+D on IDS`: until the field grew by at least D since `record` on each node.
    async fn wait_growth(&mut self, cond: &str, ids: &[NodeId]) -> Result<(), String> {
        let (field, delta) = cond.split_once(">=+").expect("checked by the caller");
        let delta: i64 = delta.parse().map_err(|_| format!("bad delta {delta:?}"))?;
        let mut base = Vec::new();
        for &id in ids {
            let before = *self
                .recorded
                .get(&(id, field.to_string()))
                .ok_or_else(|| format!("`record {id} {field}` first"))?;
            base.push((id, before));
        }
        let mut wait = Wait::new(format!("{field} to grow by {delta} on nodes {ids:?}"));
        loop {
            let mut look = Ok(true);
            for &(id, before) in &base {
                match self.number_field(id, field).await {
                    Ok(now) if now - before >= delta => {}
                    Ok(now) => {
                        wait.saw(format!("node {id}: {before} -> {now}"));
                        look = Ok(false);
                        break;
                    }
                    Err(e) => {
                        look = Err(e);
                        break;
                    }
                }
            }
            if wait.next(look).await? {
                return Ok(());
            }
        }
    }

    async fn number_field(&mut self, id: NodeId, field: &str) -> Result<i64, String> {
        let v = self.cluster.field(id, field).await?;
        v.parse()
            .map_err(|_| format!("{field} on node {id} is {v:?}, not a number"))
    }

    /// Replace `$peerN` and `$clientN` with node N's addresses.
    fn substitute(&self, words: Vec<String>) -> Result<Vec<String>, String> {
        words
            .into_iter()
            .map(|w| {
                let addr = |n: &str, client: bool| {
                    let (peer, cl) = self.cluster.addrs(number(n)?)?;
                    Ok(if client { cl } else { peer })
                };
                if let Some(n) = w.strip_prefix("$peer") {
                    addr(n, false)
                } else if let Some(n) = w.strip_prefix("$client") {
                    addr(n, true)
                } else {
                    Ok(w)
                }
            })
            .collect()
    }

    fn note(&mut self, s: String) {
        self.transcript.push_str(&format!("      -> {s}\n"));
    }
}

/// `("1", "SET k v")` from `1> SET k v`; `("pipe 1", ...)` from `pipe 1> ...`.
fn split_command(line: &str) -> Option<(&str, &str)> {
    let (target, command) = line.split_once("> ")?;
    let t = target.strip_prefix("pipe ").unwrap_or(target);
    (t == "leader" || t.parse::<NodeId>().is_ok()).then_some((target, command.trim()))
}

/// Words of a command: split on spaces, `"..."` keeps spaces (with `\"`, `\\`, `\n` escapes).
fn tokenize(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut w = String::new();
        if c == '"' {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(format!("unterminated quote in {s:?}")),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some('n') => w.push('\n'),
                        Some(e) => w.push(e),
                        None => return Err(format!("dangling backslash in {s:?}")),
                    },
                    Some(ch) => w.push(ch),
                }
            }
        } else {
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() {
                    break;
                }
                w.push(ch);
                chars.next();
            }
        }
        words.push(w);
    }
    Ok(words)
}

/// A reply as one line, in `redis-cli` style: `OK`, `"v"`, `(nil)`, `(integer) 3`,
/// `(error) ERR ...`, `["a", (integer) 1]`.
pub fn render(r: &Reply) -> String {
    match r {
        Reply::Simple(s) => s.to_string(),
        Reply::Error(e) => format!("(error) {e}"),
        Reply::Integer(i) => format!("(integer) {i}"),
        Reply::Bulk(b) => format!("{:?}", String::from_utf8_lossy(b)),
        Reply::Null | Reply::NullArray => "(nil)".into(),
        Reply::Array(items) | Reply::Set(items) => {
            let inner: Vec<String> = items.iter().map(render).collect();
            format!("[{}]", inner.join(", "))
        }
        Reply::Map(pairs) => {
            let inner: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}: {}", render(k), render(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
        Reply::Keyed(pairs) => {
            let inner: Vec<String> = pairs
                .iter()
                .map(|(key, value)| format!("[{}, {}]", render(key), render(value)))
                .collect();
            format!("[{}]", inner.join(", "))
        }
        Reply::Pairs(pairs) => {
            let inner: Vec<String> = pairs
                .iter()
                .flat_map(|(member, score)| [render(member), render(score)])
                .collect();
            format!("[{}]", inner.join(", "))
        }
        Reply::Double(d) => format!("(double) {d}"),
        // As RESP2 shows it (a bulk string), which the scripts' expectations use.
        Reply::Score(d) => format!("{:?}", resp::format_score(*d)),
        Reply::Boolean(b) => format!("({b})"),
        Reply::Verbatim(s) => format!("{s:?}"),
    }
}

fn number(s: &str) -> Result<NodeId, String> {
    s.parse().map_err(|_| format!("{s:?} is not a node id"))
}

fn numbers(ss: &[&str]) -> Result<Vec<NodeId>, String> {
    if ss.is_empty() {
        return Err("name at least one node".into());
    }
    ss.iter().map(|s| number(s)).collect()
}

/// `partition 1 | 2 3` -> `[[1], [2, 3]]`.
fn partition_groups(words: &[&str]) -> Result<Vec<Vec<NodeId>>, String> {
    let groups: Vec<Vec<NodeId>> = words
        .split(|w| *w == "|")
        .map(numbers)
        .collect::<Result<_, _>>()?;
    if groups.len() < 2 {
        return Err("a partition needs at least two groups: `partition 1 | 2 3`".into());
    }
    Ok(groups)
}

/// `150ms` or `2s`.
fn duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration like 150ms or 2s");
    if let Some(ms) = s.strip_suffix("ms") {
        return ms.parse().map(Duration::from_millis).map_err(|_| bad());
    }
    if let Some(secs) = s.strip_suffix('s') {
        return secs.parse().map(Duration::from_secs).map_err(|_| bad());
    }
    Err(bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_name_a_node_or_the_leader() {
        assert_eq!(split_command("1> SET k v"), Some(("1", "SET k v")));
        assert_eq!(split_command("leader> GET k"), Some(("leader", "GET k")));
        assert_eq!(
            split_command("pipe 2> SET a 1 ; GET a"),
            Some(("pipe 2", "SET a 1 ; GET a"))
        );
        assert_eq!(split_command("expect OK"), None);
        assert_eq!(split_command("wait raft_role=leader on 1"), None);
    }

    #[test]
    fn quotes_keep_spaces_and_escapes() {
        assert_eq!(
            tokenize(r#"SET "a b" "say \"hi\"\n" x"#).unwrap(),
            vec!["SET", "a b", "say \"hi\"\n", "x"]
        );
        assert!(tokenize(r#"SET "open"#).is_err());
    }

    #[test]
    fn partitions_need_two_groups() {
        assert_eq!(
            partition_groups(&["1", "2", "|", "3"]).unwrap(),
            vec![vec![1, 2], vec![3]]
        );
        assert!(partition_groups(&["1", "2"]).is_err());
        assert!(partition_groups(&["1", "|"]).is_err());
    }

    #[test]
    fn replies_render_as_redis_cli_shows_them() {
        let r = Reply::Array(vec![
            Reply::Bulk("x".into()),
            Reply::Integer(2),
            Reply::Null,
            Reply::Error("ERR no".into()),
            Reply::Simple("OK".into()),
        ]);
        assert_eq!(
            render(&r),
            r#"["x", (integer) 2, (nil), (error) ERR no, OK]"#
        );
        assert_eq!(duration("150ms").unwrap(), Duration::from_millis(150));
        assert!(duration("150").is_err());
    }
}
