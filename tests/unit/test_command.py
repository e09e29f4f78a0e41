"""The command base on its own: how failures that are not the command's own become one line."""

import errno
import json
import os

import pytest

from helpers import EXAMPLES, command_class, run
from hokusai_preview.core.command import Command


class Failing(Command):
    name = "hp-failing"
    usage = """hp-failing: fails as told.

Usage:
  hp-failing [options]

Options:
  -v --verbose   Show tracebacks.
"""

    def __init__(self, error):
        self.error = error

    def run(self, args):
        raise self.error


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_full_disk_is_the_users_to_fix_not_a_bug(code, capsys):
    status = Failing(OSError(code, "No space left on device", "/cache/train/x.npz")).main([])
    assert status == 7
    err = capsys.readouterr().err
    assert err == ("hp-failing: error: no space left to write /cache/train/x.npz; free some space or point "
                   "--cache-dir (or HP_CACHE_DIR) at a disk with room\n")


def test_another_os_error_is_an_internal_error(capsys):
    assert Failing(OSError(errno.EIO, "Input/output error")).main([]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hp-failing: error: internal error: OSError: [Errno 5] Input/output error; run again")
    assert err.count("\n") == 1


def test_cached_files_removed_while_a_stage_runs_are_the_users_to_fix_not_a_bug(tmp_path, capsys):
    # hp-cache --clear in another terminal while a pipeline runs: the stage meets a missing
    # file halfway through its work.
    loaded = run("hp-load", EXAMPLES + "/hpc_jobs_500.json", "--cache-dir", tmp_path)
    record_file = tmp_path / "load.jsonl"
    record_file.write_text(loaded.stdout)
    table = json.loads(loaded.stdout)["contribution"]["table_path"]
    base = command_class("hp-sample")

    class ClearedMidway(base):
        def compute(self, record, entry):
            os.unlink(table)
            return base.compute(self, record, entry)

    status = ClearedMidway().main(["--cache-dir", str(tmp_path), "--sample-size", "100", str(record_file)])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert err == ("hp-sample: error: the load record's cached files were removed while hp-sample ran; "
                   "run the pipeline again from hp-load\n")
    assert not list((tmp_path / "sample").rglob("entry.json"))


@pytest.mark.parametrize("value", [" 5", "5 ", "5_00", "٥٠٠", "+5", "5.0", "0x10", ""])
def test_a_whole_number_option_takes_ascii_digits_only(value):
    """int() takes all of these; a number typed on the command line is digits."""
    from hokusai_preview.core.command import positive_int
    from hokusai_preview.core.errors import UsageError

    with pytest.raises(UsageError, match="^--sample-size must be a whole number, not "):
        positive_int({"--sample-size": value}, "--sample-size")
    assert positive_int({"--sample-size": "500"}, "--sample-size") == 500
    assert positive_int({"--sample-size": "9" * 30}, "--sample-size") == int("9" * 30)
