"""The batch picture (hp-format --plot FILE): every contribution's estimated delta at a glance.

One row per contribution, in the summary's order (best estimated delta_one_score on top): the
estimated change of the primary metric in points as a dot, filled where DeltaOne would pass and
hollow where it would not, its 90% interval as a bar, the +1 point DeltaOne needs as a dashed
line (not shaded beyond: a delta past it can still fail the significance test; an estimate far
from all the others as an arrow at the axis's edge, see OUTLIER_SPREADS), and on the right
the predicted verdict with the probability that the full pipeline passes it. Failed
contributions are listed under the others with their error. Each name carries its row number in
the table (and, where the rows come from several baselines, its baseline); beyond MOST_ROWS
contributions the picture shows the best ones and says how many it leaves to the table (a
picture thousands of rows tall is no glance). Rows are counted, classified and described by the
summary's own functions (core/summary.py), so the picture says what the table says. matplotlib
(the optional `plot` extra) is imported only here, only when a picture is drawn.
"""

import math
import os
import warnings

from .deltaone import THRESHOLD_PP
from .errors import UsageError
from .report import interval_text, percent, points, signed
from .summary import (
    baselines,
    failed,
    judged_on,
    needed,
    primaries,
    rows_text,
    sort_rows,
    tally,
    verdict,
    verdict_counts,
    warning_topic,
)
from .text import shorten, thousands

GREEN, AMBER, RED, GREY, INK = "#1a7f37", "#c77c02", "#c62828", "#8c959f", "#24292f"
WIDTH_IN = 10.0
MARGIN = 0.012  # of the figure's width, kept clear at either side
SUBTITLE_CHARS = 135  # of the subtitle's small type fit on one line of the picture's width
LINE_IN = 0.17  # the height of one more line of it, in inches
KEY_IN = 0.3  # the legend's row under the axis, in inches
MOST_ROWS = 60  # drawn at most: beyond, the best ones (and a few failures), the rest counted
MOST_FAILED = 10  # of those, failed ones at most when there are others to draw
# One far estimate (a file of flipped labels at -40 points) would squeeze every other row, and
# the 0 and +1 lines, into a few pixels. Of at least OUTLIER_ROWS estimates, one farther than
# OUTLIER_SPREADS spreads from their median (a spread: their median distance from it, at least
# a point) is left off the axis and drawn at its edge as an arrow with its value.
OUTLIER_ROWS = 4
OUTLIER_SPREADS = 10
DETAIL_CHARS = 55  # the line under a contribution's name: its rows and the topics of its warnings
BAR_STYLE = (0, (1, 2))  # dotted: the delta the significance test needs, beside the +1 point's dashes


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise UsageError("drawing a picture needs matplotlib, which is not installed",
                         "run 'make install' or pip install 'hokusai-preview[plot]'") from None
    matplotlib.use("Agg")  # files only: no display needed, same pixels everywhere
    import matplotlib.pyplot as plt

    return plt


def colour(row):
    if row["deltaone_accepted"]:
        return GREEN
    if row["primary_delta_pp"] is None:
        return GREY
    return AMBER if row["primary_delta_pp"] > 0 else RED


# Picture formats by the name's extension (a name without one, e.g. /dev/stdout, gets a PNG), with
# the metadata that would make the same rows give different bytes (dates, versions) left out.
FORMATS = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
}


def picture_format(path):
    """The format :func:`draw` writes ``path`` in: png, svg or pdf by its extension (png if it has
    none); UsageError for another extension, so out.jpg is never a PNG under a lying name."""
    name = os.path.basename(path.rstrip("/"))
    extension = os.path.splitext(name)[1].lower().lstrip(".")
    if not extension:
        return "png"
    if extension not in FORMATS:
        raise UsageError("--plot %s: cannot draw a .%s picture" % (path, extension),
                         "name it .png, .svg or .pdf")
    return extension


def draw(rows, path, fmt="png"):
    """Write the picture of ``rows`` (summary rows) to ``path`` in ``fmt`` (see :data:`FORMATS`;
    the caller makes the path a temporary one, published when everything else is written too)."""
    plt = _pyplot()
    plt.rcParams["svg.hashsalt"] = "hokusai-preview"  # SVG element ids from a fixed salt, not a random one
    with warnings.catch_warnings():
        # A name in a script the font lacks (日本語) is drawn as boxes; matplotlib would also warn
        # once per character on stderr, where a command prints only its own lines.
        warnings.filterwarnings("ignore", message=r"(?s).*Glyph .* missing from")
        fig = _figure(plt, sort_rows(rows))
        try:
            fig.savefig(path, format=fmt, metadata=FORMATS[fmt])
        finally:
            plt.close(fig)


