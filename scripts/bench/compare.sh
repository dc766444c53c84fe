#!/usr/bin/env bash
# Side-by-side: the reference registry (stable-pretraining 0.1.8) and runreg
# on ONE generated tree, in the same run, with the walk floor beside them.
#
#   bash scripts/bench/compare.sh [RUNS]        # default 10000
#
# Environment: REPS (timed repetitions of each operation, default 5; one
# untimed warm-up comes first), SEED (tree seed, default 1), KEEP=1 (keep
# the work directory), TMPDIR (where the tree is written).
#
# Steps: installs the reference oracle (scripts/oracle/setup.sh); builds
# runreg, examples/gen_tree and examples/bench_ops in release mode; writes a
# tree of RUNS runs without NaN (the reference cannot sort over NaN); then
# times, alternating reference and runreg at each repetition:
#   - full scan into a fresh cache (reference: its scanner with full=True,
#     in-process; runreg: `runreg scan --full`, the whole process);
#   - incremental scan with nothing changed, and with 1% of the sidecars
#     rewritten (a different 1% each repetition);
#   - a one-off query as a process, lazy scan included (`runreg ls -n 5`;
#     reference: open_registry() + query(limit=5) in a fresh interpreter);
#   - docs/FORMAT.md §7's queries and get by id, in-process on a scanned
#     cache (ref_bench.py; runreg: examples/bench_ops), two rounds;
#   - runreg's CLI answering the same queries with --no-scan;
#   - the walk floor `find runs -name sidecar.json -newer FILE`;
# then the peak RSS of each full scan (/usr/bin/time -v) and the cache
# sizes. Medians are reported. The table goes to stdout and to
# target/bench/compare-RUNS.md; raw numbers to target/bench/compare-RUNS.json.
set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C

RUNS="${1:-10000}"
REPS="${REPS:-5}"
SEED="${SEED:-1}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/scripts/bench"
OUT_DIR="$ROOT/target/bench"
PYTHON="${PYTHON:-python3}"

START=$SECONDS
log() { echo "compare: [$((SECONDS - START)) s] $*" >&2; }
die() { log "error: $*"; exit 1; }

[[ "$RUNS" =~ ^[0-9]+$ && "$RUNS" -gt 0 ]] || die "RUNS must be a positive integer, not '$RUNS'"
[[ "$REPS" =~ ^[0-9]+$ && "$REPS" -gt 0 ]] || die "REPS must be a positive integer, not '$REPS'"
command -v cargo >/dev/null || die "cargo not found"
command -v "$PYTHON" >/dev/null || die "$PYTHON not found"

if [[ ! -x /usr/bin/time ]]; then
    log "installing GNU time (Debian package 'time') for peak memory"
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        apt-get install -y -qq time >/dev/null 2>&1 \
            || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq time >/dev/null 2>&1; } \
            || log "warning: could not install 'time'; peak memory will be missing"
    else
        log "warning: /usr/bin/time missing and cannot apt-get; peak memory will be missing"
    fi
fi

log "installing the reference (stable-pretraining 0.1.8) oracle"
PYTHONPATH="$(bash "$ROOT/scripts/oracle/setup.sh" | tail -n 1)${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH

# What is measured: HEAD, plus any change to the sources being built.
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$ROOT" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null)" ]]; then
    COMMIT+=" + uncommitted changes to src/"
