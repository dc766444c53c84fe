#!/usr/bin/env bash
# Cold caches and latency (issue 17): runreg beside the reference registry
# (stable-pretraining 0.1.8) and beside the parallel floors of the storage,
# on one machine, in one run.
#
#   sudo bash scripts/bench/latency.sh [RUNS] [LAT_RUNS]   # defaults 20000 and 2000
#
# Needs root: `echo 3 > /proc/sys/vm/drop_caches` and a FUSE mount (Debian's
# fuse3 package, installed here when missing).
#
# Environment: REPS (timed repetitions of each cold and warm operation,
# default 3; the median is reported), LAT_REPS (runreg's repetitions through
# the latency layer, default 3), REF_LAT_REPS (the reference's there,
# default 1: a minute or more each), DELAY_US (added to each request by the
# latency layer, default 500), NFS_IO_THREADS (the second setting measured
# through it, default 64), LAT_BIG (a further tree size, e.g. 100000, for
# runreg's rescan through the latency layer; default none), BEFORE_BIN (an
# earlier runreg binary: its warm and cold rows are measured beside, for
# regressions), SEED, KEEP=1, TMPDIR (where the trees go).
#
# Rows:
#   warm: runreg and reference, rescan with nothing changed and full scan
#     into a fresh cache (the page cache warm, as compare.sh measures);
#   cold: the same four, each right after `sync; echo 3 > drop_caches`,
#     and the floors `xargs -P16 stat` of every sidecar's path and
#     `xargs -P16 cat` of every sidecar (paths known, no walk);
#   syscalls: `strace -c -f` of a warm rescan with nothing changed: stats
#     per run, fsyncs, writes;
#   latency: through scripts/bench/latencyfs (every request answered after
#     DELAY_US, requests served concurrently, no kernel caching of entries
#     or attributes) on a LAT_RUNS tree: runreg (default I/O threads and
#     NFS_IO_THREADS) and the reference, rescan and full scan; and the
#     layer's own check: 16 concurrent stats against one.
# The table goes to stdout and target/bench/latency-RUNS.md.
set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C

RUNS="${1:-20000}"
LAT_RUNS="${2:-2000}"
REPS="${REPS:-3}"
LAT_REPS="${LAT_REPS:-3}"
REF_LAT_REPS="${REF_LAT_REPS:-1}"
DELAY_US="${DELAY_US:-500}"
NFS_IO_THREADS="${NFS_IO_THREADS:-64}"
LAT_BIG="${LAT_BIG:-}"
SEED="${SEED:-1}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/scripts/bench"
OUT_DIR="$ROOT/target/bench"
PYTHON="${PYTHON:-python3}"

START=$SECONDS
log() { echo "latency: [$((SECONDS - START)) s] $*" >&2; }
die() { log "error: $*"; exit 1; }

for n in "$RUNS" "$LAT_RUNS" "$REPS" "$LAT_REPS" "$REF_LAT_REPS" "$DELAY_US" "$NFS_IO_THREADS" ${LAT_BIG:+"$LAT_BIG"}; do
    [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || die "sizes, repetitions and delays must be positive integers, not '$n'"
done
[[ $(id -u) -eq 0 ]] || die "needs root (drop_caches, FUSE mount)"
command -v cargo >/dev/null || die "cargo not found"
if ! command -v fusermount3 >/dev/null || ! command -v strace >/dev/null; then
    log "installing fuse3 and strace (Debian)"
    { apt-get install -y -qq fuse3 strace || { apt-get update -qq && apt-get install -y -qq fuse3 strace; }; } >/dev/null 2>&1 \
        || die "could not install fuse3 and strace"
fi
[[ -c /dev/fuse ]] || die "/dev/fuse missing: no FUSE here"

log "installing the reference (stable-pretraining 0.1.8) oracle"
PYTHONPATH="$(bash "$ROOT/scripts/oracle/setup.sh" | tail -n 1)${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH

COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$ROOT" status --porcelain -- src Cargo.toml Cargo.lock scripts/bench/latencyfs 2>/dev/null)" ]]; then
    COMMIT+=" + uncommitted changes"
fi
log "building runreg, gen_tree and latencyfs (release) at $COMMIT"
(cd "$ROOT" && cargo build --release --quiet --bin runreg --example gen_tree)
(cd "$HERE/latencyfs" && CARGO_TARGET_DIR="$ROOT/target/latencyfs" cargo build --release --quiet)
BIN="$ROOT/target/release/runreg"
GEN="$ROOT/target/release/examples/gen_tree"
LATFS="$ROOT/target/latencyfs/release/latencyfs"
REF=("$PYTHON" "$HERE/ref_bench.py")

