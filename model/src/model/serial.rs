//! Serialization: `docs/SEMANTICS.md` "Serialization". A round trip
//! (`serialize(region)` then `deserialize(parent, bytes)`) makes a copy of
//! the subtree under `parent`; this is what the copy must be.

use super::{Model, ModelError, ObjectId, RegionId, INLINE_SIZE};
use std::collections::BTreeMap;

/// What the stream needs to know of a serializable type: the length of
/// its name and of its values' encoding (`docs/FORMAT.md`).
#[derive(Clone, Copy, Debug)]
pub struct StreamType {
    /// Bytes of the type's `NAME`.
    pub name_len: usize,
    /// Bytes its serializer writes per value.
    pub value_len: usize,
}

/// The decoder's limit (`docs/FORMAT.md`, "Limits"): the copy's estimated
/// memory must be at most `MAX_EXPANSION × stream length + EXPANSION_SLACK`.
const REGION_COST: usize = 320;
const OBJECT_COST: usize = 192;
const MAX_EXPANSION: usize = 4;
const EXPANSION_SLACK: usize = 64 * 1024;

/// A heap object's storage in the estimate: its size rounded up to its
/// alignment, at least the alignment; none for an inline object.
fn footprint(size: usize, align: usize) -> usize {
    if size <= INLINE_SIZE && align <= INLINE_SIZE {
        return 0;
    }
    size.div_ceil(align).max(1) * align
}

/// What a round trip made: the copy's root, and each original region and
/// object with its copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copied {
    /// The copy of `region`: a new child of `parent`, refcount 1.
    pub root: RegionId,
    /// (original, copy) of every region of the subtree.
    pub regions: Vec<(RegionId, RegionId)>,
    /// (original, copy) of every live object homed in the subtree.
    pub objects: Vec<(ObjectId, ObjectId)>,
}

