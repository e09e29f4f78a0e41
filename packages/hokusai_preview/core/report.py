"""The human-readable report of one delta output (hp-format --output-format pretty).

The verdict comes first, with the probability that the full pipeline reaches it, because that is
the question a contributor asks; then the estimate with its interval and what the confidence
means; then one row per metric with a bar of the estimated delta and its interval on a shared
axis; then where the numbers came from. Everything fits 80 columns.

Colour only when the caller asks (hp-format does when it writes to a terminal, not an
--output-file, and neither NO_COLOR nor TERM=dumb says otherwise); box-drawing glyphs only when
the output encoding can carry them. Plain Python only (no numpy): hp-format must start fast.
"""

import math
import textwrap

from .deltaone import EPSILON_PP, THRESHOLD_PP
from .text import name_list, plural, thousands

WIDTH = 80
# What estimation_confidence says of the full computation (preview_metadata.estimate.exact), in
# place of the output's confidence_meaning, which speaks of an estimate.
EXACT_MEANING = "exact: this run is the full computation (every tree on every row), not an estimate"
FIRM = 0.8  # below this confidence, the report calls the estimate rough (and a sampled one says how to firm it up)
SURE = 0.8  # below this chance that the full run decides alike, the verdict is shown as uncertain

# decision code -> (short label for tables and pictures, phrase for the report)
VERDICTS = {
    "accepted": ("pass", "would pass"),
    "delta_below_threshold": ("below 1 pt", "would not pass: below the +1 point threshold"),
    "not_statistically_significant": ("not significant", "would not pass: not statistically significant"),
    "insufficient_samples": ("benchmark too small", "would not pass: benchmark too small"),
    "dataset_hash_mismatch": ("benchmarks differ", "would not pass: the benchmarks differ"),
    "metric_unavailable": ("metric unavailable", "cannot be judged: primary metric unavailable"),
}

UNICODE = {"axis": "│", "cross": "┼", "bar": "█", "line": "─", "low": "├", "high": "┤", "dot": "●",
           "yes": "✔", "no": "✘", "to": "→", "pm": "±", "ge": "≥", "rule": "─", "warn": "⚠"}
ASCII = {"axis": "|", "cross": "+", "bar": "#", "line": "-", "low": "[", "high": "]", "dot": "o",
         "yes": "+", "no": "x", "to": "->", "pm": "+/-", "ge": ">=", "rule": "-", "warn": "!"}


def glyphs_for(encoding):
    """The glyph set an output encoding can carry (box drawing when it can, else ASCII)."""
    try:
        "".join(UNICODE.values()).encode(encoding or "ascii")
    except (LookupError, UnicodeEncodeError):
        return ASCII
    return UNICODE


class Style:
    """ANSI SGR colouring, or nothing at all when ``color`` is false."""

    def __init__(self, color):
        self.color = color

    def __call__(self, text, code):
        return "\x1b[%sm%s\x1b[0m" % (code, text) if self.color and text else text

    def good(self, text):
        return self(text, "32")

    def bad(self, text):
        return self(text, "31")

    def warn(self, text):
        return self(text, "33")

    def bold(self, text):
        return self(text, "1")

    def dim(self, text):
        return self(text, "2")


def percent(p):
    """A probability as a percentage that never rounds a doubt away (>99%, <1%)."""
    if p is None:
        return "?"
    return _never_certain(p, "%.0f%%" % (100 * p), "<1%", ">99%")


def confidence(c):
    """An estimation_confidence to two places that never rounds a doubt away: 1.00 is only the
    full computation's (0.9999 shows as >0.99, 0.004 as <0.01)."""
    if c is None:
        return "?"
    return _never_certain(c, "%.2f" % c, "<0.01", ">0.99")


def _never_certain(p, text, low, high):
    """``text`` for the probability ``p``, or ``low``/``high`` where it would round a doubt away
    to 0 or 1 (the low side judged on the text: 0.005 is "0%" in Python's rounding)."""
    if 0.995 <= p < 1:
        return high
    if 0 < p and float(text.rstrip("%")) == 0:
        return low
    return text


