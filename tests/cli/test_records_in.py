"""What every stage does with input that is not its records: one line, exit 2, nothing on stdout."""

import json
import os

import pytest

from helpers import BIN, EXAMPLES, pipe, refused, run, validate
from hokusai_preview.core.records import FILE_FIELDS

# stage -> the kind of record it reads (one of them)
STAGES = {"hp-check": "load", "hp-sample": "load", "hp-train": "sample", "hp-eval": "train", "hp-delta": "eval",
          "hp-format": "delta"}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_binary_file_is_not_records(stage):
    line = refused(run(stage, EXAMPLES + "/hpc_jobs_700.parquet"), 2)
    assert "is not UTF-8 text" in line and "hpc_jobs_700.parquet" in line


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_line_that_is_not_json(stage):
    line = refused(run(stage, stdin=b"protocol,compounds\n"), 2)
    assert "line 1 of <stdin> is not a JSON record" in line


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_record_of_another_stage(stage):
    line = refused(run(stage, stdin=json.dumps({"record": "nonsense", "key": "x"}).encode()), 2)
    assert "is a record of kind 'nonsense', not one %s reads" % stage in line


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_json_that_is_not_a_stage_record(stage):
    line = refused(run(stage, stdin=b'{"protocol": "MPI"}\n'), 2)
    assert 'line 1 of <stdin> is not a stage record (it has no "record" field); feed it the output of hp-' in line


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_record_without_its_key(stage):
    kind = STAGES[stage]
    line = refused(run(stage, stdin=json.dumps({"record": kind}).encode()), 2)
    assert "is a record of kind %r without its key" % kind in line


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_record_cut_short_is_refused_naming_what_it_lacks(stage):
    kind = STAGES[stage]
    record = {"record": kind, "key": "0" * 64, "baseline": {"path": "/nowhere"}}
    line = refused(run(stage, stdin=(json.dumps(record) + "\n").encode()), 2)
    assert line.startswith("%s: error: line 1 of <stdin> is a record of kind %r without baseline.model_id, so not one "
                           "hp-%s wrote whole; feed it the output of hp-" % (stage, kind, kind))


def test_a_record_naming_a_file_that_is_not_there_is_refused_before_anything_is_cached(tmp_path):
    # Every stage's real input, from one run of the pipeline.
    steps = [("hp-load", EXAMPLES + "/hpc_jobs_500.json"), ("hp-check",), ("hp-sample",), ("hp-train",),
             ("hp-eval",)]
    records = {step[0][3:]: result.records[0] for step, result in zip(steps, pipe(*steps))}
    for stage, kind in sorted(STAGES.items()):
        if stage == "hp-format":
            continue  # renders the output section; it reads no file
        record = json.loads(json.dumps(records[kind]))
        section = next(name for name, value in record.items()
                       if isinstance(value, dict) and any(field in value for field in FILE_FIELDS))
        field = next(field for field in FILE_FIELDS if field in record[section])
        record[section][field] = str(tmp_path / "gone.parquet")
        # (In the cache that ran the pipeline the record's key finds the real result: no file is read.)
        other = tmp_path / ("cache-" + stage)
        line = refused(run(stage, "--cache-dir", other, stdin=json.dumps(record).encode()), 2, cache_dir=other)
        assert line == ("%s: error: the %s record's %s.%s names %s, which is not a file; feed it a record an "
                        "earlier stage wrote, unedited, or run the pipeline again from hp-load"
                        % (stage, kind, section, field, tmp_path / "gone.parquet"))


