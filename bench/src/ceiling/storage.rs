//! The storage ceiling: raw RocksDB point gets and multi-gets of the same records dancu stores, with the node's
//! table settings, from OS threads with nothing else in the way (no Raft, no RPC, no decoding).
//!
//! A point get is the call the node makes (`get`, the value copied out), so dancu's get over this ceiling is what
//! consensus, the linearizer and gRPC cost on top of the engine. A multi-get is RocksDB's batched `MultiGet`
//! (`batched_multi_get_cf`), the fastest way the engine offers to read many keys at once: several times faster per
//! key than the `multi_get_cf` the node calls, so the gap to this ceiling also shows what that choice costs.

use std::path::Path;
use std::time::{Duration, Instant};

use dancu_synthetic::Population;
use prost::Message;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, DBCompressionType, Options, WriteBatch, WriteOptions, DB,
    DEFAULT_COLUMN_FAMILY_NAME,
};

use crate::CompareError;

/// The node's block cache (`node::storage::Store::open`).
const BLOCK_CACHE_BYTES: usize = 256 * 1024 * 1024;
/// The node's bloom filter on the state column family.
const BLOOM_BITS_PER_KEY: f64 = 10.0;
/// The node's background flush and compaction jobs.
const BACKGROUND_JOBS: i32 = 2;
/// Records written per batch while loading.
const LOAD_BATCH_RECORDS: usize = 10_000;
/// Keys per multi-get, the headline batch size.
pub const MULTI_GET_KEYS: usize = 100;
/// Five bytes before the personal ID, as long as the node's partition id and tag, so keys are as long as its.
const KEY_PREFIX: [u8; 5] = [0, 0, 0, 0, b'c'];
/// A thread reads the clock once per this many calls (a clock read costs about as much as a cached get).
const CALLS_PER_CLOCK_READ: u64 = 16;
/// Calls one thread may make; never reached (a get takes well over a nanosecond), but every loop has a bound.
const CALLS_PER_THREAD_MAX: u64 = 1 << 40;
/// Seed of the readers' key choice; fixed, so a run is repeatable.
const READER_SEED: u64 = 0x5eed_ce11;

/// What raw RocksDB reached.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StorageCeiling {
    pub records: u64,
    pub get_per_s: f64,
    /// Keys per second of batched multi-gets of [`MULTI_GET_KEYS`] keys.
    pub multi_get_keys_per_s: f64,
}

/// Loads every record of `population` into a fresh RocksDB in `dir`, flushes and compacts it, then reads for
/// `duration` with `threads` threads, first point gets, then batched multi-gets of [`MULTI_GET_KEYS`] keys.
pub fn measure(
    dir: &Path,
    population: &Population,
    threads: usize,
    duration: Duration,
) -> Result<StorageCeiling, CompareError> {
    assert!(threads > 0, "at least one reader thread");
    let rocksdb_error = |source| CompareError::Rocksdb { path: dir.to_path_buf(), source };
    // Opened by column family name: the batched multi-get takes a column family handle.
    let db = DB::open_cf(&node_like_options(), dir, [DEFAULT_COLUMN_FAMILY_NAME]).map_err(rocksdb_error)?;
    let cf = db.cf_handle(DEFAULT_COLUMN_FAMILY_NAME).ok_or_else(|| {
        let missing = std::io::Error::other("the default column family is not open");
        CompareError::io(format!("rocksdb at {}", dir.display()), missing)
    })?;
    let keys = load(&db, population).map_err(rocksdb_error)?;
    if keys.is_empty() {
        return Ok(StorageCeiling { records: 0, get_per_s: 0.0, multi_get_keys_per_s: 0.0 });
    }
    let get_per_s = keys_per_s(threads, duration, |rng| get_one(&db, &keys, rng)).map_err(rocksdb_error)?;
    let multi_get_keys_per_s =
        keys_per_s(threads, duration, |rng| multi_get_many(&db, cf, &keys, rng)).map_err(rocksdb_error)?;
    Ok(StorageCeiling { records: keys.len() as u64, get_per_s, multi_get_keys_per_s })
}

/// The node's state column family settings (`node::storage::Store::open`).
fn node_like_options() -> Options {
    let mut options = Options::default();
    options.create_if_missing(true);
    options.set_max_background_jobs(BACKGROUND_JOBS);
    options.set_compression_type(DBCompressionType::Lz4);
    use DBCompressionType::{Lz4, None as Plain};
    options.set_compression_per_level(&[Plain, Plain, Lz4, Lz4, Lz4, Lz4, Lz4]);
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(&Cache::new_lru_cache(BLOCK_CACHE_BYTES));
    table.set_bloom_filter(BLOOM_BITS_PER_KEY, false);
    options.set_block_based_table_factory(&table);
    options
}

