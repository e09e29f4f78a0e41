"""hp-delta: the DeltaOne estimate, its uncertainty and verdict, in the main pipeline's format.

Usage:
  hp-delta [options] [<record>...]
  hp-delta (-h | --help | --version)

Reads `eval` records and writes one `delta` record each, whose `output` is the main
pipeline's delta output (schema_version "1.0": delta_computation, baseline_model, new_model,
contributor_attribution, evaluation_metadata, pipeline_metadata) plus `preview_metadata`:

* delta_one_score: the plain mean of the metrics' absolute deltas (the main pipeline's formula);
* estimation_confidence: the probability that the full pipeline's delta_one_score lies within
  +/-20% of this estimate (at least +/-0.2 points), from the measured spread of the trees not
  grown and, when the contribution was sampled, of the learning-curve extrapolation;
* intervals (90%) for delta_one_score and the primary metric's delta in points, and a paired
  bootstrap over the benchmark rows (how much the delta depends on which rows are in it);
* the main pipeline's DeltaOne decision for the primary metric (>= 1 point, >= 800 rows,
  significant), its reason code and the probability that the full run accepts.

Options:
  --primary-metric NAME   Metric DeltaOne is judged on (default: the bundle's, usually accuracy).
  --bootstrap N           Paired bootstrap replicates over benchmark rows [default: 500].
{common_options}

Record written (schema: schemas/delta.schema.json; its `output` follows
schemas/delta-output.schema.json).
"""

import datetime
import time

from ..core.command import Stage, with_common_options
from ..core.errors import UsageError
from .sample import positive_int

__doc__ = with_common_options(__doc__)

DISCLAIMER = "PREVIEW - NON-BINDING ESTIMATE"
CONFIDENCE_MEANING = ("probability that the full pipeline's delta_one_score lies within +/-20% of this "
                      "estimate (at least +/-0.2 points)")
INTERVAL_Z = 1.6448536269514722  # 90% two-sided


