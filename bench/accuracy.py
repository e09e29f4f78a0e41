#!/usr/bin/env python3
"""The accuracy suite behind `make accuracy`: does the preview predict the full pipeline?

Usage: bench/accuracy.py [--scale small|full] [--readme] [--json FILE] [--workdir DIR] [--jobs N]

Scenarios are built from the real tables in datasets/: hpc_data (4 classes), wa_churn (binary)
and fine_food_reviews (free text). Each table is shuffled with a fixed seed and split into a
base table and a benchmark (at least 800 rows), from which a baseline bundle is built; the
remaining rows are the pool contributions are drawn from (draws seeded per replicate):

  clean       1,000 pool rows, the same distribution as the base table
  flip10/25/40  1,000 pool rows with 10%, 25% or 40% of their labels changed to another class
  duplicates  500 rows copied from the base table
  shifted     up to 1,000 pool rows of one sub-population (hpc: four protocols; churn:
              month-to-month contracts; food: a third of the products)
  tiny50/200  50 or 200 pool rows
  large       2,000 pool rows previewed with --sample-size 500, so the preview samples

Every scenario runs the driver's stages in-process twice, exactly as `hokusai-preview` chains
them: the preview (default options) and the full run (--full: every row, every tree). The full
run is the truth the preview is scored against:

* error: preview delta_one_score - full delta_one_score, in points;
* within tolerance: |error| <= max(20% of |full|, 0.2 points);
* verdict agreement: the preview's predicted DeltaOne decision equals the full run's;
* calibration: estimation_confidence states P(|full - estimate| <= max(20% of |estimate|,
  0.2 points)); scenarios are binned by stated confidence and each bin's mean stated value is
  compared with how often that event happened; the calibration error is the mean absolute gap
  weighted by bin size.

Scale `full` runs two replicates of every kind on the three datasets (54 scenarios) plus, on
hpc_data without its base table (fine-tune mode, reported apart: its full run is not the main
pipeline's computation), one of each. Every output is validated against its schema and every
full run must be marked as the full computation. With --readme the summary replaces the text
between the `<!-- accuracy:start -->` and `<!-- accuracy:end -->` markers of README.md. Exit
status 0 when the targets are met, 1 when not.

Scale `small` (`make accuracy SCALE=small`; tests/cli/test_accuracy.py runs it in `make test`)
is four scenarios, one per label kind plus a sampled one: too few to judge the targets, it
checks what must hold in every scenario (tests/cli/test_accuracy.py).

Scale `lending` (`make accuracy SCALE=lending`) is a check out of sample: three replicates of
every kind on lending_club, a table the estimator was never explored on, whose label is
imbalanced (5% of loans are bad, so a model predicts almost only the majority and precision and
AUROC hinge on a few rows). Its shifted sub-population is a third of the states.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))  # the in-process runner and bundle builder the tests use

from readme import write_between  # noqa: E402

from helpers import build_test_bundle, pipe, split_dataset, validate  # noqa: E402

START, END = "<!-- accuracy:start -->", "<!-- accuracy:end -->"
SPLIT_SEED = 2024       # not the seeds the estimator's constants were explored with
DRAW_SEED = 9000
TARGETS = {"within": 0.90, "agreement": 0.95, "calibration": 0.10}
BINS = (0.0, 0.5, 0.8, 0.9, 0.95, 1.0)
LARGE_SAMPLE_SIZE = 500

# name -> file, base rows, benchmark rows, keep the base table, labels
DATASETS = {
    "hpc": ("hpc_data", 600, 1500, True, "multiclass"),
    "churn": ("wa_churn", 800, 1500, True, "binary"),
    "food": ("fine_food_reviews", 800, 1200, True, "text"),
    "hpc-ft": ("hpc_data", 600, 1500, False, "multiclass, fine-tune"),
    "lend": ("lending_club", 1500, 2000, True, "binary, 5% minority"),
}
KINDS = ("clean", "flip10", "flip25", "flip40", "duplicates", "shifted", "tiny50", "tiny200", "large")
SCALES = {
    "full": [(ds, kind, rep) for ds in ("hpc", "churn", "food") for rep in (0, 1) for kind in KINDS]
            + [("hpc-ft", kind, 0) for kind in KINDS],
    # CI: every label kind, a sampled preview and an early-stopped one, in well under a minute.
    "small": [("hpc", "clean", 0), ("hpc", "large", 0), ("churn", "flip40", 0), ("food", "tiny50", 0)],
    "lending": [("lend", kind, rep) for rep in (0, 1, 2) for kind in KINDS],
}


def shifted(name, pool):
    """One sub-population of the pool: the rows a contributor from one niche would have."""
    if name.startswith("hpc"):
        return pool[pool["protocol"].isin(sorted(pool["protocol"].unique())[:4])]
    if name == "churn":
        return pool[pool["contract"] == "Month-to-month"]
    if name == "lend":
        states = sorted(pool["addr_state"].unique())
        return pool[pool["addr_state"].isin(states[: len(states) // 3])]
    products = sorted(pool["product"].unique())
    return pool[pool["product"].isin(products[: len(products) // 3])]


def contribution(name, kind, rep, pool, base):
    """The contributed table of one scenario (a pandas DataFrame with a label column)."""
    import numpy as np

    rng = np.random.default_rng(DRAW_SEED + 100 * rep + KINDS.index(kind))

    def draw(n, frame):
        return frame.iloc[rng.choice(len(frame), min(n, len(frame)), replace=False)].reset_index(drop=True)

    if kind.startswith("flip"):
        frame = draw(1000, pool)
        classes = sorted(base["label"].astype(str).unique())
        labels = frame["label"].astype(str).to_numpy(dtype=object)
        for i in rng.choice(len(frame), int(len(frame) * int(kind[4:]) / 100), replace=False):
            others = [c for c in classes if c != labels[i]]
            labels[i] = others[rng.integers(len(others))]
        frame["label"] = labels
        return frame
    sizes = {"clean": 1000, "tiny50": 50, "tiny200": 200, "large": 2000}
    if kind in sizes:
        return draw(sizes[kind], pool)
    if kind == "duplicates":
        return draw(500, base)
    return draw(1000, shifted(name, pool))


def run(data, bundle, cache, jobs, full=False, sample_size=None):
    """The driver's stages in-process; returns (output document, seconds). Raises on any failure."""
    common = ("--quiet", "--cache-dir", cache)
    train = ("hp-train",) + common + ("--seed", "42", "--jobs", str(jobs)) + (("--full",) if full else ())
    size = "2147483647" if full else str(sample_size or 10000)
    steps = [("hp-load",) + common + ("--data-path", data, "--baseline-model", bundle),
             ("hp-check",) + common + ("--seed", "42"),
             ("hp-sample",) + common + ("--seed", "42", "--sample-size", size),
             train, ("hp-eval",) + common, ("hp-delta",) + common]
    started = time.perf_counter()
    results = pipe(*steps)
    seconds = time.perf_counter() - started
    for step, result in zip(steps, results):
        if result.code != 0:
            raise RuntimeError("%s failed on %s: %s" % (step[0], data, result.stderr.strip()))
    (record,) = results[-1].records
    validate(record, "delta")
    validate(record["output"], "delta-output")
    return record["output"], seconds


