"""The data manifest of a table, as the main pipeline writes it, built batch by batch.

Fields: ``source_path``, ``row_count``, ``column_count``, ``columns``, ``data_hash``, ``dtypes``,
``null_counts``, ``unique_counts``.

``data_hash`` follows the main pipeline's convention: SHA-256 of the rows serialised as JSON
records (pandas ``to_json(orient="records")``) with the columns sorted by name, written
``sha256:<64 lowercase hex>``. Serialising batch by batch and joining the records gives the
same bytes as serialising the whole table, so the hash needs bounded memory.

Unique counts keep one 64-bit hash per distinct value and column (8 bytes per distinct value,
whatever the row count), so a million-row file is counted without holding its values.
"""

import hashlib

import numpy as np


class ManifestBuilder:
    """Accumulate a data manifest over pandas DataFrame batches with the same columns.

    Parameters
    ----------
    source_path : str
        Recorded as given.
    """

    def __init__(self, source_path):
        self.source_path = source_path
        self.columns = None
        self.dtypes = {}
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
            self.distinct = {c: np.empty(0, dtype=np.uint64) for c in self.columns}
        for name in self.columns:
            column = frame[name]
            if name not in self.dtypes or self.dtypes[name] == "object" and len(column.dropna()):
                self.dtypes[name] = str(column.dtype)
            self.nulls[name] += int(column.isna().sum())
            present = column.dropna()
            if len(present):
                hashed = pd.util.hash_pandas_object(present, index=False).to_numpy()
                self.distinct[name] = np.unique(np.concatenate([self.distinct[name], hashed]))
        if len(frame):
            text = frame[sorted(frame.columns, key=str)].to_json(orient="records")
            body = text[1:-1]  # the records between the array's brackets
            self._hash.update(body.encode("utf-8") if self._first else ("," + body).encode("utf-8"))
            self._first = False
        self.rows += len(frame)

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
            "unique_counts": {c: int(len(self.distinct[c])) for c in columns},
        }


def data_manifest(frame, source_path):
    """The data manifest of a whole pandas DataFrame."""
    builder = ManifestBuilder(source_path)
    builder.update(frame)
    return builder.result()

