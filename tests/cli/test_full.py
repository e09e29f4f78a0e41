"""--full end to end, and the estimate's edge cases through the real stages."""

import json
import os
import subprocess

import numpy as np
import pandas as pd
import pytest

from helpers import DATASETS, ROOT, numbers, pipe, run, validate
from hokusai_preview.core import estimate as est

DRIVER = os.path.join(ROOT, "bin", "hokusai-preview")


def driver(tmp_path, *argv):
    env = dict(os.environ, HP_CACHE_DIR=str(tmp_path / "cache"), NO_COLOR="1")
    return subprocess.run([DRIVER, "--output-format", "json", "--quiet"] + [str(a) for a in argv],
                          capture_output=True, text=True, env=env, timeout=600)


def contribution_csv(tmp_path, bundles, name, rows, start=0):
    """Rows of the bundle's dataset outside its base table and benchmark, as a CSV file."""
    _, rest = bundles(name)
    path = tmp_path / ("%s-%d-%d.csv" % (name, start, rows))
    rest.iloc[start:start + rows].to_csv(path, index=False)
    return str(path)


def stages(data, bundle, sample=(), train=(), delta=()):
    """The driver's stages in-process; returns the records of each (asserting success)."""
    steps = [("hp-load", "--data-path", data, "--baseline-model", bundle), ("hp-check",),
             ("hp-sample",) + tuple(sample), ("hp-train",) + tuple(train), ("hp-eval",), ("hp-delta",) + tuple(delta)]
    results = pipe(*steps)
    for step, result in zip(steps, results):
        assert result.code == 0, (step, result)
    return [result.records[0] for result in results]


def test_full_through_the_driver_is_marked_as_the_full_computation(tmp_path, bundles):
    bundle, _ = bundles("hpc")
    done = driver(tmp_path, "--data-path", contribution_csv(tmp_path, bundles, "hpc", 400), "--baseline-model",
                  bundle, "--full")
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    validate(output, "delta-output")
    p = output["preview_metadata"]
    assert p["preview_mode"] is False and p["disclaimer"] is None
    assert p["estimate"]["exact"] is True and p["estimate"]["extrapolated"] is False
    assert p["estimation_confidence"] == 1.0
    assert p["budget"]["trees"] == p["budget"]["full_trees"] == 100
    assert p["budget"]["stop_reason"] == "full_budget_requested"
    assert p["sample_size_used"] == p["original_data_size"] == 400
    low, high = p["estimate"]["delta_one_interval"]
    assert low == high == pytest.approx(output["delta_computation"]["delta_one_score"])
    assert output["pipeline_metadata"]["run_id"].startswith("full-")
    assert p["deltaone"]["probability"] == (1.0 if p["deltaone"]["accepted"] else 0.0)
    assert p["deltaone"]["probability_of_decision"] == 1.0
    assert not any("no base training table" in w for w in p["warnings"])


@pytest.mark.parametrize("name", ["hpc", "churn", "food"])
def test_full_scores_the_recipe_trained_on_base_and_contribution(tmp_path, bundles, name):
    """The --full numbers are the main pipeline's recipe fitted directly with scikit-learn (on the
    training part of its stratified 80/20 split, random_state 42), scored with scikit-learn."""
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    from hokusai_preview.core.bundle import Bundle
    from hokusai_preview.core.recipe import build_forest, build_preprocessor, make_model, prepare_features

    bundle_path, _ = bundles(name)
    records = stages(contribution_csv(tmp_path, bundles, name, 500), bundle_path,
                     sample=("--sample-size", "2147483647"), train=("--full",))
    output = records[-1]["output"]
    bundle = Bundle.open(bundle_path)
    label = bundle.label_column
    trained = pd.read_parquet(records[2]["sample"]["table_path"])  # the contribution as hp-train read it
    frame = pd.concat([bundle.read_table("base")[[label] + bundle.feature_names],
                       trained[[label] + bundle.feature_names]], ignore_index=True)
    frame, _ = train_test_split(frame, test_size=0.2, stratify=frame[label].astype(str), random_state=42)
    model = make_model(build_preprocessor(bundle.features), build_forest(bundle.recipe["params"], 100, n_jobs=1))
    model.fit(prepare_features(frame, bundle.features), frame[label].astype(str).to_numpy())
    bench = bundle.read_table("benchmark")
    proba = model.predict_proba(prepare_features(bench, bundle.features))
    y = bench[label].astype(str).to_numpy()
    predicted = model.classes_[proba.argmax(axis=1)]
    expected = {"accuracy": accuracy_score(y, predicted),
                "precision": precision_score(y, predicted, average="weighted", zero_division=0),
                "recall": recall_score(y, predicted, average="weighted", zero_division=0),
                "f1": f1_score(y, predicted, average="weighted", zero_division=0),
                "auroc": roc_auc_score(y == model.classes_[1], proba[:, 1]) if len(model.classes_) == 2
                else roc_auc_score(y, proba, multi_class="ovr", average="weighted", labels=model.classes_)}
    assert output["new_model"]["metrics"] == pytest.approx(expected, abs=1e-12)  # AUROC's ties included
    assert output["baseline_model"]["metrics"] == pytest.approx(bundle.manifest["metrics"], abs=1e-12)
    deltas = {m: expected[m] - bundle.manifest["metrics"][m] for m in expected}
    assert output["delta_computation"]["delta_one_score"] == pytest.approx(np.mean(list(deltas.values())), abs=1e-12)
    assert output["new_model"]["training_metadata"]["contributed_samples"] == len(trained)
    assert output["preview_metadata"]["budget"]["fitted_samples"] == len(frame)
    assert output["pipeline_metadata"]["config"]["test_size"] == 0.2


