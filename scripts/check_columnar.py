"""Reads runreg's Parquet and Arrow exports with DuckDB, Polars, pyarrow and
pandas, and checks every value against `runreg ls --json`: NaN and +-inf
kept as floats, missing keys null (never NaN), integers as integers, tags
as lists, non-ASCII text intact.

    python3 scripts/check_columnar.py path/to/runreg

Needs duckdb, polars, pyarrow and pandas (.ci/run installs them in a
virtual environment). Exits 1 with the first difference found.
"""

import datetime
import json
import math
import os
import subprocess
import sys
import tempfile

import duckdb
import pandas as pd
import polars as pl
import pyarrow.feather as feather
import pyarrow.parquet as pq

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def write_tree(cache_dir):
    """Sidecars as Python's json.dump writes them (NaN, Infinity tokens)."""
    runs = [
        {
            "run_id": "r1", "status": "completed", "created_at": 1795000000.5,
            "updated_at": 1795000600.0, "ended_at": 1795000600.0,
            "tags": [f"tag-{i}-ß" for i in range(60)] + ["データ"],
            "notes": "héllo\nwörld, \"quoted\"",
            "hparams": {"optim.lr": 0.1, "seed": 1, "name": "ünïcødé",
                        "pretrained": True, "mix": 1},
            "summary": {"val_acc": math.nan, "loss": math.inf},
            "checkpoint_path": "/ckpt/r1.ckpt",
            "config": {"optim": {"name": "sgd", "lr": math.nan}},
        },
        {
            "run_id": "r2", "status": "failed", "created_at": 1795000100.0,
            "updated_at": 1795000200.0, "tags": ["sweep:1"],
            "hparams": {"optim.lr": 1, "seed": 2, "pretrained": False,
                        "mix": "one"},
            "summary": {"val_acc": 0.5, "loss": -math.inf, "extra": None},
        },
        {
            "run_id": "r3", "status": "running", "created_at": 1795000200.0,
            "updated_at": 1795000300.0, "tags": [], "hparams": {},
            "summary": {"val_acc": 0.25},
        },
    ]
    for i, run in enumerate(runs):
        run_dir = os.path.join(cache_dir, "runs", "20261201", f"12000{i}", run["run_id"])
        os.makedirs(run_dir)
        run = dict(run, schema_version=1, run_dir=run_dir)
        with open(os.path.join(run_dir, "sidecar.json"), "w") as f:
            json.dump(run, f, indent=2)


def fail(message):
    print(f"check_columnar: {message}", file=sys.stderr)
    sys.exit(1)


def same(got, want, where):
    """`got` (from a reader) against `want` (from ls --json)."""
    if isinstance(want, str) and want in NON_FINITE:
        want = NON_FINITE[want]
    missing = got is None or got is pd.NA or (
        hasattr(pd, "NaT") and got is pd.NaT)
    if want is None:
        if not missing:
            fail(f"{where}: {got!r}, expected null")
        return
    if missing:
        fail(f"{where}: null, expected {want!r}")
    if isinstance(want, float) and math.isnan(want):
        if not (isinstance(got, float) and math.isnan(got)):
            fail(f"{where}: {got!r}, expected NaN")
        return
    if isinstance(want, bool) or isinstance(got, bool):
        if bool(got) != want or not isinstance(got, bool):
            fail(f"{where}: {got!r}, expected {want!r}")
        return
    if isinstance(want, list):
        got = list(got)
    if got != want:
        fail(f"{where}: {got!r}, expected {want!r}")


def expected_rows(runreg, cache_dir):
    out = subprocess.run([runreg, "--cache-dir", cache_dir, "ls", "--json"],
                         check=True, capture_output=True, text=True).stdout
    return {run["run_id"]: run for run in json.loads(out)}


def cell(run, column):
    if column.startswith(("hparams.", "summary.")):
        section, key = column.split(".", 1)
        return run[section].get(key)
    if column in ("created_at", "updated_at", "ended_at"):
        # As runreg rounds: half away from zero (Python's round() goes to even).
        return None if run[column] is None else math.floor(run[column] * 1e6 + 0.5)
    return run[column]


