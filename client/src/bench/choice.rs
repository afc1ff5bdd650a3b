//! Which key the next request uses: uniform, or zipfian over ranks that a fixed shuffle maps to keys.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::Zipf;

use super::{BenchError, Distribution};

/// Seed of the rank → key shuffle. Fixed, so the hot keys of a data set are the same in every run whatever
/// `--seed` is; shuffled, so they are not the first IDs of the population (which share provinces and partitions).
const RANK_SHUFFLE_SEED: u64 = 0x6461_6e63_755f_6b65;

/// Draws key indices `0..n_keys`. Cheap to clone: loops share the rank → key table.
#[derive(Debug, Clone)]
pub struct KeyChooser {
    n_keys: usize,
    zipf: Option<Zipf<f64>>,
    /// `rank_to_idx[r]` is the key of rank `r` (0 = hottest); empty for uniform choice.
    rank_to_idx: Arc<[u32]>,
}

impl KeyChooser {
    pub fn new(n_keys: usize, distribution: Distribution) -> Result<KeyChooser, BenchError> {
        if n_keys == 0 {
            return Err(BenchError::NoKeys);
        }
        let Distribution::Zipfian { s } = distribution else {
            return Ok(KeyChooser { n_keys, zipf: None, rank_to_idx: Arc::from(Vec::new()) });
        };
        let n_keys_u32 = u32::try_from(n_keys).map_err(|_| BenchError::InvalidConfig {
            field: "population_count",
            message: format!("{n_keys} keys, at most {} with a zipfian choice", u32::MAX),
        })?;
        let zipf = Zipf::new(n_keys as f64, s)
            .map_err(|error| BenchError::InvalidConfig { field: "zipf_s", message: error.to_string() })?;
        let mut rank_to_idx: Vec<u32> = (0..n_keys_u32).collect();
        rank_to_idx.shuffle(&mut StdRng::seed_from_u64(RANK_SHUFFLE_SEED));
        Ok(KeyChooser { n_keys, zipf: Some(zipf), rank_to_idx: Arc::from(rank_to_idx) })
    }

    /// The random source of loop `loop_idx` for run seed `seed`: the same pair always draws the same keys.
    pub fn rng_for(seed: u64, loop_idx: usize) -> StdRng {
        // Spread loop indices over the seed space (golden-ratio step) so loops draw unrelated sequences.
        StdRng::seed_from_u64(seed ^ (loop_idx as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    /// The next key index.
    pub fn next_idx(&self, rng: &mut impl Rng) -> usize {
        let idx = match &self.zipf {
            None => rng.random_range(0..self.n_keys),
            Some(zipf) => self.rank_to_idx[self.next_rank(zipf, rng)] as usize,
        };
        debug_assert!(idx < self.n_keys);
        idx
    }

    /// A zipfian rank, 0-based (the distribution's are 1-based floats).
    fn next_rank(&self, zipf: &Zipf<f64>, rng: &mut impl Rng) -> usize {
        let rank_1 = rng.sample(zipf) as usize;
        rank_1.clamp(1, self.n_keys) - 1
    }

    /// The key of rank `rank` (0 = hottest) under a zipfian choice; the identity under a uniform one.
    pub fn key_of_rank(&self, rank: usize) -> usize {
        self.rank_to_idx.get(rank).map_or(rank, |&idx| idx as usize)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    const N_KEYS: usize = 10_000;
    const N_DRAWS: usize = 100_000;

    /// Share of `N_DRAWS` draws that hit the hottest 1 % of ranks.
    fn top_percent_share(distribution: Distribution) -> f64 {
        let chooser = KeyChooser::new(N_KEYS, distribution).expect("chooser");
        let hot: HashSet<usize> = (0..N_KEYS / 100).map(|rank| chooser.key_of_rank(rank)).collect();
        let mut rng = KeyChooser::rng_for(7, 0);
        let n_hot = (0..N_DRAWS).filter(|_| hot.contains(&chooser.next_idx(&mut rng))).count();
        n_hot as f64 / N_DRAWS as f64
    }

    #[test]
    fn zipfian_choice_skews_to_the_hot_keys_and_uniform_does_not() {
        let zipf_share = top_percent_share(Distribution::Zipfian { s: 0.99 });
        // Harmonic sums: H(100, 0.99) / H(10000, 0.99) ≈ 5.3 / 9.9, about half of all draws.
        assert!(zipf_share > 0.3, "zipfian: the top 1 % of ranks got {:.1} % of draws", zipf_share * 100.0);
        let uniform_share = top_percent_share(Distribution::Uniform);
        assert!(uniform_share < 0.015, "uniform: the first 1 % of keys got {:.1} % of draws", uniform_share * 100.0);
    }

    #[test]
    fn hot_keys_are_spread_over_the_key_space() {
        let chooser = KeyChooser::new(N_KEYS, Distribution::Zipfian { s: 0.99 }).expect("chooser");
        let hottest: Vec<usize> = (0..10).map(|rank| chooser.key_of_rank(rank)).collect();
        assert!(hottest.iter().any(|&idx| idx >= N_KEYS / 2), "hottest keys {hottest:?}");
        assert_ne!(hottest, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn the_same_seed_draws_the_same_keys() {
        for distribution in [Distribution::Uniform, Distribution::Zipfian { s: 0.99 }] {
            let chooser = KeyChooser::new(N_KEYS, distribution).expect("chooser");
            let draws = |seed, loop_idx| {
                let mut rng = KeyChooser::rng_for(seed, loop_idx);
                (0..1_000).map(|_| chooser.next_idx(&mut rng)).collect::<Vec<_>>()
            };
            assert_eq!(draws(11, 3), draws(11, 3), "{distribution:?}");
            assert_ne!(draws(11, 3), draws(12, 3), "{distribution:?}");
            assert_ne!(draws(11, 3), draws(11, 4), "{distribution:?}");
        }
    }
}
