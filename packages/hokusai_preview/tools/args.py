"""hp-args: parse the hokusai-preview driver's arguments for the shell (internal).

Usage:
  hp-args [--] [<argument>...]
  hp-args (-h | --help)

The driver `hokusai-preview` is a shell script; it runs `eval "$(hp-args "$@")"`
so that its options are parsed by docopt from the usage text below, like every
other command's. hp-args prints shell code: assignments of `opt_<name>`
variables, or the help text and `exit 0`, or, after a one-line error on stderr,
`exit N` with that error's status (2 for usage; 7 for an output or cache place
that cannot be written, which it also checks before any stage runs).
"""

import re
import shlex
import sys

from .. import __version__
from ..core.errors import HPError, UsageError
from ..core.options import with_basic_options

DRIVER_USAGE = """\
hokusai-preview: how much would this data move the model? A local, non-binding
DeltaOne estimate.

Usage:
  hokusai-preview --data-path PATH [options]
  hokusai-preview (-h | --help | --version)

Trains the baseline's recipe with the contributed data on this machine, scores
the baseline and the new model on the baseline's benchmark, and prints the
DeltaOne estimate in the main pipeline's JSON format (plus preview fields) or as
a report. It chains hp-load, hp-check, hp-sample, hp-train, hp-eval, hp-delta
and hp-format; each caches its result, so a re-run is instant. hp-check reports
contamination, duplicates, label noise, drift and personal data, and removes
contributed rows that duplicate benchmark rows before training when there are
more of them than chance explains.

Options:
  --data-path PATH        Contributed data: CSV/TSV, JSON, JSON Lines or
                          Parquet, optionally .gz; "-" reads stdin.
  --format FMT            Read the data as csv, tsv, json, jsonl or parquet
                          instead of detecting it.
  --output-format FMT     pretty, json or jsonl [default: pretty].
  --output-file FILE      Write the output to FILE (atomically) instead of
                          stdout.
  --sample-size N         Train with at most N contributed rows (stratified)
                          [default: 10000].
  --baseline-model DIR    Baseline bundle (default: $HP_BASELINE, else the
                          embedded one).
  --label-column NAME     The contribution's label column (default: the
                          baseline's).
  --primary-metric NAME   Metric DeltaOne is judged on (default: the
                          baseline's).
  --seed N                Random seed for sampling and training [default: 42].
  --full                  Run the main pipeline's recipe at full budget: every
                          row, every tree, no early stopping (output has
                          preview_mode false).
  --jobs N                CPU cores for training, 0 for all [default: 0].
  --keep-contaminated     Train with contributed rows that duplicate benchmark
                          rows too (they inflate the delta; by default they are
                          removed when more than chance explains).
  --trust-model           Accept and load a baseline model that is a pickle or
                          joblib file, which runs any code it contains (only for
                          a source you trust).
  --cache-dir DIR         Cache directory (default: $HP_CACHE_DIR, else
                          ~/.cache/hokusai-preview).
  --no-cache              Recompute every stage and replace its cached results.
{basic_options}

Exit status: 0 success, 2 usage, 3 bad data, 4 bad baseline, 5 baseline
integrity failure, 6 untrusted model, 7 cannot write output, 1 internal error.
"""
DRIVER_USAGE = with_basic_options(DRIVER_USAGE)


def shell_code(argv):
    """Shell code for the driver: variable assignments, or help / error and exit."""
    from ..core.usage import Usage, parse

    Usage(DRIVER_USAGE).refuse_dashed_names(argv)
    if any(a in ("-h", "--help") for a in argv):
        return print_and_exit(DRIVER_USAGE)
    if "--version" in argv:
        return print_and_exit("hokusai-preview %s\n" % __version__)
    parsed = parse(DRIVER_USAGE, argv, "hokusai-preview", default_help=False)  # refuses --full --sample-size too
    check_values(parsed)
    lines = []
    for key, value in sorted(parsed.items()):
        if not key.startswith("--"):
            continue
        name = "opt_" + re.sub(r"[^a-z0-9]", "_", key[2:].lower())
        if value is True:
            value = "1"
        elif value in (False, None):
            value = ""
        lines.append("%s=%s" % (name, shlex.quote(str(value))))
    return "\n".join(lines) + "\n"


def print_and_exit(text):
    """Shell code printing ``text`` and exiting 0, or, when stdout is closed or full, the one-line
    error and exit status (7) the stages give, not bash's own message and status 1."""
    return ("printf '%%s' %s 2>/dev/null || { echo %s >&2; exit 7; }\nexit 0\n"
            % (shlex.quote(text), shlex.quote("hokusai-preview: error: cannot write to stdout; give it a file or a "
                                              "pipe that can take it (e.g. > out.txt)")))


def check_values(parsed):
    """Refuse a bad option value before any stage starts, with the stages' own checks.

    Every stage of the pipe starts at once, so a value only a later stage checks would let the
    earlier ones compute, each stage that takes the option would complain, and the run would
    fail only at the end.
    """
    from ..core.cache import Cache
    from ..core.deltaone import METRICS
    from ..core.options import choice_option, int_option, jobs_option, seed_option
    from ..stages.format import FORMATS

    Cache(parsed["--cache-dir"])  # HP_CACHE_MAX_BYTES, and a cache directory that cannot be one
    seed_option(parsed)
    int_option(parsed, "--sample-size")
    jobs_option(parsed)
    choice_option(parsed, "--output-format", FORMATS)
    if parsed["--format"] is not None:
        from ..core.dataio import FORMAT_CHOICES

        choice_option(parsed, "--format", FORMAT_CHOICES, "or leave it out to detect the format")
    if parsed["--output-file"]:
        from ..core.fsutil import check_output_path

        # "-" is compared with stdin: `--data-path - < x.json --output-file x.json` is refused too.
        check_output_path(parsed["--output-file"], [parsed["--data-path"]])
    if parsed["--primary-metric"] is not None:
        choice_option(parsed, "--primary-metric", METRICS)


def main(argv=None):
    from ..core.command import say, silence_stdout, write_stdout

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--"]:  # the driver's own arguments follow
        text = driver_code(argv[1:])
    elif any(a in ("-h", "--help") for a in argv):
        text = __doc__
    else:
        text = driver_code(argv)
    try:
        write_stdout(text, utf8=True)  # UTF-8, as the driver's own arguments came
    except BrokenPipeError:  # the reader went away: stop quietly, as the stages do
        silence_stdout()
        return 141
    except HPError as exc:  # stdout closed or full
        say("hp-args: error: %s" % exc.line())
        return exc.exit_code
    return 0


def driver_code(argv):
    """:func:`shell_code`, or after the one-line error on stderr, shell code exiting with its status."""
    from ..core.command import say

    try:
        return shell_code(argv)
    except HPError as exc:
        if isinstance(exc, UsageError) and not exc.hint:
            exc.hint = "see 'hokusai-preview --help'"
        say("hokusai-preview: error: %s" % exc.line())
        return "exit %d\n" % exc.exit_code
