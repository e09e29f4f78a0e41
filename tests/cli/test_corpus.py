"""The bad-input corpus (tests/corpus/) through hp-load and through the hokusai-preview driver.

Every refused input must give its documented exit status, exactly one line on stderr that
names the file, says what is wrong and what to do (no traceback), nothing on stdout, no output
file and no cache entry. Inputs that are better accepted with a warning are listed apart, with
what must be in their record.
"""

import contextlib
import json
import os
import stat
import subprocess
import sys

import pandas as pd
import pytest

from helpers import BIN, EXAMPLES, ROOT, Result, refused, run, validate, without_override

sys.path.insert(0, os.path.join(ROOT, "tests", "corpus"))
import make_corpus  # noqa: E402

CORPUS = os.path.join(ROOT, "tests", "corpus")
DRIVER = os.path.join(ROOT, "bin", "hokusai-preview")
BAD_DATA = 3

# name -> (exit status, what the message must say). Bundle "hpc" unless REFUSED_BUNDLE says otherwise.
REFUSED = {
    # the file itself
    "empty.csv": (BAD_DATA, "is empty"),
    "whitespace_only.csv": (BAD_DATA, "is empty (only blank lines)"),
    "bom_only.csv": (BAD_DATA, "is empty"),
    "header_only.csv": (BAD_DATA, "has a header but no data rows"),
    "header_without_line_break.csv": (BAD_DATA, "has a header but no data rows"),
    "binary_garbage.csv": (BAD_DATA, "is binary content"),
    "truncated.parquet": (BAD_DATA, "is not a readable Parquet file"),
    "parquet_magic_then_garbage.parquet": (BAD_DATA, "is not a readable Parquet file"),
    "truncated.csv.gz": (BAD_DATA, "looks gzip-compressed but cannot be decompressed"),
    "truncated_late.csv.gz": (BAD_DATA, "is truncated or corrupt"),
    "corrupt.csv.gz": (BAD_DATA, "cannot be decompressed"),
    "empty_inside.csv.gz": (BAD_DATA, "is empty once decompressed"),
    "bzip2.csv.bz2": (BAD_DATA, "is bzip2-compressed"),
    "zip_archive.csv": (BAD_DATA, "is a ZIP archive (or an Excel .xlsx workbook)"),
    "html_page.csv": (BAD_DATA, "is an HTML page"),
    "latin1_not_utf8.csv": (BAD_DATA, "is not UTF-8 text (byte 0xe9 on line 11)"),
    "cp1252_not_utf8.csv": (BAD_DATA, "is not UTF-8 text (byte 0x96 on line 8); save it as UTF-8 (e.g. iconv -f "
                                      "cp1252 -t utf-8 for Excel's \"ANSI\", Windows-1252)"),
    "utf16_without_bom.csv": (BAD_DATA, "looks like UTF-16 text without a byte-order mark"),
    "utf32.csv": (BAD_DATA, "is UTF-32 text"),
    # structure
    "ragged_rows.csv": (BAD_DATA, "has a row with 9 fields where the header has 8"),
    "duplicate_columns.csv": (BAD_DATA, "has two columns named 'hour'"),
    "no_header_row.csv": (BAD_DATA, "the first row looks like data"),
    "json_scalar.json": (BAD_DATA, "is JSON but not a table (a number)"),
    "json_array_of_numbers.json": (BAD_DATA, "record 1 is a JSON number, not an object"),
    "json_single_object.json": (BAD_DATA, "is a single JSON object, not a table"),
    "json_invalid.json": (BAD_DATA, "is not valid JSON at line 1"),
    "json_truncated.json": (BAD_DATA, "is not valid JSON at line 42 (unterminated string)"),
    "json_columns_unequal.json": (BAD_DATA, "is an object of columns of different lengths (2, 3)"),
    "json_pandas_split.json": (BAD_DATA, "is pandas' orient='split' JSON, not records or columns"),
    "json_pandas_table.json": (BAD_DATA, "is pandas' orient='table' JSON, not records or columns"),
    "json_records_under_a_key.json": (BAD_DATA, "holds its records under 'data'; give the array itself (e.g. jq "
                                                "'.data')"),
    "json_empty_array.json": (BAD_DATA, "holds no records"),
    "jsonl_bad_line.jsonl": (BAD_DATA, "line 3 is not valid JSON"),
    "jsonl_line_not_object.jsonl": (BAD_DATA, "line 2 is a JSON array, not an object"),
    "jsonl_duplicate_keys.jsonl": (BAD_DATA, "has two fields named 'protocol' on line 3"),
    "nested_object.json": (BAD_DATA, "field 'day' of record 5 holds a nested object"),
    "nested_array.jsonl": (BAD_DATA, "field 'compounds' of line 7 holds a nested array"),
    "nested_list_column.parquet": (BAD_DATA, "column 'tags' holds nested values"),
    # against the baseline
    "no_label_column.csv": (BAD_DATA, "has no label column 'label'"),
    "label_header_with_spaces.csv": (BAD_DATA, "the file has ' Label ': did you mean that column?"),
    "all_labels_missing.csv": (BAD_DATA, "12 rows have no value in the label column 'label' (first: data row 1)"),
    "some_labels_missing.csv": (BAD_DATA, "1 row has no value in the label column 'label' (first: data row 6)"),
    "label_only_nan.csv": (BAD_DATA, "12 rows have no value in the label column"),
    "label_only_nan.parquet": (BAD_DATA, "12 rows have no value in the label column"),
    "only_unseen_labels.csv": (BAD_DATA, "none of its labels ('XL') is a class of the baseline"),
    "single_class.csv": (BAD_DATA, "every used row has the label 'VF', and the baseline has no base table"),
    "feature_column_missing.csv": (BAD_DATA, "lacks 1 of the baseline's feature columns: 'hour'"),
    "all_feature_columns_missing.csv": (BAD_DATA, "matches none of the baseline's 7 feature columns"),
    "other_dataset_schema.csv": (BAD_DATA, "matches none of the baseline's 7 feature columns"),
    "names_in_capitals.csv": (BAD_DATA, "lacks 2 of the baseline's feature columns as spelled ('hour', 'day'), which "
                                        "the file has when letter case and spaces are ignored; rename 'HOUR' \u2192 "
                                        "'hour', 'DAY' \u2192 'day' (column names must match exactly)"),
    "names_with_trailing_spaces.csv": (BAD_DATA, "exactly, but all match when letter case and spaces are ignored; "
                                                 "rename 'protocol ' \u2192 'protocol', 'compounds ' \u2192 "
                                                 "'compounds', 'input_fields ' \u2192 'input_fields' and 5 more"),
    "names_with_leading_spaces.csv": (BAD_DATA, "but all match when letter case and spaces are ignored; rename "
                                                "' protocol' \u2192 'protocol'"),
    "all_feature_values_empty.csv": (BAD_DATA, "every feature value is empty"),
    "mixed_types_in_numeric_column.csv": (BAD_DATA, "column 'compounds' should hold numbers but has 'many' "
                                                    "(data row 8)"),
    "digit_separator_in_number.csv": (BAD_DATA, "column 'compounds' should hold numbers but has '1_000' "
                                                "(data row 5)"),
    "decimal_comma.csv": (BAD_DATA, "use '.' as the decimal mark"),
    "thousands_separators.csv": (BAD_DATA, "has '1,111,500' (data row 3); write numbers without thousands separators "
                                           "(1111500)"),
    "unicode_minus_in_number.csv": (BAD_DATA, "column 'hour' should hold numbers but has '\u221218.566666666666663' "
                                              "(data row 3); '\u2212' is the Unicode minus sign U+2212: use '-' "
                                              "(-18.566666666666663)"),
    "percent_in_number.csv": (BAD_DATA, "column 'hour' should hold numbers but has '12.5%' (data row 5); strip the "
                                        "'%' (12.5), and divide by 100 if the baseline's values are fractions"),
    "spaces_after_delimiters.csv": (BAD_DATA, "its column names after the first start with a space: separate the "
                                              "fields with the delimiter alone"),
    "utf16_with_bom.jsonl": (BAD_DATA, "is UTF-16 text, and JSON is read as UTF-8; save it as UTF-8 (e.g. iconv -f "
                                       "utf-16 -t utf-8)"),
    "infinity.csv": (BAD_DATA, "column 'hour' has 1 infinite value (first: data row 4)"),
    "infinity.jsonl": (BAD_DATA, "column 'hour' has 1 infinite value (first: data row 3)"),
    "nested_too_deeply.jsonl": (BAD_DATA, "line 1 is not valid JSON (nested too deeply)"),
    "nested_too_deeply.json": (BAD_DATA, "is not valid JSON at line 1 (nested too deeply)"),
    "json_integer_beyond_float.jsonl": (BAD_DATA, "column 'compounds' has 1 infinite value (first: data row 2)"),
    "beyond_float32.csv": (BAD_DATA, "column 'hour' has 1 value beyond +/-3.4e38, the model's float32 range "
                                     "(first: data row 6)"),
    "hex_in_numeric_column.csv": (BAD_DATA, "column 'compounds' should hold numbers but has '0x1A' (data row 4)"),
    "hex_labels.csv": (BAD_DATA, "none of its labels ('0x1') is a class of the baseline"),
    "lone_surrogate.jsonl": (BAD_DATA, "field 'day' of line 4 holds a lone surrogate escape"),
    "fixed_size_binary_column.parquet": (BAD_DATA, "column 'day' holds binary values, not text; store text as UTF-8"),
    "uuid_column.parquet": (BAD_DATA, "column 'id' holds binary values, not text; store text as UTF-8"),
    "binary_view_column.parquet": (BAD_DATA, "column 'id' holds binary values, not text; store text as UTF-8"),
    "date_beyond_2262.parquet": (BAD_DATA, "column 'until' holds a date or time outside 1677-09-21 to 2262-04-11 "
                                           "(data row 1)"),
    "comment_above_header.csv": (BAD_DATA, "has a row with 8 fields where the header has 1 (line 2: protocol,"
                                           "compounds,input_fields,iterations,num_pending,hour,...); its first line "
                                           "(# exported by foo) was taken as the header and looks like a comment"),
    "title_above_header.csv": (BAD_DATA, "has a row with 8 fields where the header has 1 (line 3: protocol,"
                                         "compounds,input_fields,iterations,num_pending,hour,...); its first line "
                                         "(HPC jobs export Q1) was taken as the header and looks like a title line: "
                                         "remove the lines above the real header"),
    "space_only_line.csv": (BAD_DATA, "has a row with 1 field where the header has 8 (line 5: ' '); remove that "
                                      "line"),
    # made at test time (make_corpus.make_generated)
    "a_directory": (BAD_DATA, "is a directory"),
    "missing_path.csv": (BAD_DATA, "does not exist"),
    "dangling_symlink.csv": (BAD_DATA, "does not exist"),
    "symlink_loop.csv": (BAD_DATA, "cannot be opened (Too many levels of symbolic links)"),
    "unreadable.csv": (BAD_DATA, "cannot be read (Permission denied)"),
    "wide_10000_columns.csv": (BAD_DATA, "has 10,000 columns; hokusai-preview reads at most 4,096"),
    "cell_1mb.csv": (BAD_DATA, "column 'note' has a 1,048,576-byte value in data row 5; cells are limited to 100 KB"),
    "cell_1mb.jsonl": (BAD_DATA, "column 'protocol' has a 1,048,576-byte value in data row 3"),
    "cell_5mb.csv": (BAD_DATA, "column 'day' has a 5,242,883-byte value in data row 4"),
    "unbalanced_quote_6mb.csv": (BAD_DATA, "close the quote this row opens"),
    "/dev/null": (BAD_DATA, "is a device or socket, not a file"),
}
REFUSED_BUNDLE = {"single_class.csv": "hpc_finetune"}

