#!/usr/bin/env python3
"""Drive the reference registry (stable-pretraining 0.1.8) as a test oracle.

Needs the package ``scripts/oracle/setup.sh`` builds in ``target/oracle/pkg``
(found there, or on PYTHONPATH)::

    scripts/oracle/setup.sh
    python3 scripts/oracle/ref.py write-tree /tmp/cache --runs 1000 --seed 1
    python3 scripts/oracle/ref.py query /tmp/cache queries.json

Subcommands:

``write-tree CACHE_DIR --runs N --seed S [--nan]``
    Writes N runs with the reference's own ``make_sidecar``,
    ``write_sidecar`` and ``touch_heartbeat`` under
    ``CACHE_DIR/runs/<YYYYMMDD>/<HHMMSS>/<run_id>/``, the other files of a
    run in every 20th, leftover ``.sidecar.json.*.tmp`` files, one run whose
    directory is not named after its run_id, and three invalid sidecars the
    scanners must skip. Everything but ``updated_at`` (stamped by
    ``write_sidecar``) and heartbeat mtimes is a function of the seed.

``query CACHE_DIR QUERIES_JSON_FILE``
    Opens the reference registry once (which scans) and runs each query
    object of the file (keys: tag, status, alive, hparams, sort_by,
    descending, limit) through ``Registry.query``. Prints one JSON list with,
    per query, either a list of records or ``{"error": "<Type>: <message>"}``
    when the reference raised (it does: see docs/FORMAT.md §6, defect 1).

``read-sidecar PATH``
    Prints the reference's ``read_sidecar(PATH)``, or ``null``.

Output is strict JSON: non-finite floats become the strings ``"NaN"``,
``"Infinity"`` and ``"-Infinity"``, as in ``runreg ls --json``.

The subcommands below prove interop with runreg's run writer. They print
Python's own JSON dialect instead (``json.dump`` with its defaults: bare
``NaN``/``Infinity`` tokens, ``\\uXXXX`` escapes), which runreg parses:
nothing is converted on the way.

``write-runs CACHE_DIR SPEC_JSON_FILE``
    Writes the runs the spec file lists (a JSON list in Python's dialect of
    objects with ``dir`` (relative to ``CACHE_DIR/runs``), ``run_id`` and
    any of ``make_sidecar``'s keyword arguments, plus ``config`` and
    ``heartbeat`` (default true)) with ``make_sidecar``, ``write_sidecar``
    and ``touch_heartbeat``. Prints the run directories.

``scan-json CACHE_DIR``
    Runs the reference scanner (a full scan) and prints
    ``{"report": ..., "runs": [...], "sidecars": {path: read_sidecar(path)},
    "summaries": {path: summary.json}}``: every record with every field
    (``config`` included), and every file as the reference reads it.

``logger-replay SCRIPT_JSON_FILE RUN_DIR``
    Drives the reference's ``RegistryLogger`` (Lightning replaced by inert
    stand-ins, so that only the registry's own code runs) through a script:
    ``{"run_id", "tags", "notes", "hparams" (nested), "steps": [[step,
    {metric: value}], ...], "save_every", "checkpoint", "finalize"}``.
    Writes ``RUN_DIR/sidecar.json``, ``summary.json`` and ``heartbeat``.

``csv-header RUN_DIR``
    Prints the column names the reference's appending CSV writer (the one
    a requeued job uses) takes from ``RUN_DIR/metrics.csv``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# The package setup.sh builds, when PYTHONPATH does not already hold it.
sys.path.append(str(Path(__file__).resolve().parents[2] / "target" / "oracle" / "pkg"))
try:
    from spt_registry import _sidecar, query as _query
except ImportError as e:  # pragma: no cover - setup error
    sys.exit(f"ref.py: {e}; run scripts/oracle/setup.sh first")

RECORD_FIELDS = (
    "run_id",
    "status",
    "alive",
    "created_at",
    "updated_at",
    "run_dir",
    "checkpoint_path",
    "hparams",
    "summary",
    "tags",
    "notes",
)

# ---------------------------------------------------------------- the tree

# 2026-11-01T00:00:00Z; created_at values fall in the 30 days after it.
EPOCH_START = datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp()
SPAN_S = 30 * 24 * 3600

STATUSES = ["running", "completed", "failed", "interrupted"]
STATUS_WEIGHTS = [20, 50, 20, 10]

SWEEPS = [f"sweep:{4711000 + 37 * i}" for i in range(10)]

# Tags chosen to trip the reference's `tags LIKE '%"<tag>"%'` (defect 4):
# `vit_b` also matches `vit-b` (`_` is a wildcard), `baseline` also matches
# `Baseline` (LIKE ignores ASCII case), `aug:50%` matches `aug:50` followed
# by any later tag, and `λ-sweep` never matches (json.dumps writes `\u03bb`).
MODEL_TAGS = ["resnet18", "resnet50", "vit_b", "vit-b", "vit_s"]
EXTRA_TAGS = ["baseline", "Baseline", "ablation", "aug:50", "aug:50%", "λ-sweep"]

# Each metric is present in ~85% of runs; values are distinct per metric
# except `epoch`, which is integer-valued like Lightning's and so has ties.
METRICS = ["val_acc", "train_loss", "val_loss", "lr", "epoch", "top5"]
METRIC_PRESENT_P = 0.85

NOTES = [
    "",
    "",
    "",
    "baseline rerun",
    'lr warmup "linear" then cosine',
    "diverged after epoch 3? check grad-norm",
    "réglage fin — fine-tune ✓",
]


def _nested_config(rng: random.Random, model: str) -> dict[str, Any]:
    """A nested config like a Hydra one; flattened like stable-pretraining.

    Every key keeps one JSON type across runs: Python's ``True == 1`` and
    ``1 == 1.0`` would otherwise make hparams equality differ from runreg's.
    """
    cfg: dict[str, Any] = {
        "optim": {
            "name": rng.choice(["sgd", "adamw", "lars"]),
            "lr": rng.choice([0.1, 0.01, 0.001, 0.0003]),
            "wd": rng.choice([0.0, 0.0001, 0.0005, 0.05]),
        },
        "model": {"name": model, "depth": rng.choice([18, 34, 50])},
        "data": {"name": rng.choice(["cifar10", "imagenet100"]), "augment": rng.random() < 0.5},
        "batch_size": rng.choice([128, 256, 512]),
        "seed": rng.randrange(5),
        "amp": rng.random() < 0.5,
    }
    if model.startswith("vit"):
        cfg["dropout"] = rng.choice([0.0, 0.1, 0.2])
        cfg["patch_size"] = rng.choice([8, 16])
    else:
        cfg["layers"] = [rng.choice([64, 128]), rng.choice([128, 256]), 512]
    if rng.random() < 0.7:
        cfg["warmup_epochs"] = rng.choice([0, 5, 10])
    if rng.random() < 0.2:
        cfg["resume_from"] = None
    return cfg


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Flattens nested dicts and lists with dots, as stable-pretraining's
    RegistryLogger does (``optim.lr``, ``layers.0``)."""
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        return {prefix: obj}
    for k, v in items:
        out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


