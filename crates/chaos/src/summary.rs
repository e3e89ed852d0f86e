//! The one-line summary of a run, and what decides pass or fail.
//!
//! A run **passes** only if all of these hold: the checker found the history linearizable;
//! enough operations succeeded before the first fault and some after healing (the guards against
//! a vacuous pass); every node that should be a member accepted a write within the recovery
//! bound after healing; no node exited on its own. Anything else **fails**; a checker violation
//! is reported as such, since it is the finding that matters most. The summary line names the
//! result first, then the counts, so a list of runs can be read down its first column.
//!
//! Example:
//!
//! ```text
//! PASS seed=7 nodes=3 workload=register faults=mixed duration=180s | ops ok=9120 failed=311 indeterminate=42 | checked register=9162 | faults 11: kill-leader=2 partition-ring=1 ... | verdict: linearizable: 9473 operations on 40 keys
//! ```

use std::collections::BTreeMap;
use std::fmt;

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunResult {
    /// Linearizable, guards met, recovered.
    Pass,
    /// The checker found a linearizability violation.
    Violation,
    /// Anything else went wrong (undecided check, guards, recovery, crashed node, error).
    Fail,
}

impl RunResult {
    /// `PASS`, `VIOLATION` or `FAIL`.
    pub fn label(&self) -> &'static str {
        match self {
            RunResult::Pass => "PASS",
            RunResult::Violation => "VIOLATION",
            RunResult::Fail => "FAIL",
        }
    }

    /// The process exit code: 0 pass, 1 violation, 2 other failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunResult::Pass => 0,
            RunResult::Violation => 1,
            RunResult::Fail => 2,
        }
    }
}

/// Everything the summary line says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The seed.
    pub seed: u64,
    /// Initial cluster size.
    pub nodes: usize,
    /// Workload name.
    pub workload: String,
    /// Fault set name.
    pub faults: String,
    /// Planned client time, in seconds.
    pub duration_secs: u64,
    /// Unsafe server switches in force (`--unsafe-...`), if any.
    pub unsafe_flags: Vec<String>,
    /// Operations that returned a reply.
    pub ok: u64,
    /// Operations that definitely did not take effect.
    pub failed: u64,
    /// Operations whose outcome is unknown.
    pub indeterminate: u64,
    /// Operations the checker considered (ok and indeterminate), per model.
    pub checked: BTreeMap<String, u64>,
    /// Faults injected, per fault type.
    pub injected: BTreeMap<String, u64>,
    /// The checker's one-line verdict (or why there is none).
    pub verdict: String,
    /// Whether the checker found a violation.
    pub violation: bool,
    /// Every other reason the run failed.
    pub problems: Vec<String>,
}

impl Summary {
    /// Pass, violation or fail.
    pub fn result(&self) -> RunResult {
        if self.violation {
            RunResult::Violation
        } else if self.problems.is_empty() {
            RunResult::Pass
        } else {
            RunResult::Fail
        }
    }

    /// Total faults injected.
    pub fn faults_injected(&self) -> u64 {
        self.injected.values().sum()
    }

    /// The summary as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "result": self.result().label(),
            "seed": self.seed,
            "nodes": self.nodes,
            "workload": self.workload,
            "faults": self.faults,
            "duration_secs": self.duration_secs,
            "unsafe": self.unsafe_flags,
            "ops": {"ok": self.ok, "failed": self.failed, "indeterminate": self.indeterminate},
            "checked": self.checked,
            "faults_injected": self.injected,
            "verdict": self.verdict,
            "problems": self.problems,
        })
    }
}

fn pairs(map: &BTreeMap<String, u64>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} seed={} nodes={} workload={} faults={} duration={}s",
            self.result().label(),
            self.seed,
            self.nodes,
            self.workload,
            self.faults,
            self.duration_secs
        )?;
        for flag in &self.unsafe_flags {
            write!(f, " {flag}")?;
        }
        write!(
            f,
            " | ops ok={} failed={} indeterminate={}",
            self.ok, self.failed, self.indeterminate
        )?;
        let checked = if self.checked.is_empty() {
            "none".to_string()
        } else {
            pairs(&self.checked)
        };
        write!(f, " | checked {checked}")?;
        write!(f, " | faults {}", self.faults_injected())?;
        if !self.injected.is_empty() {
            write!(f, ": {}", pairs(&self.injected))?;
        }
        write!(f, " | verdict: {}", self.verdict)?;
        if !self.problems.is_empty() {
            write!(f, " | problems: {}", self.problems.join("; "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Summary {
        Summary {
            seed: 7,
            nodes: 3,
            workload: "register".into(),
            faults: "mixed".into(),
            duration_secs: 180,
            unsafe_flags: vec![],
            ok: 9120,
            failed: 311,
            indeterminate: 42,
            checked: BTreeMap::from([("register".into(), 9162)]),
            injected: BTreeMap::from([("kill-leader".into(), 2), ("partition-ring".into(), 1)]),
            verdict: "linearizable: 9473 operations on 40 keys".into(),
            violation: false,
            problems: vec![],
        }
    }

    #[test]
    fn a_passing_run_in_one_line() {
        let s = summary();
        assert_eq!(s.result(), RunResult::Pass);
        assert_eq!(
            s.to_string(),
            "PASS seed=7 nodes=3 workload=register faults=mixed duration=180s | ops ok=9120 failed=311 indeterminate=42 | checked register=9162 | faults 3: kill-leader=2 partition-ring=1 | verdict: linearizable: 9473 operations on 40 keys"
        );
        assert!(!s.to_string().contains('\n'));
    }

    #[test]
    fn problems_fail_and_violations_win() {
        let mut s = summary();
        s.problems
            .push("guard: only 3 ok operations before the first fault".into());
        assert_eq!(s.result(), RunResult::Fail);
        assert_eq!(s.result().exit_code(), 2);
        assert!(s.to_string().starts_with("FAIL "));
        assert!(s
            .to_string()
            .ends_with("| problems: guard: only 3 ok operations before the first fault"));
        s.violation = true;
        s.unsafe_flags.push("--unsafe-stale-reads".into());
        assert_eq!(s.result(), RunResult::Violation);
        assert_eq!(s.result().exit_code(), 1);
        assert!(s.to_string().starts_with(
            "VIOLATION seed=7 nodes=3 workload=register faults=mixed duration=180s --unsafe-stale-reads |"
        ));
    }

    #[test]
    fn json_has_the_same_facts() {
        let j = summary().to_json();
        assert_eq!(j["result"], "PASS");
        assert_eq!(j["ops"]["indeterminate"], 42);
        assert_eq!(j["faults_injected"]["kill-leader"], 2);
        assert_eq!(j["checked"]["register"], 9162);
    }
}
