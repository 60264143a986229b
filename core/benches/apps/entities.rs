//! "An entity hierarchy": a game level whose entities reference each other.
//!
//! On regions the level is a region and each entity one child region holding
//! a transform (a 16-byte typed object, stored inline), its stats (a 56-byte
//! typed struct) and its name (12..=40 raw bytes). An entity holds a strong
//! reference to another entity's stats (its *ally*, recorded with
//! `store_handle` into the holder's region, so the stats outlive their
//! entity while held) and a weak one (its *target*, `downgrade`/`upgrade`).
//! The game keeps its roster of entities in a `Vec` of handles.
//!
//! Each tick moves every transform, resolves every target through its weak
//! handle (a target that is gone or whose entity died is replaced by a new
//! one), lets every entity interact with its target and ally, reads its name,
//! and respawns a fraction of the entities (the entity region is released and
//! a new one created in its roster place).
//!
//! The peer is the same game on `slotmap`: entities in a `SlotMap` (roster of
//! keys in a `Vec`), stats in a second `SlotMap` with a reference count for
//! the allies (the count regions keeps as the strong count), keys as
//! references, names as `Box<[u8]>`.
//!
//! Every choice is a pure function of an entity's serial number, the tick
//! and one shared random sequence, and an entity's update reads only fields
//! of other entities that never change, so both versions compute the same
//! checksum.

use core::alloc::Layout;

use regions::{ObjectHandle, RegionHandle, Registry, TypeTag, WeakHandle};
use slotmap::{new_key_type, Key, SlotMap};

use crate::common::{mix, scaled, Rng};

/// The size of one game.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub entities: usize,
    pub ticks: usize,
    pub respawns_per_tick: usize,
}

impl Config {
    /// 2 000 entities, 100 ticks (20 under `REGIONS_BENCH_SMALL=1`), 5 %
    /// respawned per tick.
    pub fn standard() -> Self {
        let entities = 2_000;
        Config {
            entities,
            ticks: scaled(100, 20),
            respawns_per_tick: entities * 5 / 100,
        }
    }

    /// The number of entity updates one game makes.
    pub fn entity_ticks(&self) -> u64 {
        (self.entities * self.ticks) as u64
    }
}

#[derive(Clone, Copy, Debug)]
struct Transform {
    x: i32,
    y: i32,
    vx: i32,
    vy: i32,
}

#[derive(Clone, Copy, Debug)]
struct Stats {
    serial: u64,
    attack: u64,
    defense: u64,
    level: u64,
    hp: u64,
    xp: u64,
    alive: bool,
}

const NAME_TAG: TypeTag = TypeTag(7);
const MAX_NAME: usize = 40;
const BOUND: i32 = 10_000;

fn transform_of(serial: u64) -> Transform {
    let bits = mix(serial, 10);
    let pick = |shift: u32, range: i32| ((bits >> shift) % (2 * range as u64 + 1)) as i32 - range;
    Transform {
        x: pick(0, BOUND),
        y: pick(16, BOUND),
        vx: pick(32, 50),
        vy: pick(48, 50),
    }
}

fn stats_of(serial: u64) -> Stats {
    let bits = mix(serial, 20);
    let level = 1 + bits % 20;
    Stats {
        serial,
        attack: level * 3 + (bits >> 8) % 10,
        defense: level * 2 + (bits >> 16) % 10,
        level,
        hp: 100 + level * 10,
        xp: 0,
        alive: true,
    }
}

/// Writes the name of entity `serial` into `buffer`: 12..=40 bytes.
fn name_of(serial: u64, buffer: &mut [u8; MAX_NAME]) -> &[u8] {
    let bits = mix(serial, 30);
    let len = 12 + (bits % 29) as usize;
    for (i, byte) in buffer[..len].iter_mut().enumerate() {
        *byte = b'a' + ((bits >> (i % 60)) % 26) as u8;
    }
    &buffer[..len]
}