def test_a_preview_that_grew_every_tree_on_every_row_is_the_full_computation(tmp_path, bundles):
    bundle, _ = bundles("hpc")
    data = contribution_csv(tmp_path, bundles, "hpc", 300, start=500)
    steps = [("hp-load", "--data-path", data, "--baseline-model", bundle), ("hp-check",), ("hp-sample",),
             ("hp-train", "--min-trees", "100"), ("hp-eval",), ("hp-delta",)]
    results = pipe(*steps)
    assert [r.code for r in results] == [0] * 6, results
    # early stopping could never stop: said once, with what to do
    assert [line for line in results[3].err_lines if "warning" in line] == [
        "hp-train: warning: --min-trees 100 is not below the recipe's 100 trees, so early stopping never stops: "
        "every tree is grown; give a smaller --min-trees for a faster preview"]
    assert results[3].records[0]["training"]["stop_reason"] == "full_budget"
    preview = results[-1].records[0]["output"]
    full = stages(data, bundle, sample=("--sample-size", "2147483647"), train=("--full",))[-1]["output"]
    assert preview["preview_metadata"]["preview_mode"] is True
    assert preview["preview_metadata"]["estimate"]["exact"] is True
    assert preview["preview_metadata"]["estimation_confidence"] == 1.0
    assert numbers(preview["delta_computation"]) == numbers(full["delta_computation"])
    assert preview["new_model"]["metrics"] == full["new_model"]["metrics"]


def test_an_early_stopped_preview_is_never_certain(tmp_path, bundles):
    bundle, _ = bundles("hpc")
    records = stages(contribution_csv(tmp_path, bundles, "hpc", 800), bundle, train=("--min-trees", "10",
                                                                                         "--target", "0.5"))
    output = records[-1]["output"]
    validate(output, "delta-output")
    p = output["preview_metadata"]
    training = records[3]["training"]
    assert training["stop_reason"] == "converged" and training["trees"] < 100
    assert training["reference_profile"]["trees"] == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert all({"trees", "delta_one", "sd", "within", "verdict"} <= set(h) for h in training["convergence"])
    assert p["estimate"]["exact"] is False
    assert 0 < p["estimation_confidence"] < 1
    assert p["uncertainty"]["sd"]["delta_one"] > 0
    assert p["measured"]["trees"] == training["trees"]
    low, high = p["estimate"]["delta_one_interval"]
    assert low < output["delta_computation"]["delta_one_score"] < high


