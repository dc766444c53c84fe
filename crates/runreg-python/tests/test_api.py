"""Every function, argument and error of the runreg package, on the
repository's example tree (36 runs)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import threading
import time
from pathlib import Path

import pytest

import runreg
from conftest import EXAMPLE_RUNS


def sidecars(cache_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(cache_dir.glob("runs/**/sidecar.json"))]


def write_run(cache_dir: Path, run_id: str, **fields) -> Path:
    run_dir = cache_dir / "runs" / "20261201" / "120000" / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "sidecar.json").write_text(json.dumps({"run_id": run_id, **fields}))
    return run_dir


@pytest.fixture
def reg(cache_dir):
    with runreg.open_registry(cache_dir=cache_dir) as reg:
        yield reg


# ---------------------------------------------------------------- opening


def test_open_registry_scans_and_counts_every_run(cache_dir):
    reg = runreg.open_registry(cache_dir=cache_dir)
    assert len(reg) == len(sidecars(cache_dir)) == 36
    assert repr(reg) == f"Registry(db_path='{cache_dir / 'registry.redb'}', runs=36)"
    assert reg.db_path == cache_dir / "registry.redb"
    assert reg.cache_dir == cache_dir
    assert isinstance(reg, runreg.Registry)


def test_cache_dir_positional_is_db_path_as_in_the_reference(cache_dir):
    reg = runreg.open_registry(cache_dir / "mine.redb", cache_dir=cache_dir)
    assert reg.db_path == cache_dir / "mine.redb"
    assert (cache_dir / "mine.redb").exists()
    assert len(reg) == 36


def test_the_references_registry_db_is_never_opened_or_changed(cache_dir):
    db = cache_dir / "registry.db"
    db.write_bytes(b"SQLite format 3\x00 not really")
    os.utime(db, (1_000_000_000, 1_000_000_000))
    before = (db.read_bytes(), db.stat().st_mtime_ns)
    reg = runreg.open_registry(db, cache_dir=cache_dir)
    assert reg.db_path == cache_dir / "registry.redb"
    assert len(reg.query()) == 36
    reg.scan(full=True)
    assert (db.read_bytes(), db.stat().st_mtime_ns) == before


def test_cache_dir_comes_from_the_environment_in_order(cache_dir, tmp_path, monkeypatch):
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.delenv("RUNREG_CACHE_DIR", raising=False)
    monkeypatch.setenv("SPT_CACHE_DIR", str(cache_dir))
    assert len(runreg.open_registry()) == 36
    monkeypatch.setenv("RUNREG_CACHE_DIR", str(other))
    assert runreg.open_registry().cache_dir == other.resolve()
    assert len(runreg.open_registry()) == 0


def test_no_cache_dir_anywhere_is_a_value_error_naming_every_source(monkeypatch):
    monkeypatch.delenv("RUNREG_CACHE_DIR", raising=False)
    monkeypatch.delenv("SPT_CACHE_DIR", raising=False)
    with pytest.raises(ValueError) as error:
        runreg.open_registry()
    message = str(error.value)
    for source in ["cache_dir", "spt.set(cache_dir=...)", "RUNREG_CACHE_DIR", "SPT_CACHE_DIR"]:
        assert source in message


def test_stable_pretrainings_configured_cache_dir_is_used(cache_dir, monkeypatch):
    import sys
    import types

    config = types.SimpleNamespace(cache_dir=str(cache_dir))
    spt = types.ModuleType("stable_pretraining")
    spt_config = types.ModuleType("stable_pretraining._config")
    spt_config.get_config = lambda: config
    monkeypatch.setitem(sys.modules, "stable_pretraining", spt)
    monkeypatch.setitem(sys.modules, "stable_pretraining._config", spt_config)
    monkeypatch.setenv("RUNREG_CACHE_DIR", "/nonexistent")
    assert runreg.open_registry().cache_dir == cache_dir


def test_a_missing_cache_dir_is_file_not_found_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        runreg.open_registry(cache_dir=tmp_path / "nowhere")


def test_scan_false_answers_from_the_cache_as_it_is(cache_dir):
    runreg.open_registry(cache_dir=cache_dir).close()
    write_run(cache_dir, "newrun")
    assert len(runreg.open_registry(cache_dir=cache_dir, scan=False)) == 36
    assert len(runreg.open_registry(cache_dir=cache_dir, scan_ttl_s=0)) == 37


def test_scan_ttl_skips_a_recent_scan_in_this_process(cache_dir):
    runreg.open_registry(cache_dir=cache_dir)
    write_run(cache_dir, "newrun")
    assert len(runreg.open_registry(cache_dir=cache_dir, scan_ttl_s=3600)) == 36
    assert len(runreg.open_registry(cache_dir=cache_dir, scan_ttl_s=0.0)) == 37


def test_scan_returns_its_report_as_a_dict(reg, cache_dir):
    report = reg.scan()
    assert report["full"] is False and report["upserted"] == 0
    assert report["total_sidecars"] == 36 and report["skipped_unchanged"] == 36
    write_run(cache_dir, "newrun")
    (cache_dir / "runs" / "bad").mkdir()
    (cache_dir / "runs" / "bad" / "sidecar.json").write_text("{not json")
    report = reg.scan(full=True)
    assert report["full"] is True
    assert report["upserted"] >= 1 and report["skipped_invalid"] == 1
    assert report["invalid"][0]["path"].endswith("bad/sidecar.json")
    assert set(report) == {
        "full", "total_sidecars", "upserted", "skipped_unchanged", "skipped_invalid",
        "dirs_read", "orphaned", "duplicates", "errors", "invalid", "rebuilt",
        "cache_written", "elapsed_s",
    }
    assert len(reg) == 37


# ---------------------------------------------------------------- records


def test_run_record_has_the_references_fields_plus_ended_at(reg, cache_dir):
    truth = {s["run_id"]: s for s in sidecars(cache_dir)}
    for run in reg.query():
        s = truth[run.run_id]
        assert run.status == s["status"]
        assert run.created_at == s["created_at"] and run.updated_at == s["updated_at"]
        assert run.ended_at == s.get("ended_at")
        assert run.hparams == s["hparams"]
        assert run.tags == s["tags"] and run.notes == s["notes"]
        assert run.checkpoint_path == s["checkpoint_path"]
        assert run.config == s.get("config", {})
        assert Path(run.run_dir).parent.parent.parent == cache_dir / "runs"
        assert isinstance(run.alive, bool)
        for k, v in s["summary"].items():
            assert run.summary[k] == v or (math.isnan(v) and math.isnan(run.summary[k]))


def test_run_record_is_immutable_equal_and_reprs_its_fields(reg):
    run = reg.query(limit=1)[0]
    for field in ["run_id", "status", "hparams", "summary", "tags", "ended_at", "nope"]:
        with pytest.raises(AttributeError):
            setattr(run, field, 1)
    again = reg.get(run.run_id)
    assert run == again and not (run != again) and run is not again
    other = reg.query(offset=1, limit=1)[0]
    assert run != other
    assert run != "not a record"
    with pytest.raises(TypeError):
        hash(run)
    text = repr(run)
    assert text.startswith(f"RunRecord(run_id={run.run_id!r}, status={run.status!r}, ")
    assert f"hparams={run.hparams!r}" in text and text.endswith(f"ended_at={run.ended_at!r})")
    # The dicts are built once, then kept.
    assert run.hparams is run.hparams and run.summary is run.summary


def test_run_record_is_built_from_its_fields_and_pickles(reg):
    import pickle

    run = reg.query(status="completed", limit=1)[0]
    fields = ["run_id", "status", "created_at", "updated_at", "alive", "run_dir",
              "checkpoint_path", "config", "hparams", "summary", "tags", "notes"]
    built = runreg.RunRecord(*[getattr(run, f) for f in fields], ended_at=run.ended_at)
    assert built == run and repr(built) == repr(run)
    assert runreg.RunRecord(**{f: getattr(run, f) for f in fields}).ended_at is None
    again = pickle.loads(pickle.dumps(run))
    assert again == run and again is not run and again.hparams == run.hparams
    with pytest.raises(TypeError, match="keys must be str"):
        runreg.RunRecord(*[getattr(run, f) for f in fields[:8]], {1: 2}, {}, [], "")


def test_a_nan_summary_equals_itself_read_again(cache_dir):
    write_run(cache_dir, "diverged", status="failed", summary={"loss": float("nan")})
    reg = runreg.open_registry(cache_dir=cache_dir)
    a, b = reg["diverged"], reg["diverged"]
    assert math.isnan(a.summary["loss"]) and a == b


# ---------------------------------------------------------------- lookups


def test_get_getitem_and_key_error(reg):
    run_id = reg.query(limit=1)[0].run_id
    assert reg.get(run_id).run_id == run_id == reg[run_id].run_id
    assert reg.get("no-such-run") is None
    with pytest.raises(KeyError) as error:
        reg["no-such-run"]
    assert error.value.args == ("no-such-run",)


def settle(path: Path) -> None:
    """Sets a file's mtime a minute back, as if last written then."""
    old = path.stat().st_mtime - 60
    os.utime(path, (old, old))


