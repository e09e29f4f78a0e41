"""Every command is documented in the README with its current --help text (sqlite-utils style)."""

import os
import re
import subprocess

import pytest

from helpers import BIN, ROOT

with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as _handle:
    SCRIPTS = re.findall(r'^(hp-[a-z-]+|hokusai-preview) = "', _handle.read(), re.M)
COMMANDS = ["hokusai-preview"] + SCRIPTS


def test_every_console_script_is_listed():
    assert {"hp-load", "hp-sample", "hp-train", "hp-eval", "hp-delta", "hp-format", "hp-baseline"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_documents_the_current_help(command):
    done = subprocess.run([os.path.join(BIN, command), "--help"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(command) or "Usage:" in done.stdout
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    assert "$ %s --help\n%s" % (command, done.stdout.rstrip("\n")) in readme, (
        "README lacks the current `%s --help`; run bin/update-readme" % command)
    assert "<!-- usage:%s -->" % command in readme


@pytest.mark.parametrize("command", COMMANDS)
def test_help_fits_an_80_column_terminal(command):
    """No --help line wraps in an 80-column terminal (option descriptions wrap at their own column)."""
    done = subprocess.run([os.path.join(BIN, command), "--help"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    wide = ["%d: %s" % (len(line), line) for line in done.stdout.splitlines() if len(line) > 80]
    assert not wide, "%s --help has lines over 80 columns:\n%s" % (command, "\n".join(wide))


@pytest.mark.parametrize("where, line", [
    (">&-", "cannot write to stdout: it is closed; give it a file or a pipe (e.g. > out.txt)"),
    ("> /dev/full", "cannot write to stdout: No space left on device; send it to a file or a pipe that can take it"),
])
@pytest.mark.parametrize("option", ["--help", "--version"])
@pytest.mark.parametrize("command", [c for c in COMMANDS if c != "hokusai-preview"])
def test_help_to_a_stdout_that_cannot_take_it_is_an_output_error(command, option, where, line):
    """Exit 7 and one line, as for any output: not exit 0 with nothing printed."""
    done = subprocess.run(["bash", "-c", "%s %s %s" % (os.path.join(BIN, command), option, where)],
                          capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (7, "%s: error: %s\n" % (command, line))
