"""Per-tree class probabilities in .npy files, written and averaged a few trees at a time.

hp-train stores the reference forest's per-tree probabilities on the benchmark, float64 (trees,
rows, classes), and the new forest's in its predictions.npz. With many classes they are large:
100 trees of 2,000 rows and 200 classes take 305 MB. hp-eval and hp-delta mostly need only
their mean over the trees (what the forest predicts), so :func:`read_mean` averages a stored
array from the file in parts and :func:`write_npy` writes one as its trees are computed:
neither holds the whole array, or a copy of it. numpy only is imported (hp-eval and hp-delta
never import pandas or scikit-learn).
"""

import numpy as np

CHUNK_BYTES = 16 << 20  # an array is read in parts of this size at most (of whole trees, one at least)


def write_npy(handle, shape, parts):
    """Write float64 array ``shape`` as .npy to the binary file ``handle``, its contents being the
    arrays ``parts`` yields, in order (each one or more slices along the first axis). The bytes
    are np.save's of the whole array; written through ``handle.write``, so that a full disk is
    an OSError with its errno (np.save into a file raises one without). Returns the number of
    first-axis slices written; ValueError if they are not ``shape[0]``.
    """
    shape = tuple(int(n) for n in shape)
    np.lib.format.write_array_header_1_0(handle, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float64)),
                                                  "fortran_order": False, "shape": shape})
    written = 0
    for part in parts:
        part = np.ascontiguousarray(part, dtype=np.float64).reshape((-1,) + shape[1:])
        handle.write(part.data)
        written += len(part)
    if written != shape[0]:
        raise ValueError("wrote %d of the %d slices of an array of shape %s" % (written, shape[0], shape))
    return written


def read_header(handle):
    """(shape, dtype) of the .npy array at the start of binary stream ``handle``, which is left
    at the array's data. ValueError for what is not an .npy file of a C-order array of numbers."""
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(handle)
    elif version == (2, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(handle)
    else:
        raise ValueError(".npy format version %d.%d is not read here" % version)
    if fortran_order or dtype.hasobject or not shape:
        raise ValueError("an .npy array of shape %s, dtype %s%s is no stored predictions" % (
            shape, dtype, ", Fortran order" if fortran_order else ""))
    return shape, dtype


def read_mean(handle):
    """(mean over the first axis, float64; the first axis's length) of the .npy array at the
    start of binary stream ``handle`` (a file, or a member of an .npz), or (the array, None) for
    an array of at most two dimensions (a mean stored as such).

    The mean of per-tree probabilities (t, n, C) is ``np.asarray(a, dtype=np.float64).mean(axis=0)``
    bit for bit: numpy adds the trees in order, element by element, then divides by ``t``, as this
    does reading :data:`CHUNK_BYTES` at a time. (numpy sums pairwise only where each tree is one
    value; such an array, and any of at most CHUNK_BYTES, is read whole and averaged by numpy.)
    EOFError for a file cut short.
    """
    shape, dtype = read_header(handle)
    count = int(np.prod(shape, dtype=np.int64))
    if len(shape) <= 2 or count * dtype.itemsize <= CHUNK_BYTES or count < 2 * shape[0]:
        array = _read(handle, dtype, shape)
        if len(shape) <= 2:
            return array, None
        return np.asarray(array, dtype=np.float64).mean(axis=0), shape[0]
    per_tree = shape[1:]
    step = max(1, CHUNK_BYTES // (count // shape[0] * dtype.itemsize))
    total = None
    for start in range(0, shape[0], step):
        block = _read(handle, dtype, (min(step, shape[0] - start),) + per_tree)
        for tree in block:
            if total is None:
                total = tree.astype(np.float64)  # a copy: the block is read-only
            else:
                total += tree
    return np.true_divide(total, shape[0], out=total), shape[0]


def _read(handle, dtype, shape):
    """The next array of ``shape`` and ``dtype`` from ``handle`` (read-only); EOFError if cut short."""
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    data = handle.read(size)
    if len(data) != size:
        raise EOFError("an .npy array ends after %d of its %d bytes" % (len(data), size))
    return np.frombuffer(data, dtype=dtype).reshape(shape)
