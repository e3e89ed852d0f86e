//! Seeded key generators: uniform and zipfian over `0..keyspace`.
//!
//! [`Rng`] is the workspace's seeded generator (`check::Rng`): the same seed always gives the
//! same sequence, so a run can be repeated exactly. [`KeyGen`] draws key numbers; the workload
//! turns a number `n` into the key `key:{n:012}` (redis-benchmark's shape, so both tools touch
//! the same keys).
//!
//! The zipfian generator is Gray et al.'s ("Quickly generating billion-record synthetic
//! databases", the one YCSB uses) with skew [`ZIPF_THETA`]: rank 0 is the hottest key and a few
//! hundred keys take most of the traffic. It needs zeta(n) = sum of 1/i^theta for i in 1..=n;
//! that is summed exactly up to [`ZETA_EXACT_TERMS`] and the rest of the tail is added as the
//! integral of x^-theta, which is accurate to far better than the run-to-run noise.

use clap::ValueEnum;

/// Skew of the zipfian distribution (YCSB's default).
pub const ZIPF_THETA: f64 = 0.99;
/// Terms of zeta(n) summed exactly; the rest is approximated by an integral.
pub const ZETA_EXACT_TERMS: u64 = 1_000_000;

/// How keys are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KeyDistribution {
    /// Every key equally likely.
    Uniform,
    /// A few hot keys (zipfian, theta 0.99, rank 0 hottest).
    Zipfian,
}

/// The seeded generator: the workspace's one ([`check::Rng`], xoshiro256** seeded through
/// SplitMix64), shared with the fault suite and the tests.
pub use check::Rng;

/// The precomputed constants of a zipfian distribution over `0..n`.
#[derive(Clone, Debug)]
struct Zipf {
    n: u64,
    zeta_n: f64,
    alpha: f64,
    eta: f64,
    /// 1 + 0.5^theta: the cumulative weight of ranks 0 and 1, scaled by zeta.
    two_cut: f64,
}

impl Zipf {
    fn new(n: u64) -> Zipf {
        let zeta_n = zeta(n, ZIPF_THETA);
        let zeta_2 = zeta(2, ZIPF_THETA);
        let eta = (1.0 - (2.0 / n as f64).powf(1.0 - ZIPF_THETA)) / (1.0 - zeta_2 / zeta_n);
        Zipf {
            n,
            zeta_n,
            alpha: 1.0 / (1.0 - ZIPF_THETA),
            eta,
            two_cut: 1.0 + 0.5f64.powf(ZIPF_THETA),
        }
    }

    fn sample(&self, rng: &mut Rng) -> u64 {
        let u = rng.unit();
        let uz = u * self.zeta_n;
        if uz < 1.0 || self.n == 1 {
            return 0;
        }
        if uz < self.two_cut {
            return 1;
        }
        let rank = (self.n as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        rank.min(self.n - 1)
    }
}

/// zeta(n, theta) = sum of 1/i^theta for i in 1..=n.
fn zeta(n: u64, theta: f64) -> f64 {
    let exact = n.min(ZETA_EXACT_TERMS);
    let mut sum: f64 = (1..=exact).map(|i| (i as f64).powf(-theta)).sum();
    if n > exact {
        let integral = |x: f64| x.powf(1.0 - theta) / (1.0 - theta);
        sum += integral(n as f64 + 0.5) - integral(exact as f64 + 0.5);
    }
    sum
}

/// Draws key numbers in `0..keyspace`.
#[derive(Clone, Debug)]
pub struct KeyGen {
    keyspace: u64,
    zipf: Option<Zipf>,
}

impl KeyGen {
    /// A generator over `0..keyspace` (`keyspace` > 0). The zipfian one computes zeta once
    /// (up to a few ms); clone it for each client rather than building it again.
    pub fn new(distribution: KeyDistribution, keyspace: u64) -> KeyGen {
        assert!(keyspace > 0, "keyspace must not be empty");
        let zipf = (distribution == KeyDistribution::Zipfian).then(|| Zipf::new(keyspace));
        KeyGen { keyspace, zipf }
    }

    /// The next key number.
    pub fn next(&self, rng: &mut Rng) -> u64 {
        match &self.zipf {
            Some(z) => z.sample(rng),
            None => rng.below(self.keyspace),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(gen: &KeyGen, keyspace: u64, draws: usize, seed: u64) -> Vec<u64> {
        let mut rng = Rng::new(seed);
        let mut counts = vec![0u64; keyspace as usize];
        for _ in 0..draws {
            counts[gen.next(&mut rng) as usize] += 1;
        }
        counts
    }

    #[test]
    fn same_seed_same_keys_other_seed_other_keys() {
        for d in [KeyDistribution::Uniform, KeyDistribution::Zipfian] {
            let gen = KeyGen::new(d, 1_000_000);
            let draw = |seed| {
                let mut rng = Rng::new(seed);
                (0..100).map(|_| gen.next(&mut rng)).collect::<Vec<_>>()
            };
            assert_eq!(draw(1), draw(1), "{d:?}");
            assert_ne!(draw(1), draw(2), "{d:?}");
        }
    }

    #[test]
    fn uniform_covers_the_keyspace_evenly() {
        let counts = counts(&KeyGen::new(KeyDistribution::Uniform, 100), 100, 100_000, 3);
        // Expected 1,000 each; a fair draw stays well within 25% of it.
        assert!(
            counts.iter().all(|&c| (750..1250).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn zipfian_is_skewed_towards_low_ranks() {
        let n = 1000;
        let counts = counts(&KeyGen::new(KeyDistribution::Zipfian, n), n, 200_000, 5);
        // P(rank 0) = 1/zeta(1000, 0.99), about 0.13; P(rank 1) about half of that.
        let share = |c: u64| c as f64 / 200_000.0;
        let p0 = 1.0 / zeta(n, ZIPF_THETA);
        assert!(
            (share(counts[0]) - p0).abs() < 0.01,
            "{} vs {p0}",
            share(counts[0])
        );
        assert!(counts[0] > counts[1] && counts[1] > counts[10] && counts[10] > counts[500]);
        let top_10: u64 = counts[..10].iter().sum();
        assert!(
            share(top_10) > 0.35,
            "top 10 of 1000 keys: {}",
            share(top_10)
        );
    }

    #[test]
    fn every_key_in_range_and_edges() {
        for d in [KeyDistribution::Uniform, KeyDistribution::Zipfian] {
            for n in [1, 2, 3, 7, 5_000_000] {
                let gen = KeyGen::new(d, n);
                let mut rng = Rng::new(9);
                assert!((0..10_000).all(|_| gen.next(&mut rng) < n), "{d:?} {n}");
            }
        }
    }

    #[test]
    fn zeta_tail_approximation_is_close() {
        // Past the exact terms the integral stands in for the sum; compare at a size where
        // both can be computed.
        let n = ZETA_EXACT_TERMS + 500_000;
        let exact: f64 = (1..=n).map(|i| (i as f64).powf(-ZIPF_THETA)).sum();
        assert!((zeta(n, ZIPF_THETA) - exact).abs() / exact < 1e-6);
    }
}