# name -> (warnings that must be printed, check of the load record)
ACCEPTED = {
    "utf8_bom.csv": ([], lambda c, t: c["data_manifest"]["columns"][0] == "protocol"),
    "some_unseen_labels.csv": (["dropped 3 rows whose labels the baseline does not know ('XL': 2, 'f': 1 - did "
                                "you mean 'F'?)"],
                               lambda c, t: c["validation"]["rows_dropped"] == 3 and c["rows_used"] == 37
                               and c["validation"]["unseen_labels"] == {"XL": 2, "f": 1} and len(t) == 37),
    "single_class.csv": (["every used row has the label 'VF'"], lambda c, t: c["validation"]["class_counts"] ==
                         {"VF": 40}),
    "parquet_named.csv": (["the content is Parquet although the name says CSV; read as Parquet"],
                          lambda c, t: c["format"] == "parquet"),
    "csv_named.json": (["the content is CSV although the name says JSON; read as CSV"],
                       lambda c, t: c["format"] == "csv"),
    "plain_named.csv.gz": (["the name ends in .gz but the content is not compressed"],
                           lambda c, t: c["compressed"] is False),
    "no_extension": ([], lambda c, t: c["format"] == "csv" and c["rows_used"] == 40),
    "unicode_and_spaces_in_names.csv": ([], lambda c, t: c["validation"]["extra_columns"] == [
        "temp\u00e9rature (\u00b0C)", "\u6ce8\u91ca note"] and t["\u6ce8\u91ca note"].tolist() == ["\u597d"] * 40),
    "empty_feature_column.csv": (["feature columns with no values at all (imputed): 'hour'"],
                                 lambda c, t: c["validation"]["missing_by_feature"]["hour"] == 40
                                 and t["hour"].isna().all()),
    "missing_feature_values.csv": ([], lambda c, t: c["validation"]["rows_with_missing_features"] == 5
                                   and c["validation"]["missing_by_feature"]["protocol"] == 1),
    "query_id_and_extra_columns.csv": ([], lambda c, t: c["validation"]["id_columns"] == ["query_id"]
                                       and c["validation"]["extra_columns"] == ["query_id", "source"]),
    "quoted_delimiters_and_newlines.csv": ([], lambda c, t: t["comment"][0] == 'ran, then "failed"\nretried'
                                           and t["comment"][1] == "ok; fine"),
    "trailing_blank_lines.csv": ([], lambda c, t: c["rows_used"] == 40),
    "excel_sep_line.csv": ([], lambda c, t: c["rows_used"] == 40 and c["delimiter"] == ","),
    "padded_labels_and_numbers.csv": ([], lambda c, t: set(t["label"]) <= {"F", "L", "M", "VF"}
                                      and t["compounds"].notna().all()),
    "pandas_saved_twice.csv": ([], lambda c, t: c["validation"]["extra_columns"] == ["Unnamed: 0.1", "Unnamed: 0"]
                               and c["rows_used"] == 40),
}


