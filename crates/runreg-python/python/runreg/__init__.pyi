"""Type stubs of the runreg package."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Tuple, Union

from ._runreg import Registry as _NativeRegistry
from ._runreg import RunRecord as RunRecord
from ._runreg import RunregError as RunregError
from ._runreg import RunTable as RunTable

__version__: str
CACHE_DIR_VARIABLES: Tuple[str, ...]

class Registry(_NativeRegistry):
    def to_dataframe(self, **query_kwargs: Any) -> Any:
        """A pandas DataFrame with flattened ``hparams.*`` / ``summary.*`` columns."""
    def to_polars(self, **query_kwargs: Any) -> Any:
        """A polars DataFrame of ``to_arrow``'s columns."""

def open_registry(
    db_path: Optional[Union[str, Path]] = None,
    *,
    cache_dir: Optional[Union[str, Path]] = None,
    scan: bool = True,
    scan_ttl_s: float = 2.0,
) -> Registry:
    """Open the registry for querying."""
