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

from ..core.command import Stage
from ..core.deltaone import METRICS, MIN_BENCHMARK_ROWS, delta_one, deltaone_rule, needed_pp
from ..core.modelfile import SAFE_FORMAT
from ..core.options import BOOTSTRAP_MAX, choice_option, int_option, with_common_options
from ..core.records import utc_now
from ..core.report import signed
from ..core.text import plural, thousands

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
        self.bootstrap = int_option(args, "--bootstrap", minimum=10, maximum=BOOTSTRAP_MAX)

    def params(self, record):
        return {"primary_metric": self.primary, "bootstrap": self.bootstrap}

    def finish(self, record, result):
        # Per-run facts, refreshed even when the estimate came from the cache.
        output = result["output"]
        output["preview_metadata"]["time_elapsed"] = round(_elapsed(result["timings"]), 3)
        output["pipeline_metadata"]["timestamp"] = utc_now()
        output["preview_metadata"]["cache"] = result["cache"]

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
    ``primary`` is the metric DeltaOne is judged on (default: the bundle's), ``bootstrap`` the
    paired bootstrap's replicates.
    """
    from ..core.bundle import Bundle
    from ..core.records import Predictions

    started = time.perf_counter()
    bundle = Bundle.for_record(record)
    primary = primary or bundle.manifest.get("primary_metric", "accuracy")
    sample = _sample_section(record)
    y = bundle.benchmark_labels()
    n_rows = int(len(y))
    predictions = Predictions(record)
    run = _full_run(record, sample, y, predictions)
    replicates = _benchmark_replicates(record, run, y, predictions.reference(), predictions.new(), bootstrap)
    preview_mode = _is_preview(record, sample)
    verdict = _verdict(run, primary, n_rows, record["evaluation"]["benchmark"]["data_hash"])
    warnings = _warnings(record, bundle, sample, run, primary, n_rows, preview_mode)
    preview = _preview_metadata(record, sample, run, replicates, verdict, warnings, bootstrap, preview_mode,
                                int(bundle.recipe["params"]["random_state"]))
    config = _config(record, bundle, sample, primary, bootstrap)
    return _document(record, bundle, sample, run, preview, config, n_rows, started)


# --- the estimate ---------------------------------------------------------------------------------

def _sample_section(record):
    """hp-sample's section of ``record`` (``sample_size_used``, ``original_data_size``, ``sampled``,
    ...); without hp-sample in the pipe, one saying that the newest table (hp-check's or
    hp-load's) was used whole."""
    if record.get("sample"):
        return record["sample"]
    from ..core.records import current_table

    rows = current_table(record)[1]
    return {"sample_size_used": rows, "original_data_size": rows, "sampled": False}


def _is_preview(record, sample):
    """Whether the run is a preview, short of the full computation: hp-train's budget was not the
    full one (--full), or the contribution was sampled (``sample``: :func:`_sample_section`)."""
    used, whole = int(sample["sample_size_used"]), int(sample["original_data_size"])
    return record["training"]["budget"] != "full" or used < whole


def _full_run(record, sample, y, predictions):
    """The full run's metrics as this preview estimates them (core/estimate.py).

    ``y`` holds the benchmark's class codes, ``predictions`` (records.Predictions) the two
    forests' per-tree probabilities on it. Returns dict:

    * ``included``: the metrics both models were scored on, in METRICS order;
    * ``baseline``: the baseline's full-budget metrics (hp-eval's ``baseline_full_metrics``);
    * ``measured``: the like-for-like deltas the preview measured, by metric;
    * ``points``: the learning-curve points extrapolated from ([] when the contribution was used
      whole);
    * ``full``: :func:`estimate.full_run_estimate`'s result (its ``sd`` is each delta's spread);
    * ``new_values``: the new model's metrics, baseline + estimated delta, kept within [0, 1];
    * ``deltas``: new_values - baseline by metric, and their ``delta_one`` (the main pipeline's
      delta_one_score).
    """
    from ..core import estimate as est

    training, evaluation = record["training"], record["evaluation"]
    mode, trees, full_trees = training["mode"], int(training["trees"]), int(training["full_trees"])
    used, whole = int(sample["sample_size_used"]), int(sample["original_data_size"])
    baseline = evaluation["baseline_full_metrics"]
    measured_base, measured_new = evaluation["baseline_metrics"], evaluation["new_metrics"]
    included = [m for m in METRICS if m in baseline and m in measured_base and m in measured_new]
    for scores in (baseline, measured_base, measured_new):  # hp-eval's scores: never outside [0, 1]
        bad = [m for m in included if not (isinstance(scores[m], (int, float)) and 0.0 <= scores[m] <= 1.0)]
        if bad:  # an edited record (1e308, NaN, text): the output would break its own schema
            raise ValueError("%s %r is no score from 0 to 1" % (bad[0], scores[bad[0]]))
    measured = {m: measured_new[m] - measured_base[m] for m in included}
    stored = evaluation["reference_profile"]  # hp-eval's, whenever the preview is short of the full computation
    profile = est.Profile.from_json(stored) if stored else None
    # In rows fitted: the preview fits the sampled ones among the rows the full run fits (hp-train).
    points = evaluation["learning_curve"] if used < whole else []
    curve = [(p["fitted_rows"], p["metric_deltas"]) for p in points]
    full_fitted = training["full_run_fitted"]
    fitted_base = int(full_fitted["base"])
    # Only the trees not grown need the new forest's every tree (a bootstrap over them).
    luck = est.tree_luck(y, predictions.reference(), predictions.new_trees(), mode, full_trees,
                         seed=training["seed"]) if trees < full_trees else None
    full = est.full_run_estimate(included, measured, curve, profile, trees, full_trees,
                                 int(training["fitted_samples"]) - fitted_base, int(full_fitted["contributed"]),
                                 fitted_base, luck, extrapolate=used >= est.SMALL_SAMPLE, halves=curve_halves(points))
    new_values = {m: min(max(baseline[m] + full["estimate"][m], 0.0), 1.0) for m in included}
    deltas = {m: new_values[m] - baseline[m] for m in included}
    return {"included": included, "baseline": baseline, "measured": measured, "points": points, "full": full,
            "new_values": new_values, "deltas": dict(deltas, delta_one=delta_one(deltas))}


def _benchmark_replicates(record, run, y, reference, new, draws):
    """Benchmark-row noise, common to preview and full run: a paired bootstrap (``draws``
    replicates) of the deltas over the benchmark rows, shifted to centre on the estimate;
    ``reference`` and ``new`` are the two forests' estimate.ForestMean.
    Returns dict name -> array of replicates, over ``run["included"]`` and delta_one."""
    from ..core import estimate as est
    from ..core.metrics import score

    training, baseline, deltas = record["training"], run["baseline"], run["deltas"]
    ref_mean = reference.mean
    new_proba = est.combine(training["mode"], ref_mean, new.mean, reference.trees, int(training["full_trees"]))
    paired = est.paired_bootstrap(y, new_proba, ref_mean, draws=draws, seed=training["seed"])
    observed_new = score(y, new_proba)  # the reference's is hp-eval's baseline_full_metrics (ref_mean's)
    shift = {m: deltas[m] - (observed_new[m] - baseline[m]) for m in run["included"]}
    shift["delta_one"] = delta_one(shift)
    return {name: paired[name] + shift[name] for name in shift}


def _ci95(replicates, scale=1.0):
    """[low, high]: the central 95% of ``replicates`` (NaN left out), times ``scale``."""
    import numpy as np

    low, high = np.nanpercentile(replicates, [2.5, 97.5])
    return [float(low) * scale, float(high) * scale]


def _intervals(run):
    """The 90% intervals (estimate.INTERVAL_LEVEL) of the full run's deltas: dict name -> [low,
    high] over ``run["included"]`` and delta_one. No metric goes below 0 or above 1, so no
    interval reaches past what the baseline allows."""
    from ..core import estimate as est

    baseline, deltas, sd = run["baseline"], run["deltas"], run["full"]["sd"]
    possible = {m: (-baseline[m], 1.0 - baseline[m]) for m in run["included"]}
    possible["delta_one"] = tuple(delta_one({m: possible[m][i] for m in run["included"]}) for i in (0, 1))
    return {name: [max(deltas[name] - est.INTERVAL_Z * sd[name], low),
                   min(deltas[name] + est.INTERVAL_Z * sd[name], high)] for name, (low, high) in possible.items()}


def _verdict(run, primary, n_rows, benchmark_hash):
    """The ``deltaone`` section: the main pipeline's DeltaOne rule on the estimate of ``primary``
    (``n_rows`` benchmark rows), with the probabilities that the full run is accepted, clears the
    1-point threshold and gets the same decision, and the delta the rule needs on this benchmark
    (``needed_pp``); ``metric_unavailable`` when ``primary`` is not defined on this benchmark."""
    from ..core import estimate as est

    if primary in run["included"]:
        base, delta = run["baseline"][primary], run["deltas"][primary]
        sd, exact = run["full"]["sd"][primary], run["full"]["exact"]
        rule = deltaone_rule(base, run["new_values"][primary], n_rows, n_rows, benchmark_hash, benchmark_hash)
        probability = est.acceptance_probability(base, delta, sd, n_rows, exact)
        clears = est.threshold_probability(delta, sd, exact)
        same = est.decision_probability(base, delta, sd, n_rows, exact)[1]
        needed = needed_pp(base, n_rows)
    else:
        rule, probability, clears, same = {"decision": "metric_unavailable", "accepted": False}, 0.0, 0.0, 1.0
        needed = None
    return dict(rule, needed_pp=needed, probability=rounded_probability(probability),
                probability_clears_threshold=rounded_probability(clears),
                probability_of_decision=rounded_probability(same), benchmark_rows=n_rows, judged_on=primary)


# --- the warnings ---------------------------------------------------------------------------------

def _warnings(record, bundle, sample, run, primary, n_rows, preview_mode):
    """``preview_metadata.warnings``: hp-load's (naming the rows it dropped), then this stage's
    (each from one function below, in this order), then hp-check's not already among them."""
    training = record["training"]
    used, whole = int(sample["sample_size_used"]), int(sample["original_data_size"])
    mode, seed, recipe_seed = training["mode"], int(training["seed"]), int(bundle.recipe["params"]["random_state"])
    baseline, available = run["baseline"], primary in run["included"]
    listed = bundle.manifest.get("metrics") or {}  # the bundle's model's, as hp-baseline scored it
    warnings = list(record["contribution"]["validation"].get("warnings", []))
    found = [
        _benchmark_size_warning(n_rows),
        _primary_metric_warning(primary, available),
        _seed_warning(mode, seed, recipe_seed, primary, baseline[primary] if available else None,
                      listed.get(primary), preview_mode),
        _manifest_warning(mode, seed, recipe_seed, baseline, listed.get("accuracy"), n_rows),
        _small_sample_warning(used, whole),
        _extrapolation_warning(used, whole),
        _steepening_warning(run["full"]["steepens"], run["points"], used, whole),
        _fine_tune_warning(mode),
        _fresh_split_warning(mode, training.get("test_size"), whole, int(training["base_samples"])),
        _trust_warning(_trust_section(record)),
    ]
    warnings.extend(warning for warning in found if warning)
    if record.get("check"):  # hp-check ran: its warnings among the rest, each once
        for warning in record["check"]["diagnostics"].get("warnings") or []:
            if warning not in warnings:
                warnings.append(warning)
    return warnings


def _benchmark_size_warning(n_rows):
    """A benchmark of ``n_rows`` rows too small for DeltaOne, or None."""
    if n_rows < MIN_BENCHMARK_ROWS:
        return "the benchmark has %s, fewer than the %d DeltaOne requires" % (plural(n_rows, "row"),
                                                                              MIN_BENCHMARK_ROWS)
    return None


def _primary_metric_warning(primary, available):
    """The metric DeltaOne is judged on undefined on the benchmark (not ``available``), or one it
    judges only approximately (any but accuracy), or None."""
    if not available:
        return ("the primary metric %s is undefined on this benchmark (it holds a single class), so DeltaOne "
                "cannot be judged; choose another with --primary-metric" % primary)
    if primary != "accuracy":
        return ("DeltaOne's significance rule treats %s as a proportion of benchmark rows, which it is not "
                "exactly: the verdict is approximate" % primary)
    return None


def _seed_warning(mode, seed, recipe_seed, primary, baseline_value, shipped_value, preview_mode):
    """A retrain with another ``seed`` than the bundle's model was trained with (``recipe_seed``),
    whose baseline is therefore the recipe retrained with ``seed`` (its ``primary`` metric
    ``baseline_value``, None when undefined; the shipped model's ``shipped_value``, None when the
    manifest lists none), or None. The full computation (not ``preview_mode``) is told that the
    main pipeline's result is the recipe seed's."""
    if mode != "retrain" or seed == recipe_seed or baseline_value is None:
        return None
    return ("with --seed %d (the bundle's model was trained with %d) the baseline is the recipe retrained with seed "
            "%d, so that both models share it: its %s is %.4f%s%s" % (
                seed, recipe_seed, seed, primary, baseline_value,
                "" if shipped_value is None else ", the shipped model's %.4f" % shipped_value,
                "" if preview_mode else "; the main pipeline trains with the recipe's seed %d, and a forest grown "
                "with another seed has other luck: this is not its result (that is --seed %d)"
                % (recipe_seed, recipe_seed)))


def _manifest_warning(mode, seed, recipe_seed, baseline, listed, n_rows):
    """The bundle's own model (fine-tuned, or retrained with its ``recipe_seed``) scoring accuracy
    on its ``n_rows``-row benchmark otherwise than its manifest says (``listed``, None when it
    lists none) by more than one row's worth: ``baseline`` holds the scores measured. Or None."""
    # The shipped model on its own benchmark: hp-baseline wrote this very score into the manifest.
    if (mode == "fine_tune" or seed == recipe_seed) and listed is not None and "accuracy" in baseline \
            and abs(baseline["accuracy"] - listed) > 0.5 / max(n_rows, 1):
        return ("the baseline scores accuracy %.4f on its benchmark here where its manifest says %.4f: the bundle's "
                "model, benchmark and manifest do not agree (edited since hp-baseline built it?), so these deltas "
                "may not be what the main pipeline finds; rebuild the bundle with hp-baseline"
                % (baseline["accuracy"], listed))
    return None


def _small_sample_warning(used, whole):
    """A sample of ``used`` of ``whole`` contributed rows too small to extrapolate from
    (estimate.SMALL_SAMPLE), or None."""
    from ..core import estimate as est

    enough = min(whole, est.SMALL_SAMPLE)
    if used < enough:
        return ("only %s of %s %s sampled: the estimate for all of them rests on very little (too little to "
                "extrapolate: it is what the sample shows, its interval wide); use --sample-size %d or more"
                % (thousands(used), plural(whole, "contributed row"), "was" if used == 1 else "were", enough))
    return None


def _extrapolation_warning(used, whole):
    """A sample of ``used`` of ``whole`` contributed rows extrapolated farther than sampled
    previews' intervals have held (estimate.FAR_EXTRAPOLATION-fold), or None; None too for a
    sample too small to extrapolate from, which :func:`_small_sample_warning` speaks for."""
    from ..core import estimate as est

    if used < min(whole, est.SMALL_SAMPLE) or not whole > est.FAR_EXTRAPOLATION * used:
        return None
    times, firmer = whole / used, -(-whole // est.FAR_EXTRAPOLATION)
    # Rounded up, so that just beyond the bound never reads as the bound itself.
    fold = "%d" % math.ceil(times) if times >= 10 else ("%.1f" % (math.ceil(times * 10) / 10)).replace(".0", "")
    return ("the estimate extrapolates %s-fold, from %s sampled rows to all %s: sampled previews' intervals have "
            "held in testing up to %d-fold and proved too narrow at 8- to 10-fold (README: Where it can be wrong); "
            "--sample-size %d or more, or --full, gives a firmer one" % (
                fold, thousands(used), thousands(whole), est.FAR_EXTRAPOLATION, firmer))


def _steepening_warning(steepens, points, used, whole):
    """A learning curve that ``steepens`` at the sample's full size (estimate.curve_steepens):
    ``points`` are hp-eval's learning-curve points, ``used`` of ``whole`` rows sampled. Or None."""
    if not steepens:
        return None
    steps = ", ".join(signed(100 * p["delta_one"]) for p in points if not p.get("complement"))
    return ("the learning curve steepens at the sample's full size (delta_one_score %s points along it, from the "
            "base rows alone to all %s sampled): the estimate assumes a curve that flattens or stays log-linear, so "
            "the full run may lie well beyond its interval; --sample-size %d or --full measures it"
            % (steps, thousands(used), whole))


def _fine_tune_warning(mode):
    """FINE_TUNE_WARNING in fine_tune ``mode`` (a bundle without its base table), else None."""
    return FINE_TUNE_WARNING if mode == "fine_tune" else None


def _fresh_split_warning(mode, test_size, whole, base_samples):
    """A retrain whose ``whole`` contributed rows are few beside its ``base_samples`` base rows
    (under SMALL_SHARE of them), so that the main pipeline's fresh train/test split (a
    ``test_size`` share held out) may move the delta as much as the rows do; or None."""
    if mode != "fine_tune" and test_size and whole < SMALL_SHARE * base_samples:
        return ("few rows: %s contributed beside %s base rows: the main pipeline splits them afresh for training, "
                "so its new "
                "model fits other base rows than the baseline did, and that alone moves the delta by up to about a "
                "point either way; with so few rows, most of this delta may be that, not what the rows teach"
                % (plural(whole, "row"), thousands(base_samples)))
    return None


def _trust_section(record):
    """``preview_metadata.trust``: the baseline's model file format and whether it was loaded
    with --trust-model."""
    return {"model_format": record["baseline"].get("model_format", SAFE_FORMAT),
            "trust_model": bool(record["baseline"].get("trust_model"))}


def _trust_warning(trust):
    """A baseline model file loaded with --trust-model (``trust``: :func:`_trust_section`), or None."""
    from ..core.bundle import trust_warning

    return trust_warning(trust["model_format"], "loaded") if trust["trust_model"] else None


# --- the document ---------------------------------------------------------------------------------

def _preview_metadata(record, sample, run, replicates, verdict, warnings, bootstrap, preview_mode, recipe_seed):
    """``preview_metadata``: what the preview is and how sure (``time_elapsed`` and ``cache`` are
    left to :meth:`Delta.finish`, per run). ``replicates`` are :func:`_benchmark_replicates`',
    ``verdict`` :func:`_verdict`'s, ``recipe_seed`` the seed the bundle's model was trained with."""
    from ..core import estimate as est

    training, evaluation, full = record["training"], record["evaluation"], run["full"]
    used, whole = int(sample["sample_size_used"]), int(sample["original_data_size"])
    removed = int((record.get("check") or {}).get("rows_removed") or 0)  # benchmark matches hp-check left out
    dropped = int(record["contribution"]["validation"].get("rows_dropped") or 0)  # labels the baseline lacks
    intervals = _intervals(run)
    confidence = est.within_probability(run["deltas"]["delta_one"], full["sd"]["delta_one"], exact=full["exact"])
    preview = {
        "preview_mode": preview_mode,
        "disclaimer": DISCLAIMER if preview_mode else None,
        "estimation_confidence": rounded_probability(confidence),
        "confidence_meaning": confidence_meaning(training["mode"], removed, int(training["seed"]), recipe_seed),
        "sample_size_used": used,
        "original_data_size": whole + removed + dropped,  # the contribution file's rows
        "rows_dropped": dropped,
        "ignored_columns": list(record["contribution"]["validation"].get("extra_columns") or []),
        "sampled": used < whole,
        "time_elapsed": None,
        "mode": training["mode"],
        "estimate": _estimate_section(run, intervals),
        "measured": _measured_section(evaluation, run, int(training["trees"]), used),
        "primary_metric": _primary_metric_section(run, intervals, replicates, verdict["judged_on"]),
        "deltaone": verdict,
        "uncertainty": _uncertainty_section(full, replicates, bootstrap),
        "budget": _budget_section(training, evaluation),
        "baseline_full_metrics": run["baseline"],
        "learning_curve": evaluation["learning_curve"],
        "warnings": warnings,
        "trust": _trust_section(record),
    }
    if record.get("check"):  # hp-check ran: its findings travel with the estimate
        preview["diagnostics"] = record["check"]["diagnostics"]
    return preview


def _estimate_section(run, intervals):
    """``preview_metadata.estimate``: the full run's deltas as estimated, with their intervals."""
    from ..core import estimate as est

    full, deltas, included = run["full"], run["deltas"], run["included"]
    return {
        "delta_one_score": deltas["delta_one"],
        "delta_one_interval": intervals["delta_one"],
        "interval_level": est.INTERVAL_LEVEL,
        "metric_deltas": {m: deltas[m] for m in included},
        "metric_intervals": {m: intervals[m] for m in included},
        "extrapolated": full["extrapolated"],
        "curve_trust": full["curve_trust"],
        "curve_steepens": bool(full["steepens"]),
        "exact": full["exact"],
    }


def _measured_section(evaluation, run, trees, used):
    """``preview_metadata.measured``: what the preview's ``trees`` trees on ``used`` contributed
    rows scored, like for like."""
    return {
        "trees": trees,
        "contributed_rows": used,
        "baseline_metrics": evaluation["baseline_metrics"],
        "new_metrics": evaluation["new_metrics"],
        "metric_deltas": run["measured"],
        "delta_one_score": delta_one(run["measured"]),
    }


def _primary_metric_section(run, intervals, replicates, primary):
    """``preview_metadata.primary_metric``: the metric DeltaOne is judged on, its deltas and
    intervals in points (None where it is undefined on the benchmark)."""
    available = primary in run["included"]
    delta_pp = run["deltas"][primary] * 100.0 if available else None
    return {
        "name": primary,
        "baseline_value": run["baseline"].get(primary),
        "new_value": run["new_values"].get(primary),
        "delta_pp": delta_pp,
        "estimated_delta_pp": delta_pp,
        "measured_delta_pp": run["measured"][primary] * 100.0 if available else None,
        "interval_pp": [value * 100.0 for value in intervals[primary]] if available else None,
        "benchmark_ci95_pp": _ci95(replicates[primary], 100.0) if available else None,
    }


def _uncertainty_section(full, replicates, bootstrap):
    """``preview_metadata.uncertainty``: the estimate's spread and its parts (``full``:
    estimate.full_run_estimate's result), and the paired benchmark bootstrap (``bootstrap``
    replicates)."""
    import numpy as np

    from ..core import estimate as est

    return {
        "sd": full["sd"],
        "from_unfitted_trees": full["from_unfitted_trees"],
        "from_sampling": full["from_sampling"],
        "from_row_draw": full["from_row_draw"],
        "sd_inflation": est.SD_INFLATION,
        "paired_benchmark_bootstrap": {
            "replicates": bootstrap,
            "delta_one_ci95": _ci95(replicates["delta_one"]),
            "p_delta_one_not_positive": float(np.mean(replicates["delta_one"] <= 0)),
        },
    }


def _budget_section(training, evaluation):
    """``preview_metadata.budget``: the trees grown and the rows fitted (hp-train's)."""
    return {"trees": int(training["trees"]), "full_trees": int(training["full_trees"]),
            "compared_trees": evaluation["compared_trees"], "round_size": training["round_size"],
            "stop_reason": training["stop_reason"], "fitted_samples": training["fitted_samples"],
            "split": training["split"]}


def _config(record, bundle, sample, primary, bootstrap):
    """``pipeline_metadata.config``: the settings of the run."""
    training = record["training"]
    # sample_size: the size the contribution was sampled down to, null when it was used whole.
    return {"random_seed": training["seed"], "sample_size": sample.get("sample_size_requested"),
            "test_size": training["test_size"], "evaluation_metrics": list(METRICS), "primary_metric": primary,
            "model_recipe": bundle.recipe, "training_mode": training["mode"], "trees": int(training["trees"]),
            "bootstrap_replicates": bootstrap, "baseline_bundle": bundle.path}


def _metric_deltas(run):
    """``delta_computation.metric_deltas``: each included metric's baseline and estimated new value."""
    metric_deltas = {}
    for m in run["included"]:
        base, new_value = run["baseline"][m], run["new_values"][m]
        metric_deltas[m] = {"baseline_value": base, "new_value": new_value, "absolute_delta": new_value - base,
                            "relative_delta": (new_value - base) / base if base else 0.0,
                            "improvement": bool(new_value - base > 0)}
    return metric_deltas


def _document(record, bundle, sample, run, preview, config, n_rows, started):
    """The output document in the main pipeline's format (schema_version 1.0), ``preview`` as
    its ``preview_metadata``; ``started`` (time.perf_counter) adds this stage's time to hp-eval's."""
    contribution, training, evaluation = record["contribution"], record["training"], record["evaluation"]
    included, deltas = run["included"], run["deltas"]
    whole = int(sample["original_data_size"])
    data_manifest = contribution["data_manifest"]
    base_samples = int(training["base_samples"])
    total = base_samples + whole
    ratio = whole / total if total else 0.0
    model_id = bundle.manifest["model_id"]
    run_id = ("preview-" if preview["preview_mode"] else "full-") + record["key"][:16]
    return {
        "schema_version": "1.0",
        "delta_computation": {
            "delta_one_score": deltas["delta_one"],
            "metric_deltas": _metric_deltas(run),
            "computation_method": "weighted_average_delta",
            "metrics_included": included,
            "improved_metrics": [m for m in included if deltas[m] > 0],
            "degraded_metrics": [m for m in included if deltas[m] < 0],
        },
        "baseline_model": {"model_id": model_id, "model_type": bundle.manifest["model_type"],
                           "metrics": run["baseline"], "mlflow_run_id": None},
        "new_model": {
            "model_id": "%s+%s" % (model_id, data_manifest["data_hash"].split(":")[-1][:12]),
            "model_type": bundle.manifest["model_type"],
            "metrics": run["new_values"],
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