def test_the_corpus_is_big_enough_and_every_file_has_an_expectation():
    refused = sorted(os.listdir(os.path.join(CORPUS, "refused")))
    accepted = sorted(os.listdir(os.path.join(CORPUS, "accepted")))
    assert sorted(set(REFUSED) - set(make_corpus.GENERATED) - {"/dev/null"}) == refused
    assert sorted(ACCEPTED) == accepted
    assert set(make_corpus.GENERATED) <= set(REFUSED)
    assert len(REFUSED) >= 30
    for name in refused + accepted:  # small files only in git
        folder = "refused" if name in REFUSED else "accepted"
        assert os.path.getsize(os.path.join(CORPUS, folder, name)) < 100 * 1024


def test_the_committed_files_are_what_the_generator_writes():
    """The corpus is reproducible: make_corpus.py writes exactly the committed bytes (Parquet
    files aside, whose footer names the pyarrow version that wrote them)."""
    for folder, files in (("refused", make_corpus.refused_files()), ("accepted", make_corpus.accepted_files())):
        for name, data in files.items():
            if name.endswith(".parquet") or name == "parquet_named.csv":
                continue
            with open(os.path.join(CORPUS, folder, name), "rb") as handle:
                assert handle.read() == data, name


@contextlib.contextmanager
def corpus_input(name, tmp_path):
    """The path of corpus input ``name``: committed, generated, or a device."""
    if name.startswith("/"):
        yield name
    elif name in make_corpus.GENERATED:
        path = make_corpus.make_generated(name, str(tmp_path))
        try:
            yield path
        finally:
            if name == "unreadable.csv":
                os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    else:
        yield os.path.join(CORPUS, "refused", name)


