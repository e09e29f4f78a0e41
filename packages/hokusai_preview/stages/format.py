"""hp-format: print delta outputs as JSON for machines, as a report for people, or
summarise many.

Usage:
  hp-format [options] [--] [<record>...]
  hp-format --summary [--summary-format FMT] [options] [--] [<record>...]
  hp-format (-h | --help | --version)

Reads `delta` records (from hp-delta), saved JSON outputs (e.g. results/*.json
of `make batch`) and error records, from the files named or stdin, and prints
them.

  json    the main pipeline's delta output plus preview_metadata, indented
          (several inputs give a JSON array)
  jsonl   the same, one compact JSON document per line
  pretty  a report: the DeltaOne verdict and the probability that the full
          pipeline passes it first, then delta_one_score with its interval and
          confidence, a bar per metric of the estimated delta and its 90%
          interval, and the disclaimer. Coloured when stdout is a terminal (not
          with NO_COLOR set or TERM=dumb).

With --summary, one table of every input instead, sorted by estimated
delta_one_score (best first; failed contributions last, with their error):
contribution, rows used, delta_one_score and its 90% interval, the primary
metric's delta in points and its interval, the predicted DeltaOne verdict, the
probability that the full pipeline passes, the estimation confidence and the
warnings.

  md      a Markdown table under a one-line headline
  csv     one row per contribution, numbers unrounded
  jsonl   one `summary` row per line (schemas/summary.schema.json); hp-format
          reads these back, so rows can be filtered (e.g. with jq) and
          summarised or drawn again

Options:
  --output-format FMT     json, jsonl or pretty [default: pretty].
  --summary               Summarise all inputs in one table (--summary-format)
                          instead.
  --summary-format FMT    md, csv or jsonl [default: md].
  --plot FILE             Also draw the inputs' estimated deltas, their
                          intervals and the DeltaOne threshold to FILE (.png,
                          .svg or .pdf; needs matplotlib: make install).
  --output-file FILE      Write to FILE (atomically) instead of stdout.
{basic_options}

hp-format caches nothing: rendering takes less time than a cache lookup would.

Exit status: 0 success, 2 usage (options, or input that is not a delta output or
summary row), 7 cannot write output, 1 internal error.
"""

import contextlib
import json
import os
import sys

from ..core.command import (
    UNUSABLE,
    RecordReader,
    dumps_record,
    json_loads,
    what_failed,
    write_stdout,
)
from ..core.errors import UsageError
from ..core.options import choice_option, with_basic_options

__doc__ = with_basic_options(__doc__)

FORMATS = ("json", "jsonl", "pretty")
FEED = "fix it, or feed hp-format what hp-delta or 'hp-format --summary --summary-format jsonl' wrote"

# The most hp-format reads whole (an indented output is one document; a summary of thousands of
# outputs is megabytes): past it the input is no output, refused before it fills the memory.
MAX_INPUT_BYTES = 256 << 20


