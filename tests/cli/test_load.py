"""hp-load on every supported format and variant, the data hash, and the validation section."""

import codecs
import gzip
import hashlib
import json
import os
import shutil

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import BIN, EXAMPLES, refused, run, validate

EXAMPLE = os.path.join(EXAMPLES, "hpc_jobs_1000.csv")
ROWS = 200


@pytest.fixture(scope="module")
def frame():
    """Real rows of the shipped example, with an extra text column full of CSV traps."""
    df = pd.read_csv(EXAMPLE).head(ROWS)
    notes = ['said "hi", then left', "two\nlines", "semi;colon|pipe\ttab", "", "plain"]
    df["note"] = [notes[i % len(notes)] or None for i in range(len(df))]
    return df


def main_pipeline_hash(df):
    """The main pipeline's data hash of a DataFrame."""
    text = df.sort_index().sort_index(axis=1).to_json(orient="records")
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def plain(series):
    """Values as a list, missing ones as None."""
    return [None if pd.isna(v) else v for v in series]


def gz(data):
    return gzip.compress(data, mtime=0)


def csv_bytes(df, sep=",", encoding="utf-8", newline="\n"):
    return df.to_csv(index=False, sep=sep, lineterminator=newline).encode(encoding)


def parquet_bytes(df):
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), sink)
    return sink.getvalue().to_pybytes()


def json_records(df):
    return df.to_json(orient="records").encode("utf-8")


def json_columns(df):
    return json.dumps({c: plain(df[c]) for c in df.columns}).encode("utf-8")


def jsonl(df):
    return df.to_json(orient="records", lines=True).encode("utf-8")


# name -> (file name, bytes from the frame, expected format, expected compressed)
VARIANTS = {
    "csv": ("data.csv", csv_bytes, "csv", False),
    "csv_gz": ("data.csv.gz", lambda d: gz(csv_bytes(d)), "csv", True),
    "tsv": ("data.tsv", lambda d: csv_bytes(d, "\t"), "csv", False),
    "tsv_gz": ("data.tsv.gz", lambda d: gz(csv_bytes(d, "\t")), "csv", True),
    "semicolon": ("data.csv", lambda d: csv_bytes(d, ";"), "csv", False),
    "pipe": ("data.txt", lambda d: csv_bytes(d, "|"), "csv", False),
    "crlf": ("data.csv", lambda d: csv_bytes(d, newline="\r\n"), "csv", False),
    "utf8_bom": ("data.csv", lambda d: codecs.BOM_UTF8 + csv_bytes(d), "csv", False),
    "utf8_bom_gz": ("data.csv.gz", lambda d: gz(codecs.BOM_UTF8 + csv_bytes(d)), "csv", True),
    "utf16_le_bom": ("data.csv", lambda d: csv_bytes(d, encoding="utf-16"), "csv", False),
    "utf16_be_bom": ("data.csv", lambda d: codecs.BOM_UTF16_BE + csv_bytes(d, encoding="utf-16-be"), "csv", False),
    "json_records": ("data.json", json_records, "json", False),
    "json_records_gz": ("data.json.gz", lambda d: gz(json_records(d)), "json", True),
    "json_columns": ("data.json", json_columns, "json", False),
    "json_columns_gz": ("data.json.gz", lambda d: gz(json_columns(d)), "json", True),
    "json_pandas_default": ("data.json", lambda d: d.to_json().encode("utf-8"), "json", False),
    "json_pandas_index": ("data.json", lambda d: d.to_json(orient="index").encode("utf-8"), "json", False),
    # Rows keyed by name rather than number, on either side: the label and features say which.
    "json_pandas_index_named": ("data.json", lambda d: named_rows(d).to_json(orient="index").encode("utf-8"),
                                "json", False),
    "json_pandas_default_named": ("data.json", lambda d: named_rows(d).to_json().encode("utf-8"), "json", False),
    "json_indented": ("data.json", lambda d: json.dumps(json.loads(json_records(d)), indent=2).encode(), "json",
                      False),
    "jsonl": ("data.jsonl", jsonl, "jsonl", False),
    "jsonl_gz": ("data.jsonl.gz", lambda d: gz(jsonl(d)), "jsonl", True),
    "ndjson": ("data.ndjson", jsonl, "jsonl", False),
    "parquet": ("data.parquet", parquet_bytes, "parquet", False),
    "parquet_gz": ("data.parquet.gz", lambda d: gz(parquet_bytes(d)), "parquet", True),
    "pq": ("data.pq", parquet_bytes, "parquet", False),
    # the name is missing or lies: the content decides
    "csv_no_extension": ("contribution", csv_bytes, "csv", False),
    "parquet_no_extension": ("contribution", parquet_bytes, "parquet", False),
    "jsonl_no_extension": ("contribution", jsonl, "jsonl", False),
    "gz_no_extension": ("contribution", lambda d: gz(csv_bytes(d)), "csv", True),
    "parquet_named_csv": ("data.csv", parquet_bytes, "parquet", False),
    "csv_named_parquet": ("data.parquet", csv_bytes, "csv", False),
    "jsonl_named_json": ("data.json", jsonl, "jsonl", False),
    "json_named_csv": ("data.csv", json_records, "json", False),
    "gzip_named_plain": ("data.csv", lambda d: gz(csv_bytes(d)), "csv", True),
    "plain_named_gz": ("data.csv.gz", csv_bytes, "csv", False),
}
MISLABELLED = {"parquet_named_csv", "csv_named_parquet", "json_named_csv", "plain_named_gz"}


def named_rows(frame):
    return frame.set_axis(["job-%d" % i for i in range(len(frame))], axis=0)


def write_variant(tmp_path, frame, variant):
    name, make, _, _ = VARIANTS[variant]
    path = tmp_path / name
    path.write_bytes(make(frame))
    return path


