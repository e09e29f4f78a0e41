"""The options every command shares: their lines in a usage text, and the reading of option values.

* ``{basic_options}`` (every command) and ``{common_options}`` (every cached stage) in a usage
  text stand for the shared options, listed in the column of the command's own ones.
* ``int_option``, ``choice_option``, ``seed_option`` and ``jobs_option`` read a docopt value, or
  raise a UsageError naming the option.
"""

import os
import re

from .errors import UsageError

# Every command has these; {basic_options} in a usage text stands for them.
BASIC_OPTIONS = (
    ("-q --quiet", "Print nothing on stderr but errors."),
    ("-v --verbose", "Show tracebacks on errors."),
    ("-h --help", "Show this help and exit."),
    ("--version", "Show the version and exit."),
)
# Every cached stage has these; {common_options} in a stage's usage text stands for them.
COMMON_OPTIONS = (
    ("--cache-dir DIR", "Cache directory (default: $HP_CACHE_DIR, else ~/.cache/hokusai-preview)."),
    ("--no-cache", "Recompute even if a cached result exists, and replace it."),
) + BASIC_OPTIONS

# No line of any command's --help is wider than this (an 80-column terminal).
HELP_WIDTH = 80

# Every stage's --help ends with it (README: Exit status).
STAGE_EXIT_STATUS = ("Exit status: 0 success, 2 usage (options, or a record from the wrong stage,\n"
                     "incomplete or edited), 3 bad data, 4 bad baseline, 5 baseline integrity failure,\n"
                     "6 untrusted model, 7 cannot write output or cache, 1 internal error.")

SEED_MAX = 2 ** 32 - 1  # numpy's RandomState, which scikit-learn seeds, takes seeds below 2**32
BOOTSTRAP_MAX = 100000


def int_option(args, option, minimum=1, maximum=None):
    """The integer value of a docopt option, from ``minimum`` (1 unless told) to ``maximum``, or a
    UsageError naming it."""
    value = args[option]
    # Digits only: int() also takes " 5", "5_00" and other scripts' digits, which no one means as a number here.
    if not isinstance(value, str) or not re.fullmatch(r"-?[0-9]{1,4000}", value):  # 4000: under int()'s limit
        raise UsageError("%s must be a whole number, not %r" % (option, value), None)
    number = int(value)
    if number < minimum:
        raise UsageError("%s must be at least %d, not %d" % (option, minimum, number), None)
    if maximum is not None and number > maximum:
        raise UsageError("%s must be at most %d, not %d" % (option, maximum, number), None)
    return number


def choice_option(args, option, choices, hint=None):
    """The value of a docopt option that must be one of ``choices`` (None when not given)."""
    value = args[option]
    if value is not None and value not in choices:
        raise UsageError("%s must be one of %s, not %r" % (option, ", ".join(choices), value), hint)
    return value


def seed_option(args):
    """``--seed``: 0 to 2**32 - 1."""
    return int_option(args, "--seed", minimum=0, maximum=SEED_MAX)


def jobs_option(args):
    """``--jobs`` as scikit-learn's ``n_jobs``: 0 is every core (-1), more than the cores is all of them."""
    jobs = int_option(args, "--jobs", minimum=0)
    return min(jobs, os.cpu_count() or 1) if jobs else -1


def with_common_options(doc):
    """A stage's usage text with the options every cached stage shares put in place, and the
    exit statuses every stage shares at its end."""
    return _options_in(doc, "{common_options}", COMMON_OPTIONS).rstrip("\n") + "\n\n" + STAGE_EXIT_STATUS + "\n"


def with_basic_options(doc):
    """A command's usage text with the options every command has put in place of {basic_options}."""
    return _options_in(doc, "{basic_options}", BASIC_OPTIONS)


def _options_in(doc, placeholder, options):
    """``doc`` with ``options`` listed in place of ``placeholder``: their descriptions start in the
    column of the command's own options' descriptions, and wrap there to keep within 80 columns."""
    import textwrap

    own = [m.end() - m.start() for m in re.finditer(r"^  -\S.*?\s{2,}(?=\S)", doc, re.MULTILINE)]
    column = max(own) if own else 24
    lines = [textwrap.fill(text, HELP_WIDTH, initial_indent="  %s" % flag.ljust(column - 2),
                           subsequent_indent=" " * column, break_long_words=False, break_on_hyphens=False)
             for flag, text in options]
    return doc.replace(placeholder, "\n".join(lines))