class Delta(Stage):
    name = "hp-delta"
    usage = __doc__
    accepts = ("eval",)
    produces = "delta"

    def setup(self, args):
        from ..core.metrics import METRICS

        self.primary = args["--primary-metric"]
        if self.primary is not None and self.primary not in METRICS:
            raise UsageError("--primary-metric must be one of %s, not %r" % (", ".join(METRICS), self.primary),
                             None)
        self.bootstrap = positive_int(args, "--bootstrap", minimum=10)

    def params(self, record):
        return {"primary_metric": self.primary, "bootstrap": self.bootstrap}

    def handle(self, record):
        result = super().handle(record)
        if result.get("record") == "delta":
            # Per-run facts, refreshed even when the estimate came from the cache.
            output = result["output"]
            elapsed = sum(result["timings"].values())
            output["preview_metadata"]["time_elapsed"] = round(elapsed, 3)
            output["pipeline_metadata"]["timestamp"] = _now()
            output["preview_metadata"]["cache"] = result["cache"]
        return result

    def compute(self, record, entry):
        return {"baseline": record["baseline"], "output": build_output(record, self.primary, self.bootstrap)}, []


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def build_output(record, primary=None, bootstrap=500):
    """The delta output document for an eval record."""
    import numpy as np

    from ..core import estimate as est
    from ..core.metrics import METRICS
    from .train import open_record_bundle, record_arrays

    started = time.perf_counter()
    bundle = open_record_bundle(record)
    contribution, training, evaluation = record["contribution"], record["training"], record["evaluation"]
    sample = record.get("sample") or {"sample_size_used": contribution["rows_used"],
                                      "original_data_size": contribution["rows_used"], "sampled": False}
    primary = primary or bundle.manifest.get("primary_metric", "accuracy")
    y = bundle.benchmark_labels()
    reference, new, arrays = record_arrays(record)
    forests = est.Forests(training["mode"], reference, new, training["full_trees"])
    new_proba, reference_proba = forests.new_proba(), forests.reference_proba()
    baseline_metrics, new_metrics = evaluation["baseline_metrics"], evaluation["new_metrics"]
    included = [m for m in METRICS if m in baseline_metrics and m in new_metrics]
    deltas = {m: new_metrics[m] - baseline_metrics[m] for m in included}
    score = est.delta_one(deltas)

    # Uncertainty of the full computation's result given this preview.
    tree_sd = est.spread(forests.completion_deltas(y, draws=200, seed=training["seed"]))
    curve_points = evaluation["learning_curve"]
    sampling_sd = {}
    estimate = dict(deltas, delta_one=score)
    if sample.get("sampled") and len(curve_points) >= 2:
        base_rows = training["base_samples"] if training["mode"] == "retrain" else 0
        for name in included + ["delta_one"]:
            points = [(p["rows"], p["delta_one"] if name == "delta_one" else p["metric_deltas"][name])
                      for p in curve_points]
            estimate[name], sampling_sd[name] = est.extrapolate(points, sample["original_data_size"], base_rows)
    sd = {name: float(np.hypot(tree_sd.get(name, 0.0), sampling_sd.get(name, 0.0)))
          for name in included + ["delta_one"]}
    confidence = est.within_probability(estimate["delta_one"], sd["delta_one"])

    paired = est.paired_bootstrap(y, new_proba, reference_proba, draws=bootstrap, seed=training["seed"])
    n_rows = int(len(y))
    benchmark_hash = evaluation["benchmark"]["data_hash"]
    rule = est.deltaone_rule(baseline_metrics[primary], new_metrics[primary], n_rows, n_rows,
                             benchmark_hash, benchmark_hash) if primary in included else None
    probability = est.acceptance_probability(baseline_metrics[primary], estimate[primary], sd[primary],
                                             n_rows) if primary in included else 0.0
    preview_mode = training["budget"] != "full" or bool(sample.get("sampled"))

    data_manifest = contribution["data_manifest"]
    base_samples = int(training["base_samples"])
    contributed = int(training["contributed_samples"])
    total = base_samples + contributed
    ratio = contributed / total if total else 0.0
    model_id = bundle.manifest["model_id"]
    run_id = "preview-" + record["key"][:16] if preview_mode else "full-" + record["key"][:16]

    metric_deltas = {}
    for m in included:
        base, new_value = baseline_metrics[m], new_metrics[m]
        metric_deltas[m] = {"baseline_value": base, "new_value": new_value, "absolute_delta": new_value - base,
                            "relative_delta": (new_value - base) / base if base else 0.0,
                            "improvement": bool(new_value - base > 0)}

    def interval(name, scale=1.0):
        centre = estimate[name]
        return [(centre - INTERVAL_Z * sd[name]) * scale, (centre + INTERVAL_Z * sd[name]) * scale]

    def paired_ci(name, scale=1.0):
        low, high = np.percentile(paired[name], [2.5, 97.5])
        return [float(low) * scale, float(high) * scale]

    warnings = list(contribution["validation"].get("warnings", []))
    if contribution["validation"].get("rows_dropped"):
        warnings.append("%d rows with labels the baseline does not know were dropped"
                        % contribution["validation"]["rows_dropped"])
    if n_rows < est.MIN_BENCHMARK_ROWS:
        warnings.append("the benchmark has %d rows, fewer than the %d DeltaOne requires"
                        % (n_rows, est.MIN_BENCHMARK_ROWS))
    if training["mode"] == "fine_tune":
        warnings.append("the baseline bundle has no base training table: the new model is the baseline "
                        "with trees fitted on the contribution added, not the main pipeline's retraining")

    preview = {
        "preview_mode": preview_mode,
        "disclaimer": DISCLAIMER if preview_mode else None,
        "estimation_confidence": round(confidence, 4),
        "confidence_meaning": CONFIDENCE_MEANING,
        "sample_size_used": int(sample["sample_size_used"]),
        "original_data_size": int(sample["original_data_size"]),
        "time_elapsed": None,
        "mode": training["mode"],
        "estimate": {
            "delta_one_score": estimate["delta_one"],
            "delta_one_interval": interval("delta_one"),
            "interval_level": 0.90,
            "metric_deltas": {m: estimate[m] for m in included},
            "extrapolated": bool(sampling_sd),
        },
        "primary_metric": {
            "name": primary,
            "baseline_value": baseline_metrics.get(primary),
            "new_value": new_metrics.get(primary),
            "delta_pp": deltas.get(primary, 0.0) * 100.0,
            "estimated_delta_pp": estimate.get(primary, 0.0) * 100.0,
            "interval_pp": interval(primary, 100.0) if primary in included else None,
            "benchmark_ci95_pp": paired_ci(primary, 100.0) if primary in included else None,
        },
        "deltaone": dict(rule or {"decision": "metric_unavailable", "accepted": False},
                         probability=round(probability, 4), benchmark_rows=n_rows, judged_on=primary),
        "uncertainty": {
            "sd": sd,
            "from_unfitted_trees": tree_sd,
            "from_sampling": sampling_sd,
            "paired_benchmark_bootstrap": {
                "replicates": bootstrap,
                "delta_one_ci95": paired_ci("delta_one"),
                "p_delta_one_not_positive": float(np.mean(paired["delta_one"] <= 0)),
            },
        },
        "budget": {"trees": training["trees"], "full_trees": training["full_trees"],
                   "compared_trees": evaluation["compared_trees"], "round_size": training["round_size"],
                   "stop_reason": training["stop_reason"]},
        "baseline_full_metrics": evaluation["baseline_full_metrics"],
        "learning_curve": curve_points,
        "warnings": warnings,
    }
    config = {"random_seed": training["seed"], "sample_size": sample.get("sample_size_requested"),
              "test_size": None, "evaluation_metrics": list(METRICS), "primary_metric": primary,
              "model_recipe": bundle.recipe, "training_mode": training["mode"],
              "bootstrap_replicates": bootstrap, "baseline_bundle": bundle.path}
    return {
        "schema_version": "1.0",
        "delta_computation": {
            "delta_one_score": score,
            "metric_deltas": metric_deltas,
            "computation_method": "weighted_average_delta",
            "metrics_included": included,
            "improved_metrics": [m for m in included if deltas[m] > 0],
            "degraded_metrics": [m for m in included if deltas[m] < 0],
        },
        "baseline_model": {"model_id": model_id, "model_type": bundle.manifest["model_type"],
                           "metrics": baseline_metrics, "mlflow_run_id": None},
        "new_model": {
            "model_id": "%s+%s" % (model_id, data_manifest["data_hash"].split(":")[-1][:12]),
            "model_type": bundle.manifest["model_type"],
            "metrics": new_metrics,
            "mlflow_run_id": None,
            "training_metadata": {"base_samples": base_samples, "contributed_samples": contributed,
                                  "contribution_ratio": ratio, "data_manifest": data_manifest},
        },
        "contributor_attribution": {
            "data_hash": data_manifest["data_hash"].split(":")[-1],
            "contributor_weights": ratio,
            "contributed_samples": contributed,
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
        "pipeline_metadata": {"run_id": run_id, "timestamp": _now(), "dry_run": False, "config": config},
        "preview_metadata": preview,
    }


main = Delta.entry_point