def test_lookups_by_id_are_remembered_while_the_cache_file_is_unchanged(reg, cache_dir):
    run = reg.query(status="completed", limit=1)[0]
    settle(reg.db_path)
    first = reg.get(run.run_id)
    hits = reg._lookups_from_memory
    assert reg[run.run_id] == first == run and reg.get("no-such-run") is None
    assert reg.get("no-such-run") is None
    assert reg._lookups_from_memory == hits + 2
    # A scan that writes the cache changes its stamp: the next answer is new.
    sidecar = Path(run.run_dir) / "sidecar.json"
    data = json.loads(sidecar.read_text())
    data["status"], data["notes"] = "failed", "rerun"
    sidecar.write_text(json.dumps(data))
    assert reg.scan()["upserted"] == 1
    changed = reg.get(run.run_id)
    assert (changed.status, changed.notes) == ("failed", "rerun")
    # A cache written within the racy window is never trusted.
    hits = reg._lookups_from_memory
    assert reg.get(run.run_id) == changed
    assert reg._lookups_from_memory == hits


def test_a_run_given_again_from_memory_has_alive_judged_at_each_call(cache_dir):
    # A running run whose heartbeat goes stale 2 s from now (the reference's
    # timeout is 180 s): the cache keeps the heartbeat time, not `alive`.
    run_dir = write_run(cache_dir, "fading", status="running")
    (run_dir / "heartbeat").touch()
    beat = time.time() - 178
    os.utime(run_dir / "heartbeat", (beat, beat))
    reg = runreg.open_registry(cache_dir=cache_dir)
    settle(reg.db_path)
    first = reg.get("fading")  # read, then remembered
    hits = reg._lookups_from_memory
    again = reg["fading"]
    assert reg._lookups_from_memory == hits + 1
    if time.time() - beat >= 179:
        pytest.skip("the machine was too slow to see the run alive")
    assert first.alive and again.alive and again == first
    time.sleep(max(0.0, beat + 180.5 - time.time()))
    stale = reg.get("fading")
    assert reg._lookups_from_memory == hits + 2
    assert not stale.alive and stale.status == "running"
    # Records already returned keep the `alive` of their call, and two
    # records differing only in `alive` are not equal.
    assert first.alive and again.alive and stale != again
    assert [r.run_id for r in reg.query(alive=False)].count("fading") == 1


