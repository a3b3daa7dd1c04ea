//! The seeded random source and the deterministic helpers built on it.
//!
//! Only integer arithmetic and IEEE-exact float operations are used on random values, so the
//! same seed gives the same rows on every platform (for a given `rand` version).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

/// A seeded `StdRng` with helpers for the values the generators need.
pub(crate) struct SeedRng {
    rng: StdRng,
}

impl SeedRng {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// A random (version 4 formatted) UUID drawn from the seeded stream.
    pub(crate) fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.rng.random()).into_uuid()
    }

    /// `true` with probability `percent / 100`.
    pub(crate) fn pct(&mut self, percent: u32) -> bool {
        self.rng.random_range(0..100u32) < percent
    }

    /// Uniform integer in `lo..=hi`.
    pub(crate) fn int(&mut self, lo: i64, hi: i64) -> i64 {
        self.rng.random_range(lo..=hi)
    }

    /// Uniform index in `0..len` (`len > 0`).
    pub(crate) fn index(&mut self, len: usize) -> usize {
        self.rng.random_range(0..len)
    }

    /// One element of a non-empty slice.
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }

    /// Index drawn with the given integer weights (not all zero).
    pub(crate) fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.rng.random_range(0..total);
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    /// `n` distinct indices out of `0..len`, in draw order (`n <= len`).
    pub(crate) fn distinct(&mut self, len: usize, n: usize) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::with_capacity(n);
        while out.len() < n.min(len) {
            let i = self.index(len);
            if !out.contains(&i) {
                out.push(i);
            }
        }
        out
    }

    /// Lowercase hexadecimal string of `len` characters.
    pub(crate) fn hex(&mut self, len: usize) -> String {
        self.chars(len, b"0123456789abcdef")
    }

    /// Random string of `len` characters from `alphabet` (ASCII).
    pub(crate) fn chars(&mut self, len: usize, alphabet: &[u8]) -> String {
        (0..len)
            .map(|_| char::from(alphabet[self.index(alphabet.len())]))
            .collect()
    }

    /// A heavy-tailed weight (Pareto, α = 2, scale 100): P(w > x) = (100 / x)², capped.
    pub(crate) fn pareto_weight(&mut self, cap: u64) -> u64 {
        let u = self.rng.random_range(1..=1_000_000u32);
        // sqrt and division are correctly rounded in IEEE 754: the result is platform independent.
        let w = 100.0 * 1000.0 / f64::from(u).sqrt();
        (w as u64).min(cap)
    }

    /// A very heavy-tailed weight: `v / u` with `v` uniform in 1..=100 and `u` uniform in (0, 1],
    /// in integer arithmetic, capped (median ≈ 2 % of the cap for cap 5,000).
    pub(crate) fn heavy_weight(&mut self, cap: u64) -> u64 {
        let v = self.rng.random_range(1..=100u64);
        let u = self.rng.random_range(1..=1_000_000u64);
        (v * 1_000_000 / u).min(cap)
    }

    /// `base` shifted by a whole number of seconds in `lo..=hi`.
    pub(crate) fn seconds_from(&mut self, base: DateTime<Utc>, lo: i64, hi: i64) -> DateTime<Utc> {
        base + Duration::seconds(self.int(lo, hi))
    }

    /// A time between `from` and `to` (inclusive, whole seconds); `from` if the range is empty.
    pub(crate) fn between(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
        let span = (to - from).num_seconds();
        if span <= 0 {
            from
        } else {
            from + Duration::seconds(self.int(0, span))
        }
    }

    /// `base` shifted by a whole number of days in `lo..=hi`.
    pub(crate) fn days_from(&mut self, base: NaiveDate, lo: i64, hi: i64) -> NaiveDate {
        base + Duration::days(self.int(lo, hi))
    }
}
