//! Every bound of the node in one place. Each is a named constant, tested at its edge.

use std::time::Duration;

/// Most IDs in one `BatchGetCitizens` call.
pub const BATCH_IDS_MAX: usize = 1_000;
/// Longest full name or other name, in Unicode scalar values.
pub const NAME_CHARS_MAX: usize = 200;
/// Longest free-text address line.
pub const ADDRESS_LINE_CHARS_MAX: usize = 300;
/// Longest short text field (ethnicity, religion, nationality, relationship, codes).
pub const SHORT_TEXT_CHARS_MAX: usize = 64;
/// Most earlier (cancelled) IDs one record keeps.
pub const EARLIER_IDS_MAX: usize = 16;
/// Most records in one `PutCitizens` call (one Raft entry).
pub const PUT_BATCH_RECORDS_MAX: usize = 1_000;
/// Largest encoded `PutCitizens` batch: bounds one Raft entry.
pub const PUT_BATCH_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Largest encoded AppendEntries message; longer runs of entries are sent in several rounds.
pub const APPEND_ENTRIES_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Most queries in one `BatchVerifyCitizens` call.
pub const BATCH_VERIFY_MAX: usize = 1_000;
/// Most hits one `SearchCitizens` returns, and the default.
pub const SEARCH_LIMIT_MAX: u32 = 100;
pub const SEARCH_LIMIT_DEFAULT: u32 = 20;
/// Most members `ListHousehold` returns (a household is at most a few dozen people).
pub const HOUSEHOLD_MEMBERS_MAX: usize = 1_000;
/// Records per `ScanPartition` page: most and default; pages in flight per scan.
pub const SCAN_PAGE_MAX: u32 = 5_000;
pub const SCAN_PAGE_DEFAULT: u32 = 500;
pub const SCAN_PAGES_IN_FLIGHT: usize = 2;
/// Longest a node waits for a peer answering its part of a scatter-gather query.
pub const SCATTER_RPC_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest client request id (bytes).
pub const REQUEST_ID_BYTES_MAX: usize = 128;
/// Longest `purpose` (bytes).
pub const PURPOSE_BYTES_MAX: usize = 128;
/// Largest gRPC message accepted or sent.
pub const GRPC_MESSAGE_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Largest snapshot chunk streamed between nodes.
pub const SNAPSHOT_CHUNK_BYTES_MAX: usize = 1024 * 1024;
/// Exactly-once window: a request id is remembered for this many log entries of its partition.
pub const REQUEST_ID_WINDOW_ENTRIES: u64 = 100_000;
/// Most sync waiters completed by one WAL fsync (group commit).
pub const GROUP_COMMIT_WAITERS_MAX: usize = 4_096;
/// Depth of the queue feeding the WAL syncer.
pub const SYNC_QUEUE_DEPTH: usize = 16_384;
/// Longest a read waits for the local state machine to reach its read index.
pub const READ_APPLY_WAIT_MAX: Duration = Duration::from_secs(5);
/// Longest a write waits for commit + apply when the caller sets no deadline.
pub const WRITE_WAIT_DEFAULT: Duration = Duration::from_secs(5);
/// Longest any single internal Raft RPC may take (snapshots excepted).
pub const RAFT_RPC_TIMEOUT: Duration = Duration::from_secs(3);
/// Most log entries sent in one AppendEntries.
pub const APPEND_ENTRIES_MAX: u64 = 512;
/// Writes one partition has admitted and not yet applied (on its leader); more are refused with
/// `RESOURCE_EXHAUSTED` (`service::admission`). Bulk batches may fill three quarters of each bound.
pub const PROPOSALS_IN_FLIGHT_MAX: u64 = 256;
/// Writes the whole node has admitted and not yet applied: with every core busy, more in flight only adds queueing
/// delay (at a few thousand commits per second, a thousand waiting is already a few hundred milliseconds).
pub const NODE_PROPOSALS_IN_FLIGHT_MAX: u64 = 1_024;
/// Bytes of those writes, per partition and over the whole node.
pub const PROPOSAL_BYTES_IN_FLIGHT_MAX: u64 = 16 * 1024 * 1024;
pub const NODE_PROPOSAL_BYTES_IN_FLIGHT_MAX: u64 = 128 * 1024 * 1024;
/// `retry_after_ms` of a refused write: a full partition drains within a few commit rounds; bulk waits longer, and
/// longer still while RocksDB is near a write stall (flushes and compactions take hundreds of milliseconds).
pub const RETRY_AFTER_QUEUE_FULL: Duration = Duration::from_millis(20);
pub const RETRY_AFTER_BULK: Duration = Duration::from_millis(50);
pub const RETRY_AFTER_WRITE_STALL: Duration = Duration::from_millis(200);
/// The scheduling probe: it asks to wake every interval; the worst lateness of a window over the bound marks the
/// CPU saturated for the next window, and bulk writes wait (`service::admission`). A heartbeat's whole budget is one
/// heartbeat interval (100 ms by default), so queueing delay must stay well below it.
pub const SCHEDULING_PROBE_INTERVAL: Duration = Duration::from_millis(5);
pub const SCHEDULING_WINDOW: Duration = Duration::from_millis(100);
pub const SCHEDULING_DELAY_BULK_MAX: Duration = Duration::from_millis(20);
pub const RETRY_AFTER_CPU_SATURATED: Duration = Duration::from_millis(100);
/// Interactive writes are refused while the runtime is later than this (as late as holds bulk writes back) and the node
/// has at least [`NODE_QUEUED_WRITES_OVERWHELMED`] writes queued: beyond it, more work only delays every answer.
pub const SCHEDULING_DELAY_INTERACTIVE_MAX: Duration = Duration::from_millis(20);
pub const NODE_QUEUED_WRITES_OVERWHELMED: u64 = 64;
/// How long a bulk write waits at the node for a saturated CPU to clear before it is refused: two scheduling
/// windows, so a momentary saturation delays a batch instead of sending it back.
pub const BULK_CPU_WAIT_MAX: Duration = Duration::from_millis(200);
/// How often the node samples RocksDB's write-stall signals.
pub const WRITE_PRESSURE_SAMPLE_INTERVAL: Duration = Duration::from_millis(100);
/// Earliest birth year the personal ID can express (century digit 0/1).
pub const BIRTH_YEAR_MIN: u32 = 1900;