/// Writes every record (without the WAL: the flush makes them durable), flushes and compacts, as a node's data
/// settles after a load. Returns every key.
fn load(db: &DB, population: &Population) -> Result<Vec<Vec<u8>>, rocksdb::Error> {
    let mut write_options = WriteOptions::default();
    write_options.disable_wal(true);
    let mut keys = Vec::with_capacity(population.count() as usize);
    let mut batch = WriteBatch::default();
    for citizen in population.citizens() {
        let key = [KEY_PREFIX.as_slice(), citizen.id.as_bytes()].concat();
        batch.put(&key, citizen.encode_to_vec());
        keys.push(key);
        if batch.len() >= LOAD_BATCH_RECORDS {
            db.write_opt(std::mem::take(&mut batch), &write_options)?;
        }
    }
    db.write_opt(batch, &write_options)?;
    db.flush()?;
    db.compact_range(None::<&[u8]>, None::<&[u8]>);
    Ok(keys)
}

/// One uniformly chosen key; returns the keys read (1).
fn get_one(db: &DB, keys: &[Vec<u8>], rng: &mut StdRng) -> Result<u64, rocksdb::Error> {
    let key = &keys[rng.random_range(0..keys.len())];
    let value = db.get(key)?;
    assert!(value.is_some(), "every loaded key is found");
    Ok(1)
}

/// [`MULTI_GET_KEYS`] uniformly chosen keys in one call, in the order drawn (as a request brings them); returns the
/// keys read.
fn multi_get_many(db: &DB, cf: &ColumnFamily, keys: &[Vec<u8>], rng: &mut StdRng) -> Result<u64, rocksdb::Error> {
    let batch: Vec<&[u8]> = (0..MULTI_GET_KEYS).map(|_| keys[rng.random_range(0..keys.len())].as_slice()).collect();
    for value in db.batched_multi_get_cf(cf, batch, false) {
        assert!(value?.is_some(), "every loaded key is found");
    }
    Ok(MULTI_GET_KEYS as u64)
}

/// Runs `read` in a loop on `threads` threads for `duration`; returns the keys read per second of the time the
/// threads actually ran (a thread notices the end only at its next clock read).
fn keys_per_s<F>(threads: usize, duration: Duration, read: F) -> Result<f64, rocksdb::Error>
where
    F: Fn(&mut StdRng) -> Result<u64, rocksdb::Error> + Sync,
{
    let started = Instant::now();
    let until = started + duration;
    let keys_read: u64 = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..threads)
            .map(|thread_idx| {
                let read = &read;
                scope.spawn(move || {
                    let mut rng = StdRng::seed_from_u64(READER_SEED ^ thread_idx as u64);
                    let mut keys_read = 0;
                    for call_idx in 0..CALLS_PER_THREAD_MAX {
                        if call_idx % CALLS_PER_CLOCK_READ == 0 && Instant::now() >= until {
                            break;
                        }
                        keys_read += read(&mut rng)?;
                    }
                    Ok(keys_read)
                })
            })
            .collect();
        readers
            .into_iter()
            .map(|reader| reader.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .sum::<Result<u64, rocksdb::Error>>()
    })?;
    Ok(keys_read as f64 / started.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_loaded_record_within_the_duration() {
        let dir = tempfile::tempdir().expect("tempdir");
        let population = Population::new(7, 2_000).expect("population");
        let duration = Duration::from_millis(200);
        let started = Instant::now();
        let ceiling = measure(dir.path(), &population, 2, duration).expect("measure");
        assert_eq!(ceiling.records, 2_000);
        assert!(ceiling.get_per_s > 0.0, "{ceiling:?}");
        assert!(ceiling.multi_get_keys_per_s > 0.0, "{ceiling:?}");
        // Loading 2,000 records takes well under a second; the reads take 2 × duration.
        assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    }

    #[test]
    fn an_empty_population_reads_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let population = Population::new(7, 0).expect("population");
        let ceiling = measure(dir.path(), &population, 1, Duration::from_millis(10)).expect("measure");
        assert_eq!(ceiling, StorageCeiling { records: 0, get_per_s: 0.0, multi_get_keys_per_s: 0.0 });
    }
}