def load_ok(*argv, stdin=b""):
    result = run("hp-load", *argv, stdin=stdin)
    assert result.code == 0, result
    (record,) = result.records
    validate(record, "load")
    return record, result


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_format_and_variant_loads_the_same_rows(variant, frame, tmp_path, bundles):
    bundle, _ = bundles("hpc")
    path = write_variant(tmp_path, frame, variant)
    record, result = load_ok(path, "--baseline-model", bundle)
    contribution = record["contribution"]
    _, _, fmt, compressed = VARIANTS[variant]
    assert (contribution["format"], contribution["compressed"]) == (fmt, compressed)
    delimiter = {"tsv": "\t", "tsv_gz": "\t", "semicolon": ";", "pipe": "|"}.get(variant, ",")
    assert contribution["delimiter"] == (delimiter if fmt == "csv" else None)
    assert contribution["rows_used"] == ROWS
    manifest = contribution["data_manifest"]
    assert manifest["row_count"] == ROWS
    assert manifest["columns"] == list(frame.columns)
    assert manifest["null_counts"]["note"] == int(frame["note"].isna().sum())
    assert contribution["validation"]["extra_columns"] == ["note"]
    # The normalised table holds the same values whatever the format.
    table = pd.read_parquet(contribution["table_path"])
    assert table["label"].tolist() == frame["label"].tolist()
    assert table["hour"].tolist() == pytest.approx(frame["hour"].tolist())
    assert table["compounds"].tolist() == frame["compounds"].astype(float).tolist()
    assert table["protocol"].tolist() == frame["protocol"].tolist()
    assert plain(table["note"]) == plain(frame["note"])
    warned = [line for line in result.err_lines if ": warning: " in line]
    if variant in MISLABELLED:
        assert len(warned) == 1 and ("although the name says" in warned[0] or "not compressed" in warned[0])
    else:
        assert warned == []


def test_every_format_gives_the_same_data_hash(frame, tmp_path, bundles):
    """CSV, JSON, JSON Lines and Parquet of the same rows hash alike (the hash is of the rows)."""
    bundle, _ = bundles("hpc")
    hashes = {}
    for variant in ("csv", "tsv", "utf16_le_bom", "json_records", "json_columns", "jsonl", "parquet"):
        directory = tmp_path / variant
        directory.mkdir()
        record, _ = load_ok(write_variant(directory, frame, variant), "--baseline-model", bundle)
        hashes[variant] = record["contribution"]["data_manifest"]["data_hash"]
    assert len(set(hashes.values())) == 1, hashes
    assert hashes["csv"] == main_pipeline_hash(frame)


@pytest.mark.parametrize("variant", ["csv", "csv_gz", "parquet", "parquet_gz", "jsonl", "json_records"])
def test_dash_reads_stdin(variant, frame, tmp_path, bundles, cache_dir):
    bundle, _ = bundles("hpc")
    data = write_variant(tmp_path, frame, variant).read_bytes()
    record, result = load_ok("-", "--baseline-model", bundle, stdin=data)
    assert record["contribution"]["source_path"] == "<stdin>"
    assert record["contribution"]["rows_used"] == ROWS
    assert record["contribution"]["format"] == VARIANTS[variant][2]
    assert "<stdin>: %d rows" % ROWS in result.stderr
    assert not os.listdir(cache_dir / "tmp")  # the spooled copy is gone


def test_a_file_named_like_an_option_is_read_after_a_double_dash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-rows.csv").write_bytes(open(EXAMPLE, "rb").read())
    record, _ = load_ok("--", "-rows.csv")
    assert record["contribution"]["source_path"] == "-rows.csv"
    assert record["contribution"]["rows_used"] == 1000


def test_a_cached_load_names_the_file_as_this_run_typed_it(tmp_path, monkeypatch, cache_dir):
    """The same file named from another directory: the record and the summary say the path typed
    now, not the first run's spelling (which need not exist from here)."""
    (tmp_path / "sub").mkdir()
    data = tmp_path / "sub" / "mine.csv"
    data.write_bytes(open(EXAMPLE, "rb").read())
    for where, typed in ((tmp_path, "sub/mine.csv"), (tmp_path / "sub", "mine.csv"), (tmp_path, str(data))):
        monkeypatch.chdir(where)
        record, result = load_ok(typed)
        assert record["contribution"]["source_path"] == typed
        assert result.err_lines[-1].startswith("hp-load: %s: 1,000 rows (csv)" % typed)


