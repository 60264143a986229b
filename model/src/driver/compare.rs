//! State comparison between the model and the core.
//!
//! After every op the driver compares what the op touched; every few ops and
//! at the end it compares everything and sweeps every handle it has seen:
//! each handle of a live object must resolve to that object's current home,
//! each handle of a dead object or region must be rejected. All queries here
//! take `&Registry`, so comparing never compresses a forwarding chain and
//! never perturbs the core's state.

use std::borrow::Cow;
use std::fmt::Debug;

use regions::{GlobalStats, ObjectHandle, RegionStats, Registry, WeakHandle};

use crate::model::{Counters, Model, ObjectId, ObjectState, RegionId, RegionState};
use crate::op::{SliceKind, TypedKind};

use super::divergence::Mismatch;
use super::handles::Handles;
use super::id_set::IdSet;
use super::sorted;
use super::typed::{encoding_of, slice_encoding, with_slice_type, with_type};

/// How much of a region [`Comparison::region`] compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Depth {
    /// Its links, counts and statistics: what every op it touched may have
    /// changed, in time independent of its size.
    Figures,
    /// Also the list of its objects.
    Members,
}

/// A comparison in progress: the three views and the mismatches found.
pub(crate) struct Comparison<'a> {
    pub model: &'a Model,
    pub registry: &'a Registry,
    pub handles: &'a Handles,
    pub mismatches: Vec<Mismatch>,
}

