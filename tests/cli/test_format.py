"""hp-format as a command: the summary of saved results, the picture, colour only on a terminal."""

import json
import os
import pty
import struct
import subprocess
import sys

import pytest

from format_outputs import error_record, example_output
from helpers import BIN, run, validate
from hokusai_preview.core.records import SECTION_FIELDS
from hokusai_preview.core.summary import render, row_of

EXAMPLES = ["hpc_jobs_500.json", "hpc_jobs_700.parquet"]


@pytest.fixture
def results(bundles, tmp_path):
    """Saved results as `make batch` writes them: indented output documents and one error record."""
    folder = tmp_path / "results"
    folder.mkdir()
    paths = []
    for name in EXAMPLES:
        path = folder / (name + ".json")
        path.write_text(json.dumps(example_output(bundles("hpc")[0], name), indent=2))
        paths.append(str(path))
    path = folder / "broken.csv.json"
    path.write_text(json.dumps(error_record(), indent=2))
    return paths + [str(path)]


def documents(paths):
    with_outputs = []
    for path in paths:
        with open(path) as handle:
            with_outputs.append(json.load(handle))
    return with_outputs


@pytest.mark.parametrize("fmt", ["md", "csv", "jsonl"])
def test_summary_of_saved_results(results, fmt):
    result = run("hp-format", "--summary", "--summary-format", fmt, *results)
    assert result.code == 0, result
    assert result.stdout == render([row_of(d) for d in documents(results)], fmt)
    assert "broken.csv" in result.stdout


def test_summary_rows_piped_back_give_the_same_table(results):
    rows = run("hp-format", "--summary", "--summary-format", "jsonl", *results)
    again = run("hp-format", "--summary", stdin=rows.stdout)
    assert again.code == 0, again
    assert again.stdout == run("hp-format", "--summary", *results).stdout


def test_a_result_given_twice_is_counted_once(results, tmp_path):
    """`hp-format --summary results/*.json results/summary.jsonl` reads every result twice."""
    rows = tmp_path / "summary.jsonl"
    rows.write_text(run("hp-format", "--summary", "--summary-format", "jsonl", *results).stdout)
    once = run("hp-format", "--summary", *results)
    twice = run("hp-format", "--summary", *(results + [str(rows), results[0]]))
    assert twice.code == 0 and twice.stdout == once.stdout, twice
    assert twice.err_lines == ["hp-format: warning: 4 rows given more than once, listed once: broken.csv, "
                               "hpc_jobs_500.json, hpc_jobs_700.parquet"]
    with open(results[0]) as handle:  # the same contribution, another result: both listed, and said
        other = json.load(handle)
    other["preview_metadata"]["estimate"]["delta_one_score"] += 0.01
    (tmp_path / "again.json").write_text(json.dumps(other))
    both = run("hp-format", "--summary", results[0], str(tmp_path / "again.json"))
    assert both.code == 0 and both.stdout.count("hpc_jobs_500.json") == 2
    assert both.err_lines == ["hp-format: warning: 1 contribution listed more than once with different results "
                              "(other options, or an older run): %s" % other["new_model"]["training_metadata"][
                                  "data_manifest"]["source_path"]]


def test_a_saved_output_reads_alike_from_its_file_and_from_stdin(results):
    # `hokusai-preview --output-format json | hp-format` and `hp-format < saved.json`: an
    # indented document, not JSON lines.
    with open(results[0]) as handle:
        text = handle.read()
    assert "\n  " in text
    for options in [("--output-format", "pretty"), ("--summary",)]:
        named = run("hp-format", *options, results[0])
        piped = run("hp-format", *options, stdin=text)
        assert named.code == 0 and piped.code == 0, (named, piped)
        assert piped.stdout == named.stdout.replace(results[0], "<stdin>")
    broken = run("hp-format", stdin=text[:-40])  # cut short: not a document, and not JSON lines
    assert broken.code == 2 and broken.stdout == ""
    assert broken.err_lines == ["hp-format: error: line 1 of <stdin> is not a JSON record; feed hp-format the "
                                "output of hp-delta"]


def test_jsonl_is_the_json_document_on_one_line(results):
    """For piping into tools that read one document per line (jq -c, a log)."""
    as_json = run("hp-format", "--output-format", "json", results[0])
    as_jsonl = run("hp-format", "--output-format", "jsonl", results[0])
    assert as_json.code == as_jsonl.code == 0, (as_json, as_jsonl)
    assert as_jsonl.stdout.count("\n") == 1 and as_jsonl.stdout.endswith("}\n")
    assert json.loads(as_jsonl.stdout) == json.loads(as_json.stdout)
    validate(json.loads(as_jsonl.stdout), "delta-output")


