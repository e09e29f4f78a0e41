"""The fast paths of metrics.score_batch give exactly what scoring each replicate alone gives.

hp-delta's paired bootstrap broadcasts one probability matrix over its replicates (only the row
weights differ) and score_batch sorts it once for all of them; hp-train's convergence checks
score many distinct matrices at once. Both must equal replicate-by-replicate scoring, bit for
bit with integer weights (bootstrap counts), and scikit-learn's AUROC on tie-heavy scores.
"""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from hokusai_preview.core.deltaone import METRICS
from hokusai_preview.core.metrics import score_batch


def _case(seed, rows=300, classes=4, replicates=25):
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.ones(classes), size=rows)
    proba = np.round(proba * 8) / 8  # forest averages tie a lot
    y = rng.integers(0, classes, rows)
    weights = rng.multinomial(rows, np.full(rows, 1.0 / rows), size=replicates).astype(np.float64)
    return y, proba, weights


@pytest.mark.parametrize("classes", [2, 4])
def test_a_broadcast_matrix_scores_like_copies_of_it(classes):
    y, proba, weights = _case(1, classes=classes)
    shared = score_batch(y, np.broadcast_to(proba, (len(weights),) + proba.shape), weights=weights)
    copied = score_batch(y, np.repeat(proba[None], len(weights), axis=0), weights=weights)
    alone = [score_batch(y, proba, weights=w[None]) for w in weights]
    for metric in METRICS:
        assert np.array_equal(shared[metric], copied[metric], equal_nan=True), metric
        assert np.array_equal(shared[metric], np.concatenate([a[metric] for a in alone]), equal_nan=True), metric


@pytest.mark.parametrize("classes", [2, 3])
def test_many_matrices_at_once_match_scikit_learn_with_ties_and_weights(classes):
    rng = np.random.default_rng(2)
    y, _, weights = _case(3, rows=200, classes=classes, replicates=6)
    probas = rng.multinomial(5, np.full(classes, 1.0 / classes), size=(6, 200)) / 5.0  # sums to 1, many ties
    batch = score_batch(y, probas, weights=weights)["auroc"]
    for i in range(6):
        keep = weights[i] > 0
        if classes == 2:
            expected = roc_auc_score(y[keep], probas[i][keep, 1], sample_weight=weights[i][keep])
        else:
            expected = roc_auc_score(y[keep], probas[i][keep], sample_weight=weights[i][keep], multi_class="ovr",
                                     average="weighted", labels=list(range(classes)))
        assert batch[i] == pytest.approx(expected, abs=1e-12)


def test_replicates_of_many_classes_are_scored_a_few_at_a_time():
    """AUROC sorts and weighs a dozen arrays the size of the replicates' scores: those of 30
    replicates of 400 rows and 40 classes are scored in parts, each as it scores alone."""
    import tracemalloc

    y, _, weights = _case(4, rows=400, classes=40, replicates=30)
    probas = np.random.default_rng(5).dirichlet(np.ones(40), size=(30, 400))  # 3.8 MB
    tracemalloc.start()
    try:
        batch = score_batch(y, probas, weights=weights)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * probas.nbytes
    alone = [score_batch(y, p, weights=w[None]) for p, w in zip(probas, weights)]
    for metric in METRICS:
        assert np.array_equal(batch[metric], np.concatenate([a[metric] for a in alone]), equal_nan=True), metric
