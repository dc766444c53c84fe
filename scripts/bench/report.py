#!/usr/bin/env python3
"""Turn compare.sh's raw timings into a Markdown report (stdout).

    report.py WORK_DIR --runs N --reps R --root REPO [--json OUT.json]

WORK_DIR holds results.jsonl (one {"op", "side", "s"} or {"op", "side",
"value"} per line), ref_queries.<round>.json and runreg_queries.<round>.json
(in-process medians by operation; the best round's median is kept), and
tree.json (gen_tree's summary). Medians of the
repetitions are reported; ratio = reference / runreg (above 1: runreg is
faster). Targets are issue #6's, which are stated for 100,000 runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional


def fmt_s(s: Optional[float]) -> str:
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1.0:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def fmt_bytes(b: Optional[float]) -> str:
    if b is None:
        return "-"
    return f"{b / 2**20:.1f} MiB"


def machine(root: Path) -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    try:
        load = " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        load = "unknown"
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "kernel": platform.release(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "load": load,
    }


def best_of(work: Path, stem: str) -> dict[str, Any]:
    """Each operation's entry with the lowest median over the rounds'
    files ``STEM.<round>.json``."""
    best: dict[str, Any] = {}
    for path in sorted(work.glob(f"{stem}.*.json")):
        for op, entry in json.loads(path.read_text()).items():
            if op not in best or entry["median_s"] < best[op]["median_s"]:
                best[op] = entry
    return best


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("work", type=Path)
    p.add_argument("--runs", type=int, required=True)
    p.add_argument("--reps", type=int, required=True)
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--json", type=Path)
    p.add_argument("--commit", help="the commit measured (default: HEAD now)")
    args = p.parse_args()

    samples: dict[tuple[str, str], list[float]] = {}
    values: dict[tuple[str, str], Any] = {}
    for line in (args.work / "results.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if "s" in rec:
            samples.setdefault((rec["op"], rec["side"]), []).append(rec["s"])
        else:
            values[(rec["op"], rec["side"])] = rec["value"]
    ref_q = best_of(args.work, "ref_queries")
    rr_q = best_of(args.work, "runreg_queries")
    tree = json.loads((args.work / "tree.json").read_text())

    def med(op: str, side: str) -> Optional[float]:
        xs = samples.get((op, side))
        return statistics.median(xs) if xs else None

    def q(table: dict[str, Any], op: str) -> Optional[float]:
        return table.get(op, {}).get("median_s")

    unchanged_rr = med("incremental_unchanged", "runreg")
    rows: list[dict[str, Any]] = []

    def speedup_row(name: str, ref: Optional[float], rr: Optional[float], need: float, extra: str = "") -> None:
        ratio = ref / rr if ref and rr else None
        if ratio is None:
            verdict = "-"
        else:
            verdict = f">= {need:g}x: {'met' if ratio >= need else 'MISSED'}"
        rows.append({"op": name, "reference": ref, "runreg": rr, "ratio": ratio, "target": verdict + extra})

    def relative_row(name: str, ref: Optional[float], rr: Optional[float], limit: float) -> None:
        ratio = ref / rr if ref and rr else None
        rel = rr / unchanged_rr if rr and unchanged_rr else None
        verdict = "-" if rel is None else (
            f"<= {limit:g}x runreg's unchanged scan: {rel:.2f}x, {'met' if rel <= limit else 'MISSED'}"
        )
        rows.append({"op": name, "reference": ref, "runreg": rr, "ratio": ratio, "target": verdict})

    speedup_row("full scan, fresh cache", med("full_scan", "reference"), med("full_scan", "runreg"), 10)
    speedup_row(
        "incremental scan, nothing changed",
        med("incremental_unchanged", "reference"),
        unchanged_rr,
        25,
    )
    relative_row(
        "incremental scan, 1% rewritten",
        med("incremental_1pct", "reference"),
        med("incremental_1pct", "runreg"),
        2,
    )
    for op, name, need in [
        ("tag_sort_limit5", "tag + summary sort + limit 5", 5),
        ("fixed_tag_sort_limit5", "same, on a tag of 25 runs (size-independent)", 5),
        ("sort_all_limit10", "sort all by summary, limit 10", 5),
        ("status_completed_all", "status=completed, every row", 10),
        ("hparams_eq", "hparams equality (2 keys)", 10),
        ("get_by_id", "get by id (per call)", 10),
    ]:
        # The reference answers on a connection it holds open; runreg's
        # like for like is a snapshot held open (`Registry::read`). Each
        # one-shot call (the cache opened and closed around it) is listed
        # after, without a target.
        snapshot = q(rr_q, op + "_snapshot")
        if snapshot is not None:
            speedup_row(name + " [in-process, cache held open]", q(ref_q, op), snapshot, need)
        # Lookups by id keep their records while the cache is unchanged, as
        # SQLite keeps its pages: the same lookups by a fresh registry.
        cold = q(rr_q, op + "_snapshot_cold")
        if cold is not None:
            speedup_row(name + " [in-process, cache held open, nothing kept yet]", q(ref_q, op), cold, need)
    for op, name in [
        ("tag_sort_limit5", "tag + summary sort + limit 5"),
        ("sort_all_limit10", "sort all by summary, limit 10"),
        ("status_completed_all", "status=completed, every row"),
        ("hparams_eq", "hparams equality (2 keys)"),
        ("get_by_id", "get by id (per call)"),
    ]:
        one_shot, ref = q(rr_q, op), q(ref_q, op)
        ratio = ref / one_shot if ref and one_shot else None
        rows.append({"op": name + " [one call, cache opened and closed]", "reference": ref,
                     "runreg": one_shot, "ratio": ratio, "target": "(no target: see above)"})
    relative_row(
        "one-off query as a process, lazy scan included (`ls -n 5`)",
        med("ls_n5_process", "reference"),
        med("ls_n5_process", "runreg"),
        2,
    )

    m = machine(args.root)
    if args.commit:
        m["commit"] = args.commit
    out: list[str] = []
    out.append(f"### {args.runs:,} runs: reference (stable-pretraining 0.1.8) vs runreg\n")
    out.append(
        f"- Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram']} RAM, Linux {m['kernel']}; "
        f"load average at the end {m['load']} (shared machine: expect noise)"
    )
    out.append(f"- Date: {m['date']}; commit {m['commit']}")
    out.append(
        f"- Tree: {tree['runs']:,} runs (seed {tree['seed']}, no NaN), {tree['files']:,} files, "
        f"sidecars {tree['mean_sidecar_bytes']:,} bytes on average; warm page cache"
    )
    out.append(f"- Median of {args.reps} repetitions (after one warm-up) for scans and processes; "
               "in-process queries: median of >= 5 repetitions and >= 1 s, the better of 2 rounds")
    out.append("- Ratio = reference / runreg (above 1: runreg is faster). Targets are issue #6's, stated for 100,000 runs.\n")
    out.append("| operation | reference | runreg | ratio | target (#6) |")
    out.append("|---|---|---|---|---|")
    for r in rows:
        ratio = f"{r['ratio']:.1f}x" if r["ratio"] else "-"
        out.append(f"| {r['op']} | {fmt_s(r['reference'])} | {fmt_s(r['runreg'])} | {ratio} | {r['target']} |")
    floor = med("walk_floor_find", "floor")
    out.append(f"| walk floor: `find runs -name sidecar.json -newer FILE` | - | {fmt_s(floor)} | - | (what a walk costs) |")

    rss_ref, rss_rr = values.get(("peak_rss_kb", "reference")), values.get(("peak_rss_kb", "runreg"))
    rss_ref_b = rss_ref * 1024 if rss_ref else None
    rss_rr_b = rss_rr * 1024 if rss_rr else None
    rss_ok = "-" if rss_rr_b is None else ("met" if rss_rr_b <= 256 * 2**20 else "MISSED")
    out.append(f"| peak RSS of a full scan | {fmt_bytes(rss_ref_b)} | {fmt_bytes(rss_rr_b)} | - | <= 256 MiB: {rss_ok} |")
    side_b = values.get(("bytes", "sidecars"))
    rr_b, ref_b = values.get(("bytes", "runreg")), values.get(("bytes", "reference"))
    size_rel = rr_b / side_b if rr_b and side_b else None
    size_ok = "-" if size_rel is None else f"{size_rel:.2f}x the sidecars: {'met' if size_rel <= 2 else 'MISSED'}"
    out.append(
        f"| cache file (sidecars: {fmt_bytes(side_b)}) | {fmt_bytes(ref_b)} | {fmt_bytes(rr_b)} | - | <= 2x: {size_ok} |"
    )

    def rel(b):
        return f"{b / side_b:.2f}x" if b and side_b else "-"

    disk = values.get(("bytes_on_disk", "runreg"))
    after = values.get(("bytes_after_rescan", "runreg"))
    after_disk = values.get(("bytes_on_disk_after_rescan", "runreg"))
    if disk or after:
        out.append(
            f"| runreg's cache on disk (allocated blocks) after the full scan; "
            f"after one more incremental scan: apparent size, on disk | - | "
            f"{fmt_bytes(disk)} ({rel(disk)}); {fmt_bytes(after)} ({rel(after)}), "
            f"{fmt_bytes(after_disk)} ({rel(after_disk)}) | - | (redb doubles a full file, sparsely) |"
        )

    out.append("\nrunreg details (same tree, same run):\n")
    out.append("| runreg operation | median | rows |")
    out.append("|---|---|---|")
    for op, name in [
        ("scan_full_fresh", "full scan into a fresh cache, in-process"),
        ("scan_incremental_unchanged", "incremental scan, nothing changed, in-process"),
        ("tag_sort_limit5", "`Query::tag` + sort + limit 5"),
        ("where_tag_sort_limit5", "same as `--where \"tags has '...'\"`"),
        ("status_completed_all", "`Query::status(Completed)`"),
        ("where_status_completed_all", "same as `--where \"status = 'completed'\"`"),
        ("hparams_eq", "`Query::hparam` x2"),
        ("where_hparams_eq", "same as `--where \"hparams.optim.lr = 0.01 and hparams.data.batch_size = 256\"`"),
        ("where_acc_and_lr_in", "`--where \"summary.val_acc > 0.5 and hparams.optim.lr in (0.1, 0.01)\"`"),
    ]:
        if op in rr_q:
            out.append(f"| {name} | {fmt_s(rr_q[op]['median_s'])} | {rr_q[op]['rows']} |")
    for op, name in [
        ("cli_tag_sort_limit5", "CLI process: `ls --no-scan --tag T --sort summary.val_acc -n 5`"),
        ("cli_sort_all_limit10", "CLI process: `ls --no-scan --sort summary.val_acc -n 10`"),
        ("cli_status_completed_json", "CLI process: `ls --no-scan --status completed --json`"),
        ("cli_hparams_eq", "CLI process: `ls --no-scan --hparam optim.lr=0.01 --hparam data.batch_size=256`"),
        ("cli_show", "CLI process: `show --no-scan ID`"),
    ]:
        v = med(op, "runreg")
        if v is not None:
            out.append(f"| {name} | {fmt_s(v)} | |")
    rows_note = ", ".join(
        f"{op} {ref_q[op]['rows']}/{rr_q[op]['rows']}"
        for op in ("tag_sort_limit5", "fixed_tag_sort_limit5", "sort_all_limit10", "status_completed_all", "hparams_eq")
        if op in ref_q and op in rr_q
    )
    out.append(f"\nRows returned (reference/runreg): {rows_note}.")
    print("\n".join(out))

    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": m,
                    "runs": args.runs,
                    "reps": args.reps,
                    "tree": tree,
                    "samples": {f"{op}/{side}": xs for (op, side), xs in samples.items()},
                    "values": {f"{op}/{side}": v for (op, side), v in values.items()},
                    "reference_queries": ref_q,
                    "runreg_queries": rr_q,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    sys.exit(main())
