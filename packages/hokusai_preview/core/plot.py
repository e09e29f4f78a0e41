"""The batch picture (hp-format --plot FILE): every contribution's estimated delta at a glance.

One row per contribution, in the summary's order (best estimated delta_one_score on top): the
estimated change of the primary metric in points as a dot, its 90% interval as a bar, the
DeltaOne threshold (+1 point) as a dashed line with the passing side shaded, and on the right
the predicted verdict with the probability that the full pipeline passes it. Failed
contributions are listed under the others with their error. matplotlib (the optional `plot`
extra) is imported only here, only when a picture is drawn.
"""

import os

from .errors import UsageError
from .fsutil import atomic_path
from .report import VERDICTS, percent, signed, thousands
from .summary import sort_rows

GREEN, AMBER, RED, GREY, INK = "#1a7f37", "#c77c02", "#c62828", "#8c959f", "#24292f"
THRESHOLD_PP = 1.0


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
    return AMBER if (row["primary_delta_pp"] or 0) > 0 else RED


def draw(rows, path):
    """Write the picture of ``rows`` (summary rows) to ``path`` as a PNG, atomically."""
    plt = _pyplot()
    rows = sort_rows(rows)
    ok = [r for r in rows if r["status"] == "ok" and r["primary_delta_pp"] is not None]
    failed = [r for r in rows if r not in ok]
    n = len(ok) + len(failed)
    primaries = sorted({r["primary_metric"] for r in ok})
    metric = primaries[0] if len(primaries) == 1 else "primary metric"

    height = 1.55 + 0.52 * max(n, 1) + (0.25 if failed else 0.0)
    fig, ax = plt.subplots(figsize=(10.0, height), dpi=150)
    fig.subplots_adjust(left=0.25, right=0.80, top=1 - 1.05 / height, bottom=0.55 / height)

    # x range: every interval, 0 and the threshold, with room to spare.
    values = [0.0, THRESHOLD_PP]
    for r in ok:
        values.extend(r["primary_interval_pp"] or [r["primary_delta_pp"]])
    lo, hi = min(values), max(values)
    pad = 0.08 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    ax.set_xlim(lo, hi)
    ax.set_ylim(n - 0.4, -0.6)

    ax.axvspan(THRESHOLD_PP, hi, color=GREEN, alpha=0.06, lw=0)
    ax.axvline(0.0, color=GREY, lw=1.0)
    ax.axvline(THRESHOLD_PP, color=GREEN, lw=1.2, ls=(0, (4, 3)))
    # The threshold's label goes on the side of the line with room for it.
    right_side = (THRESHOLD_PP - lo) / (hi - lo) < 0.6
    ax.text(THRESHOLD_PP, -0.6, " DeltaOne threshold +1 pt " if right_side else "DeltaOne threshold +1 pt  ",
            color=GREEN, fontsize=8.5, ha="left" if right_side else "right", va="bottom", clip_on=False)

    for y, r in enumerate(ok):
        c = colour(r)
        low, high = r["primary_interval_pp"] or (r["primary_delta_pp"],) * 2
        ax.plot([low, high], [y, y], color=c, lw=7, alpha=0.28, solid_capstyle="round")
        ax.plot([r["primary_delta_pp"]], [y], "o", color=c, ms=9, mec="white", mew=1.2, zorder=3)
        ax.annotate(signed(r["primary_delta_pp"]), (r["primary_delta_pp"], y), xytext=(0, 9),
                    textcoords="offset points", ha="center", va="bottom", fontsize=8.5, color=c,
                    fontweight="bold")
        warnings = len(r.get("warnings") or [])
        detail = _rows_text(r) + (" · %d warning%s" % (warnings, "" if warnings == 1 else "s") if warnings else "")
        _label(ax, y, r["contribution"], detail, INK, AMBER if warnings else GREY)
        verdict = VERDICTS.get(r["deltaone_decision"], (r["deltaone_decision"],))[0]
        ax.annotate("%s  %s" % (verdict, percent(r["deltaone_probability"])), (1.02, y),
                    xycoords=("axes fraction", "data"), va="bottom", fontsize=9.5, color=c, fontweight="bold")
        ax.annotate("delta_one %s" % signed(r["delta_one_score"], 4), (1.02, y), xycoords=("axes fraction", "data"),
                    va="top", fontsize=8, color=GREY)

    for i, r in enumerate(failed):
        y = len(ok) + i
        error = r.get("error") or {}
        _label(ax, y, r["contribution"], "%s, exit %s" % (str(error.get("kind", "error")).replace("_", " "),
                                                          error.get("exit_code", "?")), RED)
        # What is wrong (the hint after "; " is in the table); clipped to the plot's width.
        message = " ".join(str(error.get("message", "")).split()).split("; ")[0]
        for prefix in (r["source_path"] + ": ", r["source_path"] + " "):  # the name is on the left already
            if message.startswith(prefix):
                message = message[len(prefix):]
        ax.annotate("×  " + _clip(message, 78), (0.015, y), xycoords=("axes fraction", "data"), va="center",
                    fontsize=8.5, color=RED, zorder=5,
                    bbox={"boxstyle": "round,pad=0.4", "fc": "#fdecea", "ec": "none"})
        ax.annotate("failed", (1.02, y), xycoords=("axes fraction", "data"), va="center", fontsize=9.5,
                    color=RED, fontweight="bold")
    if ok and failed:
        ax.axhline(len(ok) - 0.5, color=GREY, lw=0.6, ls=":")

    ax.set_yticks([])
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color(GREY)
    ax.tick_params(axis="x", colors=INK, labelsize=8.5)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: "0" if abs(v) < 1e-9 else "%+g" % v))
    ax.grid(axis="x", color="#eaeef2", lw=0.8)
    ax.set_axisbelow(True)
    ax.set_xlabel("estimated change in %s, points (dot: estimate, bar: 90%% interval)" % metric, fontsize=9,
                  color=INK)

    fig.text(0.02, 1 - 0.22 / height, "How much would each contribution move %s?" % _model(ok), fontsize=13,
             fontweight="bold", color=INK, va="top")
    fig.text(0.02, 1 - 0.55 / height, _subtitle(ok, failed, metric), fontsize=8.5, color=GREY, va="top")
    ax.annotate("DeltaOne verdict, P(pass)", (1.02, -0.6), xycoords=("axes fraction", "data"), va="bottom",
                fontsize=8.5, color=GREY)

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)
    return os.path.abspath(path)


