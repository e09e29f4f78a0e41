"""Errors that end a command with one line on stderr and a documented exit status.

Every failure a user can cause or fix is one of these classes; anything else is a bug
and exits with status 1 (the traceback is shown only with ``--verbose``).

Exit statuses (documented in the README, stable across releases):

====  =======================  ====================================================
code  class                    meaning
====  =======================  ====================================================
0                              success
1                              internal error (a bug: please report it)
2     UsageError               bad command line or bad input record
3     DataError                the contributed data cannot be used
4     BaselineError            the baseline bundle cannot be used
5     IntegrityError           a bundle file is missing, outside the bundle, or fails its SHA-256
6     UntrustedModelError      a model file needs untrusted types, or is a pickle without --trust-model
7     OutputError              an output or cache path cannot be written
130   (SIGINT)                 interrupted
143   (SIGTERM)                terminated
====  =======================  ====================================================
"""


class HPError(Exception):
    """A failure the user can act on.

    Parameters
    ----------
    message : str
        What is wrong, naming the file or value involved.
    hint : str, optional
        What to do about it. Appended after "; ".
    """

    exit_code = 1
    kind = "error"

    def __init__(self, message, hint=None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def line(self):
        """The single line printed on stderr (without the command prefix)."""
        text = " ".join(str(self.message).split())  # never more than one line
        if self.hint:
            text += "; " + " ".join(str(self.hint).split())
        return text


class UsageError(HPError):
    exit_code = 2
    kind = "usage"


class DataError(HPError):
    exit_code = 3
    kind = "bad_data"


class BaselineError(HPError):
    exit_code = 4
    kind = "bad_baseline"


class IntegrityError(BaselineError):
    exit_code = 5
    kind = "integrity"


class UntrustedModelError(BaselineError):
    exit_code = 6
    kind = "untrusted_model"


class OutputError(HPError):
    exit_code = 7
    kind = "output"


EXIT_CODES = {cls.kind: cls.exit_code for cls in (UsageError, DataError, BaselineError, IntegrityError,
                                                   UntrustedModelError, OutputError)}
INTERNAL = "internal"  # the kind recorded for a bug (exit status 1), or a process killed by a signal
ERROR_KINDS = tuple(EXIT_CODES) + (INTERNAL,)  # an error record's kinds (schemas/error.schema.json)


def kind_of(exit_code):
    """The error kind exit status ``exit_code`` stands for (1: :data:`INTERNAL`), or None."""
    if exit_code == 1:
        return INTERNAL
    return next((kind for kind, code in EXIT_CODES.items() if code == exit_code), None)


def error_record(source, error, message=None, exit_code=None, stage=None):
    """The error record (schemas/error.schema.json) that stands in for ``source``, a contribution
    that failed: every stage passes it on, hp-format reports it.

    ``error`` is an :class:`HPError` (its kind, exit status and line) or a kind of
    :data:`ERROR_KINDS`; ``message`` and ``exit_code`` (by default the kind's) override."""
    if isinstance(error, HPError):
        kind = error.kind if error.kind in EXIT_CODES else INTERNAL
        message = error.line() if message is None else message
        exit_code = error.exit_code if exit_code is None else exit_code
    elif error in ERROR_KINDS:
        kind = error
        exit_code = EXIT_CODES.get(kind, 1) if exit_code is None else exit_code
    else:
        raise ValueError("no error kind %r" % (error,))
    record = {"kind": kind, "exit_code": exit_code, "message": message}
    if stage is not None:
        record["stage"] = stage
    return {"record": "error", "source_path": source, "error": record}


def shorten(text, most=40, middle=False, mark="...", one_line=True):
    """``text`` cut to at most ``most`` characters plus ``mark`` for a message or a picture: at
    the end, or with ``middle`` in the middle (paths and file names that differ only at the end,
    v1.csv and v2.csv, stay apart). ``one_line``: runs of white space (newlines too) first become
    one space; off for a path, which is named as it is."""
    text = " ".join(str(text).split()) if one_line else str(text)
    if len(text) <= most:
        return text
    tail = most * 2 // 5 if middle else 0
    return text[:most - tail] + mark + text[len(text) - tail:]


def name_list(names, limit=12, quote=repr):
    """``'a', 'b' and 3 more``: names quoted for a message (``quote=str``: as they are), at most
    ``limit`` of them."""
    names = [str(n) for n in names]
    shown = ", ".join(quote(n) for n in names[:limit])
    return shown + (" and %d more" % (len(names) - limit) if len(names) > limit else "")


def and_list(values, quote=str):
    """``a and b``, ``a, b and c``: every one of ``values`` (``quote=repr``: quoted)."""
    values = [quote(v) for v in values]
    return values[0] if len(values) == 1 else "%s and %s" % (", ".join(values[:-1]), values[-1])


def name_key(name):
    """A column name as compared for a near miss: letter case and every space aside."""
    return "".join(str(name).split()).casefold()


def did_you_mean(wanted, names):
    """A hint's tail naming the one of ``names`` that is ``wanted`` but for case and spaces, else ""."""
    key = name_key(wanted)
    for name in names:
        if name_key(name) == key:
            return " (the file has %r: did you mean that column?)" % name
    return ""


def spelling(value):
    """A value (a label, a category) as compared for a near miss: letter case and spaces around and
    between its words aside ('BAD ' and 'bad', 'Fri  day' and 'fri day' are spelt alike). hp-load's
    hints, hp-baseline's warnings and hp-check's ``spelling_differs`` all compare by it. (Column
    names compare by :func:`name_key`, which drops every space: 'Job Type' is 'jobtype'.)"""
    return " ".join(str(value).split()).casefold()


def same_but_case(value, classes):
    """The one class that ``value`` spells otherwise only in letter case or spaces (:func:`spelling`), or None."""
    matches = [c for c in classes if spelling(c) == spelling(value)]
    return matches[0] if len(matches) == 1 else None


def class_hint(value, classes):
    """' - did you mean 'bad'?' when ``value`` is one of ``classes`` but for letter case and
    surrounding spaces, else "" (hp-baseline says the same of a benchmark category)."""
    match = same_but_case(value, classes)
    return " - did you mean %r?" % match if match else ""
