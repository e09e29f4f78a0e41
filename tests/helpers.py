"""Shared test helpers: in-process command runs, schema validation, bundle building."""

import glob
import io
import json
import os
import shutil
import sys
from contextlib import contextmanager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMAS = os.path.join(ROOT, "schemas")
DATASETS = os.path.join(ROOT, "datasets")
EXAMPLES = os.path.join(ROOT, "examples")
BIN = os.path.dirname(os.path.abspath(sys.executable))  # the environment's bin: the hp-* commands beside its python


class Result:
    def __init__(self, code, stdout, stderr):
        self.code, self.stdout, self.stderr = code, stdout, stderr

    @property
    def records(self):
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    @property
    def err_lines(self):
        return [line for line in self.stderr.splitlines() if line.strip()]

    def __repr__(self):
        return "Result(code=%r, stdout=%r, stderr=%r)" % (self.code, self.stdout[:300], self.stderr[-600:])


class _Stream(io.TextIOWrapper):
    def isatty(self):
        return False


@contextmanager
def _redirected(stdin_bytes):
    saved = sys.stdin, sys.stdout, sys.stderr
    out, err = io.BytesIO(), io.BytesIO()
    sys.stdin = _Stream(io.BytesIO(stdin_bytes), encoding="utf-8")
    sys.stdout = _Stream(out, encoding="utf-8", write_through=True)
    sys.stderr = _Stream(err, encoding="utf-8", write_through=True)
    try:
        yield out, err
    finally:
        wrappers = sys.stdin, sys.stdout, sys.stderr
        sys.stdin, sys.stdout, sys.stderr = saved
        for wrapper in wrappers:
            wrapper.detach()  # keep the BytesIO readable after the wrapper is collected


def run(command, *argv, stdin=b""):
    """Run an hp-* command in-process, e.g. run("hp-load", path). Returns a Result."""
    cls = command_class(command)
    if isinstance(stdin, str):
        stdin = stdin.encode("utf-8")
    with _redirected(stdin) as (out, err):
        code = cls().main([str(a) for a in argv])
        sys.stdout.flush()
        sys.stderr.flush()
        stdout, stderr = out.getvalue(), err.getvalue()
    return Result(code, stdout.decode("utf-8"), stderr.decode("utf-8"))


def cache_files(cache_dir=None):
    """Files in a cache (``HP_CACHE_DIR`` by default: the test's own, empty at its start) but its
    lock files, kept by design (a run may be waiting on one): any entry, staged build or spooled
    input left behind shows."""
    root = str(cache_dir or os.environ["HP_CACHE_DIR"])
    found = []
    for directory, dirs, names in os.walk(root):
        if directory == root:
            dirs[:] = [d for d in dirs if d != ".locks"]
        found.extend(os.path.join(directory, n) for n in names)
    return found


def refused(result, code, *words, command=None, cache_dir=None):
    """The error line of a ``result`` refused as every command must refuse: exit ``code``,
    nothing on stdout, exactly one line on stderr (``<command>: error: ...`` naming ``words``),
    no traceback, and nothing left in the cache (``cache_dir``, default ``HP_CACHE_DIR``;
    ``False``: not checked, for a cache that held entries before)."""
    assert result.code == code, result
    assert result.stdout == "", result
    assert len(result.err_lines) == 1 and "Traceback" not in result.stderr, result
    line = result.err_lines[0]
    assert ": error: " in line and (command is None or line.startswith(command + ": error: ")), line
    for word in words:
        assert word in line, line
    if cache_dir is not False:
        assert cache_files(cache_dir) == []
    return line


def pipe(*steps, stdin=b""):
    """Run commands in sequence, each reading the previous one's stdout.

    ``steps`` are tuples (command, arg, ...). Returns the list of Results.
    """
    results = []
    data = stdin
    for step in steps:
        result = run(step[0], *step[1:], stdin=data)
        results.append(result)
        data = result.stdout.encode("utf-8")
    return results


COMMANDS = {
    "hp-load": "hokusai_preview.stages.load:Load",
    "hp-check": "hokusai_preview.stages.check:Check",
    "hp-sample": "hokusai_preview.stages.sample:Sample",
    "hp-train": "hokusai_preview.stages.train:Train",
    "hp-eval": "hokusai_preview.stages.eval:Eval",
    "hp-delta": "hokusai_preview.stages.delta:Delta",
    "hp-format": "hokusai_preview.stages.format:Format",
    "hp-baseline": "hokusai_preview.tools.baseline:Baseline",
    "hp-cache": "hokusai_preview.tools.cache:CacheCommand",
}


def command_class(name):
    import importlib

    module, cls = COMMANDS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def preview(data_path, *extra, bundle=None, fmt="json"):
    """The six stages in-process, as a hand-typed pipe chains them: without hp-check (which the
    driver runs), so that its diagnostics stay out of what these tests compare; returns the list
    of Results."""
    load = ("hp-load", "--data-path", data_path) + (("--baseline-model", bundle) if bundle else ())
    return pipe(load + tuple(a for a in extra if a.startswith("--label-column")),
                ("hp-sample",), ("hp-train",), ("hp-eval",), ("hp-delta",),
                ("hp-format", "--output-format", fmt))


