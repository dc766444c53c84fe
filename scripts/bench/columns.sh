#!/usr/bin/env bash
# Runs as columns, side by side with the reference (stable-pretraining
# 0.1.8) on the same generated trees, in the same run:
#
#   bash scripts/bench/columns.sh [RUNS...]      # default: 10000 100000
#
# For each size: writes a tree (examples/gen_tree, no NaN: the reference
# cannot sort over one), scans it with both, then times, alternating the
# two sides at each repetition (REPS, default 5, after one warm-up):
#   - runreg, whole processes, --no-scan: `export runs.parquet`,
#     `ls --status completed --json > file`, and the same with --jsonl and
#     --csv;
#   - the reference, in-process on its scanned cache: to_dataframe() then
#     DataFrame.to_parquet(), and query(status="completed");
# and the peak RSS of each runreg command (/usr/bin/time -v). Medians.
# The reference runs in a virtual environment with pandas and pyarrow
# (target/bench/venv, made on first use). Table on stdout and in
# target/bench/columns.md.
set -euo pipefail
export LC_ALL=C

SIZES=("$@")
[[ ${#SIZES[@]} -gt 0 ]] || SIZES=(10000 100000)
REPS="${REPS:-5}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT_DIR="$ROOT/target/bench"
VENV="$OUT_DIR/venv"
START=$SECONDS
log() { echo "columns: [$((SECONDS - START)) s] $*" >&2; }

mkdir -p "$OUT_DIR"
[[ -x /usr/bin/time ]] || { apt-get install -y -qq time >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq time; }; } >/dev/null
PYTHONPATH="$(bash "$ROOT/scripts/oracle/setup.sh" | tail -n 1)${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH
if [[ ! -x "$VENV/bin/python" ]]; then
    log "making $VENV (pandas, pyarrow, loguru)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check pandas pyarrow loguru
fi
PY="$VENV/bin/python"

COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -z "$(git -C "$ROOT" status --porcelain -- src crates Cargo.toml Cargo.lock)" ]] || COMMIT+=" + uncommitted changes"
log "building (release) at $COMMIT"
(cd "$ROOT" && cargo build --release --quiet -p runreg-cli --bin runreg && cargo build --release --quiet -p runreg --example gen_tree)
BIN="$ROOT/target/release/runreg"
GEN="$ROOT/target/release/examples/gen_tree"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/runreg-columns.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

seconds() { # seconds of a command, stdout to $OUT (a new file: truncating the last one is not timed)
    [[ "$OUT" == /dev/null ]] || rm -f "$OUT"
    local t0=$EPOCHREALTIME
    "$@" > "$OUT"
    awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.6f", b - a }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
peak_mib() { # peak RSS of a command, in MiB
    /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ { printf "%.0f", $2 / 1024 }'
}

TABLE="$OUT_DIR/columns.md"
{
    echo "Columns and streamed outputs, commit $COMMIT, $(date -u +%Y-%m-%d), $(nproc) cores, REPS=$REPS (medians)"
    echo
    echo "| runs | operation | reference | runreg | ratio | runreg peak RSS |"
    echo "|---|---|---|---|---|---|"
} > "$TABLE"

for RUNS in "${SIZES[@]}"; do
    TREE="$WORK/tree-$RUNS"
    log "$RUNS runs: writing the tree"
    "$GEN" "$TREE" --runs "$RUNS" --seed 1 --no-nan > /dev/null
    "$BIN" --cache-dir "$TREE" -q scan --full
    "$PY" "$ROOT/scripts/bench/ref_bench.py" scan "$TREE" "$TREE/registry.db" --full --fresh > /dev/null

    declare -A RR=() REF=()
    OUT=/dev/null
    RRC=("$BIN" --cache-dir "$TREE" -q --no-scan)
    for ((r = 0; r <= REPS; r++)); do
        log "$RUNS runs: repetition $r/$REPS"
        ref="$("$PY" "$ROOT/scripts/bench/ref_bench.py" frames "$TREE/registry.db" "$WORK/ref.parquet" --min-reps 1)"
        rm -f "$WORK/runs.parquet"
        t_parquet="$(seconds "${RRC[@]}" export "$WORK/runs.parquet")"
        OUT="$WORK/out.json"; t_json="$(seconds "${RRC[@]}" ls --status completed --json)"
        OUT="$WORK/out.jsonl"; t_jsonl="$(seconds "${RRC[@]}" ls --status completed --jsonl)"
        OUT="$WORK/out.csv"; t_csv="$(seconds "${RRC[@]}" ls --status completed --csv)"
        OUT=/dev/null
        ((r == 0)) && continue
        REF[parquet]+="$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["to_parquet"]["median_s"])' <<< "$ref") "
        REF[completed]+="$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["status_completed_all"]["median_s"])' <<< "$ref") "
        RR[parquet]+="$t_parquet "; RR[json]+="$t_json "; RR[jsonl]+="$t_jsonl "; RR[csv]+="$t_csv "
    done
    rm -f "$WORK/runs.parquet"
    rss_parquet="$(peak_mib "${RRC[@]}" export "$WORK/runs.parquet")"
    rss_json="$(peak_mib "${RRC[@]}" ls --status completed --json)"
    rss_jsonl="$(peak_mib "${RRC[@]}" ls --status completed --jsonl)"
    rss_csv="$(peak_mib "${RRC[@]}" ls --status completed --csv)"
    med() { tr ' ' '\n' <<< "$1" | grep . | median; }
    ref_parquet="$(med "${REF[parquet]}")"; ref_completed="$(med "${REF[completed]}")"
    row() { # name ref rr rss
        awk -v runs="$RUNS" -v n="$1" -v a="$2" -v b="$3" -v m="$4" \
            'BEGIN { printf "| %d | %s | %.3f s | %.3f s | %.1fx | %s MiB |\n", runs, n, a, b, a / b, m }'
    }
    {
        row '`export runs.parquet` vs `to_dataframe().to_parquet()`' "$ref_parquet" "$(med "${RR[parquet]}")" "$rss_parquet"
        row '`ls --status completed --json > file` vs `query(status="completed")`' "$ref_completed" "$(med "${RR[json]}")" "$rss_json"
        row '`... --jsonl > file` vs the same' "$ref_completed" "$(med "${RR[jsonl]}")" "$rss_jsonl"
        row '`... --csv > file` vs the same' "$ref_completed" "$(med "${RR[csv]}")" "$rss_csv"
    } >> "$TABLE"
    unset RR REF
    rm -rf "$TREE"
done
cat "$TABLE"