def test_spellings_of_one_path_share_the_cache_entry(tmp_path, monkeypatch, cache_dir):
    """``./sub//mine.csv`` names what ``sub/mine.csv`` names: one entry, reported tidied."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "mine.csv").write_bytes(open(EXAMPLE, "rb").read())
    monkeypatch.chdir(tmp_path)
    first, _ = load_ok("sub/mine.csv")
    second, result = load_ok("./sub//mine.csv")
    assert second["contribution"]["source_path"] == "sub/mine.csv"
    assert (second["key"], second["cache"]["load"]) == (first["key"], "hit")
    assert result.err_lines[-1].startswith("hp-load: sub/mine.csv: 1,000 rows (csv)")


@pytest.mark.parametrize("stream, words", [
    (b"\n" * (200 << 10), "<stdin>: starts with 64 KB of nothing but blank space"),  # yes '' | hp-load -
    (gzip.compress(b"\0" * (8 << 20)), "<stdin>: is binary content, not a table"),  # /dev/zero | gzip
])
def test_an_endless_stream_of_nothing_is_refused_from_its_start(stream, words, cache_dir):
    """Refused on its first window, not copied into the cache until the disk is full."""
    result = run("hp-load", "-", stdin=stream)
    assert (result.code, result.stdout) == (3, "")
    assert len(result.err_lines) == 1 and result.err_lines[0].startswith("hp-load: error: " + words)
    assert not os.listdir(str(cache_dir / "tmp"))


@pytest.mark.parametrize("renamed, hint", [
    ("label,class", "has no label column 'label' (columns besides the baseline's features: 'class'); name the label "
                    "column with --label-column (e.g. --label-column class)"),
    ("protocol,proto", "lacks 1 of the baseline's feature columns: 'protocol'; rename the file's column 'proto' to "
                       "'protocol' if that is it, or add it (empty cells are allowed)"),
])
def test_a_renamed_column_is_pointed_at(renamed, hint, tmp_path):
    """The column a user renamed is the one the error names, not one hidden among 'and 2 more'."""
    old, new = renamed.split(",")
    lines = open(EXAMPLE).read().split("\n", 1)
    path = tmp_path / "renamed.csv"
    path.write_text(",".join(new if c == old else c for c in lines[0].split(",")) + "\n" + lines[1])
    assert refused(run("hp-load", str(path)), 3) == "hp-load: error: %s: %s" % (path, hint)


@pytest.mark.parametrize("header, hint", [
    # one column in capitals: no advice to add an empty column
    ("protocol,compounds,input_fields,iterations,num_pending,Hour,day,label",
     "lacks 1 of the baseline's feature columns as spelled ('hour'), which the file has when letter case and spaces "
     "are ignored; rename 'Hour' \u2192 'hour' (column names must match exactly)"),
    # one in capitals, one absent: rename the one, add the other
    ("protocol,compounds,input_fields,iterations,num_pending,HOUR,label",
     "lacks 2 of the baseline's feature columns: 'hour', 'day'; rename 'HOUR' \u2192 'hour' (column names must match "
     "exactly) and add the others (empty cells are allowed)"),
    # every name padded, the label too
    ("protocol ,compounds ,input_fields ,iterations ,num_pending ,hour ,day ,label ",
     "matches none of the baseline's 7 feature columns ('protocol', 'compounds', 'input_fields', 'iterations', "
     "'num_pending', 'hour', 'day') exactly, but all match when letter case and spaces are ignored; rename "
     "'protocol ' \u2192 'protocol', 'compounds ' \u2192 'compounds', 'input_fields ' \u2192 'input_fields' and 5 more "
     "(column names must match exactly)"),
])
def test_names_that_differ_only_in_case_or_spaces_are_refused_with_the_renames(header, hint, tmp_path):
    """The main pipeline matches names exactly: such a file is refused, with what to rename into what."""
    frame = pd.read_csv(EXAMPLE).head(20)
    names = header.split(",")
    frame = frame[[n.strip().lower() for n in names]]
    frame.columns = names
    path = tmp_path / "cased.csv"
    frame.to_csv(path, index=False)
    assert refused(run("hp-load", str(path)), 3) == "hp-load: error: %s: %s" % (path, hint)


def test_leading_spaces_in_names_are_blamed_on_the_delimiter_only_when_the_values_have_them_too(tmp_path):
    good = open(EXAMPLE).read().split("\n")[:20]
    spaced = tmp_path / "spaced.csv"
    spaced.write_text("\n".join(line.replace(",", ", ") for line in good) + "\n")
    names_only = tmp_path / "names_only.csv"
    names_only.write_text("\n".join([good[0].replace(",", ", ")] + good[1:]) + "\n")
    refused(run("hp-load", str(spaced)), 3, "separate the fields with the delimiter alone")
    line = refused(run("hp-load", str(names_only)), 3, "rename ' compounds' \u2192 'compounds'")
    assert "separate the fields" not in line


@pytest.mark.parametrize("value, hint", [
    ("\u2212500", "'\u2212' is the Unicode minus sign U+2212: use '-' (-500)"),
    ("35\u00a0000", "a non-breaking space (U+00A0) separates thousands: write numbers without thousands separators "
                    "(35000)"),
    ("35\u202f000", "a narrow non-breaking space (U+202F) separates thousands: write numbers without thousands "
                    "separators (35000)"),
    ("35 000", "a space separates thousands: write numbers without thousands separators (35000)"),
    ("1 234,5", "a space separates thousands: write numbers without thousands separators and with '.' as the decimal "
                "mark (1234.5)"),
    ("35'000", "an apostrophe separates thousands: write numbers without thousands separators (35000)"),
    ("$857.00", "strip the currency sign '$' (857.00)"),
    ("12 \u20ac", "strip the currency sign '\u20ac' (12)"),
    ("-\u00a31,234.50", "strip the currency sign '\u00a3' and write numbers without thousands separators (-1234.50)"),
    ("12.5%", "strip the '%' (12.5), and divide by 100 if the baseline's values are fractions"),
    ("\u221212.5%", "'\u2212' is the Unicode minus sign U+2212: use '-' and strip the '%' (-12.5), and divide by 100 "
                    "if the baseline's values are fractions"),
    ("1,111,500", "write numbers without thousands separators (1111500)"),
    ("-1,500", "write numbers without thousands separators (-1500), or with '.' as the decimal mark (-1.500) if the "
               "comma is one"),
    ("1,5", "use '.' as the decimal mark (1.5)"),
    ("many", ""), ("1_000", ""), ("$", ""), ("%", ""), ("-", ""), ("$abc", ""), ("0x1A", ""),
])
def test_a_number_cell_written_as_a_spreadsheet_shows_it_gets_a_tailored_hint(value, hint):
    from hokusai_preview.core.cells import _number_hint

    assert _number_hint(value) == hint


def test_a_number_with_a_currency_sign_is_refused_with_the_hint(tmp_path):
    """Refused, not read as a number: the main pipeline would not read it as one either."""
    frame = pd.read_csv(EXAMPLE).head(20)
    frame["hour"] = frame["hour"].astype(str)
    frame.loc[3, "hour"] = "$857.00"
    frame.to_csv(tmp_path / "dollars.csv", index=False)
    line = refused(run("hp-load", str(tmp_path / "dollars.csv")), 3)
    assert line.endswith("column 'hour' should hold numbers but has '$857.00' (data row 4); strip the "
                                        "currency sign '$' (857.00)")


def test_counts_in_the_summary_line_have_thousands_separators(tmp_path):
    frame = pd.read_csv(EXAMPLE)
    extra = frame.head(10).assign(label="XL")
    path = tmp_path / "big.csv"
    pd.concat([frame, frame.head(20), extra]).to_csv(path, index=False)
    _, result = load_ok(path)
    (summary,) = [line for line in result.err_lines if "warning" not in line]
    assert "1,030 rows (csv)" in summary and "the class counts are of the 1,020 kept" in summary, summary
    counts = frame.head(20)["label"].value_counts() + frame["label"].value_counts()
    assert "(%s)" % ", ".join("%s %s" % (k, "{:,}".format(int(n))) for k, n in sorted(counts.fillna(0).items())) \
        in summary


def test_hp_sample_counts_have_thousands_separators():
    loaded = run("hp-load", EXAMPLE)
    sampled = run("hp-sample", "--sample-size", "200", stdin=loaded.stdout)
    assert sampled.code == 0 and "hp-sample: sampled 200 of 1,000 rows, stratified by label" in sampled.stderr


def test_missing_values_are_counted_on_the_rows_kept(tmp_path):
    """Rows dropped for an unknown label are not the data: missing_by_feature counted them while
    rows_with_missing_features did not, so the two disagreed."""
    frame = pd.read_csv(EXAMPLE).head(ROWS)
    frame.loc[:9, "label"] = "XL"  # dropped, unknown to the baseline
    frame.loc[:14, "hour"] = None  # 10 of them dropped, 5 kept
    frame.to_csv(str(tmp_path / "gaps.csv"), index=False)
    record, _ = load_ok(tmp_path / "gaps.csv")
    validation = record["contribution"]["validation"]
    assert validation["rows_dropped"] == 10
    assert validation["missing_by_feature"]["hour"] == validation["rows_with_missing_features"] == 5


def test_an_empty_path_is_named_as_such():
    result = run("hp-load", "")
    assert result.code == 3 and result.stdout == ""
    assert result.err_lines == ["hp-load: error: the data path is empty; name the data file (or - to read stdin)"]


def test_integers_beyond_float_precision_load_as_the_nearest_float(tmp_path):
    import numpy as np

    table = pa.Table.from_pandas(pd.read_csv(EXAMPLE).head(ROWS), preserve_index=False)
    column = table.schema.get_field_index("compounds")
    huge = np.full(ROWS, 7, dtype=np.uint64)
    huge[0] = 2 ** 64 - 1
    pq.write_table(table.set_column(column, "compounds", pa.array(huge)), str(tmp_path / "u64.parquet"))
    record, _ = load_ok(tmp_path / "u64.parquet")
    loaded = pd.read_parquet(record["contribution"]["table_path"])["compounds"]
    assert loaded.iloc[0] == float(2 ** 64) and (loaded.iloc[1:] == 7.0).all()


def test_a_pipe_is_read_like_a_file(frame, tmp_path, bundles):
    """A named pipe (what bash's <(zcat x.gz) gives) can be read once: it is copied first."""
    import threading

    bundle, _ = bundles("hpc")
    fifo = tmp_path / "pipe"
    os.mkfifo(str(fifo))
    data = csv_bytes(frame)

    def feed():
        with open(str(fifo), "wb") as handle:
            handle.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    record, _ = load_ok(fifo, "--baseline-model", bundle)
    writer.join()
    assert record["contribution"]["rows_used"] == ROWS


def test_the_data_hash_is_the_main_pipelines(bundles):
    """sha256 of pandas.read_csv(file).sort_index().sort_index(axis=1).to_json(orient="records")."""
    bundle, _ = bundles("hpc")
    record, _ = load_ok(EXAMPLE, "--baseline-model", bundle)
    manifest = record["contribution"]["data_manifest"]
    df = pd.read_csv(EXAMPLE)
    assert manifest["data_hash"] == main_pipeline_hash(df)
    assert manifest["data_hash"] == "sha256:69ab86a2c53fce46884ee2c9b9f041dadbde431e0c8d95a30d05c0b79335feff"
    assert manifest["row_count"] == len(df) and manifest["column_count"] == len(df.columns)
    assert manifest["columns"] == list(df.columns)
    assert manifest["null_counts"] == {c: int(n) for c, n in df.isna().sum().items()}
    assert manifest["unique_counts"] == {c: int(n) for c, n in df.nunique().items()}
    assert manifest["dtypes"] == {c: str(t) for c, t in df.dtypes.items()}


def test_unnamed_csv_columns_are_named_and_hashed_as_pandas_names_them(tmp_path, bundles):
    """DataFrame.to_csv writes its index under an empty header cell: pandas reads it as "Unnamed: 0"."""
    bundle, rest = bundles("hpc")
    path = tmp_path / "with_index.csv"
    # the index first, another unnamed column last, and a name across two lines between
    rest.head(40).assign(**{"two\nlines": "x", "": 1}).to_csv(path)
    record, _ = load_ok(path, "--baseline-model", bundle)
    df = pd.read_csv(path)
    manifest = record["contribution"]["data_manifest"]
    last = "Unnamed: %d" % (len(rest.columns) + 2)
    assert manifest["columns"] == list(df.columns) == ["Unnamed: 0"] + list(rest.columns) + ["two\nlines", last]
    assert manifest["row_count"] == 40 and manifest["data_hash"] == main_pipeline_hash(df)
    assert record["contribution"]["validation"]["extra_columns"] == ["Unnamed: 0", "two\nlines", last]


def test_a_csv_saved_twice_by_pandas_is_read_as_pandas_reads_it(tmp_path, bundles):
    """df.to_csv(a); pd.read_csv(a).to_csv(b): the header is ",Unnamed: 0,...", and pandas names the
    empty cell "Unnamed: 0.1" so as not to clash with the real "Unnamed: 0"."""
    bundle, rest = bundles("hpc")
    once, twice = tmp_path / "once.csv", tmp_path / "twice.csv"
    rest.head(40).to_csv(once)
    pd.read_csv(once).to_csv(twice)
    assert twice.read_text().startswith(",Unnamed: 0,")
    record, _ = load_ok(twice, "--baseline-model", bundle)
    df = pd.read_csv(twice)
    manifest = record["contribution"]["data_manifest"]
    assert manifest["columns"] == list(df.columns) == ["Unnamed: 0.1", "Unnamed: 0"] + list(rest.columns)
    assert manifest["data_hash"] == main_pipeline_hash(df)
    assert record["contribution"]["validation"]["extra_columns"] == ["Unnamed: 0.1", "Unnamed: 0"]


@pytest.mark.parametrize("header, expected", [
    (["", "Unnamed: 0", "a"], ["Unnamed: 0.1", "Unnamed: 0", "a"]),
    (["Unnamed: 1", "", "a"], ["Unnamed: 1", "Unnamed: 1.1", "a"]),
    (["", "Unnamed: 0", "Unnamed: 0.1", "a"], ["Unnamed: 0.2", "Unnamed: 0", "Unnamed: 0.1", "a"]),
    (["", "a", ""], ["Unnamed: 0", "a", "Unnamed: 2"]),
])
def test_empty_header_cells_are_named_as_pandas_names_them(header, expected):
    import io

    from hokusai_preview.core.dataio import unnamed_columns

    assert unnamed_columns(header) == expected
    assert list(pd.read_csv(io.StringIO(",".join(header) + "\n" + ",".join("1" * len(header)) + "\n")).columns) \
        == expected


def test_real_duplicate_names_beside_an_empty_header_cell_are_still_refused(tmp_path, bundles):
    bundle, rest = bundles("hpc")
    path = tmp_path / "dup.csv"
    rest.head(10).assign(hour2=1).rename(columns={"hour2": "hour"}).to_csv(path)
    refused(run("hp-load", path, "--baseline-model", bundle), 3,
            "has two columns named 'hour'; give every column a unique name")


def test_hash_in_small_batches_equals_pandas_reading_the_whole_file(tmp_path, bundles):
    """Many small CSV blocks, an integer column whose first missing value comes late, a column
    empty at first, a float column that starts with integers: every batch is typed as pandas
    types the whole file, so the hash is the main pipeline's."""
    from hokusai_preview.core.bundle import Bundle
    from hokusai_preview.core.dataio import BatchReader, Restart
    from hokusai_preview.stages.load import ContributionLoader

    bundle_dir, rest = bundles("hpc")
    df = rest.head(600).copy()
    # Written as text, so that the early rows really read as integers (pandas would write 1.0).
    df["late_missing"] = [str(i) for i in range(len(df))]
    df.loc[550, "late_missing"] = ""
    df["late_values"] = ""
    df.loc[590, "late_values"] = "x"
    df["late_float"] = ["1"] * 500 + ["1.5"] * 100
    path = tmp_path / "late.csv"
    df.to_csv(path, index=False)
    reader = BatchReader(str(path), block_bytes=2048)
    restarts = 0
    while True:
        try:
            contribution = ContributionLoader(Bundle.open(bundle_dir), "late.csv").run(
                reader, str(tmp_path / "out.parquet"))
            break
        except Restart:
            restarts += 1
    assert restarts == 3  # the missing integer, the late text and the late float each widened a type
    manifest = contribution["data_manifest"]
    whole = pd.read_csv(path)
    assert manifest["data_hash"] == main_pipeline_hash(whole)
    assert manifest["dtypes"]["late_missing"] == "float64"
    assert manifest["null_counts"] == {c: int(n) for c, n in whole.isna().sum().items()}
    assert manifest["unique_counts"] == {c: int(n) for c, n in whole.nunique().items()}


def test_a_column_empty_for_whole_blocks_then_numeric_is_hashed_as_pandas_reads_it(tmp_path, bundles):
    """pyarrow types a column empty throughout its first blocks as null; its first number made it
    text, so the column was recorded as str and the hash was not the main pipeline's."""
    from hokusai_preview.core.bundle import Bundle
    from hokusai_preview.core.dataio import BatchReader, read_with_restarts
    from hokusai_preview.stages.load import ContributionLoader

    bundle_dir, rest = bundles("hpc")
    df = rest.head(600).copy()
    df["late_number"] = ""
    df.loc[580:, "late_number"] = [str(i) for i in range(20)]
    path = tmp_path / "late_number.csv"
    df.to_csv(path, index=False)
    reader = BatchReader(str(path), block_bytes=2048)
    contribution = read_with_restarts(lambda: ContributionLoader(Bundle.open(bundle_dir), "late.csv").run(
        reader, str(tmp_path / "out.parquet")), "late.csv")
    manifest = contribution["data_manifest"]
    whole = pd.read_csv(path)
    assert manifest["dtypes"]["late_number"] == str(whole["late_number"].dtype) == "float64"
    assert manifest["data_hash"] == main_pipeline_hash(whole)


def test_validation_section_and_stderr_summary(tmp_path, bundles):
    """Unseen labels dropped and counted, missing feature values counted, extra and id columns
    reported, the counts in the record and a short summary on stderr."""
    bundle, rest = bundles("hpc")
    df = rest.head(100).copy()
    df.insert(0, "query_id", range(len(df)))
    df["notes"] = "x"
    df.loc[[3, 7], "label"] = "XL"
    df.loc[9, "label"] = "f"
    df.loc[[10, 11], "hour"] = None
    df.loc[11, "day"] = None
    df.loc[12, "protocol"] = None
    path = tmp_path / "mixed.csv"
    df.to_csv(path, index=False)
    record, result = load_ok(path, "--baseline-model", bundle)
    v = record["contribution"]["validation"]
    assert v["rows_read"] == 100 and record["contribution"]["rows_used"] == 97
    assert v["unseen_labels"] == {"XL": 2, "f": 1} and v["rows_dropped"] == 3
    assert v["unseen_label_action"] == "dropped"
    assert v["rows_with_missing_features"] == 3
    assert v["missing_by_feature"]["hour"] == 2 and v["missing_by_feature"]["day"] == 1
    assert v["extra_columns"] == ["query_id", "notes"] and v["id_columns"] == ["query_id"]
    expected = df[~df["label"].isin(["XL", "f"])]["label"].value_counts().to_dict()
    assert v["class_counts"] == expected
    table = pd.read_parquet(record["contribution"]["table_path"])
    assert len(table) == 97 and set(table["label"]) == set(expected)
    summary = [line for line in result.err_lines if "warning" not in line]
    assert summary == ["hp-load: %s: 100 rows (csv), 7 features, %d classes (%s); 3 rows with unknown labels "
                       "dropped (the class counts are of the 97 kept); 3 rows with missing feature values "
                       "(imputed); 2 extra columns ignored" % (
                           path, len(expected), ", ".join("%s %d" % kv for kv in sorted(expected.items())))]
    (warning,) = [line for line in result.err_lines if "warning" in line]
    assert "dropped 3 rows" in warning and "'f': 1 - did you mean 'F'?" in warning and "'XL': 2" in warning


def test_labels_are_compared_as_trimmed_strings(tmp_path, bundles):
    bundle, rest = bundles("hpc")
    df = rest.head(50).copy()
    df["label"] = " " + df["label"] + " "
    path = tmp_path / "spaces.csv"
    df.to_csv(path, index=False)
    record, _ = load_ok(path, "--baseline-model", bundle)
    assert record["contribution"]["validation"]["rows_dropped"] == 0
    assert set(pd.read_parquet(record["contribution"]["table_path"])["label"]) <= {"F", "L", "M", "VF"}


def test_number_like_labels_are_one_class_however_the_file_types_them(tmp_path, bundles):
    """A CSV reader types 1, 01 and 1.0 as numbers, JSON keeps "01" and "1.0" as text, and one
    odd value turns a CSV column to text: all of them are the class "1"."""
    _, rest = bundles("hpc")
    codes = {"F": 1, "L": 2, "M": 3, "VF": 4}
    numbered = rest.assign(label=rest["label"].map(codes))
    base, bench, df = numbered.iloc[:400], numbered.iloc[400:1000], numbered.iloc[1000:1100].reset_index(drop=True)
    base.to_csv(tmp_path / "base.csv", index=False)
    bench.to_csv(tmp_path / "bench.csv", index=False)
    built = run("hp-baseline", "--train-data", tmp_path / "base.csv", "--benchmark-data", tmp_path / "bench.csv",
                "--output", tmp_path / "numbered")
    assert built.code == 0, built
    odd = df.assign(label=df["label"].astype(float).astype(str))
    odd.loc[0, "label"] = "unknown"
    variants = {"ints.csv": csv_bytes(df), "floats_and_text.csv": csv_bytes(odd),
                "padded.json": json_records(df.assign(label=df["label"].map("{:02d}".format))),
                "text_floats.jsonl": df.assign(label=df["label"].map("{:.1f} ".format)).to_json(
                    orient="records", lines=True).encode(),
                "floats.parquet": parquet_bytes(df.assign(label=df["label"].astype(float)))}
    expected = {str(k): int(v) for k, v in df["label"].value_counts().items()}
    for name, data in variants.items():
        (tmp_path / name).write_bytes(data)
        record, _ = load_ok(tmp_path / name, "--baseline-model", tmp_path / "numbered")
        validation = record["contribution"]["validation"]
        dropped = 1 if name == "floats_and_text.csv" else 0
        assert validation["rows_dropped"] == dropped, name
        counts = dict(validation["class_counts"])
        if dropped:
            counts[str(df["label"][0])] += 1
        assert counts == expected, name


def test_label_column_option_reads_another_column(tmp_path, bundles):
    bundle, rest = bundles("hpc")
    df = rest.head(80).rename(columns={"label": "job_class"})
    df["label"] = "not the label"
    path = tmp_path / "renamed.csv"
    df.to_csv(path, index=False)
    record, _ = load_ok(path, "--baseline-model", bundle, "--label-column", "job_class")
    assert record["contribution"]["validation"]["label_column"] == "job_class"
    table = pd.read_parquet(record["contribution"]["table_path"])
    assert table["label"].tolist() == rest.head(80)["label"].tolist()


def test_a_cached_load_still_prints_its_warnings(tmp_path, bundles):
    bundle, rest = bundles("hpc")
    df = rest.head(60).copy()
    df.loc[0, "label"] = "XL"
    path = tmp_path / "unseen.csv"
    df.to_csv(path, index=False)
    first = run("hp-load", path, "--baseline-model", bundle)
    second = run("hp-load", path, "--baseline-model", bundle)
    assert first.code == second.code == 0
    assert "reused cached load result" in second.stderr
    assert [line for line in first.err_lines if "warning" in line] == \
        [line for line in second.err_lines if "warning" in line] != []


def test_parquet_column_types_pandas_writes(tmp_path, bundles):
    """Categories (dictionary), large strings, nullable integers, booleans, dates and decimals."""
    import datetime
    import decimal

    bundle, rest = bundles("hpc")
    df = rest.head(60).copy()
    df["protocol"] = df["protocol"].astype("category")
    df["num_pending"] = df["num_pending"].astype("Int64")
    df.loc[3, "num_pending"] = None
    table = pa.Table.from_pandas(df, preserve_index=False)
    table = table.append_column("flag", pa.array([i % 2 == 0 for i in range(60)]))
    table = table.append_column("when", pa.array([datetime.date(2024, 1, 1 + i % 28) for i in range(60)]))
    table = table.append_column("price", pa.array([decimal.Decimal("1.25")] * 60, pa.decimal128(5, 2)))
    table = table.append_column("big_text", pa.array(["t%d" % i for i in range(60)], pa.large_string()))
    path = tmp_path / "typed.parquet"
    pq.write_table(table, path)
    record, _ = load_ok(path, "--baseline-model", bundle)
    contribution = record["contribution"]
    assert contribution["rows_used"] == 60
    assert contribution["validation"]["missing_by_feature"]["num_pending"] == 1
    out = pd.read_parquet(contribution["table_path"])
    assert plain(out["protocol"]) == plain(df["protocol"].astype(str))
    assert out["when"][0] == "2024-01-01" and out["flag"][0] == "true" and out["big_text"][1] == "t1"


@pytest.mark.parametrize("name, content, fmt", [
    ("data.txt", b'{"protocol": "L", "compounds": 1, "input_fields": 2, "iterations": 3, "num_pending": 0, '
                 b'"hour": 1.5, "day": "Mon", "label": "F"}\n', "jsonl"),
    ("data.json", EXAMPLE, "csv"),
])
def test_format_option_overrides_detection(name, content, fmt, tmp_path, bundles):
    bundle, _ = bundles("hpc")
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else open(content, "rb").read())
    record, _ = load_ok(path, "--baseline-model", bundle, "--format", fmt)
    assert record["contribution"]["format"] == fmt


