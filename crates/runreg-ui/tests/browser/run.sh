#!/usr/bin/env bash
# The page's browser test: builds runreg, copies the example tree, installs
# playwright-core (npm, under target/; no browser download: Debian's
# chromium is used) and runs e2e.mjs. Screenshots go to target/ui-screenshots/.
# Usage: crates/runreg-ui/tests/browser/run.sh [--perf CACHE_DIR]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)
here="$root/crates/runreg-ui/tests/browser"
cd "$root"

test -x /usr/bin/chromium || { echo "needs /usr/bin/chromium (apt-get install chromium)" >&2; exit 1; }
deps="$root/target/ui-browser"
if [ ! -d "$deps/node_modules/playwright-core" ]; then
    mkdir -p "$deps"
    cp "$here/package.json" "$deps/package.json"
    (cd "$deps" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-save --no-audit --no-fund --silent)
fi

if [ "${1:-}" = "--perf" ]; then
    cargo build --release --quiet -p runreg-cli
    PLAYWRIGHT_DIR="$deps" node "$here/e2e.mjs" "$root/target/release/runreg" "$2" "$root/target/ui-screenshots" --perf
    exit
fi

cargo build --quiet -p runreg-cli
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
cp -r examples/cache/runs "$tree/runs"
PLAYWRIGHT_DIR="$deps" node "$here/e2e.mjs" "$root/target/debug/runreg" "$tree" "$root/target/ui-screenshots"