EDITS = [  # what a hand edit that the stage could misread looks like, and the field it is caught at
    ("hp-sample", "check", lambda r: r["check"].update(rows_used=5), "check.rows_used"),
    ("hp-sample", "check", lambda r: r["check"].update(table_path=None), "check.table_path"),
    ("hp-check", "load", lambda r: r["contribution"].update(rows_used="500"), "contribution.rows_used"),
    ("hp-delta", "eval", lambda r: r["evaluation"].update(baseline_full_metrics={}),
     "evaluation.baseline_full_metrics.accuracy"),
    ("hp-delta", "eval", lambda r: r["evaluation"]["new_metrics"].update(accuracy=None),
     "evaluation.new_metrics.accuracy"),
]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Every record kind of one real pipeline run, and the cache that ran it."""
    cache = tmp_path_factory.mktemp("written") / "cache"
    steps = [("hp-load", EXAMPLES + "/hpc_jobs_500.json"), ("hp-check",), ("hp-sample",), ("hp-train",),
             ("hp-eval",)]
    steps = [step[:1] + ("--cache-dir", str(cache)) + step[1:] for step in steps]
    return {step[0][3:]: result.records[0] for step, result in zip(steps, pipe(*steps))}, cache


@pytest.mark.parametrize("stage, kind, edit, field", EDITS, ids=[e[3] for e in EDITS])
def test_a_record_edited_since_its_stage_cached_it_is_refused_and_nothing_is_cached(stage, kind, edit, field,
                                                                                    written):
    records, cache = written
    record = json.loads(json.dumps(records[kind]))
    edit(record)
    before = sorted(cache.rglob("entry.json"))
    line = refused(run(stage, "--cache-dir", cache, stdin=json.dumps(record).encode()), 2)
    assert line == ("%s: error: the %s record differs from the one hp-%s cached under its key, at %s (edited, or the "
                    "entry was rebuilt since); feed %s the record hp-%s writes now, unedited: run the pipeline again "
                    "from hp-%s" % (stage, kind, kind, field, stage, kind, kind))
    assert sorted(cache.rglob("entry.json")) == before


@pytest.mark.parametrize("edit, reason", [
    (lambda r: r["timings"].update(load="abc"), '"timings" is not an object of stage -> seconds'),
    (lambda r: r["timings"].update(load=float("inf")), '"timings" is not an object of stage -> seconds'),
    (lambda r: r["timings"].update(load=float("nan")), '"timings" is not an object of stage -> seconds'),
    (lambda r: r.update(cache=5), '"cache" is not an object of stage -> hit or miss'),
])
def test_per_run_facts_that_no_stage_wrote_are_refused_on_input(edit, reason, written, tmp_path):
    record = json.loads(json.dumps(written[0]["check"]))
    edit(record)
    line = refused(run("hp-sample", "--cache-dir", tmp_path / "cache", stdin=json.dumps(record).encode()), 2)
    assert line == "hp-sample: error: line 1 of <stdin>: %s; feed it the output of hp-load or hp-check, " \
                   "unedited" % reason
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").rglob("entry.json"))


def test_a_record_from_another_cache_is_keyed_by_its_content_not_its_key(written, tmp_path):
    """Where the record's key names nothing, an edited record cannot be told from the real one; it is
    neither answered with the result its key names nor stored in that one's place."""
    import pandas as pd

    check = written[0]["check"]
    other = run("hp-load", "--cache-dir", written[1], EXAMPLES + "/hpc_jobs_1000.csv").records[0]
    edited = json.loads(json.dumps(check))
    edited["check"]["table_path"] = other["contribution"]["table_path"]  # the key still names the 500 rows
    edited["check"]["rows_used"] = other["contribution"]["rows_used"]
    elsewhere = tmp_path / "elsewhere"
    wrong = run("hp-sample", "--sample-size", "123", "--cache-dir", elsewhere, stdin=json.dumps(edited).encode())
    assert wrong.code == 0, wrong
    right = run("hp-sample", "--sample-size", "123", "--cache-dir", elsewhere, stdin=json.dumps(check).encode())
    assert right.records[0]["cache"]["sample"] == "miss"  # not the edited record's result
    assert right.records[0]["key"] != wrong.records[0]["key"]
    home = run("hp-sample", "--sample-size", "123", "--cache-dir", written[1], stdin=json.dumps(check).encode())
    pd.testing.assert_frame_equal(pd.read_parquet(right.records[0]["sample"]["table_path"]),
                                  pd.read_parquet(home.records[0]["sample"]["table_path"]))


