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

:meth:`ManifestBuilder.update_arrow` adds an Arrow batch without converting it to pandas, for the
types a contribution is read as (int64, float64, bool, string): each value's JSON is pandas' own
encoding of it, asked once per distinct value of the batch (numbers and strings that need
escaping) or, for plain ASCII strings and integers, written by Arrow as pandas writes them; the
rows are joined by Arrow and hashed from its buffer. Other batches go through pandas.
"""

import functools
import hashlib
import json

import numpy as np

MAX_EXACT_UNIQUE = 1 << 17
UNIQUE_BUDGET = 1 << 23  # hashes kept over all columns (8 bytes each: 64 MB at most)
MIN_EXACT_UNIQUE = 1024
# update_arrow remembers the distinct values of a column (with their JSON) while it has at most
# this many, within this many bytes over all columns.
MAX_KNOWN_VALUES = 1 << 14
KNOWN_BYTES = 32 << 20


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
    max_exact : int, default MAX_EXACT_UNIQUE
        Distinct values counted exactly per column, at most; beyond, the count is estimated.
    """

    def __init__(self, source_path, max_exact=MAX_EXACT_UNIQUE):
        self.source_path = source_path
        self.max_exact = max_exact
        self.columns = None
        self.dtypes = {}
        self.typed = set()  # columns whose dtype came from a batch holding values
        self.rows = 0
        self.nulls = {}
        self.distinct = {}
        self._hash = hashlib.sha256(b"[")
        self._first = True
        self._known = {}  # update_arrow: column -> (distinct values seen, their JSON), or None
        self._known_bytes = 0

    def update(self, frame):
        """Add one batch (pandas DataFrame)."""
        import pandas as pd

        if self.columns is None:
            self._start(frame.columns)
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

    def _start(self, names):
        self.columns = [str(c) for c in names]
        self.nulls = {c: 0 for c in self.columns}
        k = max(MIN_EXACT_UNIQUE, min(self.max_exact, UNIQUE_BUDGET // max(1, len(self.columns))))
        self.distinct = {c: DistinctCounter(k) for c in self.columns}

    def update_arrow(self, batch):
        """Add one ``pyarrow.RecordBatch``: the same result as ``update(batch.to_pandas())``, faster."""
        if not _arrow_ready(batch):
            self.update(batch.to_pandas())
            return
        import pyarrow as pa
        import pyarrow.compute as pc

        if self.columns is None:
            self._start(batch.schema.names)
        fragments = {}
        for name, array in zip(batch.schema.names, batch.columns):
            if name not in self.typed:
                self.dtypes[name] = str(pa.table({name: array}).to_pandas()[name].dtype)
            floating = pa.types.is_floating(array.type)
            if floating:
                self.nulls[name] += pc.sum(pc.is_nan(array)).as_py() or 0  # NaN is missing to pandas
                # Distinct bit patterns, so 0.0 and -0.0 stay apart as pandas hashes them.
                encoded = array.view(pa.int64()).dictionary_encode()
            else:
                encoded = array.dictionary_encode()
            self.nulls[name] += array.null_count
            distinct = encoded.dictionary  # without nulls
            known = self._known.get(name, ())
            if known:
                position = pc.index_in(distinct, value_set=known[0])
                new = position.is_null()
                fresh = distinct.filter(new)
            else:
                fresh = distinct
            if floating:
                numbers = fresh.view(pa.float64()).to_numpy(zero_copy_only=False)
                fresh_json = _json_numbers(numbers)
                present = _pandas_values(pa.array(numbers[~np.isnan(numbers)], pa.float64()))
            else:
                fresh_json = _json_strings(fresh) if pa.types.is_string(array.type) else fresh.cast(pa.string())
                present = _pandas_values(fresh, as_objects=array.null_count and pa.types.is_boolean(array.type))
            if len(present):
                self.typed.add(name)
                self.distinct[name].update(_pandas_hashes(present))
            if known:
                values_json = pc.replace_with_mask(pc.take(known[1], position), new, fresh_json) \
                    if len(fresh) else pc.take(known[1], position)
            else:
                values_json = fresh_json
            self._remember(name, fresh, fresh_json)
            fragments[name] = _fill_null(pc.take(values_json, encoded.indices))
        if batch.num_rows:
            self._hash_rows(fragments)
        self.rows += batch.num_rows

    def _remember(self, name, values, values_json):
        """Keep a column's distinct values and their JSON for the next batches, within the budget:
        a value seen before needs neither hashing (it is counted) nor encoding."""
        import pyarrow as pa

        known = self._known.get(name, ())
        if known is None or not len(values):
            return
        if known:
            values, values_json = pa.concat_arrays([known[0], values]), pa.concat_arrays([known[1], values_json])
        size = values.nbytes + values_json.nbytes
        spent = self._known_bytes - (known[0].nbytes + known[1].nbytes if known else 0)
        if len(values) > MAX_KNOWN_VALUES or spent + size > KNOWN_BYTES:
            self._known[name] = None  # too many distinct values to be worth it: no longer kept
            self._known_bytes = spent
        else:
            self._known[name] = (values, values_json)
            self._known_bytes = spent + size

    def _hash_rows(self, fragments):
        """Join the columns' JSON into the records of ``to_json(orient="records")`` and hash them."""
        import pyarrow.compute as pc

        parts = []
        for i, name in enumerate(sorted(fragments, key=str)):
            # Each record starts with the comma that separates it from the one before.
            parts += [("," if i else ",{") + _json_key(name) + ":", fragments[name]]
        parts += ["}", ""]
        rows = pc.binary_join_element_wise(*parts)
        offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32)[rows.offset:rows.offset + len(rows) + 1]
        start = int(offsets[0]) + (1 if self._first else 0)  # no comma before the first record
        self._hash.update(memoryview(rows.buffers()[2])[start:int(offsets[-1])])
        self._first = False

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


def _arrow_ready(batch):
    """Whether :meth:`ManifestBuilder.update_arrow` can add ``batch`` without pandas."""
    import pyarrow as pa

    if batch.schema.metadata and b"pandas" in batch.schema.metadata:
        return False  # pandas would restore the types it wrote (categories, nullable integers...)
    for array in batch.columns:
        kind = array.type
        if pa.types.is_int64(kind):
            if array.null_count:
                return False  # pandas makes it float64
        elif not (pa.types.is_float64(kind) or pa.types.is_boolean(kind) or pa.types.is_string(kind)):
            return False
    return True


def _json_values(values):
    """pandas' JSON of a Series of values: the text of ``to_json(orient="values")``."""
    return values.to_json(orient="values")


@functools.lru_cache(maxsize=None)
def _escaped_ascii():
    """A regular-expression class of the ASCII characters pandas' JSON writer escapes, found by
    asking it (quote, backslash, slash and control characters in the pandas of this writing)."""
    import pandas as pd

    chars = [chr(code) for code in range(128)]
    encoded = _json_values(pd.Series(chars, dtype=object))[2:-2].split('","')
    return "[%s]" % "".join("\\x%02x" % ord(c) for c, e in zip(chars, encoded) if e != c)


def _json_strings(values):
    """The JSON of each of the distinct strings ``values`` (an Arrow array without nulls), as pandas writes it."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    quoted = pc.binary_join_element_wise('"', values, '"', "")
    escape = pc.or_(pc.invert(pc.string_is_ascii(values)), pc.match_substring_regex(values, _escaped_ascii()))
    if pc.any(escape).as_py():
        # Non-ASCII or escaped characters: pandas writes them, as one JSON list, cut into its items.
        text = _json_values(pd.Series(values.filter(escape).to_pylist(), dtype=object))
        encoded = []
        position = 1
        while position < len(text) and text[position] == '"':
            end = json.decoder.scanstring(text, position + 1)[1]
            encoded.append(text[position:end])
            position = end + 1  # past the comma (or the closing bracket)
        quoted = pc.replace_with_mask(quoted, escape, pa.array(encoded, pa.string()))
    return quoted


def _json_numbers(numbers):
    """The JSON of each float64 in ``numbers`` (numpy), as pandas writes it (NaN as null)."""
    import pandas as pd
    import pyarrow as pa

    if not len(numbers):
        return pa.array([], pa.string())
    return pa.array(_json_values(pd.Series(numbers, dtype="float64"))[1:-1].split(","), pa.string())


@functools.lru_cache(maxsize=None)
def _json_key(name):
    import pandas as pd

    return _json_values(pd.Series([str(name)], dtype=object))[1:-1]


def _pandas_values(array, as_objects=False):
    """``array`` as the Series pandas reads it as (bools as objects when the column has missing values)."""
    import pandas as pd
    import pyarrow as pa

    if as_objects:
        return pd.Series(array.to_pylist(), dtype=object)
    return pa.table({"v": array}).to_pandas()["v"]


def _pandas_hashes(series):
    import pandas as pd

    return pd.util.hash_pandas_object(series, index=False).to_numpy()


def _fill_null(array):
    import pyarrow.compute as pc

    return pc.fill_null(array, "null") if array.null_count else array


def data_manifest(frame, source_path):
    """The data manifest of a whole pandas DataFrame."""
    builder = ManifestBuilder(source_path)
    builder.update(frame)
    return builder.result()
