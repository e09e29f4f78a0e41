"""hp-eval: score the baseline and the new model on the same benchmark rows.

Usage:
  hp-eval [options] [<record>...]
  hp-eval (-h | --help | --version)

Reads `train` records and writes one `eval` record each, with accuracy, precision, recall,
f1 (weighted over classes) and auroc (one-vs-rest weighted for more than two classes) of:

* the baseline, compared like with like: the reference forest with as many trees as the new
  model grew (retrain), or the whole baseline (fine_tune);
* the new model, as the preview estimates it;
* the shipped baseline at its full budget (its metrics on this benchmark);
* each learning-curve point, when the contribution was sampled.

Options:
{common_options}

Record written (schema: schemas/eval.schema.json): everything in the train record plus
`evaluation`: the benchmark (rows, features, classes, data hash), the metrics above, the
timestamp and the time the evaluation took.
"""

import datetime
import time

from ..core.command import Stage, carry, with_common_options

__doc__ = with_common_options(__doc__)


class Eval(Stage):
    name = "hp-eval"
    usage = __doc__
    accepts = ("train",)
    produces = "eval"

    def compute(self, record, entry):
        from ..core.estimate import Forests, delta_one, metric_deltas
        from ..core.metrics import score
        from .train import open_record_bundle, record_arrays

        started = time.perf_counter()
        bundle = open_record_bundle(record)
        training = record["training"]
        y = bundle.benchmark_labels()
        reference, new, arrays = record_arrays(record)
        forests = Forests(training["mode"], reference, new, training["full_trees"])
        baseline_metrics, new_metrics, deltas = metric_deltas(y, forests.new_proba(), forests.reference_proba())
        curve = []
        for point in training["learning_curve"]:
            at = Forests(training["mode"], reference, arrays[point["array"]], training["full_trees"])
            _, _, point_deltas = metric_deltas(y, at.new_proba(), at.reference_proba())
            curve.append({"rows": point["rows"], "metric_deltas": point_deltas,
                          "delta_one": delta_one(point_deltas)})
        benchmark = bundle.manifest["files"]["benchmark"]
        section = {
            "benchmark": {"size": int(len(y)), "features": bundle.feature_names, "classes": bundle.classes,
                          "type": "classification", "data_hash": benchmark.get("data_hash"),
                          "path": bundle.file_path("benchmark")},
            "baseline_metrics": baseline_metrics,
            "new_metrics": new_metrics,
            "baseline_full_metrics": score(y, reference.mean(axis=0)),
            "compared_trees": int(forests.k) if training["mode"] == "retrain" else int(len(reference)),
            "learning_curve": curve,
            "evaluation_timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "evaluation_time_seconds": round(time.perf_counter() - started, 4),
        }
        self.info("scored both models on %d benchmark rows: accuracy %.4f -> %.4f" % (
            len(y), baseline_metrics["accuracy"], new_metrics["accuracy"]))
        return carry(record, evaluation=section), []


main = Eval.entry_point
