#!/usr/bin/env bash
# runreg's Python package against the reference registry (stable-pretraining
# 0.1.8), in-process on both sides, on ONE generated tree, in the same run:
# the table of issue 15 (BENCHMARKS.md, "Python package").
#
#   bash scripts/bench/python.sh [RUNS]        # default 100000
#
# Environment: REPS (timed repetitions, default 3, after one warm-up),
# SEED (tree seed, default 1), KEEP=1 (keep the work directory), TMPDIR.
#
# Steps: installs the reference oracle; builds examples/gen_tree and the
# package (release, `maturin develop --release` into target/bench-python);
# writes RUNS runs without NaN (the reference cannot sort over NaN); scans
# them into both caches; times the operations (python_bench.py ops: the tag
# query as the median of many calls a repetition, get over 1,000), then
# the peak RSS of to_dataframe() of every run, each side in a fresh process.
# Medians; the table goes to stdout and target/bench/python-RUNS.md.
set -euo pipefail
export LC_ALL=C

RUNS="${1:-100000}"
REPS="${REPS:-3}"
SEED="${SEED:-1}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/scripts/bench"
OUT_DIR="$ROOT/target/bench"
VENV="$ROOT/target/bench-python"
START=$SECONDS
log() { echo "python.sh: [$((SECONDS - START)) s] $*" >&2; }

[[ "$RUNS" =~ ^[0-9]+$ && "$RUNS" -gt 0 ]] || { log "RUNS must be a positive integer"; exit 1; }

log "installing the reference oracle"
PYTHONPATH="$(bash "$ROOT/scripts/oracle/setup.sh" | tail -n 1)"
export PYTHONPATH

if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check maturin pandas pyarrow loguru
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$ROOT" status --porcelain -- src crates/runreg-python Cargo.toml 2>/dev/null)" ]]; then
    COMMIT+=" + uncommitted changes"
fi
log "building gen_tree and the package (release) at $COMMIT"
(cd "$ROOT" && cargo build --release --quiet --example gen_tree)
(cd "$ROOT/crates/runreg-python" && VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" \
    maturin develop --release --quiet >&2)
PY="$VENV/bin/python"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/runreg-python-bench.XXXXXX")"
cleanup() { if [[ "${KEEP:-0}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
TREE="$WORK/cache"

log "writing $RUNS runs (seed $SEED, no NaN)"
"$ROOT/target/release/examples/gen_tree" "$TREE" --runs "$RUNS" --seed "$SEED" --no-nan > "$WORK/tree.json"
TAG="$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["sample_tag"])' < "$WORK/tree.json")"
find "$TREE/runs" -name sidecar.json -print0 | xargs -0 cat > /dev/null

log "first scans: the reference into registry.db, runreg into registry.redb"
"$PY" "$HERE/ref_bench.py" scan "$TREE" "$TREE/registry.db" --full --fresh > /dev/null
"$PY" -c 'import runreg, sys; print(len(runreg.open_registry(cache_dir=sys.argv[1])))' "$TREE" > /dev/null

log "timing the operations ($REPS repetitions after a warm-up)"
"$PY" "$HERE/python_bench.py" ops "$TREE" --tag "$TAG" --reps "$REPS" > "$WORK/ops.json"
log "peak RSS of to_dataframe(), each side in a fresh process"
"$PY" "$HERE/python_bench.py" frame-rss "$TREE" reference > "$WORK/rss-reference.json"
"$PY" "$HERE/python_bench.py" frame-rss "$TREE" runreg > "$WORK/rss-runreg.json"

mkdir -p "$OUT_DIR"
"$PY" - "$WORK" "$RUNS" "$COMMIT" "$TAG" <<'PY' | tee "$OUT_DIR/python-$RUNS.md"
import json, platform, statistics, subprocess, sys, time
from pathlib import Path
work, runs, commit, tag = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ops = json.loads((work / "ops.json").read_text())
rss = {s: json.loads((work / f"rss-{s}.json").read_text()) for s in ("reference", "runreg")}
med = lambda xs: statistics.median(xs)
def fmt(s):
    return f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.3g} s"
rows = [
    ("`open_registry()`, nothing changed (lazy scan included)", "open_registry_unchanged", "open_registry_unchanged", 1, ">= 20x"),
    (f"`query(status=\"completed\")`, every RunRecord ({ops['rows']['completed']:,} runs)", "query_status_completed", "query_status_completed", 1, ">= 10x"),
    (f"`query(tag=..., sort_by=\"summary.val_acc\", limit=5)` ({ops['rows']['tagged']:,} tagged), per call "
     f"(median of {ops['calls']['query_tag_sort_limit5']} calls a repetition)", "query_tag_sort_limit5", "query_tag_sort_limit5", 1, ">= 100x"),
    ("`to_dataframe()` of every run", "to_dataframe_all", "to_dataframe_all", 1, ">= 20x"),
    ("`to_arrow()` of every run, against the reference's `to_dataframe()`", "to_dataframe_all", "to_arrow_all", 1, ">= 50x"),
    ("`pyarrow.table(to_arrow())`, against the reference's `to_dataframe()`", "to_dataframe_all", "pyarrow_table_of_to_arrow_all", 1, "(for information)"),
    ("`get(run_id)`, per call (the same 1,000 ids at each repetition)", "get_by_id_x1000", "get_by_id_x1000", 1000, ">= 10x"),
    ("`get(run_id)`, per call (1,000 ids never asked for before)", "get_fresh_id_x1000", "get_fresh_id_x1000", 1000, "(for information)"),
]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"Python package vs the reference, {runs:,} runs (seed 1, no NaN), in-process, same run; "
      f"runreg {commit}; {time.strftime('%Y-%m-%d', time.gmtime())}; {platform.python_version()}; "
      f"{cpu}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores. "
      f"Medians of {len(ops['to_dataframe_all']['runreg'])} repetitions. Same top 5: {ops['same_top5']}.")
print()
print("| operation | reference | runreg | ratio | target |")
print("|---|---:|---:|---:|---|")
for label, ref_op, rr_op, per, target in rows:
    ref_s = med(ops[ref_op]["reference"]) / per
    rr_s = med(ops[rr_op]["runreg"]) / per
    print(f"| {label} | {fmt(ref_s)} | {fmt(rr_s)} | {ref_s / rr_s:.1f}x | {target} |")
r, o = rss["reference"], rss["runreg"]
print(f"| peak RSS of `to_dataframe()` (process, pandas imported: {r['before_mib']:.0f} / {o['before_mib']:.0f} MiB before) "
      f"| {r['peak_rss_mib']:.0f} MiB | {o['peak_rss_mib']:.0f} MiB | {r['peak_rss_mib'] / o['peak_rss_mib']:.1f}x less | <= the reference's |")
PY
log "done; table in $OUT_DIR/python-$RUNS.md"