/// Moves a transform one tick, bouncing at the level's bounds.
fn step(t: &mut Transform) -> u64 {
    t.x += t.vx;
    t.y += t.vy;
    if t.x.abs() > BOUND {
        t.vx = -t.vx;
    }
    if t.y.abs() > BOUND {
        t.vy = -t.vy;
    }
    (t.x as i64 as u64) ^ ((t.y as i64 as u64) << 20)
}

/// One interaction: reads only fields of `target` and `ally` that never
/// change after spawning, writes only `own`.
fn interact(own: &mut Stats, target: &Stats, ally: &Stats) -> u64 {
    own.xp += target.level;
    let damage = target.attack.saturating_sub(own.defense + ally.defense / 4);
    if own.hp > damage {
        own.hp -= damage;
    } else {
        own.hp = 100 + own.level * 10; // knocked out, back at full health
    }
    own.xp.wrapping_mul(31) ^ own.hp ^ target.serial
}

fn name_digest(name: &[u8]) -> u64 {
    name.len() as u64 * 256 + u64::from(name[0])
}

fn final_digest(t: &Transform, s: &Stats) -> u64 {
    s.xp.wrapping_mul(7) ^ s.hp ^ (t.x as i64 as u64)
}

/// Another roster index than `me`, chosen by `bits`.
fn other(bits: u64, me: usize, n: usize) -> usize {
    let j = (bits % (n as u64 - 1)) as usize;
    if j >= me {
        j + 1
    } else {
        j
    }
}

/// One version of the game.
trait World {
    /// Puts a new entity `serial` at roster place `index` (appending when
    /// `index` is the roster length), with no ally or target yet.
    fn spawn(&mut self, index: usize, serial: u64);
    /// Sets the ally (strong) and target (weak) of entity `index` to the
    /// stats of entities `ally` and `target`.
    fn link(&mut self, index: usize, ally: usize, target: usize);
    /// Removes entity `index` (its place is refilled right after).
    fn kill(&mut self, index: usize);
    /// One tick of entity `index`; returns its contribution to the checksum.
    fn update(&mut self, index: usize, tick: u64) -> u64;
    /// The final state of entity `index`.
    fn digest(&self, index: usize) -> u64;
    /// Removes everything, leaving the containers for the next game.
    fn teardown(&mut self);
}

/// Links entity `serial` at roster place `index` to its ally and target.
fn link_new(world: &mut impl World, index: usize, serial: u64, n: usize) {
    let ally = other(mix(serial, 1), index, n);
    let target = other(mix(serial, 2), index, n);
    world.link(index, ally, target);
}

/// The roster index a dead target of entity `serial` is replaced by at `tick`.
fn retarget(serial: u64, tick: u64, me: usize, n: usize) -> usize {
    other(mix(serial, 1_000 + tick), me, n)
}

/// Plays one game; returns its checksum.
fn play(world: &mut impl World, config: &Config) -> u64 {
    let n = config.entities;
    for i in 0..n {
        world.spawn(i, i as u64);
    }
    for i in 0..n {
        link_new(world, i, i as u64, n);
    }
    let mut rng = Rng::new(0xe171);
    let mut serial = n as u64;
    let mut checksum = 0u64;
    for tick in 0..config.ticks as u64 {
        for i in 0..n {
            checksum = checksum.wrapping_add(world.update(i, tick));
        }
        for _ in 0..config.respawns_per_tick {
            let i = rng.below(n);
            world.kill(i);
            world.spawn(i, serial);
            link_new(world, i, serial, n);
            serial += 1;
        }
    }
    for i in 0..n {
        checksum = checksum.wrapping_mul(3).wrapping_add(world.digest(i));
    }
    world.teardown();
    checksum
}

/// An entity of the regions version: handles only.
#[derive(Clone, Copy, Debug)]
struct Entity {
    region: RegionHandle,
    transform: ObjectHandle,
    stats: ObjectHandle,
    name: ObjectHandle,
    ally: ObjectHandle,
    target: WeakHandle,
    serial: u64,
}

/// Before `link`: names nothing.
const UNLINKED: ObjectHandle = ObjectHandle::from_raw_parts(u32::MAX, 0, 0, 0);