class _Distinct:
    """Draws floats never drawn before for the same metric."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seen: dict[str, set[float]] = {}

    def draw(self, metric: str, lo: float, hi: float) -> float:
        seen = self.seen.setdefault(metric, set())
        while True:
            v = round(self.rng.uniform(lo, hi), 9)
            if v not in seen:
                seen.add(v)
                return v


def _summary(rng: random.Random, distinct: _Distinct, status: str, nan: bool) -> dict[str, float]:
    ranges = {
        "val_acc": (0.1, 0.95),
        "train_loss": (0.05, 2.5),
        "val_loss": (0.1, 3.0),
        "lr": (1e-5, 0.1),
        "top5": (0.3, 0.99),
    }
    summary: dict[str, float] = {}
    for metric in METRICS:
        if rng.random() >= METRIC_PRESENT_P:
            continue
        if metric == "epoch":
            summary[metric] = float(rng.randrange(100))
        else:
            summary[metric] = distinct.draw(metric, *ranges[metric])
    if nan and status == "failed":
        summary["train_loss"] = float("nan")
    return summary


def _tags(rng: random.Random, model: str) -> list[str]:
    if rng.random() < 0.08:
        return []
    tags = [model]
    if rng.random() < 0.85:
        tags.append(rng.choice(SWEEPS))
    if rng.random() < 0.35:
        extra = rng.choice(EXTRA_TAGS)
        if extra not in tags:
            tags.append(extra)
    rng.shuffle(tags)
    return tags


def _unique_slot(rng: random.Random, used: set[tuple[str, str]]) -> tuple[float, str, str]:
    """A created_at whose <YYYYMMDD>/<HHMMSS> folder no other run uses."""
    while True:
        created_at = round(EPOCH_START + rng.uniform(0, SPAN_S), 6)
        dt = datetime.fromtimestamp(created_at, tz=timezone.utc)
        slot = (dt.strftime("%Y%m%d"), dt.strftime("%H%M%S"))
        if slot not in used:
            used.add(slot)
            return (created_at, *slot)


def _write_artifacts(
    run_dir: Path, run_id: str, hparams: dict[str, Any], summary: dict[str, float]
) -> None:
    """The other files of a run directory (docs/FORMAT.md §1)."""
    ckpt = run_dir / "checkpoints"
    ckpt.mkdir(exist_ok=True)
    (ckpt / "last.ckpt").write_bytes(b"\x80\x04ckpt")
    rows = ["epoch,step,train_loss,val_acc"] + [
        f"{e},{100 * (e + 1)},{1.0 / (e + 1):.4f},{0.1 * e:.4f}" for e in range(3)
    ]
    (run_dir / "metrics.csv").write_text("\n".join(rows) + "\n")
    (run_dir / "hparams.yaml").write_text(
        "".join(f"{k}: {json.dumps(v)}\n" for k, v in hparams.items())
    )
    stats = {k: {"last": v, "min": v, "max": v, "count": 1} for k, v in summary.items()}
    _sidecar.atomic_json_write(
        run_dir / "summary.json",
        {
            "schema_version": 1,
            "run_id": run_id,
            "run_dir": str(run_dir),
            "updated_at": time.time(),
            "step": 300,
            "epoch": 2,
            "metrics": stats,
        },
    )
    (run_dir / "run_meta.json").write_text(json.dumps({"run_dir": str(run_dir), "run_id": run_id}))


def _write_heartbeat(rng: random.Random, run_dir: Path, status: str, now: float) -> None:
    """Heartbeats: most live-status runs have one, half of those stale; a few
    terminal runs keep a warm one (a terminal status must still win)."""
    if status in ("running", "interrupted"):
        if rng.random() < 0.2:
            return
        _sidecar.touch_heartbeat(run_dir)
        if rng.random() < 0.5:
            stale = now - 3600
            os.utime(run_dir / _sidecar.HEARTBEAT_NAME, (stale, stale))
    elif rng.random() < 0.15:
        _sidecar.touch_heartbeat(run_dir)


def _write_invalid_sidecars(runs: Path) -> int:
    """Sidecars both scanners must count as invalid and skip."""
    bad = {
        "not-json": "{ this is not json",
        "no-run-id": json.dumps({"schema_version": 1, "status": "completed"}),
        "a-list": json.dumps([{"run_id": "x"}]),
    }
    for name, text in bad.items():
        d = runs / "20261001" / "000000" / name
        d.mkdir(parents=True, exist_ok=True)
        (d / _sidecar.SIDECAR_NAME).write_text(text)
    return len(bad)


def write_tree(cache_dir: Path, n_runs: int, seed: int, nan: bool) -> None:
    rng = random.Random(seed)
    distinct = _Distinct(rng)
    runs = cache_dir / "runs"
    now = time.time()
    used_slots: set[tuple[str, str]] = set()
    used_ids: set[str] = set()
    for i in range(n_runs):
        run_id = f"{rng.getrandbits(48):012x}"
        while run_id in used_ids:
            run_id = f"{rng.getrandbits(48):012x}"
        used_ids.add(run_id)
        created_at, day, hms = _unique_slot(rng, used_slots)
        # One run whose directory name differs from its sidecar's run_id:
        # the sidecar's id wins (docs/FORMAT.md §4; §6, defect 6).
        dir_name = f"{run_id}-moved" if i == 1 else run_id
        run_dir = runs / day / hms / dir_name
        run_dir.mkdir(parents=True)

        status = rng.choices(STATUSES, STATUS_WEIGHTS)[0]
        model = rng.choice(MODEL_TAGS)
        hparams = _flatten(_nested_config(rng, model))
        summary = _summary(rng, distinct, status, nan)
        terminal = status != "running"
        ended_at = round(created_at + rng.uniform(60, 86400), 6) if terminal else None
        has_ckpt = status == "completed" or rng.random() < 0.3
        sidecar = _sidecar.make_sidecar(
            run_id=run_id,
            run_dir=str(run_dir),
            status=status,
            created_at=created_at,
            ended_at=ended_at,
            hparams=hparams,
            summary=summary,
            tags=_tags(rng, model),
            notes=rng.choice(NOTES),
            checkpoint_path=str(run_dir / "checkpoints" / "last.ckpt") if has_ckpt else None,
        )
        _sidecar.write_sidecar(run_dir, sidecar)
        if i % 20 == 0:
            _write_artifacts(run_dir, run_id, hparams, summary)
        if i % 97 == 0:
            # Leftover of a crashed atomic write: readers ignore it.
            (run_dir / ".sidecar.json.k3j4h5.tmp").write_text('{"run_id": "half')
        _write_heartbeat(rng, run_dir, status, now)
    invalid = _write_invalid_sidecars(runs)
    print(f"wrote {n_runs} runs and {invalid} invalid sidecars under {runs}", file=sys.stderr)


# ---------------------------------------------------------------- output


def _strict(obj: Any) -> Any:
    """Maps non-finite floats to the strings runreg prints for them."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "NaN" if math.isnan(obj) else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, dict):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v) for v in obj]
    return obj


