#!/usr/bin/env bash
# The page's API on a generated tree, cache warm: each request N times,
# the median of the server's own time (its Server-Timing header) and of the
# whole round trip (curl). Writes nothing but the cache.
# Usage: scripts/bench/ui_api.sh CACHE_DIR [N]   (build: cargo build --release -p runreg-cli)
set -euo pipefail
dir=$1
n=${2:-21}
bin=${RUNREG_BIN:-target/release/runreg}
out=$(mktemp)
# One scan at start; none while measuring (the interval is an hour).
"$bin" --cache-dir "$dir" ui --port 0 --scan-interval 3600 >"$out" 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 600); do [ -s "$out" ] && break; sleep 0.1; done
url=$(head -1 "$out")
base=${url%%/\?*}
token=${url##*token=}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

measure() {
    local label=$1 path=$2 server=() total=()
    curl -s -o /dev/null -H "X-Runreg-Token: $token" "$base$path"   # warm
    for _ in $(seq "$n"); do
        local line
        line=$(curl -s -o /dev/null -D - -w 'TOTAL %{time_total}\n' -H "X-Runreg-Token: $token" "$base$path")
        server+=("$(grep -i '^server-timing' <<<"$line" | sed 's/.*dur=\([0-9.]*\).*/\1/')")
        total+=("$(awk '/^TOTAL/ {printf "%.3f", $2 * 1000}' <<<"$line")")
    done
    printf '%-58s server %7.2f ms   round trip %7.2f ms\n' "$label" \
        "$(printf '%s\n' "${server[@]}" | median)" "$(printf '%s\n' "${total[@]}" | median)"
}

enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
cols=$(enc 'status,created_at,tags,summary.val_acc,summary.train_loss,hparams.optim.lr')
echo "runs: $(curl -s -H "X-Runreg-Token: $token" "$base/api/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'), $n requests each, median"
measure "first page, newest first (the page's first call)" "/api/runs?limit=200&columns=$cols"
measure "filter + sort + first page: val_acc > 0.5, by val_acc" "/api/runs?where=$(enc 'summary.val_acc > 0.5')&sort=$(enc 'summary.val_acc:desc')&limit=200&columns=$cols"
measure "filter on a tag + sort by an hparam, first page" "/api/runs?where=$(enc "tags has '${TAG:-sweep:5847706}'")&sort=$(enc 'hparams.optim.lr:asc,summary.val_acc:desc')&limit=200&columns=$cols"
measure "a page in the middle (offset 50000)" "/api/runs?offset=50000&limit=200&sort=$(enc 'summary.val_acc:desc')&columns=$cols"
measure "status (polled every 3 s)" "/api/status"
measure "keys (the column chooser)" "/api/keys"
measure "sweep of one tag's runs, val_acc" "/api/sweep?where=$(enc "tags has '${TAG:-sweep:5847706}'")&metric=summary.val_acc"
