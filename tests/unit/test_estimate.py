"""The DeltaOne rule (core/deltaone.py) at its boundaries, the probabilities, the like-for-like premise."""

import math
import os

import numpy as np
import pytest

from hokusai_preview.core import estimate as est
from hokusai_preview.core.deltaone import METRICS, delta_one, deltaone_rule, needed_pp
from hokusai_preview.core.metrics import score

H = "sha256:" + "0" * 64


def rule(base, new, n=1500, hashes=(H, H)):
    return deltaone_rule(base, new, n, n, hashes[0], hashes[1])


# --- the DeltaOne rule -------------------------------------------------------------------------

def test_rule_checks_run_in_the_main_pipelines_order():
    assert rule(0.5, 0.9, n=799)["decision"] == "insufficient_samples"
    assert rule(0.5, 0.9, n=799, hashes=(H, "sha256:" + "1" * 64))["decision"] == "insufficient_samples"
    assert rule(0.5, 0.9, n=800, hashes=(H, "sha256:" + "1" * 64))["decision"] == "dataset_hash_mismatch"
    assert rule(0.5, 0.9, n=800)["decision"] == "accepted"
    assert deltaone_rule(0.5, 0.9, 800, 799, H, H)["decision"] == "insufficient_samples"


@pytest.mark.parametrize("base, n", [(0.73, 1500), (0.785, 1200), (0.5, 800), (0.95, 5000), (0.2, 20000)])
def test_the_delta_passing_needs_is_the_least_the_rule_accepts(base, n):
    needed = needed_pp(base, n)
    assert needed >= 1.0 and rule(base, base + needed / 100.0, n=n)["decision"] == "accepted"
    below = needed - 0.01
    assert rule(base, base + below / 100.0, n=n)["decision"] in ("delta_below_threshold",
                                                                  "not_statistically_significant")
    assert needed_pp(0.73, 1500) == 3.12  # the README's example: far more than the threshold


def test_no_delta_passes_a_small_benchmark_or_a_metric_with_no_room_to_rise():
    assert needed_pp(0.73, 799) is None
    assert needed_pp(0.995, 1500) is None  # half a point to the top
    assert needed_pp(0.5, 100000) == 1.0  # a huge benchmark: the threshold is all it takes


def test_delta_one_is_the_plain_mean_of_the_defined_deltas():
    assert delta_one({"accuracy": 0.02, "f1": None, "auroc": float("nan")}) == 0.02
    assert delta_one({}) == 0.0 and delta_one({"auroc": float("inf")}) == 0.0
    # numpy's mean computed it before it moved to core/deltaone.py: the same float, to the last bit.
    rng = np.random.Generator(np.random.PCG64(0))
    for size in range(1, len(METRICS) + 1):
        for values in rng.normal(0.0, 0.05, (2000, size)):
            assert delta_one(dict(zip(METRICS, values.tolist()))) == float(np.mean(values))


def test_a_delta_of_exactly_one_point_is_not_below_the_threshold():
    # 15 more of 1,500 benchmark rows right is one point, which floating point makes 0.99999999999999.
    base, new = 600 / 1500, 615 / 1500
    assert (new - base) * 100 < 1.0
    assert rule(base, new)["decision"] == "not_statistically_significant"
    assert rule(base, 614.9 / 1500)["decision"] == "delta_below_threshold"
    assert rule(0.70, 0.60)["decision"] == "delta_below_threshold"
    # With enough rows one point is significant: then exactly one point is accepted.
    assert rule(base, new, n=1000000)["decision"] == "accepted"


def test_an_estimated_value_beyond_1_is_taken_as_1_in_the_interval():
    # baseline + an extrapolated delta can pass 1 (a tiny or easy benchmark); the rule still answers.
    got = rule(0.99, 1.02)
    half = 1.96 * math.sqrt(0.99 * 0.01 / 1500) * 100
    assert got["ci95_pp"] == pytest.approx([3.0 - half, 3.0 + half])
    assert got["decision"] == "accepted"


def test_significance_is_the_unpaired_interval_with_1_96():
    # p = 0.5 -> 0.515 on 10,000 rows: SE = sqrt(.25/1e4 + .515*.485/1e4) = 0.0070695...
    got = rule(0.5, 0.515, n=10000)
    half = 1.96 * math.sqrt(0.25 / 10000 + 0.515 * 0.485 / 10000) * 100
    assert got["delta_pp"] == pytest.approx(1.5)
    assert got["ci95_pp"] == pytest.approx([1.5 - half, 1.5 + half], abs=1e-12)
    assert half == pytest.approx(1.3857, abs=1e-4)
    assert got["decision"] == "accepted"
    assert rule(0.5, 0.513, n=10000)["decision"] == "not_statistically_significant"  # lower bound -0.086