def _cut(content):
    """The path of an .npz file holding only ``content``: empty, or a zip's first bytes."""
    import tempfile

    handle, path = tempfile.mkstemp(suffix=".npz")
    os.write(handle, content)
    os.close(handle)
    return path


@pytest.mark.parametrize("stage, kind, edit, reason", [
    ("hp-delta", "eval", lambda r: r["sample"].pop("sample_size_used"), 'no field "sample_size_used"'),
    ("hp-delta", "eval", lambda r: r["evaluation"]["new_metrics"].update(accuracy=None),
     "ValueError: accuracy None is no score from 0 to 1"),
    # a score no evaluation gives: the output would break its own schema (delta_one_score -2e+307)
    ("hp-delta", "eval", lambda r: r["evaluation"]["baseline_full_metrics"].update(accuracy=1e308),
     "ValueError: accuracy 1e+308 is no score from 0 to 1"),
    ("hp-eval", "train", lambda r: r["training"].update(predictions_path=_cut(b"")),
     "EOFError: .../"),  # the same words whatever numpy says of an empty file
    ("hp-eval", "train", lambda r: r["training"].update(predictions_path=_cut(b"PK\x03\x04" + bytes(40))),
     "BadZipFile: "),
    ("hp-check", "load", lambda r: r["contribution"].update(rows_used="500"), "TypeError: '>"),
    ("hp-sample", "check", lambda r: r["check"].update(rows_used=None), "TypeError: check.table_path and its row "
                                                                        "count are not a path and a number"),
    ("hp-sample", "check", lambda r: r["check"].update(table_path=None), "TypeError: check.table_path"),
    ("hp-sample", "check", lambda r: r["check"].update(rows_used=5), "ValueError: "),
])
def test_a_record_from_another_cache_a_stage_cannot_use_is_one_line_and_exit_2(stage, kind, edit, reason, written,
                                                                               tmp_path):
    record = json.loads(json.dumps(written[0][kind]))
    edit(record)
    cache = tmp_path / "elsewhere"
    line = refused(run(stage, "--cache-dir", cache, stdin=json.dumps(record).encode()), 2)
    assert line.startswith("%s: error: the %s record is not as hp-%s wrote it, and %s cannot use it (%s" % (
        stage, kind, kind, stage, reason)), line
    assert line.endswith("; feed it a record an earlier stage wrote, unedited, or run the pipeline again from hp-load")
    assert not cache.exists() or not list(cache.rglob("entry.json"))


def test_what_a_stage_makes_of_a_record_it_cannot_vouch_for_stays_unvouched(written, tmp_path):
    """A field hp-check passes on unread, bad in a record from another cache: hp-delta, which
    reads it three stages later, calls it a usage error, not a bug of its own."""
    record = json.loads(json.dumps(written[0]["load"]))
    record["key"] = "6" * 64  # a key this cache does not hold
    record["contribution"]["validation"]["warnings"] = -1
    cache = tmp_path / "cache"
    steps = [("hp-check",), ("hp-sample",), ("hp-train",), ("hp-eval",), ("hp-delta",)]
    results = pipe(*[step + ("--cache-dir", str(cache)) for step in steps], stdin=json.dumps(record).encode())
    assert [r.code for r in results] == [0, 0, 0, 0, 2]
    assert all(r.records[0]["unchecked"] is True for r in results[:-1])
    assert results[-1].err_lines == [
        "hp-delta: error: the eval record was made from a record not as its stage wrote it, and hp-delta cannot use "
        "it (TypeError: 'int' object is not iterable); feed it a record an earlier stage wrote, unedited, or run the "
        "pipeline again from hp-load"]
    sound = run("hp-check", "--cache-dir", written[1], stdin=json.dumps(written[0]["load"]).encode())
    assert "unchecked" not in sound.records[0]  # records of records as written carry no mark