def test_format_tsv_reads_tab_delimited_text_whatever_a_sniffer_would_guess(frame, tmp_path, bundles):
    bundle, _ = bundles("hpc")
    path = tmp_path / "export"
    # commas in every row's note would make a sniffer's first guess the comma
    path.write_bytes(csv_bytes(frame.assign(note="a, b, c, d"), "\t"))
    record, result = load_ok(path, "--baseline-model", bundle, "--format", "tsv")
    contribution = record["contribution"]
    assert (contribution["format"], contribution["delimiter"], contribution["rows_used"]) == ("csv", "\t", ROWS)
    assert result.err_lines[0].startswith("hp-load: %s: %d rows (csv, tab-delimited), 7 features" % (path, ROWS))
    assert pd.read_parquet(contribution["table_path"])["note"].tolist() == ["a, b, c, d"] * ROWS


@pytest.mark.parametrize("name, rows, fragment", [
    ("late.csv", 2500, "is not UTF-8 text (in column 'day')"),
    ("late_block.csv", 30000, "is not UTF-8 text (in column 'day')"),  # after the first 1 MB block
    ("late.jsonl", 2500, "is not UTF-8 text (byte 0xe9 on line 2501)"),
])
def test_text_that_turns_non_utf8_after_the_first_64_kb_is_refused(name, rows, fragment, tmp_path, bundles,
                                                                   cache_dir):
    bundle, rest = bundles("hpc")
    df = pd.concat([rest] * 15).head(rows)
    body = df.to_csv(index=False) if name.endswith(".csv") else df.to_json(orient="records", lines=True)
    assert len(body) > 70000  # beyond the part read to detect the format and encoding
    latin = ("L,1,2,3,0,1.5,Mi\u00e9,F" if name.endswith(".csv") else '{"day": "Mi\u00e9"}').encode("latin-1")
    path = tmp_path / name
    path.write_bytes(body.encode("utf-8") + (b"\n" if not body.endswith("\n") else b"") + latin + b"\n")
    result = run("hp-load", path, "--baseline-model", bundle)
    assert result.code == 3 and result.stdout == ""
    assert len(result.err_lines) == 1 and fragment in result.stderr, result
    assert [f for _, _, files in os.walk(cache_dir / "load") for f in files] == []