def test_the_lower_bound_must_be_strictly_above_zero():
    base, n = 0.5, 10000
    boundary = est.passing_delta(base, n)
    assert rule(base, base + boundary + 1e-9, n=n)["decision"] == "accepted"
    assert rule(base, base + boundary - 1e-9, n=n)["decision"] == "not_statistically_significant"
    low = rule(base, base + boundary, n=n)["ci95_pp"][0]
    assert abs(low) < 1e-6


def test_passing_delta_is_the_threshold_when_the_benchmark_is_huge_and_none_near_one():
    assert est.passing_delta(0.7, 10 ** 9) == pytest.approx(0.01)
    assert est.passing_delta(0.995, 1500) is None  # no room above the baseline to pass


# --- probabilities ---------------------------------------------------------------------------

def test_acceptance_probability_known_answers():
    base, n = 0.5, 10000
    boundary = est.passing_delta(base, n)
    assert est.acceptance_probability(base, boundary, 0.01, n) == pytest.approx(0.5)
    assert est.acceptance_probability(base, boundary + 0.01, 0.01, n) == pytest.approx(est.normal_cdf(1.0))
    assert est.acceptance_probability(base, 0.05, 0.01, 799) == 0.0
    # No spread (or the full computation): the rule itself decides.
    assert est.acceptance_probability(base, 0.02, 0.0, n) == 1.0
    assert est.acceptance_probability(base, 0.012, 0.0, n) == 0.0
    assert est.acceptance_probability(base, 0.02, 0.05, n, exact=True) == 1.0


def test_threshold_probability_known_answers():
    assert est.threshold_probability(0.01, 0.004) == pytest.approx(0.5)
    assert est.threshold_probability(0.018, 0.004) == pytest.approx(est.normal_cdf(2.0))
    assert est.threshold_probability(0.0100000000001, 0.0, exact=True) == 1.0
    assert est.threshold_probability(0.009, 0.0) == 0.0


def test_decision_probabilities_cover_the_three_outcomes():
    base, n, sd = 0.6, 1500, 0.01
    needed = est.passing_delta(base, n)
    chances = {}
    for delta in (0.0, (0.01 + needed) / 2, needed + 0.05):
        decision, chance = est.decision_probability(base, delta, sd, n)
        chances[decision] = chance
    assert set(chances) == {"delta_below_threshold", "not_statistically_significant", "accepted"}
    assert chances["delta_below_threshold"] == pytest.approx(est.normal_cdf(1.0))
    assert chances["accepted"] == pytest.approx(est.MAX_CONFIDENCE)  # 5 sd inside: capped short of 1
    # At the threshold, half the spread falls below it; with too few rows the decision is certain.
    at_threshold = est.decision_probability(base, 0.01, sd, n)
    assert at_threshold == ("not_statistically_significant",
                            pytest.approx(0.5 - est.acceptance_probability(base, 0.01, sd, n)))
    assert est.decision_probability(base, 0.2, sd, 799) == ("insufficient_samples", 1.0)
    assert est.decision_probability(base, 0.2, sd, n, exact=True) == ("accepted", 1.0)


def test_within_probability_known_answers():
    one_sd = 2 * est.normal_cdf(1.0) - 1
    assert est.within_probability(0.05, 0.01) == pytest.approx(one_sd)     # tolerance 20% of 0.05
    assert est.within_probability(-0.05, 0.005) == pytest.approx(2 * est.normal_cdf(2.0) - 1)
    assert est.within_probability(0.001, 0.002) == pytest.approx(one_sd)   # floor: 0.2 points
    assert est.within_probability(0.0, 0.001) == pytest.approx(2 * est.normal_cdf(2.0) - 1)
    assert est.within_probability(0.05, 0.0, exact=True) == 1.0
    assert est.within_probability(0.05, 0.0) == est.MAX_CONFIDENCE < 1.0
    assert est.within_probability(0.05, 1e-9) == est.MAX_CONFIDENCE


# --- learning-curve extrapolation --------------------------------------------------------------