const _: () = assert!(SNAPSHOT_CHUNK_BYTES_MAX * 4 <= GRPC_MESSAGE_BYTES_MAX);
const _: () = assert!(PUT_BATCH_BYTES_MAX < APPEND_ENTRIES_BYTES_MAX);
const _: () = assert!(APPEND_ENTRIES_BYTES_MAX < GRPC_MESSAGE_BYTES_MAX);
const _: () = assert!(SEARCH_LIMIT_DEFAULT <= SEARCH_LIMIT_MAX);
const _: () = assert!(GROUP_COMMIT_WAITERS_MAX <= SYNC_QUEUE_DEPTH);
const _: () = assert!(REQUEST_ID_BYTES_MAX <= 1024);
const _: () = assert!(PUT_BATCH_BYTES_MAX as u64 <= PROPOSAL_BYTES_IN_FLIGHT_MAX / 2);
const _: () = assert!(PROPOSAL_BYTES_IN_FLIGHT_MAX <= NODE_PROPOSAL_BYTES_IN_FLIGHT_MAX);
const _: () = assert!(PROPOSALS_IN_FLIGHT_MAX <= NODE_PROPOSALS_IN_FLIGHT_MAX);

/// How often a node ships its recorded accesses to the audit group (the bound on how long a record lives on one node
/// only is this plus one Raft commit).
pub const AUDIT_SHIP_INTERVAL: Duration = Duration::from_millis(200);
/// A node whose records wait longer than this to be anchored refuses access until they are (fail closed).
pub const AUDIT_UNANCHORED_AGE_MAX: Duration = Duration::from_secs(5);
/// Most records, and bytes of records, in one audit segment.
pub const AUDIT_SEGMENT_RECORDS_MAX: usize = 16_384;
pub const AUDIT_SEGMENT_BYTES_MAX: usize = 4 * 1024 * 1024;
/// How long an audit query waits for every node to anchor what it recorded.
pub const AUDIT_FLUSH_WAIT: Duration = Duration::from_secs(3);
