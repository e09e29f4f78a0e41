"""Drift against the benchmark (:func:`drift`): per feature, and the class balance.

Kolmogorov-Smirnov for numbers, total variation distance (with a chi-square test) for categories
and for the word distribution of free text; an alarm when the effect is at least
``DRIFT_MIN_EFFECT`` and p < ``DRIFT_ALPHA`` / features. Where an expected count of the
chi-square test is under ``MIN_EXPECTED`` (Cochran's rule), its p-value comes from a seeded Monte
Carlo permutation test instead (:func:`_chi2_p`).
"""

import math
import re

import numpy as np

from ..bundle import class_codes
from ..text import plural, spelling, thousands
from .common import _numeric, _pct, _sig, _strings

DRIFT_ALPHA = 0.01
DRIFT_MIN_EFFECT = 0.1
RARE_CATEGORY = 5
TEXT_TOP_WORDS = 200
MIN_EXPECTED = 5  # Cochran's rule: below this expected count the chi-square approximation fails
PERMUTATION_RESOLUTION = 20  # draws = this / threshold: about this many as extreme at p = threshold
PERMUTATION_BLOCK = 1000  # draws at once
STATISTICS = {"ks": "KS", "tvd": "TVD", "tvd_words": "TVD of words"}


def drift(contribution, benchmark, features, label, classes, class_counts=None, seed=42):
    """Per-feature drift and class balance of the contribution against the benchmark.

    ``class_counts`` (per class, in the order of ``classes``) replaces the contribution's own
    counts: the whole table's when ``contribution`` is a sample of it. ``seed`` draws the
    permutation tests of small counts."""
    from scipy.stats import ks_2samp

    alpha = DRIFT_ALPHA / max(len(features), 1)
    results = []
    for f in features:
        name, kind = f["name"], f["kind"]
        a, b = contribution[name], benchmark[name]
        missing = [float(_absent(column, kind).mean()) if len(column) else 0.0 for column in (a, b)]
        entry = {"feature": name, "kind": kind, "missing_share": [round(m, 4) for m in missing]}
        if kind == "numeric":
            x, z = _numeric(a), _numeric(b)
            x, z = x[np.isfinite(x)], z[np.isfinite(z)]
            if len(x) and len(z):
                test = ks_2samp(x, z)
                entry.update(statistic="ks", value=round(float(test.statistic), 6), p_value=_sig(test.pvalue))
            else:
                entry.update(statistic="ks", value=None, p_value=None)
        elif kind == "categorical":
            spelt = _spelling_differs(a, b)
            a, b = _strings(a), _strings(b)
            table = _category_table(a, b)
            entry.update(statistic="tvd", value=round(_tvd(table), 6), p_value=_sig(_chi2_p(table, alpha, seed)),
                         spelling_differs=spelt)
        else:
            table = _word_table(a, b)
            entry.update(statistic="tvd_words", value=round(_tvd(table), 6), p_value=_sig(_chi2_p(table, alpha, seed)))
        # Missing values count as drift too when their share moves by the same effect size, beyond
        # what chance gives (2 of 10 rows missing is 0.2 of a small contribution, and no drift).
        counts = [[m * n, (1.0 - m) * n] for m, n in zip(missing, (len(a), len(b)))]
        missing_p = _chi2_p(np.round(np.array(counts)), alpha, seed) if abs(missing[0] - missing[1]) >= \
            DRIFT_MIN_EFFECT else None
        entry["missing_p_value"] = _sig(missing_p)
        missing_moved = missing_p is not None and missing_p < alpha
        # Values spelled otherwise are new categories to the model, however alike the counts (the
        # statistic compares values with their spaces trimmed, as near matching does).
        entry["drifted"] = bool((entry["value"] is not None and entry["value"] >= DRIFT_MIN_EFFECT
                                 and entry["p_value"] is not None and entry["p_value"] < alpha) or missing_moved
                                or entry.get("spelling_differs"))
        results.append(entry)

    count_c = np.asarray(class_counts) if class_counts is not None else \
        np.bincount(class_codes(contribution[label].astype(str), classes), minlength=len(classes))
    bench_codes = class_codes(benchmark[label].astype(str), classes, unknown=-1)
    count_b = np.bincount(bench_codes[bench_codes >= 0], minlength=len(classes))
    table = np.vstack([count_c, count_b]).astype(float)
    tvd = _tvd(table)
    p_value = _chi2_p(table, DRIFT_ALPHA, seed)
    balance = {"contribution": _shares(count_c, classes), "benchmark": _shares(count_b, classes),
               "tvd": round(tvd, 6), "p_value": _sig(p_value),
               "shifted": bool(tvd >= DRIFT_MIN_EFFECT and p_value is not None and p_value < DRIFT_ALPHA)}
    drifted = [r["feature"] for r in results if r["drifted"]]
    return {"reference": "benchmark", "reference_rows": int(len(benchmark)), "alpha": DRIFT_ALPHA,
            "min_effect": DRIFT_MIN_EFFECT, "features": results, "drifted": drifted, "class_balance": balance,
            "warn": bool(drifted) or balance["shifted"]}


