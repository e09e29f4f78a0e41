#!/usr/bin/env python3
"""The diagnostics benchmark behind `make bench`: hp-check's findings on 10,000 rows, per dataset.

Usage: bench/check.py [--repeat N] [--rows N] [--readme]

For each shipped dataset it shuffles the rows (fixed seed), takes a base table and a benchmark as
the test bundles do, and draws --rows contributed rows (default 10,000) with replacement from the
rest (so a contribution of that size exists for every dataset; the repeats this makes are work
for the duplicate check, as real repeats are). It then times core/diagnostics/run.diagnose, the
computation of hp-check once its table is read, --repeat times (default 3, median reported):
CPU time of the process (the checks run on one core) and wall time, and the median time of each
check (`timings` in the findings). scikit-learn and scipy are imported before timing: a stage
pays for that once per process (the speed benchmark's per-stage table includes it). With --readme
the table replaces the text between the `<!-- bench-check:start -->` and `<!-- bench-check:end -->`
markers of README.md.
"""

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "packages"))
sys.path.insert(0, os.path.join(ROOT, "tests"))  # the datasets' splits the tests use
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from readme import write_between  # noqa: E402
from speed import machine  # noqa: E402

from helpers import SPLIT_SIZES, features_and_classes, read_dataset, split_frame  # noqa: E402
from hokusai_preview.core.diagnostics import diagnose  # noqa: E402

# The datasets measured, split as the test bundles split them (helpers.SPLIT_SIZES).
DATASETS = ("hpc_data", "wa_churn", "credit_data", "fine_food_reviews")


def case(name, rows):
    """(contribution, benchmark, base, features, classes) for one dataset."""
    frame = read_dataset(name)
    features, classes = features_and_classes(frame)
    base, bench, rest = split_frame(frame, *SPLIT_SIZES[name], seed=0)
    contribution = rest.sample(rows, replace=True, random_state=1).reset_index(drop=True)
    return contribution, bench, base, features, classes


def measure(name, rows, repeat):
    contribution, bench, base, features, classes = case(name, rows)
    diagnose(contribution.iloc[:200], bench, base, features, "label", classes)  # imports out of the timing
    cpu, wall, checks = [], [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        findings, _ = diagnose(contribution, bench, base, features, "label", classes)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        checks.append(findings["timings"])
    kinds = sorted({f["kind"] for f in features})
    return {"dataset": name, "features": "%d (%s)" % (len(features), ", ".join(kinds)),
            "cpu": statistics.median(cpu), "wall": statistics.median(wall),
            "checks": {k: statistics.median(t[k] for t in checks) for k in checks[0]}}


def table(results, rows, repeat, info):
    names = list(results[0]["checks"])
    lines = ["Measured %s on %s: %d cores (%s), Python %s; median of %d runs; load average %.1f at the start "
             "(other work on the machine inflates wall times more than CPU times); `make bench` regenerates it."
             % (time.strftime("%Y-%m-%d"), info["system"], info["nproc"], info["cpu"], info["python"], repeat,
                info["load_average_at_start"] or 0.0), "",
             "| dataset, {:,} contributed rows | features | CPU | wall | {} |".format(
                 rows, " | ".join(n.replace("_", " ") for n in names)),
             "|---|---|---:|---:|" + "---:|" * len(names)]
    for r in results:
        lines.append("| %s | %s | %.1f s | %.1f s | %s |" % (
            r["dataset"], r["features"], r["cpu"], r["wall"], " | ".join("%.2f s" % r["checks"][n] for n in names)))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per dataset (median reported)")
    parser.add_argument("--rows", type=int, default=10000, help="contributed rows")
    parser.add_argument("--readme", action="store_true", help="write the table into README.md")
    args = parser.parse_args(argv)
    results = []
    for name in DATASETS:
        results.append(measure(name, args.rows, args.repeat))
        print("%s: %.1f s CPU" % (name, results[-1]["cpu"]), file=sys.stderr)
    text = table(results, args.rows, args.repeat, machine())
    print(text)
    if args.readme:
        write_between("<!-- bench-check:start -->", "<!-- bench-check:end -->", text)


if __name__ == "__main__":
    main()
