#!/usr/bin/env python3
"""Time runreg's Python package against the reference registry
(stable-pretraining 0.1.8), in-process, on one scanned tree; for
``python.sh``.

Subcommands (each prints one JSON object on stdout):

``ops CACHE_DIR --tag TAG [--reps N]``
    Alternating the two sides at each repetition (one untimed warm-up
    first), the operations of issue 15's table: ``open_registry()`` with
    nothing changed (its lazy scan included: ``scan_ttl_s=0`` on both sides,
    so that the in-process TTL does not skip it), ``query(status=
    "completed")``, ``query(tag=TAG, sort_by="summary.val_acc", limit=5)``,
    ``to_dataframe()``, ``to_arrow()`` (runreg only; also ``pyarrow.table(
    to_arrow())``), and ``get(run_id)`` over the same 1,000 ids at each
    repetition and over 1,000 ids never asked for before (per call).
    ``{"op": {"reference": [seconds...], "runreg": [seconds...]}}``: one
    figure a repetition.

    A call of a few ms or less is at the mercy of one preemption on a shared
    machine. So the short operations are never timed once: ``get`` is timed
    over 1,000 calls (the figure is their total), and the tag query is
    called ``TAG_QUERY_CALLS`` times a repetition, each call timed, on both
    sides alike; its figure is the median of those calls, one call's time.

``frame-rss CACHE_DIR SIDE``
    One ``to_dataframe()`` of every run by SIDE (``reference`` or
    ``runreg``) in this fresh process; ``{"peak_rss_mib", "before_mib",
    "rows"}`` (peak resident memory of the process, from getrusage).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[2] / "target" / "oracle" / "pkg"))
from spt_registry import query as spt  # noqa: E402

import runreg  # noqa: E402

# Calls of the tag query a repetition, on each side (their median is the
# repetition's figure): about 5 s of the reference's time, 0.1 s of runreg's.
TAG_QUERY_CALLS = 50


def open_side(side: str, cache_dir: Path, scan: bool = True):
    if side == "reference":
        return spt.open_registry(
            cache_dir=cache_dir, db_path=cache_dir / "registry.db", scan=scan, scan_ttl_s=0
        )
    return runreg.open_registry(cache_dir=cache_dir, scan=scan, scan_ttl_s=0)


def timed(work) -> float:
    gc.collect()
    t0 = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - t0
    del result
    return seconds


def median_call(work, calls: int) -> float:
    """The median time of one call of ``work`` over ``calls`` calls, each
    timed on its own (a preemption spoils one call, not the figure)."""
    gc.collect()
    seconds = []
    for _ in range(calls):
        t0 = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - t0)
        del result
    return statistics.median(seconds)


def cmd_ops(cache_dir: Path, tag: str, reps: int) -> dict:
    import pyarrow as pa

    regs = {side: open_side(side, cache_dir, scan=False) for side in ("reference", "runreg")}
    ids = sorted(r.run_id for r in regs["runreg"].query(limit=100_000_000))
    rng = random.Random(1)
    sample = [rng.choice(ids) for _ in range(1000)]

    def get_all(reg):
        for run_id in sample:
            reg.get(run_id)

    # Ids never asked for before, a new thousand at each repetition: runreg
    # remembers lookups while its cache file is unchanged (lookups.rs).
    fresh = iter(rng.sample(ids, min(len(ids), 1000 * 2 * (reps + 1) * 2)))

    def get_fresh(reg):
        for _ in range(1000):
            reg.get(next(fresh, ids[0]))

    ops = {
        "open_registry_unchanged": lambda side, reg: open_side(side, cache_dir).close(),
        "query_status_completed": lambda side, reg: reg.query(status="completed"),
        "query_tag_sort_limit5": lambda side, reg: reg.query(
            tag=tag, sort_by="summary.val_acc", limit=5
        ),
        "to_dataframe_all": lambda side, reg: reg.to_dataframe(),
        "get_by_id_x1000": lambda side, reg: get_all(reg),
        "get_fresh_id_x1000": lambda side, reg: get_fresh(reg),
    }
    # Operations timed as the median call of many (see the docstring).
    calls = {"query_tag_sort_limit5": TAG_QUERY_CALLS}
    results: dict = {op: {"reference": [], "runreg": []} for op in ops}
    results["to_arrow_all"] = {"runreg": []}
    results["pyarrow_table_of_to_arrow_all"] = {"runreg": []}
    for rep in range(reps + 1):
        order = ["reference", "runreg"] if rep % 2 == 0 else ["runreg", "reference"]
        for op, work in ops.items():
            for side in order:
                if op in calls:
                    s = median_call(lambda: work(side, regs[side]), calls[op])
                else:
                    s = timed(lambda: work(side, regs[side]))
                if rep > 0:
                    results[op][side].append(s)
            print(f"python_bench: rep {rep} {op} done", file=sys.stderr)
        s = timed(lambda: regs["runreg"].to_arrow())
        t = timed(lambda: pa.table(regs["runreg"].to_arrow()))
        if rep > 0:
            results["to_arrow_all"]["runreg"].append(s)
            results["pyarrow_table_of_to_arrow_all"]["runreg"].append(t)
    results["rows"] = {
        "all": len(ids),
        "completed": len(regs["runreg"].query(status="completed")),
        "tagged": len(regs["runreg"].query(tag=tag)),
    }
    # Both sides answer the same question.
    a = [r.run_id for r in regs["reference"].query(tag=tag, sort_by="summary.val_acc", limit=5)]
    b = [r.run_id for r in regs["runreg"].query(tag=tag, sort_by="summary.val_acc", limit=5)]
    results["same_top5"] = a == b
    results["calls"] = calls
    return results


def cmd_frame_rss(cache_dir: Path, side: str) -> dict:
    import pandas  # noqa: F401  (imported before the baseline on both sides)

    reg = open_side(side, cache_dir, scan=False)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    frame = reg.to_dataframe()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"peak_rss_mib": peak, "before_mib": before, "rows": len(frame)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ops")
    p.add_argument("cache_dir", type=Path)
    p.add_argument("--tag", required=True)
    p.add_argument("--reps", type=int, default=3)
    p = sub.add_parser("frame-rss")
    p.add_argument("cache_dir", type=Path)
    p.add_argument("side", choices=["reference", "runreg"])
    args = parser.parse_args()
    if args.cmd == "ops":
        out = cmd_ops(args.cache_dir, args.tag, args.reps)
    else:
        out = cmd_frame_rss(args.cache_dir, args.side)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
