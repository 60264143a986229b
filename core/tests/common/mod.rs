//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use core::alloc::Layout;
use regions::{ObjectHandle, RegionHandle, Registry, TypeTag};

/// Scales a count down under Miri, which is ~1000x slower.
pub fn scaled(native: usize, miri: usize) -> usize {
    if cfg!(miri) {
        miri
    } else {
        native
    }
}

/// Allocates a raw object holding `bytes` (alignment `align`) with tag 1.
pub fn raw(reg: &mut Registry, region: RegionHandle, bytes: &[u8], align: usize) -> ObjectHandle {
    let layout = Layout::from_size_align(bytes.len(), align).unwrap();
    reg.alloc(region, layout, bytes, TypeTag(1)).unwrap()
}

/// Panics with every violation if the registry is inconsistent.
pub fn assert_consistent(reg: &Registry) {
    if let Err(violations) = reg.check_invariants() {
        panic!("{violations}");
    }
}
