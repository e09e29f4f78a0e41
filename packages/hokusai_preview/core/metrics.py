"""Classification metrics in plain numpy.

Why this module exists instead of ``sklearn.metrics``: it is imported by light
command-line stages whose start-up time matters, so it must not import
scikit-learn or scipy; and bootstrap confidence intervals need many weighted
replicates scored in one vectorized call, which ``sklearn.metrics`` cannot do.
Results match scikit-learn (accuracy, weighted precision/recall/F1 with
``zero_division=0``, and ROC AUC), which ``tests/unit/test_metrics.py`` checks.
"""

from typing import Dict, Optional

import numpy as np

# AUROC sorts and weighs the (replicate, row, class) values of score_batch in a dozen arrays
# of their size, so 50 replicates of 2,000 rows and 200 classes in one go took over 2 GB: it takes
# this many values at a time at most (a class's rows at least). Arrays that stay in the CPU's
# cache also made the paired bootstrap twice as fast on 1,500 rows of 4 classes. One class's
# AUROC in one replicate does not depend on the others scored with it (bit for bit with integer
# weights, as bootstrap counts are: tests/unit/test_fast_scoring.py).
SCORE_CHUNK_VALUES = 1 << 16


def _divide(num, den):
    # zero_division=0: 0/0 (e.g. a class that is never predicted) scores 0.
    num, den = np.broadcast_arrays(num, den)
    out = np.zeros(num.shape)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _check_labels(y_true, n_classes):
    y_true = np.asarray(y_true)
    if y_true.ndim != 1:
        raise ValueError(f"y_true must be 1-D, got shape {y_true.shape}")
    if y_true.size and (
        not np.issubdtype(y_true.dtype, np.integer) or y_true.min() < 0 or y_true.max() >= n_classes
    ):
        raise ValueError(f"y_true must hold integer class codes in [0, {n_classes})")
    return y_true.astype(np.intp, copy=False)


def _check_weights(weights, n_rep, n_rows):
    if weights is None:
        return np.ones((n_rep, n_rows))
    w = np.broadcast_to(np.asarray(weights, dtype=np.float64), (n_rep, n_rows))
    if np.any(w < 0):
        raise ValueError("weights must be non-negative")
    return w


def confusion_counts(y_true, y_pred, n_classes, weights=None):
    """Weighted confusion matrices for B predictions of one label vector.

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        True class codes in ``0..n_classes-1``.
    y_pred : array-like of int, shape (B, n) or (n,)
        Predicted class codes; a 1-D array is treated as B=1.
    n_classes : int
        Number of classes C.
    weights : array-like of float, shape (B, n), default=None
        Non-negative row weights; None means all ones.

    Returns
    -------
    counts : ndarray of float64, shape (B, C, C)
        ``counts[b, i, j]`` is the total weight of rows of true class ``i``
        predicted as class ``j`` in replicate ``b``.
    """
    y_true = _check_labels(y_true, n_classes)
    y_pred = np.atleast_2d(np.asarray(y_pred, dtype=np.intp))
    n_rep, n_rows = y_pred.shape
    w = _check_weights(weights, n_rep, n_rows)
    # One bincount over (replicate, true, predicted) codes replaces B calls.
    idx = (np.arange(n_rep)[:, None] * n_classes + y_true) * n_classes + y_pred
    counts = np.bincount(idx.ravel(), weights=w.ravel(), minlength=n_rep * n_classes**2)
    return counts.reshape(n_rep, n_classes, n_classes)


def _shared(proba):
    """Whether the replicates of ``proba`` (B, n, C) are one matrix broadcast (the paired
    bootstrap's): then they differ only in their weights, and one argmax or sort serves all."""
    return proba.shape[0] > 1 and proba.strides[0] == 0


