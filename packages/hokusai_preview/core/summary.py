"""The batch summary (hp-format --summary): one row per contribution, sorted by estimated delta.

A row is built from a delta output document, a `delta` record or an error record; rows
themselves (record "summary", what ``--summary-format jsonl`` writes; schema
schemas/summary.schema.json) are taken as they are, so a summary can be filtered with jq and
summarised or drawn again. Rows are sorted by the estimated delta_one_score, best first, then
by name; failed contributions come last. Standard library only: hp-format must start fast.
"""

import csv
import io
import json
import os

from .report import VERDICTS, percent, signed, thousands, warnings_of

FORMATS = ("md", "csv", "jsonl")

CSV_FIELDS = ["contribution", "status", "rows_used", "original_rows", "delta_one_score", "delta_one_low",
              "delta_one_high", "primary_metric", "primary_delta_pp", "primary_low_pp", "primary_high_pp",
              "deltaone_decision", "deltaone_accepted", "deltaone_probability", "estimation_confidence",
              "warnings", "error_kind", "error_exit_code", "error_message", "source_path", "baseline_model_id",
              "benchmark_rows", "preview_mode"]


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
    return _row(source, "ok", baseline_model_id=item["baseline_model"]["model_id"], preview_mode=p["preview_mode"],
                rows_used=p["sample_size_used"], original_rows=p["original_data_size"],
                delta_one_score=est["delta_one_score"], delta_one_interval=list(est["delta_one_interval"]),
                primary_metric=prim["name"], primary_delta_pp=prim["estimated_delta_pp"],
                primary_interval_pp=list(prim["interval_pp"]) if prim.get("interval_pp") else None,
                deltaone_decision=d1["decision"], deltaone_accepted=bool(d1.get("accepted")),
                deltaone_probability=d1["probability"], estimation_confidence=p["estimation_confidence"],
                benchmark_rows=d1.get("benchmark_rows"), warnings=warnings_of(p))


def _row(source, status, **fields):
    row = {"record": "summary", "contribution": os.path.basename(source) or source, "source_path": source,
           "status": status, "baseline_model_id": None, "preview_mode": None, "rows_used": None,
           "original_rows": None, "delta_one_score": None, "delta_one_interval": None, "primary_metric": None,
           "primary_delta_pp": None, "primary_interval_pp": None, "deltaone_decision": None,
           "deltaone_accepted": None, "deltaone_probability": None, "estimation_confidence": None,
           "benchmark_rows": None, "warnings": [], "error": None}
    row.update(fields)
    return row


def sort_rows(rows):
    """Best estimated delta_one_score first, ties by name; failed contributions last, by name."""
    def key(row):
        failed = row["status"] != "ok" or row["delta_one_score"] is None
        return (failed, 0.0 if failed else -row["delta_one_score"], row["contribution"], row["source_path"])

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
        flat.update(primary_low_pp=low, primary_high_pp=high, warnings="; ".join(row.get("warnings") or []))
        error = row.get("error") or {}
        flat.update(error_kind=error.get("kind"), error_exit_code=error.get("exit_code"),
                    error_message=error.get("message"))
        writer.writerow({k: "" if v is None else str(v).lower() if isinstance(v, bool) else v
                         for k, v in flat.items()})
    return buffer.getvalue()


def headline(rows):
    """One sentence: how many, against what, how many pass, how many failed."""
    ok = [r for r in rows if r["status"] == "ok"]
    failed = len(rows) - len(ok)
    baselines = sorted({r["baseline_model_id"] for r in ok if r["baseline_model_id"]})
    primaries = sorted({r["primary_metric"] for r in ok if r["primary_metric"]})
    benchmarks = sorted({r["benchmark_rows"] for r in ok if r["benchmark_rows"]})
    parts = ["%d contribution%s" % (len(rows), "" if len(rows) == 1 else "s")]
    if baselines:
        parts.append(" against baseline%s %s" % ("" if len(baselines) == 1 else "s (mixed: compare with care)",
                                                 ", ".join("`%s`" % b for b in baselines)))
    if primaries and benchmarks:
        parts.append(" (DeltaOne judged on %s, %s benchmark rows)" % (
            ", ".join(primaries), ", ".join(thousands(b) for b in benchmarks)))
    passing = sum(1 for r in ok if r["deltaone_accepted"])
    parts.append(": %d would pass DeltaOne, %d would not" % (passing, len(ok) - passing))
    if failed:
        parts.append(", %d failed" % failed)
    parts.append(". PREVIEW - NON-BINDING ESTIMATES, sorted by estimated delta_one_score.")
    return "".join(parts)


def markdown(rows):
    primaries = sorted({r["primary_metric"] for r in rows if r["primary_metric"]})
    mixed = len(primaries) > 1  # then each cell names its metric
    primary = "primary metric" if mixed or not primaries else primaries[0]
    head = ["#", "contribution", "rows used", "delta_one_score (90% interval)",
            "%s delta, pts (90%% interval)" % primary, "DeltaOne", "P(pass)", "confidence", "warnings / error"]
    lines = [headline(rows), "", "| " + " | ".join(head) + " |",
             "|" + "|".join(["--:", ":--", "--:", ":--", ":--", ":--", "--:", "--:", ":--"]) + "|"]
    for number, row in enumerate(rows, 1):
        if row["status"] != "ok":
            error = row.get("error") or {}
            cells = [str(number), _cell(row["contribution"]), "—", "—", "—",
                     "**failed** (%s, exit %s)" % (error.get("kind", "error"), error.get("exit_code", "?")),
                     "—", "—", _cell(error.get("message", ""))]
        else:
            rows_used = thousands(row["rows_used"])
            if row["original_rows"] is not None and row["rows_used"] != row["original_rows"]:
                rows_used += " of " + thousands(row["original_rows"])
            cells = [str(number), _cell(row["contribution"]), rows_used,
                     "%s (%s)" % (signed(row["delta_one_score"], 4), _span(row["delta_one_interval"], 4)),
                     "%s%s (%s)" % (row["primary_metric"] + " " if mixed else "", signed(row["primary_delta_pp"]),
                                    _span(row["primary_interval_pp"], 2)),
                     _verdict(row), percent(row["deltaone_probability"]),
                     "%.2f" % row["estimation_confidence"] if row["estimation_confidence"] is not None else "?",
                     _cell("; ".join(row["warnings"]))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _verdict(row):
    label = VERDICTS.get(row["deltaone_decision"], (row["deltaone_decision"] or "?",))[0]
    return "**%s**" % label if row["deltaone_accepted"] else label


def _span(interval, digits):
    return "%s .. %s" % (signed(interval[0], digits), signed(interval[1], digits)) if interval else "?"


def _cell(text):
    """Text safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")