def points(value):
    """A delta in percentage points to two places, never rounded across DeltaOne's threshold:
    0.996 shows as +0.99, below +1 as the verdict says, not as a passing +1.00."""
    if value is None:
        return "?"
    if value < THRESHOLD_PP - EPSILON_PP <= float("%.2f" % value):
        value = math.floor(value * 100.0) / 100.0
    return signed(value)


def signed(value, digits=2):
    """'+0.12', '-3.40': every rounded number the output shows with its sign goes through here. A
    value that rounds to zero is '+0.00', as zero itself prints, never '-0.00'."""
    if value is None:
        return "?"
    text = "%+.*f" % (digits, value)
    return "+" + text[1:] if float(text) == 0 else text


def interval_text(interval, digits=2, exact=None, between=" .. "):
    """'+0.0358 .. +0.0481', or None where there is no interval to show: none given, or the full
    computation's (``exact``; its interval is the value itself, zero wide). Where ``exact`` is not
    known (None: a summary row), a zero-wide interval is taken for the full computation's; an
    estimate's (``exact`` False) is shown, since a blank would read as a value missing."""
    if not interval or exact or exact is None and interval[0] == interval[1]:
        return None
    return signed(interval[0], digits) + between + signed(interval[1], digits)


def warnings_of(preview):
    """The output's warnings, then those of the data checks (hp-check) not already among them."""
    warnings = list(preview.get("warnings") or [])
    for warning in (preview.get("diagnostics") or {}).get("warnings") or []:
        if warning not in warnings:
            warnings.append(warning)
    return warnings


def benchmark_matches(count):
    """'1 benchmark match', '80 benchmark matches'."""
    return "%s benchmark %s" % (thousands(count), "match" if count == 1 else "matches")


def removed_rows(preview):
    """Contributed rows hp-check took out before sampling (benchmark copies), 0 when none."""
    contamination = (preview.get("diagnostics") or {}).get("contamination") or {}
    return int(contamination.get("rows_removed") or 0)


def inflating_rows(preview):
    """(benchmark matches kept, rows that look like altered benchmark rows): contributed rows
    hp-check judged to inflate the delta, beyond chance, that the estimate still trains on. The
    first are kept only by --keep-contaminated; the second are always kept, as no single one of
    them can be told from a clean row (the closeness test). (0, 0) when there are none."""
    contamination = (preview.get("diagnostics") or {}).get("contamination") or {}
    kept = int(contamination.get("rows") or 0) if contamination.get("warn") and not contamination.get(
        "rows_removed") else 0
    closeness = contamination.get("closeness") or {}
    altered = int(round(closeness.get("estimated_rows") or 0)) if closeness.get("warn") else 0
    return kept, altered


def suspect_text(kept, altered):
    """What makes a delta suspect, from :func:`inflating_rows`: '80 benchmark matches were kept
    (--keep-contaminated); about 300 rows look like altered benchmark rows'; None if nothing."""
    parts = ["%s %s kept (--keep-contaminated)" % (benchmark_matches(kept), "was" if kept == 1 else "were")] \
        if kept else []
    if altered:
        parts.append("about %s like %s" % (plural(altered, "row looks", "rows look"),
                                           "an altered benchmark row" if altered == 1 else "altered benchmark rows"))
    return "; ".join(parts) or None


def verdict_certainty(deltaone):
    """How sure the predicted DeltaOne verdict (a ``preview_metadata.deltaone``) is: "sure" when the
    full run is likely (:data:`SURE`) to decide alike; "reason" when only the reason is in doubt
    (below the threshold, or not significant) and the failing is not; else "uncertain". The
    report's mark and the summary's "(uncertain)" both come from here."""
    same = deltaone.get("probability_of_decision")
    if same is None or same >= SURE:  # None: written before outputs and rows carried it (read as then)
        return "sure"
    passes = deltaone.get("probability")
    if passes is not None and not deltaone.get("accepted") and 1.0 - passes >= SURE \
            and deltaone["decision"] in FAILING_REASONS:
        return "reason"
    return "uncertain"


