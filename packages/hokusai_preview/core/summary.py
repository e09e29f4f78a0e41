"""The batch summary (hp-format --summary): one row per contribution, sorted by estimated delta.

A row is built from a delta output document, a `delta` record or an error record; rows
themselves (record "summary", what ``--summary-format jsonl`` writes; schema
schemas/summary.schema.json) are taken as they are, so a summary can be filtered with jq and
summarised or drawn again. Rows are sorted by the estimated delta_one_score, best first, then
by name; failed contributions come last. Standard library only: hp-format must start fast.

The table and the picture (core/plot.py) count, classify and describe rows with the same
functions here (:func:`tally`, :func:`verdict`, :func:`judged_on`), so they cannot disagree; a
verdict is uncertain by the single report's own rule (report.verdict_certainty).
"""

import csv
import io
import json
import math
import os
import re

from .deltaone import METRICS, THRESHOLD_PP
from .errors import ERROR_KINDS
from .records import whole
from .report import (
    VERDICTS,
    WORSE,
    benchmark_matches,
    confidence,
    failing_reasons,
    inflating_rows,
    interval_text,
    makes_worse,
    percent,
    points,
    removed_rows,
    signed,
    verdict_certainty,
    warnings_of,
)
from .text import name_list, plural, thousands

FORMATS = ("md", "csv", "jsonl")

CSV_FIELDS = ["contribution", "status", "rows_used", "original_rows", "rows_removed", "rows_dropped", "delta_one_score",
              "delta_one_low", "delta_one_high", "primary_metric", "primary_delta_pp", "primary_low_pp",
              "primary_high_pp", "deltaone_decision", "deltaone_accepted", "deltaone_probability",
              "deltaone_probability_of_decision", "deltaone_uncertain", "deltaone_needed_pp", "estimation_confidence",
              "exact", "suspect_rows", "warnings",
              "error_kind", "error_exit_code", "error_message", "source_path", "baseline_model_id", "benchmark_rows",
              "preview_mode"]


def row_of(item):
    """The summary row of an output document, a delta record, an error record or a row."""
    kind = item.get("record")
    if kind == "summary":
        return item
    if kind == "delta":
        item = item["output"]
    if kind == "error":
        source = item.get("source_path", "?")
        return _row(source, "error", error=dict(item.get("error") or {}))
    p = item["preview_metadata"]
    est, prim, d1 = p["estimate"], p["primary_metric"], p["deltaone"]
    source = item["new_model"]["training_metadata"]["data_manifest"].get("source_path", "?")
    exact = est.get("exact")  # the full computation: its value, no interval (report.interval_text)
    return _row(source, "ok", baseline_model_id=item["baseline_model"]["model_id"], preview_mode=p["preview_mode"],
                rows_used=p["sample_size_used"], original_rows=p["original_data_size"], rows_removed=removed_rows(p),
                rows_dropped=p.get("rows_dropped") or 0,
                delta_one_score=est["delta_one_score"],
                delta_one_interval=None if exact else list(est["delta_one_interval"]),
                primary_metric=prim["name"], primary_delta_pp=prim["estimated_delta_pp"],
                primary_interval_pp=list(prim["interval_pp"]) if prim.get("interval_pp") and not exact else None,
                deltaone_decision=d1["decision"], deltaone_accepted=bool(d1.get("accepted")),
                deltaone_probability=d1["probability"],
                deltaone_probability_of_decision=d1.get("probability_of_decision"),
                deltaone_needed_pp=d1.get("needed_pp"), estimation_confidence=p["estimation_confidence"],
                exact=bool(exact), suspect_rows=sum(inflating_rows(p)),
                benchmark_rows=d1.get("benchmark_rows"), warnings=warnings_of(p))


def _row(source, status, **fields):
    row = {"record": "summary", "contribution": os.path.basename(source) or source, "source_path": source,
           "status": status, "baseline_model_id": None, "preview_mode": None, "rows_used": None,
           "original_rows": None, "rows_removed": None, "rows_dropped": None, "delta_one_score": None,
           "delta_one_interval": None, "primary_metric": None,
           "primary_delta_pp": None, "primary_interval_pp": None, "deltaone_decision": None,
           "deltaone_accepted": None, "deltaone_probability": None, "deltaone_probability_of_decision": None,
           "deltaone_needed_pp": None, "estimation_confidence": None, "exact": None, "suspect_rows": None,
           "benchmark_rows": None, "warnings": [], "error": None}
    row.update(fields)
    return row