def test_a_sampled_preview_extrapolates_and_all_trees_on_a_sample_are_not_the_full_run(tmp_path, bundles):
    bundle, _ = bundles("hpc")
    data = contribution_csv(tmp_path, bundles, "hpc", 1200)
    preview = stages(data, bundle, sample=("--sample-size", "300"))
    p = preview[-1]["output"]["preview_metadata"]
    assert p["sample_size_used"] == 300 and p["original_data_size"] == 1200
    # 0: the base rows alone; then a quarter and a half of the sample, the other half (complement), all.
    assert [point["rows"] for point in p["learning_curve"]] == [0, 75, 150, 150, 300]
    assert [point["complement"] for point in p["learning_curve"]] == [False, False, False, True, False]
    # Fitted: the sampled rows the full run's split keeps, with the full run's base rows.
    fitted = [point["fitted_rows"] for point in p["learning_curve"]]
    assert fitted[0] == 0 and all(0.6 * n < f < n for f, n in zip(fitted[1:], (75, 150, 150, 300)))
    assert fitted[2] + fitted[3] == fitted[4]  # the halves: disjoint, together the whole sample
    planned = preview[3]["training"]["full_run_fitted"]
    full = stages(data, bundle, sample=("--sample-size", "2147483647"), train=("--full",))[3]["training"]
    assert full["full_run_fitted"] == planned
    assert full["fitted_samples"] == planned["base"] + planned["contributed"]
    assert preview[3]["training"]["fitted_samples"] == planned["base"] + fitted[-1]
    report = " ".join(run("hp-format", stdin=(json.dumps(preview[-1]) + "\n").encode()).stdout.split())
    assert ("retrained on 600 base + 1,200 contributed rows, 20%% held out as the main pipeline does; the preview "
            "fitted %s of them (what its sample holds of that split)" % format(planned["base"] + fitted[-1], ",")
            ) in report
    assert p["estimate"]["extrapolated"] is True and p["estimate"]["exact"] is False
    assert 0 < p["estimation_confidence"] < 1
    assert p["uncertainty"]["from_sampling"]["delta_one"] > 0
    assert p["uncertainty"]["from_row_draw"]["delta_one"] >= 0
    full_trees = stages(data, bundle, sample=("--sample-size", "300"), train=("--full",))[-1]["output"]
    q = full_trees["preview_metadata"]
    validate(full_trees, "delta-output")
    assert q["budget"]["trees"] == 100
    assert q["preview_mode"] is True and q["disclaimer"] == "PREVIEW - NON-BINDING ESTIMATE"
    assert q["estimate"]["exact"] is False and q["estimation_confidence"] < 1
    assert q["uncertainty"]["from_unfitted_trees"]["delta_one"] == 0.0


def test_full_without_a_base_table_says_plainly_what_it_is(tmp_path, bundles):
    bundle, _ = bundles("hpc_finetune")
    done = driver(tmp_path, "--data-path", contribution_csv(tmp_path, bundles, "hpc_finetune", 300),
                  "--baseline-model", bundle, "--full")
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    validate(output, "delta-output")
    p = output["preview_metadata"]
    assert p["mode"] == "fine_tune" and p["preview_mode"] is False
    assert p["budget"]["trees"] == 100 and p["estimation_confidence"] == 1.0
    (warning,) = [w for w in p["warnings"] if "no base training table" in w]
    assert "cannot be run here" in warning and "either direction" in warning
    assert "base table" in p["confidence_meaning"] and "main pipeline" in p["confidence_meaning"]


def test_primary_metric_option_of_the_driver(tmp_path, bundles):
    bundle, _ = bundles("churn")
    done = driver(tmp_path, "--data-path", contribution_csv(tmp_path, bundles, "churn", 300), "--baseline-model",
                  bundle, "--primary-metric", "f1")
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    validate(output, "delta-output")
    p = output["preview_metadata"]
    assert p["deltaone"]["judged_on"] == p["primary_metric"]["name"] == "f1"
    f1 = output["delta_computation"]["metric_deltas"]["f1"]
    assert p["deltaone"]["delta_pp"] == pytest.approx(100 * f1["absolute_delta"])
    assert any("f1 as a proportion" in w for w in p["warnings"])
    bad = driver(tmp_path, "--data-path", contribution_csv(tmp_path, bundles, "churn", 300), "--baseline-model",
                 bundle, "--primary-metric", "speed")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "--primary-metric must be one of" in bad.stderr