def micros(value):
    """A reader's timestamp as microseconds since the epoch (UTC)."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if hasattr(value, "value") and hasattr(value, "tz"):  # pandas.Timestamp: nanoseconds
        return value.value // 1000
    if isinstance(value, datetime.datetime):
        return (value - EPOCH) // datetime.timedelta(microseconds=1)
    return value


def check_records(name, records, columns, runs, decode_json_columns, int_columns):
    if len(records) != len(runs):
        fail(f"{name}: {len(records)} rows, expected {len(runs)}")
    for record in records:
        run = runs[record["run_id"]]
        for column in columns:
            got = record[column]
            where = f"{name}: {column} of {record['run_id']}"
            if column in ("created_at", "updated_at", "ended_at"):
                got = micros(got)
            if column == "config" or column in decode_json_columns:
                got = None if got is None else json.loads(got)
            if column in int_columns and got is not None and not isinstance(got, int):
                fail(f"{where}: {got!r} ({type(got).__name__}), expected an integer")
            same(got, cell(run, column), where)


def main():
    runreg = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as cache_dir:
        write_tree(cache_dir)
        parquet = os.path.join(cache_dir, "runs.parquet")
        arrow = os.path.join(cache_dir, "runs.arrow")
        for path in (parquet, arrow):
            subprocess.run([runreg, "--cache-dir", cache_dir, "-q", "export", path], check=True)
        runs = expected_rows(runreg, cache_dir)

        table = pq.read_table(parquet)
        columns = table.column_names
        # Columns of mixed kinds hold JSON text; so does a key holding only nulls.
        json_columns = {"hparams.mix", "summary.extra"}
        int_columns = {f.name for f in table.schema if str(f.type) == "int64"}
        if int_columns != {"hparams.seed"}:
            fail(f"int64 columns: {sorted(int_columns)}, expected hparams.seed alone")
        if str(table.schema.field("summary.val_acc").type) != "double":
            fail(f"summary.val_acc is {table.schema.field('summary.val_acc').type}")
        if str(table.schema.field("hparams.seed").type) != "int64":
            fail(f"hparams.seed is {table.schema.field('hparams.seed').type}")

        check_records("pyarrow parquet", table.to_pylist(), columns, runs, json_columns,
                      int_columns)
        check_records("pyarrow feather", feather.read_table(arrow).to_pylist(), columns, runs,
                      json_columns, int_columns)
        check_records("polars", pl.read_parquet(parquet).to_dicts(), columns, runs, json_columns,
                      int_columns)
        frame = pd.read_parquet(parquet, dtype_backend="pyarrow")
        check_records("pandas (pyarrow dtypes)", frame.to_dict("records"), columns, runs,
                      json_columns, int_columns)

        con = duckdb.connect()
        rel = con.execute(f"select * from read_parquet('{parquet}')")
        names = [d[0] for d in rel.description]
        check_records("duckdb", [dict(zip(names, row)) for row in rel.fetchall()], columns, runs,
                      json_columns, int_columns)
        # NaN and null apart, in SQL too.
        nan, null = con.execute(
            f"select count(*) filter (where isnan(\"summary.val_acc\")),"
            f" count(*) filter (where \"summary.loss\" is null)"
            f" from '{parquet}'").fetchone()
        if (nan, null) != (1, 1):
            fail(f"duckdb: {nan} NaN val_acc and {null} null loss, expected 1 and 1")
        arrow_table = feather.read_table(arrow)
        rows = con.execute(
            "select count(*) from arrow_table where list_contains(tags, 'データ')").fetchone()[0]
        if rows != 1:
            fail(f"duckdb over the Arrow file: {rows} runs tagged データ, expected 1")
    print("check_columnar: duckdb, polars, pyarrow and pandas read every value as runreg ls --json")


if __name__ == "__main__":
    main()