impl Comparison<'_> {
    /// Compares `o` if the model says it is alive.
    pub fn object(&mut self, o: ObjectId) {
        let Some(state) = self.model.object(o) else {
            return;
        };
        let Some(home) = self.handles.home(o) else {
            self.mismatches.push(Mismatch::Handle {
                handle: format!("(none for {o:?})"),
                problem: "a live object has no known core home".into(),
            });
            return;
        };
        let r = self.registry;
        let home_region = self.handles.region_handle(state.home);
        let mut field = |what, difference: Option<(String, String)>| {
            if let Some((expected, found)) = difference {
                self.mismatches.push(Mismatch::Object {
                    object: o,
                    handle: home.to_string(),
                    what,
                    expected,
                    found,
                });
            }
        };
        field(
            "home region",
            differ(home_region, r.region_of(home).map(Some)),
        );
        field("strong count", differ(state.strong, r.strong_count(home)));
        field("weak count", differ(state.weak, r.weak_count(home)));
        let tag = r.type_tag(home).map(|t| self.handles.model_tag(t.0));
        field("type tag", differ(state.tag, tag));
        let layout = r.layout_of(home).map(|l| (l.size(), l.align()));
        field("layout", differ((state.size, state.align), layout));
        let (bytes, aligned) = read_object(r, home, state);
        field("bytes", differ(&state.bytes[..], bytes.as_deref()));
        field("data pointer aligned", differ(true, Ok::<_, ()>(aligned)));
    }

    /// Compares `r`: its state if the model says it is alive (its object
    /// list too at [`Depth::Members`]), else that the core rejects its
    /// handle.
    pub fn region(&mut self, r: RegionId, depth: Depth) {
        let Some(handle) = self.handles.region_handle(r) else {
            return;
        };
        let reg = self.registry;
        let Some(state) = self.model.region(r) else {
            if reg.is_region_alive(handle) {
                self.mismatches.push(Mismatch::StaleReachesLive {
                    handle: handle.to_string(),
                    reached: format!("a live region (the model's {r:?} is dead)"),
                });
            }
            return;
        };
        let handles = self.handles;
        let parent = reg
            .parent_of(handle)
            .map(|p| p.map(|p| handles.region_id(p)));
        let children = reg
            .children(handle)
            .map(|c| sorted(c.map(|child| handles.region_id(child))));
        // The member list costs O(objects of the region) on both sides:
        // every full comparison lists it, the per-op one counts it.
        let members = (depth == Depth::Members).then(|| {
            let homed: Vec<ObjectId> = self.model.objects_in(r).map(|(o, _)| o).collect();
            let objects = reg
                .objects(handle)
                .map(|h| sorted(h.map(|h| handles.home_owner(h))));
            (homed, objects)
        });
        let expected_stored = self.model.stored_in(r).map(|o| sorted(o.into_iter()));
        let stored = reg
            .stored_in(handle)
            .map(|h| sorted(h.map(|h| handles.home_owner(h))));
        let mut field = |what, difference: Option<(String, String)>| {
            if let Some((expected, found)) = difference {
                self.mismatches.push(Mismatch::Region {
                    region: r,
                    handle: handle.to_string(),
                    what,
                    expected,
                    found,
                });
            }
        };
        field(
            "refcount",
            differ(state.refcount, reg.region_refcount(handle)),
        );
        field("parent", differ(state.parent, parent));
        // Compared in place: collecting the model's children would cost an
        // allocation per region compared.
        let same_children = children
            .as_ref()
            .is_ok_and(|found| found.iter().eq(state.children.iter()));
        if !same_children {
            field(
                "children",
                Some((format!("{:?}", state.children), show(children.as_ref()))),
            );
        }
        field(
            "object count",
            differ(self.model.region_object_count(r), reg.object_count(handle)),
        );
        if let Some((homed, objects)) = &members {
            field("objects", differ(homed, objects.as_ref()));
        }
        field(
            "stored references",
            differ(expected_stored.ok(), stored.map(Some)),
        );
        let expected = RegionFigures::of_model(self.model, r, state);
        let found = reg
            .stats(handle)
            .map(|stats| RegionFigures::of_core(&stats));
        field("statistics", differ(expected, found));
    }

    /// Compares the registry-wide statistics the model can know: the live
    /// figures, every event counter and peak, the budget, ghost tables.
    pub fn global_stats(&mut self) {
        let expected = GlobalFigures::of_model(self.model);
        let found = GlobalFigures::of_core(&self.registry.global_stats());
        if let Some((expected, found)) = differ(expected, Ok::<_, ()>(found)) {
            self.mismatches.push(Mismatch::Registry {
                what: "global statistics",
                expected,
                found,
            });
        }
    }

    /// Compares everything, and sweeps every handle seen.
    pub fn everything(&mut self) {
        self.global_stats();
        for (r, _) in self.model.regions() {
            self.region(r, Depth::Members);
        }
        for (o, _) in self.model.objects() {
            self.object(o);
        }
        let live_regions = self.model.region_count();
        if live_regions != self.registry.live_region_count() {
            self.mismatches.push(Mismatch::Registry {
                what: "live region count",
                expected: live_regions.to_string(),
                found: self.registry.live_region_count().to_string(),
            });
        }
        let ghost_tables = self.model.ghost_table_count();
        if ghost_tables != self.registry.ghost_table_count() {
            self.mismatches.push(Mismatch::Registry {
                what: "ghost table count",
                expected: ghost_tables.to_string(),
                found: self.registry.ghost_table_count().to_string(),
            });
        }
        for handle in self.registry.live_regions() {
            let r = self.handles.region_id(handle);
            if self.model.region(r).is_none() {
                self.mismatches.push(Mismatch::StaleReachesLive {
                    handle: handle.to_string(),
                    reached: format!(
                        "a live region listed by live_regions (model: {r:?} is not live)"
                    ),
                });
            }
        }
        self.sweep_handles();
    }

    /// Every handle seen of the objects in `objects` resolves to its
    /// object's current home (or to nothing if the object is dead).
    pub fn sweep_handles_of(&mut self, objects: &IdSet<ObjectId>) {
        self.sweep_object_handles(|o| objects.contains(&o));
    }

    /// Every object handle seen resolves to its object's current home while
    /// the object lives, and to nothing once it is dead; every dead region's
    /// handle is rejected.
    fn sweep_handles(&mut self) {
        self.sweep_object_handles(|_| true);
        for (handle, r) in self.handles.region_handles() {
            if self.model.region(r).is_none() && self.registry.is_region_alive(handle) {
                self.mismatches.push(Mismatch::StaleReachesLive {
                    handle: handle.to_string(),
                    reached: format!("a live region (the model's {r:?} is dead)"),
                });
            }
        }
    }

    /// The object part of [`Comparison::sweep_handles`], for the objects
    /// `wanted` selects.
    fn sweep_object_handles(&mut self, wanted: impl Fn(ObjectId) -> bool) {
        for (handle, o) in self.handles.object_handles() {
            if !wanted(o) {
                continue;
            }
            let found = self
                .registry
                .upgrade(WeakHandle::from_object_handle(handle));
            let expected = self.model.object(o).and_then(|_| self.handles.home(o));
            if found == expected {
                continue;
            }
            let mismatch = match expected {
                None => Mismatch::StaleReachesLive {
                    handle: handle.to_string(),
                    reached: format!("{found:?} (the model's {o:?} is dead)"),
                },
                Some(home) => Mismatch::Object {
                    object: o,
                    handle: handle.to_string(),
                    what: "resolution of an older handle",
                    expected: home.to_string(),
                    found: format!("{found:?}"),
                },
            };
            self.mismatches.push(mismatch);
        }
    }
}

