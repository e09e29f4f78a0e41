"""The batch's commands (hokusai_preview.tools.batch): bin/hp-batch-plan (the make targets) and
bin/hp-batch-one (error records)."""

import json
import os
import re
import subprocess
import sys

import pytest

from helpers import ROOT, validate, without_override
from hokusai_preview.core.errors import OutputError, UsageError
from hokusai_preview.tools import batch


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
    outputs = [os.path.basename(o) for o in batch.plan(str(folder), results)]
    assert outputs == [batch.output_name(n) for n in [
        "Q3 jobs #1.csv", "a.csv", "b.JSON.gz", "c.parquet", "it's $HOME.tsv", "x y.csv", "x_y.csv"]]
    assert outputs[1:4] + outputs[-1:] == ["a.csv.json", "b.JSON.gz.json", "c.parquet.json", "x_y.csv.json"]
    assert re.match(r"^Q3_jobs__1\.csv-[0-9a-f]{12}\.json$", outputs[0])
    stamp = os.path.join(results, ".batch", "stamps", outputs[0][:-len(".json")])
    with open(stamp, encoding="utf-8") as handle:
        assert handle.readline() == ascii(str(folder / "Q3 jobs #1.csv")) + "\n"


# Each character make or the shell reads as more than itself: `a=b.json` as it was made the plan's
# line for it a variable assignment, and stopped the batch.
SPECIAL_NAMES = ["a=b.json", "c:d.csv", "h#x.csv", "p%q.json", "d$x.json", "s;t.json", "b\\s.json", "q'.json",
                 'q".json', "w*?[].json", "a\\#b.json", "e\\.json", "t\tab.csv", "~home.csv", "ä.json", "x y.csv",
                 "x_y.csv", "x=y.csv", "x:y.csv"]
LONG_NAMES = ["x" * 250 + ".json", "x" * 250 + ".csv", "y" * 180 + "=.csv", "y" * 180 + "_.csv"]


def test_result_names_are_make_safe_bounded_and_never_shared():
    names = SPECIAL_NAMES + LONG_NAMES
    outputs = [batch.output_name(n) for n in names]
    assert len(set(outputs)) == len(names)
    for name, output in zip(names, outputs):
        assert re.match(r"^[A-Za-z0-9._+,@-]+\.json$", output), output  # nothing make or the shell reads
        assert len(output.encode()) <= batch.MAX_RESULT_NAME
        if output != name + ".json":
            # A cleaned name ends in -<hash>.json, which no file that is read could be named plus .json.
            assert not batch.supported(output[:-len(".json")])
    assert batch.output_name("x_y.csv") == "x_y.csv.json"  # a name make can carry is kept


def test_make_gives_each_target_its_real_file(folder, tmp_path):
    for name in SPECIAL_NAMES + LONG_NAMES:
        (folder / name).write_text("label\n1\n")
    results = tmp_path / "results"
    outputs = batch.plan(str(folder), str(results))
    makefile = tmp_path / "echo.mk"
    makefile.write_text("all:\ninclude %s/.batch/plan.mk\nall: $(BATCH_OUTPUTS)\n$(BATCH_OUTPUTS):\n\t@echo $(SOURCE)\n"
                        % results)
    done = subprocess.run(["make", "-s", "-f", str(makefile)], capture_output=True, text=True, check=True)
    expected = ["a.csv", "Q3 jobs #1.csv", "b.JSON.gz", "c.parquet", "it's $HOME.tsv"] + SPECIAL_NAMES + LONG_NAMES
    assert sorted(done.stdout.splitlines()) == sorted(str(folder / n) for n in expected)
    assert len(outputs) == len(expected)


