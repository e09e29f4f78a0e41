"""The human-readable report of one delta output (hp-format --output-format pretty).

The verdict comes first, because it is the question a contributor asks; then the estimate with
its interval and what the confidence means; then the per-metric table with a bar per delta.
Colour is used only when asked for (stdout is a terminal and NO_COLOR is unset).
"""

VERDICTS = {
    "accepted": "would pass DeltaOne",
    "delta_below_threshold": "below the DeltaOne threshold",
    "not_statistically_significant": "not statistically significant",
    "insufficient_samples": "benchmark too small for DeltaOne",
    "dataset_hash_mismatch": "benchmarks differ",
    "metric_unavailable": "primary metric unavailable",
}
BAR_WIDTH = 24


class Style:
    def __init__(self, color):
        self.color = color

    def __call__(self, text, code):
        return "\x1b[%sm%s\x1b[0m" % (code, text) if self.color else text

    def good(self, text):
        return self(text, "32")

    def bad(self, text):
        return self(text, "31")

    def bold(self, text):
        return self(text, "1")

    def dim(self, text):
        return self(text, "2")


def pts(value):
    return "%+.2f pts" % value


def bar(delta_pp, low_pp, high_pp, scale_pp):
    """A centred bar of a delta in points with its interval drawn as a bracket: ``    |■■■[ ]``."""
    half = BAR_WIDTH // 2
    cells = [" "] * (BAR_WIDTH + 1)
    cells[half] = "|"

    def position(v):
        return half + int(round(max(-1.0, min(1.0, v / scale_pp)) * half)) if scale_pp else half

    p = position(delta_pp)
    for i in range(min(p, half), max(p, half) + 1):
        if i != half:
            cells[i] = "#"
    if low_pp is not None and high_pp is not None:
        lo, hi = position(low_pp), position(high_pp)
        if cells[lo] in " #":
            cells[lo] = "["
        if cells[hi] in " #":
            cells[hi] = "]"
    return "".join(cells)


def render(output, color=False):
    """The report text for one output document (or error record)."""
    s = Style(color)
    if output.get("record") == "error":
        error = output.get("error", {})
        return "%s %s: %s\n" % (s.bad("ERROR"), output.get("source_path", "?"), error.get("message", ""))
    p = output["preview_metadata"]
    dc = output["delta_computation"]
    est = p["estimate"]
    prim = p["primary_metric"]
    d1 = p["deltaone"]
    lines = []
    if p["preview_mode"]:
        lines.append(s.bold(p["disclaimer"]))
    else:
        lines.append(s.bold("FULL PIPELINE RECIPE (local run)"))
    verdict = VERDICTS.get(d1["decision"], d1["decision"])
    verdict_text = ("%s: %s (%s)" % ("DeltaOne", verdict, d1["decision"]))
    lines.append((s.good if d1.get("accepted") else s.bad)(verdict_text))
    lines.append("  probability the full pipeline accepts: %.0f%%   judged on %s: %s (%s -> %s) on %d rows"
                 % (100 * d1["probability"], prim["name"], pts(prim["delta_pp"]),
                    _fmt(prim["baseline_value"]), _fmt(prim["new_value"]), d1["benchmark_rows"]))
    lines.append("  rule: at least %+.1f pts, at least %d benchmark rows, 95%% interval above zero (%s .. %s)" % (
        d1.get("threshold_pp", 1.0), d1.get("min_examples", 800),
        pts(d1["ci95_pp"][0]) if d1.get("ci95_pp") else "?", pts(d1["ci95_pp"][1]) if d1.get("ci95_pp") else "?"))
    lines.append("")
    interval = est["delta_one_interval"]
    lines.append("delta_one_score        %+.4f  (%+.2f pts; 90%% interval %+.2f .. %+.2f pts%s)" % (
        est["delta_one_score"], 100 * est["delta_one_score"], 100 * interval[0], 100 * interval[1],
        "; extrapolated to all rows" if est.get("extrapolated") else ""))
    if abs(est["delta_one_score"] - dc["delta_one_score"]) > 1e-12:
        lines.append("  measured on the sample: %+.4f" % dc["delta_one_score"])
    lines.append("estimation_confidence  %.2f   (%s)" % (p["estimation_confidence"], p["confidence_meaning"]))
    lines.append("")
    lines.append(s.bold("%-10s %9s %9s %11s  %s" % ("metric", "baseline", "new", "delta", "delta with 90% interval")))
    uncertainty = p["uncertainty"]["sd"]
    values = [abs(v["absolute_delta"]) * 100 for v in dc["metric_deltas"].values()]
    scale = max(values + [1.0]) * 1.25
    for name, v in dc["metric_deltas"].items():
        delta_pp = v["absolute_delta"] * 100
        sd_pp = uncertainty.get(name, 0.0) * 100
        centre = est["metric_deltas"].get(name, v["absolute_delta"]) * 100
        text = "%-10s %9.4f %9.4f %11s  %s" % (name, v["baseline_value"], v["new_value"], pts(delta_pp),
                                               bar(delta_pp, centre - 1.645 * sd_pp, centre + 1.645 * sd_pp, scale))
        lines.append(s.good(text) if delta_pp > 0 else s.bad(text) if delta_pp < 0 else text)
    lines.append("")
    manifest = output["new_model"]["training_metadata"]["data_manifest"]
    budget = p["budget"]
    lines.append("contribution  %s: %d of %d rows used%s" % (
        manifest["source_path"], p["sample_size_used"], p["original_data_size"],
        " (stratified sample)" if p["sample_size_used"] < p["original_data_size"] else ""))
    lines.append("new model     %s, %d of %d trees (%s), %d base + %d contributed rows" % (
        p["mode"].replace("_", "-"), budget["trees"], budget["full_trees"], budget["stop_reason"].replace("_", " "),
        output["new_model"]["training_metadata"]["base_samples"],
        output["new_model"]["training_metadata"]["contributed_samples"]))
    if p.get("time_elapsed") is not None:
        lines.append("time          %.1f s" % p["time_elapsed"])
    for warning in p.get("warnings", []):
        lines.append(s.bad("warning: ") + warning)
    if p["preview_mode"]:
        lines.append(s.dim(p["disclaimer"] + ": the main pipeline's evaluation is the one that counts."))
    return "\n".join(lines) + "\n"


def _fmt(value):
    return "?" if value is None else "%.4f" % value