def _figure(plt, rows):
    if not rows:
        return _empty(plt)
    number = {id(r): i + 1 for i, r in enumerate(rows)}  # the table's "#"
    shown = [r for r in rows if not failed(r)]  # previewed, with or without a delta to draw
    errors = [r for r in rows if failed(r)]
    left_out = ""
    if len(rows) > MOST_ROWS:
        errors_drawn = errors[:max(MOST_FAILED, MOST_ROWS - len(shown))]
        shown_drawn = shown[:MOST_ROWS - len(errors_drawn)]
        left_out = "showing %d of %s previewed (the best estimates)%s; the table lists every one" % (
            len(shown_drawn), thousands(len(shown)),
            " and %d of %s failed" % (len(errors_drawn), thousands(len(errors))) if errors else "")
        shown, errors = shown_drawn, errors_drawn
    n = len(shown) + len(errors)
    by_baseline = len(baselines(rows)) > 1  # then each row names its baseline
    metrics = primaries(rows)
    metric = _plain(metrics[0]) if len(metrics) == 1 else "each one's primary metric" if metrics else "its metric"

    subtitle = _subtitle(rows) + ("\n" + left_out if left_out else "")
    extra = LINE_IN * subtitle.count("\n")
    height = 1.55 + KEY_IN + extra + 0.52 * n + (0.25 if errors else 0.0)
    fig, ax = plt.subplots(figsize=(WIDTH_IN, height), dpi=150)
    fig.subplots_adjust(left=0.25, right=0.80, top=1 - (1.05 + extra) / height, bottom=(0.55 + KEY_IN) / height)

    lo, hi = x_range(shown)
    ax.set_xlim(lo, hi)
    ax.set_ylim(n - 0.4, -0.6)

    # The +1 point is needed, not enough (the rule's significance test decides too), so the side
    # beyond it is not shaded as passing: each dot's fill says whether it would pass.
    ax.axvline(0.0, color=GREY, lw=1.0)
    ax.axvline(THRESHOLD_PP, color=INK, lw=1.0, ls=(0, (4, 3)), alpha=0.7)
    bar = needed(shown)  # where the significance test asks more of this benchmark than +1 point
    if bar:
        ax.axvline(bar, color=INK, lw=1.0, ls=BAR_STYLE, alpha=0.7)
    # The line's label goes on the side of the line with room for it.
    right_side = (THRESHOLD_PP - lo) / (hi - lo) < 0.6
    label = "DeltaOne needs \u2265 +1 pt"
    ax.text(THRESHOLD_PP, -0.6, " %s " % label if right_side else "%s  " % label,
            color=INK, fontsize=8.5, ha="left" if right_side else "right", va="bottom", clip_on=False)

    notes = []  # texts inside the plot, shortened below to its width
    values = []  # (label, the value it labels): kept clear of the vertical lines once laid out
    for y, r in enumerate(shown):
        c = colour(r)
        if r["primary_delta_pp"] is not None:
            low, high = r["primary_interval_pp"] or (r["primary_delta_pp"],) * 2
            ax.plot([low, high], [y, y], color=c, lw=7, alpha=0.28, solid_capstyle="round")  # clipped at the edges
            face = {"mec": "white", "mew": 1.2} if r["deltaone_accepted"] else {"mfc": "white", "mec": c, "mew": 2}
            x, marker, align = r["primary_delta_pp"], "o", "center"
            if not lo <= x <= hi:  # an outlier: an arrow at the edge, pointing to where it lies
                beyond = x > hi
                x, marker, align = (hi, ">", "right") if beyond else (lo, "<", "left")
                x -= (1 if beyond else -1) * 0.012 * (hi - lo)
            ax.plot([x], [y], marker, color=c, ms=9, zorder=3, **face)
            values.append((ax.annotate(points(r["primary_delta_pp"]), (x, y), xytext=(0, 9), textcoords="offset points",
                                       ha=align, va="bottom", fontsize=8.5, color=c, fontweight="bold"), x))
        else:  # e.g. the primary metric is undefined on the benchmark: nothing to draw, said so
            what = "no estimated %s delta to draw" % _plain(r["primary_metric"] or "primary metric")
            notes.append(ax.annotate("–  " + what, (0.015, y), xycoords=("axes fraction", "data"), va="center",
                                     fontsize=8.5, color=GREY, zorder=5,
                                     bbox={"boxstyle": "round,pad=0.4", "fc": "#f3f4f6", "ec": "none"}))
        # Which warnings, in a word each (the table has them whole): "1 warning" says nothing to act on.
        topics = [warning_topic(w) for w in r.get("warnings") or []]
        tail = (" · baseline " + r["baseline_model_id"] if by_baseline else "") + (
            " · " + _topics(topics) if topics else "")
        detail = rows_text(r, unit=True) + tail
        if len(detail) > DETAIL_CHARS:  # the warnings' topics first: why rows were left out, the table says
            detail = rows_text(r, unit=True, notes=False) + tail
        _label(ax, y, number[id(r)], r["contribution"], shorten(detail, DETAIL_CHARS, mark="…"), INK,
               AMBER if topics else GREY)
        ax.annotate("%s  %s" % (verdict(r), percent(r["deltaone_probability"])), (1.02, y),
                    xycoords=("axes fraction", "data"), va="bottom", fontsize=9.5, color=c, fontweight="bold")
        ax.annotate("delta_one %s" % signed(r["delta_one_score"], 4), (1.02, y), xycoords=("axes fraction", "data"),
                    va="top", fontsize=8, color=GREY)

    for i, r in enumerate(errors):
        y = len(shown) + i
        error = r.get("error") or {}
        kind = str(error.get("kind", "error")).replace("_", " ")
        _label(ax, y, number[id(r)], r["contribution"], "%s, exit %s" % (kind, error.get("exit_code", "?")), RED)
        # What is wrong (the hint after "; " is in the table).
        message = " ".join(str(error.get("message", "")).split()).split("; ")[0]
        for prefix in (r["source_path"] + ": ", r["source_path"] + " "):  # the name is on the left already
            if message.startswith(prefix):
                message = message[len(prefix):]
        notes.append(ax.annotate("×  " + _plain(message), (0.015, y), xycoords=("axes fraction", "data"),
                                 va="center", fontsize=8.5, color=RED, zorder=5,
                                 bbox={"boxstyle": "round,pad=0.4", "fc": "#fdecea", "ec": "none"}))
        ax.annotate("failed", (1.02, y), xycoords=("axes fraction", "data"), va="center", fontsize=9.5,
                    color=RED, fontweight="bold")
    if shown and errors:
        ax.axhline(len(shown) - 0.5, color=GREY, lw=0.6, ls=":")

    ax.set_yticks([])
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color(GREY)
    ax.tick_params(axis="x", colors=INK, labelsize=8.5)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: "0" if abs(v) < 1e-9 else "%+g" % v))
    ax.grid(axis="x", color="#eaeef2", lw=0.8)
    ax.set_axisbelow(True)
    # The full computation's rows have no interval (report.interval_text): then no bar is said.
    intervals = any(interval_text(r["primary_interval_pp"]) for r in shown)
    exact = intervals and any(r.get("exact") and r["primary_delta_pp"] is not None for r in shown)
    ax.set_xlabel("%s in %s, points%s" % ("estimated change" if intervals else "change", metric,
                                          " (a dot without a bar is exact: the full computation)" if exact else ""),
                  fontsize=9, color=INK)
    _key(fig, height, shown, lo, hi, bar)

    models = baselines(rows)
    title = "How much would each contribution move %s?" % (
        _plain(models[0]) if len(models) == 1 else "its baseline" if models else "the model")
    heads = [fig.text(0.02, 1 - 0.22 / height, title, fontsize=13, fontweight="bold", color=INK, va="top"),
             fig.text(0.02, 1 - 0.55 / height, subtitle, fontsize=8.5, color=GREY, va="top")]
    ax.annotate("DeltaOne verdict, P(pass)", (1.02, -0.6), xycoords=("axes fraction", "data"), va="bottom",
                fontsize=8.5, color=GREY)
    _fit(fig, ax, notes, heads)
    _clear_of_lines(fig, ax, values, [0.0, THRESHOLD_PP] + ([bar] if bar else []))
    return fig