def test_an_error_record_nested_too_deeply_is_refused_not_a_recursion_error(tmp_path):
    deep = 1
    for _ in range(600):
        deep = [deep]
    record = {"record": "error", "source_path": "x", "error": {"kind": "bad_data", "exit_code": 3, "message": "m"},
              "extra": deep}
    result = run("hp-sample", "--cache-dir", tmp_path / "cache", stdin=json.dumps(record).encode())
    assert refused(result, 2) == ("hp-sample: error: line 1 of <stdin> nests deeper than 32 levels, deeper than any "
                               "record a stage writes; feed it the output of hp-load or hp-check, unedited")


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_record_files_may_follow_a_double_dash(stage, tmp_path):
    error = {"record": "error", "source_path": "-x.csv",
             "error": {"kind": "bad_data", "exit_code": 3, "message": "-x.csv: is empty"}}
    name = tmp_path / "-records.jsonl"  # a name that would read as an option
    name.write_text(json.dumps(error) + "\n")
    result = run(stage, "--", name)
    assert result.code == 0, result
    if stage == "hp-format":  # the error, reported for a person
        assert result.stdout == "✘ -x.csv failed (bad_data, exit status 3)\n  -x.csv: is empty\n"
    else:  # passed on: the file was read, not ignored
        assert result.records == [error]


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_error_records_pass_through(stage):
    error = {"record": "error", "source_path": "x.csv",
             "error": {"kind": "bad_data", "exit_code": 3, "message": "x.csv: is empty"}}
    validate(error, "error")
    result = run(stage, stdin=json.dumps(error).encode())
    assert result.code == 0, result
    if stage == "hp-format":
        assert result.stdout == "✘ x.csv failed (bad_data, exit status 3)\n  x.csv: is empty\n"
    else:
        assert result.records == [error]


@pytest.mark.parametrize("flags", [("--verbose",), ("-v",), ("--verb",)])
def test_verbose_in_any_spelling_shows_the_traceback(flags):
    quiet = run("hp-check", EXAMPLES + "/hpc_jobs_700.parquet")
    loud = run("hp-check", EXAMPLES + "/hpc_jobs_700.parquet", *flags)
    assert loud.code == quiet.code == 2
    assert "Traceback (most recent call last)" in loud.stderr
    assert loud.err_lines[-1] == quiet.err_lines[0]


def test_a_bad_second_input_leaves_stdout_empty(tmp_path):
    loaded = run("hp-load", EXAMPLES + "/hpc_jobs_500.json")
    assert loaded.code == 0
    for stdin, names in ((loaded.stdout + "garbage\n", ()), (loaded.stdout, ("-", str(tmp_path / "nosuch.jsonl")))):
        result = run("hp-sample", "--sample-size", "100", *names, stdin=stdin.encode())
        assert result.code == 2 and result.stdout == "", result
    twice = run("hp-load", "-", "-", stdin=b"a,b\n1,2\n")
    assert twice.code == 2 and twice.stdout == ""
    assert twice.err_lines == ["hp-load: error: - (stdin) is named 2 times; it can be read once; "
                               "name it once, or save the data to files"]
    for stage in ("hp-check", "hp-format"):
        again = run(stage, "-", "-", stdin=loaded.stdout.encode())
        assert again.code == 2 and again.stdout == ""
        assert again.err_lines == ["%s: error: - (stdin) is named 2 times; it can be read once; name it once, or "
                                   "save the records to files" % stage]


