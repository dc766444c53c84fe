"""Differential test: ``runreg.open_registry(...).query(**kw)`` against the
reference's own ``open_registry(...).query(**kw)`` (stable-pretraining
0.1.8), on random trees the reference's writer makes.

Both answer the same keyword arguments. The reference's answer is taken as
the truth except where one of its documented defects (docs/FORMAT.md §6)
makes it wrong; then it is corrected before the comparison, each correction
naming its defect, and a witness query checks that the defect is really
there, so that a correction never hides a misreading:

- defect 1: one ``NaN`` in the tree makes every ``summary.*`` sort fail
  (``malformed JSON``); runreg sorts, ``NaN`` last.
- defect 2: ascending sorts put runs lacking the key first; runreg last.
- defect 3: ``limit`` is applied before the ``hparams`` filter; runreg after.
- defect 4: tags match with ``LIKE`` (``vit_b`` finds ``vit-b``); runreg
  exactly.
- defect 8: a dotted key (``hparams.optim.lr``) sorts nothing; runreg sorts.

Two differences that are not defects are named too:

- without ``sort_by`` the reference returns SQLite's row order (its walk
  order), runreg newest first: the runs are compared in runreg's order;
- ties of a sort key come in SQLite's order there, by run_id here.

Records are compared field by field (``NaN`` equal to ``NaN``), and
``to_dataframe()`` frames with ``pandas.testing.assert_frame_equal``: the
reference's own frame code run on the corrected answer, against runreg's.
Its ``hparams.*``/``summary.*`` columns come in first-appearance order,
runreg's in key order (``check_like``).
"""

from __future__ import annotations

import math
import os
import random
import time
from pathlib import Path

import pytest

import runreg
from conftest import oracle

#: The test fails when fewer queries than this were compared.
MIN_QUERIES = 200
#: Random queries per tree, on top of the dedicated ones.
RANDOM_QUERIES = 110
STATUSES = ["running", "completed", "failed", "interrupted", "orphaned"]
COLUMN_SORTS = ["created_at", "updated_at", "run_id", "status"]
LIMITS = [1, 3, 5, 10, 25, 100]
FIELDS = [
    "run_id", "status", "created_at", "updated_at", "alive", "run_dir",
    "checkpoint_path", "config", "hparams", "summary", "tags", "notes",
]
#: (seed, runs, NaN losses). A diverged run's loss is NaN in the second tree.
TREES = [(20261207, 800, False), (7, 300, True)]


def test_queries_agree_with_the_reference(tmp_path):
    spt_query, ref = oracle()
    pd = pytest.importorskip("pandas")
    trees = list(TREES)
    if os.environ.get("RUNREG_DIFF_SEED"):
        trees.append((int(os.environ["RUNREG_DIFF_SEED"]), 800, False))
    compared = frames = 0
    for seed, runs, nan in trees:
        cache_dir = (tmp_path / f"tree-{seed}").resolve()
        cache_dir.mkdir()
        ref.write_tree(cache_dir, runs, seed, nan)
        theirs = spt_query.open_registry(cache_dir=cache_dir, db_path=cache_dir / "registry.db")
        ours = runreg.open_registry(cache_dir / "registry.db", cache_dir=cache_dir)
        universe = Universe(theirs.query())
        assert len(universe.records) == runs == len(ours)
        rng = random.Random(seed)
        queries = universe.dedicated_queries()
        queries += [universe.random_query(rng) for _ in range(RANDOM_QUERIES)]
        for i, kw in enumerate(queries):
            expected = corrected_answer(theirs, kw, nan)
            got = ours.query(**kw)
            compare(kw, expected, got)
            compared += 1
            if i % 4 == 0 or kw.get("limit") is None:
                compare_frames(pd, theirs, ours, kw, expected)
                frames += 1
        check_witnesses(theirs, universe, nan)
        theirs.close()
    print(f"differential: {compared} queries and {frames} frames compared")
    assert compared >= MIN_QUERIES


# ---------------------------------------------------------------- the truth


