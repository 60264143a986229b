//! Entities as regions: a level region with one child region per entity,
//! components as typed objects, and references between entities recorded
//! with the write barrier `store_handle`.
//!
//! ```text
//! cargo run -p regions --example game_entities
//! ```
//!
//! Why a region per entity: an entity's components are born and die
//! together, so killing the entity is one `release_region` that frees every
//! component at once, and no handle to a dead component can ever dangle.
//! Why `store_handle`: when an entity keeps a reference to an object of
//! *another* region (here: the level's shared statistics), the registry must
//! know, so that the object survives its own region's death for as long as
//! the entity holds it, and the reference is given back when the entity
//! dies.

use regions::{ErrorKind, ObjectHandle, RegionHandle, Registry};

#[derive(Clone, Copy, Debug, PartialEq)]
struct Position {
    x: f32,
    y: f32,
}

#[derive(Clone, Copy, Debug)]
struct Velocity {
    dx: f32,
    dy: f32,
}

#[derive(Debug)]
struct Health(u32);

/// A component that refers to an object in another region.
#[derive(Clone, Copy, Debug)]
struct Weapon {
    damage: u32,
    /// The level's shared statistics (lives in the level region).
    stats: ObjectHandle,
}

/// Shared by every shooter: one object in the level region.
#[derive(Debug, Default)]
struct LevelStats {
    shots: u32,
    kills: u32,
}

/// What the game keeps outside the registry: the entity's region and name.
#[derive(Clone, Copy, Debug)]
struct Entity {
    name: &'static str,
    region: RegionHandle,
}

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Creates an entity: a child region of the level with its components.
fn spawn(
    reg: &mut Registry,
    level: RegionHandle,
    name: &'static str,
    (x, y): (f32, f32),
    (dx, dy): (f32, f32),
    health: u32,
) -> Result<Entity> {
    // `capacity` reserves slots for the components we know are coming, so
    // spawning never grows the entity's slot table.
    let region = reg.region_builder().parent(level).capacity(4).create()?;
    reg.alloc_typed(region, Position { x, y })?;
    reg.alloc_typed(region, Velocity { dx, dy })?;
    reg.alloc_typed(region, Health(health))?;
    Ok(Entity { name, region })
}

/// Gives an entity a weapon that refers to the level's statistics.
fn arm(reg: &mut Registry, shooter: Entity, damage: u32, stats: ObjectHandle) -> Result {
    reg.alloc_typed(shooter.region, Weapon { damage, stats })?;
    // The write barrier: the shooter's region now holds a reference to an
    // object of another region. Its strong count goes up, and the registry
    // remembers that *this region* holds it.
    let counted = reg.store_handle(shooter.region, stats)?;
    assert!(counted, "stats live in the level, not in the shooter");
    Ok(())
}

/// The movement system: every entity moves by its velocity.
fn movement(reg: &mut Registry, entities: &[Entity]) -> Result {
    for entity in entities {
        // Read the velocity (shared borrow), then write the position
        // (exclusive borrow): the iterators borrow the registry.
        let velocity = reg.iter::<Velocity>(entity.region)?.next().map(|(_, v)| *v);
        if let Some(Velocity { dx, dy }) = velocity {
            for (_, position) in reg.iter_mut::<Position>(entity.region)? {
                position.x += dx;
                position.y += dy;
            }
        }
    }
    Ok(())
}

/// `shooter` fires at `target`; returns whether the target died.
fn fire(reg: &mut Registry, shooter: Entity, target: Entity) -> Result<bool> {
    let weapon = *reg
        .iter::<Weapon>(shooter.region)?
        .next()
        .ok_or("unarmed")?
        .1;
    // The weapon's handle reaches the shared object wherever it lives now.
    reg.get_typed_mut::<LevelStats>(weapon.stats)?.shots += 1;
    let (_, health) = reg
        .iter_mut::<Health>(target.region)?
        .next()
        .ok_or("no health")?;
    health.0 = health.0.saturating_sub(weapon.damage);
    let left = health.0;
    println!(
        "  {} hits {} for {}: {left} hp left",
        shooter.name, target.name, weapon.damage
    );
    if left > 0 {
        return Ok(false);
    }
    reg.get_typed_mut::<LevelStats>(weapon.stats)?.kills += 1;
    // Killing an entity is one call: all its components go at once.
    reg.release_region(target.region)?;
    println!("  {} dies: its region and components are gone", target.name);
    Ok(true)
}

