"""Stratified quotas and samples: every class kept, proportions kept, deterministic, nested."""

import numpy as np
import pytest

from hokusai_preview.core.sampling import stratified_indices, stratified_quotas


def random_counts(rng):
    n_classes = int(rng.integers(1, 9))
    counts = rng.integers(0, 5000, n_classes)
    rare = rng.random(n_classes) < 0.4  # many tiny classes, the hard case
    counts[rare] = rng.integers(0, 4, int(rare.sum()))
    if counts.sum() == 0:
        counts[0] = 1
    return counts


def check_quotas(counts, size):
    quotas = stratified_quotas(counts, size)
    present = counts > 0
    assert quotas.sum() == min(max(size, int(present.sum())), counts.sum())
    assert (quotas <= counts).all()
    assert (quotas[present] >= 1).all(), "a class present in the data was lost"
    assert (quotas[~present] == 0).all()
    if max(size, present.sum()) >= counts.sum():
        assert (quotas == counts).all()
        return
    # A class whose proportional share is under one row gets one (which shrinks the others'
    # shares, so this repeats); the others share the rest in proportion to their sizes, each
    # within one row of its exact share.
    size = max(size, int(present.sum()))
    rare = np.zeros(len(counts), dtype=bool)
    while True:
        others = present & ~rare
        exact = counts[others] * ((size - rare.sum()) / counts[others].sum())
        if (exact >= 1).all():
            break
        rare[np.flatnonzero(others)[exact < 1]] = True
    assert (quotas[rare] == 1).all()
    assert (np.abs(quotas[others] - exact) < 1).all(), (counts, size, quotas, exact)


def test_quota_properties_on_many_random_cases():
    rng = np.random.default_rng(0)
    for _ in range(3000):
        counts = random_counts(rng)
        check_quotas(counts, int(rng.integers(1, max(2, int(counts.sum()) + 10))))


@pytest.mark.parametrize("counts, size, expected", [
    ([500, 300, 200], 100, [50, 30, 20]),  # exact proportions
    ([1000, 1, 1, 1, 1, 1], 6, [1, 1, 1, 1, 1, 1]),  # every class keeps its row
    ([9990, 10], 100, [99, 1]),  # a rare class is kept
    ([3, 0, 4], 100, [3, 0, 4]),  # smaller than the sample: everything
    ([10, 10, 10], 2, [1, 1, 1]),  # the size is raised to the number of classes
    ([49, 16, 27, 12], 4, [1, 1, 1, 1]),  # 49 * (1 / 49) is under 1 in floating point, but not rare
    ([14, 13, 12, 4, 18, 7, 10], 26, [5, 5, 4, 1, 6, 2, 3]),  # equal remainders: the lower class code
])
def test_quota_examples(counts, size, expected):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy warning is a line on the stage's stderr
        assert stratified_quotas(np.array(counts), size).tolist() == expected


def test_proportions_are_within_one_row_when_no_class_is_rare():
    counts = np.array([7043, 3211, 977, 45])
    size = 1000
    quotas = stratified_quotas(counts, size)
    assert np.abs(quotas - counts * size / counts.sum()).max() < 1


def test_sample_keeps_every_class_and_is_deterministic_for_a_seed():
    rng = np.random.default_rng(1)
    codes = rng.choice(4, size=50000, p=[0.9, 0.09, 0.0099, 0.0001])
    first = stratified_indices(codes, 300, seed=42)
    again = stratified_indices(codes, 300, seed=42)
    other = stratified_indices(codes, 300, seed=43)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert len(first) == 300 and len(np.unique(first)) == 300
    assert (np.diff(first) > 0).all()  # file order kept
    counts = np.bincount(codes, minlength=4)
    assert np.bincount(codes[first], minlength=4).tolist() == stratified_quotas(counts, 300).tolist()
    assert np.bincount(codes[first], minlength=4)[3] >= 1


def test_smaller_samples_nest_in_larger_ones():
    codes = np.random.default_rng(2).integers(0, 3, 20000)
    small = set(stratified_indices(codes, 500, seed=7).tolist())
    large = set(stratified_indices(codes, 2000, seed=7).tolist())
    assert small <= large


def test_data_smaller_than_the_sample_passes_whole():
    codes = np.array([0, 1, 1, 2, 0])
    assert stratified_indices(codes, 10, seed=0).tolist() == [0, 1, 2, 3, 4]


def test_a_sample_drawn_within_a_larger_one_is_the_smaller_sample_of_the_whole():
    # What hp-train's learning curve draws from hp-sample's sample: the sample of that size from
    # the whole table, as far as the larger sample holds it (here, wholly).
    rng = np.random.default_rng(3)
    codes = rng.choice(4, size=5000, p=[0.6, 0.3, 0.09, 0.01])
    larger = stratified_indices(codes, 1000, seed=7)
    for size in (500, 250, 1):
        within = stratified_indices(codes, size, seed=7, within=larger)
        assert np.array_equal(larger[within], stratified_indices(codes, size, seed=7))
    # Rows the larger sample lacks are not invented: a class it holds fewer of gives what it has.
    few = larger[codes[larger] != 0][:10]
    within = stratified_indices(codes, 500, seed=7, within=few)
    assert set(within) <= set(range(len(few)))