def _auroc(y_true, proba, w):
    n_rep, n_rows, n_classes = proba.shape
    if n_rows == 0:
        return np.full(n_rep, np.nan)
    # Binary: roc_auc_score(y == 1, proba[:, 1]); otherwise one-vs-rest, each class a "row" of
    # scores of its own: (replicate, class) rows are scored a block at a time, of at most
    # SCORE_CHUNK_VALUES values (a class's row at least), their sums then put together.
    first, stop = (1, 2) if n_classes == 2 else (0, n_classes)
    per_block = max(1, SCORE_CHUNK_VALUES // n_rows)  # classes of one replicate
    replicates = max(1, per_block // (stop - first))  # replicates at once, when all their classes fit
    # Replicates sharing one probability matrix (the paired bootstrap broadcasts it) differ only
    # in their weights: sort once and broadcast the order (same result, a fraction of the time).
    shared = _shared(proba)
    sums = np.empty((3, n_rep, stop - first))  # half_u, tot_pos, tot_neg
    for low in range(first, stop, per_block):
        high = min(low + per_block, stop)
        ranked = _ranked(y_true, proba[:1], low, high) if shared else None
        for i in range(0, n_rep, replicates):
            sums[:, i:i + replicates, low - first:high - first] = _mann_whitney(
                ranked if shared else _ranked(y_true, proba[i:i + replicates], low, high), w[i:i + replicates])
    half_u, tot_pos, tot_neg = sums
    defined = (tot_pos > 0) & (tot_neg > 0)
    auc = np.full(defined.shape, np.nan)
    auc[defined] = 0.5 * half_u[defined] / (tot_pos[defined] * tot_neg[defined])
    if n_classes == 2:
        return auc[:, 0]
    # Prevalence-weighted average over the classes present in the replicate;
    # NaN when fewer than two are present (then no class is defined).
    prev = np.where(defined, tot_pos, 0.0)
    out = np.full(n_rep, np.nan)
    ok = defined.any(axis=1)
    out[ok] = (np.where(defined, auc, 0.0) * prev).sum(axis=1)[ok] / prev.sum(axis=1)[ok]
    return out


def _ranked(y_true, proba, low, high):
    """The scores of classes ``low`` to ``high`` (excluded) in each replicate of ``proba``, sorted,
    shape (B, K, n): (the sorted scores' order, whether each is of its class, where a run of
    equal scores starts)."""
    s = np.moveaxis(proba[:, :, low:high], 1, 2)  # a view
    order = np.argsort(s, axis=-1)
    s = np.take_along_axis(s, order, axis=-1)
    is_pos = np.take_along_axis(np.broadcast_to(y_true == np.arange(low, high)[:, None], s.shape), order, axis=-1)
    starts = np.ones(s.shape, dtype=bool)
    starts[..., 1:] = s[..., 1:] != s[..., :-1]  # a group starts at a row's start or a new score
    return order, is_pos, starts


def _mann_whitney(ranked, w):
    """(U statistic times 2, positive weight, negative weight), each (B, K), of the replicates
    weighted ``w`` (B, n) whose scores are :func:`_ranked` (or one replicate's, shared by all)."""
    order, is_pos, starts = ranked
    n_rep, n_rows = w.shape
    n_cols = order.shape[1]
    full = (n_rep,) + order.shape[1:]
    w_all = np.take_along_axis(np.broadcast_to(w[:, None, :], full), np.broadcast_to(order, full), axis=-1)
    w_pos = np.where(is_pos, w_all, 0.0)
    w_neg = w_all - w_pos

    # Weighted Mann-Whitney over tie groups (runs of equal scores, never across rows): each
    # positive beats the negative weight below its group and half of the negative weight in it,
    # which is what sklearn's trapezoid over distinct thresholds integrates to.
    rows = n_rep * n_cols
    starts = np.broadcast_to(starts, full).reshape(-1)
    first = np.flatnonzero(starts)
    pos_g = np.add.reduceat(w_pos.reshape(-1), first)
    neg_g = np.add.reduceat(w_neg.reshape(-1), first)
    row_of_group = first // n_rows
    row_first = np.searchsorted(row_of_group, np.arange(rows))
    neg_cum = np.cumsum(neg_g)
    row_start = np.concatenate([[0.0], neg_cum])[row_first]  # negative weight of the rows before
    below = neg_cum - neg_g - np.repeat(row_start, np.diff(np.append(row_first, len(first))))
    half_u = np.add.reduceat(pos_g * (2.0 * below + neg_g), row_first).reshape(n_rep, n_cols)
    return half_u, w_pos.sum(axis=-1), w_neg.sum(axis=-1)


def score_batch(
    y_true: np.ndarray, proba: np.ndarray, weights: Optional[np.ndarray] = None
) -> Dict[str, np.ndarray]:
    """Score B probability matrices against one label vector.

    Matches scikit-learn for every replicate: ``accuracy_score``;
    ``precision_score``, ``recall_score`` and ``f1_score`` with
    ``average="weighted"`` and ``zero_division=0``; ``roc_auc_score`` (binary:
    positive class 1 scored by ``proba[:, 1]``; C > 2: one-vs-rest weighted by
    class prevalence over the classes present in ``y_true``), all with
    ``sample_weight`` set to the replicate's weights.

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        True class codes in ``0..C-1``.
    proba : array-like of float, shape (B, n, C) or (n, C)
        Class probabilities (any scores for AUROC); a 2-D array is treated
        as B=1. The predicted class is the argmax, ties going to the lowest
        class index.
    weights : array-like of float, shape (B, n), default=None
        Non-negative row weights, e.g. bootstrap counts (a row drawn k times
        has weight k). None means all ones.

    Returns
    -------
    scores : dict of str to ndarray of float64, shape (B,)
        One entry per name in ``METRICS``. AUROC is NaN for a replicate
        whose positively weighted ``y_true`` holds fewer than two classes.

    AUROC weighs :data:`SCORE_CHUNK_VALUES` (replicate, row, class) values at a time.
    """
    proba = np.asarray(proba)
    if proba.ndim == 2:
        proba = proba[None]
    if proba.ndim != 3:
        raise ValueError("proba must have shape (B, n, C) or (n, C)")
    n_rep, n_rows, n_classes = proba.shape
    y_true = _check_labels(y_true, n_classes)
    if y_true.shape[0] != n_rows:
        raise ValueError(f"y_true has {y_true.shape[0]} rows, proba has {n_rows}")
    w = _check_weights(weights, n_rep, n_rows)
    chosen = np.broadcast_to(proba[:1].argmax(axis=2), (n_rep, n_rows)) if _shared(proba) else proba.argmax(axis=2)
    cm = confusion_counts(y_true, chosen, n_classes, w)
    tp = np.diagonal(cm, axis1=1, axis2=2)
    support = cm.sum(axis=2)  # true class totals: the "weighted" average weights
    predicted = cm.sum(axis=1)
    total = support.sum(axis=1)
    precision = _divide(tp, predicted)
    recall = _divide(tp, support)
    f1 = _divide(2 * tp, support + predicted)  # sklearn's form of 2PR/(P+R)

    def weighted(per_class):
        return _divide((per_class * support).sum(axis=1), total)

    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(total > 0, tp.sum(axis=1) / total, np.nan)
    return {
        "accuracy": accuracy,
        "precision": weighted(precision),
        "recall": weighted(recall),
        "f1": weighted(f1),
        "auroc": _auroc(y_true, proba, w),
    }


def score(y_true: np.ndarray, proba: np.ndarray) -> Dict[str, float]:
    """Score one probability matrix against its labels.

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        True class codes in ``0..C-1``.
    proba : array-like of float, shape (n, C)
        Class probabilities.

    Returns
    -------
    scores : dict of str to float
        Same metrics and semantics as :func:`score_batch`. A metric that is
        undefined (AUROC when ``y_true`` holds fewer than two classes) is
        omitted.
    """
    proba = np.asarray(proba)
    if proba.ndim != 2:
        raise ValueError("proba must have shape (n, C)")
    batch = score_batch(y_true, proba[None])
    return {k: float(v[0]) for k, v in batch.items() if not np.isnan(v[0])}