def assert_refused(result, path, expected, cache_dir):
    """Refused as every command refuses (helpers.refused), by hp-load (also when the driver ran
    it), naming the file, what is wrong and what to do."""
    status, fragment = expected
    line = refused(result, status, fragment, command="hp-load", cache_dir=cache_dir)
    assert line.startswith("hp-load: error: %s: " % path), line
    what, _, todo = line.partition("; ")
    assert todo and what, "the line must say what is wrong; what to do: %s" % line


def env_with(cache_dir):
    env = dict(os.environ, HP_CACHE_DIR=str(cache_dir), NO_COLOR="1")
    env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
    return env


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_by_hp_load(name, tmp_path, bundles, cache_dir):
    bundle, _ = bundles(REFUSED_BUNDLE.get(name, "hpc"))
    with corpus_input(name, tmp_path) as path:
        if name == "unreadable.csv" and without_override():  # root: in a process without the override
            done = subprocess.run(without_override() + [os.path.join(BIN, "hp-load"), path, "--baseline-model",
                                                         bundle], capture_output=True, text=True,
                                  env=env_with(cache_dir))
            assert_refused(Result(done.returncode, done.stdout, done.stderr), path, REFUSED[name], cache_dir)
            return
        result = run("hp-load", path, "--baseline-model", bundle)
        assert_refused(result, path, REFUSED[name], cache_dir)
        with_verbose = run("hp-load", path, "--baseline-model", bundle, "--verbose")
        assert with_verbose.code == result.code
        assert with_verbose.stderr.splitlines()[-1] == result.stderr.splitlines()[0]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_by_the_driver(name, tmp_path, bundles, cache_dir):
    bundle, _ = bundles(REFUSED_BUNDLE.get(name, "hpc"))
    workdir = str(tmp_path / "work")
    os.mkdir(workdir)
    prefix = without_override() if name == "unreadable.csv" else []
    with corpus_input(name, tmp_path) as path:
        output = os.path.join(workdir, "out.json")
        done = subprocess.run(prefix + [DRIVER, "--data-path", path, "--baseline-model", bundle, "--output-format",
                                        "json", "--output-file", output],
                              capture_output=True, text=True, env=env_with(cache_dir), cwd=workdir)
        assert_refused(Result(done.returncode, done.stdout, done.stderr), path, REFUSED[name], cache_dir)
        assert not os.path.exists(output)
        assert os.listdir(workdir) == []  # no temporary file left either


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepted_with_what_it_warns(name, bundles):
    bundle, _ = bundles("hpc")
    warnings, check = ACCEPTED[name]
    path = os.path.join(CORPUS, "accepted", name)
    result = run("hp-load", path, "--baseline-model", bundle)
    assert result.code == 0, result
    (record,) = result.records
    validate(record, "load")
    contribution = record["contribution"]
    printed = [line for line in result.err_lines if line.startswith("hp-load: warning: ")]
    assert len(printed) == len(warnings), printed
    for line, fragment in zip(printed, warnings):
        assert fragment in line
    assert contribution["validation"]["warnings"] == [line[len("hp-load: warning: "):] for line in printed]
    assert check(contribution, pd.read_parquet(contribution["table_path"]))


