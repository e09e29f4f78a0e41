"""Label noise and label conflict (:func:`label_noise`).

Confident learning (Northcutt et al., 2021) on out-of-fold probabilities of the recipe's forest
(``NOISE_TREES`` trees, ``NOISE_FOLDS`` folds) trained on contribution and reference rows
together; an alarm when the contribution's flagged rate exceeds the reference rows' rate by
``NOISE_MIN_EXCESS`` and significantly (p < ``NOISE_ALPHA``). A contribution that relabels the
task consistently (every label flipped) teaches the pooled model its rule, so it is caught
otherwise: a *label conflict* when the reference rows flagged with the contribution in the
pooled rows exceed those flagged by the reference rows alone by ``CONFLICT_MIN_RISE``, as
significantly (McNemar's test on the same rows).
"""

import math

import numpy as np

from ..bundle import class_codes
from ..text import plural, thousands
from .common import EXAMPLES, ROW_INDICES, _pct, _sig
from .matching import _exact_keys

SWAPS = 3  # the commonest (label, suggested) pairs among flagged rows, reported
# An estimated noise rate this high means most labels are wrong, not a few: the report then
# names the pairs, as labels swapped wholesale (0/1 or good/bad reversed) are a fix, not noise.
MOSTLY_WRONG = 0.5

NOISE_FOLDS = 3
NOISE_TREES = 30
NOISE_MAX_CONTRIBUTION = 5000
NOISE_MAX_CONTRIBUTION_TEXT = 3000  # TF-IDF and forests on sparse text cost more per row
NOISE_MAX_REFERENCE = 2000
NOISE_MIN_ROWS = 30
NOISE_ALPHA = 0.001
NOISE_MIN_EXCESS = 0.03
# Least rise of the reference rows' flagged share for a conflict; clean rows move it too (docs/diagnostics-notes.md)
CONFLICT_MIN_RISE = 0.10


