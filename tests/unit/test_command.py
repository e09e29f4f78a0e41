"""The command base on its own: how failures that are not the command's own become one line."""

import errno

import pytest

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