@pytest.mark.parametrize("argv, reason", [
    (("hp-sample", "--bogus"), "unknown option --bogus"),
    (("hp-sample", "--seed", "1", "--seed", "2"), "--seed is given more than once"),
    (("hp-sample", "--sede", "3"), "unknown option --sede; did you mean --seed?"),
    (("hp-format", "--output", "json"), "--output could be --output-file or --output-format; write the option in "
                                        "full"),
    (("hp-format", "--output-form=json", "--summary-format", "csv"), "--summary-format needs --summary"),
    (("hp-cache", "--stage", "load"), "--stage needs --clear; see 'hp-cache --help'"),
    # an option of the [options] list alone: what the command still needs, not "cannot be used that way"
    (("hp-baseline", "-q"), "--train-data, --benchmark-data and --output are required; e.g. hp-baseline "),
    (("hp-load", "--quiet"), "<data-path> is required; e.g. hp-load <data-path>..."),
    (("hp-cache", "--clear", "--max-bytes", "1G"), "--max-bytes cannot be used with --clear; see 'hp-cache --help'"),
    (("hp-baseline", "--train-data", "a.csv"), "--benchmark-data and --output are required; e.g. hp-baseline "
                                               "--train-data BASE --benchmark-data BENCH --output DIR"),
    (("hp-baseline",), "--train-data, --benchmark-data and --output are required"),
    (("hp-train", "--seed"), "--seed needs a value; e.g. --seed N"),
    (("hp-load", "--seed", "-5"), "unknown option --seed"),  # -5 is --seed's value, not a flag
    (("hp-sample", "--seed", "4294967296"), "--seed must be at most 4294967295, not 4294967296"),
    (("hp-delta", "--bootstrap", "99999999999"), "--bootstrap must be at most 100000, not 99999999999"),
    (("hp-format", "--output-file", ""), "--output-file was given an empty value; give it a value, or leave"),
    (("hp-sample", "--cache-dir", ""), "--cache-dir was given an empty value"),
    (("hp-cache", "--clear", "--stage", ""), "--stage was given an empty value"),
    (("hp-sample", "--sample-size", "0"), "--sample-size must be at least 1, not 0; see 'hp-sample --help'"),
    (("hp-train", "--jobs", "-1"), "--jobs must be at least 0, not -1; see 'hp-train --help'"),
    # A file name starting with '-' is not read as the flags -d -a -t -a -h (help, exit 0) ...
    (("hp-load", "-data.csv"), "-data.csv is not an option; to name a file whose name starts with '-', write "
                               "./-data.csv or put it after --"),
    (("hp-train", "-qvx"), "-qvx is not an option"),
    # ... and where no file names are taken, a letter is offered its long options instead.
    (("hp-baseline", "-o", "b"), "-o is not an option; did you mean --output?"),
    (("hp-baseline", "--train-data", "a", "--benchmark-data", "b", "--output", "c", "--"),
     "-- ends the options, but no names follow them here; leave -- out"),
    # Options that contradict each other are refused, not one silently winning.
    (("hp-sample", "-qv"), "--quiet and --verbose cannot go together: one asks for less on stderr, the other for "
                           "more; drop one of the two"),
    (("hp-train", "--full", "--target", "0.5"), "--target does not apply with --full, which grows every tree without "
                                                "stopping early; drop one of the two"),
    (("hp-train", "--min-trees=10", "--full"), "--min-trees does not apply with --full, which grows every tree "
                                               "without stopping early; drop one of the two"),
    (("hp-load",), "<data-path> is required; e.g. hp-load <data-path>..."),  # nothing given at all
    # Several files after --data-path, which takes one: the bare list takes many.
    (("hp-load", "--data-path", "a.csv", "b.csv", "c.csv"),
     "--data-path takes one path, so b.csv and c.csv cannot be given with it; to give several, leave --data-path "
     "out: hp-load a.csv b.csv c.csv"),
    # ... wherever they stand, the other options kept in the hint.
    (("hp-load", "b.csv", "--data-path=a.csv", "--quiet"),
     "--data-path takes one path, so b.csv cannot be given with it; to give several, leave --data-path out: "
     "hp-load b.csv a.csv --quiet"),
])
def test_option_errors_say_what_is_wrong_in_words(argv, reason):
    result = run(*argv, stdin=b"")
    assert result.code == 2 and result.stdout == ""
    assert len(result.err_lines) == 1 and result.err_lines[0].startswith("%s: error: %s" % (argv[0], reason)), result


