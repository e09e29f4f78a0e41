"""The single-run report (core/report.py): verdict first, a bar per metric, colour only when asked;
and the warnings it shows (stages/delta.py), each from a function of its own."""

import re

import pytest

from format_outputs import error_record, example_output
from helpers import validate
from hokusai_preview.core.report import ASCII, UNICODE, Axis, confidence, firmer_hint, glyphs_for, percent, render
from hokusai_preview.stages import delta

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def output(bundles):
    return example_output(bundles("hpc")[0])


@pytest.mark.parametrize("glyphs", [UNICODE, ASCII])
def test_plain_report_has_no_colour_and_fits_80_columns(output, glyphs):
    text = render(output, color=False, glyphs=glyphs)
    assert "\x1b[" not in text
    for line in text.splitlines():
        assert len(line) <= 80, line


def test_sampled_report_shows_the_extrapolation_and_fits_80_columns(bundles):
    output = example_output(bundles("hpc")[0], "hpc_jobs_1000.csv", sample_size=300)
    assert output["preview_metadata"]["estimate"]["extrapolated"]
    text = render(output, color=False)
    assert "as measured on the 300-row sample" in text and "estimated for all rows, pts" in text
    assert "300 of 1,000 rows used (stratified sample)" in " ".join(text.split())
    for line in text.splitlines():
        assert len(line) <= 80, line


@pytest.mark.parametrize("sample_size, split", [
    (10000, "; fitted on 400 of them, 20% held out as the main pipeline does"),
    (300, ", 20% held out as the main pipeline does; the preview fitted 241 of them")])
def test_a_fine_tuned_model_is_not_said_to_be_fitted_on_the_base_rows(bundles, sample_size, split):
    bundle, _ = bundles("hpc_finetune")
    output = example_output(bundle, "hpc_jobs_500.json", sample_size=sample_size)
    text = " ".join(render(output, color=False).split())
    assert "new model fine-tuned: the baseline (trained on 600 base rows) plus new trees on 500 contributed " \
           "rows" + split in text


def test_a_sampled_preview_unsure_from_its_sample_says_how_to_firm_it_up(bundles):
    output = example_output(bundles("hpc")[0], "hpc_jobs_1000.csv", sample_size=300)
    p = output["preview_metadata"]
    hint = "most of that uncertainty is from the rows the sample left out; --sample-size 1000 uses every row"
    assert p["estimation_confidence"] < 0.8
    assert p["uncertainty"]["from_sampling"]["delta_one"] > p["uncertainty"]["from_unfitted_trees"]["delta_one"]
    assert hint in " ".join(render(output, color=False).split())
    # Rows hp-load dropped (unknown labels) and hp-check removed (benchmark copies) are not sampled from.
    p["rows_dropped"], p["diagnostics"] = 30, {"contamination": {"rows_removed": 10}}
    assert firmer_hint(p) == hint.replace("1000", "960")
    p["estimation_confidence"] = 0.9  # firm enough: no hint
    assert firmer_hint(p) is None


def test_an_unsampled_preview_gives_no_sampling_hint(output):
    assert output["preview_metadata"]["sample_size_used"] == output["preview_metadata"]["original_data_size"]
    assert "--sample-size" not in render(output, color=False)


def test_colour_report_is_the_plain_report_plus_ansi_codes(output):
    coloured = render(output, color=True)
    assert "\x1b[32m" in coloured or "\x1b[31m" in coloured  # the verdict is green or red
    assert "\x1b[1m" in coloured
    assert ANSI.sub("", coloured) == render(output, color=False)


def test_verdict_and_its_probability_come_first(output):
    lines = render(output).splitlines()
    d1 = output["preview_metadata"]["deltaone"]
    assert lines[0] == "PREVIEW - NON-BINDING ESTIMATE"
    assert lines[1].startswith(("✔ DeltaOne would pass", "✘ DeltaOne would not pass", "✘ DeltaOne cannot"))
    assert lines[1].startswith("✔") is d1["accepted"]
    assert lines[1].endswith("chance the full pipeline passes: %s" % percent(d1["probability"]))


