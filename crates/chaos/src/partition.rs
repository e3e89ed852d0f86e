//! Partitions as data, and the firewall rules that impose them.
//!
//! A [`Grudge`] says, for each node, whose packets it drops. That one shape expresses every
//! partition the suite uses: a clean cut between two groups (both sides drop the other), a ring
//! where each node hears a different majority (directed drops), and one-way faults where a node
//! can talk but not listen or the reverse. Nodes are named by their slot (the index of their
//! network namespace), so a grudge survives a node being replaced by a new incarnation.
//!
//! Drops happen on the receiving side, in an nftables `input` chain inside the receiver's own
//! network namespace, by source address. Only traffic between nodes is affected: the suite's
//! clients connect from the hub's address, which never appears in a rule. Every namespace is the
//! suite's own, so applying a grudge replaces the namespace's whole ruleset atomically
//! (`flush ruleset` plus the new table, in one `nft -f` transaction) and healing is a flush.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;

/// Name of the nftables table the suite creates in each node namespace.
pub const NFT_TABLE: &str = "raftkv_chaos";

/// For each node slot, the slots whose packets it drops. Empty means a healed network.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grudge {
    drops: BTreeMap<usize, BTreeSet<usize>>,
}

impl Grudge {
    /// No partition.
    pub fn none() -> Grudge {
        Grudge::default()
    }

    /// `receiver` drops every packet from `sender`.
    pub fn drop_from(&mut self, receiver: usize, sender: usize) {
        if receiver != sender {
            self.drops.entry(receiver).or_default().insert(sender);
        }
    }

    /// A clean cut: no node of `a` hears any node of `b`, and the reverse.
    pub fn cut(a: &[usize], b: &[usize]) -> Grudge {
        let mut g = Grudge::none();
        for &x in a {
            for &y in b {
                g.drop_from(x, y);
                g.drop_from(y, x);
            }
        }
        g
    }

    /// `node` is cut off from every other member.
    pub fn isolate(node: usize, members: &[usize]) -> Grudge {
        let rest: Vec<usize> = members.iter().copied().filter(|&m| m != node).collect();
        Grudge::cut(&[node], &rest)
    }

    /// `members` (in the caller's random order) split into a minority, the first `(n - 1) / 2`
    /// (at least one), and the majority, the rest; the halves cannot reach each other.
    pub fn halves(members: &[usize]) -> Grudge {
        let k = minority_size(members.len());
        Grudge::cut(&members[..k], &members[k..])
    }

    /// `order` is a ring; each node hears only itself and its `m - 1` predecessors, where `m`
    /// is a majority of the ring. So every node is connected to a majority, and no two nodes see
    /// the same majority (for three or more nodes).
    pub fn ring(order: &[usize]) -> Grudge {
        let n = order.len();
        let mut g = Grudge::none();
        if n < 3 {
            return g;
        }
        let majority = n / 2 + 1;
        for (i, &receiver) in order.iter().enumerate() {
            for distance in majority..n {
                // Predecessors at `distance` steps back are too far: drop them.
                let sender = order[(i + n - distance) % n];
                g.drop_from(receiver, sender);
            }
        }
        g
    }

    /// One-way: if `deaf`, `node` drops every other member's packets (it hears nobody but is
    /// heard); otherwise every other member drops `node`'s packets (it hears all, nobody hears
    /// it).
    pub fn one_way(node: usize, members: &[usize], deaf: bool) -> Grudge {
        let mut g = Grudge::none();
        for &other in members.iter().filter(|&&m| m != node) {
            if deaf {
                g.drop_from(node, other);
            } else {
                g.drop_from(other, node);
            }
        }
        g
    }

    /// Whether this grudge drops anything.
    pub fn is_empty(&self) -> bool {
        self.drops.values().all(BTreeSet::is_empty)
    }

    /// The slots whose packets `receiver` drops.
    pub fn dropped_by(&self, receiver: usize) -> BTreeSet<usize> {
        self.drops.get(&receiver).cloned().unwrap_or_default()
    }

    /// Whether `receiver` hears `sender`.
    pub fn hears(&self, receiver: usize, sender: usize) -> bool {
        !self
            .drops
            .get(&receiver)
            .is_some_and(|set| set.contains(&sender))
    }

    /// The nftables script that makes `receiver`'s namespace drop what this grudge says, given
    /// each slot's address. It replaces the whole ruleset of the namespace; with nothing to drop
    /// it only flushes.
    pub fn nft_script(&self, receiver: usize, addr_of: impl Fn(usize) -> Ipv4Addr) -> String {
        let mut script = String::from("flush ruleset\n");
        let senders = self.dropped_by(receiver);
        if senders.is_empty() {
            return script;
        }
        let addrs: Vec<String> = senders.iter().map(|&s| addr_of(s).to_string()).collect();
        script.push_str(&format!(
            "table inet {NFT_TABLE} {{\n  chain input {{\n    type filter hook input priority filter; policy accept;\n    ip saddr {{ {} }} drop\n  }}\n}}\n",
            addrs.join(", ")
        ));
        script
    }
}