def test_a_file_name_no_preview_can_be_given_is_a_failed_contribution(folder, tmp_path):
    # Not UTF-8, or a line break: the driver, the plan and the records take lines of UTF-8 text.
    for name in (b"\xffbad.csv", b"two\nlines.csv"):
        with open(os.path.join(os.fsencode(str(folder)), name), "w") as handle:
            handle.write("label\n1\n")
    results = tmp_path / "results"
    outputs = batch.plan(str(folder), str(results))
    makefile = tmp_path / "echo.mk"
    makefile.write_text("all:\ninclude %s/.batch/plan.mk\nall: $(BATCH_OUTPUTS)\n$(BATCH_OUTPUTS):\n"
                        "\t@printf '%%s [%%s]\\n' $(SOURCE) $(NAME_PROBLEM)\n" % results)
    done = subprocess.run(["make", "-s", "-f", str(makefile)], capture_output=True, text=True, check=True)
    assert "%s/\\xffbad.csv [is not UTF-8]" % folder in done.stdout.splitlines()
    assert "%s/two\\nlines.csv [holds a line break]" % folder in done.stdout.splitlines()
    assert len(outputs) == 9

    output = [o for o in outputs if "bad.csv" in o][0]
    shown = "%s/\\xffbad.csv" % folder
    assert batch.BatchOne().main(["--name-problem=is not UTF-8", shown, output]) == 0
    record = json.loads(open(output, encoding="utf-8").read())
    validate(record, "error")
    assert record["error"]["message"] == "%s: the file name is not UTF-8; rename it to preview it" % shown


def test_a_file_copied_in_with_an_old_date_is_redone_and_a_removed_one_forgotten(folder, tmp_path):
    results = tmp_path / "results"
    output = results / "a.csv.json"
    batch.plan(str(folder), str(results))
    stamp = results / ".batch" / "stamps" / "a.csv"
    output.write_text("{}")  # as if previewed
    before = stamp.read_text()
    replacement = tmp_path / "older.csv"
    replacement.write_text("label\n2\n")
    os.utime(str(replacement), (1, 1))
    os.replace(str(replacement), str(folder / "a.csv"))  # as cp -p, tar or rsync -a leave it: older than its result
    batch.plan(str(folder), str(results))
    assert stamp.read_text() != before and stamp.stat().st_mtime > 1  # newer than the result: make redoes it
    os.unlink(str(folder / "a.csv"))
    batch.plan(str(folder), str(results))
    assert not output.exists() and not stamp.exists()


def test_an_internal_error_is_tried_again_by_the_next_batch(tmp_path):
    result = tmp_path / "x.csv.json"
    batch.record_failure("x.csv", str(result), batch.failed_preview_record("x.csv", 1, "hp-train: error: boom\n"))
    assert result.stat().st_mtime == 0  # older than its stamp
    batch.record_failure("y.csv", str(result), batch.failed_preview_record("y.csv", 3, "hp-load: error: bad\n"))
    assert result.stat().st_mtime > 0  # bad data stays bad until the file changes


def test_plan_rewrites_only_what_changed(folder, tmp_path):
    results = tmp_path / "results"
    batch.plan(str(folder), str(results), options="--sample-size 500")
    plan_mk, settings = results / ".batch" / "plan.mk", results / ".batch" / "settings"
    first = plan_mk.stat().st_mtime_ns, settings.stat().st_mtime_ns
    os.utime(plan_mk, ns=(1, 1))
    os.utime(settings, ns=(1, 1))
    batch.plan(str(folder), str(results), options="--sample-size 500")
    assert (plan_mk.stat().st_mtime_ns, settings.stat().st_mtime_ns) == (1, 1)
    batch.plan(str(folder), str(results), options="--sample-size 600")
    assert plan_mk.stat().st_mtime_ns == 1 and settings.stat().st_mtime_ns > 1
    assert "options --sample-size 600" in settings.read_text()
    assert first[0] > 1


@pytest.mark.parametrize("case, message", [
    ("empty", r"holds no file to preview \(it has README.txt \(text: name it .csv or .tsv if it is a table\)\)"),
    ("missing", "is not a folder"), ("same", "are the same folder"),
    ("unsafe", "has characters make cannot carry"), ("no results", "RESULTS is empty"),
    ("unset", "no folder of contributions given")])