@pytest.mark.parametrize("mode, removed, seed, title, target", [
    ("retrain", 0, 42, "FULL PIPELINE RECIPE (local run)", "the full pipeline"),
    ("retrain", 3, 42, "FULL PIPELINE RECIPE (local run, without 3 benchmark matches)",
     "the full run without the 3 benchmark matches"),
    ("retrain", 0, 7, "FULL PIPELINE RECIPE (local run, seed 7, not the recipe's 42)", "the full run with seed 7"),
    ("retrain", 3, 7, "FULL PIPELINE RECIPE (local run, without 3 benchmark matches, seed 7, not the recipe's 42)",
     "the full run without the 3 benchmark matches and with seed 7"),
    ("fine_tune", 0, 42, "FULL FINE-TUNING RUN (no base table: not the main pipeline's computation)",
     "a --full fine-tuning run")])
def test_a_full_run_says_what_it_computed(output, mode, removed, seed, title, target):
    # Only the retrained run on every contributed row, with the recipe's seed, is the main
    # pipeline's own computation.
    p = output["preview_metadata"]
    p.update(preview_mode=False, disclaimer=None, mode=mode)
    output["pipeline_metadata"]["config"]["random_seed"] = seed
    assert output["pipeline_metadata"]["config"]["model_recipe"]["params"]["random_state"] == 42
    p["diagnostics"] = {"contamination": {"rows_removed": removed}}
    lines = render(output).splitlines()
    assert lines[0] == title
    assert "chance %s passes: " % target in " ".join(" ".join(lines[1:3]).split())


def test_every_metric_has_a_bar_with_its_interval(output):
    text = render(output)
    est = output["preview_metadata"]["estimate"]
    for name, v in output["delta_computation"]["metric_deltas"].items():
        (line,) = [x for x in text.splitlines() if x.startswith(name + " ")]
        assert "%+.2f" % (100 * v["absolute_delta"]) in line
        bar = line.split("  ")[-1]
        assert bar.count("●") == 1
        if est["metric_deltas"][name] > 0:  # the bar grows right of the zero axis
            assert bar.index("│") < bar.index("●")


def test_ascii_report_encodes_as_ascii(output):
    render(output, glyphs=ASCII).encode("ascii")
    render(error_record(), glyphs=ASCII).encode("ascii")


@pytest.mark.parametrize("encoding, expected", [("utf-8", UNICODE), ("UTF-16", UNICODE), ("ascii", ASCII),
                                                ("latin-1", ASCII), (None, ASCII), ("no-such-codec", ASCII)])
def test_glyphs_follow_the_output_encoding(encoding, expected):
    assert glyphs_for(encoding) is expected


def cells(axis, centre, low, high):
    return "".join(glyph for glyph, _ in axis.bar(centre, low, high, ASCII))


def test_bar_of_a_positive_interval_is_solid_up_to_the_interval():
    axis = Axis(0.0, 10.0, 11)  # one cell per point
    assert cells(axis, 6.0, 4.0, 8.0) == "|###[-o-]  "


def test_bar_of_a_negative_interval_mirrors_it():
    axis = Axis(-10.0, 0.0, 11)
    assert cells(axis, -6.0, -8.0, -4.0) == "  [-o-]###|"


def test_bar_of_an_interval_across_zero_has_no_solid_part():
    axis = Axis(-5.0, 5.0, 11)
    assert cells(axis, 1.0, -2.0, 3.0) == "   [-+o-]  "


def test_a_narrow_interval_keeps_both_ends_beside_the_dot():
    axis = Axis(0.0, 10.0, 11)
    assert cells(axis, 6.0, 5.4, 6.4) == "|####[o]   "  # 6.4 rounds onto the dot's cell
    assert cells(axis, 6.0, 5.6, 6.4) == "|#####o    "  # within one cell: the dot alone


def test_scale_labels_sit_under_their_values():
    axis = Axis(0.0, 10.0, 21)
    scale = axis.scale("pts")
    assert scale.index("0") == axis.col(0.0)
    assert scale.index("+10") + 2 == axis.col(10.0)


@pytest.mark.parametrize("p, text", [(1.0, "100%"), (0.9999, ">99%"), (0.995, ">99%"), (0.97, "97%"),
                                     (0.5, "50%"), (0.005, "<1%"), (0.004, "<1%"), (0.0, "0%"),
                                     (None, "?")])
def test_percent_never_rounds_a_doubt_away(p, text):
    assert percent(p) == text


@pytest.mark.parametrize("c, text", [(1.0, "1.00"), (0.9999, ">0.99"), (0.995, ">0.99"), (0.994, "0.99"),
                                     (0.5, "0.50"), (0.004, "<0.01"), (0.0, "0.00"), (None, "?")])
