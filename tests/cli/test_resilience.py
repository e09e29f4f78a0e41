"""Nothing lost, nothing recomputed: the cache, checkpoints, kills, concurrency, --jobs, start-up.

Killed runs are real processes (the stage commands and the driver) sent real signals.
"""

import collections
import errno
import glob
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers import BIN, EXAMPLES, ROOT, command_env, numbers, pipe, run, without_override
from hokusai_preview.core.bundle import Bundle
from hokusai_preview.core.cache import KINDS as CACHE_STAGES
from hokusai_preview.core.cache import Cache, read_entry

DRIVER = os.path.join(ROOT, "bin", "hokusai-preview")
STAGES = ("load", "sample", "train", "eval", "delta")
HEAVY = {"pandas", "sklearn", "scipy", "skops"}


def env_for(cache):
    return command_env(HP_CACHE_DIR=str(cache))


def chain(data, bundle, **extra):
    """load | sample | train | eval | delta in-process, each with its extra options; asserts success."""
    results = pipe(("hp-load", data, "--baseline-model", bundle) + extra.get("load", ()),
                   ("hp-sample",) + extra.get("sample", ()), ("hp-train",) + extra.get("train", ()),
                   ("hp-eval",), ("hp-delta",) + extra.get("delta", ()))
    for result in results:
        assert result.code == 0, result
    return results


def statuses(results):
    return results[-1].records[0]["cache"]


def output(results):
    return numbers(results[-1].records[0]["output"])


def arrays(training):
    with np.load(training["predictions_path"]) as stored:
        return {name: stored[name] for name in stored.files}


def same_training(a, b):
    first, second = arrays(a), arrays(b)
    assert sorted(first) == sorted(second)
    for name in first:
        assert np.array_equal(first[name], second[name]), name
    for field in ("trees", "stop_reason", "convergence"):
        assert a[field] == b[field], field
    # How a run came by its trees (grown, or read back from a checkpoint) is not its result.
    assert strip_resumed(a["learning_curve"]) == strip_resumed(b["learning_curve"])


def strip_resumed(curve):
    return [{k: v for k, v in point.items() if k != "resumed_trees"} for point in curve]


def checkpoint_trees(cache):
    """{checkpoint key: trees saved} from the cache's checkpoint entries."""
    found = {}
    for path in glob.glob(os.path.join(str(cache), "checkpoint", "*", "*", "entry.json")):
        try:
            with open(path) as handle:
                found[os.path.basename(os.path.dirname(path))] = json.load(handle)["record"]["trees"]
        except (OSError, ValueError):
            continue  # being replaced right now
    return found


def wait_for_checkpoint(cache, trees, process, timeout=300):
    """Block until some checkpoint holds at least ``trees`` trees (the run is mid-training)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        saved = max(checkpoint_trees(cache).values(), default=0)
        if saved >= trees:
            return saved
        if process.poll() is not None:
            raise AssertionError("the run ended before it could be interrupted: %r" % (process.communicate(),))
        time.sleep(0.01)
    raise AssertionError("no checkpoint of %d trees after %d s" % (trees, timeout))


def interruptible():
    """preexec_fn: SIGINT as a terminal's job has it. A suite run in the background (`make test &`)
    inherits SIGINT ignored, and a child that starts with it ignored keeps it so: Ctrl-C would
    never reach the run the test interrupts."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def leftovers(cache):
    return [path for path, _size, alive in Cache(str(cache)).leftovers() if not alive]


# --- re-runs and invalidation -----------------------------------------------------------------


def test_a_rerun_reuses_every_stage_and_trains_nothing(example_csv, bundles, cache_dir):
    bundle, _ = bundles("hpc")
    first = chain(example_csv, bundle)
    training = first[2].records[0]["training"]
    files = [training["model_path"], training["predictions_path"]] + glob.glob(
        os.path.join(str(cache_dir), "checkpoint", "*", "*", "*"))
    stamps = {path: os.stat(path).st_mtime_ns for path in files}
    second = chain(example_csv, bundle)
    assert statuses(second) == {stage: "hit" for stage in STAGES}
    assert "grew" not in second[2].stderr and "reused cached train result" in second[2].stderr
    assert {path: os.stat(path).st_mtime_ns for path in files} == stamps  # no file written again
    assert output(second) == output(first)


