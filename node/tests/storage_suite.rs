//! openraft's storage conformance suite against dancu's RocksDB log store and state machine.

use dancu_cluster_config::{PartitionId, PartitionSpec};
use dancu_node::raft::types::TypeConfig;
use dancu_node::storage::{LogStore, StateMachine, Store};
use openraft::testing::log::{StoreBuilder, Suite};
use openraft::StorageError;

struct RocksBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for RocksBuilder {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError<TypeConfig>> {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("open store");
        let spec = PartitionSpec {
            id: PartitionId(100),
            province_code: "001".into(),
            range_start: "001000000000".into(),
            range_end: "001999999999".into(),
            replicas: vec![1, 2, 3],
            preferred_leader: 1,
        };
        Ok((dir, store.log_store(spec.id, Default::default()), store.state_machine(&spec, Default::default())))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocksdb_storage_passes_openraft_suite() {
    Suite::test_all(RocksBuilder).await.expect("openraft storage suite");
}