def label_noise(contribution, reference, features, label, classes, seed=42, all_rows=False):
    """Confident-learning label issues in the contribution, compared with reference rows.

    A forest of the recipe (NOISE_TREES trees) gives out-of-fold class probabilities for the
    contribution and reference rows together. The per-class threshold is the mean probability
    of that class over rows labelled with it; a row is flagged when the most probable class
    whose probability reaches its threshold differs from its label. The confident joint of
    given and suggested labels, calibrated to the label counts, estimates the noise rate; the
    same on the reference rows (at the contribution's class mix: some classes are harder than
    others) measures the task's own ambiguity, and the difference estimates
    the noise the contribution adds. With ``all_rows``, returns (summary, every flagged row).
    """
    import warnings

    import pandas as pd

    from ..recipe import FOREST_PARAMS, build_forest, build_preprocessor, prepare_features
    from ..sampling import stratified_indices

    n_total = len(contribution)
    skipped = {"status": "skipped", "method": "confident_learning", "rows_checked": 0, "flagged": 0,
               "rate": 0.0, "estimated_noise_rate": None, "warn": False, "row_indices": [], "examples": []}
    y_c = class_codes(contribution[label].astype(str), classes)
    y_r = class_codes(reference[label].astype(str), classes, unknown=-1)
    if n_total < NOISE_MIN_ROWS:
        return _skip(dict(skipped, reason="fewer than %d rows" % NOISE_MIN_ROWS), all_rows)
    rows_c = np.arange(n_total)
    cap = NOISE_MAX_CONTRIBUTION_TEXT if any(f["kind"] == "text" for f in features) else NOISE_MAX_CONTRIBUTION
    if n_total > cap:
        rows_c = stratified_indices(y_c, cap, seed)
    rows_r = np.flatnonzero(y_r >= 0)
    if len(rows_r) > NOISE_MAX_REFERENCE:
        rows_r = rows_r[stratified_indices(y_r[rows_r], NOISE_MAX_REFERENCE, seed)]
    frame = pd.concat([contribution.iloc[rows_c][[f["name"] for f in features]],
                       reference.iloc[rows_r][[f["name"] for f in features]]], ignore_index=True)
    y = np.concatenate([y_c[rows_c], y_r[rows_r]])
    # The encoding is fitted on all rows at once: it never sees labels, and fitting TF-IDF once
    # instead of per fold keeps the check fast. Only the forest is cross-validated.
    X = build_preprocessor(features).fit_transform(prepare_features(frame, features))
    keys = _exact_keys(frame, features)

    def out_of_fold(rows):
        """(out-of-fold class probabilities of ``rows``, the number of folds); (None, 0) where a
        class has fewer than 2 distinct rows among them."""
        splits = list(_group_folds(keys[rows], y[rows], len(classes), seed))
        if not splits:
            return None, 0
        probas = np.zeros((len(rows), len(classes)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for train, test in splits:
                forest = build_forest(dict(FOREST_PARAMS, random_state=seed), NOISE_TREES, n_jobs=1)
                forest.fit(X[rows[train]], y[rows[train]])
                probas[np.ix_(test, forest.classes_)] = forest.predict_proba(X[rows[test]])
        return probas, len(splits)

    probas, folds = out_of_fold(np.arange(len(y)))
    if probas is None:
        return _skip(dict(skipped, reason="a class has fewer than 2 distinct rows"), all_rows)
    flagged, suggested = _confident_issues(probas, y, len(classes))
    n_c = len(rows_c)
    is_c = np.arange(len(y)) < n_c
    conflict = _conflict(flagged[~is_c], out_of_fold(np.flatnonzero(~is_c))[0], y[~is_c], len(classes))
    k_c = int(flagged[is_c].sum())
    rate_c = k_c / n_c
    # Some classes are harder than others: the reference is taken at the contribution's class mix.
    rate_r, p_value = _standardised_excess(flagged, y, is_c, len(classes))
    excess = rate_c - rate_r
    warn = bool(excess >= NOISE_MIN_EXCESS and p_value < NOISE_ALPHA)
    # Random noise raises the reference rows' flags too, but the contribution's stand out from
    # theirs (label noise, above); a consistent relabelling's do not: that is a conflict.
    conflict["conflict"] = conflict["conflict"] and not warn
    issue_rows = rows_c[flagged[:n_c]]
    issue_positions = np.flatnonzero(flagged[:n_c])
    # The most confident issues first: highest probability of the suggested class.
    order = np.argsort(-probas[issue_positions, suggested[issue_positions]], kind="stable")
    examples = [{"row": int(rows_c[p]), "label": classes[y[p]], "suggested": classes[suggested[p]],
                 "confidence": round(float(probas[p, suggested[p]]), 3)} for p in issue_positions[order][:EXAMPLES]]
    # Which label the model reads where: mostly one pair each way says the labels are swapped.
    pairs, counts = np.unique(np.stack([y[issue_positions], suggested[issue_positions]], axis=1), axis=0,
                              return_counts=True) if len(issue_positions) else (np.empty((0, 2), int), [])
    readings = [{"label": classes[a], "suggested": classes[b], "rows": int(c)}
                for (a, b), c in sorted(zip(pairs.tolist(), counts), key=lambda pc: (-pc[1], pc[0]))[:SWAPS]]
    noise_c, per_class_c, given_c = _noise_rate(probas[is_c], y[is_c], len(classes))
    noise_r = None
    if (~is_c).any():
        noise_r, per_class_r, _ = _noise_rate(probas[~is_c], y[~is_c], len(classes))
        noise_r = _at_mix(per_class_r, ~np.isnan(per_class_r), noise_r, given_c * ~np.isnan(per_class_c))
    summary = {
        "status": "checked", "reason": None, "method": "confident_learning",
        "model": "recipe forest, %d trees, %d-fold out-of-fold probabilities" % (NOISE_TREES, folds),
        "folds": folds, "rows_checked": n_c, "rows_total": n_total, "flagged": k_c, "rate": round(rate_c, 6),
        "estimated_noise_rate": round(noise_c, 6),
        "reference_rows": int((~is_c).sum()), "reference_rate": round(rate_r, 6),
        "reference_noise_rate": None if noise_r is None else round(noise_r, 6),
        "excess_noise_rate": round(max(0.0, noise_c - (noise_r or 0.0)), 6),
        "excess_rate": round(excess, 6), "p_value": _sig(p_value), "warn": warn or conflict["conflict"],
        "conflict": conflict,
        "row_indices": np.sort(issue_rows)[:ROW_INDICES].tolist(), "examples": examples,
        "readings": readings,
    }
    return (summary, np.sort(issue_rows)) if all_rows else summary


def _folds(y, k):
    """Stratified folds these labels allow (at most NOISE_FOLDS), or 0 when they allow none: a
    class with a single row, or a single class."""
    counts = np.bincount(y, minlength=k)
    folds = int(min(NOISE_FOLDS, counts[counts > 0].min()))
    return folds if folds >= 2 and (counts > 0).sum() >= 2 else 0


def _group_folds(keys, y, k, seed):
    """(train, test) row positions of stratified folds (:func:`_folds` of them) in which rows of
    identical features (equal ``keys``) fall together: a row's copy in the training folds would
    vouch for its label, however wrong (a file of 20% flipped labels written twice read as
    cleaner than the baseline's rows). The folds are StratifiedKFold's over the groups, in order
    of their first row, by that row's label: rows all distinct, they are its folds over the rows."""
    from sklearn.model_selection import StratifiedKFold

    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    group = rank[inverse.reshape(-1)]  # each row's group, numbered by first appearance
    y_group = y[first[order]]
    splits = _folds(y_group, k)
    if not splits:
        return
    for _, test in StratifiedKFold(splits, shuffle=True, random_state=seed).split(np.zeros(len(y_group)), y_group):
        in_test = np.zeros(len(y_group), dtype=bool)
        in_test[test] = True
        yield np.flatnonzero(~in_test[group]), np.flatnonzero(in_test[group])


def _conflict(flagged_together, probas_alone, y, k):
    """Whether the contribution's labels contradict the reference's: the reference rows flagged
    when the model also learns from the contribution, against those flagged when it learns
    from the reference rows alone (McNemar's test on the same rows). Confident learning within
    the pooled rows cannot see a contribution that relabels the task consistently (every label
    flipped): the model learns the contribution's rule, and the reference rows then look as
    noisy as the contribution. That is the sign this looks for (:func:`label_noise` keeps it
    only where the contribution's own flags do not stand out: random noise raises the
    reference's flags a little too, and is label noise)."""
    from scipy.stats import norm

    result = {"conflict": False, "reference_rate_alone": None,
              "reference_rate_together": round(float(flagged_together.mean()), 6) if len(y) else None,
              "p_value": 1.0}
    if probas_alone is None:
        return result
    flagged_alone = _confident_issues(probas_alone, y, k)[0]
    gained = int((flagged_together & ~flagged_alone).sum())
    lost = int((flagged_alone & ~flagged_together).sum())
    p_value = float(norm.sf((gained - lost) / math.sqrt(gained + lost))) if gained + lost else 1.0
    rise = (gained - lost) / len(y)
    result.update(reference_rate_alone=round(float(flagged_alone.mean()), 6), p_value=_sig(p_value),
                  conflict=bool(rise >= CONFLICT_MIN_RISE and p_value < NOISE_ALPHA))
    return result


def _skip(summary, all_rows):
    return (summary, np.empty(0, dtype=np.int64)) if all_rows else summary


def _thresholds(probas, y, k):
    thresholds = np.full(k, np.inf)
    for j in range(k):
        if (y == j).any():
            thresholds[j] = probas[y == j, j].mean()
    return thresholds


def _confident_classes(probas, thresholds):
    """Per row: the most probable class at or above its threshold, or -1."""
    above = probas >= thresholds[None, :] - 1e-12
    masked = np.where(above, probas, -1.0)
    best = np.argmax(masked, axis=1)
    return np.where(above.any(axis=1), best, -1)


def _confident_issues(probas, y, k):
    suggested = _confident_classes(probas, _thresholds(probas, y, k))
    return (suggested >= 0) & (suggested != y), suggested


def _noise_rate(probas, y, k):
    """Off-diagonal mass of the calibrated confident joint of these rows, with their own thresholds
    (flipped contributed rows lower the thresholds of all rows: the baseline's rows would then
    look noisier than they are, and the excess smaller).

    Returns (rate, per-class rate (NaN where a class has no confident row), rows per class)."""
    suggested = _confident_classes(probas, _thresholds(probas, y, k))
    joint = np.zeros((k, k))
    counted = suggested >= 0
    np.add.at(joint, (y[counted], suggested[counted]), 1)
    given = np.bincount(y, minlength=k).astype(float)
    row_sums = joint.sum(axis=1)
    # A calibrated row sums to the class's count, so the rate is the given-weighted per-class rate.
    per_class = np.full(k, np.nan)
    np.divide(row_sums - np.diag(joint), row_sums, out=per_class, where=row_sums > 0)
    defined = given * (row_sums > 0)
    rate = float((defined * np.nan_to_num(per_class)).sum() / defined.sum()) if defined.sum() else 0.0
    return rate, per_class, given


def _at_mix(per_class, known, overall, weights):
    """The weighted mean of ``per_class`` rates, with ``overall`` for classes not ``known``."""
    if not weights.sum():
        return overall
    return float((weights * np.where(known, np.nan_to_num(per_class), overall)).sum() / weights.sum())


def _standardised_excess(flagged, y, is_c, k):
    """(Reference flagged rate at the contribution's class mix, one-sided p-value of the
    contribution's rate exceeding it): a z-test stratified by class, pooled within each class;
    p is 1.0 when undefined or without reference rows."""
    from scipy.stats import norm

    n_c, n_r = np.bincount(y[is_c], minlength=k), np.bincount(y[~is_c], minlength=k)
    k_c = np.bincount(y[is_c], weights=flagged[is_c], minlength=k)
    k_r = np.bincount(y[~is_c], weights=flagged[~is_c], minlength=k)
    if not n_r.sum():
        return 0.0, 1.0
    known = n_r > 0
    overall = k_r.sum() / n_r.sum()
    per_class = np.divide(k_r, n_r, out=np.zeros(k), where=known)
    expected = _at_mix(per_class, known, overall, n_c) * n_c.sum()
    # Var(k_c - expected) per class: n_c p (1 - p) (1 + n_c / n_r), p pooled within the class.
    refs = np.where(known, n_r, n_r.sum()).astype(float)
    pooled = np.where(known, (k_c + k_r) / np.maximum(n_c + n_r, 1), (k_c + k_r.sum()) / np.maximum(n_c + refs, 1))
    variance = float((n_c * pooled * (1 - pooled) * (1 + n_c / refs)).sum())
    rate = expected / n_c.sum()
    if variance <= 0:
        return rate, 1.0
    return rate, float(norm.sf((k_c.sum() - expected) / math.sqrt(variance)))


# --- messages --------------------------------------------------------------------------------


def _swapped(ln):
    """'; most read as another class: bad as good (300), good as bad (120): are the labels swapped?'
    where most labels look wrong, else ''."""
    readings = ln.get("readings") or []  # none before rules 10
    if (ln["estimated_noise_rate"] or 0.0) < MOSTLY_WRONG or not readings:
        return ""
    return "; most read as another class: %s: are the labels swapped (e.g. 0/1 reversed)? fix the mapping and " \
           "preview again" % ", ".join("%s as %s (%s)" % (r["label"], r["suggested"], thousands(r["rows"]))
                                       for r in readings)


def label_noise_lines(findings, rn):
    """(warnings, notes) about mislabelled rows; ``rn`` numbers a contributed row."""
    warnings, notes = [], []
    ln = findings["label_noise"]
    conflict = ln.get("conflict") or {}
    if ln["status"] == "checked" and conflict.get("conflict"):
        # The pooled model learnt the contribution's rule, so its per-row flags mean little here.
        warnings.append("label conflict: the contribution's labels contradict the baseline's rows: a model "
                        "cross-validated with them finds %s of the baseline's own rows mislabelled, against %s "
                        "without them (labels flipped, or another labelling rule?)" % (
                            _pct(conflict["reference_rate_together"]), _pct(conflict["reference_rate_alone"])))
    elif ln["status"] == "checked" and ln["warn"]:
        # Two pairs of rates: rows flagged, then the noise rate the flags imply (the confident joint's).
        warnings.append("label noise: %s of %s (%s) %s mislabelled, against %s of the baseline's own "
                        "rows of the same classes (e.g. data rows %s); the noise rate this implies: %s here, %s in "
                        "the baseline's rows" % (
                            thousands(ln["flagged"]), plural(ln["rows_checked"], "row"), _pct(ln["rate"]),
                            "looks" if ln["flagged"] == 1 else "look", _pct(ln["reference_rate"]),
                            ", ".join(str(rn(i)) for i in ln["row_indices"][:3]), _pct(ln["estimated_noise_rate"]),
                            _pct(ln["reference_noise_rate"] or 0.0)) + _swapped(ln))
    elif ln["status"] == "skipped":
        notes.append("label noise not checked: %s" % ln["reason"])
    return warnings, notes
