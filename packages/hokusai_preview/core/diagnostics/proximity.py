"""Closer to the benchmark than chance (:func:`closeness`): a test for altered copies of
benchmark rows.

Benchmark rows altered beyond the near rule (a number moved by one, every number jittered) keep
their source as nearest neighbour. Among the reference rows (benchmark and base, random splits
of one distribution), a clean row's nearest is a benchmark row as often as a random split of
them makes it; an alarm when the contribution's rows have benchmark rows as nearest neighbours
more often, with p < ``CLOSE_ALPHA``, and the altered rows this implies are at least
``CLOSE_MIN_SHARE`` of the rows tested (and ``CLOSE_MIN_ROWS``). Reported, never removed.
"""

import math

import numpy as np

from ..bundle import class_codes
from ..text import plural, thousands
from .common import EXAMPLES, _numeric, _reference_row, _sig, _strings

CLOSE_ALPHA = 1e-6  # one test per contribution; clean splits stay within |z| < 4 (README)
CLOSE_MIN_SHARE = 0.02  # estimated altered rows below this share cannot move an estimate much
CLOSE_MIN_ROWS = 10
CLOSE_MAX_ROWS = 5000  # beyond, the reference's own randomness, not the rows, limits the test
CLOSE_MAX_REFERENCE = 5000
CLOSE_MAX_CATEGORIES = 50  # one-hot columns per categorical feature (plus one for the rest)
CLOSE_TIE = 1e-9  # distances this close (relative) tie: float rounding, not geometry
CLOSE_BLOCK = 1 << 18  # distances computed at once (a block that stays in the CPU's cache)
CLOSE_PERMUTATIONS = 500  # random splits the premise is judged against (its p to within a factor 1.5 at 0.001)
CLOSE_PREMISE_ALPHA = 0.001  # base and benchmark look like other distributions: no test


class _Space:
    """A standardised feature space learnt from reference rows, for nearest neighbours.

    A number becomes its mid-rank in the reference (the share of reference values below it plus
    half of those equal, interpolated between them, and beyond them on at the mean slope up to 0
    or 1: a number nudged past the smallest value must not jump by half of the rows holding it),
    so that a feature's scale and outliers do not decide the distance and every numeric feature
    spans [0, 1]; a missing number sits at 0.5 with an indicator column of its own (when the
    reference has missing values there). A category (case-folded, whitespace collapsed; missing
    is a category) is one-hot over the ``CLOSE_MAX_CATEGORIES`` most frequent the reference holds
    at least twice, the rest sharing one column, scaled so that a different category adds 1 to
    the squared distance, as the whole range of a number does. Free text is left out. ``dims``
    is 0 when nothing is left.
    """

    def __init__(self, reference, features):
        import pandas as pd

        self.columns = []  # (name, kind, values, (mid-ranks, slope) or None, with a missing indicator)
        for f in features:
            if f["kind"] == "numeric":
                values = _numeric(reference[f["name"]])
                known = values[np.isfinite(values)]
                if not len(known):
                    continue  # nothing to place a number against
                distinct, counts = np.unique(known, return_counts=True)
                mid = (np.cumsum(counts) - counts / 2.0) / len(known)
                slope = (mid[-1] - mid[0]) / (distinct[-1] - distinct[0]) if len(distinct) > 1 else 0.0
                self.columns.append((f["name"], "numeric", distinct, (mid, slope), bool(np.isnan(values).any())))
            elif f["kind"] == "categorical":
                counts = pd.Series(_strings(reference[f["name"]], fold=True)).value_counts(sort=True)
                kept = [str(v) for v in counts.index[counts >= 2][:CLOSE_MAX_CATEGORIES]]
                self.columns.append((f["name"], "categorical", kept, None, False))
        self.dims = sum(1 + missing if kind == "numeric" else len(values) + 1
                        for _, kind, values, _, missing in self.columns)

    def transform(self, frame):
        """(n, dims) float64 coordinates of ``frame``'s rows."""
        import pandas as pd

        parts = []
        for name, kind, values, ranks, missing in self.columns:
            if kind == "numeric":
                mid, slope = ranks
                x = _numeric(frame[name])
                absent = np.isnan(x)
                x = np.where(absent, values[0], x)
                with np.errstate(invalid="ignore", over="ignore"):  # infinite numbers: 0 or 1
                    low = mid[0] - np.minimum(mid[0], np.nan_to_num((values[0] - x) * slope))
                    high = mid[-1] + np.minimum(1.0 - mid[-1], np.nan_to_num((x - values[-1]) * slope))
                rank = np.where(x < values[0], low, np.where(x > values[-1], high, np.interp(x, values, mid)))
                parts.append(np.where(absent, 0.5, rank))
                if missing:
                    parts.append(absent.astype(np.float64))
            else:
                codes = pd.Index(values).get_indexer(_strings(frame[name], fold=True))  # -1: the rest
                onehot = np.zeros((len(frame), len(values) + 1))
                onehot[np.arange(len(frame)), np.where(codes >= 0, codes, len(values))] = math.sqrt(0.5)
                parts.append(onehot)
        return np.column_stack(parts) if parts else np.zeros((len(frame), 0))