def test_summary_to_a_file(results, tmp_path):
    target = tmp_path / "out" / "summary.csv"
    result = run("hp-format", "--summary", "--summary-format", "csv", "--output-file", target, *results)
    assert result.code == 0, result
    assert result.stdout == ""
    assert target.read_text().startswith("contribution,status,rows_used")


def test_an_output_file_that_is_a_pipe_is_written_into_not_replaced(results, tmp_path):
    import stat
    import threading

    fifo = tmp_path / "reader"
    os.mkfifo(str(fifo))
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = run("hp-format", "--summary", "--summary-format", "csv", "--output-file", fifo, *results)
    reader.join(30)
    assert result.code == 0, result
    assert stat.S_ISFIFO(os.stat(str(fifo)).st_mode)  # still the pipe, not a file renamed over it
    assert received[0].decode() == run("hp-format", "--summary", "--summary-format", "csv", *results).stdout
    assert sorted(os.listdir(str(tmp_path))) == ["reader", "results"]  # no temporary file left


def png_size(path):
    with open(path, "rb") as handle:
        head = handle.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_plot_draws_a_png_with_a_row_per_contribution(results, tmp_path):
    one, three = tmp_path / "one.png", tmp_path / "three.png"
    assert run("hp-format", "--summary", "--plot", one, results[0]).code == 0
    result = run("hp-format", "--summary", "--plot", three, *results)
    assert result.code == 0, result
    (width_one, height_one), (width, height) = png_size(one), png_size(three)
    assert width == width_one == 1500
    assert height > height_one  # one row more per contribution
    # no temporary file left (a "cache" folder is there when this test made the example outputs)
    assert sorted(set(os.listdir(tmp_path)) - {"cache"}) == ["one.png", "results", "three.png"]


def test_plot_writes_the_format_its_name_asks_for_and_the_same_bytes_each_time(results, tmp_path):
    heads = {"svg": b"<?xml", "pdf": b"%PDF-"}
    for fmt, head in heads.items():
        first, second = tmp_path / ("a." + fmt), tmp_path / ("b." + fmt.upper())
        for target in (first, second):
            assert run("hp-format", "--summary", "--plot", target, *results).code == 0
        assert first.read_bytes().startswith(head)
        assert first.read_bytes() == second.read_bytes()  # no date, version or random id in the file
    result = run("hp-format", "--summary", "--plot", tmp_path / "p.jpg", *results)
    assert result.code == 2 and result.stdout == ""
    assert result.err_lines == ["hp-format: error: --plot %s: cannot draw a .jpg picture; name it .png, .svg or "
                                ".pdf" % (tmp_path / "p.jpg")]
    assert not (tmp_path / "p.jpg").exists()


def test_an_output_in_a_missing_folder_makes_it_and_says_so(results, tmp_path):
    target, picture = tmp_path / "new" / "deeper" / "summary.md", tmp_path / "new" / "p.png"
    result = run("hp-format", "--summary", "--output-file", target, "--plot", picture, *results)
    assert result.code == 0, result
    assert result.err_lines == ["hp-format: wrote %s (made the folder %s)" % (target, tmp_path / "new"),
                                "hp-format: drew %s" % picture]
    assert target.read_text().startswith("3 contributions against baseline") and picture.exists()


