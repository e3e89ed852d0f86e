//! History generators: small ones from proptest seeds, large ones from a simulated cluster.
//!
//! "Sequential" histories come from a real execution: operations get linearization points in
//! order, are executed against a model to compute their replies, and are then given call and
//! return times around their points (overlapping freely, but each client sequential). They are
//! linearizable by construction. "Random" histories have random replies and random intervals and
//! are mostly not.

use check::{Command, History, Op, Outcome, Value};
use proptest::prelude::*;

/// Raw material for one operation of a small history.
#[derive(Clone, Debug)]
pub struct Seed {
    pub client: u8,
    pub cmd: u8,
    pub val: u8,
    /// 0..100: ok, unknown-and-applied, unknown-and-not-applied, fail.
    pub kind: u8,
    pub back: u16,
    pub fwd: u16,
    pub no_ret: bool,
}

pub fn seeds(max_ops: usize) -> impl Strategy<Value = Vec<Seed>> {
    let seed = (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        0u8..100,
        any::<u16>(),
        any::<u16>(),
        any::<bool>(),
    )
        .prop_map(|(client, cmd, val, kind, back, fwd, no_ret)| Seed {
            client,
            cmd,
            val,
            kind,
            back,
            fwd,
            no_ret,
        });
    prop::collection::vec(seed, 1..=max_ops)
}

const VALUES: [&str; 5] = ["a", "b", "1", "2", "x"];

fn command(seed: &Seed, i: usize, append_mode: bool) -> Command {
    let v = VALUES[seed.val as usize % VALUES.len()].to_string();
    if append_mode {
        return match seed.cmd % 2 {
            0 => Command::Get,
            _ => Command::Append(format!("t{i},")),
        };
    }
    match seed.cmd % 5 {
        0 => Command::Get,
        1 => Command::Set(v),
        2 => Command::Del,
        3 => Command::GetSet(v),
        _ => Command::Incr,
    }
}

/// Executes `command` on `state`: the next state and the reply, or `None` if Redis would refuse
/// it (INCR of a non-integer), in which case nothing changes.
pub fn exec(state: &Option<String>, command: &Command) -> Option<(Option<String>, Value)> {
    let current = Value::from(state.clone());
    Some(match command {
        Command::Get => (state.clone(), current),
        Command::Set(v) => (Some(v.clone()), Value::Nil),
        Command::GetSet(v) => (Some(v.clone()), current),
        Command::Del => (None, Value::Int(i64::from(state.is_some()))),
        Command::Incr => {
            let n: i64 = match state {
                None => 0,
                Some(s) => s.parse().ok().filter(|n: &i64| n.to_string() == *s)?,
            };
            let n = n.checked_add(1)?;
            (Some(n.to_string()), Value::Int(n))
        }
        Command::Append(a) => {
            let next = format!("{}{a}", state.as_deref().unwrap_or(""));
            let len = next.len() as i64;
            (Some(next), Value::Int(len))
        }
    })
}

/// A linearizable history on key "k" from a real sequential execution with overlapping intervals.
pub fn sequential(seeds: &[Seed], clients: u8, append_mode: bool) -> History {
    let n = seeds.len();
    let point = |i: usize| 100 * (i as u64 + 1);
    let client_of = |s: &Seed| u64::from(s.client % clients.max(1));
    let mut state: Option<String> = None;
    let mut last_ret: Vec<u64> = vec![0; 256];
    let mut history = History::new();
    for (i, seed) in seeds.iter().enumerate() {
        let client = client_of(seed);
        let t = point(i);
        let next_t = (i + 1..n)
            .find(|&j| client_of(&seeds[j]) == client)
            .map_or(u64::MAX, point);
        let call = t
            .saturating_sub(u64::from(seed.back % 12) * 10)
            .max(last_ret[client as usize] + 1);
        let command = command(seed, i, append_mode);
        let (outcome, ret) = match seed.kind {
            0..76 => match exec(&state, &command) {
                Some((next, mut reply)) => {
                    state = next;
                    if matches!(command, Command::Append(_)) && seed.val % 2 == 0 {
                        reply = Value::Nil; // length not recorded
                    }
                    let ret = (t + u64::from(seed.fwd % 12) * 10).min(next_t - 1);
                    (Outcome::ok(reply), Some(ret))
                }
                None => (Outcome::fail("ERR not an integer"), Some(t)),
            },
            76..92 => {
                if seed.kind < 84 {
                    if let Some((next, _)) = exec(&state, &command) {
                        state = next;
                    }
                }
                let ret = (!seed.no_ret).then(|| call + u64::from(seed.fwd % 30));
                (Outcome::info("timeout"), ret)
            }
            _ => (Outcome::fail("ERR refused"), Some(t)),
        };
        if let Some(r) = ret {
            last_ret[client as usize] = r;
        }
        history.push(Op {
            id: i as u64,
            client,
            key: "k".to_string(),
            command,
            call_ns: call,
            ret_ns: ret,
            outcome,
        });
    }
    history
}

