"""The main pipeline's DeltaOne rule, as its facts state it: the five metrics, delta_one_score (the
mean of their deltas), the threshold of one percentage point on the primary metric, the minimum
benchmark size and the significance test.

Plain Python, no numpy: the report, the batch summary and its picture (hp-format, which only
formats and must start fast) draw the same line and name the same metrics as the estimate.
"""

import math

METRICS = ("accuracy", "precision", "recall", "f1", "auroc")  # delta_one_score averages their deltas (delta_one)
THRESHOLD_PP = 1.0          # at least one percentage point on the primary metric
MIN_BENCHMARK_ROWS = 800    # both evaluations on at least this many rows
SIGNIFICANCE_Z = 1.96       # the main pipeline's constant, as it writes it (not 1.95996...)
EPSILON_PP = 1e-9           # a delta of exactly 1.0 point is 1.0 point despite floating point


def deltaone_rule(baseline_value, new_value, n_baseline, n_new, hash_baseline, hash_new):
    """The main pipeline's DeltaOne acceptance rule on a proportion metric.

    Returns dict: ``decision`` (accepted | insufficient_samples | dataset_hash_mismatch |
    delta_below_threshold | not_statistically_significant), ``accepted``, ``delta_pp``,
    ``ci95_pp`` [low, high] (unpaired: SE = sqrt(p (1 - p) / n) per model), ``threshold_pp``,
    ``min_examples``. The checks run in the main pipeline's order.
    """
    delta_pp = (new_value - baseline_value) * 100.0
    half = SIGNIFICANCE_Z * math.sqrt(variance(baseline_value, n_baseline) + variance(new_value, n_new)) * 100.0
    ci = [delta_pp - half, delta_pp + half]
    if min(n_baseline, n_new) < MIN_BENCHMARK_ROWS:
        decision = "insufficient_samples"
    elif hash_baseline != hash_new:
        decision = "dataset_hash_mismatch"
    elif delta_pp < THRESHOLD_PP - EPSILON_PP:
        decision = "delta_below_threshold"
    elif not ci[0] > 0:
        decision = "not_statistically_significant"
    else:
        decision = "accepted"
    return {"decision": decision, "accepted": decision == "accepted", "delta_pp": delta_pp, "ci95_pp": ci,
            "threshold_pp": THRESHOLD_PP, "min_examples": MIN_BENCHMARK_ROWS}


def needed_pp(baseline_value, n_rows):
    """The smallest delta, in points, that :func:`deltaone_rule` accepts against a baseline of
    ``baseline_value`` on ``n_rows`` benchmark rows (both models scored on them): the threshold, or
    more where the significance test asks for more (about +3.1 points at 0.73 on 1,500 rows).
    Rounded up to the hundredth, so that a delta shown at it passes. None where no delta can pass:
    a benchmark under the minimum, or a baseline too near the metric's top."""
    if n_rows < MIN_BENCHMARK_ROWS:
        return None

    def significant(delta_pp):
        new = baseline_value + delta_pp / 100.0
        spread = math.sqrt(variance(baseline_value, n_rows) + variance(new, n_rows)) * 100.0
        return delta_pp - SIGNIFICANCE_Z * spread > 0

    low, high = THRESHOLD_PP, (1.0 - baseline_value) * 100.0  # the most the metric can still rise
    if high < low or not significant(high):
        return None
    if significant(low):
        return THRESHOLD_PP
    for _ in range(60):  # bisection: the interval's low end rises with the delta on any real benchmark
        middle = (low + high) / 2.0
        low, high = (low, middle) if significant(middle) else (middle, high)
    return math.ceil(high * 100.0 - 1e-9) / 100.0


def delta_one(deltas):
    """The main pipeline's delta_one_score: the plain mean of the metrics' absolute deltas (dict
    name -> delta; a None or non-finite delta is left out), 0.0 when none is left.

    Summed in order: for up to 7 values (there are 5 metrics) that is how numpy's mean adds them,
    so this is the float the estimate's numpy version gave, to the last bit."""
    values = [v for v in deltas.values() if v is not None and math.isfinite(v)]
    return float(sum(values) / len(values)) if values else 0.0


def variance(p, n):
    # An estimated value (baseline + extrapolated delta) can pass 0 or 1; a proportion cannot.
    p = min(max(p, 0.0), 1.0)
    return p * (1.0 - p) / n if n else 0.0
