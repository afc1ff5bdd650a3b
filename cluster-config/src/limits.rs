//! Limits and fixed shapes of the configuration, in one place.

/// Digits in a personal ID (`PPPGYYNNNNNN`).
pub const PERSONAL_ID_DIGITS: usize = 12;

/// Digits of the province code that opens a personal ID.
pub const PROVINCE_CODE_DIGITS: usize = 3;

/// Partition ids are `province code × PARTITION_ID_PROVINCE_STRIDE + split index`.
pub const PARTITION_ID_PROVINCE_STRIDE: u32 = 100;

/// A province may be cut into at most this many ranges, so split indices fit below the stride.
pub const PARTITIONS_PER_PROVINCE_MAX: usize = 100;

/// Split points per province: one fewer than the ranges they cut.
pub const SPLIT_POINTS_PER_PROVINCE_MAX: usize = PARTITIONS_PER_PROVINCE_MAX - 1;

/// Replica counts a partition may have: odd, so a majority survives one (3) or two (5) lost nodes.
pub const REPLICAS_ALLOWED: [u8; 2] = [3, 5];

/// Below this, heartbeats on a loaded 2-core machine would crowd out real work.
pub const HEARTBEAT_INTERVAL_MS_MIN: u64 = 10;

/// `[raft] max_clock_drift_ppm` at most 20 %: beyond it the lease left for reads is under two thirds of its length.
pub const CLOCK_DRIFT_PPM_MAX: u32 = 200_000;

/// Longest role or caller name, in bytes: a caller's name is the identity in its certificate and is written into
/// every audit record, so it stays short.
pub const ACCESS_NAME_BYTES_MAX: usize = 64;

/// Longest purpose a role may list, in bytes; well under the node's limit on a request's purpose (128), so every
/// configured purpose can be sent.
pub const ROLE_PURPOSE_BYTES_MAX: usize = 64;

const _: () = assert!(PARTITIONS_PER_PROVINCE_MAX as u32 <= PARTITION_ID_PROVINCE_STRIDE);
const _: () = assert!(PROVINCE_CODE_DIGITS < PERSONAL_ID_DIGITS);
