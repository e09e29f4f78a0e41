"""hp-delta: the DeltaOne estimate, its uncertainty and verdict, in the main
pipeline's format.

Usage:
  hp-delta [options] [--] [<record>...]
  hp-delta (-h | --help | --version)

Reads `eval` records and writes one `delta` record each, whose `output` is the
main pipeline's delta output (schema_version "1.0": delta_computation,
baseline_model, new_model, contributor_attribution, evaluation_metadata,
pipeline_metadata) plus `preview_metadata`:

* delta_one_score: the plain mean of the metrics' absolute deltas (the main
  pipeline's formula), as the preview estimates the full run's: the baseline's
  metrics are its full-budget ones, the new model's are baseline + estimated
  delta (what the preview measured is in `measured`);
* estimation_confidence: the probability that the full pipeline's
  delta_one_score lies within +/-20% of this estimate (at least +/-0.2 points),
  from the measured spread of the trees not grown and, when the contribution was
  sampled, of the learning-curve extrapolation; exactly 1 only when the preview
  is the full computation (every tree, every row); where hp-check left out
  benchmark matches, or with another --seed than the recipe's, it is about that
  run (`confidence_meaning` says which);
* sample_size_used (rows the preview used), original_data_size (the contribution
  file's rows, benchmark matches and rows with labels the baseline does not know
  included), rows_dropped (those labels' rows, left out by hp-load) and sampled
  (whether the preview sampled the rows it kept);
* intervals (90%) for delta_one_score and the primary metric's delta in points,
  and a paired bootstrap over the benchmark rows (how much the delta depends on
  which rows are in it);
* the main pipeline's DeltaOne decision for the primary metric (>= 1 point, >=
  800 rows, significant), as it would fall for the estimate, its reason code,
  the probability that the full run accepts and the probability that its delta
  clears 1 point.

Options:
  --primary-metric NAME   Metric DeltaOne is judged on (default: the bundle's,
                          usually accuracy).
  --bootstrap N           Paired bootstrap replicates over benchmark rows, 10 to
                          100000 [default: 500].
{common_options}

Record written (schema: schemas/delta.schema.json; its `output` follows
schemas/delta-output.schema.json).
"""

import math
import os
import time

from ..core.command import BOOTSTRAP_MAX, Stage, choice_option, positive_int, with_common_options
from ..core.records import utc_now
from ..core.report import plural, signed, thousands

__doc__ = with_common_options(__doc__)

DISCLAIMER = "PREVIEW - NON-BINDING ESTIMATE"
CONFIDENCE_MEANING = ("probability that the full pipeline's delta_one_score lies within +/-20% of this "
                      "estimate (at least +/-0.2 points)")
FINE_TUNE_CONFIDENCE_MEANING = ("probability that this tool's full fine-tuning run (--full) gives a delta_one_score "
                                "within +/-20% of this estimate (at least +/-0.2 points); the main pipeline "
                                "retrains on the base table, which this bundle lacks")
SMALL_SHARE = 0.1  # contributed rows under this share of the base rows: the fresh split's part may dominate
FINE_TUNE_WARNING = ("this baseline bundle has no base training table, so the main pipeline's computation (the "
                     "recipe retrained on base + contribution) cannot be run here: the new model is the baseline "
                     "forest plus as many trees again fitted on the contribution alone, with --full too. That "
                     "measures whether the contribution carries signal the benchmark rewards, but the main "
                     "pipeline's delta can differ from it in either direction, by an amount this tool cannot bound")
INTERVAL_Z = 1.6448536269514722  # 90% two-sided