def test_curve_weights_extrapolate_a_log_linear_curve_exactly():
    rows, target, base = [125, 250, 500], 4000, 600
    deltas = np.array([0.01 + 0.02 * math.log(base + r) for r in rows])
    weights, log_linear, trust = est.curve_weights(rows, target, base)
    assert log_linear @ deltas == pytest.approx(0.01 + 0.02 * math.log(base + target))
    assert trust == 0.5 and weights @ deltas == pytest.approx((log_linear @ deltas + deltas[-1]) / 2)
    assert weights.sum() == pytest.approx(1.0) and log_linear.sum() == pytest.approx(1.0)
    flat = np.full(3, 0.03)
    assert weights @ flat == pytest.approx(0.03)  # no growth measured, none extrapolated
    # Points exactly on the line: the slope stands out from a scatter of nothing, so it is followed.
    weights, log_linear, trust = est.curve_weights(rows, target, base, deltas)
    assert trust == 1.0 and weights @ deltas == pytest.approx(log_linear @ deltas)


def test_a_slope_is_trusted_as_far_as_it_stands_out_from_the_scatter():
    x = np.log(600 + np.array([0.0, 100, 200, 400]))
    line = 0.02 * (x - x[0])
    design = np.vstack([np.ones_like(x), x]).T
    wobble = np.array([1.0, -1.0, -1.0, 1.0])
    wobble -= design @ np.linalg.lstsq(design, wobble, rcond=None)[0]  # orthogonal to any line: pure scatter
    assert est.slope_trust(x, line) == 1.0
    assert est.slope_trust(x, wobble * 0.01) == 0.0  # no slope at all (to rounding)
    assert est.slope_trust(x, -line) == 1.0          # a falling curve is followed alike
    # t**2 = signal / scatter: trust = 1 - 1/t**2, so more scatter, less trust, never below 0.
    dx = x - x.mean()
    signal = 0.02 ** 2 * float(dx @ dx)
    for size in (0.001, 0.003, 0.01):
        scatter = float(np.sum((size * wobble) ** 2)) / 2
        assert est.slope_trust(x, line + size * wobble) == pytest.approx(max(0.0, 1 - scatter / signal))
    assert est.slope_trust(x[:2], line[:2]) == 0.5  # two points have no scatter to measure


def test_curve_weights_with_one_size_use_the_last_point():
    weights, log_linear, trust = est.curve_weights([3, 3, 3], 100, 0, [0.01, 0.02, 0.03])
    assert weights.tolist() == [0.0, 0.0, 1.0] and log_linear.tolist() == [0.0, 0.0, 1.0] and trust == 0.0


# --- the estimate of the full run ----------------------------------------------------------------

def fake_profile(full=100):
    trees = [10, 20, 30, 40, 50, 60, 70, 80, 90]
    sd = [0.01 * math.sqrt(1.0 / k - 1.0 / full) for k in trees]
    names = ["accuracy", "f1", "delta_one"]
    return est.Profile(trees, full, {n: 0.02 for n in names}, {n: sd for n in names})


def test_the_full_run_estimate_has_the_same_keys_however_it_was_reached():
    measured = {"accuracy": 0.03, "f1": 0.01}
    luck = {"accuracy": 0.004, "f1": 0.006, "delta_one": 0.005}
    curve = [(175, {"accuracy": 0.01, "f1": 0.0}), (350, {"accuracy": 0.02, "f1": 0.005}), (700, measured)]
    exact = est.full_run_estimate(["accuracy", "f1"], measured, [], None, 100, 100, 700, 700, 600)
    trees = est.full_run_estimate(["accuracy", "f1"], measured, [], fake_profile(), 30, 100, 700, 700, 600, luck)
    sampled = est.full_run_estimate(["accuracy", "f1"], measured, curve, fake_profile(), 100, 100, 700, 2800, 600)
    assert list(exact) == list(trees) == list(sampled)
    assert exact["steepens"] is trees["steepens"] is False and sampled["steepens"] in (True, False)
    assert exact["curve_trust"] is trees["curve_trust"] is None
    # Each part is a dict of its own, even where two are equal.
    assert trees["sd"] == trees["from_unfitted_trees"] and trees["sd"] is not trees["from_unfitted_trees"]