def test_plan_refuses_what_it_cannot_batch(case, message, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.txt").write_text("notes")
    contributions, results = {"empty": (str(empty), "r"), "missing": (str(tmp_path / "nope"), "r"),
                              "same": (str(empty), str(empty)), "unsafe": (str(empty), "my results"),
                              "no results": (str(empty), ""), "unset": ("", "r")}[case]
    with pytest.raises(UsageError, match=message):
        batch.plan(contributions, results)
    assert capsys.readouterr().out == ""  # what was skipped goes in the error, not on stdout


def test_bad_settings_stop_the_batch_before_it_says_anything_on_stdout(folder, tmp_path, capsys):
    with pytest.raises(UsageError, match="--sample-size"):
        batch.plan(str(folder), str(tmp_path / "results"), options="--sample-size 0")
    assert capsys.readouterr().out == ""


def test_plan_refuses_an_unreadable_folder_in_one_line(folder, tmp_path):
    folder.chmod(0)
    try:
        done = subprocess.run(without_override() + [sys.executable, os.path.join(ROOT, "bin", "hp-batch-plan"),
                                                    str(folder), str(tmp_path / "results")],
                              capture_output=True, text=True)
    finally:
        folder.chmod(0o755)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == ["hp-batch: error: CONTRIBUTIONS=%s cannot be read: Permission denied; "
                                        "give CONTRIBUTIONS= a folder you can read" % folder]


def test_an_unforeseen_os_error_is_one_line_not_a_traceback(folder, tmp_path, monkeypatch, capsys):
    def fail(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "results" / ".batch"))

    monkeypatch.setattr(batch, "plan", fail)
    assert batch.BatchPlan().main([str(folder), str(tmp_path / "results")]) == OutputError.exit_code
    assert capsys.readouterr().err.splitlines() == [
        "hp-batch: error: cannot read or write %s: Permission denied; check CONTRIBUTIONS= and RESULTS="
        % (tmp_path / "results" / ".batch")]


@pytest.mark.parametrize("code, stderr, kind, stage, message", [
    (3, "hp-load: error: x.csv is empty; give a file\n", "bad_data", "load", "x.csv is empty; give a file"),
    (1, "hp-train: warning: slow\nhp-train: error: internal error: ValueError: boom; run again with --verbose\n",
     "internal", "train", "internal error: ValueError: boom; run again with --verbose"),
    (3, "hokusai-preview: error: bad\n", "bad_data", None, "bad"),
    (1, "", "internal", None, "the preview failed with status 1"),
    # A label column to name is named for the whole batch: a reviewer cannot give it to one file.
    (3, "hp-load: error: x.csv: has no label column 'label'; name it with --label-column (e.g. --label-column "
        "class)\n", "bad_data", "load", "x.csv: has no label column 'label'; name it with --label-column (e.g. "
     "--label-column class) (in a batch, BATCH_OPTIONS='--label-column class' gives it to every file)")])
def test_error_record_from_the_drivers_one_line(code, stderr, kind, stage, message):
    record = batch.failed_preview_record("dir/x.csv", code, stderr)
    validate(record, "error")
    assert record["source_path"] == "dir/x.csv"
    assert record["error"]["kind"] == kind and record["error"]["exit_code"] == code
    assert record["error"].get("stage") == stage
    assert record["error"]["message"] == message


SET_BY_BATCH = ("is an option the batch sets itself (--data-path and --output-file for each file, "
                "--output-format json, --quiet, --jobs from JOBS=, --baseline-model from BASELINE=); "
                "leave it out of BATCH_OPTIONS")


