//! The bijection between core handles and model identities, and the core
//! side of the operand tables.
//!
//! Every core handle the driver ever observed for an object (its allocation
//! handle, each new home after a promotion or a region death) maps to that
//! object's `ObjectId`, forever: the core never issues the same handle twice
//! (ids are recycled with a generation bump, and retired before they wrap),
//! so a handle that shows up again for another object is a divergence. The
//! same holds for region handles. A handle not in the map is *unknown*; a
//! fabricated handle equal to a known one is that handle.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use regions::{ObjectHandle, RegionHandle, WeakHandle};

use crate::model::{ObjectId, RegionId, TYPED_TAG_BIT};
use crate::op::{ObjectRef, RegionRef, WeakRef};

use super::divergence::Mismatch;
use super::reference::{pick, UNKNOWN_OBJECT, UNKNOWN_REGION};

/// The object handle used when the object table is empty. No registry gets
/// near `u32::MAX` regions, so it is never issued.
const NEVER_ISSUED: ObjectHandle = ObjectHandle::from_raw_parts(u32::MAX, 0, u32::MAX, 0);

/// A multiply-rotate hasher for the handle maps. Their keys are handles the
/// core issued or the fuzzer made up, not input that needs SipHash's
/// resistance to flooding, and every op hashes several of them.
#[derive(Clone, Copy, Default)]
pub(crate) struct HandleHasher(u64);

impl HandleHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for HandleHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.add(u64::from(byte));
        }
    }

    fn write_u32(&mut self, word: u32) {
        self.add(u64::from(word));
    }

    fn write_u64(&mut self, word: u64) {
        self.add(word);
    }

    fn write_usize(&mut self, word: usize) {
        self.add(word as u64);
    }
}

/// A hash map keyed by handles (see [`HandleHasher`]).
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<HandleHasher>>;
type FastSet<K> = HashSet<K, BuildHasherDefault<HandleHasher>>;

/// Core handles, model identities, and the maps between them.
#[derive(Debug, Default)]
pub(crate) struct Handles {
    /// Core side of the region table (parallel to the reference's).
    regions: Vec<RegionHandle>,
    /// Core side of the object table.
    objects: Vec<ObjectHandle>,
    /// Core side of the weak table.
    weaks: Vec<WeakHandle>,
    /// Every region handle seen → its region.
    region_ids: FastMap<RegionHandle, RegionId>,
    /// Each region's handle.
    region_handles: BTreeMap<RegionId, RegionHandle>,
    /// Every object handle seen → its object.
    object_ids: FastMap<ObjectHandle, ObjectId>,
    /// Each object's current home handle (its last one, once dead).
    homes: BTreeMap<ObjectId, ObjectHandle>,
    /// Region ids the core has issued, to count recycling.
    region_ids_issued: FastSet<u32>,
    /// The core's typed tag of each of the model's type identities.
    core_tags: BTreeMap<u64, u64>,
    /// The model's type identity of each typed tag the core reported.
    model_tags: FastMap<u64, u64>,
}

/// What [`Handles::model_tag`] makes of a typed tag the driver never saw
/// on an object it allocated: no model type identity is equal to it.
pub(crate) const UNKNOWN_TYPED_TAG: u64 = u64::MAX;

impl Handles {
    /// Tables holding only the root.
    pub fn new(root: RegionHandle, root_id: RegionId) -> Self {
        let mut handles = Handles::default();
        handles.regions.push(root);
        handles.region_ids.insert(root, root_id);
        handles.region_handles.insert(root_id, root);
        handles.region_ids_issued.insert(root.id());
        handles
    }

    /// Records that the core tags objects of the model's type identity
    /// `model` with `core`, as seen on a new object. The correspondence
    /// must be one to one and the tag typed: two types sharing a tag, or a
    /// type whose tag changes, is a divergence.
    pub fn learn_tag(&mut self, model: u64, core: u64) -> Option<Mismatch> {
        let known_core = *self.core_tags.entry(model).or_insert(core);
        let known_model = *self.model_tags.entry(core).or_insert(model);
        let typed = core & TYPED_TAG_BIT != 0;
        (known_core != core || known_model != model || !typed).then(|| Mismatch::Contract {
            op: "typed allocation",
            problem: format!(
                "the core tags type {model:#x} with {core:#x}, but that type had tag                  {known_core:#x} and that tag belonged to type {known_model:#x}                  (typed tags have the top bit set)"
            ),
        })
    }

    /// The model's tag for a tag the core reported: raw tags are the same
    /// on both sides, a typed one is the type identity it was learned for
    /// ([`UNKNOWN_TYPED_TAG`] if none).
    pub fn model_tag(&self, core: u64) -> u64 {
        if core & TYPED_TAG_BIT == 0 {
            return core;
        }
        self.model_tags
            .get(&core)
            .copied()
            .unwrap_or(UNKNOWN_TYPED_TAG)
    }