def test_the_full_budget_on_every_row_is_exact():
    measured = {"accuracy": 0.03, "f1": 0.01}
    got = est.full_run_estimate(["accuracy", "f1"], measured, [], fake_profile(), 100, 100, 700, 700, 600)
    assert got["exact"] and not got["extrapolated"]
    assert got["estimate"] == {"accuracy": 0.03, "f1": 0.01, "delta_one": pytest.approx(0.02)}
    assert set(got["sd"].values()) == {0.0}
    # ... even without a profile, which the full computation never needs.
    assert est.full_run_estimate(["accuracy", "f1"], measured, [], None, 100, 100, 700, 700, 600)["exact"]


def test_missing_trees_give_their_luck_and_sampling_adds_to_it():
    profile = fake_profile()
    measured = {"accuracy": 0.03, "f1": 0.01}
    luck = {"accuracy": 0.004, "f1": 0.006, "delta_one": 0.005}
    at30 = est.full_run_estimate(["accuracy", "f1"], measured, [], profile, 30, 100, 700, 700, 600, luck)
    assert not at30["exact"]
    assert at30["sd"] == luck and at30["from_unfitted_trees"] == luck
    assert at30["from_sampling"]["delta_one"] == 0.0
    with pytest.raises(ValueError, match="tree_luck"):
        est.full_run_estimate(["accuracy", "f1"], measured, [], profile, 30, 100, 700, 700, 600)
    assert at30["estimate"]["delta_one"] == pytest.approx(0.02)
    # All trees grown on a sample is not the full computation: the spread stays positive.
    curve = [(175, {"accuracy": 0.01, "f1": 0.0}), (350, {"accuracy": 0.02, "f1": 0.005}), (700, measured)]
    sampled = est.full_run_estimate(["accuracy", "f1"], measured, curve, profile, 100, 100, 700, 2800, 600)
    assert not sampled["exact"] and sampled["extrapolated"]
    assert sampled["from_unfitted_trees"]["delta_one"] == 0.0
    assert sampled["sd"]["delta_one"] > 0
    assert est.within_probability(sampled["estimate"]["delta_one"], sampled["sd"]["delta_one"]) < 1
    # The estimates are linear in the curve, so delta_one's is the mean of the metrics'.
    e = sampled["estimate"]
    assert e["delta_one"] == pytest.approx((e["accuracy"] + e["f1"]) / 2)
    assert e["accuracy"] > measured["accuracy"]  # the curve rises: the estimate extrapolates upwards
    # A sample too small to extrapolate from is what it shows, and says so.
    small = est.full_run_estimate(["accuracy", "f1"], measured, curve, profile, 100, 100, 700, 2800, 600,
                                  extrapolate=False)
    assert not small["extrapolated"] and small["curve_trust"] is None
    assert small["estimate"]["accuracy"] == measured["accuracy"] and small["sd"]["delta_one"] > 0


def test_two_halves_that_disagree_beyond_their_trees_luck_widen_the_spread_by_exactly_that():
    profile = fake_profile()
    measured = {"accuracy": 0.03, "f1": 0.01}

    def estimate(rest):
        curve = [(0, {"accuracy": 0.0, "f1": 0.0}), (175, {"accuracy": 0.01, "f1": 0.0}),
                 (350, {"accuracy": 0.02, "f1": 0.005}), (350, rest), (700, measured)]
        return est.full_run_estimate(["accuracy", "f1"], measured, curve, profile, 100, 100, 700, 2800, 600,
                                     halves=(2, 3))

    agree, apart = estimate({"accuracy": 0.02, "f1": 0.005}), estimate({"accuracy": 0.06, "f1": 0.005})
    assert agree["from_row_draw"] == {"accuracy": 0.0, "f1": 0.0, "delta_one": 0.0}
    assert apart["from_row_draw"]["f1"] == 0.0 and apart["from_row_draw"]["accuracy"] > 0
    # Without the pair the same five points give the same estimate and no row-draw part.
    curve = [(0, {"accuracy": 0.0, "f1": 0.0}), (175, {"accuracy": 0.01, "f1": 0.0}),
             (350, {"accuracy": 0.02, "f1": 0.005}), (350, {"accuracy": 0.06, "f1": 0.005}), (700, measured)]
    unpaired = est.full_run_estimate(["accuracy", "f1"], measured, curve, profile, 100, 100, 700, 2800, 600)
    assert unpaired["estimate"] == apart["estimate"] and unpaired["from_row_draw"]["accuracy"] == 0.0
    # The part adds in variance: (0.04 ** 2 / 2 less the points' forest luck) times the weights' sum of squares.
    weights, _, _ = est.curve_weights([0, 175, 350, 350, 700], 2800, 600,
                                      [0.0, 0.005, 0.0125, 0.0325, 0.02])
    point_var = profile.nested_sd("accuracy", 100) ** 2 + profile.forest_sd("accuracy") ** 2
    expected = float(weights @ weights) * (0.04 ** 2 / 2 - est.SD_INFLATION ** 2 * point_var)
    assert apart["from_row_draw"]["accuracy"] == pytest.approx(math.sqrt(expected))
    assert apart["sd"]["accuracy"] ** 2 == pytest.approx(unpaired["sd"]["accuracy"] ** 2 + expected)