def _dump(obj: Any) -> None:
    json.dump(_strict(obj), sys.stdout, allow_nan=False, ensure_ascii=False)
    sys.stdout.write("\n")


def _record(rec: Any) -> dict[str, Any]:
    return {f: getattr(rec, f) for f in RECORD_FIELDS}


QUERY_KEYS = {"tag", "status", "alive", "hparams", "sort_by", "descending", "limit"}


def run_queries(cache_dir: Path, queries_file: Path) -> None:
    queries = json.loads(queries_file.read_text())
    reg = _query.open_registry(cache_dir=cache_dir, db_path=cache_dir / "registry.db")
    results: list[Any] = []
    try:
        for q in queries:
            unknown = set(q) - QUERY_KEYS
            if unknown:
                sys.exit(f"ref.py: unknown query keys {sorted(unknown)}")
            try:
                results.append([_record(r) for r in reg.query(**q)])
            except Exception as e:  # the reference's failures are data here
                results.append({"error": f"{type(e).__name__}: {e}"})
    finally:
        reg.close()
    _dump(results)


# ---------------------------------------------------------------- interop

UNPACKED_REGISTRY = (
    Path(__file__).resolve().parents[2] / "target" / "oracle" / "unpacked" / "stable_pretraining" / "registry"
)


def _dump_python(obj: Any) -> None:
    """Prints ``obj`` as Python's ``json.dump`` writes it (NaN tokens kept)."""
    json.dump(obj, sys.stdout)
    sys.stdout.write("\n")