WORK="$(mktemp -d "${TMPDIR:-/tmp}/runreg-latency.XXXXXX")"
MNT="$WORK/mnt"
mkdir -p "$MNT" "$OUT_DIR"
unmount() {
    if mountpoint -q "$MNT" 2>/dev/null; then fusermount3 -u "$MNT" || umount -l "$MNT" || true; fi
}
cleanup() {
    unmount
    if [[ "${KEEP:-0}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'log "failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR
trap 'log "interrupted"; exit 130' INT TERM

RESULTS="$WORK/results.jsonl"
: > "$RESULTS"
# record OP SIDE VALUE
record() { printf '{"op":"%s","side":"%s","s":%s}\n' "$1" "$2" "$3" >> "$RESULTS"; }
timed() {
    local t0=$EPOCHREALTIME
    "$@" > /dev/null
    local t1=$EPOCHREALTIME
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }'
}
seconds_of() { "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["seconds"])'; }
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
# Past the racy window of the last scan, then one scan that settles what it
# re-read: the next rescan finds nothing to do.
settle() { sleep 2.2; "$@" > /dev/null; }

# ---------------------------------------------------------------- cold, warm
TREE="$WORK/cold/cache"
RR=("$BIN" --cache-dir "$TREE" --quiet --color never)
RR_DB="$TREE/registry.redb"
REF_DB="$WORK/cold/reference.db"
log "writing $RUNS runs (seed $SEED, no NaN) under $TREE"
"$GEN" "$TREE" --runs "$RUNS" --seed "$SEED" --no-nan > "$WORK/tree.json"
(cd "$TREE" && find runs -name sidecar.json) | sed "s|^|$TREE/|" > "$WORK/sidecars.txt"

for ((r = 1; r <= REPS; r++)); do
    log "warm and cold, repetition $r/$REPS"
    for temp in warm cold; do
        # Full scans into a fresh cache; odd repetitions run runreg first.
        for side in rr ref; do
            if ((r % 2 == 0)); then side=$([[ $side == rr ]] && echo ref || echo rr); fi
            if [[ $side == rr ]]; then
                rm -f "$RR_DB"
                if [[ $temp == cold ]]; then drop_caches; fi
                record "${temp}_full" runreg "$(timed "${RR[@]}" scan --full)"
            else
                if [[ $temp == cold ]]; then rm -f "$REF_DB"; drop_caches; fi
                record "${temp}_full" reference "$("${REF[@]}" scan "$TREE" "$REF_DB" --full --fresh | seconds_of)"
            fi
        done
        settle "${RR[@]}" scan
        settle "${REF[@]}" scan "$TREE" "$REF_DB"
        for side in rr ref; do
            if ((r % 2 == 0)); then side=$([[ $side == rr ]] && echo ref || echo rr); fi
            if [[ $temp == cold ]]; then drop_caches; fi
            if [[ $side == rr ]]; then
                record "${temp}_rescan" runreg "$(timed "${RR[@]}" scan)"
            else
                record "${temp}_rescan" reference "$("${REF[@]}" scan "$TREE" "$REF_DB" | seconds_of)"
            fi
        done
    done
    if [[ -n "${BEFORE_BIN:-}" ]]; then
        BEFORE=("$BEFORE_BIN" --cache-dir "$TREE" --db "$WORK/cold/before.redb" --quiet --color never)
        for temp in warm cold; do
            rm -f "$WORK/cold/before.redb"
            if [[ $temp == cold ]]; then
                drop_caches
            else
                # The cold rows before left the sidecars' contents out of
                # the page cache: warm it as the first rows found it.
                xargs -P16 -n 256 cat < "$WORK/sidecars.txt" > /dev/null
            fi
            record "${temp}_full" before "$(timed "${BEFORE[@]}" scan --full)"
            settle "${BEFORE[@]}" scan
            settle "${BEFORE[@]}" scan
            if [[ $temp == cold ]]; then drop_caches; fi
            record "${temp}_rescan" before "$(timed "${BEFORE[@]}" scan)"
        done
    fi
    drop_caches
    record cold_floor_stat floor "$(timed xargs -P16 -n 256 stat < "$WORK/sidecars.txt")"
    drop_caches
    record cold_floor_cat floor "$(timed xargs -P16 -n 256 cat < "$WORK/sidecars.txt")"
done

log "strace -c -f of a warm rescan with nothing changed"
"${RR[@]}" scan > /dev/null
strace -c -f -o "$WORK/strace.txt" "${RR[@]}" scan > /dev/null
"$PYTHON" - "$WORK/strace.txt" "$RUNS" >> "$RESULTS" <<'EOF'
import json, sys
counts = {}
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) >= 5 and parts[-1].isidentifier() and parts[3].isdigit():
        counts[parts[-1]] = int(parts[3])
runs = int(sys.argv[2])
for op, value in [
    ("syscalls_stats", sum(counts.get(k, 0) for k in ("newfstatat", "statx", "lstat", "stat"))),
    ("syscalls_fstat", counts.get("fstat", 0)),
    ("syscalls_fsync", counts.get("fsync", 0) + counts.get("fdatasync", 0)),
    ("syscalls_pwrite", counts.get("pwrite64", 0) + counts.get("write", 0)),
    ("syscalls_getdents", counts.get("getdents64", 0)),
]:
    print(json.dumps({"op": op, "side": "runreg", "s": value}))
EOF

# ---------------------------------------------------------------- latency
# through_layer SOURCE_CACHE_DIR: mounts it on $MNT with the delay.
mount_layer() {
    unmount
    "$LATFS" "$1" "$MNT" --delay-us "$DELAY_US" --threads 128 2> "$WORK/latencyfs.log" &
    for _ in $(seq 100); do mountpoint -q "$MNT" && return 0; sleep 0.05; done
    die "latencyfs did not mount (see $WORK/latencyfs.log)"
}

LTREE="$WORK/lat/cache"
log "writing $LAT_RUNS runs under $LTREE, mounted through latencyfs (${DELAY_US} µs a request)"
"$GEN" "$LTREE" --runs "$LAT_RUNS" --seed "$SEED" --no-nan > /dev/null
mount_layer "$LTREE"
log "the layer's concurrency: 16 concurrent stats against one"
"$PYTHON" - "$MNT" >> "$RESULTS" <<'EOF'
import json, os, statistics, sys, threading, time
root = sys.argv[1]
paths = []
for dirpath, dirs, files in os.walk(os.path.join(root, "runs")):
    if "sidecar.json" in files:
        paths.append(os.path.join(dirpath, "sidecar.json"))
        dirs[:] = []
    if len(paths) >= 400:
        break
def median_of(n, reps=15):
    times = []
    for r in range(reps):
        batch = [paths[(r * n + i) % len(paths)] for i in range(n)]
        threads = [threading.Thread(target=os.stat, args=(p,)) for p in batch]
        t0 = time.perf_counter()
        for t in threads: t.start()
        for t in threads: t.join()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
print(json.dumps({"op": "layer_stat_1", "side": "layer", "s": median_of(1)}))
print(json.dumps({"op": "layer_stat_16", "side": "layer", "s": median_of(16)}))
EOF

LRR=("$BIN" --cache-dir "$MNT" --quiet --color never)
LRR_DB="$WORK/lat/runreg.redb"
LREF_DB="$WORK/lat/reference.db"
for io in default "$NFS_IO_THREADS"; do
    io_arg=()
    if [[ $io != default ]]; then io_arg=(--io-threads "$io"); fi
    for ((r = 1; r <= LAT_REPS; r++)); do
        log "latency, runreg (io threads: $io), repetition $r/$LAT_REPS"
        rm -f "$LRR_DB"
        record "lat_full_io_$io" runreg "$(timed "${LRR[@]}" --db "$LRR_DB" "${io_arg[@]}" scan --full)"
        settle "${LRR[@]}" --db "$LRR_DB" "${io_arg[@]}" scan
        record "lat_rescan_io_$io" runreg "$(timed "${LRR[@]}" --db "$LRR_DB" "${io_arg[@]}" scan)"
    done
done
for ((r = 1; r <= REF_LAT_REPS; r++)); do
    log "latency, reference, repetition $r/$REF_LAT_REPS"
    record lat_full reference "$("${REF[@]}" scan "$MNT" "$LREF_DB" --full --fresh | seconds_of)"
    settle "${REF[@]}" scan "$MNT" "$LREF_DB"
    record lat_rescan reference "$("${REF[@]}" scan "$MNT" "$LREF_DB" | seconds_of)"
done
unmount

if [[ -n "$LAT_BIG" ]]; then
    BTREE="$WORK/big/cache"
    log "writing $LAT_BIG runs under $BTREE for runreg's rescan through the layer"
    "$GEN" "$BTREE" --runs "$LAT_BIG" --seed "$SEED" --no-nan > /dev/null
    mount_layer "$BTREE"
    BRR=("$BIN" --cache-dir "$MNT" --db "$WORK/big/runreg.redb" --quiet --color never --io-threads "$NFS_IO_THREADS")
    log "latency, $LAT_BIG runs: runreg full scan, then rescans"
    record lat_big_full runreg "$(timed "${BRR[@]}" scan --full)"
    settle "${BRR[@]}" scan
    for ((r = 1; r <= LAT_REPS; r++)); do
        record lat_big_rescan runreg "$(timed "${BRR[@]}" scan)"
    done
    unmount
fi

# ---------------------------------------------------------------- report
"$PYTHON" - "$RESULTS" "$RUNS" "$LAT_RUNS" "${LAT_BIG:-0}" "$DELAY_US" "$NFS_IO_THREADS" "$COMMIT" \
    > "$OUT_DIR/latency-$RUNS.md" <<'EOF'
import json, os, platform, statistics, sys
from collections import defaultdict
from datetime import datetime, timezone
results, runs, lat_runs, big, delay, nfs_io, commit = sys.argv[1:]
runs, lat_runs, big = int(runs), int(lat_runs), int(big)
values = defaultdict(list)
for line in open(results):
    row = json.loads(line)
    values[(row["op"], row["side"])].append(row["s"])
def med(op, side):
    v = values.get((op, side))
    return statistics.median(v) if v else None
def fmt(s):
    if s is None: return "-"
    return f"{s * 1e3:.0f} ms" if s < 1 else f"{s:.2f} s"
def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"
def n(v):
    return len(values.get(v, []))
load = os.getloadavg()
print(f"### Cold caches and latency, {runs:,} runs (latency rows: {lat_runs:,})\n")
print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit}, {os.cpu_count()} cores, "
      f"{platform.platform()}, load average at the end {load[0]:.1f}. Medians; "
      f"`bash scripts/bench/latency.sh {runs} {lat_runs}`.\n")