@pytest.mark.parametrize("complements, pair", [
    ([False, False, False, True, False], (2, 3)),  # retrain: base rows alone, quarter, half, the rest, all
    ([False, False, True, False], (1, 2)),  # fine_tune: no base-rows point
    ([False, False, False, False], None),  # no pair drawn (or a record from before 0.9.0)
    ([True, False], None),  # a complement with nothing before it pairs with nothing
])
def test_the_halves_of_the_sample_are_found_in_the_learning_curve(complements, pair):
    from hokusai_preview.stages.delta import curve_halves

    assert curve_halves([{"complement": c} for c in complements]) == pair
    assert curve_halves([{} for _ in complements]) is None


def test_a_sample_without_a_curve_still_admits_growth():
    measured = {"accuracy": 0.03}
    got = est.full_run_estimate(["accuracy"], measured, [], fake_profile(), 100, 100, 500, 5000, 600)
    flat = est.full_run_estimate(["accuracy"], {"accuracy": 0.0}, [], fake_profile(), 100, 100, 500, 5000, 600)
    assert got["estimate"]["accuracy"] == 0.03
    assert got["sd"]["accuracy"] > flat["sd"]["accuracy"] > 0


def test_profile_interpolates_and_is_zero_at_the_full_budget():
    profile = fake_profile()
    assert profile.nested_sd("accuracy", 100) == 0.0 and profile.gain("accuracy", 100) == 0.0
    assert profile.nested_sd("accuracy", 20) == pytest.approx(0.01 * math.sqrt(1 / 20 - 1 / 100))
    assert profile.nested_sd("accuracy", 5) == pytest.approx(0.01 * math.sqrt(1 / 5 - 1 / 100))
    # Above the profile too (it ends at 90 trees): not a straight line down to 0 at 100.
    assert profile.nested_sd("accuracy", 95) == pytest.approx(0.01 * math.sqrt(1 / 95 - 1 / 100))
    assert profile.gain("accuracy", 50) == pytest.approx(0.02 * (1 / 50 - 1 / 100))
    assert profile.forest_sd("accuracy") == profile.nested_sd("accuracy", 50)
    again = est.Profile.from_json(profile.to_json())
    assert again.to_json() == profile.to_json()


# --- with real forests on real data --------------------------------------------------------------

def fitted_base(bundle):
    """The base rows the bundle's model was fitted on (the training part of its 80/20 split)."""
    from hokusai_preview.core.recipe import training_rows

    rows, _ = training_rows(bundle.read_table("base"), bundle.label_column, bundle.recipe["test_size"],
                            bundle.recipe["params"]["random_state"])
    return rows


def hpc_forests(bundles, trees):
    """The recipe fitted on the hpc bundle's base rows with ``trees`` trees, and the benchmark."""
    from hokusai_preview.core.bundle import Bundle
    from hokusai_preview.core.recipe import build_forest, build_preprocessor, make_model, prepare_features

    path, _ = bundles("hpc")
    bundle = Bundle.open(path)
    base = fitted_base(bundle)
    model = make_model(build_preprocessor(bundle.features), build_forest(bundle.recipe["params"], trees, n_jobs=1))
    model.fit(prepare_features(base, bundle.features), base[bundle.label_column].astype(str).to_numpy())
    bench = model[:-1].transform(prepare_features(bundle.read_table("benchmark"), bundle.features))
    return bundle, model, bench


def test_the_first_k_trees_of_the_shipped_forest_are_the_k_tree_forest_with_its_seed(bundles):
    """The like-for-like premise: trees are independent and their seeds drawn in order."""
    from hokusai_preview.core.recipe import prepare_features, tree_probas

    bundle, model, bench = hpc_forests(bundles, 20)
    shipped = bundle.load_model()
    shipped_bench = shipped[:-1].transform(prepare_features(bundle.read_table("benchmark"), bundle.features))
    first = tree_probas(shipped[-1], shipped_bench, bundle.classes)[:20]
    direct = tree_probas(model[-1], bench, bundle.classes)
    assert len(shipped[-1].estimators_) == 100
    np.testing.assert_array_equal(first, direct)


