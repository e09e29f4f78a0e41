#!/usr/bin/env python3
"""The speed benchmark behind `make bench`: wall time and peak memory of the driver, cold and cached.

Usage: bench/speed.py [--repeat N] [--sizes N,N,...] [--no-big] [--readme] [--out DIR]

For each contribution size (default 1,000, 10,000, 100,000 and 1,000,000 rows) it writes a CSV
contribution into build/bench/ by resampling, with a fixed seed, the real rows of
datasets/hpc_data.parquet that the default baseline neither trains nor benchmarks on (8 short
columns: 36 MB at 1,000,000 rows). Unless --no-big, it adds the large file of issue 3: the
1,000,000-row, 0.94 GB CSV of bin/make-big-contribution (about 1 KB a row, with free text),
against a baseline hp-baseline builds from that script's base and benchmark tables. Then:

* cold: runs `hokusai-preview --data-path <csv>` --repeat times, each with a new empty cache;
* cached: runs it --repeat times more on the cache of the last cold run;
* per stage: runs the stages one after another (records through files) on an empty cache,
  then again on the filled one, timing each process from start to exit (the cached time is the
  stage's start-up: interpreter, imports, cache lookup), and hp-train once more with --full
  (early stopping's effect);
* at 10,000 rows, the cold runs again with HP_PREFETCH=0 (what core/prefetch.py saves).

Wall time is measured around the whole driver; CPU time is the user and system time of its
whole process tree, which other load on the machine inflates less than wall time.
Peak memory is the largest resident set of any
one process of the run (ru_maxrss of the waited-for process tree, what `/usr/bin/time -v`
reports), and, sampled every 50 ms from /proc, the largest sum over the pipeline's processes
alive at the same time (the stages of a pipe run concurrently). The README gets medians; every
run is kept in build/bench/results.json. With --readme the table replaces the text between the
`<!-- bench:start -->` and `<!-- bench:end -->` markers of README.md.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))  # the datasets' splits the tests use

# bench/ is on sys.path when this script runs.
from readme import write_between  # noqa: E402

from helpers import BIN, command_env, split_dataset  # noqa: E402

DRIVER = os.path.join(ROOT, "bin", "hokusai-preview")
SIZES = (1000, 10000, 100000, 1000000)
# The driver's stages in order (hp-check only where installed).
STAGES = tuple(s for s in ("load", "check", "sample", "train", "eval", "delta", "format")
               if os.path.exists(os.path.join(BIN, "hp-" + s)))
PREFETCH_SIZE = 10000
BIG_ROWS = 1000000
REQUIREMENT_SECONDS = 300.0  # "under 5 minutes for 10,000 samples"
SEED = 20261127
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def contribution_rows():
    """Rows of the shipped dataset outside the default baseline's base and benchmark tables."""
    import importlib.machinery
    import importlib.util

    path = os.path.join(ROOT, "bin", "make-default-data")
    loader = importlib.machinery.SourceFileLoader("make_default_data", path)
    spec = importlib.util.spec_from_loader("make_default_data", loader)
    split = importlib.util.module_from_spec(spec)
    loader.exec_module(split)  # reuse its seed and sizes: the same rows stay out of the baseline
    return split_dataset("hpc_data", split.BASE_ROWS, split.BENCHMARK_ROWS, split.SEED)[2]


def big_case(folder):
    """The large-file case of issue 3: a 1,000,000-row, 0.94 GB CSV (bin/make-big-contribution:
    real churn rows widened with ids, dates and review text) against a baseline built from the
    same generator's base and benchmark tables."""
    big = os.path.join(folder, "big")
    path = os.path.join(big, "churn_%d.csv" % BIG_ROWS)
    if not os.path.exists(path):
        subprocess.run([sys.executable, os.path.join(ROOT, "bin", "make-big-contribution"), big, "--rows",
                        str(BIG_ROWS)], check=True, stdout=subprocess.DEVNULL)
    bundle = os.path.join(big, "baseline")
    if not os.path.exists(os.path.join(bundle, "manifest.json")):
        subprocess.run([os.path.join(BIN, "hp-baseline"), "--quiet", "--force", "--model-id", "churn-bench",
                        "--train-data", os.path.join(big, "base.parquet"), "--benchmark-data",
                        os.path.join(big, "benchmark.parquet"), "--output", bundle], check=True)
    return {"name": "big", "rows": BIG_ROWS, "path": path, "baseline": ["--baseline-model", bundle],
            "label": "{:,} (%.2f GB, churn)".format(BIG_ROWS) % (os.path.getsize(path) / 1e9)}


def make_contribution(folder, rows, pool):
    path = os.path.join(folder, "hpc_contribution_%d.csv" % rows)
    if not os.path.exists(path):
        sample = pool.sample(n=rows, replace=True, random_state=SEED + rows)
        tmp = path + ".tmp"
        sample.to_csv(tmp, index=False)
        os.replace(tmp, path)
    return path


