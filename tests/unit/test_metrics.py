"""hokusai_preview.core.metrics must agree with scikit-learn to 1e-12."""

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from hokusai_preview.core.deltaone import METRICS
from hokusai_preview.core.metrics import (
    confusion_counts,
    score,
    score_batch,
)

TOL = 1e-12


def _proba(rng, n, n_classes, decimals=None):
    p = rng.dirichlet(np.ones(n_classes), size=n)
    return p if decimals is None else np.round(p, decimals)


def _reference(y, proba, w=None):
    """scikit-learn's value of every metric, NaN where undefined."""
    n_classes = proba.shape[1]
    pred = proba.argmax(axis=1)
    kw = dict(average="weighted", zero_division=0, sample_weight=w)
    ref = {
        "accuracy": accuracy_score(y, pred, sample_weight=w),
        "precision": precision_score(y, pred, **kw),
        "recall": recall_score(y, pred, **kw),
        "f1": f1_score(y, pred, **kw),
    }
    # Zero-weight rows change no metric; dropping them lets sklearn see which
    # classes a replicate really holds.
    keep = np.ones(len(y), bool) if w is None else w > 0
    y, proba, sw = y[keep], proba[keep], None if w is None else w[keep]
    present = np.unique(y)
    if len(present) < 2:
        ref["auroc"] = np.nan
    elif n_classes == 2:
        ref["auroc"] = roc_auc_score(y == 1, proba[:, 1], sample_weight=sw)
    else:
        aucs = [roc_auc_score(y == k, proba[:, k], sample_weight=sw) for k in present]
        prev = [np.sum(sw[y == k]) if sw is not None else np.sum(y == k) for k in present]
        ref["auroc"] = np.average(aucs, weights=prev)
    return ref


def _assert_matches(got, ref):
    assert set(got) <= set(METRICS)
    for name in METRICS:
        if np.isnan(ref[name]):
            assert name not in got or np.isnan(got[name]), name
        else:
            assert got[name] == pytest.approx(ref[name], abs=TOL, rel=0), name


@pytest.mark.parametrize("decimals", [None, 1])
def test_binary(decimals):
    rng = np.random.RandomState(0)
    y = rng.randint(0, 2, 300)
    proba = _proba(rng, 300, 2, decimals)
    _assert_matches(score(y, proba), _reference(y, proba))


@pytest.mark.parametrize("decimals", [None, 1])
def test_multiclass_all_present_matches_sklearn_ovr(decimals):
    rng = np.random.RandomState(1)
    y = rng.randint(0, 4, 400)
    proba = _proba(rng, 400, 4, decimals)
    got = score(y, proba)
    _assert_matches(got, _reference(y, proba))
    if decimals is None:  # sklearn's ovr call insists rows sum to 1
        direct = roc_auc_score(y, proba, multi_class="ovr", average="weighted", labels=range(4))
        assert got["auroc"] == pytest.approx(direct, abs=TOL, rel=0)


@pytest.mark.parametrize("decimals", [None, 1])
def test_multiclass_absent_class(decimals):
    rng = np.random.RandomState(2)
    y = rng.choice([0, 1, 3], 250)
    proba = _proba(rng, 250, 4, decimals)
    got = score(y, proba)
    assert "auroc" in got
    _assert_matches(got, _reference(y, proba))


def test_heavy_ties():
    rng = np.random.RandomState(3)
    y = rng.randint(0, 3, 500)
    proba = np.round(rng.rand(500, 3), 1)  # ~11 distinct values per column
    _assert_matches(score(y, proba), _reference(y, proba))


@pytest.mark.parametrize("n_classes", [2, 4])
def test_single_class_y_true(n_classes):
    rng = np.random.RandomState(4)
    y = np.full(50, n_classes - 1)
    proba = _proba(rng, 50, n_classes)
    got = score(y, proba)
    assert "auroc" not in got
    assert set(got) == set(METRICS) - {"auroc"}
    _assert_matches(got, _reference(y, proba))
    assert np.isnan(score_batch(y, proba)["auroc"]).all()


@pytest.mark.parametrize("n_classes,labels", [(2, [0, 1]), (4, [0, 1, 2, 3]), (4, [0, 2, 3])])
def test_weighted_bootstrap_replicates(n_classes, labels):
    rng = np.random.RandomState(5)
    n, n_rep = 120, 40
    y = rng.choice(labels, n)
    proba = _proba(rng, n, n_classes, decimals=1)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=n_rep).astype(float)
    # A replicate holding a single class: AUROC undefined.
    weights[0] = np.where(y == labels[0], weights[0] + 1, 0)
    batch = score_batch(y, np.broadcast_to(proba, (n_rep, n, n_classes)), weights)
    assert all(batch[m].shape == (n_rep,) for m in METRICS)
    assert np.isnan(batch["auroc"][0])
    for b in range(n_rep):
        got = {m: batch[m][b] for m in METRICS}
        _assert_matches(got, _reference(y, proba, weights[b]))


def test_non_integer_weights():
    rng = np.random.RandomState(6)
    y = rng.randint(0, 4, 200)
    proba = _proba(rng, 200, 4, decimals=1)
    w = rng.exponential(size=(3, 200))
    batch = score_batch(y, np.stack([proba] * 3), w)
    for b in range(3):
        _assert_matches({m: batch[m][b] for m in METRICS}, _reference(y, proba, w[b]))


def test_constant_predictions():
    rng = np.random.RandomState(7)
    y = rng.randint(0, 4, 100)
    proba = _proba(rng, 100, 4)
    proba[:, 2] += 2.0  # class 2 always predicted; the others never
    got = score(y, proba)
    _assert_matches(got, _reference(y, proba))
    assert got["precision"] == pytest.approx(np.mean(y == 2) ** 2, abs=TOL)

    flat = np.full((100, 4), 0.25)  # every row ties: predict class 0, AUROC 0.5
    got = score(y, flat)
    _assert_matches(got, _reference(y, flat))
    assert got["auroc"] == pytest.approx(0.5, abs=TOL)


def test_batch_equals_per_slice():
    rng = np.random.RandomState(8)
    y = rng.randint(0, 4, 150)
    stack = np.stack([_proba(rng, 150, 4, decimals=d) for d in (None, 1, 2, None, 1)])
    batch = score_batch(y, stack)
    for b in range(len(stack)):
        single = score(y, stack[b])
        for m in METRICS:
            assert batch[m][b] == pytest.approx(single[m], abs=TOL, rel=0)
    two_d = score_batch(y, stack[0])
    assert all(two_d[m].shape == (1,) and two_d[m].dtype == np.float64 for m in METRICS)


def test_confusion_counts():
    y = np.array([0, 1, 2, 2])
    pred = np.array([[0, 2, 2, 1], [0, 0, 0, 0]])
    w = np.array([[1.0, 2.0, 3.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    cm = confusion_counts(y, pred, 3, w)
    assert cm.shape == (2, 3, 3)
    assert cm[0].tolist() == [[1, 0, 0], [0, 0, 2], [0, 0, 3]]
    assert cm[1].tolist() == [[1, 0, 0], [1, 0, 0], [2, 0, 0]]


def test_rejects_bad_labels():
    with pytest.raises(ValueError):
        score(np.array([0, 1, 2]), np.full((3, 2), 0.5))
    with pytest.raises(ValueError):
        score_batch(np.array([0, 1]), np.full((2, 2), 0.5), weights=-np.ones((1, 2)))