def test_a_forest_grown_in_rounds_is_the_forest_grown_at_once(bundles):
    from hokusai_preview.core.recipe import prepare_features, tree_probas

    bundle, model, bench = hpc_forests(bundles, 30)
    base = fitted_base(bundle)
    X = model[:-1].transform(prepare_features(base, bundle.features))
    y = base[bundle.label_column].astype(str).to_numpy()
    _, grown, _ = hpc_forests(bundles, 10)
    forest = grown[-1]
    for size in (20, 30):
        forest.set_params(n_estimators=size)
        forest.fit(X, y)
    np.testing.assert_array_equal(tree_probas(forest, bench, bundle.classes),
                                  tree_probas(model[-1], bench, bundle.classes))


def test_like_for_like_against_the_shipped_forest(bundles):
    """Real per-tree predictions: the full reference scores as the manifest says, a profile
    measured on it is deterministic, and the reference compared with itself has no delta."""
    from hokusai_preview.core.recipe import prepare_features, tree_probas

    bundle, _, _ = hpc_forests(bundles, 1)
    y = bundle.benchmark_labels()
    shipped = bundle.load_model()
    reference = tree_probas(shipped[-1], shipped[:-1].transform(
        prepare_features(bundle.read_table("benchmark"), bundle.features)), bundle.classes)
    assert score(y, reference.mean(axis=0).astype(np.float64)) == pytest.approx(bundle.manifest["metrics"])
    profile = est.Profile.measure(y, reference, "retrain", 100, seed=3)
    assert profile.to_json() == est.Profile.measure(y, reference, "retrain", 100, seed=3).to_json()
    assert profile.trees == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    spread = profile.sd["delta_one"]
    assert spread[0] > spread[4] > spread[-1] > 0  # fewer trees, more luck
    assert profile.gain("accuracy", 10) > 0        # a 10-tree forest scores worse than 100 trees
    base, new, deltas = est.like_for_like(y, reference, reference, "retrain", 100, profile)
    assert deltas == {m: 0.0 for m in deltas}
    assert set(deltas) == {"accuracy", "precision", "recall", "f1", "auroc"}
    base10, new10, deltas10 = est.like_for_like(y, reference, reference[:10], "retrain", 100, profile)
    assert base10["accuracy"] == pytest.approx(new["accuracy"] - profile.gain("accuracy", 10))
    assert deltas10 == {m: new10[m] - base10[m] for m in deltas10}
    # Its own first 10 trees against its expected 10-tree score: luck only, within the subsets' spread.
    assert abs(delta_one(deltas10)) <= 3 * profile.sd["delta_one"][0]
    state = est.convergence(y, reference, reference[:10], "retrain", 100, profile, "accuracy")
    assert state["trees"] == 10 and 0 < state["within"] < 1 and 0 < state["verdict"] <= 1
    assert state["sd"] == est.tree_luck(y, reference, reference[:10], "retrain", 100)["delta_one"]


def shipped_reference(bundles):
    from hokusai_preview.core.recipe import prepare_features, tree_probas

    bundle, _, _ = hpc_forests(bundles, 1)
    shipped = bundle.load_model()
    reference = tree_probas(shipped[-1], shipped[:-1].transform(
        prepare_features(bundle.read_table("benchmark"), bundle.features)), bundle.classes)
    return bundle.benchmark_labels(), reference.astype(np.float64)


def test_tree_luck_is_the_spread_of_the_trees_not_grown(bundles):
    y, reference = shipped_reference(bundles)
    luck = {k: est.tree_luck(y, reference, reference[:k], "retrain", 100, seed=1) for k in (20, 50, 90, 100)}
    assert luck[20]["delta_one"] > luck[50]["delta_one"] > luck[90]["delta_one"] > 0
    assert set(luck[100].values()) == {0.0}  # nothing left to grow
    assert luck[50] == est.tree_luck(y, reference, reference[:50], "retrain", 100, seed=1)  # seeded
    # Measured on the forest's own trees it agrees with the spread of that forest's k-subsets...
    profile = est.Profile.measure(y, reference, "retrain", 100, seed=3)
    for k in (20, 50):
        assert 0.6 < luck[k]["delta_one"] / profile.nested_sd("delta_one", k) < 1.6
    # ... and follows the new trees: trees that disagree more leave more to luck. Here two in
    # five trees vote for the next class, as trees fitted on many flipped labels would.
    noisy = reference[:50].copy()
    noisy[::5] = np.roll(noisy[::5], 1, axis=-1)
    noisy[1::5] = np.roll(noisy[1::5], 1, axis=-1)
    assert est.tree_luck(y, reference, noisy, "retrain", 100, seed=1)["delta_one"] > 1.5 * luck[50]["delta_one"]