@pytest.mark.parametrize("stage,extra,recomputed", [
    ("sample", {"sample": ("--sample-size", "500")}, ("sample", "train", "eval", "delta")),
    ("train", {"train": ("--round-size", "5")}, ("train", "eval", "delta")),
    ("train", {"train": ("--seed", "7")}, ("train", "eval", "delta")),
    ("delta", {"delta": ("--bootstrap", "200")}, ("delta",)),
])
def test_a_changed_option_recomputes_exactly_the_stages_downstream(example_csv, bundles, stage, extra, recomputed):
    bundle, _ = bundles("hpc")
    chain(example_csv, bundle)
    changed = chain(example_csv, bundle, **extra)
    assert statuses(changed) == {s: "miss" if s in recomputed else "hit" for s in STAGES}
    # Another seed retrains the baseline's recipe too (like for like), and the output says so.
    out = changed[-1].records[0]["output"]
    seeded = [w for w in out["preview_metadata"]["warnings"] if w.startswith("with --seed")]
    if "--seed" in extra.get("train", ()):
        accuracy = out["baseline_model"]["metrics"]["accuracy"]
        assert seeded == ["with --seed 7 (the bundle's model was trained with 42) the baseline is the recipe "
                          "retrained with seed 7, so that both models share it: its accuracy is %.4f, the shipped "
                          "model's %.4f" % (accuracy, Bundle.open(bundle).manifest["metrics"]["accuracy"])]
    else:
        assert seeded == []
    again = chain(example_csv, bundle, **extra)
    assert statuses(again) == {s: "hit" for s in STAGES}


def test_changed_data_at_the_same_path_recomputes_everything(bundles, tmp_path):
    bundle, _ = bundles("hpc")
    data = tmp_path / "contribution.csv"
    with open(os.path.join(EXAMPLES, "hpc_jobs_1000.csv")) as handle:
        lines = handle.readlines()
    data.write_text("".join(lines[:-1]))
    chain(str(data), bundle)
    data.write_text("".join(lines))  # one more row
    assert statuses(chain(str(data), bundle)) == {s: "miss" for s in STAGES}


def test_a_moved_cache_is_reused_where_it_is_now(example_csv, bundles, cache_dir, monkeypatch):
    # The full-disk hint says to move the cache; its entries' records must follow it.
    bundle, _ = bundles("hpc")
    first = chain(example_csv, bundle)
    moved = cache_dir.parent / "moved"
    os.rename(str(cache_dir), str(moved))
    monkeypatch.setenv("HP_CACHE_DIR", str(moved))
    again = chain(example_csv, bundle)
    assert statuses(again) == {stage: "hit" for stage in STAGES}
    assert output(again) == output(first)
    training = again[2].records[0]["training"]
    assert training["model_path"].startswith(str(moved) + os.sep) and os.path.isfile(training["model_path"])
    changed = chain(example_csv, bundle, train=("--seed", "7"))  # stages downstream read the moved files
    assert statuses(changed) == {s: "miss" if s in ("train", "eval", "delta") else "hit" for s in STAGES}


def test_no_cache_prints_and_keeps_what_it_computed(example_csv, bundles, cache_dir):
    bundle, _ = bundles("hpc")
    chain(example_csv, bundle)
    delta = glob.glob(os.path.join(str(cache_dir), "delta", "*", "*", "entry.json"))
    assert len(delta) == 1
    before = os.stat(delta[0]).st_ino
    again = chain(example_csv, bundle, delta=("--no-cache",))
    assert statuses(again)["delta"] == "miss"
    after = glob.glob(os.path.join(str(cache_dir), "delta", "*", "*", "entry.json"))
    assert after == delta and os.stat(after[0]).st_ino != before  # the new entry took the key
    with open(after[0]) as handle:
        assert numbers(json.load(handle)["record"]["output"]) == output(again)


# --- damaged entries --------------------------------------------------------------------------


def _flip(path):
    with open(path, "r+b") as handle:
        handle.seek(os.path.getsize(path) // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))


def _truncate(path):
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) // 2)


def _garbage(path):
    with open(path, "w") as handle:
        handle.write("{\"record\": ")


@pytest.mark.parametrize("stage,name,damage,recomputed", [
    ("load", "contribution.parquet", _truncate, "load"),
    ("train", "predictions.npz", _flip, "train"),
    ("train", "model.skops", os.unlink, "train"),
    ("reference", "reference.npy", _flip, "train"),  # hard-linked into the train entry
    ("eval", "entry.json", _garbage, "eval"),
    ("delta", "entry.json", _truncate, "delta"),
])
def test_a_damaged_cache_entry_is_detected_and_rebuilt(example_csv, bundles, cache_dir, stage, name, damage,
                                                       recomputed):
    bundle, _ = bundles("hpc")
    first = chain(example_csv, bundle)
    (entry,) = [e for e in Cache(str(cache_dir)).entries() if e["stage"] == stage]
    damage(os.path.join(entry["path"], name))
    second = chain(example_csv, bundle)
    assert statuses(second) == {s: "miss" if s == recomputed else "hit" for s in STAGES}
    assert "the cached %s result %s was damaged" % (stage, entry["key"][:12]) in second[STAGES.index(recomputed)].stderr
    assert output(second) == output(first)
    for entry in Cache(str(cache_dir)).entries():
        read_entry(entry["path"])  # everything in the cache verifies again