class TreeMemory(threading.Thread):
    """Samples the summed resident memory of a process and its descendants (Linux /proc)."""

    def __init__(self, pid, interval=0.05):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak, self.done = pid, interval, 0, False

    def run(self):
        while not self.done:
            self.peak = max(self.peak, tree_rss(self.pid))
            time.sleep(self.interval)


def tree_rss(root):
    children = {}
    total = 0
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return 0
    rss = {}
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(pid)
            rss[pid] = int(fields[21]) * resource.getpagesize()
        except (OSError, IndexError, ValueError):
            continue
    stack = [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, ()))
    return total


def measure(argv, env, stdin=None, stdout=None):
    """(wall seconds, max single-process RSS bytes, max summed tree RSS bytes, CPU seconds) of one run."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdin=stdin, stdout=stdout or subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    sampler = TreeMemory(process.pid)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    sampler.done = True
    sampler.join()
    stderr = process.stderr.read().decode("utf-8", "replace")
    process.stderr.close()
    process.returncode = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)
    if process.returncode != 0:
        raise SystemExit("benchmark run failed (%s): %s\n%s" % (process.returncode, " ".join(argv), stderr))
    cpu = usage.ru_utime + usage.ru_stime  # of the whole process tree: what an idle machine would need
    return wall, usage.ru_maxrss * 1024, max(sampler.peak, usage.ru_maxrss * 1024), cpu


def driver_runs(case, folder, repeat, env, cached_runs=True):
    argv = [DRIVER, "--data-path", case["path"], "--output-format", "json", "--quiet"] + case["baseline"]
    cold, cached = [], []
    cache = None
    for i in range(repeat):
        cache = os.path.join(folder, "cache-cold-%d" % i)
        shutil.rmtree(cache, ignore_errors=True)
        cold.append(measure(argv, dict(env, HP_CACHE_DIR=cache)))
    for _ in range(repeat if cached_runs else 0):
        cached.append(measure(argv, dict(env, HP_CACHE_DIR=cache)))
    for i in range(repeat):
        shutil.rmtree(os.path.join(folder, "cache-cold-%d" % i), ignore_errors=True)
    return cold, cached


def stage_runs(case, folder, env):
    """Each stage as its own process in sequence, cold then cached: {stage: (cold s, cached s)}."""
    cache = os.path.join(folder, "cache-stages")
    shutil.rmtree(cache, ignore_errors=True)
    env = dict(env, HP_CACHE_DIR=cache)
    times = {}
    for phase in ("cold", "cached"):
        previous = None
        for stage in STAGES:
            argv = [os.path.join(BIN, "hp-" + stage), "--quiet"]
            if stage == "load":
                argv += ["--data-path", case["path"]] + case["baseline"]
            if stage == "format":
                argv += ["--output-format", "json"]
            out_path = os.path.join(folder, "record.%s" % stage)
            with open(out_path, "wb") as out, (open(previous, "rb") if previous else open(os.devnull, "rb")) as inp:
                wall, _, _, cpu = measure(argv, env, stdin=inp, stdout=out)
            times.setdefault(stage, {})[phase] = wall
            times[stage][phase + "_cpu"] = cpu
            previous = out_path
    # Early stopping's effect: the same training at the full budget, also from an empty cache.
    with open(os.path.join(folder, "record.train")) as handle:
        trees = json.loads(handle.readline())["training"]["trees"]
    full_cache = os.path.join(folder, "cache-full")
    shutil.rmtree(full_cache, ignore_errors=True)
    with open(os.path.join(folder, "record.sample"), "rb") as inp:
        wall = measure([os.path.join(BIN, "hp-train"), "--quiet", "--full"], dict(env, HP_CACHE_DIR=full_cache),
                       stdin=inp)[0]
    times["train_full"] = {"cold": wall, "preview_trees": trees}
    shutil.rmtree(full_cache, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    return times


def machine():
    memory = 0
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "memory_bytes": memory, "cpu": cpu, "python": platform.python_version(),
            "system": platform.system(), "load_average_at_start": load_average()}


def load_average():
    """The 1-minute load average, None where the system has none."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def median(values):
    return statistics.median(values) if values else float("nan")


def summarise(results):
    rows = []
    for _name, result in sorted(results["cases"].items(), key=lambda kv: (kv[1]["rows"], kv[1]["file_bytes"])):
        cold, cached = result["cold"], result["cached"]
        rows.append({
            "rows": result["rows"],
            "label": result["label"],
            "cold_s": median([r[0] for r in cold]),
            "cold_cpu_s": median([r[3] for r in cold]),
            "cold_max_process_mb": max(r[1] for r in cold) / 2 ** 20,
            "cold_pipeline_mb": max(r[2] for r in cold) / 2 ** 20,
            "cached_s": median([r[0] for r in cached]),
            "cold_no_prefetch_s": median([r[0] for r in result["cold_no_prefetch"]])
            if result.get("cold_no_prefetch") else None,
            "cached_pipeline_mb": max(r[2] for r in cached) / 2 ** 20,
            "stages": result["stages"],
        })
    return rows