fi
log "building runreg and the bench examples (release) at $COMMIT"
(cd "$ROOT" && cargo build --release --quiet --bin runreg --example gen_tree --example bench_ops)
BIN="$ROOT/target/release/runreg"
GEN="$ROOT/target/release/examples/gen_tree"
OPS="$ROOT/target/release/examples/bench_ops"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/runreg-compare.XXXXXX")"
cleanup() {
    if [[ "${KEEP:-0}" == 1 ]]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'log "failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR
trap 'log "interrupted"; exit 130' INT TERM

TREE="$WORK/cache"
REF_DB="$TREE/registry.db"      # the reference's own cache file
RR_DB="$TREE/registry.redb"     # runreg's
RESULTS="$WORK/results.jsonl"
: > "$RESULTS"
REF=("$PYTHON" "$HERE/ref_bench.py")
RR=("$BIN" --cache-dir "$TREE" --quiet --color never)

# record OP SIDE SECONDS
record() { printf '{"op":"%s","side":"%s","s":%s}\n' "$1" "$2" "$3" >> "$RESULTS"; }
# seconds of a command, its output discarded; fails when the command fails.
timed() {
    local t0=$EPOCHREALTIME
    "$@" > /dev/null
    local t1=$EPOCHREALTIME
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }'
}
# the "seconds" field of a JSON object
seconds_of() { "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["seconds"])'; }

log "writing $RUNS runs (seed $SEED, no NaN) under $TREE"
"$GEN" "$TREE" --runs "$RUNS" --seed "$SEED" --no-nan > "$WORK/tree.json"
TAG="$("$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["sample_tag"])' < "$WORK/tree.json")"
SHOW_ID="$("$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["sample_run_ids"][2])' < "$WORK/tree.json")"

log "warming the page cache"
find "$TREE/runs" -name sidecar.json -print0 | xargs -0 cat > /dev/null
find "$TREE/runs" -name heartbeat > /dev/null

# Repetition 0 is a warm-up, not recorded. Odd repetitions run runreg first.
for ((r = 0; r <= REPS; r++)); do
    log "full scan, fresh cache: repetition $r/$REPS"
    ref_s="" rr_s=""
    for side in ref rr; do
        if ((r % 2)); then side=$([[ $side == ref ]] && echo rr || echo ref); fi
        if [[ $side == ref ]]; then
            ref_s=$("${REF[@]}" scan "$TREE" "$REF_DB" --full --fresh | seconds_of)
        else
            rm -f "$RR_DB"
            rr_s=$(timed "${RR[@]}" scan --full)
        fi
    done
    if ((r > 0)); then record full_scan reference "$ref_s"; record full_scan runreg "$rr_s"; fi
done

for ((r = 0; r <= REPS; r++)); do
    log "incremental scan, nothing changed: repetition $r/$REPS"
    ref_s=$("${REF[@]}" scan "$TREE" "$REF_DB" | seconds_of)
    rr_s=$(timed "${RR[@]}" scan)
    if ((r > 0)); then record incremental_unchanged reference "$ref_s"; record incremental_unchanged runreg "$rr_s"; fi
done

for ((r = 1; r <= REPS; r++)); do
    log "incremental scan, 1% rewritten: repetition $r/$REPS"
    "$GEN" "$TREE" --rewrite 0.01 --round "$r" > /dev/null
    if ((r % 2)); then
        rr_s=$(timed "${RR[@]}" scan)
        ref_s=$("${REF[@]}" scan "$TREE" "$REF_DB" | seconds_of)
    else
        ref_s=$("${REF[@]}" scan "$TREE" "$REF_DB" | seconds_of)
        rr_s=$(timed "${RR[@]}" scan)
    fi
    record incremental_1pct reference "$ref_s"
    record incremental_1pct runreg "$rr_s"
done

# Each is a new process, so each pays its lazy scan (nothing changed).
for ((r = 0; r <= REPS; r++)); do
    log "one-off query as a process (lazy scan included): repetition $r/$REPS"
    ref_s=$(timed "${REF[@]}" ls "$TREE" "$REF_DB")
    rr_s=$(timed "${RR[@]}" ls -n 5)
    if ((r > 0)); then record ls_n5_process reference "$ref_s"; record ls_n5_process runreg "$rr_s"; fi
done

