"""Format detection, the streaming readers and the batch-by-batch data manifest."""

import gzip
import io
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from helpers import EXAMPLES
from hokusai_preview.core import dataio, manifest
from hokusai_preview.core.dataio import BatchReader, Restart, guess_delimiter
from hokusai_preview.core.errors import DataError
from hokusai_preview.core.manifest import DistinctCounter, ManifestBuilder, data_manifest


def read_all(reader):
    """Every batch of a reader as one pandas DataFrame, restarting as the loader does."""
    for _ in range(50):
        try:
            batches = list(reader.batches())
            return pa.Table.from_batches(batches).to_pandas(), batches
        except Restart:
            continue
    raise AssertionError("too many restarts")


@pytest.mark.parametrize("lines, expected", [
    (["a,b,c", "1,2,3"], ","),
    (["a;b;c", "1,5;2,5;3"], ";"),  # decimal commas do not fool it
    (["a\tb\tc", "1\t2\t3"], "\t"),
    (["a|b|c", "1|2|3"], "|"),
    (['"x, y";b', '"1, 2";3'], ";"),  # a quoted delimiter is not one
    (["single"], ","),
    ([], ","),
])
def test_guess_delimiter(lines, expected):
    assert guess_delimiter(lines) == expected


@pytest.mark.parametrize("content, name, expected", [
    (b"a,b\n1,2\n", "x.csv", ("csv", False)),
    (b'[{"a": 1}]', "x.csv", ("json", False)),
    (b'{"a": 1}\n{"a": 2}\n', "x", ("jsonl", False)),
    (b'{"a": 1}\n', "x.jsonl", ("jsonl", False)),
    (b'{"a": [1, 2]}', "x.json", ("json", False)),
    (b'"just text"', "x.json", ("json", False)),
    (gzip.compress(b"a,b\n1,2\n"), "x", ("csv", True)),
])
def test_describe_format_sniffs_the_content(content, name, expected, tmp_path):
    path = tmp_path / name
    path.write_bytes(content)
    assert dataio.describe_format(str(path))[:2] == expected


class Trickle(io.StringIO):
    """A text stream that returns a few characters per read, to split records across reads."""

    def read(self, size=-1):
        return super().read(5)


def test_json_array_items_are_parsed_across_reads():
    items = [{"a": i, "text": "x" * (i % 7), "nested": None} for i in range(40)]
    text = Trickle(json.dumps(items, indent=2)[1:])  # the '[' is read by the caller
    parsed = [value for _, value, _ in dataio._json_array(text, "t.json")]
    assert parsed == items


@pytest.mark.parametrize("body, fragment", [
    ('{"a": 1}, {"a": 2}', "unexpected end of file"),
    ('{"a": 1} {"a": 2}]', "expected ',' or ']'"),
    ('{"a": 1},]', "is not valid JSON"),
    ('{"a": 1}] trailing', "extra data after the array"),
])
def test_json_array_errors(body, fragment):
    with pytest.raises(DataError) as caught:
        list(dataio._json_array(Trickle(body), "t.json"))
    assert fragment in caught.value.line()


def test_json_records_in_small_batches_match_one_batch(tmp_path):
    """A field that appears late, a column that turns from int to float to text, NaN as missing:
    read two rows at a time (restarting as types widen), the table equals a one-batch read."""
    rows = [{"a": 1, "b": "x"}, {"a": 2, "b": None}, {"a": 3.5, "b": "y"}, {"a": 4, "b": "z", "late": True},
            {"a": "five", "b": float("nan")}, {"a": None, "b": "w"}]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    small, batches = read_all(BatchReader(str(path), batch_rows=2))
    whole, _ = read_all(BatchReader(str(path), batch_rows=1000))
    assert len(batches) == 3
    assert list(small.columns) == ["a", "b", "late"]
    pd.testing.assert_frame_equal(small, whole)
    assert [None if pd.isna(v) else v for v in small["a"]] == ["1", "2", "3.5", "4", "five", None]
    assert small["b"].isna().tolist() == [False, True, False, False, True, False]
    assert small["late"].tolist() == [None, None, None, True, None, None]


