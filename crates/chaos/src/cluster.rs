//! The cluster under test: which node runs in which slot, who should be a member, and the
//! operations faults are made of.
//!
//! Slots are fixed (network namespaces with fixed addresses, created up front: the initial nodes
//! plus [`SPARE_SLOTS`] for growing); node identities come and go. The cluster keeps, per slot,
//! the current [`NodeProcess`] and whether the suite *intends* it to be a member. Intent and
//! reality can differ for a while: a `MEMBER REMOVE` sent to an isolated leader times out with
//! its outcome unknown, a `MEMBER ADD` during a partition may never finish. Nothing here guesses;
//! after every fault has healed, [`Cluster::reconcile`] compares the intent with the membership
//! the leader reports and repeats whatever did not take, within a bound.
//!
//! Node ids are never reused: a node removed and re-added in the same slot starts with a new id
//! and an empty data directory, as raftkv requires.
//!
//! Every admin call has a deadline (see [`crate::admin`]), and every wait here is bounded.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::admin;
use crate::clock::Clocks;
use crate::disk::{Disks, EXIT_STORAGE_FAILURE};
use crate::events::EventLog;
use crate::net::Network;
use crate::partition::{minority_size, Grudge};
use crate::process::{NodeProcess, NodeSpec, StartMode};
use crate::report::ReportDir;
use crate::wait::poll_until;
use check::Rng;

/// Slots beyond the initial cluster, for growing it.
pub const SPARE_SLOTS: usize = 2;
/// How long a started node may take to answer PING.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the initial cluster may take to elect a leader and seat every voter.
pub const FORM_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between two polls of a condition.
pub const POLL: Duration = Duration::from_millis(100);
/// Pause between two rounds of [`Cluster::reconcile`].
pub const RECONCILE_PAUSE: Duration = Duration::from_millis(500);
/// Leader heartbeat passed to every node, in milliseconds.
pub const HEARTBEAT_MS: u64 = 100;
/// Election timeout bounds passed to every node, in milliseconds.
pub const ELECTION_TIMEOUT_MS: (u64, u64) = (500, 1000);
/// Applied entries between snapshots, passed to every node: far below the default so that every
/// run builds snapshots, purges logs and sends snapshots to restarted and re-added nodes.
pub const SNAPSHOT_THRESHOLD: u64 = 5_000;

/// How to start nodes.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// The `raftkv` binary.
    pub binary: std::path::PathBuf,
    /// Unsafe switches passed to every node.
    pub unsafe_flags: Vec<String>,
    /// Run nodes under libfaketime.
    pub faketime: bool,
    /// Put every data directory on a tmpfs of its own (for the disk fault; needs root).
    pub tmpfs_data: bool,
}

/// The nodes, their slots, and the intended membership.
#[derive(Debug)]
pub struct Cluster {
    nodes: Vec<Option<NodeProcess>>,
    members: BTreeSet<usize>,
    next_id: u64,
    opts: ClusterOptions,
    report: ReportDir,
    events: Arc<EventLog>,
    /// The clocks, when nodes run under libfaketime.
    pub clocks: Option<Clocks>,
    /// Exits nobody asked for, as sentences.
    pub unexpected_exits: Vec<String>,
    /// Slots whose disk is full: their exit with the storage-failure status is expected.
    disk_full: BTreeSet<usize>,
    /// The data directories' tmpfs mounts; dropped after the processes.
    disks: Disks,
    /// Declared last: dropped after the processes.
    net: Network,
}

impl Cluster {
    /// A cluster with no nodes yet on `net`.
    pub fn new(
        net: Network,
        opts: ClusterOptions,
        report: ReportDir,
        events: Arc<EventLog>,
    ) -> anyhow::Result<Cluster> {
        let clocks = if opts.faketime {
            Some(Clocks::new(&report.clock_dir(), net.slots())?)
        } else {
            None
        };
        Ok(Cluster {
            nodes: (0..net.slots()).map(|_| None).collect(),
            members: BTreeSet::new(),
            next_id: 1,
            opts,
            report,
            events,
            clocks,
            unexpected_exits: Vec::new(),
            disk_full: BTreeSet::new(),
            disks: Disks::default(),
            net,
        })
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.nodes.len()
    }

