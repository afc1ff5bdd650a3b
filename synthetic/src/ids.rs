//! Identifiers that must be unique across the whole output although chunks are generated independently:
//! personal IDs, legacy 9-digit numbers and household IDs.
//!
//! Personal IDs `PPPGYYNNNNNN`: every chunk owns the serial slots `chunk_idx * SLOTS_PER_CHUNK ..
//! (chunk_idx + 1) * SLOTS_PER_CHUNK` of every prefix `PPPGYY`, and a keyed permutation of `0..10^6` turns a slot
//! into the serial, so serials look random but two chunks can never collide. With 4,096 records per chunk and
//! 16 slots per prefix, 62,500 chunks fit: [`RECORDS_MAX`] is 256 million records, more than the population of
//! Vietnam. A chunk that fills a prefix (more than 16 people of one sex born in one year registered in one
//! province, which the age and province weights make vanishingly rare) registers the next one in another
//! province instead.
//!
//! Legacy numbers and household IDs are keyed permutations of the record's global index, unique by construction.

use dancu_cluster_config::provinces::PROVINCES;

use crate::calendar::{AS_OF, BIRTH_YEAR_MIN};
use crate::geography::N_PROVINCES;
use crate::rng::{derive_key, mix64};

/// Records per chunk: the unit of parallel work, of seeding and of serial-slot ownership.
pub const CHUNK_RECORDS: u64 = 4_096;

/// Serial slots each chunk owns in each prefix `PPPGYY`.
pub(crate) const SLOTS_PER_CHUNK: u32 = 16;

const SERIALS_PER_PREFIX: u64 = 1_000_000;

/// Most chunks whose slot ranges fit in one prefix's serial space.
pub(crate) const CHUNKS_MAX: u64 = SERIALS_PER_PREFIX / SLOTS_PER_CHUNK as u64;

/// Most records one population can have: the serial space of a prefix shared out between chunks.
pub const RECORDS_MAX: u64 = CHUNKS_MAX * CHUNK_RECORDS;

const _: () = assert!(RECORDS_MAX == 256_000_000);

/// Birth years a personal ID can carry here: 1900 to the "as of" year.
const N_BIRTH_YEARS: usize = (AS_OF.year - BIRTH_YEAR_MIN + 1) as usize;

/// Purpose tags for derived keys, so the streams of one seed never coincide.
const TAG_SERIAL: u64 = 0x5345_5249_414c;
const TAG_LEGACY: u64 = 0x4c45_4741_4359;
const TAG_HOUSEHOLD: u64 = 0x484f_5553_4548;

/// A keyed bijection of `0..limit`: a 4-round Feistel network on `2 * half_bits` bits, with cycle walking to stay
/// below `limit` (the walk ends because the permutation's cycle through a value below `limit` comes back to it).
#[derive(Debug, Clone, Copy)]
struct Permutation {
    key: u64,
    half_bits: u32,
    limit: u64,
}

impl Permutation {
    fn apply(self, value: u64) -> u64 {
        assert!(value < self.limit, "{value} outside the permuted range 0..{}", self.limit);
        let walk_max = (1u64 << (2 * self.half_bits)) - self.limit + 1;
        let mut current = value;
        for _ in 0..walk_max {
            current = self.feistel(current);
            if current < self.limit {
                return current;
            }
        }
        unreachable!("cycle walking always returns below the limit within {walk_max} steps")
    }

    fn feistel(self, value: u64) -> u64 {
        let mask = (1u64 << self.half_bits) - 1;
        let (mut left, mut right) = (value >> self.half_bits, value & mask);
        for round in 0..4u64 {
            let f = mix64(right ^ self.key.rotate_left(16 * round as u32) ^ round) & mask;
            (left, right) = (right, left ^ f);
        }
        (left << self.half_bits) | right
    }
}

/// The 12-digit personal ID as a number: `PPP * 10^9 + G * 10^8 + YY * 10^6 + NNNNNN`.
pub(crate) fn personal_id(province: u8, female: bool, birth_year: u16, serial: u32) -> u64 {
    prefix_number(province, female, birth_year) * SERIALS_PER_PREFIX + u64::from(serial)
}

/// `PPPGYY` as a number.
fn prefix_number(province: u8, female: bool, birth_year: u16) -> u64 {
    let century_digit = u64::from((birth_year - BIRTH_YEAR_MIN) / 100) * 2 + u64::from(female);
    let code = u64::from(PROVINCES[usize::from(province)].code_number());
    code * 1_000 + century_digit * 100 + u64::from(birth_year % 100)
}

/// Hands out serials within one chunk. Reset for every chunk.
#[derive(Debug)]
pub(crate) struct SerialAllocator {
    seed: u64,
    chunk_idx: u64,
    /// Slots used so far in this chunk, per (province, sex, birth year).
    used: Vec<u8>,
}

