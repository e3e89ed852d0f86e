//! Membership changes end to end, on real processes: growing 3 to 5 voters and shrinking back
//! while clients write (no acknowledged write lost), removing the leader (it hands leadership
//! over first), and `raftkv member transfer-leader`.

mod common;

use common::writers::{assert_all_present, Writers};
use common::{bulk, raftkv, wait_until, Cluster};
use resp::Reply;

/// Writer tasks of the recording client.
const WRITERS: usize = 4;
/// Acknowledged writes to wait for between two membership steps (proof the cluster serves).
const PROGRESS: usize = 50;
/// What a removed node answers.
const REMOVED: &str = "ERR this node was removed from the cluster";

/// `raftkv member <args> --endpoint <node via's client address>`, which must succeed.
fn member(cluster: &Cluster, via: u64, args: &[&str]) -> String {
    let endpoint = cluster.node(via).client.clone();
    let mut all = vec!["member"];
    all.extend(args);
    all.extend(["--endpoint", &endpoint]);
    let (ok, out, err) = raftkv(&all);
    assert!(ok, "raftkv {all:?} failed: {out} {err}");
    out
}

/// `raftkv member <args>` through node `via`, which must fail; returns its stderr.
fn member_fails(cluster: &Cluster, via: u64, args: &[&str]) -> String {
    let endpoint = cluster.node(via).client.clone();
    let mut all = vec!["member"];
    all.extend(args);
    all.extend(["--endpoint", &endpoint]);
    let (ok, out, err) = raftkv(&all);
    assert!(!ok, "raftkv {all:?} should have failed: {out}");
    err
}

/// Leadership transfers the nodes `ids` were asked to take over, summed.
async fn transfers_to(cluster: &Cluster, ids: &[u64]) -> u64 {
    let mut sum = 0;
    for &id in ids {
        sum += cluster.count(id, "raft_transfers_to_me").await;
    }
    sum
}

/// What `raftkv member` prints when the cluster, asked through node `via`, refuses a change
/// for the reason `why` (exactly: a usage error or another refusal does not match).
fn refused(cluster: &Cluster, via: u64, why: &str) -> String {
    let endpoint = &cluster.node(via).client;
    format!("raftkv: error: {endpoint}: ERR membership change refused: {why}\n")
}

