//! The random source and weighted draws.
//!
//! The generator is our own xoshiro256++ (public-domain algorithm by Blackman and Vigna) seeded through SplitMix64,
//! not `rand`'s `StdRng`: `StdRng` may change its algorithm between `rand` releases, and the output of
//! `dancuctl gen --seed S` must stay byte-identical forever, not only until the next dependency update.

/// SplitMix64's finalizer: a bijective 64-bit mix, used to derive independent seeds and keys from small numbers.
pub(crate) fn mix64(mut value: u64) -> u64 {
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

/// Combines a seed and a stream number (chunk index, purpose tag) into one well-mixed key.
pub(crate) fn derive_key(seed: u64, stream: u64) -> u64 {
    mix64(mix64(seed ^ 0x6a09_e667_f3bc_c908).wrapping_add(mix64(stream ^ 0xbb67_ae85_84ca_a73b)))
}

/// xoshiro256++: fast, 256 bits of state, statistically strong enough for synthetic data.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    state: [u64; 4],
}

impl Rng {
    /// A generator whose whole output is determined by `key`.
    pub(crate) fn from_key(key: u64) -> Rng {
        let mut splitmix = key;
        let mut next = || {
            splitmix = splitmix.wrapping_add(0x9e37_79b9_7f4a_7c15);
            mix64(splitmix)
        };
        let state = [next(), next(), next(), next()];
        // SplitMix64 never yields four zero words from one key, and an all-zero state would stick at zero.
        assert!(state.iter().any(|word| *word != 0));
        Rng { state }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let [s0, s1, s2, s3] = self.state;
        let result = s0.wrapping_add(s3).rotate_left(23).wrapping_add(s0);
        let t = s1 << 17;
        let mut s = [s0, s1, s2 ^ s0, s3 ^ s1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        self.state = s;
        result
    }

    /// A number in `0..n` (`n > 0`). Multiply-shift: the bias is below n / 2^32, far under any statistic we check.
    pub(crate) fn below(&mut self, n: u32) -> u32 {
        debug_assert!(n > 0);
        (((self.next_u64() >> 32) * u64::from(n)) >> 32) as u32
    }

    /// A number in `lo..=hi`.
    pub(crate) fn between(&mut self, lo: u32, hi: u32) -> u32 {
        debug_assert!(lo <= hi);
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `per_mille / 1000`.
    pub(crate) fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < per_mille
    }
}

/// A discrete distribution over `0..n` given integer weights: one uniform draw and a binary search.
#[derive(Debug, Clone)]
pub(crate) struct Weighted {
    /// Running sums of the weights; the last one is the total.
    cumulative: Vec<u32>,
}

impl Weighted {
    pub(crate) fn new(weights: impl IntoIterator<Item = u32>) -> Weighted {
        let mut total: u32 = 0;
        let cumulative: Vec<u32> = weights
            .into_iter()
            .map(|weight| {
                total = total.checked_add(weight).expect("weights sum below 2^32");
                total
            })
            .collect();
        assert!(total > 0, "a distribution needs a positive total weight");
        Weighted { cumulative }
    }

    /// An index drawn with probability proportional to its weight.
    pub(crate) fn sample(&self, rng: &mut Rng) -> usize {
        let total = *self.cumulative.last().expect("at least one weight");
        let target = rng.below(total);
        // The first running sum above the target; zero-weight entries (equal sums) are never chosen.
        self.cumulative.partition_point(|&sum| sum <= target)
    }

    /// The probability of index `idx`, for tests and reports.
    #[cfg(test)]
    pub(crate) fn share(&self, idx: usize) -> f64 {
        let total = f64::from(*self.cumulative.last().expect("at least one weight"));
        let before = if idx == 0 { 0 } else { self.cumulative[idx - 1] };
        f64::from(self.cumulative[idx] - before) / total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_pinned() {
        // Guards byte-identical output across releases: changing the generator changes every seed's data.
        let mut rng = Rng::from_key(42);
        let first: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        let mut again = Rng::from_key(42);
        assert_eq!(first, (0..3).map(|_| again.next_u64()).collect::<Vec<_>>());
        assert_eq!(first, PINNED_42);
        assert_ne!(Rng::from_key(43).next_u64(), first[0]);
    }

    /// The first three outputs for key 42, recorded when the generator was written.
    const PINNED_42: [u64; 3] = [15_021_278_609_987_233_951, 5_881_210_131_331_364_753, 18_149_643_915_985_481_100];

    #[test]
    fn weighted_draws_follow_weights_and_skip_zero_weights() {
        let weighted = Weighted::new([1, 0, 3]);
        let mut rng = Rng::from_key(7);
        let mut counts = [0u32; 3];
        for _ in 0..40_000 {
            counts[weighted.sample(&mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        let share = f64::from(counts[2]) / 40_000.0;
        assert!((share - 0.75).abs() < 0.01, "{share}");
        assert!((weighted.share(2) - 0.75).abs() < 1e-9);
    }

    #[test]
    fn between_covers_both_ends() {
        let mut rng = Rng::from_key(1);
        let mut seen = [false; 4];
        for _ in 0..1_000 {
            seen[(rng.between(3, 6) - 3) as usize] = true;
        }
        assert_eq!(seen, [true; 4]);
    }
}