def test_a_confidence_short_of_the_full_computation_never_shows_as_1(c, text, output):
    assert confidence(c) == text
    output["preview_metadata"]["estimation_confidence"] = 0.9999
    assert "estimation_confidence  >0.99" in render(output, color=False)


@pytest.mark.parametrize("value, text", [(0.996, "+0.99"), (0.995, "+0.99"), (1.0, "+1.00"), (1.004, "+1.00"),
                                         (0.994, "+0.99"), (2.996, "+3.00"), (-0.996, "-1.00"), (None, "?")])
def test_a_delta_below_the_threshold_never_shows_as_reaching_it(value, text, output):
    from hokusai_preview.core.report import points

    assert points(value) == text
    primary = output["preview_metadata"]["primary_metric"]
    primary["delta_pp"] = 0.996
    assert "judged on %s: +0.99 pts" % primary["name"] in render(output, color=False)


def test_an_error_record_reports_its_one_line_error():
    text = render(error_record(), color=False)
    assert "contributions/broken.csv failed" in text
    assert "bad_data, exit status 3" in text
    assert "contributions/broken.csv is empty; give a file" in text
    assert "\x1b[" not in text
    assert "\x1b[31m" in render(error_record(), color=True)


def test_warnings_of_the_data_checks_are_reported_once_under_it_and_no_others(output):
    output["preview_metadata"]["warnings"] = ["30 rows repeat benchmark rows", "12 rows were dropped"]
    output["preview_metadata"]["diagnostics"] = {"rows_checked": 500, "warnings": ["30 rows repeat benchmark rows"],
                                                 "notes": ["label noise not checked: fewer than 30 rows"]}
    text = render(output)
    # The run's own warning comes before the data check's line: what follows that line is its findings.
    assert ("time          %.1f s\nwarning       12 rows were dropped\ndata check    500 rows: 1 warning\n"
            "warning       30 rows repeat benchmark rows\nnote          label noise not checked: fewer than 30 rows\n"
            % output["preview_metadata"]["time_elapsed"]) in text
    assert text.count("30 rows repeat benchmark rows") == 1


def test_a_rough_estimate_shows_its_range_beside_its_point(output):
    p = output["preview_metadata"]
    p["estimate"]["exact"] = False
    p["primary_metric"]["interval_pp"] = [0.35, 14.17]
    p["estimation_confidence"] = 0.29
    assert ("  a rough estimate (confidence 0.29): the full run's accuracy delta is 90%\n    likely within +0.35 .. "
            "+14.17 pts\n") in render(output, color=False)
    p["estimation_confidence"] = 0.95
    assert "rough" not in render(output, color=False)


def test_a_pipe_without_hp_check_says_its_data_was_not_checked(output):
    output["preview_metadata"].pop("diagnostics", None)
    text = render(output, color=False)
    assert "data check    not run (hp-check was left out of the pipe): benchmark matches," in text
    output["preview_metadata"]["diagnostics"] = {"rows_checked": 1, "warnings": [], "notes": []}
    assert "not run" not in render(output, color=False)


def test_a_long_warning_wraps_in_the_gutter_of_the_other_labels(output):
    output["preview_metadata"]["warnings"] = ["the new model is fine-tuned " * 6]
    output["preview_metadata"]["diagnostics"] = {"rows_checked": 1, "warnings": [], "notes": []}
    lines = render(output, color=False).splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("warning"))
    assert lines[first].startswith("warning       the new model is fine-tuned")
    assert lines[first + 1].startswith(" " * 14 + "model is") and lines[first + 2].startswith(" " * 14 + "fine")
    assert lines[first + 3] == "data check    1 row: no problems found"


def test_a_far_extrapolation_reaches_the_output(bundles):
    output = example_output(bundles("hpc")[0], "hpc_jobs_1000.csv", sample_size=249)
    warnings = output["preview_metadata"]["warnings"]
    assert [w for w in warnings if "extrapolates" in w] == [delta._extrapolation_warning(249, 1000)]
    # the fold is the warning's alone: the contribution's share of the training rows stays a share
    validate(output, "delta-output")
    share = output["new_model"]["training_metadata"]["contribution_ratio"]
    assert share == output["contributor_attribution"]["contributor_weights"] == 1000 / (600 + 1000)