def _topics(topics, most=2):
    """'label noise, class balance', or the first ``most`` and how many more."""
    more = len(topics) - most
    return ", ".join(topics[:most]) + (" +%d more" % more if more > 0 else "")


def _key(fig, height, shown, lo, hi, bar=None):
    """The legend under the axis: what the dots' fill and colour, the bars, the arrows and the
    significance line (at ``bar``, see summary.needed) mean, each entry only where the picture
    shows it (drawn with the same marks, so it is read, not learnt)."""
    from matplotlib.lines import Line2D

    drawn = [r for r in shown if r["primary_delta_pp"] is not None]
    entries = []

    def dot(colour_, filled, label, marker="o"):
        face = {"mec": "white", "mew": 1.2} if filled else {"mfc": "white", "mec": colour_, "mew": 2}
        entries.append((Line2D([], [], ls="", marker=marker, color=colour_, ms=8, **face), label))

    if any(r["deltaone_accepted"] for r in drawn):
        dot(GREEN, True, "would pass DeltaOne")
    if any(colour(r) == AMBER for r in drawn):
        dot(AMBER, False, "would not pass, metric rises")
    if any(colour(r) == RED for r in drawn):
        dot(RED, False, "would not pass, metric falls")
    if any(interval_text(r["primary_interval_pp"]) and r["primary_interval_pp"][1] >= lo
           and r["primary_interval_pp"][0] <= hi for r in drawn):  # a bar to be seen
        entries.append((Line2D([], [], color=GREY, lw=7, alpha=0.5, solid_capstyle="round"), "90% interval"))
    if any(not lo <= r["primary_delta_pp"] <= hi for r in drawn):
        dot(INK, False, "far off the axis (value beside it)", marker=">")
    if bar:
        entries.append((Line2D([], [], color=INK, lw=1.0, ls=BAR_STYLE, alpha=0.7),
                        "significant on this benchmark from %s pts" % points(bar)))
    if entries:
        fig.legend(*zip(*entries), loc="lower center", bbox_to_anchor=(0.5, 0.12 / height), ncol=len(entries),
                   frameon=False, fontsize=8.5, labelcolor=INK, handletextpad=0.8, columnspacing=1.8)


