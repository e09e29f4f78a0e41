"""The command base on its own: how failures that are not the command's own become one line."""

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

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
def test_a_full_disk_is_the_users_to_fix_not_a_bug(code, capsys, monkeypatch):
    monkeypatch.setenv("HP_CACHE_DIR", "/cache")
    status = Failing(OSError(code, "No space left on device", "/cache/train/x.npz")).main([])
    assert status == 7
    err = capsys.readouterr().err
    assert err == ("hp-failing: error: no space left to write /cache/train/x.npz; free some space or point "
                   "--cache-dir (or HP_CACHE_DIR) at a disk with room\n")


def test_a_full_disk_where_the_output_goes_names_that_place_not_the_cache(capsys, monkeypatch):
    monkeypatch.setenv("HP_CACHE_DIR", "/cache")
    assert Failing(OSError(errno.ENOSPC, "No space left on device", "/out/report.json")).main([]) == 7
    assert capsys.readouterr().err == ("hp-failing: error: no space left to write /out/report.json; free some "
                                       "space where /out/report.json is written, or write it to a disk with room\n")


@pytest.mark.parametrize("where,hint", [
    ("/cache/load/x.parquet",
     "raise the limit, or point --cache-dir (or HP_CACHE_DIR) at a disk that takes larger files"),
    ("/out/report.json", "raise the limit, or write /out/report.json elsewhere"),
])
def test_a_file_over_the_size_limit_is_one_line_and_exit_7(where, hint, capsys, monkeypatch):
    monkeypatch.setenv("HP_CACHE_DIR", "/cache")
    assert Failing(OSError(errno.EFBIG, "File too large", where)).main([]) == 7
    assert capsys.readouterr().err == (
        "hp-failing: error: %s would be larger than the system lets a file be (the file size limit, ulimit -f); %s\n"
        % (where, hint))


def test_atomic_path_says_which_file_a_failed_write_was_for(tmp_path):
    from hokusai_preview.core.fsutil import atomic_path

    target = str(tmp_path / "out.json")
    with pytest.raises(OSError) as caught:
        with atomic_path(target) as tmp:
            with open(tmp, "wb"):
                raise OSError(errno.ENOSPC, "No space left on device")
    assert caught.value.filename == target and os.listdir(str(tmp_path)) == []


def test_ulimit_f_is_one_line_and_exit_7(tmp_path):
    import resource
    import subprocess
    import sys

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))

    env = dict(os.environ, HP_CACHE_DIR=str(tmp_path / "cache"))
    bin_dir = os.path.dirname(os.path.abspath(sys.executable))
    done = subprocess.run([os.path.join(bin_dir, "hp-load"), "-q", os.path.join(EXAMPLES, "hpc_jobs_500.json")],
                          env=env, capture_output=True, text=True, preexec_fn=small_files, timeout=300)
    assert done.returncode == 7, done.stderr
    assert done.stderr.count("\n") == 1 and "file size limit" in done.stderr and "internal error" not in done.stderr


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
    from hokusai_preview.core.errors import UsageError
    from hokusai_preview.core.options import int_option

    with pytest.raises(UsageError, match="^--sample-size must be a whole number, not "):
        int_option({"--sample-size": value}, "--sample-size")
    assert int_option({"--sample-size": "500"}, "--sample-size") == 500
    assert int_option({"--sample-size": "9" * 30}, "--sample-size") == int("9" * 30)


def test_a_signal_python_drops_in_a_callback_still_ends_the_command():
    # A weakref callback (importlib's module locks have them) swallows what the handler raises:
    # both signals are then ignored, so the kernel must end the command after its grace.
    script = textwrap.dedent("""
        import os, signal, sys, time, weakref
        from hokusai_preview.core import command
        command.CLEANUP_SECONDS = 1
        signal.signal(signal.SIGTERM, command._on_signal)
        class Thing: pass
        thing = Thing()
        def callback(ref):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)  # the handler runs here, and its exception goes nowhere
        ref = weakref.ref(thing, callback)
        del thing
        sys.stderr.write("dropped\\n")
        sys.stderr.flush()
        time.sleep(5)
        sys.stderr.write("survived\\n")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert "dropped" in done.stderr and "survived" not in done.stderr, done.stderr
    assert done.returncode == -signal.SIGALRM


def test_a_command_called_in_process_leaves_no_watchdog_behind(monkeypatch):
    # The watchdog is for a process about to end; a caller of main() (a test, a script) lives on.
    class Slow(Command):
        name = "hp-slow"
        usage = "Usage: hp-slow"

        def run(self, args):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)

    monkeypatch.setenv("HP_SIGNAL_QUIET", "1")
    before = signal.getsignal(signal.SIGALRM)
    assert Slow().main([]) == 143
    assert signal.alarm(0) == 0  # none pending
    assert signal.getsignal(signal.SIGALRM) is before


@pytest.mark.parametrize("handled, quiet, line", [
    (False, False, "hp-sample: error: interrupted; nothing was written\n"),
    (False, True, ""),  # in the driver's pipe: the driver says it once
    (True, False, "")])  # main has said it: a second signal (the driver passes it on) adds nothing
def test_a_signal_outside_main_ends_with_one_line_not_a_traceback(handled, quiet, line):
    """Before main installs its handlers, or after it has restored them, SIGINT is exit 130 and at
    most one line: a KeyboardInterrupt there printed a traceback (seen once in CI, a stage ending
    as the driver passed Ctrl-C on)."""
    script = textwrap.dedent("""
        import os, signal, time
        from hokusai_preview.core import command
        from hokusai_preview.stages.sample import Sample
        signal.signal(signal.SIGINT, signal.default_int_handler)  # not ignored, as a background job's is
        stage = Sample()
        stage.handled_signals = %r
        command._end_on_signal_outside_main(stage)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
        print("not ended")
    """ % handled)
    env = dict(os.environ, **({"HP_SIGNAL_QUIET": "1"} if quiet else {}))
    if not quiet:
        env.pop("HP_SIGNAL_QUIET", None)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (130, "", line)
