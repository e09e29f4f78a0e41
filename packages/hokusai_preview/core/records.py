"""Reading the sections stages add to a record, in one place.

A record accumulates sections as it flows (see core/command.py); when several stages each
produce a table of the contribution, later stages use the newest one.
"""

# Sections that may hold the contribution's table, newest first.
TABLE_SECTIONS = ("sample", "check", "contribution")


def current_table(record):
    """(path, rows) of the newest contribution table in ``record``."""
    for name in TABLE_SECTIONS:
        section = record.get(name)
        if section and section.get("table_path"):
            rows = section.get("sample_size_used", section.get("rows_used"))
            return section["table_path"], rows
    raise KeyError("record has no contribution table")
