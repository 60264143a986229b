//! Soak episodes: where their seeds and traces come from, and the progress
//! line the soak runner prints.
//!
//! A soak run with master seed `M` is a sequence of *episodes*. Episode `k`
//! has the seed `episode_seeds(M).nth(k)` (the `k`-th output of a
//! [`StdRng`] seeded with `M`), and its trace is [`episode_ops`] of that
//! seed: a fresh driver runs it from an empty registry through teardown.
//! The repro tool takes the *episode* seed, so a reported failure replays
//! without the episodes before it.

use std::fmt::Write as _;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::Outcome;
use crate::driver::{random_ops, Report};
use crate::op::Op;

/// Ops per soak episode unless `--ops-per-run` says otherwise: long enough
/// for deep region trees, repeated promotions and long forwarding chains,
/// short enough that a failing episode shrinks in seconds.
pub const DEFAULT_OPS_PER_EPISODE: usize = 1000;

/// The episode seeds of the soak run with master seed `master`.
///
/// Reproducible for a given `rand` version (the soak runner prints both the
/// master and the episode seed; the episode seed is the durable one).
pub fn episode_seeds(master: u64) -> impl Iterator<Item = u64> {
    let mut rng = StdRng::seed_from_u64(master);
    std::iter::repeat_with(move || rng.next_u64())
}

/// The trace of the soak episode with seed `seed`: `ops` ops from
/// [`random_ops`], the proptest state machine's weighted distribution with
/// every index naming a handle that exists. Soak episodes are that
/// distribution run far longer and over far more seeds than `cargo test`
/// runs it; the fuzz target complements it with `Arbitrary`-decoded,
/// coverage-guided inputs.
pub fn episode_ops(seed: u64, ops: usize) -> Vec<Op> {
    random_ops(seed, ops)
}

/// Running totals of a soak run, rendered as one progress line.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    /// Episodes that passed.
    pub episodes: u64,
    /// Their reports, merged.
    pub totals: Report,
    /// Objects alive at the end of the last episode (before teardown).
    pub live_objects: usize,
    /// Regions alive at the end of the last episode, the root included.
    pub live_regions: usize,
}

impl Progress {
    /// Adds a passed episode.
    pub fn record(&mut self, outcome: &Outcome) {
        self.episodes += 1;
        self.totals.merge(&outcome.report);
        self.live_objects = outcome.live_objects;
        self.live_regions = outcome.live_regions;
    }

    /// One line (no newline) for a log, after `elapsed`: throughput, totals,
    /// what the last episode left alive, and the merged reach counters.
    pub fn line(&self, elapsed: Duration) -> String {
        let t = &self.totals;
        let r = &t.reach;
        let seconds = elapsed.as_secs_f64();
        let rate = if seconds > 0.0 {
            t.ops as f64 / seconds
        } else {
            0.0
        };
        let mut line = format!(
            "soak {seconds:.0}s: {rate:.0} ops/s, {} ops, {} episodes, live {} objects {} regions",
            t.ops, self.episodes, self.live_objects, self.live_regions
        );
        let counters: [(&str, u64); 26] = [
            ("peak_live_objects", r.peak_live_objects as u64),
            ("region_deaths", r.region_deaths),
            ("deaths_with_promotions", r.deaths_with_promotions),
            ("promotions_by_death", r.promotions_by_death),
            ("manual_promotions", r.manual_promotions),
            ("max_moves_of_one_object", r.max_promotions_of_one_object),
            ("destructor_calls", t.destructor_calls),
            (
                "weakly_held_destroyed_by_death",
                r.weakly_held_destroyed_by_death,
            ),
            (
                "destructor_calls_on_death",
                t.destructor_calls_on_region_death,
            ),
            ("max_region_depth", t.max_region_depth as u64),
            ("forwarded_resolutions", t.forwarded_resolutions),
            ("stale_rejections", t.stale_rejections),
            ("fabricated_rejections", t.fabricated_rejections),
            ("type_mismatch_rejections", t.type_mismatch_rejections),
            ("region_id_recycles", t.region_id_recycles),
            ("retired_ids_seen", t.retired_ids_seen),
            ("compactions_that_moved", t.compactions_that_moved),
            ("objects_moved_by_compaction", t.objects_moved_by_compaction),
            ("bulk_objects_allocated", t.bulk_objects_allocated),
            ("slices_allocated", t.slices_allocated),
            (
                "tracked_slice_elements_dropped",
                t.tracked_slice_elements_dropped,
            ),
            ("slice_type_mismatches", t.slice_type_mismatches),
            ("panicking_destructor_ops", t.panicking_destructor_ops),
            ("injected_failures", t.injected_failures),
            ("budget_rejections", t.rejections_of("BudgetExceeded")),
            (
                "promotions_refused_by_an_occupied_budget",
                t.promotions_refused_by_an_occupied_budget,
            ),
        ];
        line.push_str(" | reach");
        for (name, value) in counters {
            let _ = write!(line, " {name}={value}");
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn episode_seeds_are_deterministic_and_distinct() {
        let first: Vec<u64> = episode_seeds(42).take(4).collect();
        assert_eq!(first, episode_seeds(42).take(4).collect::<Vec<_>>());
        assert_ne!(first, episode_seeds(43).take(4).collect::<Vec<_>>());
        assert!(first.windows(2).all(|pair| pair[0] != pair[1]));
    }

    #[test]
    fn an_episode_is_a_prefix_of_a_longer_one() {
        // So `repro --seed S --ops N` with a smaller N replays a prefix.
        let long = episode_ops(9, 120);
        assert_eq!(episode_ops(9, 40), long[..40]);
    }

    #[test]
    fn the_progress_line_is_one_line_with_totals_and_rate() {
        let mut progress = Progress::default();
        let mut report = Report {
            ops: 500,
            ..Report::default()
        };
        report.reach.region_deaths = 3;
        let outcome = Outcome {
            report,
            live_objects: 7,
            live_regions: 2,
        };
        progress.record(&outcome);
        progress.record(&outcome);
        let line = progress.line(Duration::from_secs(2));
        assert!(!line.contains('\n'));
        assert!(
            line.starts_with(
                "soak 2s: 500 ops/s, 1000 ops, 2 episodes, live 7 objects 2 regions | reach "
            ),
            "{line}"
        );
        assert!(line.contains(" region_deaths=6 "), "{line}");
    }
}
