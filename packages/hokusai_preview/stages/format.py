"""hp-format: print delta outputs as JSON for machines or as a report for people.

Usage:
  hp-format [options] [<record>...]
  hp-format (-h | --help | --version)

Reads `delta` records (from hp-delta) or saved JSON outputs and prints them.

  json    the main pipeline's delta output plus preview_metadata, indented (several inputs
          give a JSON array)
  jsonl   the same, one compact JSON document per line
  pretty  a report: the DeltaOne verdict and its probability first, then the estimate with its
          interval and confidence, the per-metric table and the disclaimer

Options:
  --output-format FMT     json, jsonl or pretty [default: pretty].
  --output-file FILE      Write to FILE (atomically) instead of stdout.
  -q --quiet              Print nothing on stderr but errors.
  -v --verbose            Show tracebacks on errors.
  -h --help               Show this help and exit.
  --version               Show the version and exit.

hp-format caches nothing: rendering takes less time than a cache lookup would.
"""

import json
import sys

from ..core.command import Stage, dumps_record
from ..core.errors import UsageError

FORMATS = ("json", "jsonl", "pretty")


class Format(Stage):
    name = "hp-format"
    usage = __doc__
    accepts = ("delta",)

    def run(self, args):
        fmt = args["--output-format"]
        if fmt not in FORMATS:
            raise UsageError("--output-format must be one of %s, not %r" % (", ".join(FORMATS), fmt), None)
        outputs = [self.output_of(record) for record in self.input_records(args)]
        if not outputs:
            return  # nothing upstream (a failed stage already said why): write nothing
        if fmt == "json":
            body = outputs[0] if len(outputs) == 1 else outputs
            text = json.dumps(body, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        elif fmt == "jsonl":
            text = "".join(dumps_record(o) + "\n" for o in outputs)
        else:
            from ..core.report import render

            text = "\n".join(render(o, color=self.use_color(args)) for o in outputs)
        if args["--output-file"]:
            from ..core.fsutil import write_text_atomic

            write_text_atomic(args["--output-file"], text)
            self.info("wrote %s" % args["--output-file"])
        else:
            sys.stdout.write(text)

    @staticmethod
    def output_of(record):
        if record.get("record") == "delta":
            return record["output"]
        return record  # an error record, or a saved output document

    def use_color(self, args):
        import os

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
        return super().check_record(record, number, label)

    def check_output(self, item, label):
        if isinstance(item, dict) and ("delta_computation" in item or item.get("record") in ("delta", "error")):
            return item
        raise UsageError("%s is not a delta output or record" % label, "feed hp-format the output of hp-delta")


main = Format.entry_point
