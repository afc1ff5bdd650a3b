//! dancu-synthetic: a deterministic, realistic synthetic population of Vietnam, for tests, demos and load.
//!
//! Every person is invented: names, dates and IDs are drawn from public aggregate statistics (2019 census shares
//! of provinces, ethnic groups, religions, household sizes, the usual family names), never from real records.
//!
//! ```
//! use dancu_synthetic::Population;
//!
//! # fn main() -> Result<(), dancu_synthetic::GenError> {
//! let population = Population::new(42, 10)?;
//! let first: Vec<_> = population.citizens().take(3).collect();
//! assert_eq!(first[0].relationship_to_head, "Chủ hộ");
//!
//! let mut json = Vec::new();
//! let stats = population.write_json(2, &mut json)?;
//! assert_eq!(stats.n_records, 10);
//! assert_eq!(json.split(|b| *b == b'\n').filter(|line| !line.is_empty()).count(), 10);
//! # Ok(())
//! # }
//! ```
//!
//! What the records look like:
//! - personal IDs `PPPGYYNNNNNN` valid for the record (province of birth registration, sex and century, year of
//!   birth) and unique, serials drawn through a keyed permutation (see `ids.rs` for the scheme and its limit,
//!   [`RECORDS_MAX`]);
//! - households of 1 to 8 members sharing a household ID and permanent residence, with a head, spouses linked to
//!   each other, children linked to their parents, grandparents, grandchildren or siblings;
//! - an age pyramid like the 2019 census; 1 to 2 % deceased (mostly the old); identity cards and legacy
//!   9-digit numbers (unique) where the person is old enough to hold them;
//! - every date between 1900 and [`AS_OF`], a fixed date, so a seed gives the same bytes on every day.
//!
//! Architecture Invariant: pure computation plus the one `Write` the caller passes to `write_json`; no clock
//! (except to time the run), no files, no network. Output depends only on the seed and count.

mod age;
mod calendar;
mod ethnicity;
mod geography;
mod household;
mod ids;
mod json;
mod names;
mod person;
mod population;
mod rng;

pub use calendar::{Day, AS_OF};
pub use ids::{CHUNK_RECORDS, RECORDS_MAX};
pub use names::unaccented;
pub use population::{GenError, GenStats, Population};

#[cfg(test)]
mod tests;