def test_close_and_with(cache_dir):
    with runreg.open_registry(cache_dir=cache_dir) as reg:
        assert len(reg) == 36
        settle(reg.db_path)
        run_id = reg.query(limit=1)[0].run_id
        hits = reg._lookups_from_memory
        assert reg[run_id] == reg[run_id] and reg._lookups_from_memory == hits + 1
    with pytest.raises(runreg.RunregError, match="closed"):
        len(reg)
    # Even a run given from memory (which needs no file) is not.
    with pytest.raises(runreg.RunregError, match="closed"):
        reg.get(run_id)
    with pytest.raises(runreg.RunregError, match="closed"):
        reg.query()
    assert "closed" in repr(reg)
    reg.close()  # twice is fine


# ---------------------------------------------------------------- queries


def ids(runs):
    return [r.run_id for r in runs]


def test_every_query_argument(reg, cache_dir):
    truth = sidecars(cache_dir)
    by_new = sorted(truth, key=lambda s: (-s["created_at"], s["run_id"]))
    assert ids(reg.query()) == [s["run_id"] for s in by_new]
    assert ids(reg.query(tag="vit_s")) == [s["run_id"] for s in by_new if "vit_s" in s["tags"]]
    assert ids(reg.query(tag="vit")) == []  # exact, never a substring
    completed = [s["run_id"] for s in by_new if s["status"] == "completed"]
    assert ids(reg.query(status="completed")) == completed
    two = [s["run_id"] for s in by_new if s["status"] in ("failed", "running")]
    assert ids(reg.query(status=["failed", "running"])) == two
    assert ids(reg.query(status=("running", "failed"))) == two
    assert all(not r.alive for r in reg.query(alive=False))
    assert len(reg.query(alive=False)) + len(reg.query(alive=True)) == 36
    lr = truth[0]["hparams"]["optim.lr"]
    want = [s["run_id"] for s in by_new if s["hparams"].get("optim.lr") == lr]
    assert ids(reg.query(hparams={"optim.lr": lr})) == want
    assert ids(reg.query(hparams={"optim.lr": lr}, limit=1)) == want[:1]