def _absent(column, kind):
    """Per value: missing, or for free text without a word (a text of "" or "!!!" says nothing,
    as near matching treats it; its words would be left out of the word counts unseen)."""
    missing = column.isna().to_numpy()
    if kind == "text":
        missing = missing | ~column.astype(str).str.contains(r"\w", regex=True).to_numpy(dtype=bool)
    return missing


def _spelling_differs(a, b):
    """[contributed value, benchmark value] when the contribution's values are mostly unknown to
    the benchmark but for their letter case or spaces ("fri" or "Fri " where the benchmark has
    "Fri"): the model reads them as new categories, and the contributor wants to know why. Else
    None. ``a`` and ``b`` are the columns as stored (missing values are left out)."""
    import pandas as pd

    def spelled(column):
        return pd.Series(column[column.notna()].astype(str).to_numpy())

    values, known = spelled(a), set(spelled(b).tolist())
    if not len(values) or values.isin(known).mean() >= 0.5:
        return None
    folded = {}
    for value in sorted(known):
        folded.setdefault(spelling(value), value)
    unknown = values[~values.isin(known)]
    if unknown.map(spelling).isin(set(folded)).mean() < 0.9:
        return None
    example = unknown.value_counts().index[0]
    return [example, folded[spelling(example)]]


def _shares(counts, classes):
    total = counts.sum()
    return {c: round(float(n / total), 4) if total else 0.0 for c, n in zip(classes, counts)}


def _tvd(table):
    """Total variation distance between the two rows of a count table (as distributions)."""
    sums = table.sum(axis=1, keepdims=True)
    if (sums == 0).any():
        return 0.0
    return float(0.5 * np.abs(table[0] / sums[0] - table[1] / sums[1]).sum())


def _chi2_p(table, alpha, seed):
    """p-value of the chi-square test that the two rows of a count table (columns: categories)
    come from one distribution, to be compared with ``alpha``.

    Where an expected count is under MIN_EXPECTED, the chi-square distribution is no longer the
    statistic's (2 of 10 contributed rows in a category holding 1.5% of the benchmark gave
    p = 2e-4 where the exact p is 0.012), so the p-value is :func:`_permutation_p`'s."""
    from scipy.stats import chi2_contingency

    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    if expected.min() >= MIN_EXPECTED:
        return float(chi2_contingency(table)[1])
    return _permutation_p(table, expected, alpha, seed)


def _permutation_p(table, expected, alpha, seed):
    """Monte Carlo permutation p-value of Pearson's chi-square statistic of a 2 x K count table.

    The margins are fixed: a random split of the pooled values into groups of the two rows'
    sizes, whose counts for one row are a multivariate hypergeometric draw (numpy, seeded with
    ``seed``). p = (1 + draws at least as extreme) / (1 + draws), over PERMUTATION_RESOLUTION /
    ``alpha`` draws, so that p resolves ``alpha``. They are drawn PERMUTATION_BLOCK at a time and
    stop once p cannot end below ``alpha`` whatever the rest give: the decision is then made, and
    p is estimated from the draws made (a feature that has not drifted mostly stops at the first
    block)."""
    rng = np.random.default_rng(seed)
    counts, columns = table.astype(np.int64), table.sum(axis=0).astype(np.int64)
    row = int(np.argmin(counts.sum(axis=1)))  # the smaller row is the cheaper to draw
    size = int(counts[row].sum())
    # The other row's deviations from its expected counts are this row's, negated.
    weight = 1.0 / expected[0] + 1.0 / expected[1]
    centre = expected[row]
    observed = float(((counts[row] - centre) ** 2 * weight).sum())
    limit = int(math.ceil(PERMUTATION_RESOLUTION / alpha))
    # "count" draws value by value, "marginals" category by category (a category costs about as
    # much as 8 values, measured): the faster of the two.
    method = "count" if size < 8 * len(columns) else "marginals"
    extreme = drawn = 0
    while drawn < limit and (1 + extreme) / (1 + limit) < alpha:
        block = rng.multivariate_hypergeometric(columns, size, size=min(PERMUTATION_BLOCK, limit - drawn),
                                                method=method)
        statistic = ((block - centre) ** 2 * weight).sum(axis=1)
        extreme += int((statistic >= observed * (1 - 1e-9)).sum())  # ties (float rounding) count as extreme
        drawn += len(block)
    return (1 + extreme) / (1 + drawn)