def x_range(shown):
    """(low, high) of the x axis, in points: every interval, 0, the threshold and the delta the
    significance test needs (summary.needed), with room to spare, except what lies beyond the
    outliers' bound (see :data:`OUTLIER_SPREADS`)."""
    drawn = [r for r in shown if r["primary_delta_pp"] is not None]
    estimates = [r["primary_delta_pp"] for r in drawn]
    low, high, middle, bound = -math.inf, math.inf, 0.0, math.inf
    if len(estimates) >= OUTLIER_ROWS:
        middle = _median(estimates)
        bound = OUTLIER_SPREADS * max(_median([abs(e - middle) for e in estimates]), 1.0)
        kept = [e for e in estimates if abs(e - middle) <= bound]
        low, high = min(kept) - bound, max(kept) + bound  # the kept rows' intervals are cut there
    values = [0.0, THRESHOLD_PP] + [v for v in [needed(shown)] if v]
    for r in drawn:
        if abs(r["primary_delta_pp"] - middle) <= bound:
            values.extend(min(max(v, low), high) for v in r["primary_interval_pp"] or [r["primary_delta_pp"]])
    lo, hi = min(values), max(values)
    pad = 0.08 * (hi - lo)
    return lo - pad, hi + pad


def _median(values):
    ordered = sorted(values)
    half = len(ordered) // 2
    return ordered[half] if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2.0


def _empty(plt):
    """The picture of no contributions: it says so, so that an old picture is never left standing."""
    fig = plt.figure(figsize=(WIDTH_IN, 2.0), dpi=150)
    fig.text(0.02, 1 - 0.22 / 2.0, "No contributions to show", fontsize=13, fontweight="bold", color=INK, va="top")
    fig.text(0.02, 1 - 0.55 / 2.0, _subtitle([]), fontsize=8.5, color=GREY, va="top")
    fig.text(0.5, 0.4, "The input holds no records: nothing was previewed, nothing failed.", fontsize=10,
             color=GREY, ha="center", va="center")
    return fig


