"""Atomic output files: what is replaced, what is written through, and what is refused.

The tests that need a process's stdout to be a regular file run hp-format in a subprocess and
name stdout through their own link to /proc/self/fd/1, never /dev/stdout: a regression would
replace the link, and /dev/stdout is the system's.
"""

import json
import os
import re
import stat
import subprocess
import uuid

import pytest

from helpers import BIN, run
from hokusai_preview.core.errors import OutputError
from hokusai_preview.core.fsutil import atomic_path, check_output_path, write_text_atomic

ERROR_RECORD = {"record": "error", "source_path": "x.csv",
                "error": {"kind": "bad_data", "exit_code": 3, "message": "x.csv is empty; give a file",
                          "stage": "load"}}


@pytest.fixture
def record(tmp_path):
    """A record hp-format renders (an error record: no pipeline needed)."""
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(ERROR_RECORD) + "\n")
    return path


def hp_format(*argv, stdout, stdin=subprocess.DEVNULL):
    return subprocess.run([os.path.join(BIN, "hp-format"), "--output-format", "json"] + [str(a) for a in argv],
                          stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120)


# --- names ---------------------------------------------------------------------------------------


def test_a_written_file_is_readable_by_all_and_no_mode_is_chosen(tmp_path):
    target = tmp_path / "out.json"
    with atomic_path(str(target)) as tmp:
        assert stat.S_IMODE(os.stat(tmp).st_mode) == 0o600  # private while incomplete
        with open(tmp, "w") as handle:
            handle.write("{}\n")
    assert stat.S_IMODE(os.stat(str(target)).st_mode) == 0o644
    with pytest.raises(TypeError):  # no caller ever chose another mode: the parameter is gone
        atomic_path(str(target), 0o600)

def test_a_long_name_gets_a_temporary_name_that_fits(tmp_path):
    target = tmp_path / ("a" * 250 + ".json")  # 255 bytes: the longest name a file system takes
    with atomic_path(str(target)) as tmp:
        assert os.path.dirname(tmp) == str(tmp_path)  # beside it, so the rename stays on one disk
        name = os.path.basename(tmp)
        assert name.startswith(".hp-") and name.endswith(".tmp") and len(name) < 32
        with open(tmp, "w") as handle:
            handle.write("complete\n")
    assert target.read_text() == "complete\n"
    assert os.listdir(str(tmp_path)) == [target.name]


def test_hp_format_writes_a_long_file_name(record, tmp_path):
    target = tmp_path / ("r" * 245 + ".json")
    result = run("hp-format", "--output-format", "json", "--output-file", target, record)
    assert result.code == 0, result
    assert json.loads(target.read_text()) == ERROR_RECORD


@pytest.mark.parametrize("option", ["--output-file", "--plot"])
def test_a_dash_is_refused_not_taken_as_a_file_named_dash(record, tmp_path, monkeypatch, option):
    monkeypatch.chdir(tmp_path)
    argv = ["--summary", option, "-", record] if option == "--plot" else [option, "-", record]
    result = run("hp-format", *argv)
    assert result.code == 2 and result.stdout == ""
    hint = ("leave --output-file out to write to stdout, or give ./- for a file of that name"
            if option == "--output-file" else "give ./- for a file of that name")
    assert result.err_lines == ['hp-format: error: %s - would write a file named "-", not stdout; %s' % (option, hint)]
    assert not os.path.lexists(str(tmp_path / "-"))


# --- open files: written through, at their offset -------------------------------------------------


@pytest.mark.parametrize("how", ["link", "link to a link", "/dev/fd/N", "/proc/self/fd/N"])
def test_an_open_file_named_by_descriptor_is_written_through_not_replaced(tmp_path, how):
    opened = tmp_path / "opened.txt"
    with open(str(opened), "w") as handle:
        number = handle.fileno()
        link = tmp_path / "out"
        if how == "link":
            link.symlink_to("/proc/self/fd/%d" % number)
        elif how == "link to a link":
            (tmp_path / "middle").symlink_to("/dev/fd/%d" % number)
            link.symlink_to("middle")
        path = str(link) if how.startswith("link") else how.replace("N", str(number))
        write_text_atomic(path, "complete\n")
        if how.startswith("link"):
            assert os.readlink(str(link)) in ("/proc/self/fd/%d" % number, "middle")  # still the link
    assert opened.read_text() == "complete\n"
    links = {"link": {"out"}, "link to a link": {"out", "middle"}}.get(how, set())
    assert set(os.listdir(str(tmp_path))) == {"opened.txt"} | links  # no temporary file left


