//! Helpers shared by the bench binaries: a deterministic pseudo-random
//! generator (no extra crate) and the switch to smaller sizes for smoke runs.
//!
//! Each bench binary compiles this module and uses a different part of it.
#![allow(dead_code)]

/// Whether `REGIONS_BENCH_SMALL=1` asks for smaller sizes (a quick smoke run).
pub fn small() -> bool {
    std::env::var("REGIONS_BENCH_SMALL").is_ok_and(|value| value == "1")
}

/// `full` normally, `reduced` under `REGIONS_BENCH_SMALL=1`.
pub fn scaled(full: usize, reduced: usize) -> usize {
    if small() {
        reduced
    } else {
        full
    }
}

/// A stateless 64-bit mix of two values (the splitmix64 finaliser): the
/// deterministic "random" choices that must not depend on visiting order.
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(b)
        .wrapping_add(0x6a09_e667_f3bc_c909);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// xorshift64*: small, fast, deterministic.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (any value, 0 included).
    pub fn new(seed: u64) -> Self {
        Rng(mix(seed, 0) | 1)
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (`n` below 2^32).
    pub fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0 && n <= u32::MAX as usize);
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// A value in `low..=high`.
    pub fn between(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high - low + 1)
    }
}

/// A fixed pseudo-random permutation of `0..n` (Fisher–Yates).
pub fn permutation(n: usize, seed: u64) -> Vec<u32> {
    let mut rng = Rng::new(seed);
    let mut order: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.below(i + 1));
    }
    order
}

/// The largest object of the mixed workload.
pub const MIXED_MAX: usize = 2000;

/// Object sizes for the mixed workload: log-uniform over 8..=2000 bytes
/// (a size class 8·2^k picked uniformly, then a size uniform in the class),
/// so small objects dominate as in real programs while large ones still occur.
pub fn mixed_sizes(count: usize) -> Vec<u16> {
    let mut rng = Rng::new(0x51_2e5);
    (0..count)
        .map(|_| {
            let low = 8usize << rng.below(8);
            let high = (2 * low).min(MIXED_MAX);
            rng.between(low, high) as u16
        })
        .collect()
}