def _nearest(points, targets, exclude=None, first=0):
    """Every nearest target of each point, ties included.

    ``points`` (n, d) and ``targets`` (m, d) are coordinates; ``exclude`` (n,) optionally names a
    target each point may not pick (itself; -1: none). Squared Euclidean distances come from one
    matrix product per block of points (``CLOSE_BLOCK`` distances at once, on one core: on a
    busy machine BLAS threads waiting for each other cost more than they save); targets within
    ``CLOSE_TIE`` (relative to the squared norms) of a point's smallest distance tie with it. The
    rule sees no label, so its rounding cannot favour either table.

    Returns (point, target) int64 arrays of the tied pairs, the (n,) smallest squared distances,
    and the (n,) smallest to the ``first`` targets (inf when 0).
    """
    from threadpoolctl import threadpool_limits

    n, m = len(points), len(targets)
    best, within = np.empty(n), np.full(n, np.inf)
    if not n:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), best, within
    squared = (targets ** 2).sum(axis=1)
    scaled = -2.0 * targets.T
    block = max(1, CLOSE_BLOCK // max(m, 1))
    rows, cols = [], []
    with threadpool_limits(1):
        for start in range(0, n, block):
            chunk = points[start:start + block]
            size = (chunk ** 2).sum(axis=1)
            # The squared distance less the point's own squared norm, which cannot change its order.
            d2 = chunk @ scaled
            d2 += squared[None, :]
            if exclude is not None:
                own = exclude[start:start + block]
                d2[np.flatnonzero(own >= 0), own[own >= 0]] = np.inf
            nearest = d2.argmin(axis=1)
            low = d2[np.arange(len(chunk)), nearest]
            best[start:start + block] = np.maximum(low + size, 0.0)
            if first:
                within[start:start + block] = np.maximum(d2[:, :first].min(axis=1) + size, 0.0)
            tied = d2 <= (low + CLOSE_TIE * (1.0 + size + squared.max()))[:, None]
            # Most points have one nearest target; only the others need their ties listed.
            several = np.flatnonzero(np.count_nonzero(tied, axis=1) > 1)
            r, c = np.nonzero(tied[several])
            single = np.ones(len(chunk), dtype=bool)
            single[several] = False
            rows.extend([np.flatnonzero(single) + start, several[r] + start])
            cols.extend([nearest[single], c])
    return np.concatenate(rows), np.concatenate(cols), best, within


def _tie_weights(pairs, n, counts):
    """(per-point weight of each of its tied targets' rows (pairs,), rows each point ties with (n,)):
    a point whose nearest targets hold t reference rows gives each of them 1/t."""
    point, target = pairs
    rows = np.bincount(point, weights=counts[target], minlength=n)
    return 1.0 / rows[point], rows


def _permutation_moments(w, groups, in_bench):
    """(mean, variance) of sum(w[r] for benchmark rows r) when the benchmark rows are a random
    subset of each group's rows of their number (a random split, stratified by ``groups``)."""
    mean = variance = 0.0
    for g in np.unique(groups):
        members = groups == g
        rows, bench = int(members.sum()), int((members & in_bench).sum())
        values = w[members]
        mean += bench / rows * values.sum()
        if 0 < bench < rows:
            variance += bench * (rows - bench) / (rows * (rows - 1.0)) * ((values - values.mean()) ** 2).sum()
    return mean, variance


def _split_premise(coords, in_bench, groups, seed):
    """Whether the reference rows look like a random split of one distribution into benchmark and
    base: each row's nearest other reference row is in its own table about as often as under a
    random split (``CLOSE_PERMUTATIONS`` splits, stratified by class, drawn with ``seed``). A
    benchmark drawn from other data than the base table (a later period) would make every
    contribution from that data look close to the benchmark.

    Returns {"holds", "same_table", "expected", "p_value"}; same_table counts rows whose nearest
    other rows are of their own table (a share of them on ties)."""
    from scipy.sparse import csr_matrix
    from scipy.stats import norm

    unique, inverse = np.unique(coords, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.bincount(inverse).astype(np.float64)
    # A row with an identical twin has its twins (distance 0) as nearest; a unique row looks
    # among the other points.
    alone = np.flatnonzero(counts == 1)
    exclude = np.full(len(unique), -1, dtype=np.int64)
    exclude[alone] = alone
    point, target, _, _ = _nearest(unique[alone], unique, exclude[alone])
    weight, _ = _tie_weights((point, target), len(alone), counts)
    spread = csr_matrix((weight, (point, target)), shape=(len(alone), len(unique)))
    lone_rows = np.flatnonzero(counts[inverse] == 1)  # rows of the unique points in ``alone`` ...
    lone_rows = lone_rows[np.argsort(inverse[lone_rows])]  # ... in the order of ``alone``
    twins = counts >= 2

    def statistic(bench):
        b = np.bincount(inverse, weights=bench, minlength=len(unique))
        a = counts - b
        same = ((b * (b - 1) + a * (a - 1))[twins] / (counts[twins] - 1)).sum()
        share = spread @ b  # bench share of each lone row's nearest rows
        lone = bench[lone_rows]
        return same + (lone * share + (1 - lone) * (1 - share)).sum()

    observed = statistic(in_bench.astype(np.float64))
    rng = np.random.default_rng(seed)
    shuffled = in_bench.astype(np.float64)
    members = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    draws = np.empty(CLOSE_PERMUTATIONS)
    for k in range(CLOSE_PERMUTATIONS):
        for rows in members:
            shuffled[rows] = shuffled[rng.permutation(rows)]
        draws[k] = statistic(shuffled)
    sd = draws.std(ddof=1)
    p_value = float(norm.sf((observed - draws.mean()) / sd)) if sd > 0 else 1.0
    return {"holds": bool(p_value >= CLOSE_PREMISE_ALPHA), "same_table": round(float(observed), 3),
            "expected": round(float(draws.mean()), 3), "p_value": _sig(p_value)}


def closeness(contribution, benchmark, base, features, label, classes, rows=None, seed=42):
    """Whether contributed rows lie closer to the benchmark than chance: a test for altered
    copies of benchmark rows that needs no similarity threshold.

    Base and benchmark are random splits of one distribution; a contributed row drawn
    independently of both has as its nearest reference row (in :class:`_Space`) a benchmark row
    with probability n_bench / (n_bench + n_base), and exactly so given every row's position:
    which reference rows are the benchmark's is then a random draw (stratified by class, as a
    split may be). On ties the row counts the benchmark's share of its tied nearest rows. The
    count of benchmark-nearest rows is tested against that draw's mean and variance (one-sided,
    normal): the variance counts how the rows crowd onto the same reference rows, which a
    binomial test would not (on 5,000 clean rows of the shipped datasets the standard deviation
    is 1.5 to 2.2 times the binomial's, and a binomial test would raise false alarms). An altered
    benchmark row keeps its source as nearest neighbour, so ``excess / (1 - chance share)``
    estimates how many there are. A warning needs p < ``CLOSE_ALPHA`` and at least
    ``CLOSE_MIN_SHARE`` of the rows tested and ``CLOSE_MIN_ROWS`` estimated. The rows are
    kept: no single row can be told from a clean one with certainty.

    Parameters
    ----------
    contribution, benchmark, base : DataFrame
        ``base`` None: not tested (the premise needs both tables).
    features : list of dict
        The bundle's features (``name``, ``kind``); free text is left out.
    label : str
    classes : list of str
    rows : array of int, optional
        Positions in ``contribution`` to test (default: all): the rows left once those matching
        a benchmark or base row (exactly or nearly) are set aside, as their nearest neighbour is
        that row. At most ``CLOSE_MAX_ROWS`` are tested, a random subset beyond.
    seed : int
        Draws the subsets and the premise's random splits.

    Returns
    -------
    dict: status ``checked`` or ``skipped`` (with ``reason``), the counts, ``p_value``, ``warn``,
    the premise and up to ``EXAMPLES`` rows nearest a benchmark row relative to the base table.
    """
    import pandas as pd
    from scipy.stats import norm

    rows = np.arange(len(contribution)) if rows is None else np.asarray(rows, dtype=np.int64)
    found = {"status": "skipped", "reason": None, "method": "nearest_neighbour", "rows_eligible": int(len(rows)),
             "rows_tested": 0, "reference_rows": 0, "dimensions": 0, "benchmark_nearest": None,
             "expected": None, "sd": None, "excess": None, "estimated_rows": None, "p_value": None,
             "alpha": CLOSE_ALPHA, "min_share": CLOSE_MIN_SHARE, "min_rows": CLOSE_MIN_ROWS, "warn": False,
             "premise": None, "examples": []}
    if base is None or not len(base):
        return dict(found, reason="the bundle has no base table")
    rng = np.random.default_rng(seed)
    reference = pd.concat([benchmark, base], ignore_index=True)
    picked = np.arange(len(reference))
    if len(picked) > CLOSE_MAX_REFERENCE:  # a random subset of a random split is one too
        picked = np.sort(rng.choice(len(picked), CLOSE_MAX_REFERENCE, replace=False))
        reference = reference.iloc[picked].reset_index(drop=True)
    in_bench = picked < len(benchmark)
    if in_bench.all() or not in_bench.any():
        return dict(found, reason="the reference holds no %s row" % ("base" if in_bench.all() else "benchmark"))
    space = _Space(reference, features)
    if not space.dims:
        return dict(found, reason="no feature besides free text")
    if not len(rows):
        return dict(found, reason="no row is left once benchmark and base matches are set aside")
    if len(rows) > CLOSE_MAX_ROWS:  # beyond this, the reference's own randomness limits the test
        rows = np.sort(rng.choice(rows, CLOSE_MAX_ROWS, replace=False))
    found.update(reference_rows=int(len(reference)), dimensions=int(space.dims))

    coords = space.transform(reference)
    if not (coords != coords[0]).any():
        return dict(found, reason="no feature tells the reference rows apart")
    groups = class_codes(reference[label].astype(str), classes, unknown=-1)
    found["premise"] = premise = _split_premise(coords, in_bench, groups, seed)
    if not premise["holds"]:
        return dict(found, reason="the benchmark and base tables do not look like random splits of one "
                                  "distribution (their rows' nearest neighbours are in their own table more "
                                  "often than chance, p = %.2g)" % premise["p_value"])

    # Identical reference rows are one point holding several rows; points holding base rows first,
    # so that the distance to the nearest base row is a minimum over the first columns.
    unique, inverse = np.unique(coords, axis=0, return_inverse=True)
    holds_base = np.bincount(inverse.reshape(-1), weights=~in_bench, minlength=len(unique)) > 0
    order = np.argsort(~holds_base, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    unique, inverse = unique[order], rank[inverse.reshape(-1)]
    counts = np.bincount(inverse).astype(np.float64)
    bench_counts = np.bincount(inverse, weights=in_bench.astype(np.float64), minlength=len(unique))
    n = len(rows)
    point, target, best, base_best = _nearest(space.transform(contribution.iloc[rows]), unique,
                                              first=int(holds_base.sum()))
    weight, _ = _tie_weights((point, target), n, counts)
    share = np.bincount(point, weights=weight * bench_counts[target], minlength=n)
    w = np.bincount(target, weights=weight, minlength=len(unique))[inverse]  # per reference row
    observed = float(share.sum())
    expected, variance = _permutation_moments(w, groups, in_bench)
    sd = math.sqrt(variance)
    # No spread: every split gives the same count (all rows tie with the same reference rows).
    p_value = float(norm.sf((observed - expected) / sd)) if sd > 1e-9 else 1.0
    excess = observed - expected
    chance = expected / n
    estimated = excess / (1.0 - chance) if chance < 1 else 0.0
    warn = bool(p_value < CLOSE_ALPHA and estimated >= max(CLOSE_MIN_SHARE * n, CLOSE_MIN_ROWS))

    # Examples: benchmark-nearest rows, nearest a benchmark row relative to the base table first.
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.sqrt(best) / np.sqrt(base_best)
    ratio = np.where(np.isnan(ratio), 1.0, ratio)
    candidates = np.flatnonzero((share > 0) & (ratio < 1))
    candidates = candidates[np.argsort(ratio[candidates], kind="stable")][:EXAMPLES]
    # Each example's benchmark row: the first benchmark row of its first tied point holding one.
    bench_rows = np.flatnonzero(in_bench)
    first_bench = np.full(len(unique), -1, dtype=np.int64)
    first_bench[inverse[bench_rows[::-1]]] = bench_rows[::-1]
    holder = np.full(n, -1, dtype=np.int64)
    tied = first_bench[target] >= 0
    holder[point[tied][::-1]] = first_bench[target[tied]][::-1]
    examples = [{"row": int(rows[i]), "benchmark_row": int(picked[holder[i]]),
                 "distance_ratio": round(float(ratio[i]), 4)} for i in candidates]
    found.update(status="checked", rows_tested=int(n), benchmark_nearest=round(observed, 3),
                 expected=round(float(expected), 3), sd=round(sd, 3), excess=round(float(excess), 3),
                 estimated_rows=round(float(estimated), 1), p_value=_sig(p_value), warn=warn, examples=examples)
    return found


def rule():
    """The closeness rule, as the output states it."""
    return ("rows matching no reference row whose nearest reference row (numbers as mid-ranks in the "
            "reference, categories one-hot, text left out) is a benchmark row more often than a random "
            "split of benchmark and base tables gives: an alarm at p < %g when the altered benchmark "
            "rows this implies are at least %g%% of the rows tested and %d; the rows are kept"
            % (CLOSE_ALPHA, 100 * CLOSE_MIN_SHARE, CLOSE_MIN_ROWS))


# --- messages --------------------------------------------------------------------------------


def _count(value):
    """A count held as a float (an expectation, an estimate), rounded and with thousands separators."""
    return "{:,.0f}".format(value)


def _p_text(p_value):
    """'p = 3e-08', or 'p < 1e-12' below what a normal tail states reliably."""
    return "p < 1e-12" if p_value < 1e-12 else "p = %.0e" % p_value


def closeness_lines(findings, rn):
    """(warnings, notes) about rows closer to the benchmark than chance; ``rn`` numbers a contributed row."""
    warnings, notes = [], []
    n = findings["rows_checked"]
    close = findings["contamination"].get("closeness") or {}
    if close.get("status") == "checked" and close["p_value"] < CLOSE_ALPHA:
        text = ("%s of %s%s have a benchmark row as their nearest neighbour where %s were expected (%s)"
                % (_count(close["benchmark_nearest"]), plural(close["rows_tested"], "row"),
                   " tested" if close["rows_tested"] < n else "", _count(close["expected"]),
                   _p_text(close["p_value"])))
        if close["warn"]:
            example = ""
            if close["examples"]:
                first = close["examples"][0]
                example = " (e.g. data row %d ~ benchmark row %d)" % (rn(first["row"]),
                                                                     _reference_row(first["benchmark_row"]))
            warnings.append("closer to the benchmark than chance: %s; about %s rows look like altered benchmark "
                            "rows%s, which would inflate the delta; they are kept, as no single one can be told "
                            "from a clean row: remove them or explain where the data came from"
                            % (text, _count(close["estimated_rows"]), example))
        else:
            notes.append("closer to the benchmark than chance: %s, but that makes about %s altered benchmark rows, "
                         "fewer than the %s (%g%% of the rows tested, at least %s) that would be a warning" % (
                             text, _count(max(close["estimated_rows"], 0.0)),
                             _count(math.ceil(max(CLOSE_MIN_SHARE * close["rows_tested"], CLOSE_MIN_ROWS))),
                             100 * CLOSE_MIN_SHARE, thousands(CLOSE_MIN_ROWS)))
    elif close.get("status") == "skipped" and close.get("premise"):
        notes.append("closeness to the benchmark not tested: %s" % close["reason"])
    return warnings, notes