@pytest.mark.parametrize("argv, line", [
    ((), "--data-path is required; e.g. hokusai-preview --data-path PATH"),
    (("examples/a.csv",), "unexpected argument examples/a.csv; give a data file as --data-path examples/a.csv"),
    (("--data-path", "a.csv", "b.csv"), "unexpected argument b.csv; --data-path takes one file: run the command "
                                        "once per file"),
    (("--data-path",), "--data-path needs a value; e.g. --data-path PATH"),
    (("--data", "a.csv", "--outptu-format", "json"), "unknown option --outptu-format; did you mean --output-format?"),
    (("--data-path", "a.csv", "--sample", "5", "--full"), "--sample-size does not apply with --full, which uses "
                                                          "every row; drop one of the two"),
    (("--data-path", "a.csv", "--quiet", "--verbose"), "--quiet and --verbose cannot go together: one asks for less "
                                                       "on stderr, the other for more; drop one of the two"),
])
def test_the_drivers_command_line_mistakes_are_put_in_words(argv, line):
    from hokusai_preview.core.errors import UsageError
    from hokusai_preview.tools.args import shell_code

    with pytest.raises(UsageError) as raised:
        shell_code(list(argv))
    assert raised.value.line() == line


def test_the_driver_refuses_a_dashed_file_name_alike():
    from hokusai_preview.core.errors import UsageError
    from hokusai_preview.tools.args import shell_code

    with pytest.raises(UsageError, match=r"^-data\.csv is not an option$") as caught:
        shell_code(["-data.csv"])
    assert caught.value.hint == "did you mean --data-path?"  # it takes no file names: ./-data.csv would not do
    assert "opt_data_path=-data.csv" in shell_code(["--data-path", "-data.csv"])  # an option's value may


@pytest.mark.parametrize("words", [["--sample-size", "10"], ["--sample-size=10"], ["--sample", "10"]])
def test_the_driver_refuses_a_sample_size_with_full(words):
    from hokusai_preview.core.errors import UsageError
    from hokusai_preview.tools.args import shell_code

    with pytest.raises(UsageError, match=r"^--sample-size does not apply with --full, which uses every row$"):
        shell_code(["--data-path", "x.csv", "--full"] + words)
    assert "opt_full=1" in shell_code(["--data-path", "x.csv", "--full"])
    assert "opt_sample_size=10" in shell_code(["--data-path", "x.csv"] + words)


def test_a_record_nested_deeper_than_any_stage_writes_is_refused(written):
    """Valid JSON, 900 levels deep in a field of its own: refused in one line, not a RecursionError."""
    records, cache = written
    deep = 1
    for _ in range(900):
        deep = [deep]
    result = run("hp-sample", "--cache-dir", cache, stdin=json.dumps(dict(records["check"], extra=deep)))
    assert refused(result, 2) == ("hp-sample: error: line 1 of <stdin> nests deeper than 32 levels, deeper than any "
                               "record hp-check writes; feed it the output of hp-load or hp-check, unedited")


def test_records_saved_with_a_byte_order_mark_and_blank_lines_are_read(written):
    """An editor's BOM and blank lines are not records: the line numbers still count them."""
    records, cache = written
    text = "\ufeff" + json.dumps(records["check"]) + "\n\n"
    assert run("hp-sample", "--cache-dir", cache, stdin=text.encode()).code == 0
    broken = run("hp-sample", "--cache-dir", cache, stdin=(text + "\n{nope\n").encode())
    assert broken.code == 2
    assert broken.err_lines[0].startswith("hp-sample: error: line 4 of <stdin> is not a JSON record")