/// Wait until the removed node `id` refuses service and says why.
async fn wait_refuses_service(cluster: &Cluster, id: u64) {
    wait_until(
        &format!("removed node {id} to refuse service"),
        || async move {
            matches!(cluster.call(id, &["GET", "k"]).await, Reply::Error(e) if e == REMOVED)
        },
    )
    .await;
    assert_eq!(
        cluster.call(id, &["SET", "x", "1"]).await,
        Reply::error(REMOVED)
    );
    let info = cluster.info(id).await.expect("INFO still answers");
    assert_eq!(info.get("raft_removed").map(String::as_str), Some("1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn growing_to_five_and_shrinking_to_three_under_writes_loses_no_acknowledged_write() {
    let mut cluster = Cluster::start(3).await;
    let writers = Writers::start(cluster.client_addrs(&[1, 2, 3]), WRITERS, "m");
    writers.wait_progress(PROGRESS).await;

    // Grow: node 4 straight to voter (what --join does), node 5 as a learner, then promoted.
    cluster.spawn_empty(4, &[]);
    cluster.spawn_empty(5, &[]);
    let (peer4, client4) = (cluster.node(4).peer.clone(), cluster.node(4).client.clone());
    member(&cluster, 2, &["add", "4", &peer4, &client4]);
    cluster.wait_voters(&[1, 2, 3, 4]).await;
    writers.set_targets(cluster.client_addrs(&[1, 2, 3, 4]));
    writers.wait_progress(PROGRESS).await;
    let (peer5, client5) = (cluster.node(5).peer.clone(), cluster.node(5).client.clone());
    member(&cluster, 3, &["add", "5", &peer5, &client5, "--learner"]);
    let info = cluster.info(1).await.expect("INFO");
    assert_eq!(info.get("raft_learners").map(String::as_str), Some("5"));
    writers.wait_progress(PROGRESS).await;
    member(&cluster, 4, &["promote", "5"]);
    cluster.wait_voters(&[1, 2, 3, 4, 5]).await;
    writers.set_targets(cluster.client_addrs(&[1, 2, 3, 4, 5]));
    writers.wait_progress(PROGRESS).await;

    // Shrink: make node 1 lead, kill node 2 (the voter a naive hand-over would pick first),
    // remove node 1 while it leads, then the dead node 2. Writers keep using every node; those
    // on a removed or dead node move on after their first failure.
    member(&cluster, 3, &["transfer-leader", "1"]);
    cluster.wait_leader_is(&[1, 2, 3, 4, 5], 1).await;
    cluster.kill(2);
    writers.wait_progress(PROGRESS).await;
    let live = [3, 4, 5];
    let asked_before = transfers_to(&cluster, &live).await;
    let started_before = cluster.count(1, "raft_handovers_started").await;
    member(&cluster, 1, &["remove", "1"]);
    // Node 1 handed over once, and to a live voter (one of them was asked to take over), not
    // to the dead node 2.
    assert_eq!(
        cluster.count(1, "raft_handovers_started").await,
        started_before + 1
    );
    let c = &cluster;
    wait_until("a live voter to be asked to take over", || async move {
        transfers_to(c, &live).await > asked_before
    })
    .await;
    assert_eq!(transfers_to(&cluster, &live).await, asked_before + 1);
    cluster.wait_voters_on(&[3, 4, 5], &[2, 3, 4, 5]).await;
    writers.set_targets(cluster.client_addrs(&[3, 4, 5]));
    writers.wait_progress(PROGRESS).await;
    member(&cluster, 3, &["remove", "2"]);
    cluster.wait_voters(&[3, 4, 5]).await;
    writers.wait_progress(PROGRESS).await;

    let writes = writers.stop().await;
    eprintln!(
        "membership under load: {} writes acknowledged, {} indeterminate, {} refused",
        writes.acked.len(),
        writes.indeterminate,
        writes.refused.len()
    );
    assert_all_present(&cluster, &[3, 4, 5], &writes).await;
    wait_refuses_service(&cluster, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_leader_hands_over_first_and_the_removed_node_refuses_service() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    assert_eq!(cluster.call(leader, &["SET", "k", "v"]).await, Reply::ok());
    let old_term = cluster.leader_term(leader).await;

    // Through the leader itself: it hands over, then the new leader removes it.
    member(&cluster, leader, &["remove", &leader.to_string()]);
    assert_eq!(
        cluster.count(leader, "raft_leadership_handed_over").await,
        1,
        "the leader hands over before its removal"
    );
    let rest: Vec<u64> = [1, 2, 3].into_iter().filter(|i| *i != leader).collect();
    cluster.wait_voters(&rest).await;
    let new_leader = cluster.wait_leader_among(&rest).await;
    assert!(cluster.leader_term(new_leader).await > old_term);

    // The cluster keeps serving; the removed node refuses and says why.
    assert_eq!(cluster.call(rest[0], &["SET", "k", "w"]).await, Reply::ok());
    assert_eq!(cluster.call(rest[1], &["GET", "k"]).await, bulk("w"));
    wait_refuses_service(&cluster, leader).await;
    let list = member(&cluster, rest[0], &["list"]);
    assert_eq!(list.lines().count(), 3, "{list}");
    assert!(!list.lines().any(|l| l.starts_with(&format!("{leader} "))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_leader_moves_leadership_to_a_voter_and_refuses_others() {
    let mut cluster = Cluster::start(3).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let target = if leader == 3 { 2 } else { 3 };
    let bystander = 6 - leader - target;

    // Asked through the node that is neither the leader nor the target.
    member(
        &cluster,
        bystander,
        &["transfer-leader", &target.to_string()],
    );
    cluster.wait_leader_is(&[1, 2, 3], target).await;
    let list = member(&cluster, leader, &["list"]);
    let marked: Vec<&str> = list.lines().filter(|l| l.ends_with('*')).collect();
    assert_eq!(marked.len(), 1, "{list}");
    assert!(marked[0].starts_with(&format!("{target} ")), "{list}");
    // Writes work afterwards, through the old leader too.
    assert_eq!(cluster.call(leader, &["SET", "k", "v"]).await, Reply::ok());
    assert_eq!(cluster.call(target, &["GET", "k"]).await, bulk("v"));

    // A non-member and a learner cannot lead: clear errors, and the leader stays.
    let err = member_fails(&cluster, leader, &["transfer-leader", "99"]);
    assert_eq!(err, refused(&cluster, leader, "node 99 is not a voter"));
    cluster.spawn_empty(4, &[]);
    let (peer4, client4) = (cluster.node(4).peer.clone(), cluster.node(4).client.clone());
    member(
        &cluster,
        target,
        &["add", "4", &peer4, &client4, "--learner"],
    );
    let err = member_fails(&cluster, bystander, &["transfer-leader", "4"]);
    assert_eq!(err, refused(&cluster, bystander, "node 4 is not a voter"));
    let err = member_fails(&cluster, bystander, &["transfer-leader", "x"]);
    assert!(
        err.contains("invalid value 'x' for '<ID>'"),
        "a bad id is a usage error naming it: {err}"
    );
    cluster.wait_leader_is(&[1, 2, 3, 4], target).await;
    assert_eq!(cluster.call(4, &["GET", "k"]).await, bulk("v"));
}