    /// The network.
    pub fn net(&self) -> &Network {
        &self.net
    }

    /// A slot's client address.
    pub fn client_addr(&self, slot: usize) -> String {
        format!("{}:{}", self.net.addr(slot), crate::net::CLIENT_PORT)
    }

    /// The slots intended to be members, in order.
    pub fn members(&self) -> Vec<usize> {
        self.members.iter().copied().collect()
    }

    /// The id of the node in `slot`, if any.
    pub fn id_of(&self, slot: usize) -> Option<u64> {
        self.nodes[slot].as_ref().map(|n| n.spec.id)
    }

    fn slot_of(&self, id: u64) -> Option<usize> {
        (0..self.slots()).find(|&s| self.id_of(s) == Some(id))
    }

    fn describe(&self, slot: usize) -> String {
        match self.id_of(slot) {
            Some(id) => format!("n{id}@slot{slot}"),
            None => format!("slot{slot}"),
        }
    }

    /// Describes several slots.
    pub fn describe_all(&self, slots: &[usize]) -> String {
        slots
            .iter()
            .map(|&s| self.describe(s))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn spec(&self, slot: usize, id: u64, start: StartMode) -> NodeSpec {
        let mut extra = vec![
            "--heartbeat-interval-ms".to_string(),
            HEARTBEAT_MS.to_string(),
            "--election-timeout-ms-min".to_string(),
            ELECTION_TIMEOUT_MS.0.to_string(),
            "--election-timeout-ms-max".to_string(),
            ELECTION_TIMEOUT_MS.1.to_string(),
            "--snapshot-threshold".to_string(),
            SNAPSHOT_THRESHOLD.to_string(),
        ];
        // Test-only hook, harmless with fsync on: SIGUSR1 simulates a power cut.
        extra.push("--unsafe-power-loss-signal".to_string());
        extra.extend(self.opts.unsafe_flags.iter().cloned());
        NodeSpec {
            id,
            slot,
            ns: self.net.ns(slot),
            addr: self.net.addr(slot),
            binary: self.opts.binary.clone(),
            data_dir: self.report.data_dir(slot, id),
            log: self.report.node_log(slot, id),
            start,
            extra,
            faketime_file: self.clocks.as_ref().map(|c| c.file(slot)),
        }
    }

    /// Starts a new node identity in an empty slot.
    fn launch(&mut self, slot: usize, start: StartMode) -> anyhow::Result<u64> {
        if self.nodes[slot].as_ref().is_some_and(|n| n.is_running()) {
            bail!("slot {slot} already runs a node");
        }
        let id = self.next_id;
        self.next_id += 1;
        let spec = self.spec(slot, id, start);
        if self.opts.tmpfs_data {
            self.disks.mount(&spec.data_dir)?;
        }
        let mut node = NodeProcess::new(spec);
        node.start()?;
        self.nodes[slot] = Some(node);
        Ok(id)
    }

    /// Waits until the node in `slot` answers PING.
    pub async fn wait_ready(&self, slot: usize, timeout: Duration) -> bool {
        let addr = &self.client_addr(slot);
        poll_until(timeout, POLL, || async move {
            admin::ping(addr).await.then_some(())
        })
        .await
        .is_some()
    }

    /// Starts `n` nodes in slots `0..n`: the first bootstraps, the rest join through it. Waits
    /// until every one of them is a voter.
    pub async fn start_initial(&mut self, n: usize) -> anyhow::Result<()> {
        self.launch(0, StartMode::Bootstrap)?;
        if !self.wait_ready(0, READY_TIMEOUT).await {
            bail!("the first node never answered PING (see its log)");
        }
        self.members.insert(0);
        let seed = self.client_addr(0);
        for slot in 1..n {
            self.launch(slot, StartMode::Join(seed.clone()))?;
            self.members.insert(slot);
        }
        let want: BTreeSet<u64> = (0..n).filter_map(|s| self.id_of(s)).collect();
        let (this, want) = (&*self, &want);
        let formed = poll_until(FORM_TIMEOUT, POLL, || async move {
            let mut seated = 0;
            for slot in 0..n {
                if let Ok(info) = admin::raft_info(&this.client_addr(slot)).await {
                    let voters: BTreeSet<u64> = info.voters.iter().copied().collect();
                    if voters == *want && info.leader_id.is_some() {
                        seated += 1;
                    }
                }
            }
            (seated == n).then_some(())
        })
        .await;
        if formed.is_none() {
            bail!("the initial cluster did not form within {FORM_TIMEOUT:?}");
        }
        self.events
            .log(format!("cluster formed: voters {want:?} in slots 0..{n}"));
        Ok(())
    }

    /// The slot of the member that leads, as the running members report it (the self-declared
    /// leader of the highest term, else the leader most members name).
    pub async fn leader(&self) -> Option<usize> {
        let slot = self.leader_among(&self.members()).await?;
        self.members.contains(&slot).then_some(slot)
    }

    /// The slot of the node that leads, asking every running node, members and nodes whose
    /// removal has not taken yet alike: such a node may still be a voter, and even the leader,
    /// and admin commands must reach whoever leads.
    async fn acting_leader(&self) -> Option<usize> {
        self.leader_among(&(0..self.slots()).collect::<Vec<_>>())
            .await
    }

    async fn leader_among(&self, slots: &[usize]) -> Option<usize> {
        let mut best: Option<(u64, u64)> = None;
        let mut named: BTreeMap<u64, usize> = BTreeMap::new();
        for &slot in slots {
            let Some(node) = &self.nodes[slot] else {
                continue;
            };
            if !node.is_running() || node.is_paused() {
                continue;
            }
            let Ok(info) = admin::raft_info(&self.client_addr(slot)).await else {
                continue;
            };
            if info.role == "leader" && best.is_none_or(|(term, _)| info.term > term) {
                best = Some((info.term, info.node_id));
            }
            if let Some(l) = info.leader_id {
                *named.entry(l).or_default() += 1;
            }
        }
        let id = best.map(|(_, id)| id).or_else(|| {
            named
                .into_iter()
                .max_by_key(|&(_, votes)| votes)
                .map(|(id, _)| id)
        })?;
        self.slot_of(id).filter(|s| slots.contains(s))
    }

    /// The members shuffled with `pick`: the same pick and members give the same order.
    pub fn shuffled_members(&self, pick: u64) -> Vec<usize> {
        let mut m = self.members();
        Rng::new(pick).shuffle(&mut m);
        m
    }

    /// A minority of the members chosen with `pick`.
    pub fn minority(&self, pick: u64) -> Vec<usize> {
        let m = self.shuffled_members(pick);
        let k = minority_size(m.len()).min(m.len());
        m[..k].to_vec()
    }

    /// A running member to send admin commands to: the leader if known, else the first running
    /// member not in `avoid`.
    async fn contact(&self, avoid: &[usize]) -> Option<usize> {
        if let Some(l) = self.acting_leader().await.filter(|l| !avoid.contains(l)) {
            return Some(l);
        }
        self.members()
            .into_iter()
            .find(|s| !avoid.contains(s) && self.nodes[*s].as_ref().is_some_and(|n| n.is_running()))
    }

    /// `kill -9` these slots' nodes.
    pub fn kill(&mut self, slots: &[usize]) {
        for &s in slots {
            if let Some(n) = self.nodes[s].as_mut() {
                n.kill();
            }
        }
    }

    /// Simulated power loss (SIGUSR1) of these slots' nodes, all at the same moment.
    pub fn power_loss(&mut self, slots: &[usize]) {
        let mut cut = Vec::new();
        for &s in slots {
            if let Some(n) = self.nodes[s].as_mut() {
                if n.cut_power() {
                    cut.push(s);
                }
            }
        }
        for s in cut {
            let status = self.nodes[s].as_mut().and_then(|n| n.wait_exit());
            let status = status.map_or("none (killed after the bound)".to_string(), |st| {
                st.to_string()
            });
            self.events
                .log(format!("power loss of {}: {status}", self.describe(s)));
        }
    }

    /// SIGSTOP these slots' nodes.
    pub fn pause(&mut self, slots: &[usize]) {
        for &s in slots {
            if let Some(n) = self.nodes[s].as_mut() {
                n.pause();
            }
        }
    }

    /// SIGCONT every paused node.
    pub fn resume_all(&mut self) {
        for n in self.nodes.iter_mut().flatten() {
            if n.is_paused() {
                n.resume();
            }
        }
    }

    /// Restarts every intended member whose process is not running, and waits (bounded) until
    /// each answers PING.
    pub async fn restart_members(&mut self) {
        let mut started = Vec::new();
        for slot in self.members() {
            if let Some(n) = self.nodes[slot].as_mut() {
                if !n.is_running() {
                    match n.start() {
                        Ok(()) => started.push(slot),
                        Err(e) => self
                            .events
                            .log(format!("cannot restart slot {slot}: {e:#}")),
                    }
                }
            }
        }
        if !started.is_empty() {
            self.events
                .log(format!("restarted {}", self.describe_all(&started)));
        }
        for slot in started {
            if !self.wait_ready(slot, READY_TIMEOUT).await {
                self.events.log(format!(
                    "{} did not answer PING within {READY_TIMEOUT:?} of its restart",
                    self.describe(slot)
                ));
            }
        }
    }

    /// Imposes a partition on the network.
    pub fn partition(&self, grudge: &Grudge) -> anyhow::Result<()> {
        self.net.apply(grudge)
    }

    /// Removes the node in `slot` from the cluster, and stops it once the removal is
    /// acknowledged. The slot is no longer an intended member either way. A node whose removal
    /// failed (or timed out) keeps running: it may still be a voter, and stopping it would take
    /// away a vote the cluster may need; [`Cluster::reconcile`] removes and stops it later.
    pub async fn remove(&mut self, slot: usize) {
        let Some(id) = self.id_of(slot) else { return };
        self.members.remove(&slot);
        let removed = match self.contact(&[slot]).await {
            Some(via) => {
                let t = Instant::now();
                let answer = admin::member_remove(&self.client_addr(via), id).await;
                self.events.log(format!(
                    "MEMBER REMOVE {id} via {}: {} after {:.1}s",
                    self.describe(via),
                    answer.as_ref().map_or_else(|e| e.clone(), |_| "OK".into()),
                    t.elapsed().as_secs_f64()
                ));
                answer.is_ok()
            }
            None => {
                self.events
                    .log(format!("MEMBER REMOVE {id}: no member to ask"));
                false
            }
        };
        if removed {
            self.stop_leftover(slot);
        } else {
            self.events.log(format!(
                "{} keeps running until its removal takes",
                self.describe(slot)
            ));
        }
    }

    /// Stops the node in a slot that is no longer an intended member.
    fn stop_leftover(&mut self, slot: usize) {
        if let Some(n) = self.nodes[slot].as_mut().filter(|n| n.is_running()) {
            n.stop();
            self.events
                .log(format!("stopped removed node {}", self.describe(slot)));
        }
    }

    /// Starts a new node (new id, empty data directory) in the free `slot` and adds it with
    /// `RAFTKV MEMBER ADD`. It is an intended member from then on, whatever the answer.
    pub async fn add(&mut self, slot: usize) {
        let id = match self.launch(slot, StartMode::AddedBySuite) {
            Ok(id) => id,
            Err(e) => {
                self.events
                    .log(format!("cannot start a node in slot {slot}: {e:#}"));
                return;
            }
        };
        self.members.insert(slot);
        if !self.wait_ready(slot, READY_TIMEOUT).await {
            self.events
                .log(format!("new node n{id} in slot {slot} never answered PING"));
        }
        let spec = self.nodes[slot].as_ref().map(|n| n.spec.clone());
        let Some(spec) = spec else { return };
        match self.contact(&[slot]).await {
            Some(via) => {
                let t = Instant::now();
                let answer = admin::member_add(
                    &self.client_addr(via),
                    id,
                    &spec.peer_addr(),
                    &spec.client_addr(),
                )
                .await;
                self.events.log(format!(
                    "MEMBER ADD {id} (slot {slot}) via {}: {} after {:.1}s",
                    self.describe(via),
                    answer.as_ref().map_or_else(|e| e.clone(), |_| "OK".into()),
                    t.elapsed().as_secs_f64()
                ));
            }
            None => self
                .events
                .log(format!("MEMBER ADD {id}: no member to ask")),
        }
    }

    /// Slots that hold no intended member and no running node.
    pub fn free_slots(&self) -> Vec<usize> {
        (0..self.slots())
            .filter(|s| !self.members.contains(s))
            .filter(|s| self.nodes[*s].as_ref().is_none_or(|n| !n.is_running()))
            .collect()
    }

    /// Looks for nodes that exited on their own; logs and remembers each.
    pub fn check_exits(&mut self) {
        for slot in 0..self.slots() {
            let status = self.nodes[slot].as_mut().and_then(|n| n.check_exit());
            if let Some(status) = status {
                if self.disk_full.contains(&slot) && status.code() == Some(EXIT_STORAGE_FAILURE) {
                    self.events.log(format!(
                        "{} exited with the storage-failure status on its full disk, as it must",
                        self.describe(slot)
                    ));
                    continue;
                }
                let what = format!("{} exited on its own: {status}", self.describe(slot));
                self.events.log(format!("SURPRISE: {what}"));
                self.unexpected_exits.push(what);
            }
        }
    }

    /// Brings the membership the leader reports in line with the intent: removes ids that
    /// should be gone, adds (or promotes) nodes that should be voters. Retries until they agree
    /// or `timeout` passes; returns what still differs.
    pub async fn reconcile(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let want: BTreeSet<u64> = self
                .members()
                .into_iter()
                .filter_map(|s| self.id_of(s))
                .collect();
            let leader = self.acting_leader().await;
            let info = match leader {
                Some(l) => admin::raft_info(&self.client_addr(l)).await.ok(),
                None => None,
            };
            let problem = match (leader, info) {
                (Some(l), Some(info)) => {
                    let voters: BTreeSet<u64> = info.voters.iter().copied().collect();
                    let present: BTreeSet<u64> =
                        voters.iter().chain(&info.learners).copied().collect();
                    if voters == want && info.learners.is_empty() {
                        let leftovers: Vec<usize> = (0..self.slots())
                            .filter(|s| !self.members.contains(s))
                            .collect();
                        for slot in leftovers {
                            self.stop_leftover(slot);
                        }
                        return Ok(());
                    }
                    let via = self.client_addr(l);
                    for &extra in present.difference(&want) {
                        let answer = admin::member_remove(&via, extra).await;
                        self.events
                            .log(format!("reconcile: MEMBER REMOVE {extra}: {answer:?}"));
                    }
                    for &missing in want.difference(&voters) {
                        if let Some(spec) =
                            self.slot_of(missing).and_then(|s| self.nodes[s].as_ref())
                        {
                            let answer = admin::member_add(
                                &via,
                                missing,
                                &spec.spec.peer_addr(),
                                &spec.spec.client_addr(),
                            )
                            .await;
                            self.events
                                .log(format!("reconcile: MEMBER ADD {missing}: {answer:?}"));
                        }
                    }
                    format!(
                        "voters {voters:?} learners {:?}, intended {want:?}",
                        info.learners
                    )
                }
                _ => "no leader".to_string(),
            };
            if Instant::now() >= deadline {
                return Err(problem);
            }
            tokio::time::sleep(RECONCILE_PAUSE).await;
        }
    }

    /// Fill the disk of the node in `slot` (its data directory must be on a tmpfs).
    pub fn fill_disk(&mut self, slot: usize) -> anyhow::Result<u64> {
        let dir = self.nodes[slot]
            .as_ref()
            .map(|n| n.spec.data_dir.clone())
            .context("no node in the slot")?;
        anyhow::ensure!(self.opts.tmpfs_data, "data directories are not on tmpfs");
        self.disk_full.insert(slot);
        Disks::fill(&dir)
    }

    /// Free every full disk; returns the slots freed.
    pub fn free_disks(&mut self) -> Vec<usize> {
        let slots: Vec<usize> = std::mem::take(&mut self.disk_full).into_iter().collect();
        for &slot in &slots {
            if let Some(n) = &self.nodes[slot] {
                Disks::free(&n.spec.data_dir);
            }
        }
        slots
    }

    /// Stops every node gracefully (SIGTERM, then SIGKILL past a bound).
    pub fn stop_all(&mut self) {
        for n in self.nodes.iter_mut().flatten() {
            n.stop();
        }
    }
}
