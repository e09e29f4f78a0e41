"""From per-tree predictions to the DeltaOne estimate, its uncertainty and its verdict.

Vocabulary. The *full* computation trains the recipe at its full budget (all its ``T`` trees) on
the whole contribution and compares it with the baseline forest (the recipe on the base table,
same seed; with the bundle's seed that is the shipped model). The *preview* grows ``k <= T``
trees, possibly on a sample of the contribution. Both score on the same benchmark rows, so the
benchmark's own sampling noise is common to both and does not separate them (it is reported
apart, as a paired bootstrap). What separates them:

1. *the trees the preview did not grow.* A forest's score depends on its number of trees (more
   trees average out more tree noise: the budget gain) and on which trees it drew (the seed's
   luck). The budget gain is measured on the reference forest, whose ``T`` trees are all known:
   the mean score of its ``k``-tree subsets (:class:`Profile`). The estimate compares the new
   ``k``-tree forest with the reference's expected ``k``-tree score, so the budget effect
   cancels (like for like); its error is the luck of the new trees not yet grown, measured on
   the new forest itself by a bootstrap over its trees (:func:`tree_luck`). Not on the
   reference: trees fitted on noisy rows vary more than the reference's, and on 84 exploratory
   scenarios the reference's spread put some errors at 4 spreads, the new forest's at none
   over 3 (root mean square of error/spread 0.8 to 1.2 by dataset and budget, where the
   reference's ranged 0.7 to 1.5).
2. *the rows the preview did not use*, when the contribution was sampled: the same ``k`` trees
   are grown on nested quarter and half samples and on the other half of the sample, and the
   deltas are extrapolated along log(training rows) to the whole contribution
   (:func:`curve_weights`). All of them fit rows the full run fits (its train/test split of
   base + whole contribution, restricted to the sample: hp-train's ``FullRunSplit``), so the
   base rows are the same throughout. The uncertainty adds the curve points' own forest luck
   and their sampling luck (how far the two halves, drawn from different rows, disagree beyond
   what their trees' luck explains), both propagated through the extrapolation, the full
   forest's luck (it grows different trees), and the choice between "keeps growing
   log-linearly" and "stops growing" (the estimate goes as far toward the first as the curve's
   slope stands out from its scatter).

Why not the reference's first ``k`` trees: with the same seed the new forest's first ``k`` trees
are the full run's first ``k`` (scikit-learn draws tree seeds in order), but the reference was
trained on other rows, so equal seeds do not pair its trees with the new ones; its first ``k``
trees are one arbitrary ``k``-subset, whose luck would enter every estimate made against this
bundle. Averaging over its ``k``-subsets removes that luck and keeps the budget equal. The
accuracy suite (bench/accuracy.py) measured both: the subset average errs less.

Where the contribution was sampled, the curve points' and the full run's forest luck are read
from the reference's subsets and multiplied by :data:`SD_INFLATION`: on exploratory scenarios
(other row draws than the suite reports) the new forests' errors were about a quarter wider
than the reference's subsets predict.

``estimation_confidence`` is the probability that the full pipeline's delta_one_score falls
within +/-20% of the estimate (at least +/-0.2 points) when the full result is
Normal(estimate, sd**2); it is exactly 1 only when the preview is the full computation.

Two modes of building the new model:

* ``retrain`` (the bundle has its base table): the new forest is the recipe on base +
  contribution; its probabilities are the mean of its trees;
* ``fine_tune`` (no base table): trees fitted on the contribution are added to the baseline
  forest, ``T`` of them in the full run; the preview's ``k`` new trees get the weight of ``T``.
"""

import math

import numpy as np

from .deltaone import (
    EPSILON_PP,
    METRICS,
    MIN_BENCHMARK_ROWS,
    SIGNIFICANCE_Z,
    THRESHOLD_PP,
    delta_one,
    deltaone_rule,
    variance,
)
from .metrics import score_batch