def _label(ax, y, name, detail, color, detail_color=GREY):
    """The contribution's name and, under it, its rows and warnings or its failure."""
    at = {"xycoords": ("axes fraction", "data"), "ha": "right"}
    ax.annotate(_clip(name, 34), (-0.02, y), va="bottom", fontsize=9.5, color=color, fontweight="bold", **at)
    ax.annotate(detail, (-0.02, y), va="top", fontsize=8, color=detail_color, **at)


def _rows_text(row):
    text = "%s rows" % thousands(row["rows_used"])
    if row["original_rows"] is not None and row["rows_used"] != row["original_rows"]:
        text = "%s of %s rows" % (thousands(row["rows_used"]), thousands(row["original_rows"]))
    return text


def _model(ok):
    models = sorted({r["baseline_model_id"] for r in ok if r["baseline_model_id"]})
    return models[0] if len(models) == 1 else "the model"


def _subtitle(ok, failed, metric):
    passing = sum(1 for r in ok if r["deltaone_accepted"])
    benchmarks = sorted({r["benchmark_rows"] for r in ok if r["benchmark_rows"]})
    parts = ["%d previewed" % len(ok), "%d would pass DeltaOne" % passing]
    if failed:
        parts.append("%d failed" % len(failed))
    if benchmarks:
        parts.append("%s on %s benchmark rows" % (metric, ", ".join(thousands(b) for b in benchmarks)))
    return " · ".join(parts) + " · PREVIEW - NON-BINDING ESTIMATES"


def _clip(text, most):
    return text if len(text) <= most else text[:most - 1] + "…"