class Format(RecordReader):
    name = "hp-format"
    usage = __doc__
    accepts = ("delta",)
    loads = staticmethod(json_loads)  # a lone surrogate: check_input names it, field and all

    def __init__(self):
        super().__init__()
        self.places = []  # where each input record was read ("line 3 of rows.jsonl"), for messages

    def run(self, args):
        from ..core import summary

        fmt = choice_option(args, "--output-format", FORMATS)
        summary_fmt = choice_option(args, "--summary-format", summary.FORMATS)
        self.summarising = bool(args["--summary"])
        if self.summarising and fmt != "pretty":  # pretty is the default, so it cannot be told from no choice
            raise UsageError("--output-format %s does not apply to --summary, whose format is --summary-format" % fmt,
                             "give --summary-format md, csv or jsonl instead")
        # Before any work, and before the picture is drawn: no output may overwrite an input or
        # the other output.
        from ..core.fsutil import check_output_path, same_path

        sources = args["<record>"] or ["-"]
        inputs = [source for source in sources if source != "-"]
        if args["--output-file"]:
            check_output_path(args["--output-file"], inputs)
        if args["--plot"]:
            if args["--output-file"] and same_path(args["--plot"], args["--output-file"]):
                raise UsageError("--plot and --output-file name the same file, %s" % args["--plot"],
                                 "give the picture another name")
            check_output_path(args["--plot"], inputs, "--plot")
            from ..core.plot import picture_format

            self.picture_format = picture_format(args["--plot"])
        outputs = self.each(list(self.input_records(args)), self.output_of)
        if not outputs:
            if not self.summarising and not args["--plot"] and "-" in sources:
                # Most likely a stage before this one in the pipe (the driver's) failed and said
                # why: a second line, or an empty output file in place of the last good one,
                # would only confuse.
                return
            # A filter that matched nothing: outputs that say so, so that none is left stale.
            self.info("no records in the input: there are no contributions to show")
        rows = self.each(outputs, summary.row_of) if self.summarising or args["--plot"] else None
        if rows:
            rows, repeats = summary.without_repeats(rows)
            for warning in repeats:
                self.warn(warning)
        if self.summarising:
            try:
                text = summary.render(rows, summary_fmt)
            except UNUSABLE:
                # Render row by row only to name the input that cannot be rendered.
                self.each(rows, lambda row: summary.render([row], summary_fmt))
                raise
        elif not outputs:
            text = ""
        elif fmt == "json":
            body = outputs[0] if len(outputs) == 1 else outputs
            text = json.dumps(body, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        elif fmt == "jsonl":
            text = "".join(dumps_record(o) + "\n" for o in outputs)
        else:
            from ..core.report import UNICODE, glyphs_for, render

            glyphs = UNICODE if args["--output-file"] else glyphs_for(getattr(sys.stdout, "encoding", None))
            text = "\n".join(self.each(outputs, lambda o: render(o, color=self.use_color(args), glyphs=glyphs)))
        self.publish(args, text, rows, utf8=(summary_fmt if self.summarising else fmt) in ("json", "jsonl"))

    def publish(self, args, text, rows, utf8=False):
        """Write the picture and the text, both or neither: each goes to a temporary file first,
        and they are published together once both are complete; stdout, which can fail (closed,
        full), gets the text before a file is renamed into place."""
        from ..core.fsutil import atomic_path, missing_folder, write_text, written_through

        writers = []
        if args["--output-file"]:
            writers.append((args["--output-file"], lambda tmp: write_text(tmp, text)))
        if args["--plot"]:
            from ..core.plot import draw

            writers.append((args["--plot"], lambda tmp: draw(rows, tmp, self.picture_format)))
        # Leaving the stack publishes the last entered first: a device or pipe (/dev/full, a
        # FIFO) is written into then, and stdout next, which can fail, while a rename into place
        # hardly can; so those go last in, and a failure there leaves the renamed outputs
        # unpublished too. (Of two such, bytes already written into the first cannot be taken
        # back if the second fails.)
        renamed = [writer for writer in writers if not written_through(writer[0])]
        through = [writer for writer in writers if written_through(writer[0])]
        # Missing folders are made (as for results/ of make batch), and said, so a mistyped one shows.
        said, folders = {}, set()
        for path in (args["--output-file"], args["--plot"]):  # a folder both need is said once
            folder = missing_folder(path) if path else None
            said[path] = " (made the folder %s)" % folder if folder and folder not in folders else ""
            folders.add(folder)

        def to_stdout(exc_type, exc, traceback):
            if exc_type is None:  # everything after it was written
                write_stdout(text, utf8)
            return False

        with contextlib.ExitStack() as stack:
            for path, write in renamed:
                write(stack.enter_context(atomic_path(path)))
            if not args["--output-file"]:
                stack.push(to_stdout)
            for path, write in through:
                write(stack.enter_context(atomic_path(path)))
        if args["--output-file"]:
            self.info("wrote %s%s" % (args["--output-file"], said[args["--output-file"]]))
        if args["--plot"]:
            self.info("drew %s%s" % (args["--plot"], said[args["--plot"]]))

    def each(self, items, convert):
        """``convert`` applied to every input, or one line naming the first input it cannot read."""
        results = []
        for number, item in enumerate(items, 1):
            try:
                results.append(convert(item))
            except UNUSABLE as exc:
                place = self.places[number - 1] if number <= len(self.places) else "input %d" % number
                raise UsageError("%s is not a complete delta output, error record or summary row (%s)" % (
                    place, what_failed(exc)), FEED) from None
        return results

    @staticmethod
    def output_of(record):
        if record.get("record") == "delta":
            return record["output"]
        return record  # an error record, a summary row, or a saved output document

    def use_color(self, args):
        return (not args["--output-file"] and sys.stdout is not None and sys.stdout.isatty()
                and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb")

    unreadable = ("cannot read %s: %s", "name a file hp-delta, hokusai-preview or hp-format --summary wrote")

    def read_source(self, source):
        # Besides JSON lines, accept saved outputs: one (indented) JSON document per file or
        # on stdin (`hokusai-preview --output-format json | hp-format`). Outputs are small, so
        # the whole input is read to tell the two apart.
        handle, label = self.open_source(source)
        try:
            data = handle.read(MAX_INPUT_BYTES + 1)
            if len(data) > MAX_INPUT_BYTES:
                raise UsageError("%s holds more than %d MB, more than any output or summary" % (
                    label, MAX_INPUT_BYTES >> 20), "feed hp-format the output of hp-delta")
            text = data.decode("utf-8-sig")  # an editor's byte-order mark is not JSON
        except UnicodeDecodeError:
            raise UsageError("%s is not UTF-8 text, so not a delta output or record" % label,
                             "feed hp-format the output of hp-delta") from None
        finally:
            if source != "-":
                handle.close()
        stripped = text.strip()
        if stripped.startswith("[") or (stripped.startswith("{") and "\n" in stripped):  # one line is a record
            try:
                document = json.loads(text)
            except (ValueError, RecursionError):
                pass  # JSON lines, or broken: read_lines says which line
            else:
                items = document if isinstance(document, list) else [document]
                for number, item in enumerate(items, 1):
                    place = "item %d of %s" % (number, label) if isinstance(document, list) else label
                    yield self.check_output(item, label, place)
                return
        yield from self.read_lines(text.splitlines(), label)

    def check_record(self, record, number, label):
        place = "line %d of %s" % (number, label)
        if isinstance(record, dict) and "schema_version" in record and "delta_computation" in record:
            return self.checked(record, place)
        if self._summary_row(record):
            return self.checked(record, place)
        return self.checked(super().check_record(record, number, label), place)

    def check_output(self, item, label, place):
        if isinstance(item, dict) and ("delta_computation" in item or item.get("record") in ("delta", "error")):
            return self.checked(item, place)
        if self._summary_row(item):
            return self.checked(item, place)
        raise UsageError("%s is not a delta output or record" % label, "feed hp-format the output of hp-delta")

    def checked(self, record, place):
        """``record`` once every field the table, picture or report uses is what its schema says."""
        from ..core.summary import BadField, check_input

        try:
            check_input(record)
        except BadField as exc:
            raise UsageError("%s, %s, has %s" % (place, exc.kind, exc.text), FEED) from None
        self.places.append(place)
        return record

    def _summary_row(self, item):
        """Summary rows are read back only to summarise or draw them again."""
        if isinstance(item, dict) and item.get("record") == "summary":
            if self.summarising:
                return True
            raise UsageError("a summary row can only be summarised or drawn again", "add --summary")
        return False


main = Format.entry_point
