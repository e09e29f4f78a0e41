"""Stratified sampling by label that never loses a class and nests across sizes.

Each row gets a random priority from the seed; a sample of size ``m`` takes, in every class,
the rows of highest priority up to the class's quota. Every class present keeps at least one
row: a class whose proportional share is under one row gets exactly one, and the other classes
share the rest in proportion to their sizes (largest remainder, so each quota is within one
row of its exact share). Because priorities do not depend on ``m``, a smaller sample is
(almost always) a subset of a larger one with the same seed, which makes learning curves smooth.
"""

import numpy as np


def stratified_quotas(counts, size):
    """Rows to keep per class.

    Parameters
    ----------
    counts : array of int, shape (n_classes,)
        Rows available per class (zeros allowed).
    size : int
        Target sample size; raised to the number of non-empty classes if smaller.

    Returns
    -------
    quotas : array of int, shape (n_classes,), summing to ``min(size, counts.sum())`` with
    ``size`` so raised: 1 for a class whose share would be under one row, otherwise within one
    row of ``counts * (size - n_rare) / (rows of the other classes)``.
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    present = counts > 0
    size = max(int(size), int(present.sum()))
    if size >= total:
        return counts.copy()
    # In whole numbers, share = counts * left / pool exactly: no rounding error decides which class
    # is rare or which remainder is largest (ties go to the lower class code).
    rare = np.zeros(len(counts), dtype=bool)
    while True:  # fixing a rare class shrinks the others' shares, which may make more rare
        others = present & ~rare
        left, pool = size - int(rare.sum()), int(counts[others].sum())
        newly = others & (counts * left < pool)
        if not newly.any():
            break
        rare |= newly
    quotas = np.where(others, counts * left // max(pool, 1), 0)
    quotas[rare] = 1
    remainder = np.where(others, counts * left % max(pool, 1), -1)
    order = np.lexsort((np.arange(len(counts)), -remainder))  # largest remainder first
    for index in order[: size - int(quotas.sum())]:
        quotas[index] += 1
    return quotas


def stratified_indices(codes, size, seed, within=None):
    """Sorted row indices of a stratified sample.

    Parameters
    ----------
    codes : array of int, shape (n_rows,)
        Class code of each row.
    size : int
    seed : int
    within : array of int, optional
        Sorted rows the sample is drawn from, when not all: the quotas and priorities are still
        the whole table's, so the result is the sample of ``size`` from the whole table as far
        as ``within`` holds it (all of it when ``within`` is a larger sample of the same seed:
        a learning curve drawn so from hp-sample's sample reproduces hp-sample's smaller
        samples, whose forests a smaller run's checkpoints hold).

    Returns
    -------
    indices : array of int64, sorted ascending (the sample keeps the file's row order); with
    ``within``, indices into ``within``.
    """
    codes = np.asarray(codes, dtype=np.int64)
    n_classes = int(codes.max()) + 1 if len(codes) else 0
    quotas = stratified_quotas(np.bincount(codes, minlength=n_classes), size)
    priority = np.random.Generator(np.random.PCG64(seed)).permutation(len(codes))
    if within is not None:
        codes, priority = codes[within], priority[within]
    order = np.lexsort((priority, codes))  # by class, then by priority
    counts = np.bincount(codes, minlength=n_classes)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    chosen = [order[start:start + min(quota, count)] for start, quota, count in zip(starts, quotas, counts)]
    return np.sort(np.concatenate(chosen)) if chosen else np.empty(0, dtype=np.int64)
