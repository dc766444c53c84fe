"""Fixtures of the runreg package's tests: copies of the repository's
example tree, and the reference registry (stable-pretraining 0.1.8) as an
oracle when ``scripts/oracle/setup.sh`` has put it on PYTHONPATH."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
EXAMPLE_RUNS = REPO / "examples" / "cache" / "runs"
REF_PY = REPO / "scripts" / "oracle" / "ref.py"


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    """A fresh copy of examples/cache (36 runs), canonical."""
    shutil.copytree(EXAMPLE_RUNS, tmp_path / "runs")
    return tmp_path.resolve()


def oracle():
    """The reference's ``query`` module and ``ref.py`` (its tree writer), or a
    skip; with ``CI`` set, a missing oracle fails instead."""
    try:
        from spt_registry import query as spt_query
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("the reference oracle is not on PYTHONPATH (scripts/oracle/setup.sh)")
        pytest.skip("reference oracle not installed (scripts/oracle/setup.sh)")
    spec = importlib.util.spec_from_file_location("ref", REF_PY)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    return spt_query, ref