def write_runs(cache_dir: Path, spec_file: Path) -> None:
    written = []
    for run in json.loads(spec_file.read_text()):
        run = dict(run)
        run_dir = cache_dir / "runs" / run.pop("dir")
        run_dir.mkdir(parents=True, exist_ok=True)
        config = run.pop("config", None)
        heartbeat = run.pop("heartbeat", True)
        data = _sidecar.make_sidecar(run_dir=str(run_dir), **run)
        if config is not None:
            data["config"] = config
        _sidecar.write_sidecar(run_dir, data)
        if heartbeat:
            _sidecar.touch_heartbeat(run_dir)
        written.append(str(run_dir))
    _dump_python(written)


def scan_json(cache_dir: Path) -> None:
    from spt_registry import _scanner, _store

    db_path = cache_dir / "registry.db"
    with _store.Store(db_path, readonly=False) as store:
        report = _scanner.scan(cache_dir, store, full=True)
    reg = _query.open_registry(cache_dir=cache_dir, db_path=db_path)
    try:
        runs = [dict(_record(r), config=r.config) for r in reg.query()]
    finally:
        reg.close()
    runs_dir = cache_dir / "runs"
    sidecars = {str(p): _sidecar.read_sidecar(p) for p in sorted(runs_dir.rglob(_sidecar.SIDECAR_NAME))}
    summaries = {str(p): json.loads(p.read_text()) for p in sorted(runs_dir.rglob("summary.json"))}
    report_fields = ("total_sidecars", "upserted", "skipped_unchanged", "skipped_invalid", "orphaned")
    _dump_python(
        {
            "report": {f: getattr(report, f) for f in report_fields},
            "runs": runs,
            "sidecars": sidecars,
            "summaries": summaries,
        }
    )