def _phrase(decision, metric=None):
    """The report's words for ``decision``; the threshold is the primary ``metric``'s, not
    delta_one_score's, which the report shows in points too (and can stand above +1 point)."""
    words = VERDICTS.get(decision, (decision,) * 2)[1]
    return words + " on " + metric if decision == "delta_below_threshold" and metric else words


FAILING_REASONS = ("delta_below_threshold", "not_statistically_significant")
# "Below the threshold" is one reason code for +0.7 and for -25 points alike; a contribution
# sure to lower the metric by at least the threshold is named for what it does (same code).
WORSE = ("worse", "would not pass: it makes the model worse")


def makes_worse(decision, delta_pp, interval_pp):
    """Whether a verdict of ``decision`` is one whose primary-metric delta surely lowers the metric
    by at least the threshold: the top of ``interval_pp`` (points; ``delta_pp`` where the run is
    exact and has none) at or below -:data:`THRESHOLD_PP`."""
    top = interval_pp[1] if interval_pp else delta_pp
    return decision == "delta_below_threshold" and top is not None and top <= -THRESHOLD_PP


def failing_reasons(deltaone):
    """The two failing reasons of a verdict whose reason alone is in doubt (see
    :func:`verdict_certainty`), the likelier first: the decision is the rule applied to the
    estimate, which on the edge of the threshold need not be the likelier of the two (the other
    one's chance is what neither passing nor the decision takes)."""
    decision = deltaone["decision"]
    other = FAILING_REASONS[1 - FAILING_REASONS.index(decision)]
    chance_other = 1.0 - deltaone["probability"] - deltaone["probability_of_decision"]
    return (other, decision) if chance_other > deltaone["probability_of_decision"] else (decision, other)


def verdict_headline(deltaone, glyphs, worse=False):
    """(mark, words) of the report's first verdict line (see :func:`verdict_certainty`): a tick or
    a cross when the outcome is sure, with the likelier reason when only that is in doubt, else
    "?" and "(uncertain)"; ``worse`` (see :func:`makes_worse`) names a sure fall as such."""
    metric = deltaone.get("judged_on")
    words = _phrase(deltaone["decision"], metric)
    certainty = verdict_certainty(deltaone)
    if certainty == "sure":
        return glyphs["yes" if deltaone.get("accepted") else "no"], WORSE[1] if worse else words
    if certainty == "reason":
        likelier = _phrase(failing_reasons(deltaone)[0], metric)
        return glyphs["no"], "would not pass (likelier reason: %s)" % likelier[len("would not pass: "):]
    return "?", words + " (uncertain)"


def full_run_title(mode, removed, seed=None, pipeline_seed=None):
    """The report's first line for a --full run: what it computed, said plainly where that is
    not the main pipeline's own computation (no base table, benchmark matches left out, or a
    seed other than the one the main pipeline trains with)."""
    if mode == "fine_tune":
        return "FULL FINE-TUNING RUN (no base table: not the main pipeline's computation)"
    caveats = []
    if removed:
        caveats.append("without " + benchmark_matches(removed))
    if seed is not None and pipeline_seed is not None and seed != pipeline_seed:
        caveats.append("seed %d, not the recipe's %d" % (seed, pipeline_seed))
    return "FULL PIPELINE RECIPE (local run%s)" % "".join(", " + c for c in caveats)


def verdict_target(mode, removed=0, seed=None, recipe_seed=None):
    """Whose result the estimate, its confidence and the verdict's probability are about: the
    main pipeline's, or the run this tool can do where that is not the main pipeline's
    computation (no base table, benchmark matches left out, another seed than the recipe's)."""
    if mode == "fine_tune":
        return "a --full fine-tuning run"
    caveats = ["without the " + benchmark_matches(removed)] if removed else []
    if seed is not None and recipe_seed is not None and seed != recipe_seed:
        caveats.append("with seed %d" % seed)
    return "the full run %s" % " and ".join(caveats) if caveats else "the full pipeline"


