"""Every command is documented in the README with its current --help text (sqlite-utils style)."""

import os
import re
import subprocess

import pytest

from helpers import ROOT

with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as _handle:
    SCRIPTS = re.findall(r'^(hp-[a-z-]+|hokusai-preview) = "', _handle.read(), re.M)
COMMANDS = ["hokusai-preview"] + SCRIPTS
BIN = os.path.join(ROOT, ".venv", "bin")


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