impl SerialAllocator {
    pub(crate) fn new(seed: u64) -> SerialAllocator {
        SerialAllocator { seed, chunk_idx: 0, used: vec![0; N_PROVINCES * 2 * N_BIRTH_YEARS] }
    }

    pub(crate) fn start_chunk(&mut self, chunk_idx: u64) {
        assert!(chunk_idx < CHUNKS_MAX, "chunk {chunk_idx} beyond the serial space");
        self.chunk_idx = chunk_idx;
        self.used.fill(0);
    }

    /// A personal ID for someone of this sex and birth year, registered in `province` if it has a free slot,
    /// else in the next province that has one. Returns the province actually used and the ID.
    pub(crate) fn allocate(&mut self, province: u8, female: bool, birth_year: u16) -> (u8, u64) {
        assert!((BIRTH_YEAR_MIN..=AS_OF.year).contains(&birth_year), "birth year {birth_year}");
        let year_idx = usize::from(birth_year - BIRTH_YEAR_MIN);
        for step in 0..N_PROVINCES {
            let candidate = ((usize::from(province) + step) % N_PROVINCES) as u8;
            let counter_idx = (usize::from(candidate) * 2 + usize::from(female)) * N_BIRTH_YEARS + year_idx;
            let slot_in_chunk = u32::from(self.used[counter_idx]);
            if slot_in_chunk >= SLOTS_PER_CHUNK {
                continue;
            }
            self.used[counter_idx] += 1;
            let prefix = prefix_number(candidate, female, birth_year);
            let permutation = Permutation {
                key: derive_key(self.seed, TAG_SERIAL ^ (prefix << 16)),
                half_bits: 10,
                limit: SERIALS_PER_PREFIX,
            };
            let slot = self.chunk_idx * u64::from(SLOTS_PER_CHUNK) + u64::from(slot_in_chunk);
            let serial = permutation.apply(slot) as u32;
            return (candidate, personal_id(candidate, female, birth_year, serial));
        }
        // 63 provinces x 16 slots = 1,008 people of one sex and birth year in a chunk of 4,096: the age
        // distribution puts at most about 1.5 % of people in one birth year, so this is a programming error.
        panic!("chunk {} has no serial left for birth year {birth_year} in any province", self.chunk_idx)
    }
}

/// The legacy 9-digit identity card number of the record at `record_idx` (global, 0-based).
pub(crate) fn legacy_number(seed: u64, record_idx: u64) -> u32 {
    let permutation = Permutation { key: derive_key(seed, TAG_LEGACY), half_bits: 15, limit: 1_000_000_000 };
    permutation.apply(record_idx) as u32
}

/// The 10-digit number of the household whose head is the record at `head_record_idx`.
pub(crate) fn household_number(seed: u64, head_record_idx: u64) -> u64 {
    let permutation = Permutation { key: derive_key(seed, TAG_HOUSEHOLD), half_bits: 17, limit: 10_000_000_000 };
    permutation.apply(head_record_idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutations_are_bijections() {
        let permutation = Permutation { key: 99, half_bits: 10, limit: SERIALS_PER_PREFIX };
        let mut seen = vec![false; SERIALS_PER_PREFIX as usize];
        for value in 0..SERIALS_PER_PREFIX {
            let image = permutation.apply(value) as usize;
            assert!(!seen[image], "{image} hit twice");
            seen[image] = true;
        }
        // Consecutive slots land far apart, so serials look random.
        assert!(permutation.apply(0).abs_diff(permutation.apply(1)) > 10);
    }

    #[test]
    fn id_layout() {
        let hanoi = PROVINCES.iter().position(|p| p.code == "001").expect("listed") as u8;
        assert_eq!(personal_id(hanoi, false, 1985, 12_345), 1_085_012_345);
        assert_eq!(personal_id(hanoi, true, 2005, 1), 1_305_000_001);
        assert_eq!(personal_id(hanoi, true, 1900, 999_999), 1_100_999_999);
    }

    #[test]
    fn a_full_prefix_moves_on_to_the_next_province() {
        let mut allocator = SerialAllocator::new(5);
        allocator.start_chunk(CHUNKS_MAX - 1);
        let mut ids = Vec::new();
        for _ in 0..SLOTS_PER_CHUNK + 1 {
            ids.push(allocator.allocate(0, true, 1990));
        }
        assert!(ids[..SLOTS_PER_CHUNK as usize].iter().all(|(province, _)| *province == 0));
        assert_eq!(ids[SLOTS_PER_CHUNK as usize].0, 1);
        let mut numbers: Vec<u64> = ids.iter().map(|(_, id)| *id).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), ids.len());
    }
}