def table(results):
    info = results["machine"]
    lines = [
        "Measured %s on %s: %d cores (%s), %.0f GB RAM, Python %s; median of %d runs each; load average %.1f at "
        "the start, %.1f at the end (other work on the machine inflates the times); `make bench` regenerates it."
        % (results["date"], info["system"], info["nproc"], info["cpu"], info["memory_bytes"] / 1e9, info["python"],
           results["repeat"], info["load_average_at_start"] or 0.0, info.get("load_average_at_end") or 0.0),
        "",
        "| contributed rows | cold | cold, CPU time | cached | cold vs 5 min | peak memory, largest process "
        "| peak memory, whole pipe |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in summarise(results):
        lines.append("| %s | %.1f s | %.1f s | %.2f s | %.1f%% | %.0f MB | %.0f MB |" % (
            row["label"], row["cold_s"], row["cold_cpu_s"], row["cached_s"],
            100 * row["cold_s"] / REQUIREMENT_SECONDS, row["cold_max_process_mb"], row["cold_pipeline_mb"]))
    for row in summarise(results):
        if row["cold_no_prefetch_s"] is not None:
            lines += ["", "Without the background imports of `core/prefetch.py` (`HP_PREFETCH=0`), the %s-row cold run "
                      "takes %.1f s (median)." % (row["label"], row["cold_no_prefetch_s"])]
    lines += ["", "Per stage, each run as its own process in sequence (seconds; cold = empty cache, cached = the "
              "stage's start-up plus its cache lookup):", "",
              "| contributed rows | " + " | ".join("hp-" + s for s in STAGES) + " |",
              "|---:|" + "---:|" * len(STAGES)]
    for row in summarise(results):
        lines.append("| %s | %s |" % (row["label"], " | ".join(
            "%.1f / %.2f" % (row["stages"][s]["cold"], row["stages"][s]["cached"]) for s in STAGES)))
    lines += ["", "Early stopping (hp-train from an empty cache, the preview's trees against the full budget of "
              "100 with `--full`):", "", "| contributed rows | preview | trees grown | `--full` |",
              "|---:|---:|---:|---:|"]
    for row in summarise(results):
        full = row["stages"]["train_full"]
        lines.append("| %s | %.1f s | %d | %.1f s |" % (row["label"], row["stages"]["train"]["cold"],
                                                      full["preview_trees"], full["cold"]))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median reported)")
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES), help="contribution sizes, rows")
    parser.add_argument("--readme", action="store_true", help="write the table into README.md")
    parser.add_argument("--out", default=os.path.join(ROOT, "build", "bench"), help="work folder")
    parser.add_argument("--no-big", dest="big", action="store_false",
                        help="skip the 1 GB CSV (bin/make-big-contribution, with its own baseline)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    os.makedirs(args.out, exist_ok=True)
    env = command_env()
    results = {"date": datetime.date.today().isoformat(), "machine": machine(), "repeat": args.repeat, "cases": {}}
    pool = contribution_rows()
    cases = [{"name": str(size), "rows": size, "path": make_contribution(args.out, size, pool), "baseline": [],
              "label": "{:,}".format(size)} for size in sizes]
    if args.big:
        cases.append(big_case(args.out))
    for case in cases:
        sys.stderr.write("bench: %s rows (%s)...\n" % (case["label"], os.path.basename(case["path"])))
        cold, cached = driver_runs(case, args.out, args.repeat, env)
        result = {"rows": case["rows"], "label": case["label"], "cold": cold, "cached": cached,
                  "stages": stage_runs(case, args.out, env), "file_bytes": os.path.getsize(case["path"])}
        if case["rows"] == PREFETCH_SIZE and not case["baseline"]:  # what core/prefetch.py saves
            result["cold_no_prefetch"] = driver_runs(case, args.out, args.repeat, dict(env, HP_PREFETCH="0"),
                                                     cached_runs=False)[0]
        results["cases"][case["name"]] = result
        row = summarise({"cases": {case["name"]: result}})[0]
        sys.stderr.write("bench: %s rows: cold %.1f s, cached %.2f s, peak %.0f MB (one process) / %.0f MB (pipe)\n"
                         % (case["label"], row["cold_s"], row["cached_s"], row["cold_max_process_mb"],
                            row["cold_pipeline_mb"]))
    results["machine"]["load_average_at_end"] = load_average()
    text = table(results)
    with open(os.path.join(args.out, "results.json"), "w") as handle:
        json.dump(results, handle, indent=1)
    with open(os.path.join(args.out, "table.md"), "w") as handle:
        handle.write(text + "\n")
    print(text)
    if args.readme:
        write_between(START, END, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
