"""hp-format: print delta outputs as JSON for machines, as a report for people, or summarise many.

Usage:
  hp-format [options] [<record>...]
  hp-format --summary [--summary-format FMT] [options] [<record>...]
  hp-format (-h | --help | --version)

Reads `delta` records (from hp-delta), saved JSON outputs (e.g. results/*.json of `make batch`)
and error records, from the files named or stdin, and prints them.

  json    the main pipeline's delta output plus preview_metadata, indented (several inputs
          give a JSON array)
  jsonl   the same, one compact JSON document per line
  pretty  a report: the DeltaOne verdict and the probability that the full pipeline passes it
          first, then delta_one_score with its interval and confidence, a bar per metric of
          the estimated delta and its 90% interval, and the disclaimer. Coloured when stdout
          is a terminal (not with NO_COLOR set or TERM=dumb).

With --summary, one table of every input instead, sorted by estimated delta_one_score (best
first; failed contributions last, with their error): contribution, rows used, delta_one_score
and its 90% interval, the primary metric's delta in points and its interval, the predicted
DeltaOne verdict, the probability that the full pipeline passes, the estimation confidence and
the warnings.

  md      a Markdown table under a one-line headline
  csv     one row per contribution, numbers unrounded
  jsonl   one `summary` row per line (schemas/summary.schema.json); hp-format reads these
          back, so rows can be filtered (e.g. with jq) and summarised or drawn again

Options:
  --output-format FMT     json, jsonl or pretty [default: pretty].
  --summary               Summarise all inputs in one table (--summary-format) instead.
  --summary-format FMT    md, csv or jsonl [default: md].
  --plot FILE             Also draw the inputs' estimated deltas, their intervals and the
                          DeltaOne threshold to FILE (PNG; needs matplotlib: make install).
  --output-file FILE      Write to FILE (atomically) instead of stdout.
  -q --quiet              Print nothing on stderr but errors.
  -v --verbose            Show tracebacks on errors.
  -h --help               Show this help and exit.
  --version               Show the version and exit.

hp-format caches nothing: rendering takes less time than a cache lookup would.
"""

import json
import os
import sys

from ..core.command import Stage, choice_option, dumps_record
from ..core.errors import UsageError

FORMATS = ("json", "jsonl", "pretty")
# What a record missing a field or holding a wrong type raises while it is converted.
UNREADABLE = (KeyError, TypeError, ValueError, IndexError, AttributeError)


class Format(Stage):
    name = "hp-format"
    usage = __doc__
    accepts = ("delta",)

    def run(self, args):
        from ..core import summary

        fmt = choice_option(args, "--output-format", FORMATS)
        summary_fmt = choice_option(args, "--summary-format", summary.FORMATS)
        self.summarising = bool(args["--summary"])
        # Before any work, and before the picture is drawn: no output may overwrite an input or
        # the other output.
        from ..core.fsutil import check_output_path

        inputs = [source for source in args["<record>"] if source != "-"]
        if args["--output-file"]:
            check_output_path(args["--output-file"], inputs)
        if args["--plot"]:
            if args["--output-file"] and os.path.abspath(args["--plot"]) == os.path.abspath(args["--output-file"]):
                raise UsageError("--plot and --output-file name the same file, %s" % args["--plot"],
                                 "give the picture another name")
            check_output_path(args["--plot"], inputs, "--plot")
        outputs = self.each(list(self.input_records(args)), self.output_of)
        if not outputs:
            return  # nothing upstream (a failed stage already said why): write nothing
        rows = self.each(outputs, summary.row_of) if self.summarising or args["--plot"] else None
        if self.summarising:
            try:
                text = summary.render(rows, summary_fmt)
            except UNREADABLE:
                # Render row by row only to name the input that cannot be rendered.
                self.each(rows, lambda row: summary.render([row], summary_fmt))
                raise
        elif fmt == "json":
            body = outputs[0] if len(outputs) == 1 else outputs
            text = json.dumps(body, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        elif fmt == "jsonl":
            text = "".join(dumps_record(o) + "\n" for o in outputs)
        else:
            from ..core.report import UNICODE, glyphs_for, render

            glyphs = UNICODE if args["--output-file"] else glyphs_for(getattr(sys.stdout, "encoding", None))
            text = "\n".join(self.each(outputs, lambda o: render(o, color=self.use_color(args), glyphs=glyphs)))
        if args["--plot"]:
            from ..core.fsutil import atomic_path
            from ..core.plot import draw

            with atomic_path(args["--plot"]) as picture:  # published only once the text is written too
                draw(rows, picture)
                self.write(args, text)
            self.info("drew %s" % args["--plot"])
        else:
            self.write(args, text)

    def write(self, args, text):
        if args["--output-file"]:
            from ..core.fsutil import write_text_atomic

            write_text_atomic(args["--output-file"], text)
            self.info("wrote %s" % args["--output-file"])
        else:
            sys.stdout.write(text)

    @staticmethod
    def each(items, convert):
        """``convert`` applied to every input, or one line naming the first input it cannot read."""
        results = []
        for number, item in enumerate(items, 1):
            try:
                results.append(convert(item))
            except UNREADABLE as exc:
                what = "no %s" % exc.args[0] if isinstance(exc, KeyError) and exc.args else type(exc).__name__
                raise UsageError("input %d is not a complete delta output, error record or summary row (%s)" % (
                    number, what), "feed hp-format what hp-delta or 'hp-format --summary --summary-format jsonl' "
                                   "wrote, whole") from None
        return results

    @staticmethod
    def output_of(record):
        if record.get("record") == "delta":
            return record["output"]
        return record  # an error record, a summary row, or a saved output document

    def use_color(self, args):
        return (not args["--output-file"] and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
                and os.environ.get("TERM") != "dumb")

    def read_source(self, source):
        # Besides JSON lines, accept saved outputs: one (indented) JSON document per file.
        if source != "-":
            try:
                with open(source, encoding="utf-8") as handle:
                    text = handle.read()
            except OSError as exc:
                raise UsageError("cannot read %s: %s" % (source, exc.strerror or exc), None) from None
            except UnicodeDecodeError:
                raise UsageError("%s is not UTF-8 text, so not a delta output or record" % source,
                                 "feed hp-format the output of hp-delta") from None
            stripped = text.lstrip()
            if stripped.startswith(("{", "[")):
                try:
                    document = json.loads(text)
                except ValueError:
                    pass
                else:
                    for item in document if isinstance(document, list) else [document]:
                        yield self.check_output(item, source)
                    return
        yield from super().read_source(source)

    def check_record(self, record, number, label):
        if isinstance(record, dict) and "schema_version" in record and "delta_computation" in record:
            return record
        if self._summary_row(record):
            return record
        return super().check_record(record, number, label)

    def check_output(self, item, label):
        if isinstance(item, dict) and ("delta_computation" in item or item.get("record") in ("delta", "error")):
            return item
        if self._summary_row(item):
            return item
        raise UsageError("%s is not a delta output or record" % label, "feed hp-format the output of hp-delta")

    def _summary_row(self, item):
        """Summary rows are read back only to summarise or draw them again."""
        if isinstance(item, dict) and item.get("record") == "summary":
            if self.summarising:
                return True
            raise UsageError("a summary row can only be summarised or drawn again", "add --summary")
        return False


main = Format.entry_point
