"""What every stage does with input that is not its records: one line, exit 2, nothing on stdout."""

import json

import pytest

from helpers import EXAMPLES, run, validate

# stage -> the kind of record it reads (one of them)
STAGES = {"hp-check": "load", "hp-sample": "load", "hp-train": "sample", "hp-eval": "train", "hp-delta": "eval",
          "hp-format": "delta"}


def refused(result):
    assert result.code == 2, result
    assert result.stdout == "" and len(result.err_lines) == 1, result
    return result.err_lines[0]


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_binary_file_is_not_records(stage):
    line = refused(run(stage, EXAMPLES + "/hpc_jobs_700.parquet"))
    assert "is not UTF-8 text" in line and "hpc_jobs_700.parquet" in line


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_line_that_is_not_json(stage):
    line = refused(run(stage, stdin=b"protocol,compounds\n"))
    assert "line 1 of <stdin> is not a JSON record" in line


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_record_of_another_stage(stage):
    line = refused(run(stage, stdin=json.dumps({"record": "nonsense", "key": "x"}).encode()))
    assert "is a 'nonsense' record, not one %s reads" % stage in line


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_record_without_its_key(stage):
    kind = STAGES[stage]
    line = refused(run(stage, stdin=json.dumps({"record": kind}).encode()))
    assert "is a %r record without its key" % kind in line


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_error_records_pass_through(stage):
    error = {"record": "error", "source_path": "x.csv",
             "error": {"kind": "bad_data", "exit_code": 3, "message": "x.csv: is empty"}}
    validate(error, "error")
    result = run(stage, stdin=json.dumps(error).encode())
    assert result.code == 0, result
    if stage != "hp-format":
        assert result.records == [error]


@pytest.mark.parametrize("flags", [("--verbose",), ("-v",), ("-qv",), ("--verb",)])
def test_verbose_in_any_spelling_shows_the_traceback(flags):
    quiet = run("hp-check", EXAMPLES + "/hpc_jobs_700.parquet")
    loud = run("hp-check", EXAMPLES + "/hpc_jobs_700.parquet", *flags)
    assert loud.code == quiet.code == 2
    assert "Traceback (most recent call last)" in loud.stderr
    assert loud.err_lines[-1] == quiet.err_lines[0]