def without_repeats(rows):
    """(``rows`` with each row given more than once kept once, warnings): the same result read
    twice (``results/*.json results/summary.jsonl``) would be counted twice; one contribution with
    different results (other options, or an older run) is kept but said."""
    kept, seen, repeated = [], set(), []
    for row in rows:
        text = json.dumps(row, sort_keys=True)
        if text in seen:
            repeated.append(row["contribution"])
        else:
            seen.add(text)
            kept.append(row)
    warnings = []
    if repeated:
        warnings.append("%s given more than once, listed once: %s" % (
            plural(len(repeated), "row"), name_list(sorted(set(repeated)), 3, str)))
    counts = {}
    for row in kept:
        counts[row["source_path"], row["baseline_model_id"]] = counts.get(
            (row["source_path"], row["baseline_model_id"]), 0) + 1
    differing = sorted(source for (source, _), count in counts.items() if count > 1)
    if differing:
        warnings.append("%s listed more than once with different results (other options, or an older run): %s" % (
            plural(len(differing), "contribution"), name_list(differing, 3, str)))
    return kept, warnings


def sort_rows(rows):
    """Best estimated delta_one_score first, ties by name; failed contributions last, by name."""
    def key(row):
        last = failed(row) or row["delta_one_score"] is None
        return (last, 0.0 if last else -row["delta_one_score"], row["contribution"], row["source_path"])

    return sorted(rows, key=key)


def render(rows, fmt):
    """The summary of ``rows`` (sorted here) as Markdown, CSV or JSON lines."""
    rows = sort_rows(rows)
    return {"md": markdown, "csv": to_csv, "jsonl": to_jsonl}[fmt](rows)