log "runreg CLI queries with --no-scan"
CLI_NAMES=(cli_tag_sort_limit5 cli_sort_all_limit10 cli_status_completed_json cli_hparams_eq cli_show)
CLI_ARGS=(
    "ls --no-scan --tag $TAG --sort summary.val_acc -n 5"
    "ls --no-scan --sort summary.val_acc -n 10"
    "ls --no-scan --status completed --json"
    "ls --no-scan --hparam optim.lr=0.01 --hparam data.batch_size=256"
    "show --no-scan $SHOW_ID"
)
for ((r = 0; r <= REPS; r++)); do
    for i in "${!CLI_NAMES[@]}"; do
        # shellcheck disable=SC2206  # word splitting intended: fixed arguments
        args=(${CLI_ARGS[$i]})
        s=$(timed "${RR[@]}" "${args[@]}")
        if ((r > 0)); then record "${CLI_NAMES[$i]}" runreg "$s"; fi
    done
done

# Two rounds, alternating sides; the report keeps each operation's better
# median (another tenant's burst then spoils at most one round).
for round in 1 2; do
    log "queries in-process, round $round/2: reference"
    "${REF[@]}" queries "$TREE" "$REF_DB" --tag "$TAG" > "$WORK/ref_queries.$round.json"
    ops_args=()
    if [[ $round == 1 ]]; then ops_args=(--scans); fi
    log "queries in-process, round $round/2: runreg (bench_ops ${ops_args[*]:-})"
    "$OPS" "$TREE" "${ops_args[@]}" > "$WORK/runreg_queries.$round.json"
done

log "walk floor: find runs -name sidecar.json -newer FILE"
touch "$WORK/marker"
for ((r = 0; r <= REPS; r++)); do
    s=$(timed find "$TREE/runs" -name sidecar.json -newer "$WORK/marker")
    if ((r > 0)); then record walk_floor_find floor "$s"; fi
done

if [[ -x /usr/bin/time ]]; then
    log "peak memory of a full scan (fresh cache)"
    rm -f "$RR_DB"
    /usr/bin/time -v "${RR[@]}" scan --full > /dev/null 2> "$WORK/rss_runreg.txt"
    /usr/bin/time -v "${REF[@]}" scan "$TREE" "$REF_DB" --full --fresh > /dev/null 2> "$WORK/rss_ref.txt"
    for side in runreg ref; do
        kb=$(awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$WORK/rss_$side.txt")
        printf '{"op":"peak_rss_kb","side":"%s","value":%s}\n' \
            "$([[ $side == ref ]] && echo reference || echo runreg)" "${kb:-null}" >> "$RESULTS"
    done
fi

sidecar_bytes=$(find "$TREE/runs" -name sidecar.json -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
ref_db_bytes=0
for f in "$REF_DB" "$REF_DB-wal"; do
    if [[ -f "$f" ]]; then ref_db_bytes=$((ref_db_bytes + $(stat -c %s "$f"))); fi
done
printf '{"op":"bytes","side":"sidecars","value":%s}\n' "$sidecar_bytes" >> "$RESULTS"
printf '{"op":"bytes","side":"runreg","value":%s}\n' "$(stat -c %s "$RR_DB")" >> "$RESULTS"
printf '{"op":"bytes_on_disk","side":"runreg","value":%s}\n' "$(($(stat -c '%b * %B' "$RR_DB")))" >> "$RESULTS"
# redb grows a file by doubling it (sparse: holes cost no disk), so a cache
# compacted by the full scan doubles its apparent size at the next write.
"${RR[@]}" scan > /dev/null
printf '{"op":"bytes_after_rescan","side":"runreg","value":%s}\n' "$(stat -c %s "$RR_DB")" >> "$RESULTS"
printf '{"op":"bytes_on_disk_after_rescan","side":"runreg","value":%s}\n' "$(($(stat -c '%b * %B' "$RR_DB")))" >> "$RESULTS"
printf '{"op":"bytes","side":"reference","value":%s}\n' "$ref_db_bytes" >> "$RESULTS"

mkdir -p "$OUT_DIR"
log "writing the report"
"$PYTHON" "$HERE/report.py" "$WORK" --runs "$RUNS" --reps "$REPS" --root "$ROOT" --commit "$COMMIT" \
    --json "$OUT_DIR/compare-$RUNS.json" | tee "$OUT_DIR/compare-$RUNS.md"
log "done: $OUT_DIR/compare-$RUNS.md"