def test_a_ragged_row_that_is_not_utf8_still_gives_one_line(tmp_path, bundles):
    """pyarrow cannot hand such a row to Python; the message must still be the only line."""
    import subprocess


    bundle, rest = bundles("hpc")
    path = tmp_path / "ragged_latin.csv"
    path.write_bytes(pd.concat([rest] * 15).to_csv(index=False).encode() + "Mi\u00e9,F\n".encode("latin-1"))
    done = subprocess.run([os.path.join(BIN, "hp-load"), str(path), "--baseline-model", bundle],
                          capture_output=True, text=True, env=dict(os.environ))
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert "has a row with 2 fields where the header has 8" in done.stderr


def test_a_label_column_that_is_a_feature_is_refused(cache_dir):
    result = run("hp-load", "--label-column", "protocol", EXAMPLES + "/hpc_jobs_1000.csv")
    assert result.code == 3 and result.stdout == ""
    assert result.err_lines == ["hp-load: error: %s/hpc_jobs_1000.csv: --label-column 'protocol' is one of the "
                                "baseline's feature columns; name the column that holds the labels (the baseline's "
                                "is 'label')" % EXAMPLES]
    assert not list(cache_dir.glob("load/*/*"))


@pytest.mark.parametrize("command", ["hp-load", "hokusai-preview"])
def test_dash_with_a_terminal_on_stdin_is_refused_not_waited_on(command, tmp_path):
    # Nobody types a table: waiting for one would look like a hang.
    import pty
    import subprocess

    leader, follower = pty.openpty()
    try:
        done = subprocess.run([os.path.join(BIN, command), "--data-path", "-"],
                              stdin=follower, capture_output=True, text=True, timeout=120,
                              env=dict(os.environ, HP_CACHE_DIR=str(tmp_path / "cache")))
    finally:
        os.close(leader)
        os.close(follower)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == ("hp-load: error: --data-path - reads the data on stdin, but stdin is a terminal; pipe the "
                           "data in (e.g. zcat data.csv.gz | ... --data-path -) or name a file\n")


