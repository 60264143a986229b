//! "An interpreter call stack": every interpreted call runs in a frame that
//! owns its temporaries and returns one result to its caller.
//!
//! On regions each call is a child region of its caller's frame region. It
//! allocates a few typed temporaries (`u64`, `[u64; 4]`, `[u8; 256]` or
//! `[u8; 2000]`, picked by the call's seed), computes a value from them and
//! from its callees' results, and returns it by allocating a result object,
//! retaining it and releasing its frame region: the result is promoted into
//! the caller's frame, where the caller reads it (through the original,
//! now forwarding handle) and frees it.
//!
//! The peer is the same program the ordinary way: a frame owns a
//! `Vec<Box<dyn Any>>` of temporaries and returns an `Rc<u64>`.
//!
//! The program is a sequence of top-level calls; a call with `levels > 1`
//! makes one nested call with `levels - 1` and sometimes also a leaf call,
//! so the stack is at most [`MAX_DEPTH`] frames deep.

use std::any::Any;
use std::rc::Rc;

use regions::{ObjectHandle, RegionHandle, Registry};

use crate::common::{mix, Rng};

/// The deepest call stack of a program.
pub const MAX_DEPTH: usize = 50;
/// The most temporaries one call allocates.
const MAX_TEMPS: usize = 5;

/// A deterministic program: top-level calls as `(levels, seed)`.
pub struct Program {
    roots: Vec<(u32, u64)>,
    /// The number of calls one run makes.
    pub calls: u64,
}

/// What one call does; a pure function of its `levels` and `seed`.
struct Plan {
    /// Temporary kinds (0..4), `count` of them.
    kinds: [u8; MAX_TEMPS],
    count: usize,
    /// The nested call, if any: `(levels, seed)`.
    nested: Option<(u32, u64)>,
    /// The seed of a leaf call, if any.
    leaf: Option<u64>,
}

fn plan(levels: u32, seed: u64) -> Plan {
    let bits = mix(seed, 0);
    let count = 2 + (bits & 3) as usize;
    let mut kinds = [0u8; MAX_TEMPS];
    for (t, kind) in kinds.iter_mut().enumerate() {
        *kind = ((bits >> (8 + 2 * t)) & 3) as u8;
    }
    let nested = (levels > 1).then(|| (levels - 1, mix(seed, 100)));
    let leaf = (levels > 1 && (bits >> 40) & 1 == 1).then(|| mix(seed, 200));
    Plan {
        kinds,
        count,
        nested,
        leaf,
    }
}

fn calls_of(levels: u32, seed: u64) -> u64 {
    let plan = plan(levels, seed);
    1 + plan.nested.map_or(0, |(l, s)| calls_of(l, s)) + plan.leaf.map_or(0, |s| calls_of(1, s))
}

/// A program of top-level calls of 1..=[`MAX_DEPTH`] levels making at
/// least `target_calls` calls in all.
pub fn program(target_calls: usize) -> Program {
    let mut rng = Rng::new(0x1e7e);
    let mut roots = Vec::new();
    let mut calls = 0;
    while calls < target_calls as u64 {
        let levels = 1 + rng.below(MAX_DEPTH) as u32;
        let seed = rng.next_u64();
        calls += calls_of(levels, seed);
        roots.push((levels, seed));
    }
    Program { roots, calls }
}

fn temp_seed(seed: u64, t: usize) -> u64 {
    mix(seed, t as u64 + 1)
}

/// Folds one temporary's digest into a frame's value.
fn fold(acc: u64, digest: u64) -> u64 {
    acc.rotate_left(5) ^ digest
}

/// Folds a callee's result into a frame's value.
fn combine(acc: u64, result: u64) -> u64 {
    acc.wrapping_mul(31).wrapping_add(result)
}

/// A temporary type: made from a seed, read back as a digest.
trait Temp: Any + Send {
    fn make(seed: u64) -> Self;
    fn digest(&self) -> u64;
}

impl Temp for u64 {
    fn make(seed: u64) -> Self {
        seed
    }
    fn digest(&self) -> u64 {
        *self
    }
}

impl Temp for [u64; 4] {
    fn make(seed: u64) -> Self {
        [seed, seed >> 7, seed >> 13, seed >> 29]
    }
    fn digest(&self) -> u64 {
        self[0] ^ self[1].wrapping_add(self[2]) ^ self[3]
    }
}

impl Temp for [u8; 256] {
    fn make(seed: u64) -> Self {
        let mut bytes = [seed as u8; 256];
        bytes[255] = (seed >> 8) as u8;
        bytes
    }
    fn digest(&self) -> u64 {
        u64::from(self[0]) * 257 + u64::from(self[255])
    }
}

impl Temp for [u8; 2000] {
    fn make(seed: u64) -> Self {
        let mut bytes = [(seed >> 16) as u8; 2000];
        bytes[1999] = (seed >> 24) as u8;
        bytes
    }
    fn digest(&self) -> u64 {
        u64::from(self[0]) * 65_537 + u64::from(self[1999])
    }
}

