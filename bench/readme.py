"""Writing a generated table into README.md between two markers (shared by the bench scripts)."""

import os

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def write_between(start, end, text, path=README):
    """Replace what lies between the ``start`` and ``end`` markers of ``path`` with ``text``, atomically."""
    with open(path, encoding="utf-8") as handle:
        content = handle.read()
    if start not in content or end not in content:
        raise SystemExit("%s lacks the %s ... %s markers" % (os.path.basename(path), start, end))
    head, rest = content.split(start, 1)
    _, tail = rest.split(end, 1)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(head + start + "\n" + text + "\n" + end + tail)
    os.replace(tmp, path)