def corrected_answer(theirs, kw: dict, nan: bool) -> list:
    """The reference's answer to ``kw``, with its defects undone."""
    request = dict(kw)
    # No limit: it applies before the hparams filter (defect 3), after runs
    # lacking the key took the first slots (defect 2), and cuts ties in
    # SQLite's order; it is applied below to the corrected order.
    limit = request.pop("limit", None)
    tag = request.get("tag")
    if tag is not None and not (tag.isascii() and '"' not in tag and "\\" not in tag):
        # Defect 4: json.dumps escapes non-ASCII, so LIKE never finds such a
        # tag: ask for all runs and filter exactly here.
        del request["tag"]
    if not reference_sorts(kw, nan):
        request.pop("sort_by", None)
        request.pop("descending", None)
    rows = [r for r in theirs.query(**request) if tag is None or tag in r.tags]  # defect 4
    reference_order = list(rows)
    canonical_sort(rows, kw.get("sort_by"), kw.get("descending", True))
    if reference_sorts(kw, nan):
        check_reference_order(reference_order, rows, kw)
    return rows if limit is None else rows[:limit]


def reference_sorts(kw: dict, nan: bool) -> bool:
    """Whether the reference's order can be compared with ours."""
    key = kw.get("sort_by")
    if key is None:
        return False
    section, _, rest = key.partition(".")
    if section == "hparams":
        return "." not in rest  # defect 8: a dotted key sorts nothing
    if section == "summary":
        return not nan  # defect 1: one NaN breaks every summary sort
    return True


