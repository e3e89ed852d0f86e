//! The test network: one namespace per node slot, all on one bridge in a hub namespace.
//!
//! ```text
//!   hub namespace  rkvc<pid>-hub          node namespaces  rkvc<pid>-n<slot>
//!   ┌──────────────────────────────┐      ┌────────────────────────────┐
//!   │ br0 10.77.0.1/24  (clients)  │──────│ eth0 10.77.0.<10+slot>/24  │ raftkv serve
//!   │ v0 v1 v2 ... (bridge ports)  │      │ nftables: the partition    │
//!   └──────────────────────────────┘      └────────────────────────────┘
//! ```
//!
//! Every node runs in its own network namespace with one address on a private bridge; the
//! bridge lives in a hub namespace whose own address is where the suite's clients connect from.
//! The controlling process moves *itself* into the hub namespace ([`Network::enter_hub`]) before
//! it starts any thread, so every socket the suite opens is in a namespace it created and that
//! has no route anywhere but the bridge: traffic cannot leave the machine, whatever an address
//! says. The host's own namespace is never changed, apart from the namespace names
//! under `/run/netns`.
//!
//! Everything is named `rkvc<pid>-...` after the controlling process. [`Network`]'s `Drop` kills
//! whatever still runs in its node namespaces and deletes them all (deleting a namespace destroys
//! its veth ends and firewall rules with it); that runs on normal exit, on error and on panic.
//! If the controller itself is killed, [`cleanup_stale`] (the `cleanup` subcommand, also run at
//! the start of every run) removes namespaces whose owner process is gone.

use std::fs::File;
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};

use crate::partition::Grudge;
use crate::wait::poll_until_sync;

/// Prefix of every namespace the suite creates.
pub const NAME_PREFIX: &str = "rkvc";
/// Name of the controlling program, used to tell a live owner from a reused pid.
pub const OWNER_COMM: &str = "raftkv-chaos";
/// First three octets of the private subnet (it exists only inside the suite's namespaces).
pub const SUBNET_PREFIX: [u8; 3] = [10, 77, 0];
/// Prefix length of the subnet.
pub const SUBNET_BITS: u8 = 24;
/// Last octet of the hub's (the clients') address.
pub const HUB_HOST: u8 = 1;
/// Last octet of slot 0's address; slot `i` gets `NODE_HOST_BASE + i`.
pub const NODE_HOST_BASE: u8 = 10;
/// Most node slots one network may have.
pub const MAX_SLOTS: usize = 32;
/// Client (RESP) port of every node.
pub const CLIENT_PORT: u16 = 6379;
/// Peer (Raft) port of every node.
pub const PEER_PORT: u16 = 7379;
/// How long teardown waits for killed processes to go away.
pub const TEARDOWN_WAIT: Duration = Duration::from_secs(5);

/// The suite's namespaces and bridge. Dropping it tears everything down.
#[derive(Debug)]
pub struct Network {
    prefix: String,
    slots: usize,
    created: Vec<String>,
}