def nice_ticks(lo, hi, most=5):
    """Round tick values (1, 2 or 5 times a power of ten apart) inside [lo, hi], 0 included."""
    span = hi - lo
    for power in range(-3, 4):
        for unit in (1, 2, 5):
            step = unit * 10.0 ** power
            if span / step <= most:
                first = int(-(-lo // step))  # ceil
                return [round(i * step, 6) for i in range(first, int(hi // step) + 1)]
    return [0.0]


class Axis:
    """Maps values in points to ``width`` character cells."""

    def __init__(self, lo, hi, width):
        self.lo, self.hi, self.width = lo, hi, width

    def col(self, value):
        where = (value - self.lo) / (self.hi - self.lo) * (self.width - 1)
        return max(0, min(self.width - 1, int(round(where))))

    def bar(self, centre, low, high, g):
        """Cells (glyph, kind) of one bar: the 0 axis, a solid bar from 0 to the interval's near
        end (the part the delta surely has), the interval as a whisker, the estimate as a dot."""
        cells = [(" ", "")] * self.width
        zero = self.col(0.0)
        a, b, c = self.col(low), self.col(high), self.col(centre)
        if a < b:  # an interval a cell or two wide keeps both ends beside the dot, not under it
            a, b = max(0, min(a, c - 1)), min(self.width - 1, max(b, c + 1))
        if low > 0:
            for i in range(zero + 1, a):
                cells[i] = (g["bar"], "bar")
        elif high < 0:
            for i in range(b + 1, zero):
                cells[i] = (g["bar"], "bar")
        for i in range(a + 1, b):
            cells[i] = (g["line"], "line")
        if a < b:
            cells[a], cells[b] = (g["low"], "line"), (g["high"], "line")
        if cells[zero][1] == "line" and zero not in (a, b):
            cells[zero] = (g["cross"], "line")
        elif cells[zero][1] == "":
            cells[zero] = (g["axis"], "axis")
        cells[c] = (g["dot"], "dot")
        return cells

    def scale(self, unit):
        """The tick labels under the bars, placed at their columns; labels that would touch are left out."""
        row = [" "] * self.width
        free = 0
        for value in nice_ticks(self.lo, self.hi):
            text = "0" if value == 0 else ("%+g" % value)
            start = self.col(value) - (len(text) - 1 if value > 0 else 0)  # a positive label ends at its tick
            if start < free or start + len(text) > self.width:
                continue
            row[start:start + len(text)] = list(text)
            free = start + len(text) + 1
        text = "".join(row).rstrip()
        return text + " " + unit if len(text) + len(unit) + 1 <= self.width else text


def paint(cells, s, sign):
    """Join cells into text, colouring bars by the sign of the delta and the axis dimly."""
    tone = s.good if sign > 0 else s.bad if sign < 0 else s.warn
    out, run, kind = [], "", None
    for glyph, k in cells + [("", None)]:
        k = {"bar": "tone", "line": "tone", "dot": "tone", "axis": "dim", "": ""}.get(k, k)
        if k != kind and run:
            out.append(tone(run) if kind == "tone" else s.dim(run) if kind == "dim" else run)
            run = ""
        kind = k
        run += glyph
    return "".join(out).rstrip()


def wrap(text, indent, first=""):
    """``first`` then ``text`` wrapped to the report's width with a hanging indent."""
    return textwrap.fill(text, WIDTH, initial_indent=first, subsequent_indent=" " * indent,
                         break_on_hyphens=False, break_long_words=True)


def _printable(value):
    """``value`` (an output or record, which may come edited from anywhere) with the control
    characters of its texts escaped (core/dataio.printable): none can drive the terminal, or
    split a line of the report."""
    from .dataio import printable

    if isinstance(value, dict):
        return {printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_printable(v) for v in value]
    return printable(value) if isinstance(value, str) else value


def render_error(record, s, g):
    error = record.get("error", {})
    head = "%s %s failed" % (g["no"], record.get("source_path", "?"))
    detail = " (%s, exit status %s)" % (error.get("kind", "error"), error.get("exit_code", "?"))
    return s.bad(s.bold(head)) + detail + "\n" + wrap(error.get("message", ""), 2, "  ") + "\n"


def render(output, color=False, glyphs=UNICODE):
    """The report text for one output document (or error record).

    ``color`` adds ANSI colours; ``glyphs`` is :data:`UNICODE` or :data:`ASCII` (see
    :func:`glyphs_for`).
    """
    s, g = Style(color), glyphs
    output = _printable(output)
    if output.get("record") == "error":
        return render_error(output, s, g)
    p = output["preview_metadata"]
    dc = output["delta_computation"]
    est = p["estimate"]
    prim = p["primary_metric"]
    d1 = p["deltaone"]
    removed = removed_rows(p)
    config = output["pipeline_metadata"]["config"]
    recipe_seed = ((config.get("model_recipe") or {}).get("params") or {}).get("random_state")
    lines = [s.bold(p["disclaimer"] if p["preview_mode"] else
                    full_run_title(p["mode"], removed, config.get("random_seed"), recipe_seed))]

    # The verdict and the probability that the full pipeline reaches it.
    accepted = bool(d1.get("accepted"))
    verdict = "%s DeltaOne %s" % verdict_headline(
        d1, g, makes_worse(d1["decision"], prim["delta_pp"], None if est.get("exact") else prim.get("interval_pp")))
    chance = "chance %s passes: %s" % (verdict_target(p["mode"], removed, config.get("random_seed"), recipe_seed),
                                       percent(d1["probability"]))
    verdict_text = (s.good if accepted else s.bad)(s.bold(verdict))
    if len(verdict) + 2 + len(chance) <= WIDTH:
        lines.append(verdict_text + " " * (WIDTH - len(verdict) - len(chance)) + s.bold(chance))
    else:
        lines.extend([verdict_text, "  " + s.bold(chance)])
    suspect = suspect_text(*inflating_rows(p))
    if suspect:  # the verdict is the main pipeline's, but on rows that should not be there: said where it is read
        lines.append(s.warn(wrap("%s suspect: %s; such rows inflate this delta (see the data check below)" % (
            g["warn"], suspect), 4, "  ")))
    lines.append(wrap("judged on %s: %s pts (%s %s %s) on %s" % (
        prim["name"], points(prim["delta_pp"]), _fmt(prim["baseline_value"]), g["to"], _fmt(prim["new_value"]),
        plural(d1["benchmark_rows"], "benchmark row")), 4, "  "))
    if not est.get("exact") and p["estimation_confidence"] < FIRM and prim.get("interval_pp"):
        # A rough estimate's point reads surer than it is: its range goes beside it, where it is read.
        lines.append(wrap("a rough estimate (confidence %s): the full run's %s delta is 90%% likely within %s .. "
                          "%s pts" % (confidence(p["estimation_confidence"]), prim["name"],
                                      signed(prim["interval_pp"][0]), signed(prim["interval_pp"][1])), 4, "  "))
    ci = d1.get("ci95_pp")
    # The rule's interval is over benchmark rows, at the delta shown: not the estimate's interval
    # below (90%, of where the full run lands), which a sampled preview's can be far wider than.
    # What the significance test asks of this benchmark can be far more than the threshold: said.
    threshold, needed = d1.get("threshold_pp", 1.0), d1.get("needed_pp")
    lines.append(wrap("needs %s +%.1f pts on %s %s, with a 95%% interval above 0%s; %s that interval is %s .. %s" % (
        g["ge"], threshold, g["ge"], plural(d1.get("min_examples", 800), "benchmark row"),
        ", so on this benchmark %s %s pts" % (g["ge"], points(needed)) if needed and needed > threshold else "",
        "here" if est.get("exact") else "at %s pts" % points(prim["delta_pp"]), signed(ci[0]) if ci else "?",
        signed(ci[1]) if ci else "?"), 4, "  "))
    lines.append("")

    # The estimate of delta_one_score and what the confidence means; the full computation is
    # no estimate, so it has no interval.
    exact = bool(est.get("exact"))
    span = interval_text(est["delta_one_interval"], 4, exact)
    lines.append("%-22s %s  (%s pts)%s" % (
        "delta_one_score", s.bold(signed(est["delta_one_score"], 4)), signed(100 * est["delta_one_score"]),
        "  %d%% interval %s" % (round(100 * est["interval_level"]), span) if span else ""))
    measured = (p.get("measured") or {}).get("delta_one_score", dc["delta_one_score"])
    if est.get("extrapolated") and abs(est["delta_one_score"] - measured) > 1e-12:
        # The estimate above is extrapolated to all rows; this is what the sample itself gave.
        lines.append(wrap("%s  as measured on the %s-row sample" % (
            signed(measured, 4), thousands(p["sample_size_used"])), 23, " " * 23))
    # Its first clause: what the rest says (why the run is not the main pipeline's own) the
    # report's first lines and its contribution line say already.
    meaning = p["confidence_meaning"].split("; ")[0]
    if exact:  # what it is the full computation of, where that is not the main pipeline's own
        meaning = EXACT_MEANING if not removed else EXACT_MEANING.replace(
            "every row)", "every row but the %s hp-check removed, which the main pipeline trains on)"
            % benchmark_matches(removed))
    lines.append(wrap(meaning.replace("+/-", g["pm"]), 31,
                      "%-22s %-7s " % ("estimation_confidence", confidence(p["estimation_confidence"]))))
    hint = firmer_hint(p)
    if hint:
        lines.append(s.dim(wrap(hint, 23, " " * 23)))
    lines.append("")
    lines.extend(metric_table(output, s, g))
    lines.append("")

    # Where the numbers come from.
    manifest = output["new_model"]["training_metadata"]["data_manifest"]
    training = output["new_model"]["training_metadata"]
    budget = p["budget"]
    notes = ["stratified sample"] if p["sampled"] else []
    notes += ["%s removed" % plural(removed, "matching benchmark row")] if removed else []
    notes += ["%s with labels the baseline does not know dropped" % thousands(p["rows_dropped"])] \
        if p.get("rows_dropped") else []
    ignored = p.get("ignored_columns") or []
    notes += ["%s ignored: %s" % (plural(len(ignored), "extra column"), name_list(ignored, 3, str))] if ignored else []
    lines.append(wrap("%s: %s of %s used%s" % (
        manifest["source_path"], thousands(p["sample_size_used"]), plural(p["original_data_size"], "row"),
        " (%s)" % "; ".join(notes) if notes else ""), 14, "contribution  "))
    held_out = output["pipeline_metadata"]["config"].get("test_size")
    split = ""
    if budget.get("split", "none") != "none":
        fitted = thousands(budget["fitted_samples"])
        if p["sampled"]:  # the split is the full run's, over all rows
            split = ", %g%% held out as the main pipeline does; the preview fitted %s of them (what its " \
                    "sample holds of that split)" % (100 * held_out, fitted)
        else:
            split = "; fitted on %s of them, %g%% held out as the main pipeline does" % (fitted, 100 * held_out)
    # fine_tune: the new trees never see the base rows; only the baseline's own trees did
    if p["mode"] == "retrain":
        trained = "retrained on %s base + %s%s" % (thousands(training["base_samples"]), plural(
            training["contributed_samples"], "contributed row"), split)
    else:
        trained = "fine-tuned: the baseline (trained on %s) plus new trees on %s%s" % (plural(
            training["base_samples"], "base row"), plural(training["contributed_samples"], "contributed row"), split)
    lines.append(wrap(trained, 14, "new model     "))
    lines.append("trees         %d of %d (%s)" % (budget["trees"], budget["full_trees"],
                                                 budget["stop_reason"].replace("_", " ")))
    if p.get("time_elapsed") is not None:
        cached = p.get("cache") and all(v == "hit" for v in p["cache"].values())
        lines.append("time          %.1f s%s" % (p["time_elapsed"], ", every stage from the cache" if cached else ""))
    # The run's own warnings, then the data check with its findings under it: a warning listed
    # under "data check" is one of its findings, and no other is.
    checked = (p.get("diagnostics") or {}).get("warnings") or []
    lines.extend(labelled("warning", w, s.warn) for w in p.get("warnings", []) if w not in checked)
    lines.extend(diagnostics_lines(p.get("diagnostics"), s))
    if p["preview_mode"]:
        lines.append(s.dim(wrap(p["disclaimer"] + ": only the main pipeline's evaluation counts.", 0)))
    return "\n".join(lines) + "\n"


def firmer_hint(p):
    """What would firm up a sampled preview whose spread is mostly the rows it left out, or None."""
    uncertainty = p.get("uncertainty") or {}
    sampling = (uncertainty.get("from_sampling") or {}).get("delta_one", 0.0)
    trees = (uncertainty.get("from_unfitted_trees") or {}).get("delta_one", 0.0)
    if not p["sampled"] or p["estimation_confidence"] >= FIRM or sampling <= trees:
        return None
    # The rows hp-sample chose from: the file's, less those hp-load dropped and hp-check removed.
    usable = p["original_data_size"] - int(p.get("rows_dropped") or 0) - removed_rows(p)
    return "most of that uncertainty is from the rows the sample left out; --sample-size %d uses every row" % usable


def diagnostics_lines(diagnostics, s):
    """What hp-check found (preview_metadata.diagnostics): a summary, then its alarms and notes."""
    if not diagnostics:  # a pipe typed without hp-check: say so rather than say nothing
        return [labelled("data check", "not run (hp-check was left out of the pipe): benchmark matches, "
                         "duplicates, label noise, shift and personal data were not looked for", s.warn)]
    alarms, notes = diagnostics.get("warnings", []), diagnostics.get("notes", [])
    found = plural(len(alarms), "warning") if alarms else "no problems found"
    lines = ["data check    %s: %s" % (plural(diagnostics.get("rows_checked"), "row"), found)]
    lines.extend(labelled("warning", text, s.warn) for text in alarms)
    lines.extend(s.dim(labelled("note", text)) for text in notes)
    return lines


def labelled(label, text, tone=None):
    """``text`` wrapped beside ``label`` in the report's 14-column gutter (the label toned)."""
    body = wrap(text, 14, "%-14s" % label)[len(label):]
    return (tone(label) if tone else label) + body


def metric_table(output, s, g):
    """One row per metric: baseline, new, delta and a bar of the estimate with its interval."""
    p = output["preview_metadata"]
    est = p["estimate"]
    rows = []
    for name, v in output["delta_computation"]["metric_deltas"].items():
        low, high = est["metric_intervals"][name]
        rows.append((name, v, 100 * est["metric_deltas"][name], 100 * low, 100 * high))
    # The full computation's deltas are no estimates: no interval column, no "estimated".
    exact = bool(est.get("exact"))
    spans = [interval_text((low, high), exact=exact, between="..") or "" for _, _, _, low, high in rows]
    level = "%d%% interval" % round(100 * est["interval_level"]) if any(spans) else ""
    span_width = max([len(level)] + [len(x) for x in spans])
    head = "%-9s %8s %8s %7s  %s" % ("metric", "baseline", "new", "delta", "%-*s " % (span_width, level) if level
                                    else "")
    width = WIDTH - len(head)
    lo, hi = min([0.0] + [r[3] for r in rows]), max([0.0] + [r[4] for r in rows])
    if hi - lo < 2.0:  # at least 2 points across, so that a tiny delta looks tiny
        extra = 2.0 - (hi - lo)
        lo, hi = (lo, hi + extra) if lo == 0 else (lo - extra, hi) if hi == 0 else (lo - extra / 2, hi + extra / 2)
    pad = (hi - lo) * 0.04
    axis = Axis(lo - (pad if lo < 0 else 0.0), hi + (pad if hi > 0 else 0.0), width)
    title = "delta, pts" if exact else "estimated for all rows, pts" if est.get("extrapolated") else \
        "estimated delta, pts"
    lines = [s.bold(head + title)]
    for (name, v, centre, low, high), span in zip(rows, spans):
        text = "%-9s %8s %8s %7s  %s" % (name, _fmt(v["baseline_value"]), _fmt(v["new_value"]),
                                        points(100 * v["absolute_delta"]), "%-*s " % (span_width, span) if level
                                        else "")
        cells = axis.bar(centre, low, high, g)
        lines.append(text + paint(cells, s, 1 if low > 0 else -1 if high < 0 else 0))
    lines.append(s.dim(" " * len(head) + axis.scale("pts")))
    return lines


def _fmt(value):
    return "?" if value is None else "%.4f" % value
