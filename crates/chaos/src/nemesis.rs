//! Turning a scheduled [`Fault`] into actions on the cluster, and undoing them.
//!
//! [`Nemesis::begin`] resolves the fault's targets against the cluster as it is now (who leads,
//! who is a member), acts, logs exactly what it did, and returns an [`Active`] fault that knows
//! how to end itself; [`Nemesis::end`] ends it. Ending restores what the fault took away:
//! restart what was killed, continue what was paused, heal the network, set clocks right,
//! re-add a removed node under a new id, shrink a grown cluster back. Whatever an end leaves
//! undone (an admin call that timed out) is repaired by the final heal and
//! [`Cluster::reconcile`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::cluster::Cluster;
use crate::events::EventLog;
use crate::fault::{Fault, PartitionKind, Target};
use crate::partition::Grudge;

/// How many nodes a grow episode adds (and its end removes).
pub const GROW_BY: usize = 2;

/// A fault in force, with what its end must do.
#[derive(Debug)]
pub enum Active {
    /// Restart every member that is down.
    Restart,
    /// Continue every paused node.
    Resume,
    /// Heal the network.
    Heal,
    /// Set every clock right.
    ClockReset,
    /// Free every full disk, then restart every member that is down.
    FreeDisks,
    /// Heal the network if `partitioned`, then add a new node in `slot`.
    Readd {
        /// The slot the removed node ran in.
        slot: usize,
        /// A partition is in force.
        partitioned: bool,
    },
    /// Heal the network if `partitioned`, then remove members (chosen with `pick`) down to
    /// `size`.
    Shrink {
        /// Target member count.
        size: usize,
        /// Seed of the choice of members to remove.
        pick: u64,
        /// A partition is in force.
        partitioned: bool,
    },
    /// Nothing to undo (the fault could not be applied).
    Nothing,
}

