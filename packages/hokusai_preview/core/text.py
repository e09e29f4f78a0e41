"""Words for messages, reports and pictures: counts with their noun (``plural``), lists of
names (``name_list``, ``and_list``), text cut to fit (``shorten``), and how a name or a value is
compared for a near miss (``name_key`` for column names, ``spelling`` for labels and categories)
with the hints built on them. Plain Python: every command imports it at start-up.
"""


def thousands(n):
    return "?" if n is None else "{:,}".format(n)


def plural(count, noun, nouns=None):
    """'1 row', '1,500 rows'; ``nouns`` for a plural that is not ``noun`` + s ('1 entry', '2 entries')."""
    return "%s %s" % (thousands(count), noun if count == 1 else nouns or noun + "s")


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


def and_list(values, quote=str):
    """``a and b``, ``a, b and c``: every one of ``values`` (``quote=repr``: quoted)."""
    values = [quote(v) for v in values]
    return values[0] if len(values) == 1 else "%s and %s" % (", ".join(values[:-1]), values[-1])


def name_list(names, limit=12, quote=repr):
    """``'a', 'b' and 3 more``: names quoted for a message (``quote=str``: as they are), at most
    ``limit`` of them."""
    names = [str(n) for n in names]
    shown = ", ".join(quote(n) for n in names[:limit])
    return shown + (" and %d more" % (len(names) - limit) if len(names) > limit else "")


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
