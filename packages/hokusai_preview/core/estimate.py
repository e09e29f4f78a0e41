"""From per-tree predictions to the DeltaOne estimate, its uncertainty and its verdict.

Vocabulary. The *full* computation trains the recipe at its full budget (all its trees) on the
whole contribution; the *preview* trains ``k`` trees, possibly on a sample. Both score on the
same benchmark rows, so the benchmark's own sampling noise is common to both and does not
separate them. What can separate them:

1. the trees the preview did not grow (when it stopped early): measured by *tree completion*,
   which fills the missing trees by resampling the grown ones and re-scores the forest;
2. the rows the preview did not use (when the contribution was sampled): measured by a learning
   curve over nested sub-samples, extrapolated to the full contribution size.

Their variances add up to the predictive variance of the full pipeline's delta, from which
``estimation_confidence`` is the probability that the full delta_one_score falls within
+/-20% of the estimate (or within 0.2 points when the estimate is near zero).

Two modes of building the new model:

* ``retrain`` (the bundle has its base table): the new forest is the recipe trained on
  base + contribution; it is compared with the reference forest (the recipe on base alone)
  grown with the same number of trees and seed, so budget effects cancel in the delta.
* ``fine_tune`` (no base table): trees fitted on the contribution are added to the baseline
  forest; the estimate gives the ``k`` new trees the weight the full budget's trees would have.
"""

import math

import numpy as np

from .metrics import METRICS, score, score_batch

THRESHOLD_PP = 1.0          # DeltaOne: at least one percentage point on the primary metric
MIN_BENCHMARK_ROWS = 800    # DeltaOne: both evaluations on at least this many rows
RELATIVE_TOLERANCE = 0.20   # "within +/-20% of the full pipeline's result"
ABSOLUTE_TOLERANCE = 0.002  # ... or within 0.2 points where the full delta is near zero
Z95 = 1.959963984540054