impl Model {
    /// `deserialize(parent, serialize(region)?)`: "a copy of the subtree
    /// of `region` under `parent`: the copy of `region` has refcount 1, every
    /// other copied region its original's refcount and parent's copy;
    /// every region its budget; every live object homed in the subtree a
    /// copy with the same contents, layout, tag and counts in the copy of
    /// its home; every stored reference whose container and object are both
    /// in the subtree a record in the copy". `serializable(tag)` says which
    /// typed tags have a registered serializer.
    ///
    /// Errors, in order: `InvalidRegion` (region) → `Unserializable` (a
    /// typed object without one) → `InvalidRegion` (parent) →
    /// `BudgetExceeded` (the registry budget would be exceeded by the
    /// copies' payload — only if there is a copy: allocating nothing
    /// consults no budget — or a copied region's own objects exceed its
    /// budget) — except that first, if the copy's estimated memory exceeds
    /// the decoder's limit for the stream's length, `CorruptInput`
    /// ("the objects would take far more memory than the stream": a valid
    /// stream refused so that decoding stays bounded by its input).
    /// `types(tag)` describes each typed tag's serializer (`None`: none).
    pub fn serialize_round_trip(
        &mut self,
        region: RegionId,
        parent: RegionId,
        types: impl Fn(u64) -> Option<StreamType>,
    ) -> Result<Copied, ModelError> {
        self.live_region(region)?;
        let regions = self.subtree_regions(region);
        let objects: Vec<ObjectId> = self
            .objects()
            .filter(|(_, state)| regions.contains(&state.home))
            .map(|(o, _)| o)
            .collect();
        let unserializable = objects.iter().any(|o| {
            let state = &self.objects[o];
            state.typed && types(state.tag).is_none()
        });
        if unserializable {
            return Err(ModelError::Unserializable);
        }
        self.live_region(parent)?;
        let length = self.stream_length(&regions, &objects, &types);
        let estimate = regions.len() * REGION_COST
            + objects
                .iter()
                .map(|o| OBJECT_COST + footprint(self.objects[o].size, self.objects[o].align))
                .sum::<usize>();
        if estimate > MAX_EXPANSION * length + EXPANSION_SLACK {
            return Err(ModelError::CorruptInput);
        }
        let copied: usize = objects.iter().map(|o| self.objects[o].size).sum();
        // Each copy is an allocation: with none, no budget is consulted.
        if let (Some(budget), false) = (self.budget, objects.is_empty()) {
            if self.live_bytes() + copied > budget {
                return Err(ModelError::BudgetExceeded);
            }
        }
        for &r in &regions {
            if let Some(budget) = self.regions[&r].budget {
                if self.region_payload(r) > budget {
                    return Err(ModelError::BudgetExceeded);
                }
            }
        }
        let mut region_copies = BTreeMap::new();
        for &r in &regions {
            let state = &self.regions[&r];
            let (parent_copy, budget, refcount) = if r == region {
                (parent, state.budget, 1)
            } else {
                let parent = state.parent.expect("a descendant has a parent");
                (region_copies[&parent], state.budget, state.refcount)
            };
            let copy = self
                .create_region_with(parent_copy, budget)
                .expect("checked: the parent is live");
            self.live_region_mut(copy).refcount = refcount;
            region_copies.insert(r, copy);
        }
        let mut object_copies = BTreeMap::new();
        for &o in &objects {
            let state = self.objects[&o].clone();
            let home = region_copies[&state.home];
            let copy = self.insert_object(
                home,
                state.align,
                &state.bytes,
                state.tag,
                state.typed,
                state.needs_drop,
            );
            let new = self.objects.get_mut(&copy).expect("just made");
            (new.strong, new.weak) = (state.strong, state.weak);
            object_copies.insert(o, copy);
        }
        for &r in &regions {
            let stored: Vec<ObjectId> = self.regions[&r]
                .stored
                .iter()
                .filter_map(|o| object_copies.get(o).copied())
                .collect();
            self.live_region_mut(region_copies[&r]).stored = stored;
        }
        self.reach.round_trips += 1;
        self.reach.objects_copied += objects.len() as u64;
        Ok(Copied {
            root: region_copies[&region],
            regions: region_copies.into_iter().collect(),
            objects: object_copies.into_iter().collect(),
        })
    }

    /// The length of the stream of `regions` and `objects` (`docs/FORMAT.md`:
    /// header, types, regions, objects, stored references, old handles —
    /// one per move of each object, every old home still resolving).
    fn stream_length(
        &self,
        regions: &[RegionId],
        objects: &[ObjectId],
        types: &impl Fn(u64) -> Option<StreamType>,
    ) -> usize {
        let mut tags: Vec<u64> = Vec::new();
        let mut length = 4 + 2 + 2 + 5 * 4;
        for &r in regions {
            length += 8
                + 4
                + 4
                + 1
                + if self.regions[&r].budget.is_some() {
                    8
                } else {
                    0
                };
            let stored = &self.regions[&r].stored;
            length += 8 * stored.iter().filter(|o| objects.contains(o)).count();
        }
        for o in objects {
            let state = &self.objects[o];
            length += 16 + 4 + 1 + 8;
            if state.typed {
                let kind = types(state.tag).expect("checked: serializable");
                length += 4 + 4 + kind.value_len;
                if !tags.contains(&state.tag) {
                    tags.push(state.tag);
                    length += 2 + kind.name_len + 4 + 1;
                }
            } else {
                length += 8 + 4 + 1 + state.size;
            }
            length += 20 * state.promotions as usize;
        }
        length
    }

    /// `region` (which must be live) and its live descendants, each after
    /// its parent.
    pub fn subtree_regions(&self, region: RegionId) -> Vec<RegionId> {
        let mut list = vec![region];
        let mut next = 0;
        while next < list.len() {
            let children = &self.regions[&list[next]].children;
            list.extend(children.iter().copied());
            next += 1;
        }
        list
    }
}
