//! Shared test helpers, and tests of the registry-wide rules (destructor
//! registry, destruction log, registry drop, budget, identities).

use super::*;

/// Runs `op`, which must fail with `expected`, and checks that the failed
/// operation changed nothing ("A failed operation changes nothing").
pub(super) fn assert_fails_unchanged<T: fmt::Debug>(
    m: &mut Model,
    expected: ModelError,
    op: impl FnOnce(&mut Model) -> Result<T, ModelError>,
) {
    let before = m.clone();
    let result = op(m);
    assert_eq!(result.map(drop), Err(expected));
    assert_eq!(*m, before, "a failed operation changed the model");
}

/// Allocates a raw object with tag 0, alignment 1 and contents `bytes`.
pub(super) fn raw(m: &mut Model, region: RegionId, bytes: &[u8]) -> ObjectId {
    m.alloc(region, bytes.len(), 1, bytes, 0).unwrap()
}

const TYPED: u64 = TYPED_TAG_BIT | 42;

#[test]
fn object_ids_are_never_reused() {
    let mut m = Model::new();
    let a = m.create_region(m.root()).unwrap();
    let first = raw(&mut m, a, &[1]);
    m.free(first).unwrap();
    let second = raw(&mut m, a, &[1]);
    m.release_region(a).unwrap();
    let third = raw(&mut m, RegionId(0), &[1]);
    assert!(first < second && second < third);
    assert_eq!(m.get(first), Err(ModelError::StaleHandle));
}

#[test]
fn register_destructor_rejects_typed_tags() {
    let mut m = Model::new();
    assert_fails_unchanged(&mut m, ModelError::ReservedTypeTag, |m| {
        m.register_destructor(TYPED_TAG_BIT)
    });
    m.register_destructor(TYPED_TAG_BIT - 1).unwrap();
}

#[test]
fn destructor_runs_iff_registered_at_destruction_time() {
    let mut m = Model::new();
    let r = m.root();
    let early = m.alloc(r, 1, 1, &[1], 7).unwrap();
    let later = m.alloc(r, 1, 1, &[2], 7).unwrap();
    m.free(early).unwrap();
    m.register_destructor(7).unwrap();
    m.register_destructor(7).unwrap(); // replacing: still one destructor
    m.free(later).unwrap();
    assert_eq!(m.take_destroyed(), vec![(early, false), (later, true)]);
    assert_eq!(m.reach().destructor_calls, 1);
}

#[test]
fn destructor_of_one_raw_tag_does_not_apply_to_another() {
    let mut m = Model::new();
    m.register_destructor(1).unwrap();
    let other = m.alloc(m.root(), 0, 1, &[], 2).unwrap();
    m.free(other).unwrap();
    assert_eq!(m.take_destroyed(), vec![(other, false)]);
}

#[test]
fn typed_destructor_follows_needs_drop_not_the_registry() {
    let mut m = Model::new();
    // A raw destructor on the same low bits must not apply to typed objects.
    m.register_destructor(TYPED & !TYPED_TAG_BIT).unwrap();
    let r = m.root();
    let plain = m.alloc_typed(r, 4, 4, &[0; 4], TYPED, false).unwrap();
    let drops = m.alloc_typed(r, 4, 4, &[0; 4], TYPED, true).unwrap();
    m.free(plain).unwrap();
    m.free(drops).unwrap();
    assert_eq!(m.take_destroyed(), vec![(plain, false), (drops, true)]);
}

#[test]
fn destroyed_states_carry_the_last_home_and_bytes() {
    let mut m = Model::new();
    let a = m.create_region(m.root()).unwrap();
    let o = raw(&mut m, a, &[1, 2]);
    m.write(o, 0, &[9]).unwrap();
    m.release_region(a).unwrap();
    let log = m.take_destroyed_states();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].id, log[0].destructor_ran), (o, false));
    assert_eq!(
        (log[0].last_state.home, &log[0].last_state.bytes[..]),
        (a, &[9u8, 2][..])
    );
    assert!(m.take_destroyed_states().is_empty());
}

#[test]
fn take_destroyed_drains_the_log() {
    let mut m = Model::new();
    let o = raw(&mut m, RegionId(0), &[1]);
    m.free(o).unwrap();
    assert_eq!(m.take_destroyed(), vec![(o, false)]);
    assert_eq!(m.take_destroyed(), vec![]);
}

#[test]
fn drop_registry_destroys_each_live_object_exactly_once() {
    let mut m = Model::new();
    m.register_destructor(3).unwrap();
    let a = m.create_region(m.root()).unwrap();
    let b = m.create_region(a).unwrap();
    let in_root = m.alloc(RegionId(0), 1, 1, &[1], 3).unwrap();
    let in_a = raw(&mut m, a, &[2]);
    let in_b = m.alloc_typed(b, 1, 1, &[3], TYPED, true).unwrap();
    let freed = raw(&mut m, b, &[4]);
    m.retain(in_a).unwrap();
    m.free(freed).unwrap();

    let log = m.drop_registry();

    // The untaken `free` entry is included; each object appears once.
    let expected = vec![(freed, false), (in_root, true), (in_a, false), (in_b, true)];
    assert_eq!(log, expected);
    assert_eq!(m.objects().count(), 0);
    assert_eq!(m.regions().count(), 0);
    assert_eq!(m.drop_registry(), vec![]);
    m.check_invariants().unwrap();
}