@pytest.mark.parametrize("options, message", [
    ("--jobs 2", "BATCH_OPTIONS: --jobs " + SET_BY_BATCH),
    ("-q", "BATCH_OPTIONS: --quiet " + SET_BY_BATCH),
    ("--quiet", "BATCH_OPTIONS: --quiet " + SET_BY_BATCH),
    ("--output-file X", "BATCH_OPTIONS: --output-file " + SET_BY_BATCH),
    ("--output-format pretty", "BATCH_OPTIONS: --output-format " + SET_BY_BATCH),
    ("--data-path other.csv", "BATCH_OPTIONS: --data-path " + SET_BY_BATCH),
    ("--baseline-model elsewhere/", "BATCH_OPTIONS: --baseline-model " + SET_BY_BATCH),
    ("--seed 3 --job 2 -qv", "BATCH_OPTIONS: --quiet and --jobs " + SET_BY_BATCH.replace(
        "is an option", "are options").replace("it out", "them out")),
    ("--help", "BATCH_OPTIONS: --help makes each preview print its help instead of previewing; leave it out"),
    ("--bogus", "BATCH_OPTIONS: unknown option --bogus; see 'hokusai-preview --help'"),
    ("--sample-size 0", "BATCH_OPTIONS: --sample-size must be at least 1, not 0")])
def test_options_every_preview_would_refuse_are_refused_once(folder, tmp_path, options, message):
    """The previews' own command line already holds --jobs and the rest: repeated, the driver
    refuses each preview; so they are refused before any starts, and nothing is written."""
    results = tmp_path / "results"
    with pytest.raises(UsageError) as raised:
        batch.plan(str(folder), str(results), options=options)
    assert raised.value.line() == message
    assert not results.exists()


def test_the_previews_whole_command_line_is_checked(folder, tmp_path):
    """Not only the options: a result that would be a folder fails its preview (exit 7, which stops
    the batch), so it is refused first, for every file."""
    results = tmp_path / "results"
    (results / "x_y.csv.json").mkdir(parents=True)
    with pytest.raises(OutputError, match="x_y.csv.json is a directory"):
        batch.plan(str(folder), str(results), options="--seed 3")
    assert batch.plan(str(folder), str(tmp_path / "other"), options="--seed 3 --no-cache")


def test_a_broken_link_gets_an_error_record_and_is_redone_once_mended(folder, tmp_path):
    results = tmp_path / "results"
    target = tmp_path / "later.csv"
    os.symlink(str(target), str(folder / "link.csv"))
    os.symlink(str(tmp_path / "nowhere"), str(folder / "sub.csv" / "deeper.csv"))  # not in a subfolder
    output = results / "link.csv.json"
    assert str(output) in batch.plan(str(folder), str(results))
    stamp = results / ".batch" / "stamps" / "link.csv"
    assert "%s: %s" % (output, stamp) in (results / ".batch" / "plan.mk").read_text()  # make cannot date the link
    assert "broken link to" in stamp.read_text()

    assert batch.BatchOne().main([str(folder / "link.csv"), str(output)]) == 0
    record = json.loads(output.read_text())
    validate(record, "error")
    assert record["error"] == {"kind": "bad_data", "exit_code": 3, "message": (
        "%s: is a broken symbolic link (to %s, which does not exist); point it at the contribution or remove it"
        % (folder / "link.csv", target))}

    target.write_text("label\n1\n")
    os.utime(str(target), (1, 1))  # older than the error record: make alone would keep that
    os.utime(str(output), (2, 2))
    batch.plan(str(folder), str(results))
    assert "broken link" not in stamp.read_text() and stamp.stat().st_mtime > 2  # so make redoes it


@pytest.mark.parametrize("results, message", [
    ("/proc/x", "RESULTS=/proc/x is in /proc, which cannot hold files of results"),
    ("FILE", "RESULTS=FILE is a file, not a folder"),
    ("FILE/sub", "RESULTS=FILE/sub cannot be made: FILE is a file, not a folder")])