@pytest.mark.parametrize("used, whole, warned", [
    (250, 1000, None),  # 4-fold: not beyond
    # 4.016-fold, rounded up: just beyond the bound never reads as the bound itself.
    (249, 1000, "the estimate extrapolates 4.1-fold, from 249 sampled rows to all 1,000: sampled previews' "
                "intervals have held in testing up to 4-fold and proved too narrow at 8- to 10-fold (README: Where "
                "it can be wrong); --sample-size 250 or more, or --full, gives a firmer one"),
    (2000, 10000, "the estimate extrapolates 5-fold, from 2,000 sampled rows to all 10,000: sampled previews' "
                  "intervals have held in testing up to 4-fold and proved too narrow at 8- to 10-fold (README: "
                  "Where it can be wrong); --sample-size 2500 or more, or --full, gives a firmer one"),
    (1000, 12345, "the estimate extrapolates 13-fold, from 1,000 sampled rows to all 12,345: sampled previews' "
                  "intervals have held in testing up to 4-fold and proved too narrow at 8- to 10-fold (README: "
                  "Where it can be wrong); --sample-size 3087 or more, or --full, gives a firmer one"),
    (199, 1000, None),  # too small to extrapolate from: the small sample's warning says so
    (1000, 1000, None)])
def test_a_far_extrapolation_is_warned_about(used, whole, warned):
    assert delta._extrapolation_warning(used, whole) == warned


def test_a_suggested_sample_size_is_typed_as_the_option_takes_it():
    """Copied from the warning, `--sample-size 1100` works; `--sample-size 1,100` would be refused."""
    from hokusai_preview.tools.args import shell_code

    warning = delta._extrapolation_warning(1000, 4400)
    assert "from 1,000 sampled rows to all 4,400" in warning
    (size,) = re.findall(r"--sample-size (\S+) or more", warning)
    assert size == "1100"
    shell_code(["--data-path", "big.csv", "--sample-size", size])  # the driver's parser takes it
    (size,) = re.findall(r"--sample-size (\S+) or more", delta._small_sample_warning(8, 1000))
    assert size == "200"
    shell_code(["--data-path", "big.csv", "--sample-size", size])


@pytest.mark.parametrize("used, whole, warned", [
    (8, 1000, "only 8 of 1,000 contributed rows were sampled: the estimate for all of them rests on very little "
              "(too little to extrapolate: it is what the sample shows, its interval wide); use --sample-size 200 "
              "or more"),
    (1, 150, "only 1 of 150 contributed rows was sampled: the estimate for all of them rests on very little (too "
             "little to extrapolate: it is what the sample shows, its interval wide); use --sample-size 150 or more"),
    (200, 1000, None),
    (150, 150, None)])  # a small contribution used whole: nothing to extrapolate
def test_a_sample_too_small_to_extrapolate_from_is_warned_about(used, whole, warned):
    assert delta._small_sample_warning(used, whole) == warned


@pytest.mark.parametrize("rows, warned", [
    (700, "the benchmark has 700 rows, fewer than the 800 DeltaOne requires"),
    (1, "the benchmark has 1 row, fewer than the 800 DeltaOne requires"),
    (800, None)])
def test_a_benchmark_too_small_for_deltaone_is_warned_about(rows, warned):
    assert delta._benchmark_size_warning(rows) == warned


@pytest.mark.parametrize("primary, available, warned", [
    ("auroc", False, "the primary metric auroc is undefined on this benchmark (it holds a single class), so DeltaOne "
                     "cannot be judged; choose another with --primary-metric"),
    ("f1", True, "DeltaOne's significance rule treats f1 as a proportion of benchmark rows, which it is not exactly: "
                 "the verdict is approximate"),
    ("accuracy", True, None)])
def test_a_primary_metric_deltaone_cannot_judge_exactly_is_warned_about(primary, available, warned):
    assert delta._primary_metric_warning(primary, available) == warned


SEED_WARNING = ("with --seed 7 (the bundle's model was trained with 42) the baseline is the recipe retrained with seed "
                "7, so that both models share it: its f1 is 0.7013")


@pytest.mark.parametrize("mode, seed, baseline, shipped, preview_mode, warned", [
    ("retrain", 7, 0.7013, 0.71844, True, SEED_WARNING + ", the shipped model's 0.7184"),
    ("retrain", 7, 0.7013, None, True, SEED_WARNING),
    ("retrain", 7, 0.7013, None, False, SEED_WARNING + "; the main pipeline trains with the recipe's seed 42, and a "
     "forest grown with another seed has other luck: this is not its result (that is --seed 42)"),
    ("retrain", 42, 0.7013, 0.7184, True, None),
    ("retrain", 7, None, 0.7184, True, None),  # the metric is undefined: its own warning says so
    ("fine_tune", 7, 0.7013, 0.7184, True, None)])  # the baseline is the bundle's model, whatever the seed