def test_plot_without_matplotlib_is_one_line_and_no_file(results, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what `import matplotlib` meets when it is absent
    target = tmp_path / "summary.png"
    result = run("hp-format", "--summary", "--plot", target, *results)
    assert result.code == 2
    assert result.err_lines == ["hp-format: error: drawing a picture needs matplotlib, which is not installed; "
                                "run 'make install' or pip install 'hokusai-preview[plot]'"]
    assert not target.exists()


def test_summary_rows_are_refused_without_summary(results):
    rows = run("hp-format", "--summary", "--summary-format", "jsonl", *results).stdout
    result = run("hp-format", stdin=rows)
    assert result.code == 2 and result.stdout == ""
    assert result.err_lines == ["hp-format: error: a summary row can only be summarised or drawn again; "
                                "add --summary"]


def test_unknown_summary_format_is_a_usage_error(results):
    result = run("hp-format", "--summary", "--summary-format", "html", *results)
    assert result.code == 2 and result.stdout == ""
    assert len(result.err_lines) == 1 and "md, csv, jsonl" in result.stderr


def on_terminal(argv, env):
    """Run a command with its stdout on a pseudo-terminal; returns what it printed."""
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(argv, stdout=follower, stderr=subprocess.PIPE, env=env, timeout=120)
        os.close(follower)
        follower = None
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
        if follower is not None:
            os.close(follower)
    assert done.returncode == 0, done.stderr
    return b"".join(chunks).decode("utf-8")


def test_pretty_is_coloured_on_a_terminal_only_without_no_color(results):
    argv = [os.path.join(BIN, "hp-format"), "--output-format", "pretty", results[0]]
    env = dict(os.environ, TERM="xterm", LANG="C.UTF-8")
    env.pop("NO_COLOR", None)
    assert "\x1b[" in on_terminal(argv, env)
    assert "\x1b[" not in on_terminal(argv, dict(env, NO_COLOR="1"))
    assert "\x1b[" not in on_terminal(argv, dict(env, TERM="dumb"))
    piped = subprocess.run(argv, capture_output=True, env=env, check=True).stdout.decode("utf-8")
    assert "\x1b[" not in piped and "DeltaOne would" in piped


def test_the_summary_stays_light(results):
    """Summarising imports neither the numeric stack nor matplotlib (hp-format starts fast)."""
    code = ("import sys; from hokusai_preview.stages.format import Format; "
            "code = Format().main(['--summary'] + sys.argv[1:]); "
            "print(code, sorted(m for m in ('pandas', 'numpy', 'sklearn', 'matplotlib') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code] + results, capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "0 []"


FEED = "fix it, or feed hp-format what hp-delta or 'hp-format --summary --summary-format jsonl' wrote"


@pytest.mark.parametrize("record, options, missing", [
    ({"record": "summary"}, ("--summary",), "a summary row, has no contribution"),
    ({"record": "delta", "key": "k", "output": {}, "baseline": {field: None for field in SECTION_FIELDS["baseline"]}},
     (), "a delta record, has no output.baseline_model"),
    ({"record": "error", "error": "x"}, ("--summary",), "an error record, has no source_path"),
])
def test_an_incomplete_input_is_one_line_not_an_internal_error(record, options, missing):
    result = run("hp-format", *options, stdin=(json.dumps(record) + "\n").encode())
    assert result.code == 2 and result.stdout == ""
    assert result.err_lines == ["hp-format: error: line 1 of <stdin>, %s; %s" % (missing, FEED)]


def test_an_incomplete_summary_row_among_good_inputs_is_named(results):
    rows = run("hp-format", "--summary", "--summary-format", "jsonl", results[0]).stdout
    broken = json.dumps({"record": "summary", "status": "ok", "source_path": "x"}) + "\n"
    result = run("hp-format", "--summary", stdin=(rows + broken).encode())
    assert result.code == 2 and result.stdout == ""
    assert result.err_lines == ["hp-format: error: line 2 of <stdin>, a summary row, has no contribution; " + FEED]


def edited(row, **fields):
    return json.dumps(dict(row, **fields), allow_nan=True) + "\n"


NULL_SOURCE = {"record": "error", "source_path": None, "error": {"kind": "bad_data", "exit_code": 3, "message": "x"}}


@pytest.mark.parametrize("edit, options, line", [
    # Two, so that sorting them meets the nulls (it was a TypeError, exit 1).
    (lambda row: (json.dumps(NULL_SOURCE) + "\n") * 2, ("--summary",),
     "line 1 of <stdin>, an error record, has source_path null, not a string"),
    (lambda row: (json.dumps(NULL_SOURCE) + "\n") * 2, ("--plot", "{tmp}/p.png"),
     "line 1 of <stdin>, an error record, has source_path null, not a string"),
    (lambda row: '{"record": "error"}\n', ("--summary",), "line 1 of <stdin>, an error record, has no source_path"),
    (lambda row: '{"record": "error", "source_path": "a.csv", "error": null}\n', (),
     "line 1 of <stdin>, an error record, has error null, not an object"),
    (lambda row: '{"record": "error", "source_path": "a.csv", "error": null}\n', ("--summary",),
     "line 1 of <stdin>, an error record, has error null, not an object"),
    (lambda row: '{"record": "error", "source_path": "a.csv", "error": {"kind": "bad_data", "message": "m"}}\n',
     ("--summary",), "line 1 of <stdin>, an error record, has no error.exit_code"),
    (lambda row: edited(row) + edited(row, deltaone_probability=5), ("--summary",),
     "line 2 of <stdin>, a summary row, has deltaone_probability 5, not a number from 0 to 1"),
    (lambda row: edited(row, delta_one_score=float("nan")), ("--summary",),
     "line 1 of <stdin>, a summary row, has delta_one_score NaN, which is not a JSON number"),
    (lambda row: edited(row, contribution="a\ud800.csv"), ("--summary",),  # not UTF-8: no output could hold it
     'line 1 of <stdin>, a summary row, has contribution "a\\ud800.csv", which is not text (it holds a lone '
     'surrogate)'),
    (lambda row: edited(row, warnings="abc"), ("--summary",),
     'line 1 of <stdin>, a summary row, has warnings "abc", not a list of strings'),
    (lambda row: edited(row, rows_used=0), ("--summary", "--plot", "{tmp}/p.png"),
     "line 1 of <stdin>, a summary row, has rows_used 0, not a whole number of at least 1"),
    (lambda row: edited(row, status="error"), ("--summary",),
     'line 1 of <stdin>, a summary row, has status "error" and a delta_one_score, which only a preview has'),
])
def test_a_hand_edited_input_is_refused_naming_its_line_and_field(results, tmp_path, edit, options, line):
    row = json.loads(run("hp-format", "--summary", "--summary-format", "jsonl", results[0]).stdout)
    options = [option.replace("{tmp}", str(tmp_path)) for option in options]
    result = run("hp-format", *options, stdin=edit(row))
    assert (result.code, result.stdout) == (2, "")
    assert result.err_lines == ["hp-format: error: %s; %s" % (line, FEED)]
    assert not (tmp_path / "p.png").exists()


def test_a_hand_edited_output_document_is_refused_naming_its_field(results, tmp_path):
    document = documents(results[:1])[0]
    document["preview_metadata"]["deltaone"]["probability"] = 5
    edited_file = tmp_path / "edited.json"
    edited_file.write_text(json.dumps([documents(results[:1])[0], document], indent=2))
    for options in [(), ("--summary",), ("--output-format", "json")]:
        result = run("hp-format", *options, edited_file)
        assert (result.code, result.stdout) == (2, "")
        assert result.err_lines == ["hp-format: error: item 2 of %s, a delta output, has "
                                    "preview_metadata.deltaone.probability 5, not a number from 0 to 1; %s"
                                    % (edited_file, FEED)]


EMPTY_TABLES = {"md": "0 contributions: the input holds no records. PREVIEW - NON-BINDING ESTIMATES.\n\n| # |",
                "csv": "contribution,status,rows_used,", "jsonl": ""}


@pytest.mark.parametrize("fmt", ["md", "csv", "jsonl"])
def test_no_records_still_replace_the_summary_and_the_picture(tmp_path, fmt):
    """A filter that matched nothing leaves no stale table or picture of an earlier run behind."""
    empty, table, picture = tmp_path / "filtered.jsonl", tmp_path / "likely.txt", tmp_path / "likely.png"
    empty.write_text("")
    table.write_text("stale")
    picture.write_text("stale")
    result = run("hp-format", "--summary", "--summary-format", fmt, "--output-file", table, "--plot", picture, empty)
    assert (result.code, result.stdout) == (0, "")
    assert result.err_lines == ["hp-format: no records in the input: there are no contributions to show",
                                "hp-format: wrote %s" % table, "hp-format: drew %s" % picture]
    assert table.read_text() == render([], fmt) and table.read_text().startswith(EMPTY_TABLES[fmt])
    assert png_size(picture)[0] == 1500
    piped = run("hp-format", "--quiet", "--summary", "--summary-format", fmt, stdin=b"")
    assert (piped.code, piped.stdout, piped.stderr) == (0, render([], fmt), "")


def test_no_records_without_summary(tmp_path):
    empty, output = tmp_path / "filtered.jsonl", tmp_path / "out.json"
    empty.write_text("\n")
    output.write_text("stale")
    named = run("hp-format", "--output-format", "json", "--output-file", output, empty)
    assert (named.code, named.stdout) == (0, "") and output.read_text() == ""
    assert named.err_lines == ["hp-format: no records in the input: there are no contributions to show",
                               "hp-format: wrote %s" % output]
    # Nothing on stdin in a pipe is what follows a stage that failed (and said why, once): the
    # driver's output file is then not made, nor a second line printed.
    output.unlink()
    piped = run("hp-format", "--output-format", "json", "--output-file", output, stdin=b"")
    assert (piped.code, piped.stdout, piped.stderr) == (0, "", "") and not output.exists()


def test_a_picture_that_cannot_be_written_leaves_no_other_output(results, tmp_path):
    # /dev/full (Linux, where this tool runs) accepts the open and fails the write: the late failure.
    table = tmp_path / "full.md"
    before = sorted(os.listdir(tmp_path))  # the results (and a cache, when they were made here)
    for argv in [("--plot", "/dev/full", "--output-file", table), ("--plot", "/dev/full"),
                 ("--plot", tmp_path / "p.png", "--output-file", "/dev/full")]:
        result = run("hp-format", "--summary", *argv, *results)
        assert (result.code, result.stdout) == (7, "")
        assert result.err_lines == ["hp-format: error: cannot write /dev/full: No space left on device; "
                                    "choose a writable location"]
        assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize("where", ["> /dev/full", ">&-"])
def test_a_stdout_that_cannot_take_the_table_leaves_no_picture(results, tmp_path, where):
    """The table goes to stdout before the picture is published: both or neither."""
    import shlex
    import subprocess


    picture = tmp_path / "p.png"
    command = "%s --summary --plot %s %s %s" % (os.path.join(BIN, "hp-format"), picture,
                                                " ".join(shlex.quote(str(r)) for r in results), where)
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True)
    assert done.returncode == 7 and len(done.stderr.splitlines()) == 1, done.stderr
    assert not picture.exists()


def test_a_name_the_font_cannot_draw_prints_nothing(results, tmp_path):
    """matplotlib warns of every glyph its font lacks; hp-format's stderr holds its own lines only."""
    document = documents(results[:1])[0]
    document["new_model"]["training_metadata"]["data_manifest"]["source_path"] = "in/日本語 $データ^$.json"
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(document, ensure_ascii=False))
    for quiet in ([], ["--quiet"]):
        done = subprocess.run([os.path.join(BIN, "hp-format"), "--summary", "--plot", str(tmp_path / "p.png"),
                               str(saved)] + quiet, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stderr.splitlines() == ([] if quiet else ["hp-format: drew %s" % (tmp_path / "p.png")])
        assert "日本語 $データ^$.json" in done.stdout


def test_the_summary_has_no_output_format(results):
    result = run("hp-format", "--summary", "--output-format", "json", *results)
    assert (result.code, result.stdout) == (2, "")
    assert result.err_lines == ["hp-format: error: --output-format json does not apply to --summary, whose format "
                                "is --summary-format; give --summary-format md, csv or jsonl instead"]


def test_no_output_overwrites_an_input_or_the_other_output(results, tmp_path):
    saved = tmp_path / "saved.json"
    saved.write_bytes(open(results[0], "rb").read())
    (tmp_path / "out.txt").write_text("kept\n")
    os.symlink("out.txt", str(tmp_path / "link.png"))  # another name of the same file
    for argv, code, line in [
            (("--summary", "--plot", tmp_path / "link.png", "--output-file", tmp_path / "out.txt"), 2,
             "--plot and --output-file name the same file, %s" % (tmp_path / "link.png")),
            (("--output-file", saved), 7, "--output-file %s is the input %s" % (saved, saved)),
            (("--summary", "--plot", saved), 7, "--plot %s is the input %s" % (saved, saved)),
            (("--summary", "--plot", tmp_path / "p.png", "--output-file", tmp_path / "p.png"), 2,
             "--plot and --output-file name the same file, %s" % (tmp_path / "p.png"))]:
        result = run("hp-format", *argv, saved)
        assert result.code == code and result.stdout == "" and len(result.err_lines) == 1
        assert result.err_lines[0].startswith("hp-format: error: " + line)
    assert saved.read_bytes() == open(results[0], "rb").read()
    assert (tmp_path / "out.txt").read_text() == "kept\n"
    # (the results fixture may have made a cache folder here too)
    assert set(os.listdir(tmp_path)) - {"cache"} == {"link.png", "out.txt", "results", "saved.json"}


def test_a_picture_is_not_left_behind_when_the_output_file_cannot_be_written(results, tmp_path):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    result = run("hp-format", "--summary", "--plot", tmp_path / "p.png", "--output-file", folder, *results)
    assert result.code == 7 and len(result.err_lines) == 1
    assert not (tmp_path / "p.png").exists()


def test_a_file_that_cannot_be_read_is_one_line_saying_what_to_name(tmp_path):
    result = run("hp-format", tmp_path / "nosuch.jsonl")
    assert result.code == 2 and result.stdout == ""
    assert result.err_lines == ["hp-format: error: cannot read %s: No such file or directory; name a file hp-delta, "
                                "hokusai-preview or hp-format --summary wrote" % (tmp_path / "nosuch.jsonl")]
