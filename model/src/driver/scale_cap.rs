//! How large a run may grow: the live objects, payload bytes and regions at
//! which [`super::Driver::apply`] stops running ops that add to them.
//!
//! Without a cap, a few ops grow a run without bound (a serialization round
//! trip of a region into its own copy doubles it, and the fuzzer chained
//! thirty of them in 120 bytes until libFuzzer stopped the campaign at its
//! 2 GB limit). An op is skipped, on both sides, when the run is already at
//! the cap or when the op alone could carry it past the cap by more than one
//! object (a bulk allocation, a round trip of a populated subtree), so no
//! run ends far above it.

use crate::model::{Model, RegionId};
use crate::op::Op;

/// Limits on the size of one run: the live objects, payload bytes and
/// regions at which the driver stops running ops that add to them. An op
/// that could grow the run is skipped, on both sides, when the run is at
/// the cap or when the op alone would carry it past the cap by more than
/// one object ([`ScaleCap::admits`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScaleCap {
    /// Live objects.
    pub objects: usize,
    /// Live payload bytes: the model and the core each hold them, and
    /// AddressSanitizer adds its own.
    pub bytes: usize,
    /// Live regions: a round trip copies regions as well as objects.
    pub regions: usize,
}

impl ScaleCap {
    /// The cap of proptest cases and soak episodes: high enough for the
    /// states that exist only at scale (table growth, hash-index resizing,
    /// many arena blocks and slab pages). A run creeps up to the cap in
    /// steps, the last ones skipped when they would overshoot, so the cap
    /// sits above the 10,000 live objects the soak must reach.
    pub const EPISODE: ScaleCap = ScaleCap {
        objects: 12_000,
        bytes: 8 << 20,
        regions: 2_000,
    };

    /// The cap of fuzz inputs ([`super::fuzz_ops`]). libFuzzer's strength is
    /// the number of short histories it tries, and one input that grows to
    /// a thousand objects costs as much as a hundred that do not: with the
    /// episode cap, the slowest tenth of the fuzzer's inputs took 70 % of
    /// its time. A few hundred objects still fill several slab pages and
    /// arena blocks in the small-block configurations the fuzzer picks
    /// (`Op::Configure`); the soak covers the states that need thousands.
    pub const FUZZ: ScaleCap = ScaleCap {
        objects: 128,
        bytes: 32 << 10,
        regions: 32,
    };

    /// Whether `op` may run on a model in `model`'s state: it cannot grow the
    /// run, or the run is below the cap and stays within it by one object
    /// after `op`.
    pub fn admits<O, W>(&self, model: &Model, op: &Op<RegionId, O, W>) -> bool {
        if !op.can_grow() {
            return true;
        }
        let now = Load::of_model(model);
        if now.objects >= self.objects || now.bytes >= self.bytes || now.regions >= self.regions {
            return false;
        }
        let added = match op {
            Op::AllocBulk { size, count, .. } => Load {
                objects: usize::from(*count),
                bytes: usize::from(*count) * usize::from(*size),
                regions: 0,
            },
            Op::SerializeRoundTrip { region, .. } => Load::of_subtree(model, *region),
            // Everything else adds at most one object (or one region).
            _ => Load::default(),
        };
        now.objects + added.objects <= self.objects + 1
            && now.bytes + added.bytes <= self.bytes + usize::from(u16::MAX)
            && now.regions + added.regions <= self.regions + 1
    }
}

/// What a run or a subtree holds.
#[derive(Clone, Copy, Debug, Default)]
struct Load {
    objects: usize,
    bytes: usize,
    regions: usize,
}

impl Load {
    fn of_model(model: &Model) -> Load {
        Load {
            objects: model.object_count(),
            bytes: model.live_bytes(),
            regions: model.region_count(),
        }
    }

    /// The live regions of `region`'s subtree and the objects homed there.
    fn of_subtree(model: &Model, region: RegionId) -> Load {
        let mut load = Load::default();
        if model.region(region).is_none() {
            return load;
        }
        for r in model.subtree_regions(region) {
            load.regions += 1;
            for (_, object) in model.objects_in(r) {
                load.objects += 1;
                load.bytes += object.size;
            }
        }
        load
    }
}
