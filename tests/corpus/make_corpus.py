#!/usr/bin/env python3
"""The bad-input corpus: contributions that hp-load must refuse, or accept with a warning.

Run it to (re)write the small committed files::

    .venv/bin/python tests/corpus/make_corpus.py

``refused/`` and ``accepted/`` hold small files (a few KB) built from real rows of
``examples/hpc_jobs_1000.csv`` (columns protocol, compounds, input_fields, iterations,
num_pending, hour, day, label; classes F, L, M, VF) and ``datasets/wa_churn.parquet``. Inputs
that are big (a 10,000-column file, a 1 MB cell) or cannot live in git (a directory, a missing
path, an unreadable file, a symlink loop) are made at test time by :func:`make_generated`.
tests/cli/test_corpus.py holds what each one must give.
"""

import bz2
import codecs
import csv
import gzip
import io
import json
import os
import random
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLE = os.path.join(ROOT, "examples", "hpc_jobs_1000.csv")
REFUSED = os.path.join(HERE, "refused")
ACCEPTED = os.path.join(HERE, "accepted")


def real_rows(n=12, start=0):
    """(header, rows) of the shipped example, as text."""
    with open(EXAMPLE, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], [list(r) for r in rows[1 + start:1 + start + n]]


def to_csv(header, rows, delimiter=","):
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def with_column(header, rows, name, values):
    return header + [name], [r + [v] for r, v in zip(rows, values)]


def set_column(header, rows, name, value_of):
    i = header.index(name)
    return header, [r[:i] + [value_of(n, r[i])] + r[i + 1:] for n, r in enumerate(rows)]


def drop_column(header, rows, name):
    i = header.index(name)
    return header[:i] + header[i + 1:], [r[:i] + r[i + 1:] for r in rows]


def records(header, rows):
    """Rows as JSON records with the example's types (numbers as numbers)."""
    out = []
    for row in rows:
        record = {}
        for name, value in zip(header, row):
            if name in ("compounds", "input_fields", "iterations", "num_pending"):
                record[name] = int(value)
            elif name == "hour":
                record[name] = float(value)
            else:
                record[name] = value
        out.append(record)
    return out


def jsonl(items):
    return "".join(json.dumps(item) + "\n" for item in items).encode("utf-8")


def parquet(columns):
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(columns), sink, compression="none")
    return sink.getvalue().to_pybytes()


def gz(data, mtime=0):
    """gzip bytes that are the same from every Python: the header's OS byte is 3 (Unix), as 3.11
    writes it (3.8 wrote 255)."""
    out = gzip.compress(data, mtime=mtime)
    return out[:9] + b"\x03" + out[10:]


def noise(seed, size):
    """Deterministic random bytes."""
    rng = random.Random(seed)
    return bytes(rng.getrandbits(8) for _ in range(size))


def example_columns(n=12):
    header, rows = real_rows(n)
    recs = records(header, rows)
    return {name: [r[name] for r in recs] for name in header}