def test_accepted_inputs_go_through_the_driver(tmp_path, bundles):
    """An accepted input with a warning previews end to end; the warning shows once."""
    bundle, _ = bundles("hpc")
    output = tmp_path / "out.json"
    done = subprocess.run([DRIVER, "--data-path", os.path.join(CORPUS, "accepted", "some_unseen_labels.csv"),
                           "--baseline-model", bundle, "--output-format", "json", "--output-file", str(output)],
                          capture_output=True, text=True, env=env_with(tmp_path / "cache"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr.count("dropped 3 rows whose labels the baseline does not know") == 1
    warnings = json.loads(output.read_text())["preview_metadata"]["warnings"]
    assert len([w for w in warnings if "the baseline does not know" in w]) == 1, warnings


@pytest.mark.parametrize("argv, status, fragment", [
    (["--format", "xlsx"], 2, "--format must be one of csv, tsv, json, jsonl, parquet, not 'xlsx'"),
    (["--baseline-model", "/nonexistent/bundle"], 4, "baseline bundle /nonexistent/bundle does not exist"),
    (["--baseline-model", os.path.join(ROOT, "datasets")], 4, "manifest.json"),
    # A forced format the content contradicts is named as such, not as the error it would cause.
    (["--format", "parquet"], 3, "utf8_bom.csv: is text by its content, not Parquet as --format says; leave "
                                 "--format out (the format is detected) or give the right one"),
    (["--format", "json"], 3, "utf8_bom.csv: is CSV by its content, not JSON as --format says; leave --format out "
                              "(the format is detected) or give the right one"),
])
def test_other_exit_statuses(argv, status, fragment):
    refused(run("hp-load", os.path.join(CORPUS, "accepted", "utf8_bom.csv"), *argv), status, fragment)


def test_a_parquet_file_forced_to_be_read_as_text_is_named_as_parquet():
    refused(run("hp-load", "--format", "csv", os.path.join(EXAMPLES, "hpc_jobs_700.parquet")), 3,
            "hpc_jobs_700.parquet: is Parquet by its content, not CSV as --format says")


@pytest.mark.parametrize("forced, lines, said", [
    ("csv", False, "JSON"), ("jsonl", False, "JSON"), ("csv", True, "JSON Lines")])
def test_json_records_forced_to_be_read_otherwise_are_named_as_they_are(tmp_path, forced, lines, said):
    """Read as CSV they failed on "ragged rows", and an array read as JSON Lines on its line 1:
    advice that fixed nothing."""
    import pandas as pd

    path = tmp_path / ("rows.jsonl" if lines else "rows.json")
    pd.read_json(os.path.join(EXAMPLES, "hpc_jobs_500.json")).head(20).to_json(str(path), orient="records",
                                                                               lines=lines)
    refused(run("hp-load", "--format", forced, str(path)), 3,
            "rows.json%s: is %s by its content, not %s as --format says; leave --format out" % (
                "l" if lines else "", said, {"csv": "CSV", "jsonl": "JSON Lines"}[forced]))


def test_the_readme_counts_the_corpus():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = " ".join(handle.read().split())
    assert "runs every refused input (%d) through `hp-load`" % len(REFUSED) in readme
    assert "checks the accepted ones (%d) with their warnings" % len(ACCEPTED) in readme
