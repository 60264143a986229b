#!/usr/bin/env python3
"""Prints the benchmark summary of ci/bench.sh as one markdown table.

Reads criterion's results (<criterion dir>/<group>/<function>/new/
benchmark.json for the ids and the throughput, estimates.json next to it
for the time per iteration) and the `memory ...` lines of the memory bench,
and prints one row per (workload, peer) pair with its goal and whether the
goal is met. Standard library only.

Exit status 1 when a row has no result (or only one older than --since).
"""

import argparse
import json
import os
import sys

# Time rows: (workload label, group, regions function, peer function,
#             goal text, comparison, limit). The ratio is regions / peer.
TIME_ROWS = [
    ("alloc_16B", "alloc_16B", "regions::alloc", "slotmap::insert",
     "≤ 1.5× SlotMap::insert", "le", 1.5),
    ("free_16B", "free_16B", "regions::free", "slotmap::remove",
     "≤ 1.5× SlotMap::remove", "le", 1.5),
    ("get_16B_sequential", "get_16B_sequential", "regions::get", "slotmap::get",
     "≤ 1.5× slotmap (aim 1.2×)", "le", 1.5),
    ("get_16B_sequential (typed)", "get_16B_sequential", "regions::get_typed",
     "regions::get", "get_typed ≤ 1.2× get", "le", 1.2),
    ("get_random_10M", "get_random_10M", "regions::get", "slotmap::get",
     "≤ 1.3× slotmap", "le", 1.3),
    ("region_churn_48B", "region_churn_48B", "regions", "bumpalo",
     "≤ 1.5× bumpalo", "le", 1.5),
    ("region_churn_48B", "region_churn_48B", "regions", "Vec<Box>",
     "≥ 6× faster than Vec<Box> (ratio ≤ 0.167)", "le", 1 / 6),
    ("mixed_churn", "mixed_churn", "regions", "Vec<Box>",
     "≥ 4× faster than Vec<Box> (ratio ≤ 0.25)", "le", 0.25),
    ("mixed_churn", "mixed_churn", "regions", "bumpalo",
     "none (for reference)", None, None),
    ("resolve_after_10k_promotions (get)", "resolve_after_10k_promotions",
     "regions::get(after 10000)", "regions::get(after 1)",
     "O(1): 10,000 promotions vs 1 ≤ 1.5×", "le", 1.5),
    ("resolve_after_10k_promotions (resolve)", "resolve_after_10k_promotions",
     "regions::resolve(after 10000)", "regions::resolve(after 1)",
     "O(1): 10,000 promotions vs 1 ≤ 1.5×", "le", 1.5),
    ("old handle vs home handle", "resolve_after_10k_promotions",
     "regions::get(after 1)", "regions::get(home)",
     "none (the cost of one forwarding record)", None, None),
    ("ghost_lookup", "ghost_lookup", "regions::get(100000 tables)",
     "regions::get(10 tables)", "100k vs 10 tables ≤ 1.5×", "le", 1.5),
    ("destructor_lookup", "destructor_lookup", "regions::free(10000 tags)",
     "regions::free(1 tag)", "10k vs 1 type ≤ 1.5×", "le", 1.5),
    ("app_interpreter", "app_interpreter", "regions", "Rc/Vec/Box",
     "faster than Rc/Vec (ratio < 1)", "lt", 1.0),
    ("app_entities", "app_entities", "regions", "slotmap",
     "≤ 2× slotmap time", "le", 2.0),
]

# Memory rows: (workload label, memory line name, regions key, peer label,
#               peer key, unit, goal text, goal kind, limit). Goal kind
#               "ratio" compares regions / peer, "abs" the regions value.
MEMORY_ROWS = [
    ("memory app_entities (peak heap)", "app_entities", "regions_peak_bytes",
     "slotmap", "slotmap_peak_bytes", "B",
     "≤ 3× slotmap peak heap", "ratio", 3.0),
    ("memory metadata_16B (heap bytes/object − 16)", "metadata_16B",
     "regions_metadata_per_object", "slotmap", "slotmap_metadata_per_object",
     "B", "≤ 32 B per 16-byte object", "abs", 32.0),
]