def _import_logger() -> Any:
    """Imports the reference's ``registry/logger.py`` from the unpacked wheel.

    The logger subclasses Lightning's CSV logger, which pulls in torch. Inert
    stand-ins take the place of Lightning and of stable_pretraining's
    ``rank_zero_only``, so that the logger's own code (sidecar, summary,
    hparams flattening, CSV header bootstrap) runs unchanged.
    """
    import importlib
    import types

    class _LocalFS:
        def isfile(self, path: str) -> bool:
            return os.path.isfile(path)

        def open(self, path: str, mode: str = "r", **kw: Any) -> Any:
            return open(path, mode, **kw)

        def makedirs(self, path: str, exist_ok: bool = False) -> None:
            os.makedirs(path, exist_ok=exist_ok)

    class ExperimentWriter:
        NAME_METRICS_FILE = "metrics.csv"

        def __init__(self, log_dir: str) -> None:
            self.metrics: list[dict[str, Any]] = []
            self.metrics_keys: list[str] = []
            self._fs = _LocalFS()
            self.log_dir = log_dir
            self._check_log_dir_exists()
            self.metrics_file_path = os.path.join(log_dir, self.NAME_METRICS_FILE)

        def _check_log_dir_exists(self) -> None:
            pass

    class CSVLogger:
        def __init__(self, save_dir: str, name: str = "", version: Any = "", **kw: Any) -> None:
            self._experiment = None

        def log_hyperparams(self, params: Any, *args: Any, **kw: Any) -> None:
            pass

        def log_metrics(self, metrics: dict[str, Any], step: Any = None) -> None:
            pass

        def save(self) -> None:
            pass

        def finalize(self, status: str) -> None:
            pass

    def module(name: str, **attrs: Any) -> types.ModuleType:
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    module("lightning", __path__=[])
    module("lightning.pytorch", __path__=[])
    module("lightning.pytorch.loggers", __path__=[], CSVLogger=CSVLogger)
    module("lightning.pytorch.loggers.csv_logs", ExperimentWriter=ExperimentWriter)
    module("stable_pretraining", __path__=[])
    module("stable_pretraining.utils", __path__=[])
    module("stable_pretraining.utils.distributed", rank_zero_only=lambda f: f)
    module("stable_pretraining.registry", __path__=[str(UNPACKED_REGISTRY)])
    from loguru import logger

    logger.remove()  # the logger's info lines would go to stderr
    return importlib.import_module("stable_pretraining.registry.logger")


def logger_replay(script_file: Path, run_dir: Path) -> None:
    import types

    script = json.loads(script_file.read_text())
    registry_logger = _import_logger().RegistryLogger(
        run_dir=run_dir, run_id=script["run_id"], tags=script.get("tags"), notes=script.get("notes")
    )
    if "hparams" in script:
        registry_logger.log_hyperparams(script["hparams"])
    save_every = script.get("save_every", 0)
    for i, (step, metrics) in enumerate(script.get("steps", [])):
        registry_logger.log_metrics(metrics, step=step)
        if save_every and (i + 1) % save_every == 0:
            registry_logger.save()
    if script.get("checkpoint"):
        callback = types.SimpleNamespace(best_model_path=script["checkpoint"], last_model_path=None)
        registry_logger.after_save_checkpoint(callback)
    if script.get("finalize"):
        registry_logger.finalize(script["finalize"])
    else:
        registry_logger.save()
    _dump_python(str(registry_logger.run_dir))


def csv_header(run_dir: Path) -> None:
    writer = _import_logger()._AppendingExperimentWriter(log_dir=str(run_dir))
    _dump_python(writer.metrics_keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("write-tree", help="write a randomized run tree")
    p.add_argument("cache_dir", type=Path)
    p.add_argument("--runs", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--nan", action="store_true", help="failed runs get train_loss = NaN")

    p = sub.add_parser("query", help="run queries through the reference registry")
    p.add_argument("cache_dir", type=Path)
    p.add_argument("queries_file", type=Path)

    p = sub.add_parser("read-sidecar", help="print the reference's read_sidecar()")
    p.add_argument("path", type=Path)

    p = sub.add_parser("write-runs", help="write the runs of a spec file")
    p.add_argument("cache_dir", type=Path)
    p.add_argument("spec_file", type=Path)

    p = sub.add_parser("scan-json", help="scan and print every record and file")
    p.add_argument("cache_dir", type=Path)

    p = sub.add_parser("logger-replay", help="drive RegistryLogger through a script")
    p.add_argument("script_file", type=Path)
    p.add_argument("run_dir", type=Path)

    p = sub.add_parser("csv-header", help="print the CSV writer's bootstrapped header")
    p.add_argument("run_dir", type=Path)

    args = parser.parse_args()
    if args.command == "write-tree":
        write_tree(args.cache_dir, args.runs, args.seed, args.nan)
    elif args.command == "query":
        run_queries(args.cache_dir, args.queries_file)
    elif args.command == "write-runs":
        write_runs(args.cache_dir, args.spec_file)
    elif args.command == "scan-json":
        scan_json(args.cache_dir)
    elif args.command == "logger-replay":
        logger_replay(args.script_file, args.run_dir)
    elif args.command == "csv-header":
        csv_header(args.run_dir)
    else:
        _dump(_sidecar.read_sidecar(args.path))


if __name__ == "__main__":
    main()