def score_scenario(name, kind, rep, rows, preview, full, seconds):
    """One row of the results table."""
    p, f = preview["preview_metadata"], full["preview_metadata"]
    if f["preview_mode"] or not f["estimate"]["exact"] or f["estimation_confidence"] != 1.0:
        raise RuntimeError("the --full run of %s/%s is not marked as the full computation" % (name, kind))
    estimate = preview["delta_computation"]["delta_one_score"]
    truth = full["delta_computation"]["delta_one_score"]
    error = estimate - truth
    return {
        "dataset": name, "kind": kind, "replicate": rep, "rows": rows,
        "sampled": p["sampled"],
        "sample_rows": p["sample_size_used"], "trees": p["budget"]["trees"], "exact": p["estimate"]["exact"],
        "preview_pts": 100 * estimate, "full_pts": 100 * truth, "error_pts": 100 * error,
        "within": abs(error) <= max(0.2 * abs(truth), 0.002) + 1e-12,
        "confidence": p["estimation_confidence"],
        "confidence_event": abs(error) <= max(0.2 * abs(estimate), 0.002) + 1e-12,
        "sd_pts": 100 * p["uncertainty"]["sd"]["delta_one"],
        "verdict_preview": p["deltaone"]["decision"], "verdict_full": f["deltaone"]["decision"],
        "p_accept": p["deltaone"]["probability"], "accepted_full": bool(f["deltaone"]["accepted"]),
        "p_decision": p["deltaone"]["probability_of_decision"],
        "primary_error_pp": p["primary_metric"]["delta_pp"] - f["primary_metric"]["delta_pp"],
        "preview_seconds": seconds[0], "full_seconds": seconds[1],
    }