def test_auroc_is_left_out_when_the_benchmark_holds_one_class(bundles):
    from hokusai_preview.core.recipe import prepare_features, tree_probas

    bundle, _, _ = hpc_forests(bundles, 1)
    bench = bundle.read_table("benchmark")
    keep = (bench[bundle.label_column] == "VF").to_numpy()
    y = bundle.benchmark_labels()[keep]
    shipped = bundle.load_model()
    reference = tree_probas(shipped[-1], shipped[:-1].transform(prepare_features(bench, bundle.features)),
                            bundle.classes)[:, keep]
    profile = est.Profile.measure(y, reference, "retrain", 100, draws=10)
    assert "auroc" not in profile.names() and "delta_one" in profile.names()
    _, _, deltas = est.like_for_like(y, reference, reference[:30], "retrain", 100, profile)
    assert sorted(deltas) == ["accuracy", "f1", "precision", "recall"]
    luck = est.tree_luck(y, reference, reference[:30], "retrain", 100)
    assert sorted(luck) == ["accuracy", "delta_one", "f1", "precision", "recall"]
    got = est.full_run_estimate(sorted(deltas), deltas, [], profile, 30, 100, 10, 10, 600, luck)
    assert set(got["sd"]) == {"accuracy", "f1", "precision", "recall", "delta_one"}


# --- memory: per-tree probabilities are (trees, rows, classes), gigabytes with many classes -----------

def _peak_bytes(function, *args, **kwargs):
    """(function's result, the most memory numpy and Python held at once while it ran, in bytes)."""
    import tracemalloc

    tracemalloc.start()
    try:
        return function(*args, **kwargs), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_mean_of_the_trees_is_taken_a_tree_at_a_time():
    """hp-baseline and the learning curve's forests need only the trees' mean: it is tree_probas'
    mean bit for bit, classes the trees never saw included, without holding every tree's."""
    from sklearn.ensemble import RandomForestClassifier

    from hokusai_preview.core.recipe import tree_proba_mean, tree_probas

    rng = np.random.default_rng(0)
    labels = np.array(["c%02d" % v for v in rng.integers(0, 30, 600)])
    forest = RandomForestClassifier(n_estimators=40, max_depth=4, random_state=0).fit(rng.random((600, 5)), labels)
    classes = sorted(set(labels) | {"unseen"})
    bench = rng.random((2000, 5))
    mean, peak = _peak_bytes(tree_proba_mean, forest, bench, classes)
    every = tree_probas(forest, bench, classes)  # 40 x 2,000 x 31 floats: 20 MB
    np.testing.assert_array_equal(mean, every.mean(axis=0))
    assert peak < every.nbytes / 5


def test_stored_trees_are_written_and_averaged_in_parts(tmp_path, monkeypatch):
    """hp-train writes the reference's trees one at a time, in np.save's bytes; hp-eval and
    hp-delta average a stored forest (.npy, or an .npz's member) in parts, as numpy's mean."""
    import zipfile

    from hokusai_preview.core import treearrays

    trees = np.random.default_rng(1).dirichlet(np.ones(50), size=(40, 1000))  # 16 MB
    path = str(tmp_path / "trees.npy")
    with open(path, "wb") as handle:
        assert treearrays.write_npy(handle, trees.shape, iter(trees)) == 40
    saved = str(tmp_path / "saved.npy")
    np.save(saved, trees)
    with open(path, "rb") as written, open(saved, "rb") as expected:
        assert written.read() == expected.read()
    np.savez(str(tmp_path / "arrays.npz"), new=trees, curve=trees[0])
    monkeypatch.setattr(treearrays, "CHUNK_BYTES", 1 << 20)
    with open(path, "rb") as handle:
        (mean, count), peak = _peak_bytes(treearrays.read_mean, handle)
    np.testing.assert_array_equal(mean, trees.mean(axis=0))
    assert count == 40 and peak < trees.nbytes / 5
    with zipfile.ZipFile(str(tmp_path / "arrays.npz")) as archive:
        with archive.open("new.npy") as handle:
            mean, count = treearrays.read_mean(handle)
        with archive.open("curve.npy") as handle:
            stored, none = treearrays.read_mean(handle)  # a mean stored as such
    np.testing.assert_array_equal(mean, trees.mean(axis=0))
    np.testing.assert_array_equal(stored, trees[0])
    assert count == 40 and none is None