def _category_table(a, b):
    """Counts per category; categories rarer than RARE_CATEGORY in the benchmark share one bucket."""
    import pandas as pd

    reference = pd.Series(b).value_counts()
    kept = set(reference.index[reference >= RARE_CATEGORY])
    bucket_a = pd.Series([v if v in kept else "\x00other" for v in a]).value_counts()
    bucket_b = pd.Series([v if v in kept else "\x00other" for v in b]).value_counts()
    names = sorted(set(bucket_a.index) | set(bucket_b.index))
    return np.array([[bucket_a.get(k, 0) for k in names], [bucket_b.get(k, 0) for k in names]], dtype=float)


def _word_table(a, b):
    """Word counts over the TEXT_TOP_WORDS most frequent words of both, plus one bucket for the rest."""
    from collections import Counter

    def words(column):
        counter = Counter()
        for value in column.dropna().astype(str):
            counter.update(re.findall(r"\w+", value.casefold()))
        return counter

    count_a, count_b = words(a), words(b)
    top = [w for w, _ in (count_a + count_b).most_common(TEXT_TOP_WORDS)]
    rows = []
    for counter in (count_a, count_b):
        inside = [counter.get(w, 0) for w in top]
        rows.append(inside + [sum(counter.values()) - sum(inside)])
    return np.array(rows, dtype=float)


# --- messages --------------------------------------------------------------------------------


def _drifted_text(r):
    """A drifted feature, and by what."""
    if r.get("spelling_differs"):
        return ("%s (%s %.2f: its values are spelled unlike the benchmark's, in letter case or "
                "spaces, e.g. %r for %r: new categories to the model)"
                % (r["feature"], STATISTICS[r["statistic"]], r["value"], *r["spelling_differs"]))
    if r["value"] is not None and r["value"] >= DRIFT_MIN_EFFECT:
        return "%s (%s %.2f)" % (r["feature"], STATISTICS[r["statistic"]], r["value"])
    return "%s (missing %s vs %s)" % (r["feature"], _pct(r["missing_share"][0]), _pct(r["missing_share"][1]))


def drift_lines(findings, rn):
    """(warnings, notes) about drifted features."""
    d = findings["drift"]
    if not d["drifted"]:
        return [], []
    parts = [_drifted_text(r) for r in d["features"] if r["drifted"]]
    return ["drift: %s of %s %s from the benchmark: %s" % (
        thousands(len(d["drifted"])), plural(len(d["features"]), "feature"),
        "differs" if len(d["drifted"]) == 1 else "differ",
        ", ".join(parts[:5]))], []


def class_balance_lines(findings, rn):
    """(warnings, notes) about the class balance."""
    balance = findings["drift"]["class_balance"]
    if not balance["shifted"]:
        return [], []
    moved = sorted(balance["contribution"], key=lambda k: -abs(balance["contribution"][k]
                                                               - balance["benchmark"].get(k, 0.0)))
    # TVD said in words too: the share of rows that would have to change class to match.
    return ["class balance: %s (TVD %.2f: %s of the rows would have to change class to match the benchmark)" % (
        ", ".join("%s %s%s vs %s%s" % (k, _pct(balance["contribution"][k]), " here" if i == 0 else "",
                                       _pct(balance["benchmark"].get(k, 0.0)), " in the benchmark" if i == 0 else "")
                  for i, k in enumerate(moved[:3])), balance["tvd"], _pct(balance["tvd"]))], []
