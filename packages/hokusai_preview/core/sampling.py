"""Stratified sampling by label that never loses a class and nests across sizes.

Each row gets a random priority from the seed; a sample of size ``m`` takes, in every class,
the rows of highest priority up to the class's quota. Quotas are proportional (largest
remainder, so each is within one row of its exact share), and every class present keeps at
least one row. Because priorities do not depend on ``m``, a smaller sample is (almost always)
a subset of a larger one with the same seed, which makes learning curves smooth.
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
    quotas : array of int, shape (n_classes,), summing to ``min(size, counts.sum())``.
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    present = counts > 0
    size = max(int(size), int(present.sum()))
    if size >= total:
        return counts.copy()
    exact = counts * (size / total)
    quotas = np.floor(exact).astype(np.int64)
    order = np.lexsort((np.arange(len(counts)), -(exact - quotas)))  # largest remainder first
    for index in order[: size - int(quotas.sum())]:
        quotas[index] += 1
    # Rare classes keep one row; the rows come from classes that were rounded up, then the largest.
    for index in np.flatnonzero(present & (quotas == 0)):
        surplus = (quotas - exact) + (quotas > 1) * 1e-9 * counts
        surplus[quotas <= 1] = -np.inf
        donor = int(np.argmax(surplus))
        quotas[donor] -= 1
        quotas[index] = 1
    return quotas


def stratified_indices(codes, size, seed):
    """Sorted row indices of a stratified sample.

    Parameters
    ----------
    codes : array of int, shape (n_rows,)
        Class code of each row.
    size : int
    seed : int

    Returns
    -------
    indices : array of int64, sorted ascending (the sample keeps the file's row order).
    """
    codes = np.asarray(codes, dtype=np.int64)
    n_classes = int(codes.max()) + 1 if len(codes) else 0
    quotas = stratified_quotas(np.bincount(codes, minlength=n_classes), size)
    priority = np.random.Generator(np.random.PCG64(seed)).permutation(len(codes))
    order = np.lexsort((priority, codes))  # by class, then by priority
    starts = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=n_classes))[:-1]])
    chosen = [order[start:start + quota] for start, quota in zip(starts, quotas)]
    return np.sort(np.concatenate(chosen)) if chosen else np.empty(0, dtype=np.int64)
