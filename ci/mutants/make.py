#!/usr/bin/env python3
"""Regenerates the injected-bug patches of ci/mutants/ from the current core.

Each mutant is one realistic bug: a file, an exact snippet of the current
source, and what a careless edit would turn it into. The script applies each
edit to a copy of the file, writes `git diff`-style patches (paths relative
to the repository root) next to itself, and fails if a snippet no longer
occurs exactly once, so a refactor of the core that moves the code is
noticed instead of silently leaving stale patches.

Usage: python3 ci/mutants/make.py      (from anywhere; rewrites *.patch)
"""

import difflib
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = pathlib.Path(__file__).resolve().parent

# name -> (file, before, after, what it breaks); `before` must occur exactly
# once, unless it is given as (snippet, count): then every occurrence changes.
MUTANTS = {
    "allocation-counted-before-storage": (
        "core/src/registry/objects.rs",
        "        let cell = if inline {\n            Cell::inline()\n        } else {\n            let typed = Destructors::type_index(tag);\n            Cell::heap(live.pool.allocate(layout, typed, config, blocks)?)\n        };\n        let aux = Aux::new(layout.align());\n        let (slot, generation, data) = live.slots.occupy(layout.size(), !inline, tag, cell, aux);\n        accounts.allocated(1, layout.size() as u64);\n",
        "        accounts.allocated(1, layout.size() as u64);\n        let cell = if inline {\n            Cell::inline()\n        } else {\n            let typed = Destructors::type_index(tag);\n            Cell::heap(live.pool.allocate(layout, typed, config, blocks)?)\n        };\n        let aux = Aux::new(layout.align());\n        let (slot, generation, data) = live.slots.occupy(layout.size(), !inline, tag, cell, aux);\n",
        "an allocation is counted (statistics, budget payload) before its storage is obtained, so one that fails for lack of memory leaves the count behind",
    ),
    "budget-reserved-after-region-created": (
        "core/src/registry/mod.rs",
        "        self.accounts.reserve_region_budget()?;\n        let region = self.create_region(parent)?;\n",
        "        let region = self.create_region(parent)?;\n        self.accounts.reserve_region_budget()?;\n",
        "create_region_with_budget creates the region before reserving room for its budget, so a refused reservation leaves a live region behind an Err",
    ),
    "promote-ignores-region-budget": (
        "core/src/registry/resolve.rs",
        "        if destination.is_budgeted() {\n            let bytes = destination.region.slots.live_bytes();",
        "        if destination.is_budgeted() && destination.region.slots.live_len() == 0 {\n            let bytes = destination.region.slots.live_bytes();",
        "a manual promotion checks the target region's budget only while the target is empty",
    ),
    "forward-keeps-payload": (
        "core/src/slot_table.rs",
        "        debug_assert!(record.is_live());\n        self.bytes -= record.size() as u64;\n",
        "        debug_assert!(record.is_live());\n",
        "a manual promotion leaves the object's payload counted in its old region (budgets and statistics drift)",
    ),
    "death-counts-survivors-as-destroyed": (
        "core/src/accounting.rs",
        "        self.destroyed_by_death += count;",
        "        self.destroyed_by_death += count + promoted;",
        "global statistics count a death's promoted objects as destroyed too",
    ),
    "death-stops-at-panicking-destructor": (
        "core/src/unwind.rs",
        "let called = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| call(item)));",
        "let called: Result<(), alloc::boxed::Box<dyn core::any::Any + Send>> = Ok(call(item));",
        "a panicking destructor stops a death (or registry drop): the objects after it never get theirs",
    ),
    "bump-ignores-alignment": (
        "core/src/pool/nursery.rs",
        "let start = align_up(page.bump, align as u32)?;",
        "let start = page.bump;",
        "nursery bump allocation does not round the offset up to the alignment",
    ),
    "forwarding-ignores-generation": (
        "core/src/forwarding.rs",
        "(record.slot_generation == handle.slot_generation()).then_some(record)",
        "Some(record)",
        "a ghost record answers for every generation of its slot, so a stale handle of an older occupant resolves",
    ),
    "death-destroys-strongly-held-objects": (
        "core/src/registry/death.rs",
        "if !record.is_live() || dying.slots.aux(slot).strong == 0 {",
        "if !record.is_live() || dying.slots.aux(slot).strong <= 1 {",
        "region death promotes only objects with strong count > 1",
    ),
    "death-promotes-weak-only-objects": (
        "core/src/registry/death.rs",
        "if !record.is_live() || dying.slots.aux(slot).strong == 0 {",
        "if !record.is_live() || (dying.slots.aux(slot).strong == 0 && dying.slots.aux(slot).weak == 0) {",
        "region death also promotes objects held only by weak handles",
    ),
    "slab-records-wrong-page": (
        "core/src/pool/slab.rs",
        "        if is_full(page) {\n            self.close_page(slab, index);\n        }\n        Some((data, index))",
        "        if is_full(page) {\n            self.close_page(slab, index);\n        }\n        Some((data, self.slabs[slab].open.head.min(index)))",
        "a chunk taken from a page that just filled up records the pool's next page instead of its own",
    ),
    "forwarding-slots-dropped-at-death": (
        "core/src/registry/death.rs",
        "        if self.live(id).slots.forwarded_len() > 0 {\n            self.ghost_forwarded_slots(handle);\n        }",
        "        if self.live(id).slots.forwarded_len() > 1 {\n            self.ghost_forwarded_slots(handle);\n        }",
        "a dying region with one forwarding slot (a manual promotion out of it) drops it instead of making it a ghost record",
    ),
    "slot-recycled-without-generation-bump": (
        "core/src/slot_table.rs",
        "            let generation = record.generation + 1;",
        "            let generation = record.generation - 1;",
        "a freed slot is reused with its old occupant's generation (ABA)",
    ),
    "block-cache-bins-off-by-one": (
        "core/src/block.rs",
        "        let bin = &mut self.bins[Self::bin(log2)];",
        "        let bin = &mut self.bins[Self::bin(log2.saturating_add(1).min(MAX_BLOCK_LOG2))];",
        "the block cache files a freed block under the next larger size, so it is handed out as a block twice its size",
    ),
    "size-class-rounds-down": (
        "core/src/size_class.rs",
        "    usize::from(FIRST_CLASS[size.div_ceil(16)])\n}",
        "    usize::from(FIRST_CLASS[size / 16])\n}",
        "the fast path's size class rounds the size down, so an object can be larger than its chunk",
    ),
    "coalescing-loses-prev-size": (
        "core/src/pool/large.rs",
        "            size += previous.size;\n            prev_size = previous.prev_size;",
        "            size += previous.size;",
        "a large chunk merged into its free predecessor keeps its own prev_size, corrupting the boundary tags",
    ),
    "compaction-forgets-the-new-address": (
        "core/src/registry/compact.rs",
        "                live.slots.record_mut(slot).set_heap(moved);\n",
        "",
        "compaction copies an object and frees its old chunk but leaves the slot pointing at the old chunk",
    ),
    "slice-drops-one-element-short": (
        "core/src/destructor.rs",
        "    let len = size / core::mem::size_of::<T>();",
        "    let len = (size / core::mem::size_of::<T>()).saturating_sub(1);",
        "the drop glue of a slice object drops all elements but the last",
    ),
    "nursery-reset-while-live": (
        "core/src/pool/nursery.rs",
        "        page.live -= 1;\n        if page.live == 0 {\n            page.bump = 0;\n        }",
        "        page.live -= 1;\n        if page.live <= 1 {\n            page.bump = 0;\n        }",
        "the nursery rewinds its bump offset while one object is still live in it",
    ),
    "bulk-run-ignores-chunk-size": (
        "core/src/registry/bulk.rs",
        "                    data: unsafe { first.data.add(index * stride as usize) },",
        "                    data: unsafe { first.data.add(index * layout.size()) },",
        "bulk-allocated objects are spaced by their size instead of their chunk size",
    ),
    "typed-pool-ignores-size-class": (
        "core/src/pool/pools.rs",
        "    u64::from(type_index) << 8 | u64::from(class)\n",
        "    let _ = class;\n    u64::from(type_index) << 8\n",
        "the recent typed pools are keyed by type alone, so a longer slice of a type gets a chunk of a shorter one's size (the bug the harness found in this core)",
    ),
    "slot-ghost-ignores-region-generation": (
        "core/src/forwarding.rs",
        "            && self.generation == handle.region().generation()\n",
        "",
        "the ghost record kept in a region slot answers for every dead incarnation of the id, so an old handle of an earlier incarnation resolves to another object",
    ),
    "death-keeps-stored-references": (
        "core/src/registry/stored.rs",
        "            if let Ok(home) = self.locate(stored) {\n                self.drop_counted_strong(home);\n            }\n",
        "            let _ = stored;\n",
        "a container's death drops its records of stored references without giving the counts back, so what it stored is promoted forever (the friction this capability removed)",
    ),
    "unstore-matches-any-object-of-the-region": (
        "core/src/registry/stored.rs",
        "                resolved.position(|found| found == Ok(home))\n",
        "                resolved.position(|found| found.is_ok_and(|found| found.region() == home.region()))\n",
        "`unstore` matches a record by the region its object lives in instead of the object, so it gives back a reference to a different object",
    ),
    "decoder-index-off-by-one": (
        "core/src/registry/deserialize.rs",
        "        if index as usize >= len {\n",
        "        if index as usize > len {\n",
        "the decoder accepts an index equal to its table's length (a missed bound check), so a stored reference, old handle, object region or type can name one past the end",
    ),
    "decoder-reads-one-byte-too-many": (
        "core/src/registry/deserialize.rs",
        "            Some(end) if end <= self.bytes.len() => {\n",
        "            Some(end) if end <= self.bytes.len() + 1 => {\n",
        "the decoder's length check allows a field to end one byte past the stream (an off-by-one length)",
    ),
    "old-handle-of-a-forwarding-slot-is-wrong": (
        "core/src/registry/serialize.rs",
        "                        let generation = record.generation.wrapping_sub(1);\n",
        "                        let generation = record.generation;\n",
        "serialization writes the old handle of a forwarding slot with the slot's current generation, so the handle map translates a handle the object never had and misses the one it had (a wrong handle-map entry)",
    ),
    "typed-tag-collides-for-same-layout-types": (
        "core/src/destructor.rs",
        "    core::hint::black_box(TypeId::of::<T>()).hash(&mut hasher);\n",
        "    core::hint::black_box(core::any::type_name::<T>().len()).hash(&mut hasher);\n",
        "typed_tag hashes something cheaper than the TypeId (here the type name's length), so distinct types such as u64 and i64 share a tag; a model that took its tags from typed_tag would agree with the core",
    ),
    "node-replaced-after-two-ghost-records": (
        "core/src/forwarding.rs",
        "        if let Some(node) = node {\n            self.nodes[node as usize].home = to;\n",
        "        if let Some(node) = node.filter(|&node| self.nodes[node as usize].ghost_records + self.nodes[node as usize].slot_records < 2) {\n            self.nodes[node as usize].home = to;\n",
        "an object whose forwarding node two records (ghost or slot) already name gets a fresh node when it moves again, so handles from its first homes keep naming the old node, whose home is dead: it shows only after three successive deaths (or moves) of the object's homes",
    ),
    "inline-ghost-two-incarnations-back-overwritten": (
        "core/src/forwarding.rs",
        "        self.clear_dead(inline);\n        if inline.node != NO_NODE {\n",
        "        self.clear_dead(inline);\n        if inline.node != NO_NODE && region.generation().wrapping_sub(inline.generation) < 2 {\n",
        "a region id's inline ghost record, left by an incarnation two or more back, is taken for free space and overwritten, so old handles into that incarnation stop forwarding: it shows only after three deaths of one region id, each with a survivor that is still alive at the third",
    ),
}


def patch(path, before, after):
    source = (ROOT / path).read_text()
    before, expected = before if isinstance(before, tuple) else (before, 1)
    count = source.count(before)
    if count != expected:
        sys.exit(f"{path}: the snippet occurs {count} times, not {expected}:\n{before}")
    mutated = source.replace(before, after)
    diff = difflib.unified_diff(
        source.splitlines(keepends=True),
        mutated.splitlines(keepends=True),
        fromfile=f"a/{path}",
        tofile=f"b/{path}",
    )
    return f"diff --git a/{path} b/{path}\n" + "".join(diff)


def main():
    for old in OUT.glob("*.patch"):
        old.unlink()
    for name, (path, before, after, _) in MUTANTS.items():
        (OUT / f"{name}.patch").write_text(patch(path, before, after))
    width = max(map(len, MUTANTS))
    for name, (_, _, _, what) in MUTANTS.items():
        print(f"{name:<{width}}  {what}")


if __name__ == "__main__":
    main()