/// A history on key "k" with random replies and random intervals.
pub fn random(seeds: &[Seed], clients: u8, append_mode: bool) -> History {
    let appends: Vec<usize> = (0..seeds.len())
        .filter(|&i| append_mode && seeds[i].cmd % 2 == 1)
        .collect();
    let mut history = History::new();
    for (i, seed) in seeds.iter().enumerate() {
        let command = command(seed, i, append_mode);
        let v = seed.val;
        let reply = match &command {
            Command::Get if append_mode => {
                let len = v as usize % 4;
                let seq: String = (0..len)
                    .map(|j| {
                        let pick = (v as usize >> (2 * j)) % (appends.len() + 1);
                        appends
                            .get(pick)
                            .map_or("zz,".to_string(), |a| format!("t{a},"))
                    })
                    .collect();
                if seq.is_empty() && v % 8 == 0 {
                    Value::Nil
                } else {
                    Value::Str(seq)
                }
            }
            Command::Get | Command::GetSet(_) => match v % 4 {
                0 => Value::Nil,
                k => Value::from(VALUES[k as usize - 1]),
            },
            Command::Set(_) => Value::Nil,
            Command::Del => Value::Int(i64::from(v % 2)),
            Command::Incr => Value::Int(i64::from(v % 3) + 1),
            Command::Append(_) => match v % 3 {
                0 => Value::Nil,
                k => Value::Int(3 * i64::from(k)),
            },
        };
        // Coarse times, so that touching intervals (a return at another's call) are common.
        let call = u64::from(seed.back % 20) * 10;
        let ret = call + u64::from(seed.fwd % 8) * 10;
        let (outcome, ret) = match seed.kind {
            0..80 => (Outcome::ok(reply), Some(ret)),
            80..92 => (Outcome::info("timeout"), (!seed.no_ret).then_some(ret)),
            _ => (Outcome::fail("ERR"), Some(ret)),
        };
        history.push(Op {
            id: i as u64,
            client: u64::from(seed.client % clients.max(1)),
            key: "k".to_string(),
            command,
            call_ns: call,
            ret_ns: ret,
            outcome,
        });
    }
    history
}

/// Replaces the reply of the `which`-th `ok` operation with a plausible wrong-or-right one.
pub fn mutate(history: &History, which: usize, val: u8) -> History {
    let mut ops = history.ops().to_vec();
    let oks: Vec<usize> = (0..ops.len())
        .filter(|&i| matches!(ops[i].outcome, Outcome::Ok { .. }))
        .collect();
    if oks.is_empty() {
        return history.clone();
    }
    let op = &mut ops[oks[which % oks.len()]];
    let current = op
        .outcome
        .value()
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let reply = match &op.command {
        Command::Get if current.ends_with(',') => {
            // An append read: drop the last token or repeat the first.
            let mut tokens: Vec<&str> = current.split_terminator(',').collect();
            if val.is_multiple_of(2) {
                tokens.pop();
            } else if let Some(t) = tokens.first().copied() {
                tokens.push(t);
            }
            Value::Str(tokens.iter().map(|t| format!("{t},")).collect())
        }
        Command::Get | Command::GetSet(_) => match val % 4 {
            0 => Value::Nil,
            k => Value::from(VALUES[k as usize - 1]),
        },
        Command::Set(_) => Value::Nil,
        Command::Del => Value::Int(i64::from(val % 2)),
        Command::Incr => Value::Int(i64::from(val % 4)),
        Command::Append(_) => Value::Int(i64::from(val % 8)),
    };
    op.outcome = Outcome::ok(reply);
    History::from_ops(ops)
}

/// The seeded generator of the large simulations.
pub use check::Rng;

