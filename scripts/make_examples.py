#!/usr/bin/env python3
"""Write the example run tree in ``examples/cache/``.

36 runs laid out as stable-pretraining writes them, with the reference's own
sidecar functions (``scripts/oracle/setup.sh`` installs them)::

    scripts/oracle/setup.sh
    python3 scripts/make_examples.py          # rewrites examples/cache/runs

- ``sweep:1001``: ResNet-50 on CIFAR-10, a learning-rate x weight-decay grid
  over two seeds (20 runs); three of the four runs at lr 0.8 diverged
  (``train_loss`` NaN, status ``failed``).
- ``sweep:1002``: ViT-S on CIFAR-10 (14 runs); one diverged, one preempted
  (``interrupted``), two still ``running``.
- Two runs outside any sweep.

Deterministic: fixed seed and timestamps (November 2026), so reruns give the
same files. The sidecars' ``run_dir`` is the absolute path where this script
ran: stale on any other machine, as after moving a real cache (docs/FORMAT.md
§6, defect 5); runreg records where it finds each sidecar instead.
Liveness: git keeps no mtimes, so a heartbeat would look fresh for three
minutes after every checkout and make the running runs flicker alive. Only
terminal runs (never alive) get a heartbeat file; the running and
interrupted ones have none, so every run is dead, whenever you look.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT / "target" / "oracle" / "pkg"))
try:
    from spt_registry import _sidecar
except ImportError as e:
    sys.exit(f"make_examples.py: {e}; run scripts/oracle/setup.sh first")

CACHE = ROOT / "examples" / "cache"
SEED = 1001


def ts(day: int, hour: int, minute: int) -> float:
    return datetime(2026, 11, day, hour, minute, tzinfo=timezone.utc).timestamp()


def run_id(rng: random.Random) -> str:
    """12 hex digits, like stable-pretraining's uuid4-based run ids."""
    return f"{rng.getrandbits(48):012x}"


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Nested config keys joined by dots, list items by index, as
    stable-pretraining's RegistryLogger flattens hparams."""
    if isinstance(obj, dict):
        items: Any = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        return {prefix: obj}
    out: dict[str, Any] = {}
    for k, v in items:
        out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def to_yaml(obj: Any, indent: int = 0) -> str:
    """Just enough YAML for hparams.yaml (Lightning's CSV logger artifact)."""
    pad = "  " * indent
    lines = []
    for k, v in obj.items():
        if isinstance(v, dict):
            lines.append(f"{pad}{k}:\n{to_yaml(v, indent + 1)}")
        elif isinstance(v, list):
            lines.append(f"{pad}{k}:\n" + "".join(f"{pad}- {json.dumps(x)}\n" for x in v))
        else:
            lines.append(f"{pad}{k}: {json.dumps(v)}\n")
    return "".join(lines)


def resnet_config(lr: float, wd: float, seed: int) -> dict[str, Any]:
    return {
        "model": {"backbone": "resnet50", "num_classes": 10, "pretrained": False},
        "optim": {"name": "sgd", "lr": lr, "weight_decay": wd, "momentum": 0.9, "nesterov": True},
        "scheduler": {"name": "cosine", "warmup_epochs": 5},
        "data": {
            "dataset": "cifar10",
            "batch_size": 256,
            "num_workers": 8,
            "augment": ["crop", "flip"],
        },
        "trainer": {"max_epochs": 100, "precision": "16-mixed", "devices": 1},
        "seed": seed,
    }


def vit_config(lr: float, wd: float, seed: int, drop_path: float) -> dict[str, Any]:
    return {
        "model": {"backbone": "vit_small_patch16_224", "num_classes": 10, "drop_path": drop_path},
        "optim": {"name": "adamw", "lr": lr, "weight_decay": wd, "betas": [0.9, 0.999]},
        "scheduler": {"name": "cosine", "warmup_epochs": 10},
        "data": {
            "dataset": "cifar10",
            "batch_size": 512,
            "num_workers": 8,
            "augment": ["randaug", "mixup"],
        },
        "trainer": {"max_epochs": 200, "precision": "bf16-mixed", "devices": 4},
        "seed": seed,
    }