def test_auroc_as_primary_metric_on_a_single_class_benchmark(tmp_path):
    from hokusai_preview.tools.baseline import Baseline, build_bundle

    frame = pd.read_parquet(os.path.join(DATASETS, "hpc_data.parquet")).sample(frac=1.0, random_state=3)
    base = frame.iloc[:600].reset_index(drop=True)
    rest = frame.iloc[600:]
    bench = rest[rest["label"] == "VF"].iloc[:900].reset_index(drop=True)
    contribution = rest[~rest.index.isin(bench.index)].iloc[:200]
    args = {"--train-data": "base", "--benchmark-data": "bench", "--positive-class": None,
            "--primary-metric": "auroc", "--model-id": "one-class", "--output": str(tmp_path / "b")}
    spec = Baseline().specify(base.copy(), bench.copy(), "label", args)
    os.makedirs(str(tmp_path / "b"))
    build_bundle(str(tmp_path / "b"), base.astype({"label": str}), bench.astype({"label": str}), spec, 42, 1)
    data = str(tmp_path / "contribution.csv")
    contribution.to_csv(data, index=False)
    output = stages(data, str(tmp_path / "b"))[-1]["output"]
    validate(output, "delta-output")
    p = output["preview_metadata"]
    assert "auroc" not in output["delta_computation"]["metrics_included"]
    assert p["deltaone"]["decision"] == "metric_unavailable" and p["deltaone"]["probability"] == 0.0
    assert p["primary_metric"]["delta_pp"] is None and p["primary_metric"]["interval_pp"] is None
    assert any("auroc is undefined" in w for w in p["warnings"])
    judged = stages(data, str(tmp_path / "b"), delta=("--primary-metric", "accuracy"))[-1]["output"]
    assert judged["preview_metadata"]["deltaone"]["decision"] != "metric_unavailable"


def test_a_tiny_contribution(tmp_path, bundles):
    bundle, _ = bundles("churn")
    records = stages(contribution_csv(tmp_path, bundles, "churn", 12), bundle)
    output = records[-1]["output"]
    validate(output, "delta-output")
    p, estimate = output["preview_metadata"], output["preview_metadata"]["estimate"]
    assert p["original_data_size"] == p["sample_size_used"] == 12 and not estimate["extrapolated"]
    assert output["new_model"]["training_metadata"]["contributed_samples"] == 12
    low, high = estimate["delta_one_interval"]
    assert low <= estimate["delta_one_score"] <= high
    # The confidence is the stated spread's, whatever the budget it stopped at.
    assert p["estimation_confidence"] == pytest.approx(est.within_probability(
        estimate["delta_one_score"], p["uncertainty"]["sd"]["delta_one"], exact=estimate["exact"]), abs=1e-4)
    assert (p["estimation_confidence"] == 1.0) == estimate["exact"]
    # 12 rows beside the base: the fresh split of the base rows may be most of the delta, and it says so.
    assert [w for w in p["warnings"] if w.startswith("few rows: 12 rows contributed beside")]


def test_a_sampled_record_without_its_rows_is_refused_in_one_line(tmp_path, bundles):
    """A sample record from before hp-sample saved the rows it kept cannot be fitted like the full run."""
    from helpers import run

    bundle, _ = bundles("hpc")
    steps = [("hp-load", "--data-path", contribution_csv(tmp_path, bundles, "hpc", 400), "--baseline-model", bundle),
             ("hp-check",), ("hp-sample", "--sample-size", "200")]
    record = pipe(*steps)[-1].records[0]
    assert record["sample"]["sampled"] and os.path.exists(record["sample"]["rows_path"])
    del record["sample"]["rows_path"]
    # In the cache that made it, the record is not the one cached under its key: refused as edited.
    edited = run("hp-train", stdin=(json.dumps(record) + "\n").encode())
    assert edited.code == 2 and "differs from the one hp-sample cached under its key, at sample.rows_path" in \
        edited.stderr
    # Where its key names nothing (as for a record an older version wrote), what it lacks is said.
    result = run("hp-train", "--cache-dir", tmp_path / "other", stdin=(json.dumps(record) + "\n").encode())
    assert result.code == 2 and result.stdout == ""
    assert len(result.err_lines) == 1 and "older hp-sample" in result.stderr and "hp-sample" in result.stderr


def test_a_baseline_that_scores_otherwise_than_its_manifest_says_is_warned_of(tmp_path, bundles):
    """The shipped model on its own benchmark gives the manifest's score: a bundle whose parts
    disagree (a manifest edited, columns swapped) is said to, not trusted silently."""
    import shutil

    source, _ = bundles("hpc")
    data = contribution_csv(tmp_path, bundles, "hpc", 300)
    clean = stages(data, source)[-1]["output"]["preview_metadata"]["warnings"]
    assert not [w for w in clean if "where its manifest says" in w]
    bundle = tmp_path / "edited"
    shutil.copytree(source, str(bundle))
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["metrics"]["accuracy"] -= 0.05
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    warned = stages(data, str(bundle))[-1]["output"]["preview_metadata"]["warnings"]
    assert [w for w in warned if "where its manifest says %.4f" % manifest["metrics"]["accuracy"] in w]