def test_the_profile_holds_one_batch_of_subsets_at_a_time():
    """Each tree count's 50 subset means (draws x rows x classes) are scored and let go before
    the next count's are made."""
    rng = np.random.default_rng(2)
    reference = rng.dirichlet(np.ones(100), size=(20, 600))
    y = rng.integers(0, 100, 600)
    _, peak = _peak_bytes(est.Profile.measure, y, reference, "retrain", 100)
    assert peak < 1.5 * est.PROFILE_DRAWS * reference[0].nbytes  # one batch: 24 MB


def test_fine_tune_gives_the_new_trees_the_full_budgets_weight():
    reference = np.zeros((4, 2, 2))
    reference[:, :, 0] = 1.0
    added = np.zeros((2, 2))
    added[:, 1] = 1.0
    mixed = est.combine("fine_tune", reference.mean(axis=0), added, 4, 4)
    np.testing.assert_allclose(mixed, np.full((2, 2), 0.5))
    np.testing.assert_array_equal(est.combine("retrain", reference.mean(axis=0), added, 4, 4), added)


def test_no_scikit_learn_or_pandas_in_the_estimate_module():
    import ast

    source = open(os.path.join(os.path.dirname(est.__file__), "estimate.py")).read()
    imported = {alias.name.split(".")[0] for node in ast.walk(ast.parse(source))
                if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(ast.parse(source))
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & {"sklearn", "pandas", "scipy"}


def test_the_bootstrap_keeps_delta_one_where_a_replicate_lacks_a_class():
    # 3 positives in 900 rows: some replicates draw none, and AUROC is undefined in them.
    rng = np.random.default_rng(0)
    y = np.zeros(900, dtype=np.int64)
    y[:3] = 1
    reference = rng.dirichlet([1.0, 1.0], size=900)
    new = np.clip(reference + np.where(y[:, None] == 1, [-0.1, 0.1], [0.1, -0.1]), 0.0, 1.0)
    paired = est.paired_bootstrap(y, new, reference, draws=500, seed=0)
    assert np.isnan(paired["auroc"]).any() and not np.isnan(paired["auroc"]).all()
    assert np.isfinite(paired["delta_one"]).all()
    defined = ~np.isnan(paired["auroc"])
    # Where every metric is defined, delta_one is their plain mean, AUROC included.
    every = np.vstack([paired[m] for m in est.METRICS])[:, defined].mean(axis=0)
    assert np.allclose(paired["delta_one"][defined], every)


def test_a_probability_is_rounded_without_rounding_a_doubt_away():
    from hokusai_preview.stages.delta import rounded_probability

    assert rounded_probability(0.99996) == 0.9999 and rounded_probability(0.00004) == 0.0001
    assert rounded_probability(1.0) == 1.0 and rounded_probability(0.0) == 0.0  # certainties stay
    assert rounded_probability(0.123456) == 0.1235


@pytest.mark.parametrize("deltas, point_sd, steepens", [
    ([-0.010, -0.017, -0.039, -0.039, -0.105], 0.004, True),   # flipped labels: the harm accelerates
    ([0.010, 0.017, 0.039, 0.035, 0.105], 0.004, True),        # and so can a gain
    ([0.000, 0.010, 0.020, 0.021, 0.030], 0.004, False),       # log-linear on: the line holds
    ([0.000, 0.020, 0.030, 0.031, 0.032], 0.004, False),       # flattening
    ([-0.010, -0.017, -0.039, -0.039, -0.105], 0.02, False),   # the same steps within the points' noise
    ([0.000, 0.020, 0.030, 0.031, -0.030], 0.004, False),      # turned back: not beyond where it was heading
])
def test_a_curve_that_steepens_at_its_last_point_is_told_apart(deltas, point_sd, steepens):
    # 0 contributed rows (the base alone), a quarter, a half and its complement, the whole sample
    rows, base = [0, 250, 500, 500, 1000], 480
    assert est.curve_steepens(rows, deltas, base, point_sd) is steepens
