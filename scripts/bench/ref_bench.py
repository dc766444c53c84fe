#!/usr/bin/env python3
"""Time the reference registry (stable-pretraining 0.1.8) for compare.sh.

Needs the oracle package ``scripts/oracle/setup.sh`` builds in
``target/oracle/pkg`` (found there, or on PYTHONPATH).

Subcommands (each prints one JSON object on stdout):

``scan CACHE_DIR DB [--full] [--fresh]``
    One scan through the reference's scanner, timed in-process: open the
    writable store, ``_scanner.scan(full=...)``, close. ``--fresh`` deletes
    DB (and its -wal/-shm) first. ``{"seconds", "total", "upserted",
    "unchanged", "invalid", "orphaned"}``.

``queries CACHE_DIR DB --tag TAG [--min-reps N] [--min-time S]``
    Opens the cache read-only without scanning and times, in-process, the
    queries of docs/FORMAT.md §7 under the names runreg's ``bench_ops``
    uses: ``get_by_id`` (1,000 ids per repetition, reported per call),
    ``tag_sort_limit5`` (a sweep tag: 0.45% of the runs),
    ``fixed_tag_sort_limit5`` (a tag on 25 runs whatever the size),
    ``sort_all_limit10``, ``status_completed_all``,
    ``hparams_eq``. ``{"op": {"median_s", "min_s", "reps", "rows"}}``.

``frames DB OUT [--min-reps N] [--min-time S]``
    What the columnar exports are compared with, in-process on a scanned
    cache: ``to_parquet`` is ``to_dataframe()`` then
    ``DataFrame.to_parquet(OUT)`` (pandas and pyarrow needed), every run;
    ``status_completed_all`` is ``query(status="completed")``. Same output
    as ``queries``.

``ls CACHE_DIR DB``
    What a user's one-off query costs: ``open_registry()`` (its lazy
    incremental scan included) and ``query(sort_by="created_at", limit=5)``,
    printing the run ids. Meant to be timed from outside, as a process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.append(str(Path(__file__).resolve().parents[2] / "target" / "oracle" / "pkg"))
try:
    from spt_registry import _scanner, _store, query as _query
except ImportError as e:  # pragma: no cover - setup error
    sys.exit(f"ref_bench.py: {e}; run scripts/oracle/setup.sh first")


def _remove_db(db: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.remove(f"{db}{suffix}")
        except FileNotFoundError:
            pass


def cmd_scan(cache_dir: Path, db: Path, full: bool, fresh: bool) -> dict[str, Any]:
    if fresh:
        _remove_db(db)
    t0 = time.perf_counter()
    store = _store.Store(db, readonly=False)
    try:
        report = _scanner.scan(cache_dir, store, full=full)
    finally:
        store.close()
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "total": report.total_sidecars,
        "upserted": report.upserted,
        "unchanged": report.skipped_unchanged,
        "invalid": report.skipped_invalid,
        "orphaned": report.orphaned,
    }


def _measure(op: Callable[[], int], min_reps: int, min_time: float) -> dict[str, Any]:
    samples: list[float] = []
    rows = 0
    started = time.perf_counter()
    while len(samples) < 1000 and (len(samples) < min_reps or time.perf_counter() - started < min_time):
        t0 = time.perf_counter()
        rows = op()
        samples.append(time.perf_counter() - t0)
    return {"samples": samples, "rows": rows}


def _summary(m: dict[str, Any], per: int = 1) -> dict[str, Any]:
    samples = [s / per for s in m["samples"]]
    return {
        "median_s": statistics.median(samples),
        "min_s": min(samples),
        "reps": len(samples),
        "rows": m["rows"],
    }


def cmd_queries(db: Path, tag: str, min_reps: int, min_time: float) -> dict[str, Any]:
    reg = _query.Registry(_store.Store(db, readonly=True))
    out: dict[str, Any] = {}
    try:
        # Ids spread over the whole cache, as bench_ops picks them.
        ids = [r.run_id for r in reg.query(sort_by="created_at")]
        step = max(1, len(ids) // 1000)
        ids = ids[::step][:1000]
        print(f"ref_bench: {len(reg)} runs cached; timing get x{len(ids)}", file=sys.stderr)
        get = _measure(lambda: sum(1 for i in ids if reg.get(i) is not None), min_reps, min_time)
        out["get_by_id"] = _summary(get, per=max(1, len(ids)))
        queries: dict[str, dict[str, Any]] = {
            "tag_sort_limit5": {"tag": tag, "sort_by": "summary.val_acc", "limit": 5},
            "fixed_tag_sort_limit5": {"tag": "paper-final", "sort_by": "summary.val_acc", "limit": 5},
            "sort_all_limit10": {"sort_by": "summary.val_acc", "limit": 10},
            "status_completed_all": {"status": "completed"},
            "hparams_eq": {"hparams": {"optim.lr": 0.01, "data.batch_size": 256}},
        }
        for name, q in queries.items():
            print(f"ref_bench: timing {name}", file=sys.stderr)
            out[name] = _summary(_measure(lambda q=q: len(reg.query(**q)), min_reps, min_time))
    finally:
        reg.close()
    return out


def cmd_frames(db: Path, out: Path, min_reps: int, min_time: float) -> dict[str, Any]:
    reg = _query.Registry(_store.Store(db, readonly=True))
    try:
        def to_parquet() -> int:
            frame = reg.to_dataframe()
            frame.to_parquet(out)
            return len(frame)

        print("ref_bench: timing to_dataframe().to_parquet()", file=sys.stderr)
        result = {"to_parquet": _summary(_measure(to_parquet, min_reps, min_time))}
        print("ref_bench: timing query(status='completed')", file=sys.stderr)
        completed = _measure(lambda: len(reg.query(status="completed")), min_reps, min_time)
        result["status_completed_all"] = _summary(completed)
        return result
    finally:
        reg.close()


def cmd_ls(cache_dir: Path, db: Path) -> None:
    reg = _query.open_registry(cache_dir=cache_dir, db_path=db)
    try:
        for r in reg.query(sort_by="created_at", limit=5):
            print(r.run_id)
    finally:
        reg.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("scan")
    p.add_argument("cache_dir", type=Path)
    p.add_argument("db", type=Path)
    p.add_argument("--full", action="store_true")
    p.add_argument("--fresh", action="store_true")
    p = sub.add_parser("queries")
    p.add_argument("cache_dir", type=Path)
    p.add_argument("db", type=Path)
    p.add_argument("--tag", required=True)
    p.add_argument("--min-reps", type=int, default=5)
    p.add_argument("--min-time", type=float, default=1.0)
    p = sub.add_parser("frames")
    p.add_argument("db", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--min-reps", type=int, default=3)
    p.add_argument("--min-time", type=float, default=0.0)
    p = sub.add_parser("ls")
    p.add_argument("cache_dir", type=Path)
    p.add_argument("db", type=Path)
    args = parser.parse_args()

    if args.command == "scan":
        print(json.dumps(cmd_scan(args.cache_dir, args.db, args.full, args.fresh)))
    elif args.command == "queries":
        print(json.dumps(cmd_queries(args.db, args.tag, args.min_reps, args.min_time)))
    elif args.command == "frames":
        print(json.dumps(cmd_frames(args.db, args.out, args.min_reps, args.min_time)))
    else:
        cmd_ls(args.cache_dir, args.db)


if __name__ == "__main__":
    main()