def test_sorting_descending_ascending_and_several_keys(reg):
    runs = reg.query(sort_by="summary.val_acc")
    accs = [r.summary.get("val_acc") for r in runs]
    present = [a for a in accs if a is not None and not math.isnan(a)]
    assert present == sorted(present, reverse=True)
    assert accs[: len(present)] == present  # missing and NaN last
    runs = reg.query(sort_by="summary.val_acc", descending=False)
    accs = [r.summary.get("val_acc") for r in runs]
    assert accs[: len(present)] == sorted(present)
    multi = reg.query(sort_by=["hparams.data.batch_size:desc", "created_at:asc"])
    keys = [(-r.hparams.get("data.batch_size", -1), r.created_at) for r in multi]
    assert keys == sorted(keys)
    # A suffix wins over `descending`.
    assert ids(reg.query(sort_by="created_at:asc", descending=True)) == ids(
        reg.query(sort_by="created_at", descending=False)
    )
    dotted = reg.query(sort_by="hparams.optim.lr", descending=False)
    lrs = [r.hparams["optim.lr"] for r in dotted if "optim.lr" in r.hparams]
    assert lrs == sorted(lrs)


def test_limit_offset_and_where(reg):
    every = ids(reg.query(sort_by="run_id", descending=False))
    assert ids(reg.query(sort_by="run_id", descending=False, offset=5, limit=3)) == every[5:8]
    assert reg.query(limit=0) == []
    assert ids(reg.query(offset=40)) == []
    good = reg.query(where="summary.val_acc > 0.9 and status = 'completed'")
    assert good and all(r.summary["val_acc"] > 0.9 and r.status == "completed" for r in good)
    assert len(good) == len(
        [r for r in reg.query(status="completed") if r.summary.get("val_acc", 0) > 0.9]
    )
    assert ids(reg.query(where="tags has 'vit_s'")) == ids(reg.query(tag="vit_s"))


def test_bad_arguments_raise_clear_errors(reg):
    with pytest.raises(ValueError, match=r"(?s)at column 18\n.*\^"):
        reg.query(where="summary.val_acc >> 1")
    with pytest.raises(ValueError, match="tags"):
        reg.query(sort_by="tags")
    with pytest.raises(ValueError, match="nope"):
        reg.query(sort_by="nope")
    with pytest.raises(ValueError, match="limit must be >= 0"):
        reg.query(limit=-1)
    with pytest.raises(ValueError, match="offset"):
        reg.query(offset=-2)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        reg.query(colour="red")
    with pytest.raises(TypeError, match="tag must be a str"):
        reg.query(tag=3)
    with pytest.raises(TypeError, match="hparams must be a dict"):
        reg.query(hparams=[("a", 1)])
    with pytest.raises(TypeError, match="alive must be a bool"):
        reg.query(alive="yes")
    with pytest.raises(TypeError):
        reg.query("positional")
    with pytest.raises(ValueError):
        reg.to_arrow(where="(")
    with pytest.raises(ValueError):
        reg.to_dataframe(where="(")