def test_json_column_object_forms_read_alike(tmp_path):
    df = pd.read_csv(EXAMPLES + "/hpc_jobs_1000.csv").head(30)
    lists, dicts = tmp_path / "lists.json", tmp_path / "dicts.json"
    lists.write_text(json.dumps({c: df[c].tolist() for c in df.columns}))
    dicts.write_text(df.to_json())  # pandas' default: {"col": {"0": v, ...}}
    a, _ = read_all(BatchReader(str(lists)))
    b, _ = read_all(BatchReader(str(dicts)))
    pd.testing.assert_frame_equal(a, b)
    assert a["compounds"].tolist() == df["compounds"].tolist()


def test_csv_dates_stay_text_and_types_widen_on_restart(tmp_path):
    path = tmp_path / "dates.csv"
    path.write_text("day,n\n" + "".join("2020-01-%02d,%d\n" % (i % 28 + 1, i) for i in range(3000)) + "x,1.5\n")
    frame, _ = read_all(BatchReader(str(path), block_bytes=4096))
    assert frame["day"].tolist()[:2] == ["2020-01-01", "2020-01-02"] and frame["day"].iloc[-1] == "x"
    assert frame["n"].dtype == np.float64 and frame["n"].iloc[-1] == 1.5


def test_parquet_batches_hold_about_the_target_bytes(tmp_path):
    import pyarrow.parquet as pq

    table = pa.table({"text": ["%06d" % i + "y" * 994 for i in range(20000)], "n": list(range(20000))})
    pq.write_table(table, tmp_path / "wide.parquet", row_group_size=5000)
    parquet = dataio.open_parquet(str(tmp_path / "wide.parquet"))
    batches = list(dataio.parquet_batches(parquet, target_bytes=1 << 20))
    assert sum(b.num_rows for b in batches) == 20000
    assert max(b.num_rows for b in batches) < 2000  # about 1 MB of 1 KB rows, not 65,536 rows


def test_parquet_pandas_index_is_not_a_column(tmp_path):
    import pyarrow.parquet as pq

    # A shuffled or filtered DataFrame saved with to_parquet() carries its row numbers as
    # __index_level_0__; pandas reads them back as the index, and so must the loader: they
    # are not a feature the contribution lacks, nor part of the data hash.
    df = pd.read_parquet(EXAMPLES + "/hpc_jobs_700.parquet").sample(frac=1, random_state=0)
    df.to_parquet(tmp_path / "indexed.parquet")
    df.reset_index(drop=True).to_parquet(tmp_path / "plain.parquet", index=False)
    df.set_index("protocol").to_parquet(tmp_path / "named.parquet")
    indexed, _ = read_all(BatchReader(str(tmp_path / "indexed.parquet")))
    plain, _ = read_all(BatchReader(str(tmp_path / "plain.parquet")))
    named, _ = read_all(BatchReader(str(tmp_path / "named.parquet")))
    assert "__index_level_0__" in pq.read_schema(tmp_path / "indexed.parquet").names
    pd.testing.assert_frame_equal(indexed, plain)
    assert data_manifest(indexed, "p")["data_hash"] == data_manifest(plain, "p")["data_hash"]
    assert sorted(named.columns) == sorted(plain.columns)  # a named index may be data: kept


# --- the manifest ----------------------------------------------------------------------------


def test_manifest_batch_by_batch_equals_the_whole_table():
    df = pd.read_csv(EXAMPLES + "/hpc_jobs_1000.csv")
    whole = data_manifest(df, "x.csv")
    for size in (1, 7, 333, 999):
        builder = ManifestBuilder("x.csv")
        for start in range(0, len(df), size):
            builder.update(df.iloc[start:start + size])
        assert builder.result() == whole, size


def test_manifest_matches_pandas_on_missing_values():
    df = pd.read_parquet(EXAMPLES + "/hpc_jobs_700.parquet")
    df.loc[::5, "hour"] = None
    df.loc[::7, "day"] = None
    m = data_manifest(df, "p")
    assert m["null_counts"] == {c: int(n) for c, n in df.isna().sum().items()}
    assert m["unique_counts"] == {c: int(n) for c, n in df.nunique().items()}
    assert m["dtypes"] == {c: str(t) for c, t in df.dtypes.items()}


def hashes(values):
    return pd.util.hash_pandas_object(pd.Series(values), index=False).to_numpy()


def test_distinct_counter_is_exact_up_to_k():
    counter = DistinctCounter(k=1000)
    rng = np.random.default_rng(0)
    values = rng.integers(0, 900, 20000)
    for chunk in np.array_split(values, 37):
        counter.update(hashes(chunk))
    assert not counter.saturated
    assert counter.count == len(np.unique(values))
    assert np.array_equal(counter.kept, np.unique(hashes(np.unique(values))))


