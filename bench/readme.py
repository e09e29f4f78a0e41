"""Writing generated text into README.md between two markers (the bench scripts and bin/update-readme).

Standard library only: bin/update-readme may run on a Python without the project's packages.
"""

import os

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def replace_between(text, start, end, body, open_ended=False):
    """``text`` with what lies between its first ``start`` marker and the next ``end`` marker
    replaced by ``body`` (the markers kept, each on a line of its own), or None when a marker is
    missing. With ``open_ended``, a ``start`` with no ``end`` after it gets the block (``body``
    and ``end``) inserted after it: a new marker is filled in."""
    head, found, rest = text.partition(start)
    if not found:
        return None
    _, closed, tail = rest.partition(end)
    if not closed:
        if not open_ended:
            return None
        tail = rest
    return head + start + "\n" + body + "\n" + end + tail


def write_readme(text):
    """Replace README.md's text with ``text``, atomically."""
    tmp = README + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, README)


def write_between(start, end, body):
    """Replace what lies between the ``start`` and ``end`` markers of README.md with ``body``, atomically."""
    with open(README, encoding="utf-8") as handle:
        content = handle.read()
    text = replace_between(content, start, end, body)
    if text is None:
        raise SystemExit("%s lacks the %s ... %s markers" % (os.path.basename(README), start, end))
    write_readme(text)