/// The figures of `stats(region)` the model predicts.
#[derive(Debug, PartialEq)]
struct RegionFigures {
    objects: u64,
    inline_objects: u64,
    heap_objects: u64,
    payload_bytes: u64,
    budget: Option<u64>,
    children: u64,
}

impl RegionFigures {
    fn of_model(model: &Model, r: RegionId, state: &RegionState) -> Self {
        let objects = model.region_object_count(r) as u64;
        let inline_objects = model.region_inline_objects(r) as u64;
        RegionFigures {
            objects,
            inline_objects,
            heap_objects: objects - inline_objects,
            payload_bytes: model.region_payload(r) as u64,
            budget: state.budget.map(|b| b as u64),
            children: state.children.len() as u64,
        }
    }

    fn of_core(stats: &RegionStats) -> Self {
        let occupancy = &stats.occupancy;
        RegionFigures {
            objects: occupancy.objects,
            inline_objects: occupancy.inline_objects,
            heap_objects: occupancy.heap_objects,
            payload_bytes: occupancy.payload_bytes,
            budget: stats.budget,
            children: stats.children,
        }
    }
}

/// The figures of `global_stats()` the model predicts.
#[derive(Debug, PartialEq)]
struct GlobalFigures {
    objects: u64,
    inline_objects: u64,
    payload_bytes: u64,
    live_regions: u64,
    budget: Option<u64>,
    ghost_tables: u64,
    counters: Counters,
}

impl GlobalFigures {
    fn of_model(model: &Model) -> Self {
        GlobalFigures {
            objects: model.object_count() as u64,
            inline_objects: model.inline_objects() as u64,
            payload_bytes: model.live_bytes() as u64,
            live_regions: model.region_count() as u64,
            budget: model.budget().map(|b| b as u64),
            ghost_tables: model.ghost_table_count() as u64,
            counters: model.counters().clone(),
        }
    }

    fn of_core(stats: &GlobalStats) -> Self {
        GlobalFigures {
            objects: stats.occupancy.objects,
            inline_objects: stats.occupancy.inline_objects,
            payload_bytes: stats.occupancy.payload_bytes,
            live_regions: stats.live_regions,
            budget: stats.budget,
            ghost_tables: stats.ghost_tables,
            counters: Counters {
                allocations: stats.allocations,
                frees: stats.frees,
                destroyed_by_death: stats.destroyed_by_death,
                promotions_by_death: stats.promotions_by_death,
                manual_promotions: stats.manual_promotions,
                regions_created: stats.regions_created,
                region_deaths: stats.region_deaths,
                peak_objects: stats.peak_objects,
                peak_payload_bytes: stats.peak_payload_bytes,
            },
        }
    }
}

/// `None` when the core's answer equals the model's value; otherwise both,
/// printed (formatting only on a mismatch keeps the per-op checks cheap).
fn differ<T: PartialEq + Debug, E: Debug>(
    expected: T,
    found: Result<T, E>,
) -> Option<(String, String)> {
    match &found {
        Ok(value) if *value == expected => None,
        _ => Some((format!("{expected:?}"), show(found))),
    }
}

/// `Debug` of a core query result: the value itself when `Ok`, so that it
/// compares equal to [`value`] of the same thing.
fn show<T: Debug, E: Debug>(result: Result<T, E>) -> String {
    match result {
        Ok(value) => format!("{value:?}"),
        Err(error) => format!("Err({error:?})"),
    }
}

/// The object's bytes as the model stores them (the canonical encoding for
/// typed objects), and whether its data pointer honours its alignment.
fn read_object<'r>(
    registry: &'r Registry,
    home: ObjectHandle,
    state: &ObjectState,
) -> (regions::Result<Cow<'r, [u8]>>, bool) {
    if !state.typed {
        return match registry.get(home) {
            Ok(bytes) => (
                Ok(Cow::Borrowed(bytes)),
                (bytes.as_ptr() as usize).is_multiple_of(state.align),
            ),
            Err(error) => (Err(error), true),
        };
    }
    if let Some(kind) = SliceKind::of_tag(state.tag) {
        return with_slice_type!(kind, T => match registry.get_slice::<T>(home) {
            Ok(values) => (
                Ok(Cow::Owned(slice_encoding(values))),
                (values.as_ptr() as usize).is_multiple_of(state.align),
            ),
            Err(error) => (Err(error), true),
        });
    }
    let kind = TypedKind::of_tag(state.tag).expect("the driver allocates only its own typed kinds");
    with_type!(kind, T => match registry.get_typed::<T>(home) {
        Ok(value) => (Ok(Cow::Owned(encoding_of(value))), (value as *const T as usize).is_multiple_of(state.align)),
        Err(error) => (Err(error), true),
    })
}