def normal_cdf(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def delta_one(deltas):
    """The main pipeline's delta_one_score: the plain mean of the metrics' absolute deltas."""
    values = [v for v in deltas.values() if v is not None and np.isfinite(v)]
    return float(np.mean(values)) if values else 0.0


def tolerance(estimate):
    return max(RELATIVE_TOLERANCE * abs(estimate), ABSOLUTE_TOLERANCE)


def within_probability(estimate, sd):
    """P(|full - estimate| <= tolerance(estimate)) when full ~ Normal(estimate, sd**2)."""
    if not sd or sd <= 0:
        return 1.0
    return 2.0 * normal_cdf(tolerance(estimate) / sd) - 1.0


class Forests:
    """Per-tree benchmark probabilities of the reference and new forests.

    Parameters
    ----------
    mode : {"retrain", "fine_tune"}
    reference : array (T, n, C)
        Every tree of the reference forest (the baseline recipe at full budget).
    new : array (k, n, C)
        The new trees grown so far (retrain: the whole new forest; fine_tune: only the added trees).
    full_new : int
        Trees the full computation grows (retrain: the new forest's size; fine_tune: trees added).
    """

    def __init__(self, mode, reference, new, full_new):
        self.mode = mode
        self.reference = np.asarray(reference, dtype=np.float64)
        self.new = np.asarray(new, dtype=np.float64)
        self.full_new = int(full_new)
        self.k = len(self.new)

    def new_proba(self):
        """The new model's probabilities as the preview estimates them, shape (n, C)."""
        mean_new = self.new.mean(axis=0)
        if self.mode == "retrain":
            return mean_new
        t = len(self.reference)
        return (t * self.reference.mean(axis=0) + self.full_new * mean_new) / (t + self.full_new)

    def reference_proba(self):
        """The reference model compared like with like: first k trees (retrain) or all (fine_tune)."""
        if self.mode == "retrain":
            return self.reference[: self.k].mean(axis=0)
        return self.reference.mean(axis=0)

    def completion_deltas(self, y, draws=100, seed=0, chunk=20):
        """Draws of the full computation's metric deltas, dict metric -> array (draws,).

        The trees the preview did not grow are drawn with replacement from those it did; when
        it grew them all the single exact value is returned.
        """
        reference_full = score_batch(y, self.reference.mean(axis=0)[None])
        missing = self.full_new - self.k
        t = len(self.reference)
        observed_sum = self.new.sum(axis=0)
        if missing <= 0:
            totals = [observed_sum[None]]
        else:
            rng = np.random.Generator(np.random.PCG64(seed))
            counts = rng.multinomial(missing, np.full(self.k, 1.0 / self.k), size=draws).astype(np.float64)
            totals = (observed_sum[None] + np.tensordot(counts[i:i + chunk], self.new, axes=(1, 0))
                      for i in range(0, draws, chunk))
        parts = {m: [] for m in METRICS}
        for total in totals:
            if self.mode == "retrain":
                proba = total / self.full_new
            else:
                proba = (t * self.reference.mean(axis=0)[None] + total) / (t + self.full_new)
            scored = score_batch(y, proba)
            for m in METRICS:
                parts[m].append(scored[m] - reference_full[m])
        return {m: np.concatenate(parts[m]) for m in METRICS}


def metric_deltas(y, new_proba, reference_proba):
    """(reference metrics, new metrics, deltas) for one pair of probability matrices."""
    base = score(y, reference_proba)
    new = score(y, new_proba)
    common = [m for m in METRICS if m in base and m in new]
    return base, new, {m: new[m] - base[m] for m in common}


def spread(draws):
    """Standard deviation of each metric's draws and of their mean (delta_one), dict."""
    stacked = np.vstack([draws[m] for m in METRICS if np.all(np.isfinite(draws[m]))])
    out = {m: float(np.std(draws[m])) for m in METRICS if np.all(np.isfinite(draws[m]))}
    out["delta_one"] = float(np.std(stacked.mean(axis=0)))
    return out


def convergence(y, forests, draws=100, seed=0):
    """The early-stopping check after a round of trees.

    Returns dict: ``trees``, ``delta_one`` (the like-for-like estimate), ``sd`` (its spread from
    tree completion) and ``within`` (the probability that growing every tree lands within
    tolerance of the estimate).
    """
    _, _, deltas = metric_deltas(y, forests.new_proba(), forests.reference_proba())
    estimate = delta_one(deltas)
    sd = spread(forests.completion_deltas(y, draws=draws, seed=seed))["delta_one"]
    return {"trees": forests.k, "delta_one": estimate, "sd": sd, "within": within_probability(estimate, sd)}


def extrapolate(points, target_rows, base_rows):
    """Extrapolate a learning curve of deltas to the full contribution size.

    Parameters
    ----------
    points : list of (contributed_rows, delta) with at least two distinct sizes
    target_rows : int
        The whole contribution's size.
    base_rows : int
        Rows the new model trains on besides the contribution.

    Returns
    -------
    (estimate, sd): the log-linear fit of delta against log(base + contributed rows) evaluated at
    the target, and an uncertainty that covers both continued and no further improvement
    (half the distance between the extrapolation and the largest measured point) plus the
    fit's residual spread.
    """
    xs = np.log(base_rows + np.array([p[0] for p in points], dtype=np.float64))
    ys = np.array([p[1] for p in points], dtype=np.float64)
    if len(set(xs.tolist())) < 2:
        return float(ys[-1]), 0.0
    slope, intercept = np.polyfit(xs, ys, 1)
    x_target = math.log(base_rows + target_rows)
    fitted = slope * x_target + intercept
    last = float(ys[np.argmax(xs)])
    residual = float(np.sqrt(np.mean((ys - (slope * xs + intercept)) ** 2))) if len(ys) > 2 else 0.0
    estimate = (fitted + last) / 2.0
    sd = abs(fitted - last) / 2.0 + residual
    return float(estimate), float(sd)


def paired_bootstrap(y, new_proba, reference_proba, draws=1000, seed=0, chunk=100):
    """Deltas over benchmark rows resampled with replacement (the same rows for both models).

    Returns dict metric -> array (draws,), plus "delta_one".
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    n = len(y)
    parts = {m: [] for m in METRICS}
    for start in range(0, draws, chunk):
        size = min(chunk, draws - start)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(np.float64)
        new = score_batch(y, np.broadcast_to(new_proba, (size,) + new_proba.shape), weights=weights)
        ref = score_batch(y, np.broadcast_to(reference_proba, (size,) + reference_proba.shape), weights=weights)
        for m in METRICS:
            parts[m].append(new[m] - ref[m])
    out = {m: np.concatenate(parts[m]) for m in METRICS}
    finite = [out[m] for m in METRICS if np.all(np.isfinite(out[m]))]
    out["delta_one"] = np.vstack(finite).mean(axis=0)
    return out


def deltaone_rule(baseline_value, new_value, n_baseline, n_new, hash_baseline, hash_new):
    """The main pipeline's DeltaOne acceptance rule on a proportion metric.

    Returns dict: ``decision`` (accepted | insufficient_samples | dataset_hash_mismatch |
    delta_below_threshold | not_statistically_significant), ``delta_pp``, ``ci95_pp`` [low, high].
    """
    delta_pp = (new_value - baseline_value) * 100.0
    se = math.sqrt(_variance(baseline_value, n_baseline) + _variance(new_value, n_new))
    ci = [delta_pp - Z95 * se * 100.0, delta_pp + Z95 * se * 100.0]
    if min(n_baseline, n_new) < MIN_BENCHMARK_ROWS:
        decision = "insufficient_samples"
    elif hash_baseline != hash_new:
        decision = "dataset_hash_mismatch"
    elif delta_pp < THRESHOLD_PP:
        decision = "delta_below_threshold"
    elif ci[0] <= 0:
        decision = "not_statistically_significant"
    else:
        decision = "accepted"
    return {"decision": decision, "accepted": decision == "accepted", "delta_pp": delta_pp, "ci95_pp": ci,
            "threshold_pp": THRESHOLD_PP, "min_examples": MIN_BENCHMARK_ROWS}


def _variance(p, n):
    return p * (1.0 - p) / n if n else 0.0


def acceptance_probability(baseline_value, delta_estimate, delta_sd, n_rows):
    """P(the full pipeline's primary-metric delta passes DeltaOne), delta ~ Normal(estimate, sd**2).

    A delta passes when it is at least 1 point and its unpaired 95% interval excludes zero; the
    interval's width is evaluated at the estimate.
    """
    if n_rows < MIN_BENCHMARK_ROWS:
        return 0.0
    new_value = min(max(baseline_value + delta_estimate, 0.0), 1.0)
    se = math.sqrt(_variance(baseline_value, n_rows) + _variance(new_value, n_rows))
    needed = max(THRESHOLD_PP / 100.0, Z95 * se + 1e-12)
    if not delta_sd or delta_sd <= 0:
        return 1.0 if delta_estimate >= needed else 0.0
    return 1.0 - normal_cdf((needed - delta_estimate) / delta_sd)