RELATIVE_TOLERANCE = 0.20   # "within +/-20% of the estimate"
ABSOLUTE_TOLERANCE = 0.002  # ... or within 0.2 points where the estimate is near zero
SD_INFLATION = 1.25         # measured calibration of the reference-based spreads of a sampled preview
PROFILE_DRAWS = 50          # k-subsets of the reference per profile point
PROFILE_POINTS = 9          # profile at 10%, 20%, ..., 90% of the full budget
LUCK_DRAWS = 50             # bootstrap draws of the new forest's trees (tree_luck)
MAX_CONFIDENCE = 0.9999     # anything short of the full computation keeps some doubt
INTERVAL_LEVEL = 0.90       # the estimate's intervals (interval_level in the output), two-sided
INTERVAL_Z = 1.6448536269514722  # their half-width in spreads: the normal's (1 + INTERVAL_LEVEL) / 2 quantile
# A sample smaller than this (of a larger contribution) is too small to extrapolate from: curve
# points a few dozen rows apart differ by their forests' luck, not by learning, and a line through
# them, followed to thousands of rows, can say anything (tens of points either way). Its estimate
# is what the whole sample shows, with the whole way to the line in its spread.
SMALL_SAMPLE = 200
# Farther than this (the whole contribution over the sample), a sampled preview's interval has
# proved too narrow: an independent review of 0.9.0 found its 90% intervals covering the full run
# in 8 of 10 draws at 8- to 10-fold, where at 4-fold or less they were too wide (README: Where it
# can be wrong). The output says so.
FAR_EXTRAPOLATION = 4


