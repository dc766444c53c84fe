"""stable-pretraining's run registry API, answered by runreg.

Usage::

    import runreg

    reg = runreg.open_registry(cache_dir="examples/cache")  # scans lazily
    runs = reg.query(tag="sweep:12345")
    best = reg.query(tag="sweep:12345", sort_by="summary.val_acc", limit=5)
    df = reg.to_dataframe(tag="resnet50")

The names and arguments are those of ``stable_pretraining.registry``
(``open_registry``, ``Registry.query``, ``get``, ``to_dataframe``,
``len(reg)``, ``reg[run_id]``, ``RunRecord``), so that switching is a change
of import. Where the reference is wrong, runreg's answer is the right one
(``docs/FORMAT.md`` §6 in the runreg repository): a ``NaN`` does not break
sorts, runs lacking a sort key come last in both directions, ``limit``
applies after every filter, tags match exactly, dotted keys
(``hparams.optim.lr``) sort. Beyond the reference: ``where=`` filter
expressions, several ``sort_by`` keys, ``offset=``, several statuses,
``scan()``, ``to_arrow()``, ``to_polars()`` and ``metrics(run_id)``.

runreg keeps its own cache, ``registry.redb``; the reference's SQLite
``registry.db`` is never opened or changed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

from . import _runreg
from ._runreg import RunRecord, RunregError, RunTable

__all__ = [
    "open_registry",
    "Registry",
    "RunRecord",
    "RunTable",
    "RunregError",
    "CACHE_DIR_VARIABLES",
]
__version__ = _runreg.__version__

# A fork waits for the calls holding cache files open (src/fork_gate.rs):
# a child must not inherit the parent's lock on the cache.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_runreg._before_fork,
        after_in_parent=_runreg._after_fork,
        after_in_child=_runreg._after_fork,
    )

#: Environment variables naming the cache directory, in the order tried.
CACHE_DIR_VARIABLES = ("RUNREG_CACHE_DIR", "SPT_CACHE_DIR")


class Registry(_runreg.Registry):
    """Read-only query interface over the registry cache.

    Instantiate via :func:`open_registry`. Every call opens the cache,
    answers and closes it again with the GIL released: a ``Registry`` may be
    shared by threads and keeps working in a forked child (a DataLoader
    worker). ``len(reg)`` counts runs, ``reg[run_id]`` raises ``KeyError``
    for an unknown id, ``with open_registry(...) as reg:`` closes it.
    """

    __slots__ = ()

    def to_dataframe(self, **query_kwargs: Any):
        """Return a DataFrame with flattened ``hparams.*`` / ``summary.*`` cols.

        The reference's frame: columns ``run_id``, ``status``, ``alive``,
        ``created_at``, ``updated_at``, ``run_dir``, ``checkpoint_path``,
        ``tags``, ``notes``, then ``hparams.<k>`` and ``summary.<k>`` (here
        in key order; the reference orders them by first appearance), with
        the dtypes pandas gives the reference's rows; an empty
        ``DataFrame()`` when no run matches. Takes the keywords of
        :meth:`query`. Needs pandas.
        """
        import numpy as np
        import pandas as pd

        columns = self._frame_columns(**query_kwargs)
        if len(columns[0][2]) == 0:
            return pd.DataFrame()
        data = {}
        for name, kind, values in columns:
            data[name] = values if kind == "O" else np.frombuffer(values, dtype=kind)
        return pd.DataFrame(data, copy=False)

    def to_polars(self, **query_kwargs: Any):
        """Return a ``polars.DataFrame`` of :meth:`to_arrow`'s columns.

        Takes the keywords of :meth:`query`. Needs polars.
        """
        import polars as pl

        return pl.DataFrame(self.to_arrow(**query_kwargs))


def open_registry(
    db_path: Optional[Union[str, Path]] = None,
    *,
    cache_dir: Optional[Union[str, Path]] = None,
    scan: bool = True,
    scan_ttl_s: float = 2.0,
) -> Registry:
    """Open the registry for querying.

    Args:
        db_path: Where the cache lives. A path ending in ``.redb`` is
            runreg's cache file itself; any other (the reference's
            ``registry.db``) is never opened or changed: runreg's cache goes
            beside it, ``registry.redb`` for ``registry.db``. Defaults to
            ``{cache_dir}/registry.redb`` (or, when ``cache_dir`` is not
            writable, a place under ``~/.cache/runreg/``).
        cache_dir: Root where runs are stored (``{cache_dir}/runs/...``).
            Defaults to stable-pretraining's ``spt.set(cache_dir=...)`` when
            that package is importable and configured, then the environment
            variables ``RUNREG_CACHE_DIR`` and ``SPT_CACHE_DIR``.
        scan: Run an incremental scan before returning, so the cache
            reflects the current filesystem state. Disable when you know
            the scan was just done.
        scan_ttl_s: If another scan of this cache happened within this many
            seconds in the current process, skip.

    Returns:
        A read-only :class:`Registry`.

    Raises:
        ValueError: No cache directory was given or configured.
        FileNotFoundError: The cache directory does not exist.
        RunregError: The cache cannot be used (busy, not writable, ...).
    """
    resolved = _resolve_cache_dir(cache_dir)
    return Registry(resolved, _runreg_db_path(db_path), scan, scan_ttl_s)


def _resolve_cache_dir(cache_dir: Optional[Union[str, Path]]) -> Path:
    """The argument; else stable-pretraining's configured cache dir; else
    the environment variables."""
    if cache_dir is None:
        cache_dir = _configured_cache_dir()
    if cache_dir is None:
        for name in CACHE_DIR_VARIABLES:
            if os.environ.get(name):
                cache_dir = os.environ[name]
                break
    if cache_dir is None:
        raise ValueError(
            "No cache_dir provided: pass cache_dir=..., configure "
            "stable-pretraining's spt.set(cache_dir=...), or set "
            + " or ".join(CACHE_DIR_VARIABLES)
            + "."
        )
    return Path(cache_dir).expanduser().resolve()


def _configured_cache_dir() -> Optional[str]:
    """stable-pretraining's ``get_config().cache_dir``, when that package is
    importable and has one; importing it must not be required."""
    try:
        from stable_pretraining._config import get_config

        return get_config().cache_dir
    except Exception:
        return None


def _runreg_db_path(db_path: Optional[Union[str, Path]]) -> Optional[Path]:
    """runreg's cache file for a ``db_path`` argument: itself when it is a
    ``.redb`` file, else a ``.redb`` beside the reference's SQLite file."""
    if db_path is None:
        return None
    path = Path(db_path).expanduser().resolve()
    if path.suffix == ".redb":
        return path
    return path.with_suffix(".redb")