def test_a_results_that_is_no_writable_folder_names_results(folder, tmp_path, results, message):
    """Not "give a file name for the output": the batch names its results itself; RESULTS= is what to change."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    results = results.replace("FILE", str(afile))
    with pytest.raises(OutputError) as raised:
        batch.plan(str(folder), results)
    assert raised.value.line() == "%s; give RESULTS= a writable folder (it is made if missing), e.g. " \
                                  "RESULTS=results" % message.replace("FILE", str(afile))


def test_a_missing_baseline_names_baseline_not_the_drivers_option(folder, tmp_path):
    from hokusai_preview.core.errors import BaselineError

    with pytest.raises(BaselineError) as raised:
        batch.plan(str(folder), str(tmp_path / "results"), baseline=str(tmp_path / "nope"))
    assert raised.value.line() == ("baseline bundle %s does not exist; give BASELINE= a bundle directory built by "
                                   "hp-baseline, or leave it out for the embedded one" % (tmp_path / "nope"))


SKIPPED = ("hp-batch: skipped 4 entries of %s: .hidden.csv (hidden), README.txt (text: name it .csv or .tsv if it is "
           "a table), notes.md (not a data file: .md) and 1 more\n")


def test_what_the_folder_holds_besides_contributions_is_said(folder, tmp_path, capsys):
    """A reviewer can tell "not previewed" from "not submitted": every run names what it left."""
    (folder / ".DS_Store").write_text("")  # hidden, and no data file's name: not worth a word
    batch.plan(str(folder), str(tmp_path / "results"))
    assert capsys.readouterr().out == SKIPPED % folder
    entries = ["sheet.xlsx", "jobs.zip", "data", "sub.csv", "a.csv"]
    for name in entries[:3]:
        (tmp_path / name).write_text("x")
    (tmp_path / "sub.csv").mkdir()
    assert batch.skipped(str(tmp_path), entries, ["a.csv"]) == [
        "data (not a data file: no extension)", "jobs.zip (an archive: unpack it (.gz is read))",
        "sheet.xlsx (a spreadsheet: save it as CSV)", "sub.csv/ (a folder: not searched)"]


def test_results_removed_from_results_are_said_in_one_line(folder, tmp_path, capsys):
    results = str(tmp_path / "results")
    batch.plan(str(folder), results)
    assert capsys.readouterr().out == SKIPPED % folder
    os.unlink(str(folder / "a.csv"))
    batch.plan(str(folder), results)
    assert capsys.readouterr().out == (SKIPPED + "hp-batch: removed the results of 1 file not in %s: a.csv\n") % (
        folder, folder)
    other = tmp_path / "other"
    other.mkdir()
    (other / "z.csv").write_text("label\n1\n")
    batch.plan(str(other), results)  # another folder, the same RESULTS: its results replace the first's
    said = capsys.readouterr().out
    assert said.startswith("hp-batch: removed the results of 6 files not in %s: %s, %s, %s and 3 more (a RESULTS "
                           "folder holds one folder's results: give each folder its own RESULTS= to keep both)\n" % (
                               other, folder / "Q3 jobs #1.csv", folder / "b.JSON.gz", folder / "c.parquet"))
    assert os.listdir(os.path.join(results, ".batch", "stamps")) == ["z.csv"]


def test_the_plan_says_what_each_preview_is_given_and_counts_the_results_in_words(folder, tmp_path):
    results = tmp_path / "results"
    only = tmp_path / "one"
    only.mkdir()
    (only / "a b.csv").write_text("label\n1\n")
    batch.plan(str(only), str(results), baseline=batch.Bundle.open().path, train_jobs="0")
    text = (results / ".batch" / "plan.mk").read_text()
    assert "\nONE_OPTIONS := --train-jobs=0 --baseline=%s\n" % batch.Bundle.open().path in text
    assert "\nRESULTS_TEXT := 1 result\n" in text
    batch.plan(str(folder), str(results))
    text = (results / ".batch" / "plan.mk").read_text()
    assert "\nONE_OPTIONS := --train-jobs=1\nRESULTS_TEXT := 7 results\n" in text


def test_verbose_in_batch_options_is_refused_once(folder, tmp_path):
    with pytest.raises(UsageError) as raised:
        batch.plan(str(folder), str(tmp_path / "results"), options="--verbose")
    assert raised.value.line().startswith("BATCH_OPTIONS: --verbose does not go with the --quiet the batch gives "
                                          "every preview")


def test_the_line_of_a_finished_preview_marks_an_uncertain_verdict(bundles, tmp_path):
    from format_outputs import example_output

    output = example_output(bundles("hpc")[0], "hpc_jobs_500.json")
    output["preview_metadata"]["deltaone"].update(decision="not_statistically_significant", accepted=False,
                                                  probability=0.44, probability_of_decision=0.35)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(output))
    assert batch.describe(str(path)).endswith(", DeltaOne not significant (uncertain), P(pass) 44%")


def test_a_result_made_stale_takes_the_summaries_with_it(folder, tmp_path):
    """Until make has made every result again (a batch interrupted), no summary describes old ones."""
    results = tmp_path / "results"
    batch.plan(str(folder), str(results))
    for name in batch.SUMMARIES:
        (results / name).write_text("made from the results")
    batch.plan(str(folder), str(results))  # nothing changed: the summaries stay
    assert all((results / name).exists() for name in batch.SUMMARIES)
    (folder / "a.csv").write_text("label\n2\n")
    batch.plan(str(folder), str(results))
    assert not any((results / name).exists() for name in batch.SUMMARIES)


def test_a_damaged_result_is_removed_to_be_made_again(folder, tmp_path, capsys, bundles):
    from format_outputs import example_output

    results = tmp_path / "results"
    batch.plan(str(folder), str(results))
    good = results / "a.csv.json"
    output = example_output(bundles("hpc")[0], "hpc_jobs_500.json")
    good.write_text(json.dumps(output))
    batch.seal(str(good))  # as bin/hp-batch-one does once the preview has written it
    (results / "c.parquet.json").write_text('{"foo": 1}')
    (results / "b.JSON.gz.json").write_text('{"record": "error", "source_path": "b.JSON.gz", "err')  # cut short
    capsys.readouterr()
    batch.plan(str(folder), str(results))
    assert capsys.readouterr().out.splitlines()[-1] == (
        "hp-batch: removed the damaged results of %s, %s, to make them again (each was not whole, or edited "
        "since)" % (folder / "b.JSON.gz", folder / "c.parquet"))
    assert good.exists() and not (results / "c.parquet.json").exists()
    assert not (results / "b.JSON.gz.json").exists()
    # A number edited within its range passes every check of the fields: the seal tells.
    output["delta_computation"]["delta_one_score"] = 0.5
    good.write_text(json.dumps(output))
    batch.plan(str(folder), str(results))
    assert capsys.readouterr().out.splitlines()[-1].startswith(
        "hp-batch: removed the damaged results of %s, to make them again" % (folder / "a.csv"))
    assert not good.exists()


def test_the_folder_named_another_way_keeps_its_results(folder, tmp_path, monkeypatch):
    """./contributions/, contributions and its absolute path are one folder: the previews' paths
    (in every stage's cache key) stay the first batch's, so nothing is made again."""
    monkeypatch.chdir(tmp_path)
    batch.plan("contributions", "results")
    plan = (tmp_path / "results" / ".batch" / "plan.mk").read_text()
    stamps = sorted(p.read_text() for p in (tmp_path / "results" / ".batch" / "stamps").iterdir())
    for spelling in ("./contributions/", str(folder), "../%s/contributions" % tmp_path.name):
        batch.plan(spelling, "results")
        assert (tmp_path / "results" / ".batch" / "plan.mk").read_text() == plan
        assert sorted(p.read_text() for p in (tmp_path / "results" / ".batch" / "stamps").iterdir()) == stamps


def test_an_empty_or_mistyped_folder_leaves_another_folders_results(folder, tmp_path):
    results = tmp_path / "results"
    batch.plan(str(folder), str(results))
    (results / "a.csv.json").write_text("{}")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="holds no file to preview"):
        batch.plan(str(empty), str(results))
    assert (results / "a.csv.json").exists() and len(os.listdir(str(results / ".batch" / "stamps"))) == 7
    for name in os.listdir(str(folder)):  # the same folder emptied: its results go
        if os.path.isfile(str(folder / name)):
            os.unlink(str(folder / name))
    with pytest.raises(UsageError, match="holds no file to preview"):
        batch.plan(str(folder), str(results))
    assert not (results / "a.csv.json").exists()


def test_a_name_led_by_a_dash_gets_a_result_no_command_reads_as_an_option():
    assert re.match(r"^_-help\.csv-[0-9a-f]{12}\.json$", batch.output_name("--help.csv"))
    assert batch.output_name("a-b.csv") == "a-b.csv.json"


@pytest.mark.parametrize("command, argv, line", [
    (batch.BatchOne, ["--bogus", "x.csv", "x.csv.json"], "unknown option --bogus; see 'bin/hp-batch-one --help'"),
    (batch.BatchOne, ["x.csv"], "<result> is required; e.g. bin/hp-batch-one <source> <result>"),
    (batch.BatchOne, ["--baseline=", "x.csv", "r.json"], "--baseline was given an empty value; give it a value, or "
                                                         "leave the option out"),
    (batch.BatchPlan, [], "<contributions> and <results> are required; e.g. bin/hp-batch-plan <contributions> "
                          "<results>"),
    (batch.BatchPlan, ["a", "b", "c"], "unexpected argument c; see 'bin/hp-batch-plan --help'"),
    (batch.BatchPlan, ["a", "b", "--train-jobs"], "--train-jobs needs a value; e.g. --train-jobs N")])
def test_a_mistyped_command_line_is_one_line_and_status_2(command, argv, line, capsys):
    """As every command's: not docopt's usage text and status 1."""
    assert command().main(argv) == 2
    assert capsys.readouterr() == ("", "hp-batch: error: %s\n" % line)


def test_the_scripts_are_the_commands(tmp_path):
    """bin/ holds launchers: --bogus is the one line of status 2, --help the usage, the empty
    --options= the Makefile gives when BATCH_OPTIONS is unset is no options."""
    def run(name, *argv):
        return subprocess.run([sys.executable, os.path.join(ROOT, "bin", name)] + list(argv),
                              capture_output=True, text=True)

    done = run("hp-batch-one", "--bogus")
    assert (done.returncode, done.stdout, done.stderr) == (
        2, "", "hp-batch: error: unknown option --bogus; see 'bin/hp-batch-one --help'\n")
    done = run("hp-batch-plan", "--help")
    assert done.returncode == 0 and done.stdout == batch.PLAN_USAGE and done.stderr == ""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("label\n1\n")
    done = run("hp-batch-plan", str(tmp_path / "in"), str(tmp_path / "out"), "--options=", "--train-jobs=0")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert "\noptions \n" in (tmp_path / "out" / ".batch" / "settings").read_text()


def test_error_records_and_kinds_are_made_in_one_place():
    from hokusai_preview.core.errors import DataError, error_record, kind_of

    record = error_record("x.csv", DataError("x.csv is empty", "give a file"))
    validate(record, "error")
    assert record == {"record": "error", "source_path": "x.csv",
                      "error": {"kind": "bad_data", "exit_code": 3, "message": "x.csv is empty; give a file"}}
    record = error_record("x.csv", "internal", "killed", exit_code=137, stage="train")
    validate(record, "error")
    assert record["error"] == {"kind": "internal", "exit_code": 137, "message": "killed", "stage": "train"}
    assert [kind_of(c) for c in (1, 2, 3, 5, 7, 130)] == ["internal", "usage", "bad_data", "integrity", "output", None]
    # What the batch records and goes on from (bad data, a bug, a kill), and what stops it.
    assert [batch.error_kind(c) for c in (1, 2, 3, 4, 7, 130, 137, 143, 152)] == [
        "internal", None, "bad_data", None, None, None, "internal", None, "internal"]