#[test]
fn after_registry_drop_everything_is_dead() {
    let mut m = Model::new();
    let o = raw(&mut m, RegionId(0), &[1]);
    m.drop_registry();
    assert_eq!(m.create_region(RegionId(0)), Err(ModelError::InvalidRegion));
    assert_eq!(
        m.alloc(RegionId(0), 0, 1, &[], 0),
        Err(ModelError::InvalidRegion)
    );
    assert_eq!(m.get(o), Err(ModelError::StaleHandle));
    assert_eq!(m.upgrade(o), None);
}

#[test]
fn budget_limits_live_payload_and_frees_return_it() {
    let mut m = Model::with_budget(10);
    let r = m.root();
    let six = raw(&mut m, r, &[0; 6]);
    raw(&mut m, r, &[0; 4]); // exactly at the budget is allowed
    assert_eq!(m.live_bytes(), 10);
    assert_fails_unchanged(&mut m, ModelError::BudgetExceeded, |m| {
        m.alloc(r, 1, 1, &[0], 0)
    });
    assert_fails_unchanged(&mut m, ModelError::BudgetExceeded, |m| {
        m.alloc_typed(r, 1, 1, &[0], TYPED, false)
    });
    raw(&mut m, r, &[]); // size 0 always fits
    m.free(six).unwrap();
    raw(&mut m, r, &[0; 6]);
}

#[test]
fn budget_is_registry_wide_and_survives_promotion() {
    let mut m = Model::with_budget(4);
    let a = m.create_region(m.root()).unwrap();
    let o = raw(&mut m, a, &[0; 4]);
    assert_eq!(
        m.alloc(RegionId(0), 1, 1, &[0], 0),
        Err(ModelError::BudgetExceeded)
    );
    m.promote(o, RegionId(0)).unwrap();
    m.retain(o).unwrap();
    m.release_region(a).unwrap();
    assert_eq!(m.live_bytes(), 4);
}

#[test]
fn peak_live_objects_tracks_the_maximum() {
    let mut m = Model::new();
    let r = m.root();
    let a = raw(&mut m, r, &[]);
    let b = raw(&mut m, r, &[]);
    m.free(a).unwrap();
    m.free(b).unwrap();
    raw(&mut m, r, &[]);
    assert_eq!(m.reach().peak_live_objects, 2);
}

#[test]
fn objects_in_lists_exactly_the_objects_homed_there() {
    let mut m = Model::new();
    let a = m.create_region(m.root()).unwrap();
    let x = raw(&mut m, a, &[1]);
    let y = raw(&mut m, RegionId(0), &[2]);
    let z = raw(&mut m, a, &[3]);
    m.promote(z, RegionId(0)).unwrap();
    let in_a: Vec<ObjectId> = m.objects_in(a).map(|(id, _)| id).collect();
    let in_root: Vec<ObjectId> = m.objects_in(RegionId(0)).map(|(id, _)| id).collect();
    assert_eq!(in_a, vec![x]);
    assert_eq!(in_root, vec![y, z]);
}

#[test]
fn inline_means_size_and_align_at_most_sixteen() {
    let mut m = Model::new();
    let r = m.root();
    let cases = [(16, 16, true), (17, 1, false), (0, 32, false), (0, 1, true)];
    for (size, align, inline) in cases {
        let o = m.alloc(r, size, align, &vec![0; size], 0).unwrap();
        assert_eq!(m.object(o).unwrap().is_inline(), inline, "{size}/{align}");
    }
}

#[test]
fn ghost_tables_are_dead_regions_a_live_object_moved_out_of() {
    let mut m = Model::new();
    let a = m.create_region(m.root()).unwrap();
    let b = m.create_region(m.root()).unwrap();
    let moved = raw(&mut m, a, &[1]);
    let survivor = raw(&mut m, b, &[2]);
    m.promote(moved, b).unwrap();
    assert_eq!(m.ghost_table_count(), 0, "a is still alive");
    m.release_region(a).unwrap();
    assert_eq!(m.ghost_table_count(), 1, "a is dead and `moved` left it");
    m.retain(survivor).unwrap();
    m.release_region(b).unwrap();
    // b is dead: `moved` (strong 0) died with it, `survivor` left it.
    assert_eq!(
        m.ghost_table_count(),
        1,
        "a forwards to nothing alive; b forwards to survivor"
    );
    m.free(survivor).unwrap();
    assert_eq!(m.ghost_table_count(), 0);
}