/// Runs a command to completion; fails with its stderr unless it exits 0.
pub fn run_cmd(program: &str, args: &[&str], stdin: Option<&str>) -> anyhow::Result<String> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {program} (is it installed?)"))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Network {
    /// Creates the hub and `slots` node namespaces for this process.
    pub fn create(slots: usize) -> anyhow::Result<Network> {
        if slots == 0 || slots > MAX_SLOTS {
            bail!("a network has 1 to {MAX_SLOTS} slots, not {slots}");
        }
        let mut net = Network {
            prefix: format!("{NAME_PREFIX}{}", std::process::id()),
            slots,
            created: Vec::new(),
        };
        net.build().context("cannot build the test network")?;
        Ok(net)
    }

    fn add_ns(&mut self, name: &str) -> anyhow::Result<()> {
        run_cmd("ip", &["netns", "add", name], None)?;
        self.created.push(name.to_string());
        run_cmd("ip", &["-n", name, "link", "set", "lo", "up"], None)?;
        Ok(())
    }

    fn build(&mut self) -> anyhow::Result<()> {
        let hub = self.hub();
        self.add_ns(&hub)?;
        let hub_cidr = format!("{}/{SUBNET_BITS}", self.hub_addr());
        run_cmd(
            "ip",
            &["-n", &hub, "link", "add", "br0", "type", "bridge"],
            None,
        )?;
        run_cmd(
            "ip",
            &["-n", &hub, "addr", "add", &hub_cidr, "dev", "br0"],
            None,
        )?;
        run_cmd("ip", &["-n", &hub, "link", "set", "br0", "up"], None)?;
        for slot in 0..self.slots {
            let ns = self.ns(slot);
            self.add_ns(&ns)?;
            let port = format!("v{slot}");
            // Both ends are created directly inside their namespaces: nothing touches the
            // host's namespace, so the short names cannot clash.
            run_cmd(
                "ip",
                &[
                    "link", "add", &port, "netns", &hub, "type", "veth", "peer", "name", "eth0",
                    "netns", &ns,
                ],
                None,
            )?;
            run_cmd(
                "ip",
                &["-n", &hub, "link", "set", &port, "master", "br0", "up"],
                None,
            )?;
            let cidr = format!("{}/{SUBNET_BITS}", self.addr(slot));
            run_cmd(
                "ip",
                &["-n", &ns, "addr", "add", &cidr, "dev", "eth0"],
                None,
            )?;
            run_cmd("ip", &["-n", &ns, "link", "set", "eth0", "up"], None)?;
        }
        Ok(())
    }

    /// Number of node slots.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// The hub namespace's name.
    pub fn hub(&self) -> String {
        format!("{}-hub", self.prefix)
    }

    /// The namespace of a slot.
    pub fn ns(&self, slot: usize) -> String {
        format!("{}-n{slot}", self.prefix)
    }

    /// The hub's address (where clients connect from).
    pub fn hub_addr(&self) -> Ipv4Addr {
        let [a, b, c] = SUBNET_PREFIX;
        Ipv4Addr::new(a, b, c, HUB_HOST)
    }

    /// A slot's address.
    pub fn addr(&self, slot: usize) -> Ipv4Addr {
        slot_addr(slot)
    }

    /// Moves this process into the hub namespace. Must be called while the process has a
    /// single thread (namespaces are per thread; threads started later inherit it).
    pub fn enter_hub(&self) -> anyhow::Result<()> {
        let threads = std::fs::read_dir("/proc/self/task")
            .map(|d| d.count())
            .unwrap_or(1);
        if threads != 1 {
            bail!("enter_hub needs a single-threaded process, found {threads} threads");
        }
        let path = format!("/run/netns/{}", self.hub());
        let file = File::open(&path).with_context(|| format!("cannot open {path}"))?;
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
            .context("setns into the hub namespace")?;
        Ok(())
    }

    /// Imposes `grudge` on every slot's namespace (replacing any previous partition).
    pub fn apply(&self, grudge: &Grudge) -> anyhow::Result<()> {
        for slot in 0..self.slots {
            let script = grudge.nft_script(slot, slot_addr);
            run_cmd(
                "ip",
                &["netns", "exec", &self.ns(slot), "nft", "-f", "-"],
                Some(&script),
            )
            .with_context(|| format!("cannot set the firewall of slot {slot}"))?;
        }
        Ok(())
    }

    /// Removes every partition.
    pub fn heal(&self) -> anyhow::Result<()> {
        self.apply(&Grudge::none())
    }

    /// Kills what runs in the node namespaces and deletes every namespace. Idempotent.
    pub fn teardown(&mut self) {
        let me = std::process::id();
        let hub = self.hub();
        for ns in &self.created {
            if *ns != hub {
                kill_all_in(ns, me);
            }
        }
        for ns in self.created.drain(..).rev() {
            if let Err(e) = run_cmd("ip", &["netns", "del", &ns], None) {
                eprintln!("raftkv-chaos: cannot delete namespace {ns}: {e:#}");
            }
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// The address of a slot.
pub fn slot_addr(slot: usize) -> Ipv4Addr {
    let [a, b, c] = SUBNET_PREFIX;
    Ipv4Addr::new(a, b, c, NODE_HOST_BASE + slot as u8)
}

/// SIGKILLs every process in namespace `ns` except `me`, and waits (bounded) until they are
/// gone.
fn kill_all_in(ns: &str, me: u32) {
    // Gone, or given up on after the bound: either way the teardown goes on.
    let _ = poll_until_sync(TEARDOWN_WAIT, Duration::from_millis(50), || {
        let pids: Vec<i32> = run_cmd("ip", &["netns", "pids", ns], None)
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .filter(|&p: &i32| p as u32 != me)
            .collect();
        for &pid in &pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        pids.is_empty().then_some(())
    });
}

/// The pid in a namespace name `rkvc<pid>-...`, if it is one of the suite's.
fn owner_of(ns: &str) -> Option<u32> {
    let rest = ns.strip_prefix(NAME_PREFIX)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if !rest[digits.len()..].starts_with('-') {
        return None;
    }
    digits.parse().ok()
}

/// Whether `pid` is a live raftkv-chaos process.
fn owner_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == OWNER_COMM)
}

/// Deletes the suite's namespaces (and kills what runs in them) whose owner is no longer
/// running, or all of them with `all`. Returns the names deleted.
pub fn cleanup_stale(all: bool) -> anyhow::Result<Vec<String>> {
    let me = std::process::id();
    let listing = run_cmd("ip", &["netns", "list"], None)?;
    let mut deleted = Vec::new();
    let mut names: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| owner_of(n).is_some())
        .collect();
    // Node namespaces first, hubs last.
    names.sort_by_key(|n| n.ends_with("-hub"));
    for name in names {
        let owner = owner_of(name).unwrap_or(0);
        if owner == me || (!all && owner_alive(owner)) {
            continue;
        }
        kill_all_in(name, me);
        run_cmd("ip", &["netns", "del", name], None)?;
        deleted.push(name.to_string());
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_names_carry_their_owner() {
        assert_eq!(owner_of("rkvc1234-hub"), Some(1234));
        assert_eq!(owner_of("rkvc77-n3"), Some(77));
        assert_eq!(owner_of("rkvc-n3"), None);
        assert_eq!(owner_of("rkvcx-n3"), None);
        assert_eq!(owner_of("other-hub"), None);
        assert_eq!(owner_of("rkvc12"), None);
    }

    #[test]
    fn slot_addresses_are_in_the_private_subnet() {
        assert_eq!(slot_addr(0), Ipv4Addr::new(10, 77, 0, 10));
        assert_eq!(slot_addr(4), Ipv4Addr::new(10, 77, 0, 14));
        assert!(usize::from(NODE_HOST_BASE) + MAX_SLOTS < 255);
    }
}