def calibration(rows):
    """(bins, error): per bin of stated confidence, (low, high, n, mean stated, observed rate)."""
    bins, error = [], 0.0
    for low, high in zip(BINS[:-1], BINS[1:]):
        last = high == BINS[-1]
        chosen = [r for r in rows if low <= r["confidence"] < high or (last and r["confidence"] == high)]
        if not chosen:
            continue
        stated = sum(r["confidence"] for r in chosen) / len(chosen)
        observed = sum(r["confidence_event"] for r in chosen) / len(chosen)
        bins.append((low, high, len(chosen), stated, observed))
        error += len(chosen) / len(rows) * abs(stated - observed)
    return bins, error


def summarise(rows):
    """The headline numbers of a set of scenario rows."""
    n = len(rows)
    bins, error = calibration(rows)
    inexact = [r for r in rows if not r["exact"]]
    return {
        "scenarios": n,
        "within": sum(r["within"] for r in rows) / n,
        "agreement": sum(r["verdict_preview"] == r["verdict_full"] for r in rows) / n,
        "calibration": error,
        "calibration_inexact": calibration(inexact)[1] if inexact else 0.0,
        "inexact": len(inexact),
        "bins": bins,
        "mean_abs_error_pts": sum(abs(r["error_pts"]) for r in rows) / n,
        "brier_accept": sum((r["p_accept"] - r["accepted_full"]) ** 2 for r in rows) / n,
        "preview_seconds": sum(r["preview_seconds"] for r in rows),
        "full_seconds": sum(r["full_seconds"] for r in rows),
    }


def met(summary):
    return (summary["within"] >= TARGETS["within"] and summary["agreement"] >= TARGETS["agreement"]
            and summary["calibration"] < TARGETS["calibration"])


def run_suite(scale, workdir, jobs=0, progress=None):
    """Run every scenario of a scale; returns the list of result rows."""
    cache = os.path.join(workdir, "cache")
    bundles, rows = {}, []
    for name, kind, rep in SCALES[scale]:
        if name not in bundles:
            dataset, base_rows, bench_rows, keep_base, _ = DATASETS[name]
            path, pool = build_test_bundle(os.path.join(workdir, name), dataset, base_rows, bench_rows,
                                           seed=SPLIT_SEED, keep_base=keep_base)
            base = split_dataset(dataset, base_rows, bench_rows, SPLIT_SEED)[0]  # the bundle's base rows, as stored
            bundles[name] = (path, pool, base)
        path, pool, base = bundles[name]
        frame = contribution(name, kind, rep, pool, base)
        data = os.path.join(workdir, "%s-%s-%d.parquet" % (name, kind, rep))
        frame.to_parquet(data, index=False)
        size = LARGE_SAMPLE_SIZE if kind == "large" else None
        preview, preview_seconds = run(data, path, cache, jobs, sample_size=size)
        full, full_seconds = run(data, path, cache, jobs, full=True)
        row = score_scenario(name, kind, rep, len(frame), preview, full, (preview_seconds, full_seconds))
        rows.append(row)
        if progress:
            progress(row)
    return rows



def scenario_line(r):
    return "%-7s %-10s %d %5d %-9s %4d %8.2f %8.2f %7.2f  %-3s %6.2f %-3s %-29s %-3s %5.1f %5.1f" % (
        r["dataset"], r["kind"], r["replicate"], r["rows"],
        "%d/%d" % (r["sample_rows"], r["rows"]) if r["sampled"] else "all", r["trees"], r["preview_pts"],
        r["full_pts"], r["error_pts"], "yes" if r["within"] else "NO", r["confidence"],
        "yes" if r["confidence_event"] else "no", "%s/%s" % (_short(r["verdict_preview"]), _short(r["verdict_full"])),
        "yes" if r["verdict_preview"] == r["verdict_full"] else "NO", r["preview_seconds"], r["full_seconds"])


SHORT = {"accepted": "accepted", "delta_below_threshold": "below", "not_statistically_significant": "not-sig",
         "insufficient_samples": "too-few", "metric_unavailable": "n/a", "dataset_hash_mismatch": "hash"}


def _short(decision):
    return SHORT.get(decision, decision)


def scenario_table(rows):
    head = ("%-7s %-10s %s %5s %-9s %4s %8s %8s %7s  %-3s %6s %-3s %-29s %-3s %5s %5s" % (
        "data", "kind", "r", "rows", "sampled", "tree", "preview", "full", "error", "in", "conf", "hit",
        "verdict preview/full", "agr", "t_pre", "t_ful"))
    return "\n".join([head] + [scenario_line(r) for r in rows])