def test_distinct_counter_estimates_beyond_k_in_bounded_memory():
    counter = DistinctCounter(k=4096)
    for start in range(0, 200000, 5000):
        counter.update(hashes(np.arange(start, start + 5000)))
        counter.update(hashes(np.arange(0, 1000)))  # repeats do not count twice
    assert counter.saturated and len(counter.kept) == 4096
    assert abs(counter.count - 200000) / 200000 < 0.05  # standard error 1/sqrt(4096) = 1.6%


def test_estimated_columns_are_named():
    builder = ManifestBuilder("x", max_exact=1024)
    builder.update(pd.DataFrame({"id": np.arange(5000), "flag": np.arange(5000) % 2}))
    assert builder.estimated_columns() == ["id"]
    result = builder.result()
    assert result["unique_counts"]["flag"] == 2
    assert abs(result["unique_counts"]["id"] - 5000) < 500


def test_a_row_longer_than_a_block_is_read_in_bigger_blocks(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("a,b\n1,short\n2," + "x" * 50000 + "\n3,short\n")
    reader = BatchReader(str(path), block_bytes=1024)
    frame, _ = read_all(reader)
    assert frame["b"].str.len().tolist() == [5, 50000, 5]
    assert reader.block_bytes == 65536  # grown fourfold until the row fit


def test_the_arrow_manifest_equals_the_pandas_one_on_awkward_values(monkeypatch):
    # Escapes, non-ASCII, NaN, -0.0, large and tiny floats, booleans with gaps; a budget of
    # remembered distinct values small enough that the "ids" column overflows it mid-way.
    monkeypatch.setattr(manifest, "MAX_KNOWN_VALUES", 1000)
    rng = np.random.default_rng(0)
    n = 3000
    text = np.array(['a"b', "back\\slash", "s/lash", "tab\there", "caf\u00e9", "\u65e5\u672c", "plain", "</x>", ""])
    columns = {
        "text": pa.array(text[rng.integers(0, len(text), n)].tolist(), pa.string()),
        "ids": pa.array(["id%d" % i for i in rng.integers(0, 2500, n)], pa.string()),
        "count": pa.array(rng.integers(-5, 5, n), pa.int64()),
        "value": pa.array(np.where(rng.random(n) < 0.1, np.nan, rng.choice([0.0, -0.0, 1e300, 1e-300, 0.1, 3.0], n))),
        "flag": pa.array([None if i % 11 == 0 else bool(i % 3) for i in range(n)], pa.bool_()),
        "sure": pa.array([bool(i % 2) for i in range(n)], pa.bool_()),
    }
    table = pa.table(columns)
    for size in (n, 97):
        arrow, frames = ManifestBuilder("x"), ManifestBuilder("x")
        for batch in table.to_batches(max_chunksize=size):
            arrow.update_arrow(batch)
            frames.update(batch.to_pandas())
        assert arrow.result() == frames.result(), size
    assert arrow.result() == data_manifest(table.to_pandas(), "x")


def test_json_column_object_rows_are_matched_by_key(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text('{"a": {"0": 1, "1": 2, "2": 3}, "b": {"1": 20, "0": 10, "2": 30}}')
    frame, _ = read_all(BatchReader(str(path)))
    assert frame["a"].tolist() == [1, 2, 3] and frame["b"].tolist() == [10, 20, 30]
    path.write_text('{"a": {"0": 1, "1": 2}, "b": {"0": 10, "5": 20}}')
    with pytest.raises(DataError, match="row keys differ"):
        read_all(BatchReader(str(path)))


@pytest.mark.parametrize("text", ['\n\n\n\n{"a": [1, 2,, 3]}', '\n\n\n[{"a": 1},\n{"a": }]'])
def test_json_error_lines_count_the_blank_lines_before_the_document(text, tmp_path):
    path = tmp_path / "blank.json"
    path.write_text(text)
    with pytest.raises(DataError, match="is not valid JSON at line 5"):
        read_all(BatchReader(str(path)))


@pytest.mark.parametrize("late, dtype", [("7", "float64"), ("2.5", "float64"), ("true", "object")])
def test_a_csv_column_empty_for_whole_blocks_takes_its_later_values_type(late, dtype, tmp_path):
    # Empty throughout the first blocks, pyarrow types the column null; its first value widened
    # it to text, so numbers were hashed as strings, unlike pandas reading the whole file.
    path = tmp_path / "late.csv"
    path.write_text("n,late\n" + "".join("%d,\n" % i for i in range(3000)) + "".join(
        "%d,%s\n" % (i, late) for i in range(3000, 3010)))
    frame, batches = read_all(BatchReader(str(path), block_bytes=4096))
    assert len(batches) > 2 and not any(pa.types.is_string(b.schema.field("late").type) for b in batches)
    whole = pd.read_csv(path)
    assert str(whole["late"].dtype) == dtype and str(frame["late"].dtype) == dtype
    assert data_manifest(frame, "late.csv") == data_manifest(whole, "late.csv")


def test_parquet_sink_writes_every_table_in_order_and_raises_a_failed_write(tmp_path):
    import pyarrow.parquet as pq

    from hokusai_preview.core.dataio import ParquetSink

    schema = pa.schema([("x", pa.int64()), ("y", pa.string())])
    parts = [pa.table({"x": list(range(i, i + 3)), "y": ["r%d" % i] * 3}, schema=schema) for i in range(0, 30, 3)]
    with ParquetSink(str(tmp_path / "ok.parquet"), schema) as sink:
        for part in parts:
            sink.write(part)
        sink.write(parts[0].to_batches()[0])  # a record batch too
    assert pq.read_table(str(tmp_path / "ok.parquet")).equals(pa.concat_tables(parts + parts[:1]))

    sink = ParquetSink(str(tmp_path / "bad.parquet"), schema)
    sink.write(pa.table({"other": [1]}))  # fails in the thread: raised by the next call
    with pytest.raises(ValueError, match="schema"):
        sink.write(parts[0])
    sink.close()


@pytest.mark.parametrize("late", ["0x1A", "0XFFFFFFFFFFFFFFFF", " 0x0 "])
def test_hex_text_in_an_integer_csv_column_stays_text_as_pandas_reads_it(late, tmp_path):
    """pyarrow alone reads "0x1A" as 26 (and 0xFFFFFFFFFFFFFFFF as -1), in any block."""
    rows = ["%d,%d,x%d" % (n, n % 3, n) for n in range(3000)]
    rows[2500] = "%s,1,y" % late
    path = tmp_path / "hex.csv"
    path.write_text("a,label,c\n" + "\n".join(rows) + "\n")
    frame, _ = read_all(BatchReader(str(path), block_bytes=4096))
    expected = pd.read_csv(str(path))
    assert frame["a"].tolist() == expected["a"].tolist()
    assert frame["a"][2500] == late and frame["label"].tolist() == expected["label"].tolist()


def test_integer_csv_columns_read_as_text_still_convert_like_pyarrow(tmp_path):
    """Once "0x" is in the file, integers are converted here: padded, missing and float values as before."""
    path = tmp_path / "ints.csv"
    rows = ["%d, %d ,%s,0x%d" % (n, n, "" if n == 3000 else n, n) for n in range(4000)]
    rows[3500] = "3500,2.5,7,z"
    path.write_text("a,b,c,d\n" + "\n".join(rows) + "\n")
    frame, batches = read_all(BatchReader(str(path), block_bytes=4096))
    types = {f.name: str(f.type) for f in batches[0].schema}
    assert types == {"a": "int64", "b": "double", "c": "int64", "d": "string"}
    assert frame["b"][3500] == 2.5 and frame["b"][1] == 1.0 and frame["a"][3999] == 3999


@pytest.mark.parametrize("value, key", [
    ({"data": [{"a": 1}, {"a": 2}]}, "data"),
    ({"results": [{"a": 1}], "count": 1, "next": None}, "results"),
    ({"a": [1, 2], "b": [3, 4]}, None),  # an object of columns
    ({"data": [{"a": 1}], "ids": [1]}, None),  # two arrays: columns of different lengths, said so
    ({"data": []}, None),
    ({"data": [{"a": 1}, 2]}, None),
    ([{"a": 1}], None),
])
def test_records_under_a_key_are_recognised(value, key):
    assert dataio._records_key(value) == key


def test_records_under_an_odd_key_are_named_with_the_jq_filter_that_unwraps_them(tmp_path):
    path = tmp_path / "api.json"
    path.write_text(json.dumps({"my rows": [{"a": 1}]}))
    with pytest.raises(DataError) as caught:
        read_all(BatchReader(str(path)))
    assert caught.value.message.endswith("holds its records under 'my rows'")
    assert caught.value.hint == "give the array itself (e.g. jq '.[\"my rows\"]')"