def test_a_baseline_retrained_with_another_seed_is_warned_about(mode, seed, baseline, shipped, preview_mode, warned):
    assert delta._seed_warning(mode, seed, 42, "f1", baseline, shipped, preview_mode) == warned


@pytest.mark.parametrize("mode, seed, listed, warned", [
    ("retrain", 42, 0.6447, True),
    ("fine_tune", 7, 0.6447, True),
    ("retrain", 42, 0.6944, False),  # within half a row of the 1,500
    ("retrain", 42, None, False),
    ("retrain", 7, 0.6447, False)])  # retrained with another seed: not the model the manifest scored
def test_a_baseline_scoring_otherwise_than_its_manifest_says_is_warned_about(mode, seed, listed, warned):
    got = delta._manifest_warning(mode, seed, 42, {"accuracy": 0.6947, "f1": 0.6}, listed, 1500)
    assert got == ("the baseline scores accuracy 0.6947 on its benchmark here where its manifest says 0.6447: the "
                   "bundle's model, benchmark and manifest do not agree (edited since hp-baseline built it?), so these "
                   "deltas may not be what the main pipeline finds; rebuild the bundle with hp-baseline"
                   if warned else None)
    assert delta._manifest_warning("retrain", 42, 42, {"f1": 0.6}, 0.6447, 1500) is None


def test_a_learning_curve_that_steepens_is_warned_about():
    points = [{"delta_one": 0.0}, {"delta_one": 0.01}, {"delta_one": 0.02}, {"delta_one": 0.03, "complement": True},
              {"delta_one": 0.0512}]
    assert delta._steepening_warning(True, points, 1000, 4000) == (
        "the learning curve steepens at the sample's full size (delta_one_score +0.00, +1.00, +2.00, +5.12 points "
        "along it, from the base rows alone to all 1,000 sampled): the estimate assumes a curve that flattens or "
        "stays log-linear, so the full run may lie well beyond its interval; --sample-size 4000 or --full measures "
        "it")
    assert delta._steepening_warning(False, points, 1000, 4000) is None


@pytest.mark.parametrize("mode, test_size, whole, warned", [
    ("retrain", 0.2, 26, True),
    ("retrain", 0.2, 60, False),  # a tenth of the base rows
    ("retrain", 0.0, 26, False),  # nothing held out: no fresh split
    ("fine_tune", 0.2, 26, False)])  # its own warning says more
def test_a_few_rows_beside_many_base_rows_are_warned_about(mode, test_size, whole, warned):
    assert delta._fresh_split_warning(mode, test_size, whole, 600) == (
        "few rows: 26 rows contributed beside 600 base rows: the main pipeline splits them afresh for training, so its "
        "new model "
        "fits other base rows than the baseline did, and that alone moves the delta by up to about a point either "
        "way; with so few rows, most of this delta may be that, not what the rows teach" if warned else None)
    assert delta._fine_tune_warning(mode) == (delta.FINE_TUNE_WARNING if mode == "fine_tune" else None)


def test_a_model_loaded_with_trust_model_is_warned_about_where_each_stage_meets_it():
    from hokusai_preview.core.bundle import trust_warning

    assert delta._trust_warning({"model_format": "pickle", "trust_model": True}) == (
        "the baseline's pickle model file was loaded with --trust-model: it could run any code it contains")
    assert delta._trust_warning({"model_format": "skops", "trust_model": False}) is None
    # hp-load's and hp-train's, on stderr, name the file.
    assert trust_warning("joblib", "accepting", "/b/model.joblib") == (
        "--trust-model: accepting the joblib model file /b/model.joblib; loading it runs any code it contains")
    assert trust_warning("joblib", "loading", "/b/model.joblib") == (
        "--trust-model: the joblib model file /b/model.joblib is loaded as it is; that runs any code it contains")


class FakeBundle:
    recipe = {"params": {"random_state": 42}}

    def __init__(self, metrics):
        self.manifest = {"metrics": metrics}