def to_jsonl(rows):
    return "".join(json.dumps(row, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n"
                   for row in rows)


def to_csv(rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        flat = {k: row.get(k) for k in CSV_FIELDS if k in row}
        low, high = row.get("delta_one_interval") or (None, None)
        flat.update(delta_one_low=low, delta_one_high=high)
        low, high = row.get("primary_interval_pp") or (None, None)
        flat.update(primary_low_pp=low, primary_high_pp=high, warnings="\n".join(  # one per line
            " ".join(w.split()) for w in row.get("warnings") or []))
        error = row.get("error") or {}
        flat.update(error_kind=error.get("kind"), error_exit_code=error.get("exit_code"),
                    error_message=error.get("message"), deltaone_uncertain=None if failed(row) else uncertain(row))
        writer.writerow({k: "" if v is None else str(v).lower() if isinstance(v, bool) else _inert(v)
                         for k, v in flat.items()})
    return buffer.getvalue()


def _inert(value):
    """A text cell a spreadsheet will not run: file names and messages come from contributors,
    and a cell starting with = + - @ (or a tab or carriage return) is a formula to Excel and
    LibreOffice. Such a cell gets a leading apostrophe, which spreadsheets show as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# --- what the table and the picture both say -----------------------------------------------


def failed(row):
    """A contribution that failed (an error row): no estimate, listed last with its error."""
    return row["status"] != "ok"


def tally(rows):
    """How many rows were previewed, would pass DeltaOne, would not (each: how many of them
    uncertainly), and failed."""
    ok = [r for r in rows if not failed(r)]
    passing = sum(1 for r in ok if r["deltaone_accepted"])
    unsure = [bool(r["deltaone_accepted"]) for r in ok if uncertain(r)]
    return {"contributions": len(rows), "previewed": len(ok), "passing": passing, "not_passing": len(ok) - passing,
            "passing_uncertain": sum(unsure), "not_passing_uncertain": len(unsure) - sum(unsure),
            "passing_suspect": sum(1 for r in ok if r["deltaone_accepted"] and suspect(r)),
            "failed": len(rows) - len(ok)}


def verdict_counts(counts):
    """['2 would pass DeltaOne (1 suspect)', '3 would not (2 uncertain)'] of a :func:`tally`."""
    return ["%d would pass DeltaOne%s" % (counts["passing"], _of_them(uncertain=counts["passing_uncertain"],
                                                                      suspect=counts["passing_suspect"])),
            "%d would not%s" % (counts["not_passing"], _of_them(uncertain=counts["not_passing_uncertain"]))]


def _of_them(**counts):
    """' (1 uncertain, 1 suspect)': how many of a count are so, those that are any."""
    said = ["%d %s" % (count, what) for what, count in counts.items() if count]
    return " (%s)" % ", ".join(said) if said else ""


def _deltaone(row):
    """A previewed row's verdict fields as ``preview_metadata.deltaone`` names them."""
    return {"decision": row["deltaone_decision"], "accepted": row["deltaone_accepted"],
            "probability": row["deltaone_probability"],
            "probability_of_decision": row.get("deltaone_probability_of_decision")}


def suspect(row):
    """Whether hp-check found rows in a previewed contribution that inflate its delta and that the
    estimate still trains on (report.inflating_rows): its verdict is marked "suspect"."""
    return bool(row.get("suspect_rows"))


def uncertain(row):
    """Whether a previewed row's verdict is uncertain, as the single report marks it "?"."""
    return verdict_certainty(_deltaone(row)) == "uncertain"


def verdict(row, bold=lambda text: text):
    """The short DeltaOne verdict of a previewed row ("pass", "metric unavailable", ...), with
    " (uncertain)" where the single report marks it "?", both failing reasons, the likelier
    first, where only the reason is in doubt, and " (suspect)" where :func:`suspect`; ``bold``
    marks up a passing one."""
    deltaone = _deltaone(row)
    certainty = verdict_certainty(deltaone)
    notes = (["uncertain"] if certainty == "uncertain" else []) + (["suspect"] if suspect(row) else [])
    if certainty == "reason":
        text = " or ".join(VERDICTS[reason][0] for reason in failing_reasons(deltaone))
    else:
        text = VERDICTS.get(row["deltaone_decision"], (row["deltaone_decision"] or "?",))[0]
        if certainty == "sure" and makes_worse(row["deltaone_decision"], row["primary_delta_pp"],
                                               row["primary_interval_pp"]):
            text = WORSE[0]
        text = bold(text) if row["deltaone_accepted"] else text
    return text + (" (%s)" % ", ".join(notes) if notes else "")


def baselines(rows):
    return sorted({r["baseline_model_id"] for r in rows if not failed(r) and r["baseline_model_id"]})


def primaries(rows):
    return sorted({r["primary_metric"] for r in rows if not failed(r) and r["primary_metric"]})


def needed(rows):
    """The primary-metric delta, in points, that passing needs for every previewed row, where that
    is one value above the threshold (the significance test asks more of this benchmark); else None."""
    values = {r.get("deltaone_needed_pp") for r in rows if not failed(r)}
    value = values.pop() if len(values) == 1 else None
    return value if value is not None and value > THRESHOLD_PP else None


def judged_on(rows):
    """What DeltaOne judged the previewed rows on, e.g. "accuracy, 1,500 benchmark rows, passing
    from +3.12 pts" (see :func:`needed`), saying "mixed" when they differ; None when the rows say
    nothing of it."""
    metrics = primaries(rows)
    sizes = sorted({r["benchmark_rows"] for r in rows if not failed(r) and r["benchmark_rows"]})
    if not metrics or not sizes:
        return None
    metric = metrics[0] if len(metrics) == 1 else "mixed metrics: %s" % ", ".join(metrics)
    if len(sizes) == 1:
        benchmark = plural(sizes[0], "benchmark row")
    else:
        benchmark = "mixed benchmarks of %s and %s rows" % (", ".join(thousands(b) for b in sizes[:-1]),
                                                           thousands(sizes[-1]))
    bar = needed(rows)
    # With a list in either part, "; " keeps the two parts apart.
    return "%s%s%s%s" % (metric, "; " if len(metrics) > 1 or len(sizes) > 1 else ", ", benchmark,
                         ", passing from %s pts" % points(bar) if bar else "")


def headline(rows):
    """One sentence: how many, against what, how many pass, how many failed."""
    counts = tally(rows)
    if not rows:
        return "0 contributions: the input holds no records. PREVIEW - NON-BINDING ESTIMATES."
    models = baselines(rows)
    parts = [plural(counts["contributions"], "contribution")]
    if models:
        parts.append(" against baseline%s %s" % ("" if len(models) == 1 else "s (mixed: compare with care)",
                                                 ", ".join("`%s`" % b for b in models)))
    judged = judged_on(rows)
    if judged:
        parts.append(" (DeltaOne judged on %s)" % judged)
    parts.append(": " + ", ".join(verdict_counts(counts)))
    if counts["failed"]:
        parts.append(", %d failed" % counts["failed"])
    parts.append(". PREVIEW - NON-BINDING ESTIMATES, sorted by estimated delta_one_score.")
    return "".join(parts)


def markdown(rows):
    metrics = primaries(rows)
    mixed = len(metrics) > 1  # then each cell names its metric
    by_baseline = len(baselines(rows)) > 1  # then each row names its baseline
    primary = "primary metric" if mixed or not metrics else metrics[0]
    # The full computation has no interval (report.interval_text): said in the head only if a row has one.
    ok = [r for r in rows if not failed(r)]
    level = " (90% interval)" if not ok or any(interval_text(r["delta_one_interval"]) for r in ok) else ""
    head = ["#", "contribution"] + (["baseline"] if by_baseline else []) + [
        "rows used", "delta_one_score" + level, "%s delta, pts%s" % (primary, level), "DeltaOne", "P(pass)",
        "confidence", "warnings / error"]
    align = ["--:", ":--"] + ([":--"] if by_baseline else []) + ["--:", ":--", ":--", ":--", "--:", "--:", ":--"]
    lines = [headline(rows), "", "| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    for number, row in enumerate(rows, 1):
        named = [str(number), _cell(row["contribution"])] + (
            [_cell(row["baseline_model_id"] or "—")] if by_baseline else [])
        if failed(row):
            error = row.get("error") or {}
            cells = named + ["—", "—", "—",
                             "**failed** (%s, exit %s)" % (error.get("kind", "error"), error.get("exit_code", "?")),
                             "—", "—", _cell(error.get("message", ""))]
        else:
            metric = (row["primary_metric"] or "?") + " " if mixed else ""
            cells = named + [rows_text(row), signed(row["delta_one_score"], 4) + _span(row["delta_one_interval"], 4),
                             metric + points(row["primary_delta_pp"]) + _span(row["primary_interval_pp"], 2),
                             verdict(row, "**{}**".format),
                             percent(row["deltaone_probability"]) + (REMOVED_MARK if row.get("rows_removed") else ""),
                             confidence(row["estimation_confidence"]), _cells(row["warnings"])]
        lines.append("| " + " | ".join(cells) + " |")
    for note in footnotes(rows):  # a paragraph each
        lines.extend(["", note])
    return "\n".join(lines) + "\n"


REMOVED_MARK = "†"  # beside a P(pass) that is about the full run without the benchmark matches removed


def footnotes(rows):
    """What the table's marks and gaps mean, each only where a row shows it."""
    ok = [r for r in rows if not failed(r)]
    notes = []
    if any(r.get("rows_removed") for r in ok):
        notes.append("%s P(pass) and confidence of the full run without the benchmark matches hp-check removed; "
                     "the main pipeline trains on them (--keep-contaminated previews that)." % REMOVED_MARK)
    if any(suspect(r) for r in ok):
        notes.append("suspect: hp-check found rows that look like benchmark rows, kept in training (see the "
                     "warnings); they inflate the delta the verdict rests on.")
    exact = [r for r in ok if r.get("exact")]
    if exact and len(exact) < len(ok):
        notes.append("A value without an interval is exact: that preview grew every tree on every row, the full "
                     "computation.")
    return notes


def rows_text(row, unit=False, notes=True):
    """'1,000', '500 of 20,000' (sampled) or '499 of 500 (1 benchmark match removed)'; with
    ``unit``, '1,000 rows' and '500 of 20,000 rows'; without ``notes``, no parenthesis."""
    used, total, removed = row["rows_used"], row["original_rows"], row.get("rows_removed") or 0
    if used is None:
        return "? rows" if unit else "?"
    if total is None or used == total:
        text = plural(used, "row") if unit else thousands(used)
    else:
        text = "%s of %s" % (thousands(used), plural(total, "row") if unit else thousands(total))
    why = ["%s removed" % benchmark_matches(removed)] if removed and notes else []
    if row.get("rows_dropped") and notes:
        why.append("%s with unknown labels dropped" % thousands(row["rows_dropped"]))
    return text + (" (%s)" % "; ".join(why) if why else "")


def warning_topic(text, most=26):
    """A warning's first words, for a picture's one-line list of them: its text up to the first
    ":", ";", "," or "(" (hp-check's warnings start with their finding, "label noise: ..."), cut at a
    word to at most ``most`` characters with an ellipsis."""
    text = " ".join(str(text).split())
    head = re.split(r"[:;,(]", text, maxsplit=1)[0].strip() or text  # "(...": its words as they come
    if len(head) <= most:
        return head
    cut = head[:most].rsplit(" ", 1)[0] if " " in head[:most] else head[:most - 1]
    return cut.rstrip() + "…"


def _span(interval, digits):
    """' (low .. high)' after a value, or nothing where it has no interval."""
    text = interval_text(interval, digits)
    return " (%s)" % text if text else ""


# Characters Markdown reads as markup anywhere in a cell; "_" only where it can open or close
# emphasis (not between letters or digits: hpc_jobs_1000.csv stays as it is).
_MARKUP = re.compile(r"([\\`*\[\]<>|~&])|_(?![^\W_])|(?<![^\W_])_")


def _cell(text):
    """Text shown as it is inside a Markdown table cell: one line, markup escaped."""
    from .dataio import printable  # an edited input's ESC and other control characters, escaped

    return _MARKUP.sub(lambda m: "\\" + m.group(0), printable(" ".join(str(text).split())))


def _cells(texts):
    """Several texts (warnings) in one cell, one per line."""
    return "<br>".join(_cell(t) for t in texts)


# --- what hp-format checks before rendering ------------------------------------------------
#
# An input may be edited by hand or by jq, so every field the table, the picture or the report
# uses is checked here against its schema (schemas/summary.schema.json, error.schema.json and
# delta-output.schema.json): jsonschema is only a test dependency, and hp-format must start fast.


class BadField(Exception):
    """An input the renderers cannot use: ``kind`` names what it is ("a summary row"), ``text``
    its first bad field ("deltaone_probability 5, not a number from 0 to 1")."""

    def __init__(self, kind, text):
        super().__init__("%s has %s" % (kind, text))
        self.kind, self.text = kind, text


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _interval(value, bound=math.inf):
    return isinstance(value, list) and len(value) == 2 and all(_number(x) and -bound <= x <= bound for x in value) \
        and value[0] <= value[1]


# kind -> (test, what the schema asks for)
KINDS = {
    "string": (lambda v: isinstance(v, str), "a string"),
    "boolean": (lambda v: isinstance(v, bool), "true or false"),
    "number": (_number, "a number"),
    "fraction": (lambda v: _number(v) and 0 <= v <= 1, "a number from 0 to 1"),
    "delta": (lambda v: _number(v) and -1 <= v <= 1, "a number from -1 to 1"),
    "pp": (lambda v: _number(v) and -100 <= v <= 100, "a number from -100 to 100"),
    "positive": (lambda v: whole(v) and v >= 1, "a whole number of at least 1"),
    "count": (lambda v: whole(v) and v >= 0, "a whole number of at least 0"),
    "interval": (lambda v: _interval(v), "two numbers [low, high], low first"),
    "delta_interval": (lambda v: _interval(v, 1.0), "two numbers [low, high] from -1 to 1, low first"),
    "pp_interval": (lambda v: _interval(v, 100.0), "two numbers [low, high] from -100 to 100, low first"),
    "strings": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of strings"),
    "object": (lambda v: isinstance(v, dict), "an object"),
}
DECISIONS = tuple(VERDICTS)

# (field, kind or allowed values, flags): "null" allows null, "optional" allows it to be absent.
# A "*" stands for every value of an object.
ERROR_FIELDS = [
    ("kind", ERROR_KINDS, ""), ("exit_code", "positive", ""), ("message", "string", ""),
    ("stage", "string", "optional"),
]
ROW_FIELDS = [
    ("contribution", "string", ""), ("source_path", "string", ""), ("status", ("ok", "error"), ""),
    ("baseline_model_id", "string", "null"), ("preview_mode", "boolean", "null"), ("rows_used", "positive", "null"),
    ("original_rows", "positive", "null"), ("rows_removed", "count", "null optional"),
    ("rows_dropped", "count", "null optional"),
    ("delta_one_score", "delta", "null"),
    ("delta_one_interval", "delta_interval", "null"), ("primary_metric", METRICS, "null"),
    ("primary_delta_pp", "pp", "null"), ("primary_interval_pp", "pp_interval", "null"),
    ("deltaone_decision", DECISIONS, "null"), ("deltaone_accepted", "boolean", "null"),
    ("deltaone_probability", "fraction", "null"), ("deltaone_probability_of_decision", "fraction", "null optional"),
    ("deltaone_needed_pp", "pp", "null optional"), ("estimation_confidence", "fraction", "null"),
    ("exact", "boolean", "null optional"), ("suspect_rows", "count", "null optional"),
    ("benchmark_rows", "positive", "null"), ("warnings", "strings", ""), ("error", "object", "null"),
]
OUTPUT_FIELDS = [
    ("baseline_model.model_id", "string", ""),
    ("new_model.training_metadata.data_manifest.source_path", "string", ""),
    ("new_model.training_metadata.base_samples", "count", ""),
    ("new_model.training_metadata.contributed_samples", "count", ""),
    ("delta_computation.delta_one_score", "delta", ""),
    ("delta_computation.metric_deltas.*.baseline_value", "fraction", ""),
    ("delta_computation.metric_deltas.*.new_value", "fraction", ""),
    ("delta_computation.metric_deltas.*.absolute_delta", "delta", ""),
    ("pipeline_metadata.config.test_size", "number", ""),
    ("preview_metadata.preview_mode", "boolean", ""),
    ("preview_metadata.disclaimer", "string", "null"),
    ("preview_metadata.mode", ("retrain", "fine_tune"), ""),
    ("preview_metadata.sample_size_used", "positive", ""),
    ("preview_metadata.original_data_size", "positive", ""),
    ("preview_metadata.sampled", "boolean", ""),
    ("preview_metadata.time_elapsed", "number", ""),
    ("preview_metadata.estimation_confidence", "fraction", ""),
    ("preview_metadata.confidence_meaning", "string", ""),
    ("preview_metadata.estimate.delta_one_score", "delta", ""),
    ("preview_metadata.estimate.delta_one_interval", "delta_interval", ""),
    ("preview_metadata.estimate.interval_level", "fraction", ""),
    ("preview_metadata.estimate.metric_deltas.*", "delta", ""),
    ("preview_metadata.estimate.metric_intervals.*", "delta_interval", ""),
    ("preview_metadata.measured.delta_one_score", "number", "optional"),
    ("preview_metadata.primary_metric.name", METRICS, ""),
    ("preview_metadata.primary_metric.baseline_value", "fraction", "null"),
    ("preview_metadata.primary_metric.new_value", "fraction", "null"),
    ("preview_metadata.primary_metric.delta_pp", "pp", "null"),
    ("preview_metadata.primary_metric.estimated_delta_pp", "pp", "null"),
    ("preview_metadata.primary_metric.interval_pp", "pp_interval", "null"),
    ("preview_metadata.deltaone.decision", DECISIONS, ""),
    ("preview_metadata.deltaone.accepted", "boolean", ""),
    ("preview_metadata.deltaone.probability", "fraction", ""),
    ("preview_metadata.deltaone.probability_of_decision", "fraction", "optional"),
    ("preview_metadata.deltaone.benchmark_rows", "positive", ""),
    ("preview_metadata.deltaone.ci95_pp", "interval", "optional"),
    ("preview_metadata.deltaone.threshold_pp", "number", "optional"),
    ("preview_metadata.deltaone.needed_pp", "pp", "null optional"),
    ("preview_metadata.ignored_columns", "strings", "optional"),
    ("preview_metadata.deltaone.min_examples", "positive", "optional"),
    ("preview_metadata.uncertainty.sd.*", "number", "null"),
    ("preview_metadata.budget.trees", "positive", ""),
    ("preview_metadata.budget.full_trees", "positive", ""),
    ("preview_metadata.budget.fitted_samples", "positive", ""),
    ("preview_metadata.budget.stop_reason", "string", ""),
    ("preview_metadata.budget.split", ("stratified", "random", "none"), "optional"),
    ("preview_metadata.warnings", "strings", ""),
    ("preview_metadata.diagnostics.warnings", "strings", "optional"),
    ("preview_metadata.diagnostics.notes", "strings", "optional"),
]


def check_input(item):
    """Raise :class:`BadField` unless ``item`` (an output document, a `delta` record, an error
    record or a summary row) holds every field the renderers use, of the type and in the range
    its schema gives."""
    kind = item.get("record")
    what = {"summary": "a summary row", "error": "an error record", "delta": "a delta record"}.get(
        kind, "a delta output")
    bad = _not_json(item)
    if bad:
        raise BadField(what, "%s %s, which is %s" % bad)
    if kind == "summary":
        _check(item, ROW_FIELDS, what)
        # The schema's if/then: a previewed row has its estimate and no error, a failed one the reverse.
        if item["status"] == "ok":
            _check(item, [("delta_one_score", "number", ""), ("deltaone_decision", DECISIONS, "")], what)
            if item["rows_used"] is not None and item["original_rows"] is not None \
                    and item["rows_used"] > item["original_rows"]:
                raise BadField(what, "rows_used %d, more than its original_rows %d" % (
                    item["rows_used"], item["original_rows"]))
            if item["error"] is not None:
                raise BadField(what, 'status "ok" and an error, which only a failed contribution has')
        else:
            if item["delta_one_score"] is not None:
                raise BadField(what, 'status "error" and a delta_one_score, which only a preview has')
            _check(item, [("error", "object", "")], what)
            _check(item["error"], ERROR_FIELDS, what, "error.")
    elif kind == "error":
        _check(item, [("source_path", "string", ""), ("error", "object", "")], what)
        _check(item["error"], ERROR_FIELDS, what, "error.")
    elif kind == "delta":
        _check(item, [("output", "object", "")], what)
        _check(item["output"], OUTPUT_FIELDS, what, "output.")
    else:
        _check(item, OUTPUT_FIELDS, what)


def _check(item, fields, what, prefix=""):
    for field, kind, flags in fields:
        try:
            found = list(_values(item, field.split("."), prefix, "optional" in flags))
        except _NotObject as exc:
            raise BadField(what, "%s %s, not an object" % (exc.args[0], _shown(exc.args[1]))) from None
        for name, value in found:
            if value is _ABSENT:
                if "optional" not in flags:
                    raise BadField(what, "no %s" % name)
                continue
            if value is None and "null" in flags:
                continue
            if isinstance(kind, tuple):
                if value in kind and not isinstance(value, bool):
                    continue
                expected = "one of %s" % ", ".join(kind)
            else:
                test, expected = KINDS[kind]
                if test(value):
                    continue
            raise BadField(what, "%s %s, not %s" % (name, _shown(value), expected))


_ABSENT = object()


class _NotObject(Exception):
    """(dotted name, value) of a field that should hold others but is not an object."""


def _values(item, steps, name, optional):
    """(dotted name, value) of the field at ``steps`` in ``item``: _ABSENT where it is missing
    (or, for an optional field, where what would hold it is null)."""
    if not steps:
        yield name.rstrip("."), item
        return
    if item is None and optional and name:
        yield name.rstrip("."), _ABSENT
        return
    if not isinstance(item, dict):
        raise _NotObject(name.rstrip("."), item)
    step, rest = steps[0], steps[1:]
    if step == "*":
        for key in item:
            yield from _values(item[key], rest, "%s%s." % (name, key), optional)
    elif step not in item:
        yield name + step, _ABSENT
    else:
        yield from _values(item[step], rest, "%s%s." % (name, step), optional)


def _not_json(value, name=""):
    """(dotted name, shown value, why) of the first NaN, infinity or lone surrogate in ``value``
    (json.loads takes them all; no renderer can use them, and no UTF-8 output can hold the last)."""
    if isinstance(value, float) and not math.isfinite(value):
        return name.rstrip(".") or "a value", _shown(value), "not a JSON number"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return name.rstrip(".") or "a value", _shown(value), "not text (it holds a lone surrogate)"
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        found = _not_json(inner, "%s%s." % (name, key))
        if found:
            return found
    return None


def _shown(value):
    """A value as JSON shows it, cut short."""
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: shown escaped, as it was written
        text = json.dumps(value)
    return text if len(text) <= 40 else text[:39] + "…"