def markdown(rows, scale, seconds):
    """The README section: headline numbers, calibration bins, and one line per kind."""
    main = [r for r in rows if r["dataset"] != "hpc-ft"]
    tuned = [r for r in rows if r["dataset"] == "hpc-ft"]
    s = summarise(main)
    tables = [DATASETS[name][0] for name in dict.fromkeys(r["dataset"] for r in main)]
    lines = ["Measured by `make accuracy` (scale `%s`, %d scenarios on %s; %.0f s)." % (
             scale, len(main), " and ".join(filter(None, [", ".join(tables[:-1]), tables[-1]])), seconds), "",
             "| measure | result | target |", "|---|---|---|",
             "| preview within tolerance of the full run (±20%%, at least ±0.2 pts) | %.0f%% (%d of %d) | ≥ 90%% |"
             % (100 * s["within"], round(s["within"] * s["scenarios"]), s["scenarios"]),
             "| DeltaOne verdict agreement | %.0f%% | ≥ 95%% |" % (100 * s["agreement"]),
             "| calibration error of estimation_confidence | %.3f (%.3f over the %d previews that were not "
             "the full computation) | < 0.1 |" % (s["calibration"], s["calibration_inexact"], s["inexact"]),
             "| mean absolute error of delta_one_score | %.2f pts | |" % s["mean_abs_error_pts"],
             "| Brier score of the acceptance probability | %.3f | |" % s["brier_accept"],
             ""]
    groups = [("grew every tree on every row (the full computation)", [r for r in main if r["exact"]]),
              ("stopped early", [r for r in main if not r["exact"] and not r["sampled"]]),
              ("sampled the contribution", [r for r in main if r["sampled"]])]
    lines += ["| previews that ... | scenarios | within tolerance | verdict agrees | mean abs error, pts | "
              "mean stated confidence | confidence event observed |", "|---|---|---|---|---|---|---|"]
    for label, group in groups:
        if group:
            lines.append("| %s | %d | %d | %d | %.2f | %.2f | %d |" % (
                label, len(group), sum(r["within"] for r in group),
                sum(r["verdict_preview"] == r["verdict_full"] for r in group),
                sum(abs(r["error_pts"]) for r in group) / len(group),
                sum(r["confidence"] for r in group) / len(group), sum(r["confidence_event"] for r in group)))
    lines += ["", "| stated confidence | scenarios | mean stated | observed rate |", "|---|---|---|---|"]
    for low, high, n, stated, observed in s["bins"]:
        lines.append("| %.2f-%.2f | %d | %.2f | %.2f |" % (low, high, n, stated, observed))
    lines += ["", "| kind | scenarios | within tolerance | verdict agrees | mean abs error, pts | "
              "mean confidence | full delta, pts (range) |", "|---|---|---|---|---|---|---|"]
    for kind in KINDS:
        group = [r for r in main if r["kind"] == kind]
        if not group:
            continue
        lines.append("| %s | %d | %d | %d | %.2f | %.2f | %+.2f .. %+.2f |" % (
            kind, len(group), sum(r["within"] for r in group),
            sum(r["verdict_preview"] == r["verdict_full"] for r in group),
            sum(abs(r["error_pts"]) for r in group) / len(group),
            sum(r["confidence"] for r in group) / len(group),
            min(r["full_pts"] for r in group), max(r["full_pts"] for r in group)))
    if tuned:
        t = summarise(tuned)
        lines += ["", "Fine-tune mode (hpc_data without its base table; the full run is this tool's fine-tuning, "
                  "not the main pipeline's retraining): %d scenarios, %.0f%% within tolerance, %.0f%% verdict "
                  "agreement, calibration error %.3f." % (t["scenarios"], 100 * t["within"], 100 * t["agreement"],
                                                           t["calibration"])]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--readme", action="store_true", help="write the summary into README.md")
    parser.add_argument("--json", help="write every scenario's row to this file")
    parser.add_argument("--workdir", help="keep bundles, contributions and cache here (default: a temporary one)")
    parser.add_argument("--jobs", type=int, default=0, help="CPU cores for training, 0 for all")
    args = parser.parse_args(argv)
    workdir = args.workdir or tempfile.mkdtemp(prefix="hp-accuracy-")
    os.makedirs(workdir, exist_ok=True)
    started = time.perf_counter()
    print(scenario_table([]).splitlines()[0], flush=True)
    try:
        rows = run_suite(args.scale, workdir, args.jobs, progress=lambda r: print(scenario_line(r), flush=True))
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    seconds = time.perf_counter() - started
    text = markdown(rows, args.scale, seconds)
    print("\n" + text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, indent=1)
    if args.readme:
        write_between(START, END, text)
    summary = summarise([r for r in rows if r["dataset"] != "hpc-ft"])
    return 0 if met(summary) else 1


if __name__ == "__main__":
    sys.exit(main())