def warnings_of(mode, seed, used, whole, baseline, primary, n_rows, steepens=False, points=(), trust=False,
                loaded=(), checked=None, listed=None):
    record = {"training": {"mode": mode, "seed": seed, "test_size": 0.2, "base_samples": 600},
              "contribution": {"validation": {"warnings": list(loaded)}},
              "baseline": {"model_format": "pickle" if trust else "skops", "trust_model": trust}}
    if checked is not None:
        record["check"] = {"diagnostics": {"warnings": checked}}
    run = {"baseline": baseline, "included": list(baseline), "full": {"steepens": steepens}, "points": list(points)}
    sample = {"sample_size_used": used, "original_data_size": whole}
    return delta._warnings(record, FakeBundle(listed or {}), sample, run, primary, n_rows, True)


def test_the_warnings_come_in_order_each_with_its_facts():
    """The wiring of the functions above (each warning reaches the real output: tests/cli)."""
    got = warnings_of("retrain", 7, 8, 50, {"accuracy": 0.69, "f1": 0.7013}, "f1", 700, trust=True,
                      loaded=["12 rows were dropped"], checked=["12 rows were dropped", "30 benchmark copies"],
                      listed={"f1": 0.7184})
    assert got == ["12 rows were dropped", delta._benchmark_size_warning(700),
                   delta._primary_metric_warning("f1", True),
                   delta._seed_warning("retrain", 7, 42, "f1", 0.7013, 0.7184, True),
                   delta._small_sample_warning(8, 50), delta._fresh_split_warning("retrain", 0.2, 50, 600),
                   delta._trust_warning({"model_format": "pickle", "trust_model": True}), "30 benchmark copies"]
    points = [{"delta_one": 0.0}, {"delta_one": 0.03}]
    got = warnings_of("fine_tune", 42, 249, 1000, {"accuracy": 0.7}, "auroc", 1500, steepens=True, points=points,
                      listed={"accuracy": 0.75})
    assert got == [delta._primary_metric_warning("auroc", False),
                   delta._manifest_warning("fine_tune", 42, 42, {"accuracy": 0.7}, 0.75, 1500),
                   delta._extrapolation_warning(249, 1000), delta._steepening_warning(True, points, 249, 1000),
                   delta.FINE_TUNE_WARNING]
    assert None not in got and warnings_of("retrain", 42, 1000, 1000, {"accuracy": 0.7}, "accuracy", 1500) == []


def test_a_tiny_sample_is_warned_about_its_intervals_stay_possible_and_its_verdict_is_uncertain(bundles):
    output = example_output(bundles("hpc")[0], "hpc_jobs_1000.csv", sample_size=8)
    p = output["preview_metadata"]
    assert delta._small_sample_warning(8, 1000) in p["warnings"]
    # Not followed along a curve of a few rows (which can say anything): what the sample shows.
    assert p["estimate"]["extrapolated"] is False and p["estimate"]["curve_trust"] is None
    assert p["estimate"]["delta_one_score"] == p["measured"]["delta_one_score"]
    baseline = p["baseline_full_metrics"]
    low, high = p["estimate"]["delta_one_interval"]
    assert -sum(baseline.values()) / len(baseline) - 1e-12 <= low <= high <= \
        sum(1 - v for v in baseline.values()) / len(baseline) + 1e-12
    name = p["primary_metric"]["name"]
    low, high = p["primary_metric"]["interval_pp"]
    assert -100 * baseline[name] - 1e-9 <= low <= high <= 100 * (1 - baseline[name]) + 1e-9
    text = render(output, color=False)
    for line in text.splitlines():
        if line.startswith(tuple(baseline)):
            low, high = (float(x) for x in line.split()[4].split(".."))
            base = 100 * float(line.split()[1])
            assert -base - 0.01 <= low <= high <= 100 - base + 0.01, line
    d1 = p["deltaone"]
    uncertain = d1["probability_of_decision"] < 0.8 and 0.2 < d1["probability"] < 0.8
    assert text.splitlines()[1].startswith("? DeltaOne" if uncertain else ("✔", "✘"))
    assert ("(uncertain)" in text.splitlines()[1]) == uncertain
    d1.update(probability_of_decision=0.5, probability=0.4)
    assert render(output, color=False).splitlines()[1].startswith("? DeltaOne")
    d1["probability_of_decision"] = 0.95
    assert render(output, color=False).splitlines()[1][0] in "✔✘"