# ---------------------------------------------------------------- columns


def test_to_arrow_is_read_by_pyarrow_polars_and_duckdb(reg):
    pa = pytest.importorskip("pyarrow")
    pl = pytest.importorskip("polars")
    duckdb = pytest.importorskip("duckdb")
    answer = reg.to_arrow(status="completed", sort_by="summary.val_acc")
    want = ids(reg.query(status="completed", sort_by="summary.val_acc"))
    assert len(answer) == answer.num_rows == len(want)
    assert repr(answer) == f"RunTable(rows={len(want)}, columns={len(answer.column_names)})"
    table = pa.table(answer)
    assert table.column("run_id").to_pylist() == want
    assert table.column_names == answer.column_names
    assert pl.DataFrame(answer)["run_id"].to_list() == want
    # Read twice: the capsule is made afresh each time.
    assert pa.table(answer).num_rows == len(want)
    rel = duckdb.sql("select run_id from answer")
    assert [row[0] for row in rel.fetchall()] == want
    assert pa.table(reg.to_arrow(tag="no-such-tag")).num_rows == 0


def test_to_polars(reg):
    pl = pytest.importorskip("polars")
    frame = reg.to_polars(tag="vit_s", sort_by="created_at")
    assert isinstance(frame, pl.DataFrame)
    assert frame["run_id"].to_list() == ids(reg.query(tag="vit_s", sort_by="created_at"))


def test_to_dataframe_columns_and_dtypes(reg):
    pd = pytest.importorskip("pandas")
    frame = reg.to_dataframe(sort_by="run_id", descending=False)
    runs = reg.query(sort_by="run_id", descending=False)
    assert list(frame.columns[:9]) == [
        "run_id", "status", "alive", "created_at", "updated_at",
        "run_dir", "checkpoint_path", "tags", "notes",
    ]
    assert frame["run_id"].tolist() == ids(runs)
    assert frame["alive"].dtype == bool and frame["created_at"].dtype == "float64"
    assert frame["tags"].tolist() == [r.tags for r in runs]
    assert frame["hparams.data.batch_size"].dtype == "int64"
    assert frame["summary.val_acc"].dtype == "float64"
    hp = sorted({k for r in runs for k in r.hparams})
    sm = sorted({k for r in runs for k in r.summary})
    assert list(frame.columns[9:]) == [f"hparams.{k}" for k in hp] + [f"summary.{k}" for k in sm]
    assert reg.to_dataframe(tag="no-such-tag").equals(pd.DataFrame())


def test_to_dataframe_infers_like_pandas_from_rows(cache_dir):
    pd = pytest.importorskip("pandas")
    write_run(cache_dir, "z1", hparams={"i": 1, "f": 1, "b": True, "m": 1, "n": None, "s": "x"})
    write_run(cache_dir, "z2", hparams={"i": 2, "f": 2.5, "b": False, "m": "a"})
    write_run(cache_dir, "z3", hparams={"i": 3, "b": True, "m": 2.0, "n": 1, "s": "y"})
    reg = runreg.open_registry(cache_dir=cache_dir)
    runs = reg.query(tag=None, where="run_id ~ 'z*'", sort_by="run_id", descending=False)
    rows = [{f"hparams.{k}": v for k, v in r.hparams.items()} for r in runs]
    want = pd.DataFrame(rows)
    got = reg.to_dataframe(where="run_id ~ 'z*'", sort_by="run_id", descending=False)
    pd.testing.assert_frame_equal(got[sorted(want.columns)], want[sorted(want.columns)])


