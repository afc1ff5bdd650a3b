//! How close RocksDB is to slowing or stopping writes: the signal write admission uses to refuse bulk work before a
//! stall makes every write (and the Raft log appends behind them) wait.

use std::io;

use rocksdb::properties;

use crate::storage::keys::{CF_RAFT_LOG, CF_STATE};
use crate::storage::{storage_error, Store};

/// RocksDB's default for `level0_slowdown_writes_trigger` (the node leaves it alone).
const L0_SLOWDOWN_TRIGGER: u64 = 20;
/// Level-0 files at which bulk writes are refused: three quarters of the way to the slowdown.
const L0_FILES_NEAR_SLOWDOWN: u64 = L0_SLOWDOWN_TRIGGER * 3 / 4;

/// A sample of the write-stall signals, over the column families that take writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WritePressure {
    /// RocksDB stopped writes (a stall).
    pub stopped: bool,
    /// RocksDB delays writes (bytes/s it lets through; 0 when not delaying).
    pub delayed_write_rate: u64,
    /// The most level-0 files of one column family.
    pub l0_files: u64,
    /// The most immutable memtables waiting for a flush in one column family.
    pub immutable_memtables: u64,
}

impl WritePressure {
    /// Whether bulk writes should wait: RocksDB already delays or stops writes, or level 0 is near the slowdown
    /// trigger. (A memtable waiting for its flush is not a sign: during an import one almost always is, and refusing
    /// on it halved the import for nothing.)
    pub fn near_stall(&self) -> bool {
        self.stopped || self.delayed_write_rate > 0 || self.l0_files >= L0_FILES_NEAR_SLOWDOWN
    }
}

impl Store {
    pub fn write_pressure(&self) -> io::Result<WritePressure> {
        let int = |name: &rocksdb::properties::PropName| -> io::Result<u64> {
            Ok(self.db.property_int_value(name).map_err(storage_error)?.unwrap_or(0))
        };
        let mut pressure = WritePressure {
            stopped: int(properties::IS_WRITE_STOPPED)? != 0,
            delayed_write_rate: int(properties::ACTUAL_DELAYED_WRITE_RATE)?,
            ..Default::default()
        };
        for cf_name in [CF_STATE, CF_RAFT_LOG] {
            let cf = self.cf(cf_name)?;
            let cf_int = |name: &rocksdb::properties::PropName| -> io::Result<u64> {
                Ok(self.db.property_int_value_cf(cf, name).map_err(storage_error)?.unwrap_or(0))
            };
            pressure.l0_files = pressure.l0_files.max(cf_int(&properties::num_files_at_level(0))?);
            pressure.immutable_memtables =
                pressure.immutable_memtables.max(cf_int(properties::NUM_IMMUTABLE_MEM_TABLE)?);
        }
        Ok(pressure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_store_is_not_near_a_stall_and_the_signals_mark_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let idle = store.write_pressure().unwrap();
        assert!(!idle.near_stall(), "{idle:?}");
        assert!(WritePressure { delayed_write_rate: 1 << 20, ..idle }.near_stall());
        assert!(WritePressure { stopped: true, ..idle }.near_stall());
        assert!(WritePressure { l0_files: L0_FILES_NEAR_SLOWDOWN, ..idle }.near_stall());
        assert!(!WritePressure { l0_files: L0_FILES_NEAR_SLOWDOWN - 1, ..idle }.near_stall());
    }
}