@pytest.mark.parametrize("decision, p_decision, p_pass, headline", [
    ("delta_below_threshold", 0.95, 0.01, "✘ DeltaOne would not pass: below the +1 point threshold"),
    # the reason is in doubt, the outcome is not: a cross, and the likelier reason
    ("delta_below_threshold", 0.65, 0.01, "✘ DeltaOne would not pass (likelier reason: below the +1 point "
                                          "threshold on accuracy)"),
    ("not_statistically_significant", 0.6, 0.15, "✘ DeltaOne would not pass (likelier reason: not statistically "
                                                 "significant)"),
    # the rule on the estimate says not significant, but below the threshold is likelier (0.482)
    ("not_statistically_significant", 0.449, 0.069, "✘ DeltaOne would not pass (likelier reason: below the +1 "
                                                    "point threshold on accuracy)"),
    # the outcome itself is in doubt
    ("not_statistically_significant", 0.6, 0.4, "? DeltaOne would not pass: not statistically significant "
                                                "(uncertain)"),
    ("accepted", 0.6, 0.6, "? DeltaOne would pass (uncertain)"),
    ("accepted", 0.9, 0.9, "✔ DeltaOne would pass")])
def test_the_verdict_mark_is_certain_when_the_outcome_is(output, decision, p_decision, p_pass, headline):
    output["preview_metadata"]["deltaone"].update(decision=decision, accepted=decision == "accepted",
                                                  probability_of_decision=p_decision, probability=p_pass)
    assert " ".join(render(output, color=False).splitlines()[1].split()).startswith(headline)


def test_a_value_that_rounds_to_zero_never_shows_as_minus_zero(output):
    from hokusai_preview.core.report import points, signed

    assert [signed(-0.0042), signed(-0.00004, 4), points(-0.0042), signed(0.0), signed(-0.006)] == [
        "+0.00", "+0.0000", "+0.00", "+0.00", "-0.01"]
    est = output["preview_metadata"]["estimate"]
    est["metric_intervals"]["accuracy"] = [-0.000042, est["metric_intervals"]["accuracy"][1]]
    (line,) = [x for x in render(output, color=False).splitlines() if x.startswith("accuracy ")]
    assert " +0.00..+" in line and "-0.00" not in line


def exact(output):
    """``output`` as the full computation writes it: every interval zero wide, ``estimate.exact``."""
    p = output["preview_metadata"]
    est = p["estimate"]
    est["exact"] = True
    est["delta_one_interval"] = [est["delta_one_score"]] * 2
    est["metric_intervals"] = {m: [v, v] for m, v in est["metric_deltas"].items()}
    p["estimation_confidence"] = 1.0
    p.update(preview_mode=False, disclaimer=None)
    return output


def test_the_full_computation_shows_its_delta_without_an_interval_or_an_estimate(output):
    p = exact(output)["preview_metadata"]
    p["confidence_meaning"] = ("probability that the delta_one_score of the full run without the 1 benchmark match "
                               "(hokusai-preview --full) lies within +/-20% of this estimate")
    text = render(output, color=False)
    score = p["estimate"]["delta_one_score"]
    assert "\ndelta_one_score        %+.4f  (%+.2f pts)\n" % (score, 100 * score) in text
    assert "interval" not in text.replace("95% interval", "").replace("that interval", "")  # the rule's own test stays
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("estimation_confidence"))
    assert " ".join(" ".join(lines[at:at + 2]).split()) == ("estimation_confidence 1.00 exact: this run is the full "
                                                             "computation (every tree on every row), not an estimate")
    assert "hokusai-preview --full" not in text
    (head,) = [x for x in text.splitlines() if x.startswith("metric ")]
    assert head.split() == ["metric", "baseline", "new", "delta", "delta,", "pts"]


def test_the_full_computation_without_removed_matches_says_so_in_its_meaning(output):
    """A full computation of other rows than the main pipeline's: the exact line said only "the full
    computation", the caveat being left to the JSON's confidence_meaning."""
    p = exact(output)["preview_metadata"]
    p["diagnostics"] = {"rows_checked": 500, "warnings": [], "notes": [],
                        "contamination": {"rows": 100, "warn": True, "rows_removed": 100}}
    text = " ".join(render(output, color=False).split())
    assert ("estimation_confidence 1.00 exact: this run is the full computation (every tree on every row but the "
            "100 benchmark matches hp-check removed, which the main pipeline trains on), not an estimate") in text