def test_metrics_history(reg, cache_dir):
    csv = next(cache_dir.glob("runs/**/metrics.csv"))
    run_id = json.loads((csv.parent / "sidecar.json").read_text())["run_id"]
    history = reg.metrics(run_id)
    assert history and all(isinstance(p, tuple) and len(p) == 2 for s in history.values() for p in s)
    header = csv.read_text().splitlines()[0].split(",")
    assert set(history) <= set(header)
    with pytest.raises(KeyError):
        reg.metrics("no-such-run")
    csv.unlink()
    with pytest.raises(FileNotFoundError, match="metrics.csv"):
        reg.metrics(run_id)


# ---------------------------------------------------------------- concurrency


def test_threads_share_a_registry(reg):
    want = ids(reg.query(sort_by="summary.val_acc"))
    errors, answers = [], []

    def work():
        try:
            for _ in range(20):
                answers.append(ids(reg.query(sort_by="summary.val_acc")))
                reg.scan()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(answers) == 80 and all(a == want for a in answers)


def fork_checked(check) -> int:
    """Forks; the child exits 0 when `check()` is true, 2 when false, 1 when
    it raises. Returns the child's exit code (see `wait_for_child`)."""
    import warnings

    with warnings.catch_warnings():
        # Python warns that forking a threaded process may deadlock: that is
        # what the callers check does not happen.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if check() else 2
        finally:
            os._exit(code)
    return wait_for_child(pid)


def wait_for_child(pid: int) -> int:
    """The exit code of child `pid`; a failure when it hangs 30 s."""
    deadline = time.monotonic() + 30
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("a forked child hung on a lock taken by its parent's thread")
        time.sleep(0.01)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_threads_and_forks_share_the_lookups_by_id(reg):
    # Answers from memory hold the GIL and no file; answers read from the
    # cache release it: threads mixing both, and forks meanwhile, get right
    # answers and leave a child nothing locked.
    settle(reg.db_path)
    runs = {r.run_id: r for r in reg.query()}
    stop, errors = threading.Event(), []

    def look_up(name: str):
        n = 0
        try:
            while not stop.is_set():
                for run_id, run in runs.items():
                    assert reg[run_id] == run
                n += 1
                assert reg.get(f"absent-{name}-{n}") is None  # never asked: read
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=look_up, args=(str(i),)) for i in range(2)]
    for t in threads:
        t.start()
    try:
        for i in range(5):

            def child_sees_the_runs(i=i):
                ok = all(reg[run_id] == run for run_id, run in runs.items())
                return ok and reg.get(f"absent-child-{i}") is None

            assert fork_checked(child_sees_the_runs) == 0
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors
    assert reg._lookups_from_memory > len(runs)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_uses_the_parents_registry(reg, cache_dir):
    want = len(reg.query(status="completed"))
    write_run(cache_dir, "child-sees-this", status="completed")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a DataLoader worker
        try:
            reg.scan()
            got = len(reg.query(status="completed"))
            os.write(write, str(got).encode())
        finally:
            os._exit(0)
    os.close(write)
    got = int(os.read(read, 100).decode() or -1)
    os.waitpid(pid, 0)
    assert got == want + 1
    assert len(reg.query(status="completed")) == want + 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forks_while_another_thread_queries_leave_the_child_nothing_locked(reg):
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            reg.query(sort_by="summary.val_acc")

    worker = threading.Thread(target=busy)
    worker.start()
    try:
        for _ in range(5):

            def child_scans_and_queries():
                reg.scan()
                found = len(reg.query()) == 36
                reg.close()
                return found

            assert fork_checked(child_scans_and_queries) == 0
    finally:
        stop.set()
        worker.join()


def test_the_stub_names_every_public_method():
    stub = (Path(runreg.__file__).parent / "_runreg.pyi").read_text()
    for name in [
        "def query", "def get", "def to_arrow", "def scan", "def metrics", "def close",
        "def __len__", "def __getitem__", "def __enter__", "class RunRecord", "class RunTable",
        "def __arrow_c_stream__", "ended_at",
    ]:
        assert name in stub
    init = (Path(runreg.__file__).parent / "__init__.py").read_text()
    assert "def to_dataframe" in init and "def to_polars" in init
    assert (Path(runreg.__file__).parent / "py.typed").exists()