/// The game on regions.
pub struct RegionsGame<'a> {
    reg: &'a mut Registry,
    level: RegionHandle,
    roster: Vec<Entity>,
}

impl<'a> RegionsGame<'a> {
    fn new(reg: &'a mut Registry) -> Self {
        let level = reg.create_region(reg.root()).unwrap();
        RegionsGame {
            reg,
            level,
            roster: Vec::new(),
        }
    }

    fn stats(&self, handle: ObjectHandle) -> Stats {
        *self.reg.get_typed::<Stats>(handle).unwrap()
    }

    /// The stats of the target `weak` names, if it is alive with its entity.
    fn live_target(&mut self, weak: WeakHandle) -> Option<Stats> {
        let home = self.reg.upgrade(weak)?;
        let stats = self.stats(home);
        if stats.alive {
            return Some(stats);
        }
        self.reg.drop_weak(weak).unwrap();
        None
    }
}

/// Plays one game on regions in `reg` (left as it was); returns the checksum.
pub fn play_regions(reg: &mut Registry, config: &Config) -> u64 {
    play(&mut RegionsGame::new(reg), config)
}

impl World for RegionsGame<'_> {
    fn spawn(&mut self, index: usize, serial: u64) {
        let reg = &mut *self.reg;
        let region = reg.create_region(self.level).unwrap();
        let transform = reg.alloc_typed(region, transform_of(serial)).unwrap();
        let stats = reg.alloc_typed(region, stats_of(serial)).unwrap();
        let mut buffer = [0u8; MAX_NAME];
        let name = name_of(serial, &mut buffer);
        let layout = Layout::array::<u8>(name.len()).unwrap();
        let name = reg.alloc(region, layout, name, NAME_TAG).unwrap();
        let entity = Entity {
            region,
            transform,
            stats,
            name,
            ally: UNLINKED,
            target: WeakHandle::from_object_handle(UNLINKED),
            serial,
        };
        if index == self.roster.len() {
            self.roster.push(entity);
        } else {
            self.roster[index] = entity;
        }
    }

    fn link(&mut self, index: usize, ally: usize, target: usize) {
        let ally = self.roster[ally].stats;
        let holder = self.roster[index].region;
        assert!(self.reg.store_handle(holder, ally).unwrap());
        let target = self.reg.downgrade(self.roster[target].stats).unwrap();
        let entity = &mut self.roster[index];
        entity.ally = ally;
        entity.target = target;
    }

    fn kill(&mut self, index: usize) {
        let entity = self.roster[index];
        self.reg.get_typed_mut::<Stats>(entity.stats).unwrap().alive = false;
        // Give back the reference this entity stored (its region's death
        // would too, but the stats of a dead ally are freed right here).
        self.reg.unstore(entity.region, entity.ally).unwrap();
        if self.reg.strong_count(entity.ally).unwrap() == 0 && !self.stats(entity.ally).alive {
            self.reg.free(entity.ally).unwrap(); // the last holder of a dead entity's stats
        }
        // Fine whether the target is alive or already gone.
        self.reg.drop_weak(entity.target).unwrap();
        // The stats survive (promoted to the level) while some ally holds them.
        self.reg.release_region(entity.region).unwrap();
    }

    fn update(&mut self, index: usize, tick: u64) -> u64 {
        let entity = self.roster[index];
        let transform = self.reg.get_typed_mut::<Transform>(entity.transform);
        let mut sum = step(transform.unwrap());
        let target = match self.live_target(entity.target) {
            Some(stats) => stats,
            None => {
                let j = retarget(entity.serial, tick, index, self.roster.len());
                let stats = self.roster[j].stats;
                self.roster[index].target = self.reg.downgrade(stats).unwrap();
                self.stats(stats)
            }
        };
        let ally = self.stats(entity.ally);
        let own = self.reg.get_typed_mut::<Stats>(entity.stats).unwrap();
        sum = sum.wrapping_add(interact(own, &target, &ally));
        sum.wrapping_add(name_digest(self.reg.get(entity.name).unwrap()))
    }

    fn digest(&self, index: usize) -> u64 {
        let entity = &self.roster[index];
        let transform = self.reg.get_typed::<Transform>(entity.transform).unwrap();
        final_digest(transform, &self.stats(entity.stats))
    }

    fn teardown(&mut self) {
        for i in 0..self.roster.len() {
            self.kill(i);
        }
        self.roster.clear();
        self.reg.release_region(self.level).unwrap();
    }
}