def test_an_estimates_interval_of_no_width_is_shown_not_left_blank(output):
    """Zero wide is the full computation's interval, which has none; an estimate's, however narrow,
    is its interval: a blank cell would read as a value missing."""
    est = output["preview_metadata"]["estimate"]
    assert not est.get("exact")
    value = est["metric_deltas"]["accuracy"]
    est["metric_intervals"]["accuracy"] = [value, value]
    (row,) = [x for x in render(output, color=False).splitlines() if x.startswith("accuracy ")]
    assert "%+.2f..%+.2f" % (100 * value, 100 * value) in row


def test_counts_of_one_are_singular(output):
    p = output["preview_metadata"]
    p.update(sample_size_used=1, original_data_size=1, sampled=False)
    p["deltaone"]["benchmark_rows"] = 1
    p["diagnostics"] = {"rows_checked": 1, "warnings": [], "notes": []}
    output["new_model"]["training_metadata"]["contributed_samples"] = 1
    text = " ".join(render(output, color=False).split())
    assert "on 1 benchmark row needs" in text and ": 1 of 1 row used" in text
    assert "retrained on 600 base + 1 contributed row;" in text
    assert "data check 1 row: no problems found" in text
    p["mode"] = "fine_tune"
    text = " ".join(render(output, color=False).split())
    assert "fine-tuned: the baseline (trained on 600 base rows) plus new trees on 1 contributed row;" in text


def test_control_characters_in_an_edited_input_cannot_drive_the_terminal():
    """An error record (or output) comes from anywhere: its texts are shown escaped, one line each."""
    from hokusai_preview.core.report import render

    record = {"record": "error", "source_path": "a\x1b[31mRED.csv",
              "error": {"kind": "bad_data", "exit_code": 3, "message": "line1\nline2 \x1b[2J"}}
    text = render(record, color=False)
    assert "\x1b" not in text and text.splitlines() == [
        "✘ a\\x1b[31mRED.csv failed (bad_data, exit status 3)", "  line1\\nline2 \\x1b[2J"]


def test_a_delta_on_rows_like_the_benchmark_is_called_suspect_under_the_verdict(output):
    """The verdict is the main pipeline's, which trains on every row; rows hp-check found to look
    like benchmark rows inflate it, so the report says so where the verdict is read, not only at
    its end."""
    contamination = {"rows": 0, "warn": False, "rows_removed": 0, "closeness": {"warn": True, "estimated_rows": 299.6}}
    output["preview_metadata"]["diagnostics"] = {"rows_checked": 500, "warnings": [], "notes": [],
                                                 "contamination": contamination}
    lines = [" ".join(line.split()) for line in render(output, color=False).splitlines()]
    assert " ".join(lines[2:4]) == ("⚠ suspect: about 300 rows look like altered benchmark rows; such rows inflate "
                                    "this delta (see the data check below)")
    contamination.update(rows=80, warn=True, rows_removed=0)  # kept by --keep-contaminated
    text = " ".join(render(output, color=False, glyphs=ASCII).split())
    assert ("! suspect: 80 benchmark matches were kept (--keep-contaminated); about 300 rows look like altered "
            "benchmark rows; such rows inflate this delta") in text
    contamination["closeness"]["warn"] = False
    contamination.update(rows_removed=80)  # removed: the estimate is of the run without them
    assert "suspect" not in render(output, color=False)


def test_the_report_says_what_the_significance_test_needs_and_whose_threshold_it_is(output):
    d1 = output["preview_metadata"]["deltaone"]
    d1.update(needed_pp=3.12)
    text = " ".join(render(output, color=False).split())
    assert "with a 95% interval above 0, so on this benchmark ≥ +3.12 pts;" in text
    d1.update(needed_pp=1.0)  # a benchmark large enough that the threshold is all it takes
    assert "so on this benchmark" not in render(output, color=False)
    d1.update(decision="delta_below_threshold", accepted=False, probability=0.0, probability_of_decision=1.0,
              judged_on="f1")
    assert render(output, color=False).splitlines()[1].startswith(
        "✘ DeltaOne would not pass: below the +1 point threshold on f1")


def test_extra_columns_are_named_on_the_contribution_line(output):
    output["preview_metadata"]["ignored_columns"] = ["notes", "query_id", "a", "b"]
    text = " ".join(render(output, color=False).split())
    assert "(4 extra columns ignored: notes, query_id, a and 1 more)" in text