HEADER = ["workload", "regions ns/elem", "peer", "peer ns/elem",
          "ratio (regions/peer)", "goal", "met/missed"]


def load_criterion(root, since, statistic):
    """{(group, function): ns per element} for results newer than `since`,
    and the set of (group, function) whose results are older."""
    results, stale = {}, set()
    for directory, _, files in os.walk(root):
        if os.path.basename(directory) != "new" or "benchmark.json" not in files:
            continue
        with open(os.path.join(directory, "benchmark.json")) as f:
            bench = json.load(f)
        estimates_path = os.path.join(directory, "estimates.json")
        if not os.path.exists(estimates_path):
            continue
        key = (bench["group_id"], bench["function_id"])
        if since is not None and os.path.getmtime(estimates_path) < since:
            stale.add(key)
            continue
        with open(estimates_path) as f:
            estimates = json.load(f)
        per_iteration = estimates[statistic]["point_estimate"]
        throughput = bench.get("throughput") or {}
        elements = throughput.get("Elements") or 1
        results[key] = per_iteration / elements
    return results, stale


def load_memory(path):
    """{line name: {key: float}} from `memory NAME key=value ...` lines."""
    lines = {}
    if path is None or not os.path.exists(path):
        return lines
    with open(path) as f:
        for line in f:
            words = line.split()
            if len(words) < 2 or words[0] != "memory":
                continue
            values = {}
            for word in words[2:]:
                key, sep, value = word.partition("=")
                if sep:
                    try:
                        values[key] = float(value)
                    except ValueError:
                        pass
            lines[words[1]] = values
    return lines


def number(value, unit=""):
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def verdict(value, kind, limit):
    if value is None:
        return "not run"
    if kind is None:
        return "—"
    met = value < limit if kind == "lt" else value <= limit
    return "met" if met else "missed"


def ratio_of(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def table_rows(results, stale, memory):
    rows, missing = [], []
    for label, group, subject, peer, goal, kind, limit in TIME_ROWS:
        a, b = results.get((group, subject)), results.get((group, peer))
        for function, value in ((subject, a), (peer, b)):
            if value is None:
                note = " (stale result)" if (group, function) in stale else ""
                missing.append(f"{group}/{function}{note}")
        ratio = ratio_of(a, b)
        rows.append([label, number(a), peer, number(b), number(ratio), goal,
                     verdict(ratio, kind, limit)])
    for label, name, key, peer, peer_key, unit, goal, kind, limit in MEMORY_ROWS:
        values = memory.get(name, {})
        a, b = values.get(key), values.get(peer_key)
        if a is None or b is None:
            missing.append(f"memory {name}")
        ratio = ratio_of(a, b)
        checked = ratio if kind == "ratio" else a
        rows.append([label, number(a, unit), peer, number(b, unit), number(ratio),
                     goal, verdict(checked, "le", limit)])
    return rows, missing


def markdown(rows):
    out = ["| " + " | ".join(HEADER) + " |",
           "|" + "|".join(["---"] * len(HEADER)) + "|"]
    for row in rows:
        out.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--criterion-dir", required=True)
    parser.add_argument("--memory", help="file with the memory bench output")
    parser.add_argument("--since", type=float,
                        help="ignore criterion results older than this Unix time")
    parser.add_argument("--statistic", choices=["median", "mean"], default="median")
    args = parser.parse_args()

    results, stale = load_criterion(args.criterion_dir, args.since, args.statistic)
    rows, missing = table_rows(results, stale, load_memory(args.memory))
    print(markdown(rows))
    print()
    print(f"ns/elem: criterion {args.statistic} time per iteration / throughput elements; "
          "memory rows in bytes.")
    if missing:
        missing = list(dict.fromkeys(missing))  # a function can serve two rows
        print("missing results: " + ", ".join(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
