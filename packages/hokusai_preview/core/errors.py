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