def test_data_for_another_baseline_is_named_so_before_its_label_is_looked_for(tmp_path):
    # Its label has another name too: "no label column" would send the user the wrong way.
    path = tmp_path / "reviews.csv"
    path.write_text("review,product,rating\nwould buy again,B00X,5\n", encoding="utf-8")
    line = refused(run("hp-load", "--data-path", path), 3)
    assert line == ("hp-load: error: %s: matches none of the baseline's 7 feature columns ('protocol', 'compounds', "
                    "'input_fields', 'iterations', 'num_pending', 'hour', 'day'); use a baseline built for this data "
                    "(--baseline-model) or rename the columns" % path)


@pytest.mark.parametrize("stdin", [False, True])
def test_a_stages_record_given_as_data_is_named_for_what_it_is(tmp_path, stdin):
    # Read as data it would be "a nested object": exit 2, as a stage answers a record of the wrong stage.
    loaded = run("hp-load", "--data-path", EXAMPLE)
    assert loaded.code == 0
    path = tmp_path / "load.jsonl"
    path.write_text(loaded.stdout, encoding="utf-8")
    result = run("hp-load", "-", stdin=loaded.stdout) if stdin else run("hp-load", path)
    line = refused(result, 2, cache_dir=False)
    assert line == ("hp-load: error: %s is a load record (written by hp-load), not contributed data; give hp-load "
                    "the data file, and the record to hp-check (or hp-sample)" % ("<stdin>" if stdin else path))