def confidence_meaning(mode, removed=0, seed=None, recipe_seed=None):
    """What ``estimation_confidence`` is the probability of, naming the run it is about where
    that is not the main pipeline's own computation (see report.verdict_target)."""
    from ..core.report import benchmark_matches, verdict_target

    if mode == "fine_tune":
        return FINE_TUNE_CONFIDENCE_MEANING
    target = verdict_target(mode, removed, seed, recipe_seed)
    if target == "the full pipeline":
        return CONFIDENCE_MEANING
    other_seed = seed != recipe_seed
    differs = (["would also train on the %s left out (--full --keep-contaminated runs that)"
                % benchmark_matches(removed)] if removed else []) + \
        (["trains with the recipe's seed %d" % recipe_seed] if other_seed else [])
    return ("probability that the delta_one_score of %s (hokusai-preview --full%s) lies within +/-20%% of this "
            "estimate (at least +/-0.2 points); the main pipeline %s" % (
                target, " --seed %d" % seed if other_seed else "", " and ".join(differs)))


class Delta(Stage):
    name = "hp-delta"
    usage = __doc__
    accepts = ("eval",)
    produces = "delta"
    prefetch = ("numpy", "pyarrow.parquet")

    def setup(self, args):
        from ..core.deltaone import METRICS

        self.primary = choice_option(args, "--primary-metric", METRICS)
        self.bootstrap = positive_int(args, "--bootstrap", minimum=10, maximum=BOOTSTRAP_MAX)

    def params(self, record):
        return {"primary_metric": self.primary, "bootstrap": self.bootstrap}

    def handle(self, record):
        result = super().handle(record)
        if result.get("record") == "delta":
            # Per-run facts, refreshed even when the estimate came from the cache.
            output = result["output"]
            output["preview_metadata"]["time_elapsed"] = round(_elapsed(result["timings"]), 3)
            output["pipeline_metadata"]["timestamp"] = utc_now()
            output["preview_metadata"]["cache"] = result["cache"]
        return result

    def compute(self, record, entry):
        return {"baseline": record["baseline"], "output": build_output(record, self.primary, self.bootstrap)}, []


def _elapsed(timings):
    """Seconds the preview took: from the driver's start (``HP_DRIVER_STARTED``, epoch seconds),
    which counts what a user waits for, each stage's start-up included; in a pipe typed by hand,
    the sum of the stages' own times."""
    try:
        since = time.time() - float(os.environ.get("HP_DRIVER_STARTED", "nan").replace(",", "."))  # bash's locale
    except ValueError:
        since = math.nan
    return since if 0 <= since < 86400 else sum(timings.values())  # nan, or a stale or future stamp: not ours


def rounded_probability(p, places=4):
    """``p`` to ``places`` decimals, except that a doubt never rounds away: 0 and 1 are kept for
    certainties, so 0.99996 is 0.9999 (shown as >99%), not 1."""
    value = round(float(p), places)
    if 0 < p < 1:
        step = 10.0 ** -places
        value = min(max(value, step), 1 - step)
    return value


def curve_halves(points):
    """(i, j): the learning-curve points fitted on the two disjoint halves of the sample, or None.

    hp-train yields the rest of the sample (``complement``) right after the half it complements,
    and only when both have contributed rows fitted; records of versions before 0.9.0 have no
    such point.
    """
    for i, point in enumerate(points):
        if point.get("complement") and i > 0 and not points[i - 1].get("complement"):
            return i - 1, i
    return None



