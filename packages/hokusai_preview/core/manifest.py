"""The data manifest of a table, as the main pipeline writes it, built batch by batch.

Fields: ``source_path``, ``row_count``, ``column_count``, ``columns``, ``data_hash``, ``dtypes``,
``null_counts``, ``unique_counts``.

``data_hash`` follows the main pipeline's convention: SHA-256 of the rows serialised as JSON
records (pandas ``to_json(orient="records")``) with the columns sorted by name, written
``sha256:<64 lowercase hex>``. Serialising batch by batch and joining the records gives the
same bytes as serialising the whole table (as long as every batch types a column the same
way, which the loader ensures), so the hash needs bounded memory.

Unique counts are exact up to :data:`MAX_EXACT_UNIQUE` distinct values per column (fewer when
the table is very wide, see :data:`UNIQUE_BUDGET`). Beyond that a column keeps only the ``k``
smallest 64-bit hashes of its values and its count is the k-minimum-values estimate
``(k - 1) * 2**64 / (k-th smallest hash)``, within about ``1/sqrt(k)`` (0.3%) of the truth;
:meth:`ManifestBuilder.estimated_columns` names those columns. Memory therefore stays bounded
whatever the number of rows.
"""

import hashlib

import numpy as np

MAX_EXACT_UNIQUE = 1 << 17
UNIQUE_BUDGET = 1 << 23  # hashes kept over all columns (8 bytes each: 64 MB at most)
MIN_EXACT_UNIQUE = 1024


class DistinctCounter:
    """Distinct values of one column: exact up to ``k`` of them, a k-minimum-values estimate above."""

    def __init__(self, k):
        self.k = int(k)
        self.kept = np.empty(0, dtype=np.uint64)  # sorted, distinct
        self.saturated = False

    def update(self, hashes):
        hashes = np.asarray(hashes, dtype=np.uint64)
        if self.saturated:
            hashes = hashes[hashes < self.kept[-1]]  # only smaller hashes can enter the k smallest
        if not len(hashes):
            return
        # Only the batch is sorted; its values new to `kept` are inserted in place (most batches
        # of a low-cardinality column bring none).
        fresh = np.unique(hashes)
        positions = np.searchsorted(self.kept, fresh)
        known = positions < len(self.kept)
        known[known] = self.kept[positions[known]] == fresh[known]
        if known.all():
            return
        merged = np.insert(self.kept, positions[~known], fresh[~known])
        if len(merged) > self.k:
            merged = merged[: self.k]
            self.saturated = True
        self.kept = merged

    @property
    def count(self):
        if not self.saturated:
            return int(len(self.kept))
        return int(round((self.k - 1) * 2.0 ** 64 / (float(self.kept[-1]) + 1.0)))


class ManifestBuilder:
    """Accumulate a data manifest over pandas DataFrame batches with the same columns.

    Parameters
    ----------
    source_path : str
        Recorded as given.
    """

    def __init__(self, source_path, unique_budget=UNIQUE_BUDGET, max_exact=MAX_EXACT_UNIQUE):
        self.source_path = source_path
        self.unique_budget = unique_budget
        self.max_exact = max_exact
        self.columns = None
        self.dtypes = {}
        self.typed = set()  # columns whose dtype came from a batch holding values
        self.rows = 0
        self.nulls = {}
        self.distinct = {}
        self._hash = hashlib.sha256(b"[")
        self._first = True

    def update(self, frame):
        """Add one batch (pandas DataFrame)."""
        import pandas as pd

        if self.columns is None:
            self.columns = [str(c) for c in frame.columns]
            self.nulls = {c: 0 for c in self.columns}
            k = max(MIN_EXACT_UNIQUE, min(self.max_exact, self.unique_budget // max(1, len(self.columns))))
            self.distinct = {c: DistinctCounter(k) for c in self.columns}
        for name in self.columns:
            column = frame[name]
            present = column.dropna()
            # The dtype pandas gives the column: that of the first batch with values in it.
            if name not in self.typed:
                self.dtypes[name] = str(column.dtype)
                if len(present):
                    self.typed.add(name)
            self.nulls[name] += len(column) - len(present)
            if len(present):
                self.distinct[name].update(pd.util.hash_pandas_object(present, index=False).to_numpy())
        if len(frame):
            text = frame[sorted(frame.columns, key=str)].to_json(orient="records")
            body = text[1:-1]  # the records between the array's brackets
            self._hash.update(body.encode("utf-8") if self._first else ("," + body).encode("utf-8"))
            self._first = False
        self.rows += len(frame)

    def estimated_columns(self):
        """Columns whose unique count is an estimate (more distinct values than kept exactly)."""
        return [c for c in self.columns or [] if self.distinct[c].saturated]

    def result(self):
        digest = self._hash.copy()
        digest.update(b"]")
        columns = self.columns or []
        return {
            "source_path": self.source_path,
            "row_count": self.rows,
            "column_count": len(columns),
            "columns": columns,
            "data_hash": "sha256:" + digest.hexdigest(),
            "dtypes": {c: self.dtypes.get(c, "object") for c in columns},
            "null_counts": {c: self.nulls[c] for c in columns},
            "unique_counts": {c: self.distinct[c].count for c in columns},
        }


def data_manifest(frame, source_path):
    """The data manifest of a whole pandas DataFrame."""
    builder = ManifestBuilder(source_path)
    builder.update(frame)
    return builder.result()