@pytest.mark.parametrize("content, line", [
    (b"not parquet", "garbage.parquet: has a header but no data rows (the content is CSV although the name says "
                     "Parquet, read as CSV); give at least one row of data"),
    (b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 12345\n",
     "garbage.parquet: is a Git LFS pointer, not the data it stands for; fetch the file itself (git lfs pull) and "
     "give that"),
])
def test_text_named_parquet_that_fails_says_what_its_name_promised(tmp_path, monkeypatch, content, line):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "garbage.parquet").write_bytes(content)
    assert refused(run("hp-load", "garbage.parquet"), 3) == "hp-load: error: " + line


def test_labels_that_differ_from_the_classes_only_in_case_are_named_so(tmp_path):
    path = tmp_path / "lower.csv"
    with open(EXAMPLE, encoding="utf-8") as handle:
        header, *rows = handle.read().splitlines()
    path.write_text("\n".join([header] + [r[:r.rindex(",") + 1] + r[r.rindex(",") + 1:].lower() for r in rows]) + "\n",
                    encoding="utf-8")
    line = refused(run("hp-load", path), 3)
    assert line == ("hp-load: error: %s: none of its labels ('f', 'l', 'm', 'vf') is a class of the baseline ('F', "
                    "'L', 'M', 'VF'); its labels differ from the baseline's classes only in letter case or spaces: "
                    "write 'f' as 'F', 'l' as 'L', 'm' as 'M', 'vf' as 'VF'" % path)


def test_a_file_written_to_while_it_is_read_is_refused_and_not_cached(tmp_path, monkeypatch, cache_dir, bundles):
    # Hashed for the key, then parsed: content that changed between the two must not be stored
    # under the first content's hash. Here the file changes during the parse, as a writer would.
    from hokusai_preview.core import dataio
    from hokusai_preview.core.cache import Cache

    path = tmp_path / "growing.csv"
    path.write_bytes(open(os.path.join(EXAMPLES, "hpc_jobs_1000.csv"), "rb").read())
    opened = dataio.BatchReader.__init__

    def open_and_append(self, *args, **kwargs):
        opened(self, *args, **kwargs)
        with open(str(path), "ab") as handle:  # another program appends a row meanwhile
            handle.write(b"CA,10,10,10,0,10,Mon,VF\n")

    monkeypatch.setattr(dataio.BatchReader, "__init__", open_and_append)
    result = run("hp-load", "--data-path", path, "--baseline-model", bundles("hpc")[0])
    assert result.code == 3 and result.stdout == ""
    assert result.err_lines == ["hp-load: error: %s: changed while it was read; run again once whatever writes "
                                "it has finished (or preview a copy)" % path]
    assert [e for e in Cache(str(cache_dir)).entries() if e["stage"] == "load"] == []


