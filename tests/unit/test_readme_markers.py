"""bench/readme.py's one marker replacement, as the bench scripts and bin/update-readme use it: on
the README's text, and written to a copy of README.md."""

import importlib.machinery
import importlib.util
import os
import re
import shutil
import sys

import pytest

from helpers import ROOT

sys.path.insert(0, os.path.join(ROOT, "bench"))

import readme  # noqa: E402


def update_readme():
    loader = importlib.machinery.SourceFileLoader("update_readme", os.path.join(ROOT, "bin", "update-readme"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("update_readme", loader))
    loader.exec_module(module)
    return module


with open(readme.README, encoding="utf-8") as _handle:
    TEXT = _handle.read()
# Every generated block of the README: (start marker, end marker).
BLOCKS = [("<!-- %s -->" % tag, "<!-- /%s -->" % tag) for tag in re.findall(r"<!-- /([a-z][a-z:-]*) -->", TEXT)]
BLOCKS += [("<!-- %s:start -->" % tag, "<!-- %s:end -->" % tag) for tag in re.findall(r"<!-- ([a-z-]+):end -->", TEXT)]


def body(text, start, end):
    return text.split(start + "\n", 1)[1].split("\n" + end, 1)[0]


def test_the_readme_has_the_blocks_the_scripts_write():
    tags = {start for start, _ in BLOCKS}
    assert {"<!-- bench:start -->", "<!-- bench-check:start -->", "<!-- accuracy:start -->",
            "<!-- demo-output -->", "<!-- batch-summary -->", "<!-- usage:hp-load -->"} <= tags


@pytest.mark.parametrize("start, end", BLOCKS)
def test_writing_a_block_back_leaves_the_readme_unchanged_and_a_new_body_changes_only_that_block(start, end):
    current = body(TEXT, start, end)
    assert readme.replace_between(TEXT, start, end, current) == TEXT
    new = readme.replace_between(TEXT, start, end, "new\n\\1 $0 ```")
    head, tail = TEXT.split(start, 1)[0], TEXT.split(end, 1)[1]
    assert new == head + start + "\nnew\n\\1 $0 ```\n" + end + tail


def test_a_missing_marker():
    text = "a\n<!-- x -->\nold\n"
    assert readme.replace_between(text, "<!-- y -->", "<!-- /y -->", "b") is None
    assert readme.replace_between(text, "<!-- x -->", "<!-- /x -->", "b") is None
    # An end marker before the start one is not the block's end.
    assert readme.replace_between("<!-- /x -->" + text, "<!-- x -->", "<!-- /x -->", "b") is None
    # Open-ended: a new start marker is filled in, what followed it kept.
    assert readme.replace_between(text, "<!-- x -->", "<!-- /x -->", "b", open_ended=True) == (
        "a\n<!-- x -->\nb\n<!-- /x -->\nold\n")


def test_update_readmes_blocks():
    module = update_readme()
    text = "intro\n<!-- usage:hp-x -->\nold\n<!-- /usage:hp-x -->\n<!-- demo-output -->\nend\n"
    assert module.replace_block(text, "usage:hp-x", "new") == (
        "intro\n<!-- usage:hp-x -->\nnew\n<!-- /usage:hp-x -->\n<!-- demo-output -->\nend\n")
    assert module.replace_block(text, "demo-output", "out") == (  # a new block
        "intro\n<!-- usage:hp-x -->\nold\n<!-- /usage:hp-x -->\n<!-- demo-output -->\nout\n<!-- /demo-output -->\n"
        "end\n")
    with pytest.raises(SystemExit, match=r"^update-readme: README has no <!-- batch-summary --> marker$"):
        module.replace_block(text, "batch-summary", "x")
    for start, end in BLOCKS:
        if start.startswith("<!-- ") and end == start.replace("<!-- ", "<!-- /"):
            tag = start[5:-4]
            assert module.replace_block(TEXT, tag, body(TEXT, start, end)) == TEXT


def test_write_between_on_a_copy(tmp_path, monkeypatch):
    copy = str(tmp_path / "README.md")
    shutil.copyfile(readme.README, copy)
    monkeypatch.setattr(readme, "README", copy)
    readme.write_between("<!-- bench:start -->", "<!-- bench:end -->", body(TEXT, "<!-- bench:start -->",
                                                                            "<!-- bench:end -->"))
    with open(copy, encoding="utf-8") as handle:
        assert handle.read() == TEXT
    readme.write_between("<!-- bench:start -->", "<!-- bench:end -->", "table")
    with open(copy, encoding="utf-8") as handle:
        assert handle.read() == readme.replace_between(TEXT, "<!-- bench:start -->", "<!-- bench:end -->", "table")
    assert os.listdir(str(tmp_path)) == ["README.md"]
    with pytest.raises(SystemExit, match=r"^README.md lacks the <!-- nope --> \.\.\. <!-- bench:end --> markers$"):
        readme.write_between("<!-- nope -->", "<!-- bench:end -->", "x")