def _label(ax, y, number, name, detail, color, detail_color=GREY):
    """The contribution's row number in the table and name and, under them, its rows and
    warnings or its failure. (The number tells apart names that clip to the same text.)"""
    at = {"xycoords": ("axes fraction", "data"), "ha": "right"}
    shown = shorten(name, 33, middle=True, mark="…")
    ax.annotate("%d  %s" % (number, _plain(shown)), (-0.02, y), va="bottom", fontsize=9.5, color=color,
                fontweight="bold", **at)
    ax.annotate(_plain(detail), (-0.02, y), va="top", fontsize=8, color=detail_color, **at)


def _subtitle(rows):
    """The table's headline in the picture's words: the same counts and the same "judged on"."""
    counts = tally(rows)
    if not rows:
        return "0 contributions · PREVIEW - NON-BINDING ESTIMATES"
    parts = ["%d previewed" % counts["previewed"]] + verdict_counts(counts)
    if counts["failed"]:
        parts.append("%d failed" % counts["failed"])
    judged = judged_on(rows)
    if judged:
        parts.append("judged on " + _plain(judged))
    models = baselines(rows)
    if len(models) > 1:
        parts.append("mixed baselines (compare with care): " + _plain(", ".join(models)))
    parts.append("PREVIEW - NON-BINDING ESTIMATES")
    # Lines broken between parts, so that none is cut off (what still is too long is shortened).
    lines = [parts[0]]
    for part in parts[1:]:
        if len(lines[-1]) + 3 + len(part) <= SUBTITLE_CHARS:
            lines[-1] += " · " + part
        else:
            lines.append(part)
    return "\n".join(lines)


def _fit(fig, ax, notes, heads):
    """Keep every text inside the figure: widen the margins beside the plot until the names on
    the left and the verdicts on the right fit, then shorten what still does not (a note inside
    the plot to its width, a heading to the figure's)."""
    renderer = fig.canvas.get_renderer()
    width = fig.bbox.width
    beside = [t for t in ax.texts if t not in notes]
    for _ in range(6):
        boxes = [t.get_window_extent(renderer) for t in beside]
        overflow_left = MARGIN * width - min(b.x0 for b in boxes)
        overflow_right = max(b.x1 for b in boxes) - (1 - MARGIN) * width
        if overflow_left <= 0.5 and overflow_right <= 0.5:
            break
        left, right = fig.subplotpars.left, fig.subplotpars.right
        left += max(overflow_left, 0) / width * 1.05
        right -= max(overflow_right, 0) / width * 1.05
        if right - left < 0.3:  # names are clipped to 34 characters: this is never reached in practice
            break
        fig.subplots_adjust(left=left, right=right)
    plot_right = ax.get_window_extent(renderer).x1
    for note in notes:
        _shorten(note, renderer, plot_right)
    for head in heads:
        _shorten(head, renderer, (1 - MARGIN) * width)


def _clear_of_lines(fig, ax, values, at):
    """Move a value label that a vertical line (at the values ``at``: 0, +1 point, ...) would cross
    to the side of its dot away from the line; where the lines leave room on neither side, give it
    a backing."""
    renderer = fig.canvas.get_renderer()
    lines = [ax.transData.transform((x, 0.0))[0] for x in at]

    def crossed(label):
        box = label.get_window_extent(renderer)
        return [x for x in lines if box.x0 - 2 <= x <= box.x1 + 2]

    for label, value in values:
        crossing = crossed(label)
        if not crossing:
            continue
        dot = ax.transData.transform((value, 0.0))[0]
        sides = ("left", "right") if dot >= crossing[0] else ("right", "left")  # away from the line first
        for side in sides:
            label.set_horizontalalignment(side)
            label.xyann = (6 if side == "left" else -6, 9)
            if not crossed(label):
                break
        else:
            label.set_horizontalalignment("center")
            label.xyann = (0, 9)
            label.set_bbox({"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"})
            label.set_zorder(4)


def _shorten(text, renderer, limit):
    """Cut ``text`` (a matplotlib Text) with an ellipsis until it ends before ``limit`` pixels."""
    content = text.get_text()
    while len(content) > 8 and text.get_window_extent(renderer).x1 > limit:
        content = content[:-4].rstrip("\\") + "…"
        text.set_text(content)


def _plain(text):
    """Text drawn as it is: a "$" would start mathtext (and a lone one in a name break the drawing)."""
    return str(text).replace("$", r"\$")
