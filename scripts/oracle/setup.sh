#!/usr/bin/env bash
# Install the reference registry (stable-pretraining 0.1.8) as a test oracle.
#
# The wheel is downloaded with pip (no dependencies: the full package pulls
# in torch) and unzipped under target/oracle/. Only the four registry modules
# the oracle needs are copied into an import-only package, `spt_registry`, so
# that importing it never runs stable_pretraining/__init__.py.
#
# Idempotent: the download and unzip are skipped once done. Works from any
# working directory. The last line printed is the PYTHONPATH to use.
set -euo pipefail

VERSION="0.1.8"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ORACLE="$ROOT/target/oracle"
WHEEL_DIR="$ORACLE/wheel"
UNPACKED="$ORACLE/unpacked"
PKG="$ORACLE/pkg/spt_registry"
MODULES=(_sidecar _scanner _store query)
PYTHON="${PYTHON:-python3}"
# Root is normal on CI machines; silence pip's warning about it.
export PIP_ROOT_USER_ACTION=ignore

mkdir -p "$WHEEL_DIR"

wheel="$(ls "$WHEEL_DIR"/stable_pretraining-"$VERSION"-*.whl 2>/dev/null | head -n 1 || true)"
if [[ -z "$wheel" ]]; then
    echo "oracle: downloading stable-pretraining==$VERSION" >&2
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: \
        --dest "$WHEEL_DIR" "stable-pretraining==$VERSION" >&2
    wheel="$(ls "$WHEEL_DIR"/stable_pretraining-"$VERSION"-*.whl | head -n 1)"
fi

if [[ ! -f "$UNPACKED/stable_pretraining/registry/query.py" ]]; then
    echo "oracle: unpacking $(basename "$wheel")" >&2
    rm -rf "$UNPACKED"
    mkdir -p "$UNPACKED"
    # A wheel is a zip file; Python's zipfile avoids depending on unzip(1).
    "$PYTHON" -m zipfile -e "$wheel" "$UNPACKED"
fi

# Rebuilt every time: cheap, and keeps the package in step with the wheel.
mkdir -p "$PKG"
: > "$PKG/__init__.py"
for m in "${MODULES[@]}"; do
    cp "$UNPACKED/stable_pretraining/registry/$m.py" "$PKG/$m.py"
done

if ! "$PYTHON" -c 'import loguru' 2>/dev/null; then
    echo "oracle: installing loguru (imported by _scanner.py)" >&2
    "$PYTHON" -m pip install --quiet loguru >&2
fi

# Smoke test: the package imports and the reference can open an empty cache.
PYTHONPATH="$ORACLE/pkg" "$PYTHON" - <<'PY' >&2
import tempfile, os
from spt_registry import query
with tempfile.TemporaryDirectory() as d:
    reg = query.open_registry(cache_dir=d, db_path=os.path.join(d, "registry.db"))
    assert len(reg) == 0
    reg.close()
PY

echo "oracle: ready" >&2
echo "$ORACLE/pkg"