def normal_cdf(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def tolerance(estimate):
    return max(RELATIVE_TOLERANCE * abs(estimate), ABSOLUTE_TOLERANCE)


def within_probability(estimate, sd, exact=False):
    """P(|full - estimate| <= tolerance(estimate)) when full ~ Normal(estimate, sd**2).

    ``exact``: the estimate is the full computation itself (probability 1). Otherwise the
    probability stays below 1 even when the measured spread is zero.
    """
    if exact:
        return 1.0
    if not sd or sd <= 0:
        return MAX_CONFIDENCE
    return min(2.0 * normal_cdf(tolerance(estimate) / sd) - 1.0, MAX_CONFIDENCE)


def combine(mode, reference_mean, added_mean, reference_trees, full_new):
    """Class probabilities of the new model given the mean of its new trees, shape (..., n, C)."""
    if mode == "retrain":
        return added_mean
    reference_mean, added_mean = np.asarray(reference_mean), np.asarray(added_mean)
    if added_mean.shape != np.broadcast(reference_mean, added_mean).shape or \
            not reference_mean.dtype == added_mean.dtype == np.float64:
        return (reference_trees * reference_mean + full_new * added_mean) / (reference_trees + full_new)
    # The same products, sum and quotient as that, element by element (a sum's order does not
    # change it), in one array rather than three: with many classes each can be hundreds of MB.
    out = np.multiply(full_new, added_mean)
    out += reference_trees * reference_mean
    out /= reference_trees + full_new
    return out


class ForestMean:
    """A forest's class probabilities averaged over its trees, ``mean`` (n, C) float64, and its
    number of ``trees``: all that :func:`like_for_like` uses of either forest's per-tree
    probabilities, and :func:`tree_luck` and :func:`convergence` of the reference's.

    Those functions take one wherever they take per-tree probabilities (t, n, C) only for
    their mean, so a caller need not hold the trees' arrays (with hundreds of classes, hundreds
    of MB) nor average them again.
    """

    def __init__(self, mean, trees):
        self.mean = mean
        self.trees = int(trees)

    @classmethod
    def of(cls, probas):
        """``probas`` if it is a ForestMean, else that of per-tree probabilities (t, n, C)."""
        if isinstance(probas, cls):
            return probas
        probas = np.asarray(probas, dtype=np.float64)
        return cls(probas.mean(axis=0), len(probas))


def present(metric_values):
    """The metrics that are defined (AUROC is not when the benchmark holds a single class)."""
    return [m for m in METRICS if m in metric_values and np.all(np.isfinite(metric_values[m]))]


class Profile:
    """How the score of the reference forest depends on its number of trees.

    Attributes
    ----------
    trees : list of int
        The subset sizes measured (10%, ..., 90% of ``full``).
    full : int
        The full budget of new trees.
    gain_coefficient : dict name -> float
        ``a`` in :meth:`gain` (k) = a * (1/k - 1/full): the expected score of a full forest minus
        that of a k-tree one, fitted through the measured subset means (smooth in k, zero at
        ``full``).
    sd : dict name -> list of float
        At each size, the spread of (full forest's score - score of a k-tree subset of it).
    draws : int
        Subsets scored per size.
    Names are the defined metrics plus ``delta_one`` (their mean).
    """

    def __init__(self, trees, full, gain, sd, draws=PROFILE_DRAWS):
        self.trees = [int(k) for k in trees]
        self.full = int(full)
        self.gain_coefficient = {name: float(a) for name, a in gain.items()}
        self.sd = {name: [float(v) for v in values] for name, values in sd.items()}
        self.draws = int(draws)

    @classmethod
    def measure(cls, y, reference, mode, full_new, draws=PROFILE_DRAWS, seed=0):
        """Score ``draws`` random k-subsets of the reference's trees at each profile size.

        Parameters
        ----------
        y : array of int, shape (n,)
            Benchmark class codes.
        reference : array, shape (t, n, C)
            The reference forest's per-tree class probabilities on the benchmark (best
            memory-mapped from their file: they are read, never copied).
        mode : str
            ``retrain`` or ``fine_tune``; in fine_tune mode the subsets stand in for the new
            trees (added to the whole baseline).
        full_new : int
            The full budget of new trees.
        draws : int, default=PROFILE_DRAWS
        seed : int, default=0
        """
        reference = np.asarray(reference, dtype=np.float64)
        t = len(reference)
        full = int(full_new)
        ref_mean = reference.mean(axis=0)
        whole = score_batch(y, combine(mode, ref_mean, ref_mean, t, full)[None])
        names = present(whole)
        grid = sorted({min(max(1, int(round(full * i / (PROFILE_POINTS + 1)))), t - 1)
                       for i in range(1, PROFILE_POINTS + 1)} - {0})  # t - 1 is 0 for a 1-tree forest
        rng = np.random.Generator(np.random.PCG64(seed))
        flat = reference.reshape(t, -1)
        # Each size's subset means (draws x n x C floats, hundreds of MB with many classes) in one
        # buffer: one such array at a time, its memory provided by the system once, not per size.
        batch = np.empty((draws, flat.shape[1]))
        means, sds = {n: [] for n in names + ["delta_one"]}, {n: [] for n in names + ["delta_one"]}
        for k in grid:
            weights = np.zeros((draws, t))
            for row in weights:
                row[rng.choice(t, size=k, replace=False)] = 1.0 / k
            subset_mean = np.matmul(weights, flat, out=batch).reshape((draws,) + reference.shape[1:])
            got = score_batch(y, combine(mode, ref_mean[None], subset_mean, t, full))
            gaps = {n: whole[n][0] - got[n] for n in names}
            gaps["delta_one"] = np.mean([gaps[n] for n in names], axis=0)
            for name, gap in gaps.items():
                means[name].append(float(np.mean(gap)))
                sds[name].append(float(np.std(gap)))
        x = np.array([1.0 / k - 1.0 / full for k in grid])
        gain = {name: float(np.dot(x, values) / np.dot(x, x)) if grid else 0.0 for name, values in means.items()}
        return cls(grid, full, gain, sds, draws)

    def to_json(self):
        return {"trees": self.trees, "full_trees": self.full, "gain": self.gain_coefficient, "sd": self.sd,
                "draws": self.draws}

    @classmethod
    def from_json(cls, data):
        return cls(data["trees"], data["full_trees"], data["gain"], data["sd"], data.get("draws", PROFILE_DRAWS))

    def names(self):
        return list(self.sd)

    def gain(self, name, k):
        """Expected score of the full forest minus that of a k-tree forest."""
        return self.gain_coefficient[name] * (1.0 / k - 1.0 / self.full) if k < self.full else 0.0

    def nested_sd(self, name, k):
        """Spread of (full forest's score - score of its first k trees); 0 at the full budget."""
        if k >= self.full or not self.trees:
            return 0.0
        values, trees = self.sd[name], self.trees
        # Outside the profile: the spread of a k-subset's mean around the full forest's goes as
        # sqrt(1/k - 1/full), scaled to the nearest measured size.
        edge = 0 if k <= trees[0] else -1 if k >= trees[-1] else None
        if edge is not None:
            return values[edge] * math.sqrt((1.0 / k - 1.0 / self.full) / (1.0 / trees[edge] - 1.0 / self.full))
        return float(np.interp(k, trees, values))

    def forest_sd(self, name):
        """Spread of a whole full-budget forest's score across seeds (its luck).

        For a score linear in the probabilities, Var(mean of T trees) equals
        Var(mean of T trees - mean of T/2 of them): the nested spread at half the budget.
        """
        return self.nested_sd(name, max(1, self.full // 2))


def tree_luck(y, reference, new, mode, full_new, draws=LUCK_DRAWS, seed=0):
    """How far the full budget's forest may score from the ``k`` new trees grown so far.

    Parameters
    ----------
    y : array of int, shape (n,)
        Benchmark class codes.
    reference : array, shape (t, n, C), or ForestMean
        The reference forest's per-tree probabilities (in fine_tune mode the new trees join it).
    new : array, shape (k, n, C)
        The new forest's per-tree probabilities (at ``k >= full_new`` every spread is 0).
    mode : str
    full_new : int
        The full budget of new trees.
    draws : int, default=LUCK_DRAWS
    seed : int, default=0

    Returns
    -------
    dict name -> float: the spread of (full forest's score - k-tree forest's score) for the
    defined metrics and ``delta_one``, all zero at the full budget.

    The ``full_new - k`` trees not grown are unknown, but they come from the same distribution
    as the ``k`` that were, so each draw resamples both from the grown ones (a bootstrap over
    trees) and scores the two forests. Measured on the new forest itself, not on the reference,
    because the trees of a forest fitted on noisy rows vary more: with 40% of the labels flipped
    the reference's spread was half the real one (on the exploratory scenarios the module doc
    describes).
    """
    new = np.asarray(new, dtype=np.float64)
    k, full = len(new), int(full_new)
    missing = max(full - k, 0)  # none at the full budget: both forests are then the same
    reference = ForestMean.of(reference)
    ref_mean, t = reference.mean, reference.trees
    rng = np.random.Generator(np.random.PCG64(seed))
    grown = np.stack([np.bincount(rng.integers(0, k, size=k), minlength=k) for _ in range(draws)])
    rest = np.stack([np.bincount(rng.integers(0, k, size=missing), minlength=k) for _ in range(draws)])
    flat = new.reshape(k, -1)
    shape = (draws,) + new.shape[1:]
    batch = np.empty((draws, flat.shape[1]))  # the draws' means, one forest's then the other's (as in Profile)
    now = score_batch(y, combine(mode, ref_mean[None], np.matmul(grown / k, flat, out=batch).reshape(shape), t, full))
    later = score_batch(y, combine(mode, ref_mean[None],
                                   np.matmul((grown + rest) / (k + missing), flat, out=batch).reshape(shape), t, full))
    names = present(now)
    gaps = {name: later[name] - now[name] for name in names}
    gaps["delta_one"] = np.mean([gaps[name] for name in names], axis=0)
    return {name: float(np.std(gap)) for name, gap in gaps.items()}


def like_for_like(y, reference, new, mode, full_new, profile):
    """The preview's comparison at equal budget.

    ``y`` holds the benchmark's class codes, shape (n,); ``reference`` and ``new`` the two
    forests' per-tree class probabilities, shapes (t, n, C) and (k, n, C), or either's
    :class:`ForestMean`; ``profile`` is the reference's :class:`Profile` (None at the full
    budget: no gain to remove).

    Returns (reference scores at the new forest's size, new scores, deltas), dicts over the
    defined metrics: the new model's measured scores, and the reference's expected score at
    the same number of trees (its full score minus the profile's budget gain).
    """
    reference, new = ForestMean.of(reference), ForestMean.of(new)
    k, t = new.trees, reference.trees
    ref_mean = reference.mean
    whole = score_batch(y, ref_mean[None])
    new_scores = score_batch(y, combine(mode, ref_mean, new.mean, t, full_new)[None])
    names = [m for m in present(whole) if m in present(new_scores)]
    base = {m: float(whole[m][0]) - (profile.gain(m, k) if profile is not None else 0.0) for m in names}
    base = {m: min(max(v, 0.0), 1.0) for m, v in base.items()}
    new_values = {m: float(new_scores[m][0]) for m in names}
    return base, new_values, {m: new_values[m] - base[m] for m in names}


def convergence(y, reference, new, mode, full_new, profile, primary=None, seed=0):
    """The early-stopping check after a round of trees.

    Returns dict: ``trees``, ``delta_one`` (the like-for-like estimate), ``sd`` (the spread of
    the full budget's result around it), ``within`` (the probability that growing every tree
    lands within tolerance of the estimate) and, when ``primary`` names a defined metric,
    ``verdict`` (the probability that the full budget gets the DeltaOne decision the estimate
    gets: near a boundary of the rule more trees are needed to settle it). The spread is the
    new forest's own (:func:`tree_luck`); the profile supplies the budget gain. Arguments as
    for :func:`like_for_like` (``new`` per tree); ``seed`` seeds the tree bootstrap.
    """
    reference = ForestMean.of(reference)  # averaged once for the three uses below
    _, _, deltas = like_for_like(y, reference, new, mode, full_new, profile)
    estimate = delta_one(deltas)
    k = len(new)
    exact = k >= full_new
    luck = tree_luck(y, reference, new, mode, full_new, seed=seed)
    sd = luck["delta_one"]
    state = {"trees": k, "delta_one": estimate, "sd": sd, "within": within_probability(estimate, sd, exact)}
    if primary in deltas:
        baseline = float(score_batch(y, reference.mean[None])[primary][0])
        _, state["verdict"] = decision_probability(baseline, deltas[primary], luck[primary], len(y), exact)
    return state


def curve_weights(rows, target_rows, base_rows, deltas=None):
    """Linear weights that extrapolate learning-curve deltas to the whole contribution.

    Parameters
    ----------
    rows : sequence of int
        Contributed rows at each curve point, the last one being the whole sample.
    target_rows : int
        The whole contribution's size.
    base_rows : int
        Rows the new model trains on besides the contribution (0 in fine_tune mode).
    deltas : sequence of float, optional
        The curve's delta_one values, which decide how far the slope is trusted.

    Returns
    -------
    (estimate weights, log-linear weights, trust): the delta is extrapolated as
    ``log_linear @ deltas``, a least-squares line in log(base + rows). Learning curves flatten
    and a few noisy points cannot say how fast, so the estimate ``weights @ deltas`` goes from
    the last point ("stops growing") a share ``trust`` of the way to that line ("keeps
    growing"). ``trust`` is the empirical-Bayes share of a slope measured with noise,
    ``max(0, 1 - 1/t**2)``, ``t`` being the slope over its standard error from the points'
    scatter about the line: a slope that stands out from the scatter is followed, one that does
    not is not. Without ``deltas``, or with too few points to measure a scatter, ``trust`` is
    1/2; with a single distinct size there is no slope, and the estimate is the last point
    (``trust`` 0). Both weight vectors are linear, so the estimate of delta_one is the mean of the
    metrics' (``trust`` comes from delta_one's curve and serves every metric).
    """
    x = np.log(base_rows + np.asarray(rows, dtype=np.float64))
    last = np.zeros(len(x))
    last[-1] = 1.0
    # The base rows alone (rows 0) are left out of the line once the curve's first sub-sample
    # holds at least as many contributed rows as the base: the step from none to that many is the
    # curve's first jump, and a line in log rows through it over-extrapolates a curve that has
    # flattened since (hpc 20,000 rows sampled to 10,000: +9.3 points, where the full run gave
    # +6.6). On 16 previews sampled to 1,000-10,000 rows, apart from the suite, 10 were within
    # tolerance where 4 were, the mean error 0.57 points where 1.23; smaller samples, whose
    # sub-samples are few rows beside the base, keep the point (their tail alone is noise).
    def sizes(chosen):  # distinct curve sizes among the chosen points
        return len(set(np.round(x[chosen], 12).tolist()))

    counts = np.asarray(rows)
    use = np.ones(len(x), dtype=bool)
    grown = counts > 0
    if grown.any() and counts[grown].min() >= base_rows and sizes(grown) >= 2:
        use = grown
    if sizes(use) < 2:
        return last, last, 0.0
    design = np.vstack([np.ones_like(x[use]), x[use]]).T
    log_linear = np.zeros(len(x))
    log_linear[use] = np.array([1.0, math.log(base_rows + target_rows)]) @ np.linalg.pinv(design)
    trust = slope_trust(x[use], np.asarray(deltas)[use]) if deltas is not None else 0.5
    return last + trust * (log_linear - last), log_linear, trust


def slope_trust(x, y):
    """``max(0, 1 - 1/t**2)`` for the least-squares slope of ``y`` on ``x`` (1/2 if unmeasurable)."""
    y = np.asarray(y, dtype=np.float64)
    if len(x) < 3:
        return 0.5  # a line through two points has no scatter to measure its noise by
    dx = x - x.mean()
    sxx = float(dx @ dx)
    slope = float(dx @ (y - y.mean())) / sxx
    scatter = float(np.sum((y - y.mean() - slope * dx) ** 2)) / (len(x) - 2)
    signal = slope * slope * sxx
    if signal <= 0.0:
        return 0.0
    if scatter <= signal * 1e-12:
        return 1.0  # on the line exactly: nothing says it bends
    return max(0.0, 1.0 - scatter / signal)


def full_run_estimate(names, measured, curve, profile, k, full_new, sample_rows, target_rows, base_rows,
                      luck=None, extrapolate=True, halves=None):
    """The estimate of the full computation's metric deltas and their spread.

    Parameters
    ----------
    names : list of str
        Defined metrics.
    measured : dict name -> float
        The like-for-like deltas of the preview's forest (on the whole sample).
    curve : list of (rows, dict name -> delta)
        Learning-curve points in increasing size (contributed rows fitted; the rest of the
        sample may fit a few rows fewer than the half it complements), the last being
        ``measured`` (may be empty).
    profile : Profile or None
        None only when the preview is the full computation.
    k, full_new : int
        Trees grown and the full budget.
    sample_rows, target_rows : int
        Contributed rows the preview fitted, and the full run fits (more when the contribution
        was sampled).
    base_rows : int
        Base rows both fit besides the contribution (0 in fine_tune mode).
    luck : dict name -> float
        :func:`tree_luck` of the preview's forest; needed when ``k < full_new``.
    extrapolate : bool, default True
        False when the sample is too small to follow its learning curve (fewer than
        SMALL_SAMPLE rows): the estimate is then the last point, the way to the line all spread.
    halves : (int, int), optional
        Indices into ``curve`` of two points fitted on disjoint rows of about the same size
        (half the sample and the rest of it). Their squared difference over 2, less the part
        the forests' luck explains, is a curve point's sampling variance (which rows were
        drawn), propagated through the extrapolation like the forests' luck. On 44 sampled
        draws apart from the accuracy suite (replicates 5-12 of its ``large`` kind on four
        tables at 500 of 2,000 rows, 5-8 on three at 250), adding the second half as a curve
        point and this variance to the spread took previews within tolerance from 7 to 10, the
        error's RMSE from 1.87 to 1.67 points, and the 90% intervals' coverage from 86% to 93%.

    Returns
    -------
    dict with ``estimate``, ``sd``, ``from_unfitted_trees``, ``from_sampling`` and
    ``from_row_draw`` (each a dict over ``names`` + delta_one; ``from_row_draw`` is the
    spread's part from which rows were drawn, as the halves measure it, zeros without them),
    ``exact``, ``extrapolated``, ``curve_trust`` (the share of the way to the log-linear
    extrapolation the estimate went, :func:`curve_weights`; None when not extrapolated) and
    ``steepens`` (:func:`curve_steepens`; False when the contribution was not sampled): the same
    keys whatever the preview was.
    """
    sampled = sample_rows < target_rows
    exact = k >= full_new and not sampled
    everything = list(names) + ["delta_one"]
    measured = dict(measured, delta_one=delta_one({m: measured[m] for m in names}))
    zero = {name: 0.0 for name in everything}
    if exact:
        return _full_run_result(measured, zero, zero, zero, zero, exact=True)
    if k < full_new and luck is None:
        raise ValueError("a preview short of the full budget needs the spread of its trees (tree_luck)")
    tree = {name: float(luck[name]) if k < full_new else 0.0 for name in everything}
    if not sampled:
        return _full_run_result(measured, tree, tree, zero, zero)
    points = [(rows, dict(values, delta_one=delta_one({m: values[m] for m in names}))) for rows, values in curve]
    if not points:
        points = [(sample_rows, measured)]
    rows = [p[0] for p in points]
    weights, log_linear, trust = curve_weights(rows, target_rows, base_rows,
                                               [values["delta_one"] for _, values in points])
    if not extrapolate:
        weights, trust = np.eye(len(rows))[-1], 0.0  # the last point: see SMALL_SAMPLE
    estimate, sd, sampling, row_draw, point_noise = {}, {}, {}, {}, {}
    for name in everything:
        deltas = np.array([values[name] for _, values in points])
        estimate[name] = float(weights @ deltas)
        gap = _growth_gap(deltas, log_linear, rows, target_rows, base_rows)
        sd[name], row_draw[name], point_noise[name] = _metric_spread(name, deltas, weights, gap, trust, profile, k,
                                                                     halves)
        sampling[name] = math.sqrt(max(sd[name] ** 2 - tree[name] ** 2, 0.0))
    # Metric estimates are linear in the deltas, so delta_one's is their mean (the pipeline's formula).
    estimate["delta_one"] = delta_one({m: estimate[m] for m in names})
    steepens = curve_steepens(rows, [values["delta_one"] for _, values in points], base_rows,
                              point_noise["delta_one"])
    return _full_run_result(estimate, sd, tree, sampling, row_draw, extrapolated=bool(extrapolate),
                            curve_trust=trust if extrapolate else None, steepens=steepens)


def _full_run_result(estimate, sd, from_unfitted_trees, from_sampling, from_row_draw, exact=False,
                     extrapolated=False, curve_trust=None, steepens=False):
    """:func:`full_run_estimate`'s result: its keys, whichever way it was reached; each dict a copy."""
    return {"estimate": dict(estimate), "sd": dict(sd), "from_unfitted_trees": dict(from_unfitted_trees),
            "from_sampling": dict(from_sampling), "from_row_draw": dict(from_row_draw), "exact": exact,
            "extrapolated": extrapolated, "curve_trust": curve_trust, "steepens": steepens}


def _growth_gap(deltas, log_linear, rows, target_rows, base_rows):
    """From one metric's curve ``deltas`` (at ``rows``) to the full run: how far "keeps growing"
    (the log-linear extrapolation, ``log_linear @ deltas``) lies from "stops growing" (the last
    point)."""
    if len(set(rows)) < 2:
        # One curve size only: assume growth as large as log(rows) would give, from nothing.
        anchor = max(base_rows, 1)
        ratio = math.log1p(target_rows / anchor) / math.log1p(max(rows[-1], 1) / anchor)
        return float(deltas[-1]) * (ratio - 1.0)
    return float(log_linear @ deltas - deltas[-1])


def _metric_spread(name, deltas, weights, gap, trust, profile, k, halves):
    """How far the full run may lie from one metric's estimate ``weights @ deltas``.

    ``deltas`` is the metric's learning curve, each point a ``k``-tree forest whose luck the
    reference's ``profile`` gives; ``gap`` is :func:`_growth_gap`'s, of which the estimate went
    the share ``trust``; ``halves`` indexes the two disjoint halves of the sample (or is None).
    Returns (sd, its part from which rows were drawn, a curve point's own noise).
    """
    forest_luck = profile.forest_sd(name)
    point_var = profile.nested_sd(name, k) ** 2 + forest_luck ** 2  # each point: a k-tree forest's luck
    noise_var = SD_INFLATION ** 2 * (float(weights @ weights) * point_var + forest_luck ** 2)
    point_draw_var = 0.0  # a curve point's sampling variance, as the halves measure it
    if halves is not None:
        a, b = deltas[halves[0]], deltas[halves[1]]
        point_draw_var = max((a - b) ** 2 / 2.0 - SD_INFLATION ** 2 * point_var, 0.0)
    draw_var = float(weights @ weights) * point_draw_var
    # The full run lies anywhere between "stops" (0) and "keeps growing" (gap), uniformly;
    # the estimate sits at trust * gap: its mean squared distance from there.
    sd = math.sqrt(noise_var + draw_var + gap ** 2 * (1.0 / 3.0 - trust + trust ** 2))
    return sd, math.sqrt(draw_var), math.sqrt(SD_INFLATION ** 2 * point_var + point_draw_var)


def curve_steepens(rows, deltas, base_rows, point_sd):
    """Whether a learning curve bends away from its line at its last point.

    The line is fitted (in log(base + rows)) through the points before the last (the whole
    sample); the curve steepens when the last point lies off that line's extrapolation by more
    than 3 ``point_sd`` (a point's own noise: forest luck and row draw, with that of the line's
    prediction, about as large, on top), further in the direction the curve was heading.
    The estimate assumes a curve that flattens or stays log-linear; one that steepens can keep
    steepening, past any interval drawn from those two (a contribution that relabels the task:
    2,000 flipped churn rows sampled to 1,000 read -15.1 points, extrapolated 2-fold from a
    curve of -1.0, -1.8, -4.4 and -10.6, where the full run gave -37.8).
    """
    x = np.log(base_rows + np.asarray(rows, dtype=np.float64))
    y = np.asarray(deltas, dtype=np.float64)
    before = x < x[-1]
    if len(set(x[before])) < 2:
        return False
    slope, intercept = np.polyfit(x[before], y[before], 1)
    predicted = slope * x[-1] + intercept
    last_before = y[before][x[before] == x[before].max()].mean()
    heading = predicted - last_before  # where the line was going from the points before
    residual = y[-1] - predicted
    # Further the way it was heading (or, from a flat start, either way): a curve that turns back
    # bends too, but toward the estimate's "stops growing" side, not past its line.
    same_way = residual * heading > 0 or abs(heading) <= point_sd
    return bool(abs(residual) > 3.0 * math.sqrt(2.0) * point_sd and same_way
                and abs(y[-1] - last_before) > abs(heading))


def paired_bootstrap(y, new_proba, reference_proba, draws=1000, seed=0, chunk=100):
    """Deltas over benchmark rows resampled with replacement (the same rows for both models).

    ``y`` holds the benchmark's class codes, shape (n,); ``new_proba`` and ``reference_proba``
    the two models' class probabilities, shape (n, C). ``draws`` replicates (default 1000) are
    scored ``chunk`` at a time.

    Returns dict metric -> array (draws,), plus "delta_one": per replicate, the mean of the
    metrics defined in it (AUROC is undefined in a replicate that drew a single class).
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
    # Dropping a metric only where it is undefined keeps delta_one's replicates centred where
    # the estimate's delta_one (every defined metric) is; accuracy is always defined.
    out["delta_one"] = np.nanmean(np.vstack([out[m] for m in METRICS]), axis=0)
    return out


def passing_delta(baseline_value, n_rows):
    """The smallest primary-metric delta (a fraction) that DeltaOne accepts on n_rows rows.

    A delta d passes when d >= 1 point and d - 1.96 * sqrt(var(p) + var(p + d)) > 0; the left
    side increases with d on (0, 1 - p], so the boundary is found by bisection. None when no
    delta can pass (the baseline is already too close to 1).
    """
    def margin(d):
        return d - SIGNIFICANCE_Z * math.sqrt(variance(baseline_value, n_rows) + variance(baseline_value + d, n_rows))

    low, high = 0.0, 1.0 - baseline_value
    if high <= 0 or margin(high) <= 0 or high < THRESHOLD_PP / 100.0:
        return None
    for _ in range(100):
        middle = (low + high) / 2.0
        if margin(middle) > 0:
            high = middle
        else:
            low = middle
    return max(high, THRESHOLD_PP / 100.0)


def acceptance_probability(baseline_value, delta_estimate, delta_sd, n_rows, exact=False):
    """P(the full pipeline's primary-metric delta passes DeltaOne), delta ~ Normal(estimate, sd**2).

    ``baseline_value`` is the full baseline's (the shipped model's) value. With ``exact`` (or a
    zero spread) the rule itself decides: 1 or 0.
    """
    if n_rows < MIN_BENCHMARK_ROWS:
        return 0.0
    if exact or not delta_sd or delta_sd <= 0:
        rule = deltaone_rule(baseline_value, baseline_value + delta_estimate, n_rows, n_rows, "", "")
        return 1.0 if rule["accepted"] else 0.0
    needed = passing_delta(baseline_value, n_rows)
    if needed is None:
        return 0.0
    return 1.0 - normal_cdf((needed - delta_estimate) / delta_sd)


def threshold_probability(delta_estimate, delta_sd, exact=False):
    """P(the full pipeline's primary-metric delta is at least the 1-point threshold)."""
    threshold = THRESHOLD_PP / 100.0
    if exact or not delta_sd or delta_sd <= 0:
        return 1.0 if delta_estimate * 100.0 >= THRESHOLD_PP - EPSILON_PP else 0.0
    return 1.0 - normal_cdf((threshold - delta_estimate) / delta_sd)


def decision_probability(baseline_value, delta_estimate, delta_sd, n_rows, exact=False):
    """(the DeltaOne decision for the estimate, the probability that the full run gets the same one).

    The full run's primary-metric delta is Normal(estimate, sd**2); the rule splits its range
    into below the threshold, not significant, and accepted. Short of the full computation the
    probability stays below 1.
    """
    decision = deltaone_rule(baseline_value, baseline_value + delta_estimate, n_rows, n_rows, "", "")["decision"]
    if n_rows < MIN_BENCHMARK_ROWS or exact:
        return decision, 1.0
    if not delta_sd or delta_sd <= 0:
        return decision, MAX_CONFIDENCE
    below = 1.0 - threshold_probability(delta_estimate, delta_sd)
    accepted = acceptance_probability(baseline_value, delta_estimate, delta_sd, n_rows)
    chance = {"delta_below_threshold": below, "accepted": accepted,
              "not_statistically_significant": max(1.0 - below - accepted, 0.0)}[decision]
    return decision, min(chance, MAX_CONFIDENCE)
