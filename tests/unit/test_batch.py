"""The batch's helpers: bin/hp-batch-plan (the make targets) and bin/hp-batch-one (error records)."""

import os
import subprocess
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader

import pytest

from helpers import ROOT, validate
from hokusai_preview.core.errors import UsageError


def script(name):
    loader = SourceFileLoader(name.replace("-", "_"), os.path.join(ROOT, "bin", name))
    module = module_from_spec(spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


plan_module = script("hp-batch-plan")
one_module = script("hp-batch-one")


@pytest.fixture
def folder(tmp_path):
    contributions = tmp_path / "contributions"
    contributions.mkdir()
    for name in ["a.csv", "Q3 jobs #1.csv", "b.JSON.gz", "c.parquet", "README.txt", ".hidden.csv", "notes.md",
                 "x y.csv", "x_y.csv", "it's $HOME.tsv"]:
        (contributions / name).write_text("label\n1\n")
    (contributions / "sub.csv").mkdir()  # a folder is not a contribution
    return contributions


def test_plan_lists_supported_files_with_unique_make_safe_names(folder, tmp_path):
    results = str(tmp_path / "results")
    outputs = plan_module.plan(str(folder), results)
    assert [os.path.basename(o) for o in outputs] == [
        "Q3_jobs__1.csv.json", "a.csv.json", "b.JSON.gz.json", "c.parquet.json", "it_s__HOME.tsv.json",
        "x_y.csv.json", "x_y.csv-2.json"]
    link = os.path.join(results, ".batch", "sources", "Q3_jobs__1.csv")
    assert os.path.realpath(link) == os.path.realpath(folder / "Q3 jobs #1.csv")


def test_make_gives_each_target_its_real_file(folder, tmp_path):
    results = tmp_path / "results"
    plan_module.plan(str(folder), str(results))
    makefile = tmp_path / "echo.mk"
    makefile.write_text("all:\ninclude %s/.batch/plan.mk\nall: $(BATCH_OUTPUTS)\n$(BATCH_OUTPUTS):\n\t@echo $(SOURCE)\n"
                        % results)
    done = subprocess.run(["make", "-s", "-f", str(makefile)], capture_output=True, text=True, check=True)
    assert sorted(done.stdout.splitlines()) == sorted(str(folder / n) for n in [
        "a.csv", "Q3 jobs #1.csv", "b.JSON.gz", "c.parquet", "x y.csv", "x_y.csv", "it's $HOME.tsv"])


def test_plan_rewrites_only_what_changed(folder, tmp_path):
    results = tmp_path / "results"
    plan_module.plan(str(folder), str(results), options="--sample-size 500")
    plan_mk, settings = results / ".batch" / "plan.mk", results / ".batch" / "settings"
    first = plan_mk.stat().st_mtime_ns, settings.stat().st_mtime_ns
    os.utime(plan_mk, ns=(1, 1))
    os.utime(settings, ns=(1, 1))
    plan_module.plan(str(folder), str(results), options="--sample-size 500")
    assert (plan_mk.stat().st_mtime_ns, settings.stat().st_mtime_ns) == (1, 1)
    plan_module.plan(str(folder), str(results), options="--sample-size 600")
    assert plan_mk.stat().st_mtime_ns == 1 and settings.stat().st_mtime_ns > 1
    assert "options --sample-size 600" in settings.read_text()
    assert first[0] > 1


@pytest.mark.parametrize("case, message", [
    ("empty", "holds no file to preview"), ("missing", "is not a folder"), ("same", "are the same folder"),
    ("unsafe", "has characters make cannot carry"), ("unset", "no folder of contributions given")])
def test_plan_refuses_what_it_cannot_batch(case, message, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.txt").write_text("notes")
    contributions, results = {"empty": (str(empty), "r"), "missing": (str(tmp_path / "nope"), "r"),
                              "same": (str(empty), str(empty)), "unsafe": (str(empty), "my results"),
                              "unset": ("", "r")}[case]
    with pytest.raises(UsageError, match=message):
        plan_module.plan(contributions, results)


@pytest.mark.parametrize("code, stderr, kind, stage, message", [
    (3, "hp-load: error: x.csv is empty; give a file\n", "bad_data", "load", "x.csv is empty; give a file"),
    (1, "hp-train: warning: slow\nhp-train: error: internal error: ValueError: boom; run again with --verbose\n",
     "internal", "train", "internal error: ValueError: boom; run again with --verbose"),
    (3, "hokusai-preview: error: bad\n", "bad_data", None, "bad"),
    (1, "", "internal", None, "the preview failed with status 1")])
def test_error_record_from_the_drivers_one_line(code, stderr, kind, stage, message):
    record = one_module.error_record("dir/x.csv", code, stderr)
    validate(record, "error")
    assert record["source_path"] == "dir/x.csv"
    assert record["error"]["kind"] == kind and record["error"]["exit_code"] == code
    assert record["error"].get("stage") == stage
    assert record["error"]["message"] == message
