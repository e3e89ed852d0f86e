//! openraft's storage conformance suite against the real log store (raft-log WAL on disk)
//! and the real state machine, each built fresh in a temp dir.

use node::raft::log_store::LogStore;
use node::raft::state_machine::StateMachine;
use node::raft::types::TypeConfig;
use openraft::testing::log::{StoreBuilder, Suite};
use openraft::StorageError;

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError<TypeConfig>> {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = LogStore::open(&dir.path().join("raft-log"), true).expect("open log");
        let sm = StateMachine::open(dir.path().join("snapshots")).expect("open state machine");
        Ok((dir, log, sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openraft_storage_suite() {
    Suite::test_all(Builder).await.expect("storage suite");
}
