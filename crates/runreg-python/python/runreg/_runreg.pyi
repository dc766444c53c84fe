"""Type stubs of runreg's native module (``runreg._runreg``)."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple, Type, Union

__version__: str
QUERY_KEYWORDS: List[str]

class RunregError(Exception):
    """A failure of the registry itself (busy, damaged or unwritable cache,
    unreadable file); the message names the path or run."""

class RunRecord:
    """Immutable view of a single training run, hydrated from the cache."""

    def __init__(
        self,
        run_id: str,
        status: str,
        created_at: float,
        updated_at: float,
        alive: bool,
        run_dir: Optional[str],
        checkpoint_path: Optional[str],
        config: Dict[str, Any],
        hparams: Dict[str, Any],
        summary: Dict[str, Any],
        tags: List[str],
        notes: str,
        ended_at: Optional[float] = None,
    ) -> None: ...
    @property
    def run_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def created_at(self) -> float: ...
    @property
    def updated_at(self) -> float: ...
    @property
    def alive(self) -> bool: ...
    @property
    def run_dir(self) -> str: ...
    @property
    def checkpoint_path(self) -> Optional[str]: ...
    @property
    def config(self) -> Dict[str, Any]: ...
    @property
    def hparams(self) -> Dict[str, Any]: ...
    @property
    def summary(self) -> Dict[str, Any]: ...
    @property
    def tags(self) -> List[str]: ...
    @property
    def notes(self) -> str: ...
    @property
    def ended_at(self) -> Optional[float]: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...

class RunTable:
    """A query's runs as Arrow columns (the Arrow PyCapsule interface)."""

    @property
    def num_rows(self) -> int: ...
    @property
    def column_names(self) -> List[str]: ...
    def __arrow_c_stream__(self, requested_schema: Optional[object] = None) -> object: ...
    def __len__(self) -> int: ...

_SortBy = Union[str, Sequence[str]]
_Status = Union[str, Sequence[str]]

class Registry:
    """Read-only query interface over the registry cache."""

    def __init__(
        self,
        cache_dir: Union[str, Path],
        db_path: Optional[Union[str, Path]] = None,
        scan: bool = True,
        scan_ttl_s: float = 2.0,
    ) -> None: ...
    def query(
        self,
        *,
        tag: Optional[str] = None,
        status: Optional[_Status] = None,
        alive: Optional[bool] = None,
        hparams: Optional[Dict[str, Any]] = None,
        sort_by: Optional[_SortBy] = None,
        descending: bool = True,
        limit: Optional[int] = None,
        offset: int = 0,
        where: Optional[str] = None,
    ) -> List[RunRecord]:
        """Query runs matching filters."""
    def get(self, run_id: str) -> Optional[RunRecord]:
        """The run ``run_id``, or ``None``."""
    def to_arrow(
        self,
        *,
        tag: Optional[str] = None,
        status: Optional[_Status] = None,
        alive: Optional[bool] = None,
        hparams: Optional[Dict[str, Any]] = None,
        sort_by: Optional[_SortBy] = None,
        descending: bool = True,
        limit: Optional[int] = None,
        offset: int = 0,
        where: Optional[str] = None,
    ) -> RunTable:
        """The matching runs as Arrow columns."""
    def scan(self, full: bool = False) -> Dict[str, Any]:
        """Scan the tree now; the report as a dict."""
    def metrics(self, run_id: str) -> Dict[str, List[Tuple[int, float]]]:
        """Run ``run_id``'s metric history: ``{metric: [(step, value), ...]}``."""
    def close(self) -> None: ...
    @property
    def db_path(self) -> Path: ...
    @property
    def cache_dir(self) -> Path: ...
    def __len__(self) -> int: ...
    def __getitem__(self, run_id: str) -> RunRecord: ...
    def __enter__(self) -> Registry: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> Literal[False]: ...
    def _frame_columns(self, **query: Any) -> List[Tuple[str, str, Any]]: ...