/// Settings of a simulated test run.
pub struct Sim {
    pub ops: usize,
    pub keys: usize,
    pub clients: usize,
    /// Append workload (get/append of unique tokens) instead of the register mix.
    pub append: bool,
    /// Key popularity skew: key = floor(keys * u^skew); 1.0 is uniform.
    pub skew: f64,
    /// Unknown-outcome operations per thousand.
    pub info_per_mille: u64,
    /// Refused (fail) operations per thousand.
    pub fail_per_mille: u64,
    pub seed: u64,
}

/// A large linearizable history: `clients` sequential clients with realistic latencies (0.2–2 ms,
/// a 1% tail to 20 ms), linearization points uniform inside each interval, unknown outcomes that
/// take effect half of the time (possibly after the client gave up), and for the append workload a
/// final read of every key.
pub fn simulate(sim: &Sim) -> History {
    struct Planned {
        client: u64,
        key: usize,
        command: Command,
        call: u64,
        ret: u64,
        point: u64,
        kind: u8, // 0 ok, 1 info applied, 2 info not applied, 3 fail
    }
    let mut rng = Rng::new(sim.seed);
    let mut plan: Vec<Planned> = Vec::with_capacity(sim.ops + sim.keys);
    let per_client = sim.ops / sim.clients;
    for client in 0..sim.clients as u64 {
        let mut t = rng.below(1_000);
        for n in 0..per_client {
            let call = t + rng.below(50_000);
            let mut dur = 200_000 + rng.below(1_800_000);
            if rng.below(100) == 0 {
                dur += rng.below(20_000_000);
            }
            let ret = call + dur;
            let key = ((sim.keys as f64) * rng.unit().powf(sim.skew)) as usize;
            let key = key.min(sim.keys - 1);
            let r = rng.below(100);
            let command = if sim.append {
                if r < 50 {
                    Command::Get
                } else {
                    Command::Append(format!("c{client}-{n},"))
                }
            } else if key % 5 == 4 {
                match r {
                    0..45 => Command::Get,
                    45..95 => Command::Incr,
                    _ => Command::Del,
                }
            } else {
                match r {
                    0..50 => Command::Get,
                    50..80 => Command::Set(format!("c{client}-{n}")),
                    80..90 => Command::GetSet(format!("c{client}-{n}")),
                    _ => Command::Del,
                }
            };
            let roll = rng.below(1000);
            let kind = if roll < sim.info_per_mille {
                1 + (rng.below(2) as u8)
            } else if roll < sim.info_per_mille + sim.fail_per_mille {
                3
            } else {
                0
            };
            let point = if kind == 1 {
                call + rng.below(2 * dur)
            } else {
                call + rng.below(dur + 1)
            };
            plan.push(Planned {
                client,
                key,
                command,
                call,
                ret,
                point,
                kind,
            });
            t = ret;
        }
    }
    if sim.append {
        let end = plan.iter().map(|p| p.ret.max(p.point)).max().unwrap_or(0) + 1_000;
        for key in 0..sim.keys {
            plan.push(Planned {
                client: sim.clients as u64,
                key,
                command: Command::Get,
                call: end,
                ret: end + 100_000,
                point: end + 50_000,
                kind: 0,
            });
        }
    }
    let mut order: Vec<usize> = (0..plan.len()).collect();
    order.sort_by_key(|&i| plan[i].point);
    let mut states: Vec<Option<String>> = vec![None; sim.keys];
    let mut outcomes: Vec<Option<Outcome>> = vec![None; plan.len()];
    for &i in &order {
        let p = &plan[i];
        let outcome = match p.kind {
            0 | 1 => match exec(&states[p.key], &p.command) {
                Some((next, reply)) => {
                    states[p.key] = next;
                    if p.kind == 0 {
                        Outcome::ok(reply)
                    } else {
                        Outcome::info("timeout")
                    }
                }
                None if p.kind == 0 => Outcome::fail("ERR value is not an integer"),
                None => Outcome::info("timeout"),
            },
            2 => Outcome::info("timeout"),
            _ => Outcome::fail("ERR refused"),
        };
        outcomes[i] = Some(outcome);
    }
    plan.into_iter()
        .zip(outcomes)
        .enumerate()
        .map(|(id, (p, outcome))| {
            let outcome = outcome.expect("every planned op executed");
            let ret_ns = match (&outcome, id % 2) {
                (Outcome::Info { .. }, 0) => None,
                _ => Some(p.ret),
            };
            Op {
                id: id as u64,
                client: p.client,
                key: format!("k{}", p.key),
                command: p.command,
                call_ns: p.call,
                ret_ns,
                outcome,
            }
        })
        .collect()
}