def build_output(record, primary=None, bootstrap=500):
    """The delta output document for an eval record.

    ``delta_computation``, ``baseline_model`` and ``new_model`` hold the preview's estimate of the
    full pipeline's output: the baseline's full-budget metrics (known exactly) and the new model's
    estimated as baseline + estimated delta; ``preview_metadata.measured`` holds what the preview
    measured directly (its k trees against the reference's expected k-tree score, on the sample).
    """
    import numpy as np

    from ..core import estimate as est
    from ..core.bundle import Bundle
    from ..core.deltaone import METRICS, MIN_BENCHMARK_ROWS, deltaone_rule
    from ..core.metrics import score
    from ..core.records import prediction_arrays

    started = time.perf_counter()
    bundle = Bundle.for_record(record)
    contribution, training, evaluation = record["contribution"], record["training"], record["evaluation"]
    if record.get("sample"):
        sample = record["sample"]
    else:  # no hp-sample in the pipe: the newest table (hp-check's or hp-load's) was used whole
        from ..core.records import current_table

        rows = current_table(record)[1]
        sample = {"sample_size_used": rows, "original_data_size": rows, "sampled": False}
    primary = primary or bundle.manifest.get("primary_metric", "accuracy")
    mode, trees, full_trees = training["mode"], int(training["trees"]), int(training["full_trees"])
    used, whole = int(sample["sample_size_used"]), int(sample["original_data_size"])
    y = bundle.benchmark_labels()
    reference, new, _ = prediction_arrays(record)
    baseline = evaluation["baseline_full_metrics"]
    measured_base, measured_new = evaluation["baseline_metrics"], evaluation["new_metrics"]
    included = [m for m in METRICS if m in baseline and m in measured_base and m in measured_new]
    measured = {m: measured_new[m] - measured_base[m] for m in included}

    # The full computation's deltas given this preview, and their spread (core/estimate.py).
    stored = evaluation["reference_profile"]  # hp-eval's, whenever the preview is short of the full computation
    profile = est.Profile.from_json(stored) if stored else None
    # In rows fitted: the preview fits the sampled ones among the rows the full run fits (hp-train).
    points = evaluation["learning_curve"] if used < whole else []
    curve = [(p["fitted_rows"], p["metric_deltas"]) for p in points]
    halves = curve_halves(points)
    full_fitted = training["full_run_fitted"]
    fitted_base = int(full_fitted["base"])
    luck = est.tree_luck(y, reference, new, mode, full_trees, seed=training["seed"]) if trees < full_trees else None
    full = est.full_run_estimate(included, measured, curve, profile, trees, full_trees,
                                 int(training["fitted_samples"]) - fitted_base, int(full_fitted["contributed"]),
                                 fitted_base, luck, extrapolate=used >= est.SMALL_SAMPLE, halves=halves)
    exact, sd = full["exact"], full["sd"]
    new_values = {m: min(max(baseline[m] + full["estimate"][m], 0.0), 1.0) for m in included}
    deltas = {m: new_values[m] - baseline[m] for m in included}
    score_estimate = est.delta_one(deltas)
    estimate = dict(deltas, delta_one=score_estimate)
    confidence = est.within_probability(score_estimate, sd["delta_one"], exact=exact)

    # Benchmark-row noise, common to preview and full run: a paired bootstrap around the estimate.
    ref_mean = reference.mean(axis=0, dtype=np.float64)
    new_proba = est.combine(mode, ref_mean, new.astype(np.float64).mean(axis=0), len(reference), full_trees)
    paired = est.paired_bootstrap(y, new_proba, ref_mean, draws=bootstrap, seed=training["seed"])
    observed_new = score(y, new_proba)  # the reference's is hp-eval's baseline_full_metrics (ref_mean's)
    shift = {m: estimate[m] - (observed_new[m] - baseline[m]) for m in included}
    shift["delta_one"] = est.delta_one(shift)

    def paired_ci(name, scale=1.0):
        low, high = np.nanpercentile(paired[name] + shift[name], [2.5, 97.5])  # over the replicates defining it
        return [float(low) * scale, float(high) * scale]

    # No metric goes below 0 or above 1, so no interval reaches past what the baseline allows.
    possible = {m: (-baseline[m], 1.0 - baseline[m]) for m in included}
    possible["delta_one"] = tuple(est.delta_one({m: possible[m][i] for m in included}) for i in (0, 1))

    def interval(name, scale=1.0):
        low, high = possible[name]
        return [max(estimate[name] - INTERVAL_Z * sd[name], low) * scale,
                min(estimate[name] + INTERVAL_Z * sd[name], high) * scale]

    n_rows = int(len(y))
    benchmark_hash = evaluation["benchmark"]["data_hash"]
    available = primary in included
    if available:
        rule = deltaone_rule(baseline[primary], new_values[primary], n_rows, n_rows, benchmark_hash,
                                 benchmark_hash)
        probability = est.acceptance_probability(baseline[primary], deltas[primary], sd[primary], n_rows, exact)
        clears = est.threshold_probability(deltas[primary], sd[primary], exact)
        same = est.decision_probability(baseline[primary], deltas[primary], sd[primary], n_rows, exact)[1]
    else:
        rule, probability, clears, same = {"decision": "metric_unavailable", "accepted": False}, 0.0, 0.0, 1.0
    preview_mode = training["budget"] != "full" or used < whole

    data_manifest = contribution["data_manifest"]
    base_samples = int(training["base_samples"])
    total = base_samples + whole
    ratio = whole / total if total else 0.0
    model_id = bundle.manifest["model_id"]
    run_id = ("preview-" if preview_mode else "full-") + record["key"][:16]

    metric_deltas = {}
    for m in included:
        base, new_value = baseline[m], new_values[m]
        metric_deltas[m] = {"baseline_value": base, "new_value": new_value, "absolute_delta": new_value - base,
                            "relative_delta": (new_value - base) / base if base else 0.0,
                            "improvement": bool(new_value - base > 0)}

    warnings = list(contribution["validation"].get("warnings", []))  # hp-load's name the rows it dropped
    removed = int((record.get("check") or {}).get("rows_removed") or 0)  # benchmark matches hp-check left out
    dropped = int(contribution["validation"].get("rows_dropped") or 0)  # labels the baseline does not know
    if n_rows < MIN_BENCHMARK_ROWS:
        warnings.append("the benchmark has %s, fewer than the %d DeltaOne requires"
                        % (plural(n_rows, "row"), MIN_BENCHMARK_ROWS))
    if not available:
        warnings.append("the primary metric %s is undefined on this benchmark (it holds a single class), so "
                        "DeltaOne cannot be judged; choose another with --primary-metric" % primary)
    elif primary != "accuracy":
        warnings.append("DeltaOne's significance rule treats %s as a proportion of benchmark rows, which it is "
                        "not exactly: the verdict is approximate" % primary)
    seed, shipped_seed = int(training["seed"]), int(bundle.recipe["params"]["random_state"])
    if mode == "retrain" and seed != shipped_seed and available:
        shipped = (bundle.manifest.get("metrics") or {}).get(primary)
        warnings.append("with --seed %d (the bundle's model was trained with %d) the baseline is the recipe retrained "
                        "with seed %d, so that both models share it: its %s is %.4f%s%s" % (
                            seed, shipped_seed, seed, primary, baseline[primary],
                            "" if shipped is None else ", the shipped model's %.4f" % shipped,
                            "" if preview_mode else "; the main pipeline trains with the recipe's seed %d, and a "
                            "forest grown with another seed has other luck: this is not its result (that is "
                            "--seed %d)" % (shipped_seed, shipped_seed)))
    listed = (bundle.manifest.get("metrics") or {}).get("accuracy")
    if (mode == "fine_tune" or seed == shipped_seed) and listed is not None and "accuracy" in baseline \
            and abs(baseline["accuracy"] - listed) > 0.5 / max(n_rows, 1):  # more than one benchmark row's worth
        # The shipped model on its own benchmark: hp-baseline wrote this very score into the manifest.
        warnings.append("the baseline scores accuracy %.4f on its benchmark here where its manifest says %.4f: the "
                        "bundle's model, benchmark and manifest do not agree (edited since hp-baseline built it?), "
                        "so these deltas may not be what the main pipeline finds; rebuild the bundle with "
                        "hp-baseline" % (baseline["accuracy"], listed))
    if used < min(whole, est.SMALL_SAMPLE):
        warnings.append("only %s of %s %s sampled: the estimate for all of them rests on "
                        "very little (too little to extrapolate: it is what the sample shows, its interval wide); "
                        "use --sample-size %d or more" % (thousands(used), plural(whole, "contributed row"),
                                                          "was" if used == 1 else "were",
                                                          min(whole, est.SMALL_SAMPLE)))
    elif whole > est.FAR_EXTRAPOLATION * used:
        times, firmer = whole / used, -(-whole // est.FAR_EXTRAPOLATION)
        # Rounded up, so that just beyond the bound never reads as the bound itself.
        fold = "%d" % math.ceil(times) if times >= 10 else ("%.1f" % (math.ceil(times * 10) / 10)).replace(".0", "")
        warnings.append("the estimate extrapolates %s-fold, from %s sampled rows to all %s: sampled previews' "
                        "intervals have held in testing up to %d-fold and proved too narrow at 8- to 10-fold (README: "
                        "Where it can be wrong); --sample-size %d or more, or --full, gives a firmer one" % (
                            fold, format(used, ","), format(whole, ","), est.FAR_EXTRAPOLATION, firmer))
    if full.get("steepens"):
        steps = ", ".join(signed(100 * p["delta_one"]) for p in points if not p.get("complement"))
        warnings.append("the learning curve steepens at the sample's full size (delta_one_score %s points along it, "
                        "from the base rows alone to all %s sampled): the estimate assumes a curve that flattens or "
                        "stays log-linear, so the full run may lie well beyond its interval; --sample-size %d or "
                        "--full measures it" % (steps, format(used, ","), whole))
    if mode == "fine_tune":
        warnings.append(FINE_TUNE_WARNING)
    elif training.get("test_size") and whole < SMALL_SHARE * base_samples:
        warnings.append("%s contributed beside %s base rows: the main pipeline splits them afresh for training, "
                        "so its new model fits other base rows than the baseline did, and that alone moves the "
                        "delta by up to about a point either way; with so few rows, most of this delta may be that, "
                        "not what the rows teach" % (plural(whole, "row"), format(base_samples, ",")))
    trust = {"model_format": record["baseline"].get("model_format", "skops"),
             "trust_model": bool(record["baseline"].get("trust_model"))}
    if trust["trust_model"]:
        warnings.append("the baseline's %s model file was loaded with --trust-model: it could run any code "
                        "it contains" % trust["model_format"])

    preview = {
        "preview_mode": preview_mode,
        "disclaimer": DISCLAIMER if preview_mode else None,
        "estimation_confidence": rounded_probability(confidence),
        "confidence_meaning": confidence_meaning(mode, removed, seed, shipped_seed),
        "sample_size_used": used,
        "original_data_size": whole + removed + dropped,  # the contribution file's rows
        "rows_dropped": dropped,
        "sampled": used < whole,
        "time_elapsed": None,
        "mode": mode,
        "estimate": {
            "delta_one_score": score_estimate,
            "delta_one_interval": interval("delta_one"),
            "interval_level": 0.90,
            "metric_deltas": {m: deltas[m] for m in included},
            "metric_intervals": {m: interval(m) for m in included},
            "extrapolated": full["extrapolated"],
            "curve_trust": full["curve_trust"],
            "curve_steepens": bool(full.get("steepens")),
            "exact": exact,
        },
        "measured": {
            "trees": trees,
            "contributed_rows": used,
            "baseline_metrics": measured_base,
            "new_metrics": measured_new,
            "metric_deltas": measured,
            "delta_one_score": est.delta_one(measured),
        },
        "primary_metric": {
            "name": primary,
            "baseline_value": baseline.get(primary),
            "new_value": new_values.get(primary),
            "delta_pp": deltas[primary] * 100.0 if available else None,
            "estimated_delta_pp": deltas[primary] * 100.0 if available else None,
            "measured_delta_pp": measured[primary] * 100.0 if available else None,
            "interval_pp": interval(primary, 100.0) if available else None,
            "benchmark_ci95_pp": paired_ci(primary, 100.0) if available else None,
        },
        "deltaone": dict(rule, probability=rounded_probability(probability),
                         probability_clears_threshold=rounded_probability(clears),
                         probability_of_decision=rounded_probability(same), benchmark_rows=n_rows, judged_on=primary),
        "uncertainty": {
            "sd": sd,
            "from_unfitted_trees": full["from_unfitted_trees"],
            "from_sampling": full["from_sampling"],
            "from_row_draw": full["from_row_draw"],
            "sd_inflation": est.SD_INFLATION,
            "paired_benchmark_bootstrap": {
                "replicates": bootstrap,
                "delta_one_ci95": paired_ci("delta_one"),
                "p_delta_one_not_positive": float(np.mean(paired["delta_one"] + shift["delta_one"] <= 0)),
            },
        },
        "budget": {"trees": trees, "full_trees": full_trees, "compared_trees": evaluation["compared_trees"],
                   "round_size": training["round_size"], "stop_reason": training["stop_reason"],
                   "fitted_samples": training["fitted_samples"], "split": training["split"]},
        "baseline_full_metrics": baseline,
        "learning_curve": evaluation["learning_curve"],
        "warnings": warnings,
        "trust": trust,
    }
    if record.get("check"):  # hp-check ran: its findings travel with the estimate, its warnings among the rest
        preview["diagnostics"] = record["check"]["diagnostics"]
        warnings.extend(w for w in preview["diagnostics"].get("warnings") or [] if w not in warnings)
    # sample_size: the size the contribution was sampled down to, null when it was used whole.
    config = {"random_seed": training["seed"], "sample_size": sample.get("sample_size_requested"),
              "test_size": training["test_size"], "evaluation_metrics": list(METRICS), "primary_metric": primary,
              "model_recipe": bundle.recipe, "training_mode": mode, "trees": trees,
              "bootstrap_replicates": bootstrap, "baseline_bundle": bundle.path}
    return {
        "schema_version": "1.0",
        "delta_computation": {
            "delta_one_score": score_estimate,
            "metric_deltas": metric_deltas,
            "computation_method": "weighted_average_delta",
            "metrics_included": included,
            "improved_metrics": [m for m in included if deltas[m] > 0],
            "degraded_metrics": [m for m in included if deltas[m] < 0],
        },
        "baseline_model": {"model_id": model_id, "model_type": bundle.manifest["model_type"],
                           "metrics": baseline, "mlflow_run_id": None},
        "new_model": {
            "model_id": "%s+%s" % (model_id, data_manifest["data_hash"].split(":")[-1][:12]),
            "model_type": bundle.manifest["model_type"],
            "metrics": new_values,
            "mlflow_run_id": None,
            "training_metadata": {"base_samples": base_samples, "contributed_samples": whole,
                                  "contribution_ratio": ratio, "data_manifest": data_manifest},
        },
        "contributor_attribution": {
            "data_hash": data_manifest["data_hash"].split(":")[-1],
            "contributor_weights": ratio,
            "contributed_samples": whole,
            "total_samples": total,
            "data_manifest": data_manifest,
        },
        "evaluation_metadata": {
            "benchmark_dataset": {"size": n_rows, "features": evaluation["benchmark"]["features"],
                                  "type": evaluation["benchmark"]["type"]},
            "evaluation_timestamp": evaluation["evaluation_timestamp"],
            "evaluation_time_seconds": evaluation["evaluation_time_seconds"] + (time.perf_counter() - started),
            "pipeline_run_id": run_id,
        },
        "pipeline_metadata": {"run_id": run_id, "timestamp": utc_now(), "dry_run": False, "config": config},
        "preview_metadata": preview,
    }


main = Delta.entry_point