    /// The core handle an operand names.
    pub fn core_region(&self, r: &RegionRef) -> RegionHandle {
        match *r {
            RegionRef::Root => RegionHandle::ROOT,
            RegionRef::Region(i) => pick(&self.regions, i).unwrap_or(RegionHandle::ROOT),
            RegionRef::FakeRegion { id, generation } => {
                RegionHandle::from_raw_parts(id.into(), generation.into())
            }
        }
    }

    /// The core handle an operand names.
    pub fn core_object(&self, o: &ObjectRef) -> ObjectHandle {
        match *o {
            ObjectRef::Object(i) => pick(&self.objects, i).unwrap_or(NEVER_ISSUED),
            ObjectRef::FakeObject {
                region_id,
                region_generation,
                slot,
                slot_generation,
            } => ObjectHandle::from_raw_parts(
                region_id.into(),
                region_generation.into(),
                slot.into(),
                slot_generation.into(),
            ),
        }
    }

    /// The core handle an operand names.
    pub fn core_weak(&self, w: &WeakRef) -> WeakHandle {
        match w {
            WeakRef::Weak(i) => {
                pick(&self.weaks, *i).unwrap_or(WeakHandle::from_object_handle(NEVER_ISSUED))
            }
            WeakRef::WeakOf(o) => WeakHandle::from_object_handle(self.core_object(o)),
        }
    }

    /// The region a handle names, or [`UNKNOWN_REGION`].
    pub fn region_id(&self, h: RegionHandle) -> RegionId {
        self.region_ids.get(&h).copied().unwrap_or(UNKNOWN_REGION)
    }

    /// The object a handle (any it ever had) names, or [`UNKNOWN_OBJECT`].
    pub fn object_id(&self, h: ObjectHandle) -> ObjectId {
        self.object_ids.get(&h).copied().unwrap_or(UNKNOWN_OBJECT)
    }

    /// The object whose current home handle is `h`, or [`UNKNOWN_OBJECT`].
    /// Results that must be a home (alloc, promote, resolve, upgrade,
    /// `objects`) are translated with this, so an old handle of the right
    /// object does not pass.
    pub fn home_owner(&self, h: ObjectHandle) -> ObjectId {
        let o = self.object_id(h);
        if self.homes.get(&o) == Some(&h) {
            o
        } else {
            UNKNOWN_OBJECT
        }
    }

    /// The handle of a region the driver has seen.
    pub fn region_handle(&self, r: RegionId) -> Option<RegionHandle> {
        self.region_handles.get(&r).copied()
    }

    /// The current home handle of an object the driver has seen.
    pub fn home(&self, o: ObjectId) -> Option<ObjectHandle> {
        self.homes.get(&o).copied()
    }

    /// Every object handle seen, with its object.
    pub fn object_handles(&self) -> impl Iterator<Item = (ObjectHandle, ObjectId)> + '_ {
        self.object_ids.iter().map(|(&h, &o)| (h, o))
    }

    /// Every region handle seen, with its region.
    pub fn region_handles(&self) -> impl Iterator<Item = (RegionHandle, RegionId)> + '_ {
        self.region_ids.iter().map(|(&h, &r)| (h, r))
    }

    /// Records `h` as the handle of new region `r`. Returns whether the
    /// core recycled a region id, or the mismatch if `h` was issued before.
    pub fn register_region(&mut self, h: RegionHandle, r: RegionId) -> Result<bool, Mismatch> {
        if let Some(&earlier) = self.region_ids.get(&h) {
            return Err(Mismatch::Handle {
                handle: h.to_string(),
                problem: format!("issued for new {r:?} but already named {earlier:?}"),
            });
        }
        self.region_ids.insert(h, r);
        self.region_handles.insert(r, h);
        Ok(!self.region_ids_issued.insert(h.id()))
    }

    /// Records `h` as the new home handle of `o` (after allocation or a move).
    pub fn register_home(&mut self, h: ObjectHandle, o: ObjectId) -> Result<(), Mismatch> {
        if let Some(&earlier) = self.object_ids.get(&h) {
            let problem = if earlier == o {
                format!("is an old handle of {o:?}, returned as its new home")
            } else {
                format!("returned for {o:?} but already named {earlier:?}")
            };
            return Err(Mismatch::Handle {
                handle: h.to_string(),
                problem,
            });
        }
        self.object_ids.insert(h, o);
        self.homes.insert(o, h);
        Ok(())
    }

    /// Appends the core images of new reference table entries. Unknown
    /// identities (only after a divergence) get never-issued handles.
    pub fn push_entries(
        &mut self,
        regions: &[RegionId],
        objects: &[ObjectId],
        weak: Option<WeakHandle>,
    ) {
        for &r in regions {
            let h = self
                .region_handle(r)
                .unwrap_or(RegionHandle::from_raw_parts(u32::MAX, 0));
            self.regions.push(h);
        }
        for &o in objects {
            let h = self.home(o).unwrap_or(NEVER_ISSUED);
            self.objects.push(h);
        }
        self.weaks.extend(weak);
    }
}