def test_a_saved_record_whose_cached_files_are_damaged_is_refused(example_csv, bundles, cache_dir):
    bundle, _ = bundles("hpc")
    results = chain(example_csv, bundle)
    train = results[2].stdout
    _flip(results[2].records[0]["training"]["predictions_path"])
    Cache(str(cache_dir)).clear(stage="eval")
    result = run("hp-eval", stdin=train)
    assert result.code == 2 and result.stdout == ""
    assert len(result.err_lines) == 1 and "gone or damaged" in result.stderr and "hp-load" in result.stderr


# --- kills and checkpoints --------------------------------------------------------------------


@pytest.fixture(scope="module")
def big(bundles, tmp_path_factory):
    """A contribution whose full training takes long enough to be interrupted, and its records."""
    bundle, rest = bundles("hpc")
    folder = tmp_path_factory.mktemp("resilience")
    data = str(folder / "contribution.csv")
    rest.sample(n=3000, replace=True, random_state=3).to_csv(data, index=False)
    cache = str(folder / "cache")
    load = run("hp-load", "--cache-dir", cache, "--baseline-model", bundle, data)
    sample = run("hp-sample", "--cache-dir", cache, stdin=load.stdout)
    assert load.code == sample.code == 0, (load, sample)
    record = str(folder / "sample.jsonl")
    with open(record, "w") as handle:
        handle.write(sample.stdout)
    whole = run("hp-train", "--cache-dir", str(folder / "cache-whole"), "--full", "--round-size", "5", record)
    assert whole.code == 0, whole
    return {"bundle": bundle, "data": data, "record": record, "folder": folder,
            "uninterrupted": whole.records[0]["training"]}


EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -signal.SIGKILL}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_an_interrupted_training_resumes_from_its_checkpoint_with_identical_results(big, cache_dir, signum):
    argv = [os.path.join(BIN, "hp-train"), "--full", "--round-size", "5", big["record"]]
    process = subprocess.Popen(argv, env=env_for(cache_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=interruptible)
    wait_for_checkpoint(cache_dir, 10, process)
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    assert process.returncode == EXIT[signum], err
    assert out == b""
    assert [e for e in Cache(str(cache_dir)).entries() if e["stage"] == "train"] == []
    if signum != signal.SIGKILL:
        assert leftovers(cache_dir) == []  # cleaned up on the way out
        assert len(err.decode().splitlines()) == 1
    saved = max(checkpoint_trees(cache_dir).values())
    assert 10 <= saved < 100

    resumed = run("hp-train", "--full", "--round-size", "5", big["record"])
    assert resumed.code == 0, resumed
    training = resumed.records[0]["training"]
    assert training["resumed_trees"] == saved
    assert "has 100 of 100 trees (%d from a checkpoint an earlier run on the same rows left, %d grown now)" % (
        saved, 100 - saved) in resumed.stderr
    same_training(training, big["uninterrupted"])
    assert leftovers(cache_dir) == []  # a killed run's staging directory is removed by the next one


def test_a_full_runs_checkpoint_serves_a_later_preview(example_csv, bundles, tmp_path):
    bundle, _ = bundles("hpc")
    sample = pipe(("hp-load", example_csv, "--baseline-model", bundle), ("hp-sample",))[-1]
    alone = run("hp-train", "--cache-dir", str(tmp_path / "alone"), stdin=sample.stdout)
    full = run("hp-train", "--full", stdin=sample.stdout)
    assert full.records[0]["training"]["resumed_trees"] == 0
    preview = run("hp-train", stdin=sample.stdout)  # needs fewer trees: all from the checkpoint
    training = preview.records[0]["training"]
    assert training["resumed_trees"] == training["trees"] < training["full_trees"]
    same_training(training, alone.records[0]["training"])


def test_a_larger_sample_continues_from_the_forests_of_a_smaller_one(example_csv, bundles, tmp_path):
    # The learning curve's sub-samples are hp-sample's smaller samples of the same file: the half
    # of 500 rows is the sample of 250, the quarter that sample's half. Their training rows are
    # the same, so their trees come from the checkpoints the smaller run left.
    bundle, _ = bundles("hpc")
    loaded = run("hp-load", example_csv, "--baseline-model", bundle)
    small = pipe(("hp-sample", "--sample-size", "250"), ("hp-train",), stdin=loaded.stdout)[-1]
    larger = pipe(("hp-sample", "--sample-size", "500"), ("hp-train",), stdin=loaded.stdout)[-1]
    alone = pipe(("hp-sample", "--sample-size", "500"), ("hp-train", "--cache-dir", str(tmp_path / "alone")),
                 stdin=loaded.stdout)[-1]
    for result in (small, larger, alone):
        assert result.code == 0, result
    before, after = small.records[0]["training"], larger.records[0]["training"]
    points = {(p["rows"], p["complement"]): p for p in after["learning_curve"]}
    earlier = {(p["rows"], p["complement"]): p for p in before["learning_curve"]}
    assert points[(250, False)]["fitted_rows"] == earlier[(250, False)]["fitted_rows"]  # the same rows
    assert points[(125, False)]["fitted_rows"] == earlier[(125, False)]["fitted_rows"]
    assert points[(250, False)]["resumed_trees"] == min(before["trees"], after["trees"]) > 0
    assert points[(125, False)]["resumed_trees"] == min(before["trees"], after["trees"])
    assert points[(250, True)]["resumed_trees"] == 0 and after["resumed_trees"] == 0  # rows no earlier run had
    assert "learning curve: 3 of its 4 forests from checkpoints of earlier runs" in larger.stderr
    assert "trees on the base rows alone" in larger.stderr and " on 0 rows" not in larger.stderr
    same_training(after, alone.records[0]["training"])  # the same numbers as a run that grew every tree


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name)
def test_a_killed_preview_leaves_nothing_a_later_run_trusts(big, cache_dir, signum):
    argv = [DRIVER, "--data-path", big["data"], "--baseline-model", big["bundle"], "--full", "--output-format",
            "json", "--quiet"]
    process = subprocess.Popen(argv, env=env_for(cache_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True, preexec_fn=interruptible)
    wait_for_checkpoint(cache_dir, 10, process)
    os.killpg(process.pid, signum)  # what Ctrl-C (or a kill of the whole job) does
    out, err = process.communicate(timeout=120)
    assert process.returncode != 0 and out == b""
    if signum == signal.SIGINT:  # every stage got it; the driver alone says so
        assert err.decode().splitlines() == [
            "hokusai-preview: error: interrupted; no partial output or cache entry is left"]
        assert process.returncode == 130
    cache = Cache(str(cache_dir))
    published = {e["stage"] for e in cache.entries()}
    assert not published & {"train", "eval", "delta"}
    for entry in cache.entries():
        read_entry(entry["path"])  # whatever was published is complete

    rerun = subprocess.run(argv, env=env_for(cache_dir), capture_output=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr
    if "driver" not in big:  # the same run, never interrupted, in a cache of its own
        whole = subprocess.run(argv, env=env_for(big["folder"] / "cache-driver"), capture_output=True, timeout=900)
        assert whole.returncode == 0, whole.stderr
        big["driver"] = numbers(json.loads(whole.stdout))
    assert numbers(json.loads(rerun.stdout)) == big["driver"]
    assert leftovers(cache_dir) == []


def children(pid):
    """The processes whose parent is ``pid`` (from /proc: Linux)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % entry) as handle:
                if int(handle.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found


def driver_in_training(big, cache_dir, output):
    """The driver on a --full run writing ``output``, once hp-train has checkpointed: (process,
    its stages still running: hp-train and those after it, the ones before having ended)."""
    argv = [DRIVER, "--data-path", big["data"], "--baseline-model", big["bundle"], "--full", "--output-format",
            "json", "--output-file", str(output), "--quiet"]
    process = subprocess.Popen(argv, env=env_for(cache_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=interruptible)
    wait_for_checkpoint(cache_dir, 10, process)
    stages = children(process.pid)
    assert stages
    return process, stages


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_to_the_driver_alone_stops_every_stage_and_writes_nothing(big, cache_dir, tmp_path, signum):
    # kill PID, Popen.terminate() and supervisors signal the driver alone, not its process group.
    output = tmp_path / "out.json"
    process, stages = driver_in_training(big, cache_dir, output)
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    assert (process.returncode, out) == (EXIT[signum], b"")
    assert err.decode().splitlines() == ["hokusai-preview: error: %s; no partial output or cache entry is left"
                                         % ("interrupted" if signum == signal.SIGINT else "terminated")]
    for stage in stages:  # ended before the driver: none is left to finish and write
        with pytest.raises(ProcessLookupError):
            os.kill(stage, 0)
    assert not output.exists()
    assert not {e["stage"] for e in Cache(str(cache_dir)).entries()} & {"train", "eval", "delta"}
    assert leftovers(cache_dir) == []


def test_a_driver_killed_outright_leaves_no_stage_to_write_its_output(big, cache_dir, tmp_path):
    # SIGKILL runs no trap: the stages end because each asked for a signal at its parent's death.
    output = tmp_path / "out.json"
    process, stages = driver_in_training(big, cache_dir, output)
    process.kill()
    process.communicate(timeout=60)
    deadline = time.monotonic() + 60
    while any(_alive(stage) for stage in stages) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(stage) for stage in stages)
    assert not output.exists()
    assert not {e["stage"] for e in Cache(str(cache_dir)).entries()} & {"train", "eval", "delta"}
    assert leftovers(cache_dir) == []


def test_a_driver_killed_while_its_stages_start_leaves_none_to_write_its_output(big, cache_dir, tmp_path):
    # Killed before a stage has asked for a signal at its parent's death, there is no parent left
    # to ask about: the stage must see that its driver has gone, and end.
    output = tmp_path / "out.json"
    argv = [DRIVER, "--data-path", big["data"], "--baseline-model", big["bundle"], "--full", "--output-format",
            "json", "--output-file", str(output), "--quiet"]
    process = subprocess.Popen(argv, env=env_for(cache_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=interruptible)
    deadline = time.monotonic() + 30
    stages = []
    while len(stages) < 7 and time.monotonic() < deadline:  # forked, still starting Python
        stages = children(process.pid)
    process.kill()
    process.communicate(timeout=60)
    assert len(stages) == 7
    deadline = time.monotonic() + 90
    while any(_alive(stage) for stage in stages) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(stage) for stage in stages)
    assert not output.exists()
    assert leftovers(cache_dir) == []


def _alive(pid):
    """Whether ``pid`` still runs (a zombie, ended and waiting to be reaped by init, does not)."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_two_runs_at_once_share_the_cache_and_print_the_same_numbers(example_csv, bundles, cache_dir):
    bundle, _ = bundles("hpc")
    argv = [DRIVER, "--data-path", example_csv, "--baseline-model", bundle, "--output-format", "json"]
    runs = [subprocess.Popen(argv, env=env_for(cache_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)]
    outputs = [process.communicate(timeout=900) for process in runs]
    for process, (_out, err) in zip(runs, outputs):
        assert process.returncode == 0, err
    first, second = (json.loads(out) for out, _err in outputs)
    assert numbers(first) == numbers(second)
    entries = list(Cache(str(cache_dir)).entries())
    assert set(collections.Counter(e["stage"] for e in entries).values()) == {1}  # computed once, shared
    for entry in entries:
        read_entry(entry["path"])
    assert leftovers(cache_dir) == []


def test_a_tiny_cache_cap_never_breaks_a_running_pipeline(example_csv, bundles, cache_dir, monkeypatch):
    bundle, _ = bundles("hpc")
    monkeypatch.setenv("HP_CACHE_MAX_BYTES", "1")
    chain(example_csv, bundle)  # every entry is over the cap, but in use: kept until the run is over
    result = run("hp-cache", "--max-bytes", "0", "--json")
    assert result.code == 0, result
    assert json.loads(result.stdout)["entry_count"] == 0


# --- early stopping and --jobs ----------------------------------------------------------------


def test_early_stopping_grows_fewer_trees_and_says_why(example_csv, bundles, cache_dir):
    bundle, _ = bundles("hpc")
    results = chain(example_csv, bundle)
    training = results[2].records[0]["training"]
    assert training["stop_reason"] == "converged"
    assert training["trees"] < training["full_trees"]
    assert training["convergence"] and training["convergence"][-1]["trees"] == training["trees"]
    assert list(checkpoint_trees(cache_dir).values()) == [training["trees"]]  # no tree grown beyond the stop
    full = run("hp-train", "--full", stdin=results[1].stdout)
    assert full.code == 0, full
    grown = full.records[0]["training"]
    assert grown["trees"] == grown["full_trees"] and grown["stop_reason"] == "full_budget_requested"
    assert grown["resumed_trees"] == training["trees"]


def test_one_or_two_cores_give_the_same_forest(example_csv, bundles, tmp_path):
    from hokusai_preview.core.modelfile import load_model

    bundle, _ = bundles("hpc")
    sample = pipe(("hp-load", example_csv, "--baseline-model", bundle), ("hp-sample", "--sample-size", "500"))[-1]
    trained = {}
    for jobs in ("1", "2"):
        result = run("hp-train", "--jobs", jobs, "--cache-dir", str(tmp_path / jobs), stdin=sample.stdout)
        assert result.code == 0, result
        trained[jobs] = result.records[0]["training"]
        assert load_model(trained[jobs]["model_path"])[-1].n_jobs == int(jobs)
    same_training(trained["1"], trained["2"])



def test_a_cache_on_a_filesystem_without_locks_is_one_line_and_exit_7(example_csv, bundles, cache_dir, monkeypatch):
    import fcntl  # the cache locks with it (POSIX)
    bundle, _ = bundles("hpc")

    def flock(handle, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))  # e.g. NFS without a lock daemon

    monkeypatch.setattr(fcntl, "flock", flock)
    result = run("hp-load", "--baseline-model", bundle, example_csv)
    assert result.code == 7 and result.stdout == "", result
    assert len(result.err_lines) == 1 and "Traceback" not in result.stderr, result
    assert str(cache_dir) in result.stderr and "HP_CACHE_DIR" in result.stderr

# --- start-up ---------------------------------------------------------------------------------

PROBE = ("import importlib, json, sys\n"
         "module, name = sys.argv[1].split(':')\n"
         "code = getattr(importlib.import_module(module), name)().main(sys.argv[3:])\n"
         "with open(sys.argv[2], 'w') as handle:\n"
         "    json.dump(sorted({m.split('.')[0] for m in sys.modules}), handle)\n"
         "sys.exit(code)\n")


def imported(command, argv, stdin, cache, tmp_path):
    from helpers import COMMANDS

    report = str(tmp_path / (command + ".modules.json"))
    result = subprocess.run([sys.executable, "-c", PROBE, COMMANDS[command], report] + list(argv), input=stdin,
                            env=env_for(cache), capture_output=True, timeout=600)
    assert result.returncode == 0, result.stderr
    with open(report) as handle:
        return set(json.load(handle)), result


WINDOW_PROBE = ("import importlib, json, sys\n"
                "from hokusai_preview.core import prefetch\n"
                "seen = {}\n"
                "def extensions():\n"
                "    return {n for n, m in list(sys.modules.items())\n"
                "            if str(getattr(m, '__file__', '')).endswith('.so')}\n"
                "prefetch.start = lambda modules, delay=0: seen.setdefault('start', extensions())\n"
                "prefetch.wait = prefetch.cancel = lambda: seen.setdefault('wait', extensions())\n"
                "module, name = sys.argv[1].split(':')\n"
                "command = getattr(importlib.import_module(module), name)()\n"
                "command.prefetching = True\n"
                "code = command.main(sys.argv[3:])\n"
                "with open(sys.argv[2], 'w') as handle:\n"
                "    json.dump(sorted(seen['wait'] - seen['start']), handle)\n"
                "sys.exit(code)\n")


def test_no_stage_loads_a_c_extension_while_its_background_imports_may_run(example_csv, bundles, tmp_path):
    # Between the start of the background imports and wait(), a dlopen in the main thread can
    # deadlock with them (core/prefetch.py): hp-train hung so on Python 3.8, loading fcntl.
    from helpers import COMMANDS

    bundle, _ = bundles("hpc")
    results = chain(example_csv, bundle, sample=("--sample-size", "500"))
    fresh = str(tmp_path / "fresh-cache")  # each stage computes (a cache miss takes a lock: fcntl)
    for command, upstream in (("hp-sample", results[0]), ("hp-train", results[1]), ("hp-eval", results[2]),
                              ("hp-delta", results[3])):
        report = str(tmp_path / (command + ".window.json"))
        done = subprocess.run([sys.executable, "-c", WINDOW_PROBE, COMMANDS[command], report], capture_output=True,
                              input=upstream.stdout.encode(), env=env_for(fresh), timeout=600)
        assert done.returncode == 0, done.stderr
        assert b'"miss"' in done.stdout
        with open(report) as handle:
            assert json.load(handle) == [], command


def test_light_stages_never_import_pandas_or_scikit_learn(example_csv, bundles, tmp_path, cache_dir):
    bundle, _ = bundles("hpc")
    results = chain(example_csv, bundle)
    fresh = tmp_path / "fresh-cache"  # each stage computes, from the records above
    cases = [("hp-sample", ("--sample-size", "500"), results[0], HEAVY),
             ("hp-eval", (), results[2], HEAVY), ("hp-delta", (), results[3], HEAVY),
             ("hp-format", ("--output-format", "pretty"), results[4], HEAVY | {"pyarrow"})]
    for command, argv, upstream, forbidden in cases:
        modules, result = imported(command, argv, upstream.stdout.encode(), fresh, tmp_path)
        assert "miss" in result.stdout.decode() or command == "hp-format"
        assert not modules & forbidden, (command, sorted(modules & forbidden))


def test_a_cached_stage_imports_nothing_heavy(example_csv, bundles, tmp_path, cache_dir):
    bundle, _ = bundles("hpc")
    results = chain(example_csv, bundle)
    assert run("hp-check", stdin=results[0].stdout).code == 0
    inputs = {"hp-load": ("", ("--baseline-model", bundle, example_csv)), "hp-check": (results[0].stdout, ()),
              "hp-sample": (results[0].stdout, ()), "hp-train": (results[1].stdout, ()),
              "hp-eval": (results[2].stdout, ()), "hp-delta": (results[3].stdout, ())}
    for command, (stdin, argv) in inputs.items():
        modules, result = imported(command, argv, stdin.encode(), cache_dir, tmp_path)
        assert b'"hit"' in result.stdout
        assert not modules & HEAVY, (command, sorted(modules & HEAVY))


# --- hp-cache ---------------------------------------------------------------------------------


def test_hp_cache_shows_trims_and_clears(example_csv, bundles, cache_dir):
    bundle, _ = bundles("hpc")
    chain(example_csv, bundle)
    info = json.loads(run("hp-cache", "--json", "--entries").stdout)
    assert info["path"] == str(cache_dir)
    assert {name: s["entries"] for name, s in info["stages"].items()} == {
        "checkpoint": 1, "delta": 1, "eval": 1, "load": 1, "bundle-check": 1, "reference": 1, "sample": 1, "train": 1}
    assert set(info["stages"]) | {"check"} == set(CACHE_STAGES)
    bogus = run("hp-cache", "--clear", "--stage", "trian")
    assert bogus.code == 2 and bogus.err_lines == [
        "hp-cache: error: --stage 'trian' is not a cache stage; give one of %s" % ", ".join(CACHE_STAGES)]
    assert info["bytes"] == sum(e["bytes"] for e in info["entries"]) > 0
    text = run("hp-cache").stdout
    assert str(cache_dir) in text and "train" in text and "entries" in text

    cleared = run("hp-cache", "--clear", "--stage", "train")
    assert cleared.code == 0 and "removed" in cleared.stderr
    assert "train" not in json.loads(run("hp-cache", "--json").stdout)["stages"]
    assert statuses(chain(example_csv, bundle))["train"] == "miss"
    assert run("hp-cache", "--clear", "--quiet").code == 0
    assert json.loads(run("hp-cache", "--json").stdout)["entry_count"] == 0


def test_a_cap_a_read_only_cache_cannot_meet_is_its_one_error_line(example_csv, bundles, cache_dir):
    bundle, _ = bundles("hpc")
    env = env_for(cache_dir)
    assert run("hp-load", example_csv, "--baseline-model", bundle).code == 0
    folders = [root for root, _, _ in os.walk(str(cache_dir))]
    for folder in folders:
        os.chmod(folder, 0o555)
    try:
        capped = subprocess.run(without_override() + [os.path.join(BIN, "hp-cache"), "--max-bytes", "1"], env=env,
                                capture_output=True, text=True)
        assert capped.returncode == 7 and capped.stdout == "", capped
        assert len(capped.stderr.splitlines()) == 1 and "more than 1 B: some entries cannot be removed" in \
            capped.stderr, capped.stderr  # no "evicted 0 entries" line before it
    finally:
        for folder in folders:
            os.chmod(folder, 0o755)


def test_an_unreadable_cache_folder_is_skipped_and_named(example_csv, bundles, cache_dir):
    """A folder of the cache that cannot be listed (another user's, chmod 000) must not fail a run
    that has published its result (the cap's eviction lists every entry), and hp-cache names it."""
    bundle, _ = bundles("hpc")
    env = env_for(cache_dir)
    stuck = cache_dir / "eval"
    stuck.mkdir(parents=True)
    stuck.chmod(0)
    try:
        loaded = subprocess.run(without_override() + [os.path.join(BIN, "hp-load"), example_csv, "--baseline-model",
                                                      bundle], env=env, capture_output=True, text=True)
        assert loaded.returncode == 0 and json.loads(loaded.stdout)["record"] == "load", loaded.stderr
        shown = subprocess.run(without_override() + [os.path.join(BIN, "hp-cache"), "--json"], env=env,
                               capture_output=True, text=True)
        assert shown.returncode == 0 and json.loads(shown.stdout)["stages"]["load"]["entries"] == 1
        assert shown.stderr.splitlines() == [
            "hp-cache: warning: cannot read %s: Permission denied; the entries in it are not counted" % stuck]
        cleared = subprocess.run(without_override() + [os.path.join(BIN, "hp-cache"), "--clear"], env=env,
                                 capture_output=True, text=True)  # what it cannot list, it cannot clear
        assert cleared.returncode == 7 and cleared.stderr.splitlines() == [
            "hp-cache: error: cannot clear %s: eval cannot be read (Permission denied); check the directory's "
            "permissions" % cache_dir]
        cache_dir.chmod(0)
        for action in ([], ["--clear"], ["--max-bytes", "1M"]):
            refused = subprocess.run(without_override() + [os.path.join(BIN, "hp-cache")] + action, env=env,
                                     capture_output=True, text=True)
            assert refused.returncode == 7 and refused.stdout == "" and refused.stderr.splitlines() == [
                "hp-cache: error: cannot read the cache %s: Permission denied; check the directory's permissions, "
                "or give --cache-dir another" % cache_dir], action
    finally:
        cache_dir.chmod(0o755)
        stuck.chmod(0o755)


@pytest.mark.parametrize("argv", [("--max-bytes", "lots"), ("--stage", "train"), ("--bogus",),
                                  ("--clear", "--stage", ""), ("--clear", "--stage", "bogus")])
def test_hp_cache_usage_errors_are_one_line(argv):
    result = run("hp-cache", *argv)
    assert result.code == 2 and result.stdout == "" and len(result.err_lines) == 1


def test_hp_cache_help_documents_every_option():
    result = run("hp-cache", "--help")
    assert result.code == 0
    for option in ("--clear", "--stage", "--max-bytes", "--entries", "--json", "--cache-dir", "HP_CACHE_MAX_BYTES"):
        assert option in result.stdout


# Prefetches in a fresh interpreter, then reports the nice value (field 19 of /proc/.../stat) of
# the main thread, of every thread the imports started, and of the thread importing the last module
# (the prefetch thread itself is left out: it may linger a moment after join).
NICE_PROBE = ("import json, os, sys, threading\n"
              "from hokusai_preview.core import prefetch\n"
              "def nice(tid):\n"
              "    with open('/proc/self/task/%s/stat' % tid) as handle:\n"
              "        return int(handle.read().rsplit(')', 1)[1].split()[16])\n"
              "before = set(os.listdir('/proc/self/task'))\n"
              "prefetch.start(sys.argv[1:] + ['hp_nice_probe'], delay=0)\n"
              "prefetch._thread.join()  # not wait(), which would cancel it before it starts\n"
              "import hp_nice_probe\n"
              "new = set(os.listdir('/proc/self/task')) - before - {str(prefetch._thread.native_id)}\n"
              "print(json.dumps({'main': nice(threading.get_native_id()), 'pools': [nice(t) for t in new],\n"
              "                  'rest': hp_nice_probe.NICE}))\n")


@pytest.mark.parametrize("modules", [("numpy",), ("scipy.stats",)])
def test_prefetching_leaves_no_blas_worker_at_low_priority(modules, tmp_path):
    # OpenBLAS starts its workers when numpy (or scipy.linalg) is loaded and they inherit the
    # loading thread's nice value: they must not be started by the reniced prefetch thread.
    (tmp_path / "hp_nice_probe.py").write_text(
        "import os, threading\nNICE = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())\n")
    # Two BLAS threads: a worker starts even on one CPU (per-thread nice values are read from /proc: Linux).
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path)] + sys.path), OPENBLAS_NUM_THREADS="2")
    for name in ("HP_PREFETCH", "OMP_NUM_THREADS"):
        env.pop(name, None)
    result = subprocess.run([sys.executable, "-c", NICE_PROBE] + list(modules), env=env, capture_output=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    nices = json.loads(result.stdout)
    assert nices["pools"] and nices["pools"] == [nices["main"]] * len(nices["pools"]), nices
    if nices["main"] < 10:
        assert nices["rest"] == 10, nices  # the other imports still run at low priority


@pytest.mark.parametrize("where", ["2>&-", "2>/dev/full"])
def test_a_stderr_that_cannot_take_messages_changes_no_result(example_csv, bundles, tmp_path, where):
    """Messages are not the output: with stderr closed or full, a good run still writes its
    record and exits 0, and a bad one still exits with its own status (not 1)."""
    bundle, _ = bundles("hpc")
    load = os.path.join(BIN, "hp-load")
    env = dict(os.environ, HP_CACHE_DIR=str(tmp_path / "cache"))
    good = subprocess.run(["bash", "-c", "%s %s --baseline-model %s %s" % (load, example_csv, bundle, where)],
                          capture_output=True, text=True, env=env)
    assert good.returncode == 0 and json.loads(good.stdout)["record"] == "load"
    bad = subprocess.run(["bash", "-c", "%s %s %s" % (load, tmp_path / "nope.csv", where)], capture_output=True,
                         text=True, env=env)
    assert (bad.returncode, bad.stdout) == (3, "")


def test_a_name_that_is_not_utf8_is_refused_in_one_line(example_csv, tmp_path):
    """A file name in another encoding reaches Python as lone surrogates, which no record can
    carry: refused (exit 2) naming it, not an internal error."""
    odd = os.path.join(os.fsencode(str(tmp_path)), b"donn\xe9es.csv")
    with open(odd, "wb") as handle:
        handle.write(open(example_csv, "rb").read())
    bin_dir = BIN
    env = dict(os.environ, HP_CACHE_DIR=str(tmp_path / "cache"))
    for argv in ([os.path.join(bin_dir, "hp-load"), odd],
                 [os.path.join(bin_dir, "hokusai-preview"), "--data-path", odd]):
        done = subprocess.run(argv, capture_output=True, env=env)
        assert (done.returncode, done.stdout) == (2, b"")
        assert done.stderr.decode().endswith("donn\\xe9es.csv is not UTF-8 text; rename it in UTF-8 "
                                             "(e.g. convmv -f latin1 -t utf8 --notest NAME)\n")
        assert len(done.stderr.splitlines()) == 1
    env["HP_CACHE_DIR"] = os.fsdecode(os.path.join(os.fsencode(str(tmp_path)), b"c\xffche"))
    done = subprocess.run([os.path.join(bin_dir, "hp-load"), example_csv], capture_output=True, env=env)
    assert done.returncode == 2 and b"the cache directory " in done.stderr
    assert not os.path.exists(os.fsencode(env["HP_CACHE_DIR"]))


def test_records_are_utf8_whatever_the_locale(example_csv, tmp_path):
    """Records and JSON are UTF-8 (RFC 8259) even under an ASCII locale; the report escapes what
    the terminal cannot show rather than failing."""
    named = tmp_path / "données.csv"
    named.write_bytes(open(example_csv, "rb").read())
    env = dict(os.environ, HP_CACHE_DIR=str(tmp_path / "cache"), PYTHONIOENCODING="ascii")
    driver = os.path.join(BIN, "hokusai-preview")
    done = subprocess.run([driver, "-q", "--data-path", str(named), "--output-format", "json"], capture_output=True,
                          env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.decode("utf-8"))["new_model"]["training_metadata"]["data_manifest"][
        "source_path"] == str(named)
    pretty = subprocess.run([driver, "-q", "--data-path", "données.csv"], capture_output=True, env=env,
                            cwd=str(tmp_path))
    assert pretty.returncode == 0 and b"contribution  donn\\xe9es.csv: 1,000 of 1,000 rows" in pretty.stdout
