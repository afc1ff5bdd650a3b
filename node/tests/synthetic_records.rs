//! A million synthetic citizens (`dancu-synthetic`, what `dancuctl gen` writes) all pass the node's record
//! validation, and their personal IDs are unique: generated data can be loaded into a cluster as it is.

use std::collections::HashSet;

use dancu_node::citizen::{validate, CalendarDate};
use dancu_synthetic::{Population, AS_OF};

const SEED: u64 = 42;
const COUNT: u64 = 1_000_000;
const THREADS: u64 = 4;

/// Validates the chunks `first, first + THREADS, ...`; returns their IDs as numbers.
fn validate_every_nth_chunk(population: &Population, first: u64, today: CalendarDate) -> Vec<u64> {
    let mut ids = Vec::with_capacity((COUNT / THREADS) as usize + 1);
    for chunk_idx in (first..population.n_chunks()).step_by(THREADS as usize) {
        for citizen in population.chunk_citizens(chunk_idx) {
            if let Err(error) = validate(&citizen, today) {
                panic!("seed {SEED}, chunk {chunk_idx}: record {} refused: {error}\n{citizen:?}", citizen.id);
            }
            ids.push(citizen.id.parse().expect("a valid ID is 12 digits"));
        }
    }
    ids
}

#[test]
fn a_million_synthetic_records_pass_validation_with_unique_ids() {
    let today = CalendarDate::today_utc();
    let as_of = CalendarDate { year: u32::from(AS_OF.year), month: u32::from(AS_OF.month), day: u32::from(AS_OF.day) };
    assert!(as_of <= today, "the synthetic population's date {as_of} is after today {today}");
    let population = Population::new(SEED, COUNT).expect("within capacity");
    let per_thread: Vec<Vec<u64>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|first| scope.spawn(move || validate_every_nth_chunk(&population, first, today)))
            .collect();
        workers.into_iter().map(|worker| worker.join().expect("validation thread")).collect()
    });
    let mut unique = HashSet::with_capacity(COUNT as usize);
    for id in per_thread.into_iter().flatten() {
        assert!(unique.insert(id), "seed {SEED}: personal ID {id:012} generated twice");
    }
    assert_eq!(unique.len() as u64, COUNT);
}