before = any(side == "before" for _, side in values)
print("| case | runreg | reference | floor | runreg vs floor | reference / runreg |"
      + (" runreg before (BEFORE_BIN) |" if before else ""))
print("|---|---|---|---|---|---|" + ("---|" if before else ""))
rows = [
    ("warm: rescan, nothing changed", "warm_rescan", None),
    ("warm: full scan, fresh cache", "warm_full", None),
    ("cold: rescan, nothing changed (floor: `xargs -P16 stat` of every sidecar)", "cold_rescan", "cold_floor_stat"),
    ("cold: full scan, fresh cache (floor: `xargs -P16 cat` of every sidecar)", "cold_full", "cold_floor_cat"),
]
for label, op, floor in rows:
    rr, ref = med(op, "runreg"), med(op, "reference")
    fl = med(floor, "floor") if floor else None
    print(f"| {label} | {fmt(rr)} | {fmt(ref)} | {fmt(fl)} | {ratio(rr, fl) if fl else '-'} | {ratio(ref, rr)} |"
          + (f" {fmt(med(op, 'before'))} |" if before else ""))
ref_full, ref_rescan = med("lat_full", "reference"), med("lat_rescan", "reference")
for io in ("default", nfs_io):
    label = "16 (default)" if io == "default" else io
    rr_r, rr_f = med(f"lat_rescan_io_{io}", "runreg"), med(f"lat_full_io_{io}", "runreg")
    tail = " - |" if before else ""
    print(f"| {delay} µs a request, {lat_runs:,} runs, io threads {label}: rescan | {fmt(rr_r)} | {fmt(ref_rescan)} | - | - | {ratio(ref_rescan, rr_r)} |" + tail)
    print(f"| {delay} µs a request, {lat_runs:,} runs, io threads {label}: full scan | {fmt(rr_f)} | {fmt(ref_full)} | - | - | {ratio(ref_full, rr_f)} |" + tail)