_REGISTRY = None


def registry():
    global _REGISTRY
    if _REGISTRY is None:
        from referencing import Registry, Resource

        resources = []
        for path in glob.glob(os.path.join(SCHEMAS, "*.schema.json")):
            with open(path) as handle:
                schema = json.load(handle)
            resources.append((schema["$id"], Resource.from_contents(schema)))
        _REGISTRY = Registry().with_resources(resources)
    return _REGISTRY


def validate(instance, name):
    """Validate ``instance`` against schemas/<name>.schema.json (raises jsonschema.ValidationError)."""
    from jsonschema import Draft202012Validator, FormatChecker

    with open(os.path.join(SCHEMAS, name + ".schema.json")) as handle:
        schema = json.load(handle)
    Draft202012Validator(schema, registry=registry(), format_checker=FormatChecker()).validate(instance)


def numbers(output):
    """The deterministic part of an output document (drops timestamps, timings, cache status, paths)."""
    volatile = {"timestamp", "evaluation_timestamp", "time_elapsed", "evaluation_time_seconds", "cache",
                "fit_seconds", "timings"}

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in volatile}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(output)


# dataset: (base rows, benchmark rows) of the test bundles (conftest.bundles) and of the
# diagnostics' clean splits, as bin/check-false-alarms and bench/check.py split them too.
SPLIT_SIZES = {"hpc_data": (600, 1500), "wa_churn": (800, 1200), "credit_data": (800, 1200),
               "fine_food_reviews": (800, 1000), "lending_club": (1000, 1500)}


def read_dataset(dataset):
    """A shipped dataset (datasets/<dataset>.parquet) as a DataFrame, in its stored row order."""
    import pandas as pd

    return pd.read_parquet(os.path.join(DATASETS, dataset + ".parquet"))


def split_frame(frame, base_rows, bench_rows, seed):
    """(base, benchmark, the remaining rows): disjoint rows of ``frame`` shuffled with ``seed``."""
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    parts = (frame.iloc[:base_rows], frame.iloc[base_rows:base_rows + bench_rows], frame.iloc[base_rows + bench_rows:])
    return tuple(part.reset_index(drop=True) for part in parts)


def split_dataset(dataset, base_rows, bench_rows, seed):
    """(base, benchmark, the remaining rows): disjoint rows of a shipped dataset shuffled with ``seed``."""
    return split_frame(read_dataset(dataset), base_rows, bench_rows, seed)


def features_and_classes(frame, label="label"):
    """(features, classes) of a table for core/diagnostics/run.diagnose: every column but the label
    and the id columns (recipe.ID_COLUMNS) with the kind recipe.infer_kind gives it on ``frame``
    (text is told from its first rows: the same frame in another row order may differ), and the
    sorted label values as text."""
    from hokusai_preview.core.recipe import ID_COLUMNS, infer_kind

    features = [{"name": c, "kind": infer_kind(frame[c])} for c in frame.columns if c != label and c not in ID_COLUMNS]
    return features, sorted(set(frame[label].astype(str)))


def build_test_bundle(directory, dataset, base_rows, bench_rows, seed=7, keep_base=True, label="label",
                      model_id=None):
    """A real bundle from a shipped dataset: shuffled, first base_rows for training, next bench_rows
    for the benchmark. Returns (bundle path, the remaining rows as a DataFrame)."""
    from hokusai_preview.tools.baseline import Baseline, build_bundle

    base, bench, rest = split_dataset(dataset, base_rows, bench_rows, seed)
    args = {"--train-data": "base", "--benchmark-data": "bench", "--positive-class": None,
            "--primary-metric": "accuracy", "--model-id": model_id or os.path.basename(directory),
            "--output": directory}
    spec = Baseline().specify(base.copy(), bench.copy(), label, args)
    base[label] = base[label].astype(str)
    bench[label] = bench[label].astype(str)
    os.makedirs(directory)
    build_bundle(directory, base, bench, spec, 42, -1, keep_base=keep_base)
    return directory, rest


def command_env(bin_dir=BIN, **extra):
    """The environment to run the installed commands in: ``bin_dir`` first on PATH, no colours and
    no HP_BASELINE (a user's default bundle must not change what is measured or shown), plus ``extra``."""
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""), NO_COLOR="1", **extra)
    env.pop("HP_BASELINE", None)
    return env


def without_override():
    """Command prefix that makes file permissions bind: root ignores them unless its capabilities
    to override them are dropped (setpriv, util-linux); an ordinary user needs nothing."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv, "running as root: the unreadable-file case needs setpriv (util-linux) to drop CAP_DAC_OVERRIDE"
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]