def sort_value(record, key: str):
    """``(rank, value)`` of a present value; ``None`` for a missing key,
    ``None`` or ``NaN`` (last in both directions)."""
    section, _, rest = key.partition(".")
    if section in ("summary", "hparams", "config") and rest:
        value = getattr(record, section).get(rest)
    else:
        value = getattr(record, key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return None


def canonical_sort(rows: list, key, descending: bool) -> None:
    """runreg's documented order: by the key, missing and NaN last in either
    direction, ties by run_id; without a key, newest first."""
    if key is None:
        rows.sort(key=lambda r: (-r.created_at, r.run_id))
        return
    rows.sort(key=lambda r: r.run_id)
    present = [r for r in rows if sort_value(r, key) is not None]
    missing = [r for r in rows if sort_value(r, key) is None]
    present.sort(key=lambda r: sort_value(r, key), reverse=descending)
    # Python's sort is stable, but reverse=True keeps ties in order too.
    rows[:] = present + missing


def check_reference_order(reference: list, canonical: list, kw: dict) -> None:
    """The reference sorted the same values in the same order (ties aside)."""
    key = kw["sort_by"]
    theirs = [sort_value(r, key) for r in reference]
    if not kw.get("descending", True):
        # Defect 2: SQLite puts NULL first in ascending order.
        lead = next((i for i, v in enumerate(theirs) if v is not None), len(theirs))
        theirs = theirs[lead:] + theirs[:lead]
    assert theirs == [sort_value(r, key) for r in canonical], (
        f"the reference's order for {kw} is not the canonical one: the test misreads it"
    )


# ---------------------------------------------------------------- comparing


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def compare(kw: dict, expected: list, got: list) -> None:
    want_ids, got_ids = [r.run_id for r in expected], [r.run_id for r in got]
    assert got_ids == want_ids, f"query({kw}): runs differ"
    for theirs, ours in zip(expected, got):
        for field in FIELDS:
            assert same(getattr(theirs, field), getattr(ours, field)), (
                f"query({kw}): run {ours.run_id} field {field}: "
                f"runreg {getattr(ours, field)!r}, reference {getattr(theirs, field)!r}"
            )


def compare_frames(pd, theirs, ours, kw: dict, expected: list) -> None:
    """The reference's own ``to_dataframe`` code on the corrected answer
    against runreg's ``to_dataframe``."""
    theirs.query = lambda **_: expected  # the instance's, for to_dataframe
    try:
        want = type(theirs).to_dataframe(theirs, **kw)
    finally:
        del theirs.query
    got = ours.to_dataframe(**kw)
    # Column order: the reference's hparams/summary columns by first
    # appearance, runreg's by key.
    pd.testing.assert_frame_equal(got, want, check_like=True, obj=f"to_dataframe({kw})")


# ---------------------------------------------------------------- queries


class Universe:
    """What the tree holds, read back from the reference: where random
    queries draw tags, hparam values and sort keys from."""

    def __init__(self, records: list):
        self.records = sorted(records, key=lambda r: r.run_id)
        self.tags = sorted({t for r in self.records for t in r.tags})
        self.metrics = sorted({k for r in self.records for k in r.summary})
        hparams = sorted({k for r in self.records for k in r.hparams})
        self.plain_hparams = [k for k in hparams if "." not in k]
        self.dotted_hparams = [k for k in hparams if "." in k]

    def random_query(self, rng: random.Random) -> dict:
        kw: dict = {}
        if rng.random() < 0.45:
            kw["tag"] = rng.choice(self.tags)
        if rng.random() < 0.3:
            kw["status"] = rng.choice(STATUSES)
        if rng.random() < 0.25:
            kw["alive"] = rng.random() < 0.5
        if rng.random() < 0.35:
            kw["hparams"] = self.existing_hparams(rng, 1 + rng.randrange(2))
        if rng.random() < 0.75:
            kw["sort_by"] = self.random_sort_key(rng)
            kw["descending"] = rng.random() < 0.5
        if rng.random() < 0.45:
            kw["limit"] = rng.choice(LIMITS)
        return kw

    def random_sort_key(self, rng: random.Random) -> str:
        pick = rng.randrange(10)
        if pick <= 2:
            return rng.choice(COLUMN_SORTS)
        if pick <= 6:
            return "summary." + rng.choice(self.metrics)
        if pick <= 8:
            return "hparams." + rng.choice(self.plain_hparams)
        return "hparams." + rng.choice(self.dotted_hparams)

    def existing_hparams(self, rng: random.Random, count: int) -> dict:
        """Pairs of one run's hparams, so that at least that run matches.
        ``None`` values are left out: the reference's ``None == None`` also
        matches runs lacking the key."""
        run = rng.choice(self.records)
        pairs = [(k, v) for k, v in run.hparams.items() if v is not None]
        return dict(rng.sample(pairs, min(count, len(pairs))))

    def rare_hparams(self) -> dict:
        run = self.records[0].hparams
        return {k: run[k] for k in ("optim.lr", "batch_size")}

    def dedicated_queries(self) -> list:
        """Queries aimed at each corrected defect, on every tree."""
        return [
            {"hparams": self.rare_hparams(), "limit": 5},  # defect 3
            {"status": "completed", "sort_by": "summary.train_loss", "descending": False, "limit": 5},  # 2
            {"sort_by": "hparams.warmup_epochs", "descending": False},
            {"tag": "vit_b"},  # defect 4
            {"tag": "baseline", "sort_by": "run_id", "descending": False},
            {"tag": "aug:50%", "limit": 10},
            {"tag": "λ-sweep"},
            {"sort_by": "hparams.optim.lr", "limit": 10},  # defect 8
            {"sort_by": "hparams.optim.lr", "descending": False},
            {"sort_by": "summary.train_loss", "limit": 25},  # defect 1 on the NaN tree
            {"sort_by": "summary.epoch", "descending": False, "limit": 25},
            {"sort_by": "status"},
            {"alive": True, "sort_by": "hparams.amp", "descending": False},
            {},
        ]


def check_witnesses(theirs, universe: Universe, nan: bool) -> None:
    """The defects corrected above are really there."""
    rare = universe.rare_hparams()
    matching = [r for r in universe.records if all(r.hparams.get(k) == v for k, v in rare.items())]
    got = theirs.query(hparams=rare, limit=5)
    assert len(got) < min(5, len(matching)), "defect 3 gone?"
    got = theirs.query(status="completed", sort_by="summary.train_loss", descending=False, limit=5)
    assert got and all("train_loss" not in r.summary for r in got), "defect 2 gone?"
    got = theirs.query(tag="vit_b")
    assert any("vit_b" not in r.tags for r in got), "defect 4 gone?"
    got = theirs.query(sort_by="hparams.optim.lr", limit=50)
    assert [r.run_id for r in got] != [
        r.run_id for r in sorted(got, key=lambda r: -r.hparams["optim.lr"])
    ], "defect 8 gone?"
    if nan:
        with pytest.raises(Exception, match="malformed JSON"):
            theirs.query(sort_by="summary.val_acc")