class Run:
    """One run: its sidecar fields, and the files a training writes."""

    def __init__(
        self, rng: random.Random, created_at: float, config: dict[str, Any], tags: list[str]
    ):
        self.rng = rng
        self.run_id = run_id(rng)
        self.created_at = created_at
        self.config = config
        self.tags = tags
        self.status = "completed"
        self.notes = ""
        self.max_epochs = config["trainer"]["max_epochs"]
        self.epochs_done = self.max_epochs
        self.diverged = False

    @property
    def run_dir(self) -> Path:
        day = datetime.fromtimestamp(self.created_at, tz=timezone.utc)
        return CACHE / "runs" / day.strftime("%Y%m%d") / day.strftime("%H%M%S") / self.run_id

    def curve(self) -> list[dict[str, float]]:
        """Per-epoch metrics: a saturating accuracy, or a divergence."""
        quality = self.rng.uniform(0.0, 1.0)
        ceiling = 0.90 + 0.06 * quality
        rows = []
        for epoch in range(self.epochs_done):
            progress = 1 - math.exp(-5 * (epoch + 1) / self.max_epochs)
            train_loss = 2.3 * (1 - progress) + 0.05 + self.rng.uniform(0, 0.02)
            val_acc = 0.1 + (ceiling - 0.1) * progress
            if self.diverged and epoch == self.epochs_done - 1:
                train_loss, val_acc = float("nan"), 0.1
            rows.append(
                {
                    "epoch": float(epoch),
                    "train_loss": round(train_loss, 4) if math.isfinite(train_loss) else train_loss,
                    "val_loss": round(2.3 * (1 - progress) + 0.2 + self.rng.uniform(0, 0.05), 4),
                    "val_acc": round(val_acc + self.rng.uniform(-0.01, 0.01), 4),
                }
            )
        return rows

    def write(self) -> None:
        run_dir = self.run_dir
        run_dir.mkdir(parents=True)
        curve = self.curve()
        last = curve[-1]
        seconds_per_epoch = 40 if "resnet" in self.config["model"]["backbone"] else 95
        updated_at = self.created_at + seconds_per_epoch * self.epochs_done
        terminal = self.status != "running"
        ckpt = run_dir / "checkpoints" / "last.ckpt"
        summary = dict(last)
        summary["val_acc_top5"] = (
            round(min(0.999, last["val_acc"] + 0.08), 4) if not self.diverged else 0.5
        )
        sidecar = _sidecar.make_sidecar(
            run_id=self.run_id,
            run_dir=str(run_dir),
            status=self.status,
            created_at=self.created_at,
            ended_at=updated_at if terminal else None,
            hparams=flatten(self.config),
            summary=summary,
            tags=self.tags,
            notes=self.notes,
            checkpoint_path=str(ckpt) if not self.diverged else None,
        )
        # write_sidecar() would stamp updated_at with the clock; the example
        # must not change between runs of this script.
        sidecar["updated_at"] = updated_at
        _sidecar.atomic_json_write(run_dir / _sidecar.SIDECAR_NAME, sidecar)
        _sidecar.atomic_json_write(run_dir / "summary.json", self.summary_json(curve, updated_at))
        if terminal and self.status != "interrupted":
            (run_dir / _sidecar.HEARTBEAT_NAME).touch()
        (run_dir / "run_meta.json").write_text(
            json.dumps({"run_dir": str(run_dir), "run_id": self.run_id})
        )
        (run_dir / "hparams.yaml").write_text(to_yaml(self.config))
        (run_dir / "metrics.csv").write_text(self.metrics_csv(curve))
        if not self.diverged:
            ckpt.parent.mkdir()
            ckpt.write_bytes(b"PK\x03\x04 not a real checkpoint\n")

    def metrics_csv(self, curve: list[dict[str, float]]) -> str:
        """The whole history as Lightning's CSVLogger writes it: sparse rows,
        ``train_loss`` every 49 steps (196 steps an epoch) with the validation
        cells empty, then one validation row at each epoch's end with the
        training cell empty; a diverged run's last loss is ``nan``. Its own
        random stream (seeded by the run id), so that the other files stay as
        they were."""
        rng = random.Random(self.run_id)
        lines = ["epoch,step,train_loss,val_acc,val_loss"]
        previous = 2.3
        for row in curve:
            epoch = int(row["epoch"])
            for k in range(1, 4):
                step = 196 * epoch + 49 * k
                loss = previous + (row["train_loss"] - previous) * k / 4
                if math.isfinite(loss):
                    loss = round(loss * (1 + rng.uniform(-0.05, 0.05)), 4)
                lines.append(f"{epoch},{step},{loss},,")
            loss = row["train_loss"]
            lines.append(f"{epoch},{196 * (epoch + 1) - 1},{loss},,")
            lines.append(f"{epoch},{196 * (epoch + 1) - 1},,{row['val_acc']},{row['val_loss']}")
            previous = loss if math.isfinite(loss) else previous
        return "\n".join(lines) + "\n"

    def summary_json(self, curve: list[dict[str, float]], updated_at: float) -> dict[str, Any]:
        """The RegistryLogger's summary.json: last/min/max/count per metric."""
        metrics = {}
        for key in curve[0]:
            values = [r[key] for r in curve]
            finite = [v for v in values if math.isfinite(v)] or values
            metrics[key] = {
                "last": values[-1],
                "min": min(finite),
                "max": max(finite),
                "count": len(values),
            }
        return {
            "schema_version": 1,
            "run_id": self.run_id,
            "run_dir": str(self.run_dir),
            "updated_at": updated_at,
            "step": 196 * len(curve),
            "epoch": len(curve) - 1,
            "metrics": metrics,
        }