@pytest.mark.parametrize("stage", ["hp-sample", "hp-format"])
def test_a_record_line_nested_past_the_decoder_is_not_a_json_record(stage):
    result = run(stage, stdin=("[" * 100000 + "]" * 100000 + "\n").encode())
    assert result.code == 2 and result.stdout == ""
    assert result.err_lines[0].startswith("%s: error: line 1 of <stdin> is not a JSON record; feed %s the output of "
                                          % (stage, stage))


@pytest.mark.parametrize("where, words", [
    (">&-", "cannot write to stdout: it is closed; give it a file or a pipe (e.g. > out.txt)"),
    ("> /dev/full", "cannot write to stdout: No space left on device; send it to a file or a pipe that can take it"),
])
@pytest.mark.parametrize("stage", ["hp-sample", "hp-format"])
def test_a_stdout_that_cannot_be_written_is_an_output_error(stage, where, words, written, tmp_path):
    """Exit 7 with one line, not an internal error, nor a complaint about the input."""
    import os
    import shlex
    import subprocess


    record = tmp_path / "in.jsonl"
    if stage == "hp-format":
        record.write_text(run("hp-delta", "--cache-dir", written[1], stdin=json.dumps(written[0]["eval"])).stdout)
    else:
        record.write_text(json.dumps(written[0]["check"]) + "\n")
    cache = "" if stage == "hp-format" else "--cache-dir %s" % shlex.quote(str(written[1]))  # it caches nothing
    command = "%s %s %s %s" % (os.path.join(BIN, stage), cache, shlex.quote(str(record)), where)
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=300)
    lines = [line for line in done.stderr.splitlines() if ": error: " in line]
    assert done.returncode == 7, done.stderr
    assert lines == ["%s: error: %s" % (stage, words)]


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_line_longer_than_any_record_is_refused_before_it_fills_the_memory(stage, monkeypatch):
    """/dev/zero as a record file has no newline: read as one line, it grew to 24 GB."""
    from hokusai_preview.core import command

    monkeypatch.setattr(command, "MAX_LINE_BYTES", 1000)
    if stage == "hp-format":  # it reads its input whole (an indented output is one document)
        from hokusai_preview.stages import format as format_stage

        monkeypatch.setattr(format_stage, "MAX_INPUT_BYTES", 1000)
    line = refused(run(stage, stdin=b"{" + b" " * 5000), 2)
    assert "longer than" in line or "holds more than" in line, line


@pytest.mark.parametrize("stage", sorted(set(STAGES) - {"hp-format"}))
def test_a_lone_surrogate_in_a_record_is_not_json_it_can_use(stage, written):
    """Valid JSON escaping of no Unicode text: writing it out again was an internal error."""
    record = json.loads(json.dumps(written[0][STAGES[stage]]))
    record["key"] = "0" * 64
    record["baseline"]["model_id"] = "\udcff"
    line = refused(run(stage, stdin=json.dumps(record).encode()), 2)
    assert line.startswith("%s: error: line 1 of <stdin> is not a JSON record" % stage), line


def test_a_record_from_another_cache_that_also_holds_its_key_is_used_not_called_edited(written, tmp_path):
    """Keys do not depend on the cache's place: a second cache that previewed the same file holds
    the same key, with paths of its own. The record is that result written elsewhere, not an edit."""
    other = tmp_path / "other"
    loaded = run("hp-load", "--cache-dir", other, EXAMPLES + "/hpc_jobs_500.json").records[0]
    assert loaded["key"] == written[0]["load"]["key"] and loaded != written[0]["load"]
    checked = run("hp-check", "--cache-dir", written[1], stdin=json.dumps(loaded).encode())
    assert checked.code == 0, checked
    assert checked.records[0]["check"]["rows_used"] == written[0]["check"]["check"]["rows_used"]
    # edited beyond its paths, it is still refused
    loaded["contribution"]["rows_used"] = 7
    line = refused(run("hp-check", "--cache-dir", written[1], stdin=json.dumps(loaded).encode()), 2)
    assert "differs from the one hp-load cached under its key, at contribution.rows_used" in line