def test_a_copy_of_a_bundle_elsewhere_is_named_as_given_not_as_first_met(tmp_path, bundles, cache_dir):
    # The record tells the later stages where the bundle is: a copy (the first one since moved
    # or deleted) is not answered with the first one's path.
    import shutil

    first, second = str(tmp_path / "P"), str(tmp_path / "Q")
    shutil.copytree(bundles("hpc")[0], first)
    shutil.copytree(first, second)
    example = os.path.join(EXAMPLES, "hpc_jobs_1000.csv")
    assert run("hp-load", "--data-path", example, "--baseline-model", first).code == 0
    shutil.rmtree(first)
    again = run("hp-load", "--data-path", example, "--baseline-model", second)
    assert again.code == 0, again
    assert again.records[0]["baseline"]["path"] == second
    later = run("hp-check", stdin=again.stdout)
    assert later.code == 0, later


@pytest.mark.parametrize("stage", ["hp-check", "hp-train"])
def test_a_record_is_refused_once_its_bundle_changed(tmp_path, bundles, cache_dir, stage):
    # A bundle rebuilt (or edited) at the same path is another baseline: a saved record made with
    # the old one must not be scored against it.
    bundle = str(tmp_path / "B")
    shutil.copytree(bundles("hpc")[0], bundle)
    loaded = run("hp-load", "--data-path", os.path.join(EXAMPLES, "hpc_jobs_500.json"), "--baseline-model", bundle)
    assert loaded.code == 0, loaded
    with open(os.path.join(bundle, "manifest.json"), "a", encoding="utf-8") as handle:
        handle.write("\n")  # the same content, other bytes: another fingerprint
    later = run(stage, stdin=loaded.stdout)
    assert later.code == 4 and later.stdout == "", later
    assert later.err_lines == ["%s: error: the baseline bundle %s changed since this record was made; run the "
                               "pipeline again from hp-load" % (stage, bundle)]


def test_a_huge_binary_file_is_refused_before_it_is_hashed(tmp_path, monkeypatch):
    """Hashing first took seconds per GB before the refusal."""
    from hokusai_preview.core import fsutil

    hashed, sha256_file = [], fsutil.sha256_file
    monkeypatch.setattr(fsutil, "sha256_file", lambda path, *a, **k: hashed.append(str(path)) or sha256_file(
        path, *a, **k))
    assert run("hp-load", EXAMPLE).code == 0 and EXAMPLE in hashed  # what is hashed is seen
    path = tmp_path / "zeros.csv"
    with open(str(path), "wb") as handle:
        handle.truncate(2 << 30)  # sparse: 2 GB of zeros that take no disk
    refused(run("hp-load", str(path)), 3, "is binary content", cache_dir=False)
    assert str(path) not in hashed


def test_control_characters_in_a_file_name_are_escaped_in_messages(tmp_path, cache_dir):
    bad_name = tmp_path / "bad\x1b[31mred.csv"
    bad_name.write_bytes(b"\x00" * 100)
    line = refused(run("hp-load", str(bad_name)), 3, "bad\\x1b[31mred.csv: is binary")
    assert "\x1b" not in line
    good = tmp_path / "good\nname.csv"
    shutil.copy(EXAMPLE, str(good))
    result = run("hp-load", str(good))
    assert result.code == 0, result
    assert len(result.err_lines) == 1 and "good\\nname.csv: 1,000 rows" in result.stderr, result


def test_each_file_named_gets_its_record_and_a_refused_one_keeps_those_before(tmp_path, cache_dir):
    first, second = EXAMPLES + "/hpc_jobs_500.json", EXAMPLES + "/hpc_jobs_700.parquet"
    both = run("hp-load", first, second)
    assert both.code == 0, both
    assert [r["contribution"]["source_path"] for r in both.records] == [first, second]
    for record, alone in zip(both.records, (run("hp-load", first), run("hp-load", second))):
        validate(record, "load")
        assert record["contribution"]["data_manifest"] == alone.records[0]["contribution"]["data_manifest"]
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    fresh = tmp_path / "fresh-cache"
    result = run("hp-load", "--cache-dir", fresh, first, empty, second)
    assert (result.code, result.stdout) == (3, ""), result  # a failure writes nothing on stdout
    assert result.err_lines[-1].startswith("hp-load: error: %s: " % empty)
    # The entry of the file read before is complete and kept; the file after the refused one was not read.
    again = run("hp-load", "--cache-dir", fresh, first, second)
    assert again.code == 0 and [r["cache"]["load"] for r in again.records] == ["hit", "miss"], again


def test_hp_baseline_names_the_default_bundle(tmp_path, bundles, monkeypatch):
    bundle, _ = bundles("churn")
    monkeypatch.setenv("HP_BASELINE", bundle)
    result = run("hp-load", EXAMPLES + "/hpc_jobs_500.json")  # hpc data against the churn bundle
    refused(result, 3, "matches none of the baseline's", cache_dir=False)
    monkeypatch.setenv("HP_BASELINE", bundles("hpc")[0])
    (record,) = run("hp-load", EXAMPLES + "/hpc_jobs_500.json").records
    assert record["baseline"]["path"] == bundles("hpc")[0]


def test_a_baseline_of_one_feature_is_said_to_have_one_feature_column(tmp_path):
    tables = [tmp_path / "base.csv", tmp_path / "bench.csv"]
    for start, table in zip((0, 40), tables):
        table.write_text("x,label\n" + "".join("%d,%s\n" % (i, "ab"[i % 2]) for i in range(start, start + 40)),
                         encoding="utf-8")
    built = run("hp-baseline", "--train-data", tables[0], "--benchmark-data", tables[1], "--output", tmp_path / "b")
    assert built.code == 0, built
    data = tmp_path / "other.csv"
    data.write_text("y,label\n1,a\n", encoding="utf-8")
    line = refused(run("hp-load", "--data-path", data, "--baseline-model", tmp_path / "b"), 3)
    assert line.startswith("hp-load: error: %s: matches none of the baseline's 1 feature column ('x')" % data)


def test_a_delimiter_forced_by_format_that_the_file_lacks_says_so(cache_dir):
    # --format tsv on a comma-separated file reads one column: the names are not the baseline's
    # because of the option, not of the data.
    result = run("hp-load", "--format", "tsv", os.path.join(EXAMPLES, "hpc_jobs_1000.csv"))
    assert result.code == 3 and result.stdout == "" and len(result.err_lines) == 1, result
    assert result.err_lines[0].endswith(
        "read with the delimiter --format gave ('\\t'), its header is one column "
        "('protocol,compounds,input_fields,iterations,num_pending,hour,'): leave --format out, or give the format "
        "the file has")
