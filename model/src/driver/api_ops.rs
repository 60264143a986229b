//! The core's side of the ops of the ergonomic API: convenience
//! allocation and iteration (the model's side is in
//! `reference/api_ops.rs`).

use std::alloc::Layout;
use std::panic::{self, AssertUnwindSafe};

use regions::{ObjectHandle, RegionHandle, Registry, TypeTag};

use crate::op::{Convenient, Iteration};

use super::destructors::panic_deliberately;
use super::outcome::{Outcome, Rejection, Res};
use super::reference::{align_of_log2, pattern};
use super::typed::{encoding_of, with_default_token, with_type, DropLog, TypedValue};

/// A raw layout of the op language's fields (small sizes; alignments up
/// to the cap are valid layouts).
fn raw_layout(size: u16, align_log2: u8) -> Layout {
    Layout::from_size_align(usize::from(size), align_of_log2(align_log2))
        .expect("a small size and alignment")
}

/// Runs `AllocConvenient` on the core. `token` is the one the model issued
/// (a tracked default value carries it).
pub(super) fn alloc_convenient(
    reg: &mut Registry,
    region: RegionHandle,
    how: Convenient,
    token: u64,
    log: &DropLog,
    mut err: impl FnMut(regions::Error) -> Rejection,
) -> Outcome<ObjectHandle, RegionHandle> {
    let allocated = match how {
        Convenient::DefaultOf(kind) => with_default_token(
            token,
            log,
            || with_type!(kind, T => reg.alloc_default::<T>(region)),
        ),
        Convenient::Zeroed {
            size,
            align_log2,
            tag,
        } => reg.alloc_zeroed(region, raw_layout(size, align_log2), TypeTag(tag)),
        Convenient::FromBytes {
            size,
            align,
            tag,
            fill,
        } => {
            let bytes = pattern(fill, usize::from(size));
            reg.alloc_bytes(region, TypeTag(tag), usize::from(align), &bytes)
        }
        Convenient::FilledInPlace {
            size,
            align_log2,
            tag,
            fill,
            panics: false,
        } => {
            let layout = raw_layout(size, align_log2);
            let data = pattern(fill, layout.size());
            reg.alloc_with(region, layout, TypeTag(tag), |bytes| {
                bytes.copy_from_slice(&data)
            })
        }
        Convenient::FilledInPlace {
            size,
            align_log2,
            tag,
            panics: true,
            ..
        } => {
            let layout = raw_layout(size, align_log2);
            let attempt = panic::catch_unwind(AssertUnwindSafe(|| {
                reg.alloc_with(region, layout, TypeTag(tag), |_| panic_deliberately())
            }));
            return match attempt {
                // `init` ran and panicked: no object may exist.
                Err(_) => Outcome::Done(Ok(())),
                Ok(Err(error)) => Outcome::Done(Err(err(error))),
                // The object survived its `init`'s panic: a divergence.
                Ok(Ok(handle)) => Outcome::Object(Ok(handle)),
            };
        }
    };
    Outcome::Object(allocated.map_err(err))
}

/// The core's `iter_mut::<T>`, setting each payload.
fn iter_mut_setting<T: TypedValue>(
    reg: &mut Registry,
    region: RegionHandle,
    payload: u64,
) -> regions::Result<Vec<(ObjectHandle, Vec<u8>)>> {
    let listed = reg.iter_mut::<T>(region)?.map(|(handle, value)| {
        value.set_payload(payload);
        (handle, encoding_of(value))
    });
    Ok(listed.collect())
}

/// Runs `Iterate` on the core.
pub(super) fn iterate(
    reg: &mut Registry,
    region: RegionHandle,
    what: Iteration,
    err: impl FnMut(regions::Error) -> Rejection,
) -> Outcome<ObjectHandle, RegionHandle> {
    let handles_only = |h: ObjectHandle| (h, Vec::new());
    let listed: regions::Result<Vec<_>> = match what {
        Iteration::OfType(kind) => with_type!(kind, T => reg
            .iter::<T>(region)
            .map(|it| it.map(|(h, value)| (h, encoding_of(value))).collect())),
        Iteration::OfTypeMut { kind, payload } => {
            with_type!(kind, T => iter_mut_setting::<T>(reg, region, payload))
        }
        Iteration::RawTagged { tag } => reg
            .iter_raw(region, TypeTag(tag))
            .map(|it| it.map(|(h, bytes)| (h, bytes.to_vec())).collect()),
        Iteration::Subtree => reg
            .subtree_objects(region)
            .map(|it| it.map(handles_only).collect()),
        Iteration::Everything => Ok(reg.all_objects().map(handles_only).collect()),
    };
    let listed: Res<_> = listed.map_err(err);
    Outcome::Listed(listed)
}
