"""Command lines: parsed by docopt from a command's usage text, and mistakes put in words.

docopt answers a mistyped command line with its tokens' reprs ("found unmatched (duplicate?)
arguments [Option(None, '--outptu-format', 0, True)]"), or nothing at all for a missing required
option. :func:`parse` checks the words before and after docopt so that every mistake gets one
sentence saying what is wrong and what to type instead:

    unknown option --outptu-format; did you mean --output-format?
    --output could be --output-file or --output-format; write the option in full
    --summary-format needs --summary
    --data-path is required; e.g. hokusai-preview --data-path PATH
    unexpected argument data.csv; give a data file as --data-path data.csv
    --sample-size does not apply with --full, which uses every row; drop one of the two
"""

import re

from .errors import UsageError
from .text import and_list

# Options that contradict each other, refused rather than one silently winning: (option, other,
# what is wrong), for every command whose usage has both; an option with a default counts only
# when typed.
WITHOUT_STOPPING = "which grows every tree without stopping early"
CONFLICTS = (
    ("--quiet", "--verbose", "--quiet and --verbose cannot go together: one asks for less on stderr, the other for "
                             "more"),  # every command
    ("--full", "--sample-size", "--sample-size does not apply with --full, which uses every row"),  # hokusai-preview
    ("--full", "--target", "--target does not apply with --full, " + WITHOUT_STOPPING),  # hp-train
    ("--full", "--min-trees", "--min-trees does not apply with --full, " + WITHOUT_STOPPING),  # hp-train
)


def parse(usage, argv, command, conflicts=True, may_be_empty=(), **docopt_options):
    """docopt's dict of ``argv`` by ``usage``, or UsageError with one sentence on what is wrong.

    ``command`` names the command in the default hint ("see 'hp-load --help'"); ``conflicts``
    false lets options of :data:`CONFLICTS` stand together (to see what a command line gives);
    ``may_be_empty``: the options an empty value means something to.
    """
    import contextlib
    import io

    from docopt import DocoptExit, docopt

    from .fsutil import refuse_undecodable

    text = Usage(usage)
    try:
        for word in argv:
            refuse_undecodable(word, "the argument")
        text.refuse_unknown_options(argv)
        text.refuse_dashed_names(argv)
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                args = docopt(usage, argv, **docopt_options)
        except DocoptExit as exc:
            raise UsageError(*text.explain(str(exc), argv)) from None
        except SystemExit:
            # --help or --version, which docopt print()s: written as any output is, so that a
            # closed or full stdout is an error (exit 7) rather than an exit 0 that printed nothing.
            from .command import write_stdout

            write_stdout(printed.getvalue())
            raise
        refuse_empty_values({k: v for k, v in args.items() if k not in may_be_empty})
        if conflicts:
            text.refuse_conflicts(argv, args)
    except UsageError as exc:
        exc.hint = exc.hint or "see '%s --help'" % command  # every error line says how to go on
        raise
    return args


def refuse_empty_values(args):
    """An option given an empty value (``--output-file ""``, often an unset shell variable) is a
    usage error: taken as absent, it would silently mean the default."""
    for option, value in sorted(args.items()):
        if option.startswith("--") and value == "":
            raise UsageError("%s was given an empty value" % option, "give it a value, or leave the option out")