new_key_type! {
    struct EntityKey;
    struct StatsKey;
}

/// Stats in the slotmap version, with the number of allies holding them.
struct StatsCell {
    stats: Stats,
    holders: u32,
}

/// An entity of the slotmap version.
struct SlotEntity {
    transform: Transform,
    stats: StatsKey,
    name: Box<[u8]>,
    ally: StatsKey,
    target: StatsKey,
    serial: u64,
}

/// The game on slotmap; reusable from one game to the next.
#[derive(Default)]
pub struct SlotMapGame {
    entities: SlotMap<EntityKey, SlotEntity>,
    stats: SlotMap<StatsKey, StatsCell>,
    roster: Vec<EntityKey>,
}

impl SlotMapGame {
    /// Plays one game; returns the checksum.
    pub fn play(&mut self, config: &Config) -> u64 {
        play(self, config)
    }

    /// Drops a reference to stats `key`; they go when nothing holds them
    /// and their entity is dead.
    fn unhold(&mut self, key: StatsKey, holder: bool) {
        let cell = &mut self.stats[key];
        cell.holders -= u32::from(holder);
        if cell.holders == 0 && !cell.stats.alive {
            self.stats.remove(key);
        }
    }
}

impl World for SlotMapGame {
    fn spawn(&mut self, index: usize, serial: u64) {
        let stats = self.stats.insert(StatsCell {
            stats: stats_of(serial),
            holders: 0,
        });
        let mut buffer = [0u8; MAX_NAME];
        let key = self.entities.insert(SlotEntity {
            transform: transform_of(serial),
            stats,
            name: name_of(serial, &mut buffer).into(),
            ally: StatsKey::null(),
            target: StatsKey::null(),
            serial,
        });
        if index == self.roster.len() {
            self.roster.push(key);
        } else {
            self.roster[index] = key;
        }
    }

    fn link(&mut self, index: usize, ally: usize, target: usize) {
        let ally = self.entities[self.roster[ally]].stats;
        let target = self.entities[self.roster[target]].stats;
        self.stats[ally].holders += 1;
        let entity = &mut self.entities[self.roster[index]];
        entity.ally = ally;
        entity.target = target;
    }

    fn kill(&mut self, index: usize) {
        let entity = self.entities.remove(self.roster[index]).unwrap();
        self.stats[entity.stats].stats.alive = false;
        self.unhold(entity.stats, false);
        self.unhold(entity.ally, true);
    }

    fn update(&mut self, index: usize, tick: u64) -> u64 {
        let key = self.roster[index];
        let target = match self.stats.get(self.entities[key].target) {
            Some(cell) if cell.stats.alive => cell.stats,
            _ => {
                let serial = self.entities[key].serial;
                let j = retarget(serial, tick, index, self.roster.len());
                let stats = self.entities[self.roster[j]].stats;
                self.entities[key].target = stats;
                self.stats[stats].stats
            }
        };
        let entity = &mut self.entities[key];
        let mut sum = step(&mut entity.transform);
        let ally = self.stats[entity.ally].stats;
        let own = &mut self.stats[entity.stats].stats;
        sum = sum.wrapping_add(interact(own, &target, &ally));
        sum.wrapping_add(name_digest(&entity.name))
    }

    fn digest(&self, index: usize) -> u64 {
        let entity = &self.entities[self.roster[index]];
        final_digest(&entity.transform, &self.stats[entity.stats].stats)
    }

    fn teardown(&mut self) {
        self.entities.clear();
        self.stats.clear();
        self.roster.clear();
    }
}