/// Something done with the temporary type of a kind (static dispatch).
trait KindVisitor {
    type Out;
    fn visit<T: Temp>(self) -> Self::Out;
}

fn with_kind<V: KindVisitor>(kind: u8, visitor: V) -> V::Out {
    match kind {
        0 => visitor.visit::<u64>(),
        1 => visitor.visit::<[u64; 4]>(),
        2 => visitor.visit::<[u8; 256]>(),
        _ => visitor.visit::<[u8; 2000]>(),
    }
}

struct AllocTemp<'a> {
    reg: &'a mut Registry,
    frame: RegionHandle,
    seed: u64,
}

impl KindVisitor for AllocTemp<'_> {
    type Out = ObjectHandle;
    fn visit<T: Temp>(self) -> ObjectHandle {
        self.reg
            .alloc_typed(self.frame, T::make(self.seed))
            .unwrap()
    }
}

struct ReadTemp<'a> {
    reg: &'a Registry,
    handle: ObjectHandle,
}

impl KindVisitor for ReadTemp<'_> {
    type Out = u64;
    fn visit<T: Temp>(self) -> u64 {
        self.reg.get_typed::<T>(self.handle).unwrap().digest()
    }
}

struct BoxTemp(u64);

impl KindVisitor for BoxTemp {
    type Out = Box<dyn Any>;
    fn visit<T: Temp>(self) -> Box<dyn Any> {
        Box::new(T::make(self.0))
    }
}

struct ReadBox<'a>(&'a dyn Any);

impl KindVisitor for ReadBox<'_> {
    type Out = u64;
    fn visit<T: Temp>(self) -> u64 {
        self.0.downcast_ref::<T>().unwrap().digest()
    }
}

/// Runs `program` on regions; returns the checksum and the number of calls.
/// The registry is left as it was (every frame region is released).
pub fn run_regions(reg: &mut Registry, program: &Program) -> (u64, u64) {
    let driver = reg.create_region(reg.root()).unwrap();
    let mut calls = 0;
    let mut checksum = 0u64;
    for &(levels, seed) in &program.roots {
        let result = call_regions(reg, driver, levels, seed, &mut calls);
        checksum = combine(checksum, take_result(reg, result));
    }
    reg.release_region(driver).unwrap();
    (checksum, calls)
}

/// The caller's side of a return: read the promoted result, free it.
fn take_result(reg: &mut Registry, result: ObjectHandle) -> u64 {
    let value = *reg.get_typed::<u64>(result).unwrap();
    reg.free(result).unwrap();
    value
}

fn call_regions(
    reg: &mut Registry,
    caller: RegionHandle,
    levels: u32,
    seed: u64,
    calls: &mut u64,
) -> ObjectHandle {
    *calls += 1;
    let plan = plan(levels, seed);
    let frame = reg.create_region(caller).unwrap();
    let mut temps = [ObjectHandle::from_raw_parts(0, 0, 0, 0); MAX_TEMPS];
    for (t, temp) in temps.iter_mut().enumerate().take(plan.count) {
        let seed = temp_seed(seed, t);
        *temp = with_kind(plan.kinds[t], AllocTemp { reg, frame, seed });
    }
    let mut acc = seed;
    for (t, &handle) in temps.iter().enumerate().take(plan.count) {
        acc = fold(acc, with_kind(plan.kinds[t], ReadTemp { reg, handle }));
    }
    if let Some((levels, seed)) = plan.nested {
        let result = call_regions(reg, frame, levels, seed, calls);
        acc = combine(acc, take_result(reg, result));
    }
    if let Some(seed) = plan.leaf {
        let result = call_regions(reg, frame, 1, seed, calls);
        acc = combine(acc, take_result(reg, result));
    }
    let result = reg.alloc_typed(frame, acc).unwrap();
    reg.retain(result).unwrap();
    reg.release_region(frame).unwrap();
    result
}

/// Runs `program` with Rc/Vec/Box; returns the checksum and the number of calls.
pub fn run_rc(program: &Program) -> (u64, u64) {
    let mut calls = 0;
    let mut checksum = 0u64;
    for &(levels, seed) in &program.roots {
        let result = call_rc(levels, seed, &mut calls);
        checksum = combine(checksum, *result);
    }
    (checksum, calls)
}

fn call_rc(levels: u32, seed: u64, calls: &mut u64) -> Rc<u64> {
    *calls += 1;
    let plan = plan(levels, seed);
    let mut temps: Vec<Box<dyn Any>> = Vec::with_capacity(plan.count);
    for t in 0..plan.count {
        temps.push(with_kind(plan.kinds[t], BoxTemp(temp_seed(seed, t))));
    }
    let mut acc = seed;
    for (t, temp) in temps.iter().enumerate() {
        acc = fold(acc, with_kind(plan.kinds[t], ReadBox(&**temp)));
    }
    if let Some((levels, seed)) = plan.nested {
        acc = combine(acc, *call_rc(levels, seed, calls));
    }
    if let Some(seed) = plan.leaf {
        acc = combine(acc, *call_rc(1, seed, calls));
    }
    drop(temps); // the frame's temporaries die before it returns, as on regions
    Rc::new(acc)
}