fn main() -> Result {
    let mut reg = Registry::new();
    let root = reg.root();
    let level = reg.region_builder().capacity(16).create()?;
    let stats = reg.alloc_default::<LevelStats>(level)?;

    // name, position, velocity, health
    let player = spawn(&mut reg, level, "player", (0.0, 0.0), (1.0, 0.0), 100)?;
    let turret = spawn(&mut reg, level, "turret", (5.0, 5.0), (0.0, 0.0), 300)?;
    let grunt_a = spawn(&mut reg, level, "grunt-a", (9.0, 0.0), (-1.0, 0.0), 100)?;
    let grunt_b = spawn(&mut reg, level, "grunt-b", (5.0, 9.0), (0.0, -0.5), 100)?;
    let mut entities = vec![player, turret, grunt_a, grunt_b];
    arm(&mut reg, player, 60, stats)?;
    arm(&mut reg, turret, 25, stats)?;
    // A handle to an object of the container itself needs no barrier: the
    // region's own objects die with it anyway. `store_handle` says so.
    let own_position = reg
        .iter::<Position>(player.region)?
        .next()
        .ok_or("no position")?
        .0;
    let own_counted = reg.store_handle(player.region, own_position)?;
    let count_armed = reg.strong_count(stats)?;
    println!(
        "spawned {} entities under {level}; 2 shooters store the stats: strong count {count_armed}",
        entities.len()
    );

    let in_level_before = reg.subtree_objects(level)?.count();
    for tick in 1..=2 {
        println!("tick {tick}");
        movement(&mut reg, &entities)?;
        if fire(&mut reg, player, grunt_a)? {
            entities.retain(|e| e.region != grunt_a.region);
        }
        fire(&mut reg, turret, grunt_b)?;
    }
    let player_at = *reg
        .iter::<Position>(player.region)?
        .next()
        .ok_or("no position")?
        .1;
    let in_level_after = reg.subtree_objects(level)?.count();
    println!(
        "level subtree: {in_level_before} objects before the fight, {in_level_after} after; player at ({}, {})",
        player_at.x, player_at.y
    );

    // `stored_in` lists what a container holds, which helps when debugging
    // why an object survived a death.
    let turret_holds: Vec<_> = reg.stored_in(turret.region)?.collect();
    // The turret is switched off: its weapon component goes. Stored
    // references are recorded per *region*, not per object, so freeing the
    // component that held the handle does not give the reference back;
    // `unstore` does, early, instead of at the turret's death.
    let turret_weapon = reg
        .iter::<Weapon>(turret.region)?
        .next()
        .ok_or("unarmed")?
        .0;
    reg.free(turret_weapon)?;
    reg.unstore(turret.region, stats)?;
    let count_after_unstore = reg.strong_count(stats)?;
    println!(
        "turret disarmed: it held [{}]; unstore -> strong count {count_after_unstore}",
        turret_holds
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );

    // Unloading the level. A region's death does not kill its children (it
    // hands them to its parent), so the level's own logic releases the
    // entities it owns first: the turret and grunt-b.
    for entity in [turret, grunt_b] {
        reg.release_region(entity.region)?;
    }
    // The player is carried over to the next level: it is not released, so
    // the level's death reparents it to the root. The stats object is
    // still held by the player (strong count 1), so it is promoted to the
    // root instead of destroyed, and the weapon's old handle still works.
    reg.release_region(level)?;
    let weapon = *reg
        .iter::<Weapon>(player.region)?
        .next()
        .ok_or("unarmed")?
        .1;
    let carried = reg.get_typed::<LevelStats>(weapon.stats)?;
    let (shots, kills) = (carried.shots, carried.kills);
    let stats_home = reg.region_of(stats)?;
    println!(
        "level unloaded: player reparented to {} (the root), stats promoted there too: {shots} shots, {kills} kill(s)",
        reg.parent_of(player.region)?.expect("not the root"),
    );

    // The player dies. The reference its region stored is given back
    // automatically: nobody has to remember to release it.
    let count_before_death = reg.strong_count(stats)?;
    reg.release_region(player.region)?;
    let count_after_death = reg.strong_count(stats)?;
    let gone = reg.stored_in(player.region).err().map(|e| e.kind());
    println!("player died: stats strong count {count_before_death} -> {count_after_death}");
    // The root never dies, so whatever lands there lives until freed.
    reg.free(stats)?;

    // --- What we claimed. -----------------------------------------------
    assert_eq!(count_armed, 2);
    assert!(!own_counted, "a region's own object is not counted");
    assert_eq!(
        in_level_before,
        1 + 4 * 3 + 2,
        "stats + 4 entities x 3 + 2 weapons"
    );
    assert_eq!(
        in_level_after,
        in_level_before - 3,
        "grunt-a's components died"
    );
    assert_eq!(player_at, Position { x: 2.0, y: 0.0 });
    assert_eq!(turret_holds, [stats]);
    assert_eq!(count_after_unstore, 1);
    assert_eq!(
        reg.unstore(root, stats).map_err(|e| e.kind()),
        Err(ErrorKind::StaleHandle),
        "stats is gone by now"
    );
    assert_eq!((shots, kills), (4, 1));
    assert_eq!(stats_home, root);
    assert_eq!((count_before_death, count_after_death), (1, 0));
    assert_eq!(gone, Some(ErrorKind::InvalidRegion));
    assert_eq!(reg.live_region_count(), 1, "only the root is left");
    assert_eq!(reg.all_objects().count(), 0);
    reg.check_invariants()?;
    println!("all assertions hold; invariants checked");
    Ok(())
}