def sweep_1001(rng: random.Random) -> list[Run]:
    runs = []
    start = ts(3, 9, 0)
    grid = [(lr, wd) for lr in (0.05, 0.1, 0.2, 0.4, 0.8) for wd in (1e-4, 5e-4)]
    for i, (lr, wd) in enumerate(grid * 2):
        seed = i // len(grid)
        run = Run(
            rng,
            start + 420 * i + rng.randrange(60),
            resnet_config(lr, wd, seed),
            ["resnet50", "cifar10", "sweep:1001"],
        )
        if lr == 0.8 and (wd == 5e-4 or seed == 1):
            run.status, run.diverged = "failed", True
            run.epochs_done = rng.randrange(3, 9)
            run.notes = "diverged: loss went NaN, lr too high for batch 256"
        runs.append(run)
    runs[0].notes = "baseline: lr 0.05, wd 1e-4"
    return runs


def sweep_1002(rng: random.Random) -> list[Run]:
    runs = []
    start = ts(10, 14, 0)
    grid = [(lr, wd, dp) for lr in (5e-4, 1e-3) for wd in (0.05, 0.1) for dp in (0.0, 0.1, 0.2)]
    for i, (lr, wd, dp) in enumerate(grid + [(2e-3, 0.05, 0.1), (2e-3, 0.1, 0.1)]):
        run = Run(
            rng,
            start + 600 * i + rng.randrange(60),
            vit_config(lr, wd, 0, dp),
            ["vit_s", "cifar10", "sweep:1002"],
        )
        runs.append(run)
    runs[-1].status, runs[-1].diverged, runs[-1].epochs_done = "failed", True, 23
    runs[-1].notes = "NaN at epoch 22: no grad clipping"
    runs[5].status, runs[5].epochs_done = "interrupted", 131
    runs[5].notes = "preempted by SLURM; requeue pending"
    for run in runs[10:12]:
        run.status, run.epochs_done = "running", rng.randrange(40, 150)
    return runs


def adhoc(rng: random.Random) -> list[Run]:
    smoke = Run(rng, ts(2, 17, 31), resnet_config(0.1, 5e-4, 0), ["resnet50", "debug"])
    smoke.max_epochs = smoke.config["trainer"]["max_epochs"] = 2
    smoke.epochs_done = 2
    smoke.notes = "smoke test before sweep 1001"
    probe = Run(
        rng, ts(20, 8, 12), vit_config(1e-3, 0.05, 0, 0.1), ["vit_s", "cifar10", "linear-probe"]
    )
    probe.notes = "linear probe of the best sweep:1002 checkpoint"
    return [smoke, probe]


def main() -> None:
    rng = random.Random(SEED)
    runs = sweep_1001(rng) + sweep_1002(rng) + adhoc(rng)
    shutil.rmtree(CACHE / "runs", ignore_errors=True)
    for run in runs:
        run.write()
    size = sum(f.stat().st_size for f in (CACHE / "runs").rglob("*") if f.is_file())
    print(f"wrote {len(runs)} runs under {CACHE / 'runs'} ({size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