impl fmt::Display for Grudge {
    /// `1 drops {2}; 2 drops {1}`, or `healed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .drops
            .iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(r, s)| {
                let s: Vec<String> = s.iter().map(|x| x.to_string()).collect();
                format!("{r} drops {{{}}}", s.join(","))
            })
            .collect();
        if parts.is_empty() {
            f.write_str("healed")
        } else {
            f.write_str(&parts.join("; "))
        }
    }
}

/// The size of the largest minority of `n` nodes, at least one.
pub fn minority_size(n: usize) -> usize {
    (n.saturating_sub(1) / 2).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(slot: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, 0, 10 + slot as u8)
    }

    #[test]
    fn a_cut_drops_both_ways() {
        let g = Grudge::cut(&[0], &[1, 2]);
        assert!(!g.hears(0, 1) && !g.hears(1, 0) && !g.hears(0, 2) && !g.hears(2, 0));
        assert!(g.hears(1, 2) && g.hears(2, 1));
        assert_eq!(g.to_string(), "0 drops {1,2}; 1 drops {0}; 2 drops {0}");
    }

    #[test]
    fn halves_split_minority_from_majority() {
        let g = Grudge::halves(&[4, 1, 0, 3, 2]);
        // Minority {4, 1}, majority {0, 3, 2}.
        assert_eq!(g.dropped_by(4), BTreeSet::from([0, 2, 3]));
        assert_eq!(g.dropped_by(0), BTreeSet::from([1, 4]));
        assert!(g.hears(4, 1) && g.hears(0, 3));
        assert_eq!(minority_size(3), 1);
        assert_eq!(minority_size(5), 2);
        assert_eq!(minority_size(2), 1);
    }

    #[test]
    fn a_ring_gives_every_node_a_different_majority() {
        for n in 3..=7 {
            let order: Vec<usize> = (0..n).rev().collect();
            let g = Grudge::ring(&order);
            let mut seen = BTreeSet::new();
            for r in 0..n {
                let heard: BTreeSet<usize> = (0..n).filter(|&s| g.hears(r, s)).collect();
                assert_eq!(heard.len(), n / 2 + 1, "n={n}: node {r} hears {heard:?}");
                assert!(
                    seen.insert(heard),
                    "n={n}: two nodes hear the same majority"
                );
            }
        }
        // Three nodes 0 -> 1 -> 2 -> 0: each hears only itself and its predecessor.
        let g = Grudge::ring(&[0, 1, 2]);
        assert_eq!(g.to_string(), "0 drops {1}; 1 drops {2}; 2 drops {0}");
    }

    #[test]
    fn one_way_drops_in_one_direction_only() {
        let mute = Grudge::one_way(1, &[0, 1, 2], false);
        assert!(!mute.hears(0, 1) && !mute.hears(2, 1));
        assert!(mute.hears(1, 0) && mute.hears(1, 2));
        let deaf = Grudge::one_way(1, &[0, 1, 2], true);
        assert!(deaf.hears(0, 1) && !deaf.hears(1, 0) && !deaf.hears(1, 2));
    }

    #[test]
    fn isolate_cuts_one_node_off() {
        let g = Grudge::isolate(2, &[0, 1, 2]);
        assert_eq!(g, Grudge::cut(&[2], &[0, 1]));
        assert!(g.hears(0, 1));
    }

    #[test]
    fn nft_script_drops_by_source_address() {
        let g = Grudge::cut(&[0], &[1, 2]);
        assert_eq!(
            g.nft_script(0, addr),
            "flush ruleset\ntable inet raftkv_chaos {\n  chain input {\n    type filter hook input priority filter; policy accept;\n    ip saddr { 10.77.0.11, 10.77.0.12 } drop\n  }\n}\n"
        );
        assert!(g
            .nft_script(1, addr)
            .contains("ip saddr { 10.77.0.10 } drop"));
        // A node that drops nothing only gets a flush, and so does a healed network.
        assert_eq!(
            Grudge::one_way(0, &[0, 1], true).nft_script(1, addr),
            "flush ruleset\n"
        );
        assert_eq!(Grudge::none().nft_script(0, addr), "flush ruleset\n");
        assert!(Grudge::none().is_empty());
        assert_eq!(Grudge::none().to_string(), "healed");
    }
}