class Usage:
    """What a docopt usage text allows: its patterns (the Usage lines), its long options, which of
    them take a value and with what name, and its short flags."""

    def __init__(self, text):
        self.text = text
        section = re.search(r"^Usage:\s*\n(.*?)(?:\n\s*\n|\Z)", text, re.S | re.M)
        self.patterns = [line.strip() for line in (section.group(1) if section else "").splitlines() if line.strip()]
        options = text.split("Options:", 1)[-1]
        self.options = sorted(set(re.findall(r"^\s+(?:-\w[ ,]\s*)?(--[\w-]+)", options, re.M)))
        self.values = dict(re.findall(r"(--[\w-]+)[ =]([A-Z][A-Z_]*\b|<[\w-]+>)", text))
        self.flags = set(re.findall(r"^\s+-(\w)[ ,]", text, re.M))
        # Whether names (files, records) may follow the options: hp-load's <data-path>..., not
        # hp-baseline's or the driver's, which take files in options only.
        self.takes_names = any("<" in pattern for pattern in self.patterns)

    def words(self, argv):
        """The words of ``argv`` where an option may stand: not after --, not an option's value."""
        value_next = False
        for word in argv:
            if value_next:
                value_next = False
                continue
            if word == "--":
                return
            yield word
            name = word.split("=", 1)[0]
            value_next = name.startswith("--") and "=" not in word and (self.unique(name) or name) in self.values

    def extra_words(self, argv):
        """The words of ``argv`` that are neither options nor their values."""
        return [w for w in self.words(argv) if not w.startswith("-") or w == "-"]

    def unique(self, name):
        """The long option ``name`` stands for (itself, or the one option it is a prefix of), else None."""
        if name in self.options:
            return name
        matches = [o for o in self.options if o.startswith(name)]
        return matches[0] if len(matches) == 1 else None

    def typed(self, argv):
        """The long options ``argv`` gives, each by its full name."""
        found = []
        for word in self.words(argv):
            if word.startswith("--") and len(word) > 2:
                option = self.unique(word.split("=", 1)[0])
                if option:
                    found.append(option)
        return found

    def refuse_conflicts(self, argv, args):
        """UsageError for two options of :data:`CONFLICTS` given together (``args``: docopt's)."""
        given = set(self.typed(argv)) | {option for option, value in args.items() if value is True}
        for option, other, message in CONFLICTS:
            if option in given and other in given:
                raise UsageError(message, "drop one of the two")

    def refuse_dashed_names(self, argv):
        """UsageError for a word like ``-data.csv`` where an option may stand: docopt would read it as
        the short flags -d -a -t ... (and ``-h`` among them would print the help and exit 0)."""
        for word in self.words(argv):
            if word.startswith("-") and not word.startswith("--") and len(word) > 1 \
                    and not set(word[1:]) <= self.flags:
                # The long options of that letter (-o: --output-file); a file's name only where the
                # command takes files (hp-baseline and the driver take none bare: ./-o would not help).
                near = [o for o in self.options if o[2:3] == word[1:2]] if len(word) == 2 or not self.takes_names \
                    else []
                hint = "did you mean %s?" % _either(near) if near else ""
                if self.takes_names:
                    hint += "%sto name a file whose name starts with '-', write ./%s or put it after --" % (
                        " Or, " if hint else "", word)
                raise UsageError("%s is not an option" % word, hint or None)

    def refuse_unknown_options(self, argv):
        """UsageError for a long option the command lacks (with the nearest one it has), or a
        prefix of more than one (docopt takes a unique prefix, and calls the others unknown)."""
        for word in self.words(argv):
            name = word.split("=", 1)[0]
            if not name.startswith("--") or name == "--" or self.unique(name):
                continue
            matches = [o for o in self.options if o.startswith(name)]
            if matches:
                raise UsageError("%s could be %s" % (name, _either(matches)), "write the option in full")
            import difflib  # only for a mistake: every command parses its line at start-up

            near = difflib.get_close_matches(name, self.options, n=1, cutoff=0.7)
            raise UsageError("unknown option %s" % name,
                             "did you mean %s?" % near[0] if near else None)

    def explain(self, complaint, argv):
        """(message, hint or None) for docopt's ``complaint`` about ``argv``."""
        text = complaint.split("Usage:")[0].strip()
        needed = re.match(r"(--[\w-]+) requires argument$", text)
        if needed:
            option = needed.group(1)
            return "%s needs a value" % option, "e.g. %s %s" % (option, self.values.get(option, "VALUE"))
        lacking = self.lacking_arguments(argv)
        if lacking:
            return lacking
        unmatched = re.match(r"Warning: found unmatched \(duplicate\?\) arguments (\[.*\])\s*$", text, re.S)
        if unmatched:
            return self.unmatched(unmatched.group(1), argv)
        if text:
            return text, None
        return self.missing(argv)

    def lacking_arguments(self, argv):
        """(message, hint) for a command line that gives fewer <arguments> than every Usage line
        needs (e.g. one of two), else None."""
        given = len(self.extra_words(argv)) + (len(argv) - argv.index("--") - 1 if "--" in argv else 0)
        needs = []
        for pattern in (p for p in self.patterns if "--help" not in p):
            required = re.findall(r"<[\w-]+>", _example(pattern))
            if len(required) <= given:
                return None
            needs.append((required[given:], pattern))
        if not needs:
            return None
        lacking, pattern = min(needs, key=lambda item: len(item[0]))
        return ("%s %s required" % (and_list(lacking), "is" if len(lacking) == 1 else "are"),
                "e.g. %s" % _example(pattern))

    def unmatched(self, listing, argv):
        typed, extra = self.typed(argv), self.extra_words(argv)
        reasons, hint = [], None
        # Option(short, long, argcount, value) and Argument(name, value), as docopt-ng prints them.
        for kind, body in re.findall(r"(Option|Argument)\(([^()]*)\)", listing):
            parts = [p.strip().strip("'\"") for p in body.split(",")]
            if kind == "Argument":
                if parts[-1] == "--":  # where no names follow the options, as in hp-baseline
                    reasons.append("-- ends the options, but no names follow them here")
                    hint = hint or "leave -- out"
                    continue
                reasons.append("unexpected argument %s" % parts[-1])
                takes_files = [o for o in self.options if self.values.get(o) == "PATH"]
                if takes_files and not self.takes_names:  # files go in options only
                    given = [o for o in takes_files if o in typed]
                    hint = "give a data file as %s %s" % (takes_files[0], parts[-1]) if not given else \
                        "%s takes one file: run the command once per file" % given[0]
                continue
            flag = parts[1] if parts[1] != "None" else parts[0]
            short = parts[0] if parts[0] not in ("None", flag) else None
            clustered = sum(w[1:].count(short[1:]) for w in self.words(argv)
                            if short and w.startswith("-") and not w.startswith("--")) if short else 0
            if typed.count(flag) + clustered > 1:  # --quiet -q, -qq
                reasons.append("%s is given more than once" % flag)
                continue
            # The Usage lines that allow the flag say what it goes with.
            allowing = [p for p in self.patterns if re.search(r"%s\b" % flag, p)]
            if not allowing:  # an option of the [options] list (-q): the lines taking it say what is missing
                lines = [(sorted((self.required(p) - set(typed)) | set(re.findall(r"<[\w-]+>", _example(p))[
                    len(extra):]), key=p.index), p) for p in self.patterns if "[options]" in p]
                if lines and all(need for need, _ in lines):  # else a line it completes: not what is wrong
                    lacking, pattern = min(lines, key=lambda item: len(item[0]))
                    reasons.append("%s %s required" % (and_list(lacking), "is" if len(lacking) == 1 else "are"))
                    hint = hint or "e.g. %s" % _example(pattern)
                    continue
            needs = [self.required(p) - set(typed) for p in allowing]
            needs = [n for n in needs if n]
            if needs and all(n == needs[0] for n in needs):
                if all(flag in self.required(p) for p in allowing):  # the flag's own Usage line lacks others
                    pattern = allowing[0]
                    lacking = sorted(needs[0], key=pattern.index)
                    reasons.append("%s %s required" % (and_list(lacking), "is" if len(lacking) == 1 else "are"))
                    hint = hint or "e.g. %s" % _example(pattern)
                else:
                    reasons.append("%s needs %s" % (flag, and_list(sorted(needs[0]))))
            elif extra and not any("<" in p for p in allowing) \
                    and any("<" in p for p in self.patterns):
                # e.g. hp-load --data-path a.csv b.csv: the option takes one value, a bare list takes many
                reasons.append("%s takes one %s, so %s cannot be given with it"
                               % (flag, self.values.get(flag, "value").lower(), and_list(extra)))
                # The same command line without the option's name: its value joins the others.
                kept = [self.patterns[0].split()[0]]
                for word in argv:
                    name, equals, value = word.partition("=")
                    if word.startswith("--") and self.unique(name) == flag:
                        kept.extend([value] if equals else [])
                    else:
                        kept.append(word)
                hint = "to give several, leave %s out: %s" % (flag, " ".join(kept))
            else:  # e.g. two actions of different Usage lines
                actions = (set(typed) - {flag}) & set(re.findall(r"--[\w-]+", " ".join(self.patterns)))
                reasons.append("%s cannot be used with %s" % (flag, and_list(sorted(actions))) if actions
                               else "%s cannot be used that way" % flag)
        return "; ".join(sorted(set(reasons), key=reasons.index)), hint

    def missing(self, argv):
        """(message, hint) for a command line that gives too little: the options every Usage line
        with them requires."""
        typed = set(self.typed(argv))
        lines = [p for p in self.patterns if "--help" not in p]
        if argv:
            lacking = [(self.required(p) - typed, p) for p in lines]
        else:  # nothing at all: a Usage line's <arguments> are missing too
            lacking = [(self.required(p) | set(re.findall(r"<[\w-]+>", p)), p) for p in lines]
        lacking = [(need, p) for need, p in lacking if need]
        if lacking and len(lacking) == len(lines):
            need, pattern = min(lacking, key=lambda item: len(item[0]))
            verb = "is" if len(need) == 1 else "are"
            return "%s %s required" % (and_list(sorted(need, key=pattern.index)), verb), "e.g. %s" % _example(pattern)
        return "missing or unexpected arguments", None

    @staticmethod
    def required(pattern):
        """The long options ``pattern`` (one Usage line) always needs: those outside [...] and (...)."""
        bare = pattern
        while True:
            stripped = re.sub(r"\[[^\[\]]*\]|\([^()]*\)", "", bare)
            if stripped == bare:
                break
            bare = stripped
        return set(re.findall(r"(--[\w-]+)", bare))


def _example(pattern):
    """A Usage line without its optional parts: what the least complete command line looks like."""
    bare = pattern
    while True:
        stripped = re.sub(r"\s*\[[^\[\]]*\]", "", bare)
        if stripped == bare:
            return bare
        bare = stripped


def _either(names):
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


