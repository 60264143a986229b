//! The model's side of the ops of the ergonomic API: convenience
//! allocation, iteration and the identity queries.

use crate::model::ObjectId;
use crate::op::{Convenient, Iteration};

use super::super::outcome::{IdentityQueries, Outcome};
use super::super::sorted;
use super::{align_of_log2, pattern, Prediction, Reference};
use crate::model::RegionId;

impl Reference {
    /// `AllocConvenient`: each form is the core allocation it is built on,
    /// with its bytes made as the core's convenience function makes them.
    pub(super) fn run_convenient(
        &mut self,
        region: RegionId,
        how: Convenient,
        prediction: &mut Prediction,
    ) -> Outcome<ObjectId, RegionId> {
        let m = &mut self.model;
        let allocated = match how {
            Convenient::DefaultOf(kind) => {
                let token = self.tokens_issued;
                self.tokens_issued += 1;
                prediction.token = Some(token);
                let info = kind.info();
                // Default values are all-zero words; a tracked one's first
                // word is its token.
                let words: &[u64] = if info.tracked { &[token] } else { &[] };
                let bytes = super::super::typed::encode(words, info.size);
                m.alloc_typed(
                    region,
                    info.size,
                    info.align,
                    &bytes,
                    info.tag,
                    info.needs_drop,
                )
            }
            Convenient::Zeroed {
                size,
                align_log2,
                tag,
            } => {
                let size = usize::from(size);
                m.alloc(region, size, align_of_log2(align_log2), &vec![0; size], tag)
            }
            Convenient::FromBytes {
                size,
                align,
                tag,
                fill,
            } => {
                let size = usize::from(size);
                m.alloc(region, size, usize::from(align), &pattern(fill, size), tag)
            }
            Convenient::FilledInPlace {
                size,
                align_log2,
                tag,
                fill,
                panics,
            } => {
                let (size, align) = (usize::from(size), align_of_log2(align_log2));
                if panics {
                    // The checks come first; then `init` panics and no
                    // object exists.
                    let checked = m.check_raw_allocation(region, size, align, size, tag);
                    return Outcome::Done(checked.map_err(Into::into));
                }
                m.alloc(region, size, align, &pattern(fill, size), tag)
            }
        };
        self.objects.extend(allocated.iter().copied());
        prediction.touched_objects.extend(allocated.iter().copied());
        Outcome::Object(allocated.map_err(Into::into))
    }

    /// `Iterate`: the set of objects yielded, with their contents.
    pub(super) fn run_iteration(
        &mut self,
        region: RegionId,
        what: Iteration,
        prediction: &mut Prediction,
    ) -> Outcome<ObjectId, RegionId> {
        let m = &mut self.model;
        let listed = match what {
            Iteration::OfType(kind) => m.iter_typed(region, kind.info().tag).map(|set| {
                let read = |o| m.get_typed(o, kind.info().tag).expect("listed").to_vec();
                sorted(set.into_iter().map(|o| (o, read(o))))
            }),
            Iteration::OfTypeMut { kind, payload } => {
                let tag = kind.info().tag;
                m.iter_typed(region, tag).map(|set| {
                    prediction.touched_objects.extend(set.iter().copied());
                    let set_payload = |o| {
                        let old = m.get_typed(o, tag).expect("listed");
                        let token = if kind.info().tracked {
                            super::super::typed::first_word(old)
                        } else {
                            0
                        };
                        let new = kind.model_bytes(token, payload);
                        m.write_typed(o, tag, &new).expect("listed");
                        (o, new)
                    };
                    sorted(set.into_iter().map(set_payload))
                })
            }
            Iteration::RawTagged { tag } => m.iter_raw(region, tag).map(|set| {
                let read = |o| m.get(o).expect("listed").to_vec();
                sorted(set.into_iter().map(|o| (o, read(o))))
            }),
            Iteration::Subtree => m
                .subtree_objects(region)
                .map(|set| set.into_iter().map(|o| (o, Vec::new())).collect()),
            Iteration::Everything => Ok(m
                .all_objects()
                .into_iter()
                .map(|o| (o, Vec::new()))
                .collect()),
        };
        Outcome::Listed(listed.map_err(Into::into))
    }

    /// `Identify`: `current`, `is_alive` and `same_object`.
    pub(super) fn identify(
        &self,
        object: ObjectId,
        other: ObjectId,
    ) -> Outcome<ObjectId, RegionId> {
        let m = &self.model;
        Outcome::Identity(IdentityQueries {
            current: m.current(object).map_err(Into::into),
            alive: m.is_alive(object),
            same: m.same_object(object, other),
        })
    }
}