def test_an_open_file_is_written_at_its_offset_so_an_appended_log_keeps_its_lines(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("earlier line\n")
    with open(str(log), "a") as handle:
        write_text_atomic("/proc/self/fd/%d" % handle.fileno(), "complete\n")
    assert log.read_text() == "earlier line\ncomplete\n"


def test_a_descriptor_not_open_for_writing_is_one_error(tmp_path):
    source = tmp_path / "data.txt"
    source.write_text("data\n")
    with open(str(source)) as handle:  # read-only: reopening /proc/self/fd/N for writing would truncate it
        number = handle.fileno()
        path = "/dev/fd/%d" % number
        with pytest.raises(OutputError) as caught:
            write_text_atomic(path, "output\n")
    assert caught.value.line() == ("cannot write %s: descriptor %d is not open for writing; "
                                   "give a file name for the output" % (path, number))
    assert source.read_text() == "data\n"


@pytest.mark.parametrize("name", ["/proc/self/fd/1", "link"])
def test_hp_format_writes_through_stdout_that_is_a_regular_file(record, tmp_path, name):
    link = tmp_path / "my-stdout"
    link.symlink_to("/proc/self/fd/1")  # what /dev/stdout is
    output = tmp_path / "o.txt"
    with open(str(output), "w") as stdout:
        result = hp_format("--output-file", link if name == "link" else name, record, stdout=stdout)
    assert result.returncode == 0, result.stderr
    assert json.loads(output.read_text()) == ERROR_RECORD
    assert os.readlink(str(link)) == "/proc/self/fd/1"  # the link is not replaced by the output
    assert sorted(os.listdir(str(tmp_path))) == ["in.jsonl", "my-stdout", "o.txt"]


# --- links ---------------------------------------------------------------------------------------


def test_a_link_to_a_file_or_to_nothing_is_replaced(tmp_path):
    (tmp_path / "real.txt").write_text("old\n")
    for name, target in (("to-file", "real.txt"), ("dangling", "nowhere.txt")):
        (tmp_path / name).symlink_to(target)
        write_text_atomic(str(tmp_path / name), "new\n")
        assert not (tmp_path / name).is_symlink() and (tmp_path / name).read_text() == "new\n"
    assert (tmp_path / "real.txt").read_text() == "old\n"
    assert not (tmp_path / "nowhere.txt").exists()


def test_a_link_to_a_device_is_written_into_and_kept(tmp_path):
    link = tmp_path / "null"
    link.symlink_to("/dev/null")
    write_text_atomic(str(link), "gone\n")
    assert os.readlink(str(link)) == "/dev/null"
    assert os.listdir(str(tmp_path)) == ["null"]


@pytest.mark.parametrize("target", ["/dev/hp-test-%s" % uuid.uuid4().hex, "/proc/sys/kernel/hostname"])
def test_a_link_into_dev_or_proc_to_no_device_or_open_file_is_refused(tmp_path, target):
    link = tmp_path / "out"
    link.symlink_to(target)
    with pytest.raises(OutputError) as caught:
        check_output_path(str(link))
    assert caught.value.line() == ("%s is a link to %s, which is neither a device, a pipe nor an open file; "
                                   "give a file name for the output" % (link, target))
    with pytest.raises(OutputError):
        write_text_atomic(str(link), "output\n")
    assert os.readlink(str(link)) == target and os.listdir(str(tmp_path)) == ["out"]
    assert not os.path.lexists(target) or target.startswith("/proc")


def test_a_file_in_proc_is_refused():
    with pytest.raises(OutputError) as caught:
        check_output_path("/proc/sys/kernel/hostname")
    assert caught.value.line() == ("/proc/sys/kernel/hostname is in /proc but is not an open file; "
                                   "give a file name for the output")


# --- stdin as the input ----------------------------------------------------------------------------


def test_the_driver_refuses_an_output_file_that_is_the_data_on_stdin(tmp_path, monkeypatch):
    data = tmp_path / "x.json"
    data.write_text("[]\n")
    monkeypatch.chdir(tmp_path)
    argv = ["--data-path", "-", "--output-file", "x.json"]
    with open(str(data)) as stdin:
        result = subprocess.run([os.path.join(BIN, "hp-args"), "--"] + argv, stdin=stdin,
                                capture_output=True, text=True, timeout=60)
    assert result.stdout == "exit 7\n"
    assert result.stderr == ("hokusai-preview: error: --output-file x.json is the input on stdin: writing it would "
                             "destroy the data; give the output another name\n")
    with open(os.devnull) as stdin:  # another stdin: accepted
        result = subprocess.run([os.path.join(BIN, "hp-args"), "--"] + argv, stdin=stdin,
                                capture_output=True, text=True, timeout=60)
    assert "opt_output_file=x.json" in result.stdout.splitlines(), result
    assert data.read_text() == "[]\n"


def test_written_through_tells_what_atomic_path_writes_in_place(tmp_path):
    from hokusai_preview.core.fsutil import written_through

    (tmp_path / "my-stdout").symlink_to("/proc/self/fd/1")
    (tmp_path / "to-file").symlink_to("file.txt")
    assert written_through(str(tmp_path / "my-stdout")) and written_through("/dev/null")
    assert not written_through(str(tmp_path / "to-file")) and not written_through(str(tmp_path / "new.txt"))


def test_missing_folder_is_the_outermost_one_an_output_would_need(tmp_path):
    from hokusai_preview.core.fsutil import missing_folder

    assert missing_folder(str(tmp_path / "out.json")) is None
    assert missing_folder(str(tmp_path / "a" / "b" / "out.json")) == str(tmp_path / "a")
    (tmp_path / "a").mkdir()
    assert missing_folder(str(tmp_path / "a" / "b" / "out.json")) == str(tmp_path / "a" / "b")


@pytest.mark.parametrize("name", ["x" * 300 + ".json", "d" * 300 + "/out.json"])
def test_an_output_name_too_long_for_the_file_system_is_refused_before_any_work(tmp_path, name):
    with pytest.raises(OutputError) as refused:
        check_output_path(str(tmp_path / name))
    assert re.search(r"is 30\d bytes long, more than the \d+ this file system allows", refused.value.message)
    assert len(str(refused.value.message)) < 250  # the path is shortened, the line stays one line
    assert os.listdir(str(tmp_path)) == []


def test_an_output_written_through_an_open_descriptor_on_the_data_is_refused(tmp_path):
    """/dev/fd/N opened on the contributed file is written through, not replaced: it was not
    compared with the inputs, and the report overwrote the data."""
    data = tmp_path / "data.csv"
    data.write_text("a,label\n1,x\n")
    descriptor = os.open(str(data), os.O_RDWR)
    try:
        with pytest.raises(OutputError, match="is the input %s: writing it would destroy the data" % data):
            check_output_path("/dev/fd/%d" % descriptor, [str(data)])
        check_output_path("/dev/fd/%d" % descriptor, [str(tmp_path / "other.csv")])  # another file: written
    finally:
        os.close(descriptor)
    assert data.read_text() == "a,label\n1,x\n"


def test_the_pipe_the_data_comes_in_on_is_no_output():
    """--data-path - --output-file /dev/stdin, stdin a pipe: refused before any stage runs, not by
    hp-format after all of them ("descriptor 0 is not open for writing")."""
    done = subprocess.run("printf 'a,label\\n1,x\\n' | %s -- --data-path - --output-file /dev/stdin"
                          % os.path.join(BIN, "hp-args"), shell=True, capture_output=True, text=True, timeout=60)
    assert done.stdout == "exit 7\n"
    assert done.stderr == ("hokusai-preview: error: --output-file /dev/stdin is the input on stdin: writing it would "
                           "destroy the data; give the output another name\n")