if big:
    tail = " - |" if before else ""
    print(f"| {delay} µs a request, {big:,} runs, io threads {nfs_io}: rescan | {fmt(med('lat_big_rescan', 'runreg'))} | - | - | - | - |" + tail)
    print(f"| {delay} µs a request, {big:,} runs, io threads {nfs_io}: full scan (once) | {fmt(med('lat_big_full', 'runreg'))} | - | - | - | - |" + tail)
s = lambda op: med(op, "runreg")
print()
print(f"Syscalls of a warm rescan with nothing changed (`strace -c -f`, {runs:,} runs): "
      f"{s('syscalls_stats'):.0f} stats (newfstatat/statx/lstat: {s('syscalls_stats') / runs:.2f} per run), "
      f"{s('syscalls_fstat'):.0f} fstat, {s('syscalls_fsync'):.0f} fsync/fdatasync, "
      f"{s('syscalls_pwrite'):.0f} write/pwrite64, {s('syscalls_getdents'):.0f} getdents64.")
one, sixteen = med("layer_stat_1", "layer"), med("layer_stat_16", "layer")
print(f"\nThe latency layer ({delay} µs a request, no kernel caching: a stat of a "
      f"sidecar is a request per path component): one stat {one * 1e3:.2f} ms, 16 concurrent "
      f"stats {sixteen * 1e3:.2f} ms ({sixteen / one:.2f}x one).")
print(f"\nRepetitions: cold/warm {n(('cold_rescan', 'runreg'))}, latency runreg "
      f"{n(('lat_rescan_io_default', 'runreg'))}, latency reference {n(('lat_rescan', 'reference'))}.")
EOF
cp "$RESULTS" "$OUT_DIR/latency-$RUNS.jsonl"
cat "$OUT_DIR/latency-$RUNS.md"
log "done: $OUT_DIR/latency-$RUNS.md"