def refused_files():
    """name -> bytes of every committed input that must be refused."""
    header, rows = real_rows()
    good = to_csv(header, rows)
    recs = records(header, rows)
    files = {}
    files["empty.csv"] = b""
    files["whitespace_only.csv"] = b"\n  \n\t\n"
    files["bom_only.csv"] = codecs.BOM_UTF8
    files["header_only.csv"] = to_csv(header, [])
    files["header_without_line_break.csv"] = to_csv(header, []).rstrip(b"\r\n")
    files["binary_garbage.csv"] = noise(3, 4096)
    whole = parquet(example_columns(200))
    files["truncated.parquet"] = whole[: len(whole) // 2]
    files["parquet_magic_then_garbage.parquet"] = b"PAR1" + noise(5, 600)
    files["ragged_rows.csv"] = good + b"L,10,20,30,0,14.5,Mon,F,extra\n" + good.split(b"\n", 1)[1]
    files["json_scalar.json"] = b"42\n"
    files["json_array_of_numbers.json"] = b"[1, 2, 3]\n"
    files["json_single_object.json"] = json.dumps(recs[0]).encode("utf-8")
    files["json_invalid.json"] = json.dumps(recs[:3]).replace("}, {", "},, {", 1).encode("utf-8")
    files["json_truncated.json"] = json.dumps(recs, indent=1).encode("utf-8")[:700]
    files["json_columns_unequal.json"] = json.dumps({"protocol": ["L", "J"], "label": ["F", "VF", "M"]}).encode()
    files["json_empty_array.json"] = b"[]\n"
    # an API's answer saved as is: the records under a key, beside metadata
    files["json_records_under_a_key.json"] = json.dumps({"data": recs, "total": len(recs), "next": None}).encode()
    # What pandas writes with DataFrame.to_json(orient="split") and orient="table".
    files["json_pandas_split.json"] = json.dumps({"columns": header, "index": list(range(len(rows))),
                                                   "data": [list(r.values()) for r in recs]}).encode()
    files["json_pandas_table.json"] = json.dumps({"schema": {"fields": [{"name": h} for h in header]},
                                                   "data": recs}).encode()
    bad_line = jsonl(recs).split(b"\n")
    bad_line[2] = b'{"protocol": "L", "compounds": 12,'
    files["jsonl_bad_line.jsonl"] = b"\n".join(bad_line)
    not_object = jsonl(recs).split(b"\n")
    not_object[1] = b"[1, 2, 3]"
    files["jsonl_line_not_object.jsonl"] = b"\n".join(not_object)
    files["jsonl_duplicate_keys.jsonl"] = jsonl(recs[:2]) + b'{"protocol": "L", "protocol": "J", "label": "F"}\n'
    nested = [dict(r) for r in recs]
    nested[4]["day"] = {"name": "Mon", "index": 1}
    files["nested_object.json"] = json.dumps(nested).encode("utf-8")
    nested_list = [dict(r) for r in recs]
    nested_list[6]["compounds"] = [1, 2]
    files["nested_array.jsonl"] = jsonl(nested_list)
    columns = example_columns()
    columns["tags"] = [["a", "b"]] * len(columns["label"])
    files["nested_list_column.parquet"] = parquet(columns)
    files["duplicate_columns.csv"] = to_csv(header + ["hour"], [r + ["1.5"] for r in rows])
    files["no_label_column.csv"] = to_csv(*drop_column(header, rows, "label"))
    files["label_header_with_spaces.csv"] = to_csv([" Label " if h == "label" else h for h in header], rows)
    files["no_header_row.csv"] = good.split(b"\n", 1)[1]
    files["all_labels_missing.csv"] = to_csv(*set_column(header, rows, "label", lambda n, v: ""))
    files["some_labels_missing.csv"] = to_csv(*set_column(header, rows, "label", lambda n, v: "" if n == 5 else v))
    files["label_only_nan.csv"] = to_csv(*set_column(header, rows, "label", lambda n, v: "NaN"))
    columns = example_columns()
    columns["label"] = [float("nan")] * len(columns["label"])
    files["label_only_nan.parquet"] = parquet(columns)
    files["feature_column_missing.csv"] = to_csv(*drop_column(header, rows, "hour"))
    files["all_feature_columns_missing.csv"] = to_csv(["job", "note", "label"],
                                                      [[str(n), "x", r[-1]] for n, r in enumerate(rows)])
    files["all_feature_values_empty.csv"] = to_csv(header, [[""] * 7 + [r[-1]] for r in rows])
    files["mixed_types_in_numeric_column.csv"] = to_csv(
        *set_column(header, rows, "compounds", lambda n, v: "many" if n == 7 else v))
    # Python's float() reads "1_000"; Arrow, which reads the column, does not.
    files["digit_separator_in_number.csv"] = to_csv(
        *set_column(header, rows, "compounds", lambda n, v: "1_000" if n == 4 else v))
    files["decimal_comma.csv"] = to_csv(
        *set_column(header, rows, "hour", lambda n, v: v.replace(".", ",")), delimiter=";")
    files["infinity.csv"] = to_csv(*set_column(header, rows, "hour", lambda n, v: "inf" if n == 3 else v))
    inf = jsonl(recs).split(b"\n")
    inf[2] = inf[2].replace(b'"hour": ', b'"hour": -Infinity, "x": ', 1)
    files["infinity.jsonl"] = b"\n".join(inf)
    # finite, but past float32, in which scikit-learn's trees split
    files["beyond_float32.csv"] = to_csv(*set_column(header, rows, "hour", lambda n, v: "1e39" if n == 5 else v))
    huge = jsonl(recs).split(b"\n")
    huge[1] = huge[1].replace(b'"compounds": ', b'"compounds": 1' + b"0" * 400 + b', "x": ', 1)
    files["json_integer_beyond_float.jsonl"] = b"\n".join(huge)
    # deeper than Python's json decoder recurses
    files["nested_too_deeply.jsonl"] = b'{"a":' * 3000 + b"1" + b"}" * 3000 + b"\n"
    files["nested_too_deeply.json"] = b"[" + b'{"a":' * 3000 + b"1" + b"}" * 3000 + b"]\n"
    files["only_unseen_labels.csv"] = to_csv(*set_column(header, rows, "label", lambda n, v: "XL"))
    latin = to_csv(*set_column(header, rows, "day", lambda n, v: "Mi\u00e9" if n == 9 else v))
    files["latin1_not_utf8.csv"] = latin.decode("utf-8").encode("latin-1")
    # Excel's "ANSI" CSV: Windows-1252, whose en dash and euro sign latin1 would read as control characters
    ansi = to_csv(*set_column(header, rows, "day", lambda n, v: "Mo\u2013Fr \u20ac" if n == 6 else v))
    files["cp1252_not_utf8.csv"] = ansi.decode("utf-8").encode("cp1252")
    files["utf16_without_bom.csv"] = good.decode("utf-8").encode("utf-16-le")
    files["utf32.csv"] = good.decode("utf-8").encode("utf-32")
    files["utf16_with_bom.jsonl"] = jsonl(recs).decode("utf-8").encode("utf-16")  # fine for CSV, not for JSON
    files["thousands_separators.csv"] = to_csv(
        *set_column(header, rows, "compounds", lambda n, v: "1,%03d,500" % int(v) if n == 2 else v))
    files["spaces_after_delimiters.csv"] = good.replace(b",", b", ")
    # number cells as a spreadsheet formats them: a Unicode minus sign, a percent sign
    files["unicode_minus_in_number.csv"] = to_csv(
        *set_column(header, rows, "hour", lambda n, v: "\u2212" + v if n == 2 else v))
    files["percent_in_number.csv"] = to_csv(*set_column(header, rows, "hour", lambda n, v: "12.5%" if n == 4 else v))
    compressed = gz(good * 40, mtime=0)
    files["truncated.csv.gz"] = compressed[: len(compressed) * 2 // 3]
    # long enough that the first 64 KB decompress fine and the end is missing
    late = gz(b"\n".join([good] + [good.split(b"\n", 1)[1]] * 400), mtime=0)
    files["truncated_late.csv.gz"] = late[: len(late) * 2 // 3]
    files["corrupt.csv.gz"] = compressed[:10] + noise(7, 300)
    files["empty_inside.csv.gz"] = gz(b"", mtime=0)
    files["bzip2.csv.bz2"] = bz2.compress(good)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(zipfile.ZipInfo("data.csv", date_time=(2020, 1, 1, 0, 0, 0)), good)
    files["zip_archive.csv"] = archive.getvalue()
    files["html_page.csv"] = (b"<!DOCTYPE html>\n<html><head><title>hpc_jobs.csv</title></head>\n"
                              b"<body><table><tr><td>protocol</td></tr></table></body></html>\n")
    churn = _churn_rows(12)
    files["other_dataset_schema.csv"] = to_csv(churn[0], churn[1])
    files["single_class.csv"] = to_csv(*set_column(header, rows, "label", lambda n, v: "VF"))  # fine-tune bundle
    # pyarrow alone reads hexadecimal text as integers (0x1A as 26); pandas keeps it as text
    files["hex_in_numeric_column.csv"] = to_csv(
        *set_column(header, rows, "compounds", lambda n, v: "0x1A" if n == 3 else v))
    files["hex_labels.csv"] = to_csv(*set_column(header, rows, "label", lambda n, v: "0x1"))
    surrogate = [dict(r) for r in recs]
    surrogate[3]["day"] = "Fri\ud800"  # json.dumps writes a lone surrogate as the escape \ud800
    files["lone_surrogate.jsonl"] = jsonl(surrogate)
    files["comment_above_header.csv"] = b"# exported by foo\n" + good
    files["title_above_header.csv"] = b"HPC jobs export Q1\n\n" + good
    # names that are the baseline's but for letter case or spaces (the data rows have no spaces)
    files["names_in_capitals.csv"] = to_csv([h.upper() if h in ("hour", "day") else h for h in header], rows)
    files["names_with_trailing_spaces.csv"] = to_csv([h + " " for h in header], rows)
    files["names_with_leading_spaces.csv"] = to_csv([" " + h for h in header], rows)
    lines = good.split(b"\n")
    files["space_only_line.csv"] = b"\n".join(lines[:4] + [b" "] + lines[4:])
    return files


def refused_parquet_files():
    """Parquet inputs of types that need a recent pyarrow to write (binary view, UUID)."""
    import datetime

    import pyarrow as pa

    files = {}
    columns = example_columns()
    columns["day"] = pa.array([d.encode() for d in columns["day"]], pa.binary(3))
    files["fixed_size_binary_column.parquet"] = parquet(columns)
    columns = example_columns()
    columns["id"] = pa.array([bytes([n] * 16) for n in range(len(columns["label"]))], pa.uuid())
    files["uuid_column.parquet"] = parquet(columns)
    columns = example_columns()
    columns["id"] = pa.array([b"\xff%d" % n for n in range(len(columns["label"]))], pa.binary_view())
    files["binary_view_column.parquet"] = parquet(columns)
    columns = example_columns()
    columns["until"] = pa.array([datetime.date(9999, 12, 31)] * len(columns["label"]), pa.date32())
    files["date_beyond_2262.parquet"] = parquet(columns)
    return files


def accepted_files():
    """name -> bytes of every committed input that is accepted (some with a warning)."""
    header, rows = real_rows(40)
    files = {}
    files["utf8_bom.csv"] = codecs.BOM_UTF8 + to_csv(header, rows)
    files["some_unseen_labels.csv"] = to_csv(*set_column(header, rows, "label", lambda n, v: "XL" if n in (3, 8)
                                                          else ("f" if n == 11 else v)))
    files["single_class.csv"] = to_csv(*set_column(header, rows, "label", lambda n, v: "VF"))
    files["parquet_named.csv"] = parquet(example_columns(40))
    files["csv_named.json"] = to_csv(header, rows)
    files["plain_named.csv.gz"] = to_csv(header, rows)
    files["no_extension"] = to_csv(header, rows)
    files["unicode_and_spaces_in_names.csv"] = to_csv(*with_column(
        *with_column(header, rows, "temp\u00e9rature (\u00b0C)", ["21.5"] * len(rows)),
        "\u6ce8\u91ca note", ["\u597d"] * len(rows)))
    files["empty_feature_column.csv"] = to_csv(*set_column(header, rows, "hour", lambda n, v: ""))
    files["missing_feature_values.csv"] = to_csv(*set_column(
        *set_column(header, rows, "hour", lambda n, v: "" if n % 10 == 0 else v),
        "protocol", lambda n, v: "NA" if n == 5 else v))
    files["query_id_and_extra_columns.csv"] = to_csv(*with_column(
        ["query_id"] + header, [[str(1000 + n)] + r for n, r in enumerate(rows)], "source", ["lab-7"] * len(rows)))
    comments = ['ran, then "failed"\nretried' if n % 3 == 0 else "ok; fine" for n in range(len(rows))]
    files["quoted_delimiters_and_newlines.csv"] = to_csv(*with_column(header, rows, "comment", comments))
    files["trailing_blank_lines.csv"] = to_csv(header, rows) + b"\n\n\n"
    files["excel_sep_line.csv"] = b"sep=,\n" + to_csv(header, rows)
    files["padded_labels_and_numbers.csv"] = to_csv(*set_column(
        *set_column(header, rows, "label", lambda n, v: " %s " % v), "compounds", lambda n, v: " %s " % v))
    # DataFrame.to_csv, read back and written again: the index column is named "Unnamed: 0", and the
    # new index's empty header cell is read as "Unnamed: 0.1", as pandas reads it
    files["pandas_saved_twice.csv"] = to_csv(["", "Unnamed: 0"] + header,
                                             [[str(n), str(n)] + r for n, r in enumerate(rows)])
    return files


def _churn_rows(n):
    import pyarrow.parquet as pq

    table = pq.read_table(os.path.join(ROOT, "datasets", "wa_churn.parquet")).slice(0, n).to_pylist()
    header = list(table[0])
    return header, [["" if r[h] is None else str(r[h]) for h in header] for r in table]


# --- made at test time ---------------------------------------------------------------------


def make_generated(name, directory):
    """Create the generated input ``name`` in ``directory``; returns the path to give hp-load."""
    path = os.path.join(directory, name)
    header, rows = real_rows()
    if name == "a_directory":
        os.mkdir(path)
        with open(os.path.join(path, "data.csv"), "wb") as handle:
            handle.write(to_csv(header, rows))
    elif name == "missing_path.csv":
        pass
    elif name == "dangling_symlink.csv":
        os.symlink(os.path.join(directory, "gone.csv"), path)
    elif name == "symlink_loop.csv":
        os.symlink(path, path)
    elif name == "unreadable.csv":
        with open(path, "wb") as handle:
            handle.write(to_csv(header, rows))
        os.chmod(path, 0)
    elif name == "wide_10000_columns.csv":
        extra = ["extra_%05d" % i for i in range(10000 - len(header))]
        with open(path, "wb") as handle:
            handle.write(to_csv(header + extra, [r + [str(i % 7) for i in range(len(extra))] for r in rows]))
    elif name == "cell_1mb.csv":
        with open(path, "wb") as handle:
            handle.write(to_csv(*with_column(header, rows, "note", ["x" * (1 << 20) if n == 4 else "ok"
                                                                    for n in range(len(rows))])))
    elif name == "cell_1mb.jsonl":
        items = records(header, rows)
        items[2]["protocol"] = "L" * (1 << 20)
        with open(path, "wb") as handle:
            handle.write(jsonl(items))
    elif name == "unbalanced_quote_6mb.csv":
        with open(path, "wb") as handle:
            handle.write(to_csv(header, rows[:3]) + b'L,1,2,3,0,1.5,"Mon,F\n' + b"E,1,2,3,0,1.5,Tue,F\n" * 300000)
    elif name == "cell_5mb.csv":
        with open(path, "wb") as handle:
            handle.write(to_csv(header, rows[:3]) + b"L,1,2,3,0,1.5,Mon" + b"n" * (5 << 20) + b",F\n")
    else:
        raise KeyError(name)
    return path


GENERATED = ["a_directory", "missing_path.csv", "dangling_symlink.csv", "symlink_loop.csv", "unreadable.csv",
             "wide_10000_columns.csv", "cell_1mb.csv", "cell_1mb.jsonl", "cell_5mb.csv", "unbalanced_quote_6mb.csv"]


def write_all():
    refused = dict(refused_files(), **refused_parquet_files())
    for directory, files in ((REFUSED, refused), (ACCEPTED, accepted_files())):
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            os.unlink(os.path.join(directory, name))
        for name, data in sorted(files.items()):
            with open(os.path.join(directory, name), "wb") as handle:
                handle.write(data)
        print("%s: %d files, %d bytes" % (os.path.relpath(directory, ROOT), len(files),
                                          sum(len(d) for d in files.values())))


if __name__ == "__main__":
    sys.exit(write_all())