/// Applies and undoes faults, counting what was injected.
#[derive(Debug)]
pub struct Nemesis {
    events: Arc<EventLog>,
    /// Faults injected, per fault type (shared, so an abandoned run can still report them).
    injected: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl Nemesis {
    /// A nemesis logging to `events`.
    pub fn new(events: Arc<EventLog>) -> Nemesis {
        Nemesis {
            events,
            injected: Arc::default(),
        }
    }

    /// A handle on the counts of faults injected, per fault type.
    pub fn injected(&self) -> Arc<Mutex<BTreeMap<String, u64>>> {
        self.injected.clone()
    }

    async fn resolve(&self, cluster: &Cluster, target: Target) -> Vec<usize> {
        match target {
            Target::One { pick } => cluster.shuffled_members(pick).into_iter().take(1).collect(),
            Target::Minority { pick } => cluster.minority(pick),
            Target::All => cluster.members(),
            Target::Leader => match cluster.leader().await {
                Some(l) => vec![l],
                None => {
                    self.events
                        .log("no leader known: targeting a random member instead");
                    cluster.shuffled_members(0).into_iter().take(1).collect()
                }
            },
        }
    }

    async fn grudge(&self, cluster: &Cluster, kind: PartitionKind) -> Grudge {
        let members = cluster.members();
        match kind {
            PartitionKind::IsolateLeader => {
                let leader = self.resolve(cluster, Target::Leader).await;
                Grudge::isolate(leader.first().copied().unwrap_or(0), &members)
            }
            PartitionKind::Halves { pick } => Grudge::halves(&cluster.shuffled_members(pick)),
            PartitionKind::Ring { pick } => Grudge::ring(&cluster.shuffled_members(pick)),
            PartitionKind::OneWay { pick, deaf } => {
                let node = cluster.shuffled_members(pick).first().copied().unwrap_or(0);
                Grudge::one_way(node, &members, deaf)
            }
        }
    }

    async fn impose(&self, cluster: &Cluster, kind: PartitionKind) -> bool {
        let grudge = self.grudge(cluster, kind).await;
        match cluster.partition(&grudge) {
            Ok(()) => {
                self.events.log(format!("{}: slot {grudge}", kind.name()));
                true
            }
            Err(e) => {
                self.events
                    .log(format!("cannot impose {}: {e:#}", kind.name()));
                false
            }
        }
    }

    fn heal(&self, cluster: &Cluster) {
        match cluster.net().heal() {
            Ok(()) => self.events.log("network healed"),
            Err(e) => self.events.log(format!("cannot heal the network: {e:#}")),
        }
    }

    /// Starts `fault`; returns what its end must undo.
    pub async fn begin(&mut self, cluster: &mut Cluster, fault: &Fault) -> Active {
        *self
            .injected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(fault.name())
            .or_default() += 1;
        self.events.log(format!("BEGIN {fault}"));
        match *fault {
            Fault::Kill(target) => {
                let slots = self.resolve(cluster, target).await;
                self.events
                    .log(format!("kill -9 {}", cluster.describe_all(&slots)));
                cluster.kill(&slots);
                Active::Restart
            }
            Fault::PowerLoss => {
                let slots = cluster.members();
                self.events.log(format!(
                    "power loss (SIGUSR1) of {}",
                    cluster.describe_all(&slots)
                ));
                cluster.power_loss(&slots);
                Active::Restart
            }
            Fault::Pause(target) => {
                let slots = self.resolve(cluster, target).await;
                self.events
                    .log(format!("SIGSTOP {}", cluster.describe_all(&slots)));
                cluster.pause(&slots);
                Active::Resume
            }
            Fault::Partition(kind) => {
                if self.impose(cluster, kind).await {
                    Active::Heal
                } else {
                    Active::Nothing
                }
            }
            Fault::ClockJump { target, offset_ms } => {
                let slots = self.resolve(cluster, target).await;
                let Some(clocks) = cluster.clocks.as_ref() else {
                    self.events.log("nodes do not run under libfaketime");
                    return Active::Nothing;
                };
                for &s in &slots {
                    if let Err(e) = clocks.set(s, offset_ms) {
                        self.events
                            .log(format!("cannot set clock of slot {s}: {e}"));
                    }
                }
                self.events.log(format!(
                    "wall clock of {} {offset_ms:+}ms",
                    cluster.describe_all(&slots)
                ));
                Active::ClockReset
            }
            Fault::ClockStrobe {
                target,
                delta_ms,
                period_ms,
            } => {
                let slots = self.resolve(cluster, target).await;
                let described = cluster.describe_all(&slots);
                let Some(clocks) = cluster.clocks.as_mut() else {
                    self.events.log("nodes do not run under libfaketime");
                    return Active::Nothing;
                };
                for &s in &slots {
                    clocks.start_strobe(s, delta_ms, period_ms);
                }
                self.events.log(format!(
                    "wall clock of {described} strobes +{delta_ms}ms every {period_ms}ms"
                ));
                Active::ClockReset
            }
            Fault::DiskFull(target) => {
                let slots = self.resolve(cluster, target).await;
                let Some(&slot) = slots.first() else {
                    return Active::Nothing;
                };
                match cluster.fill_disk(slot) {
                    Ok(bytes) => self.events.log(format!(
                        "disk of {} filled ({bytes} bytes)",
                        cluster.describe_all(&[slot])
                    )),
                    Err(e) => self
                        .events
                        .log(format!("cannot fill the disk of slot {slot}: {e:#}")),
                }
                Active::FreeDisks
            }
            Fault::RemoveReadd { target, during } => {
                let partitioned = match during {
                    Some(kind) => self.impose(cluster, kind).await,
                    None => false,
                };
                let slots = self.resolve(cluster, target).await;
                let Some(&slot) = slots.first() else {
                    return Active::Nothing;
                };
                if cluster.members().len() <= 1 {
                    self.events.log("only one member left: not removing it");
                    return if partitioned {
                        Active::Heal
                    } else {
                        Active::Nothing
                    };
                }
                self.events
                    .log(format!("removing {}", cluster.describe_all(&[slot])));
                cluster.remove(slot).await;
                Active::Readd { slot, partitioned }
            }
            Fault::GrowShrink { pick, during } => {
                let partitioned = match during {
                    Some(kind) => self.impose(cluster, kind).await,
                    None => false,
                };
                let size = cluster.members().len();
                let free = cluster.free_slots();
                for &slot in free.iter().take(GROW_BY) {
                    self.events
                        .log(format!("growing: adding a node in slot {slot}"));
                    cluster.add(slot).await;
                }
                Active::Shrink {
                    size,
                    pick,
                    partitioned,
                }
            }
        }
    }

    /// Ends an active fault.
    pub async fn end(&mut self, cluster: &mut Cluster, active: Active) {
        match active {
            Active::Nothing => {}
            Active::Restart => cluster.restart_members().await,
            Active::Resume => {
                cluster.resume_all();
                self.events.log("SIGCONT every paused node");
            }
            Active::Heal => self.heal(cluster),
            Active::FreeDisks => {
                // An exit on the full disk must be seen (and found expected) before the space
                // comes back.
                cluster.check_exits();
                let freed = cluster.free_disks();
                self.events
                    .log(format!("disk space back for slots {freed:?}"));
                cluster.restart_members().await;
            }
            Active::ClockReset => {
                if let Some(clocks) = cluster.clocks.as_mut() {
                    if let Err(e) = clocks.reset_all().await {
                        self.events.log(format!("cannot reset clocks: {e}"));
                    }
                }
                self.events.log("clocks set right");
            }
            Active::Readd { slot, partitioned } => {
                if partitioned {
                    self.heal(cluster);
                }
                if cluster.free_slots().contains(&slot) {
                    self.events
                        .log(format!("re-adding a new node in slot {slot}"));
                    cluster.add(slot).await;
                } else {
                    self.events.log(format!(
                        "not re-adding in slot {slot}: its node is still running"
                    ));
                }
            }
            Active::Shrink {
                size,
                pick,
                partitioned,
            } => {
                if partitioned {
                    self.heal(cluster);
                }
                let members = cluster.shuffled_members(pick);
                let excess = members.len().saturating_sub(size);
                for &slot in members.iter().take(excess) {
                    self.events.log(format!(
                        "shrinking: removing {}",
                        cluster.describe_all(&[slot])
                    ));
                    cluster.remove(slot).await;
                }
            }
        }
        self.events.log("END");
    }
}
