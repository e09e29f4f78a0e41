"""The batch picture (core/plot.py) says what the summary table says, and keeps its labels inside."""

import matplotlib.pyplot as plt
import pytest

from format_outputs import error_record, example_output
from hokusai_preview.core.plot import draw
from hokusai_preview.core.report import points
from hokusai_preview.core.summary import row_of


@pytest.fixture
def drawn(monkeypatch, tmp_path):
    """Draws rows to a file and returns the figure's texts and their extents (figure width too)."""
    seen = []
    close = plt.close

    def measure_then_close(fig=None):  # draw() closes the figure it saved: what was in it, where
        if not hasattr(fig, "canvas"):  # close("all"): matplotlib's own, when a backend is first chosen
            return close(fig)
        renderer = fig.canvas.get_renderer()
        texts = fig.texts + [t for ax in fig.axes for t in ax.texts]
        seen.append(([(t.get_text(), t.get_window_extent(renderer)) for t in texts if t.get_text()], fig.bbox.width))
        if fig.axes:  # the plot's shaded spans, vertical lines (x in pixels) and dots (x, face colour)
            ax = fig.axes[0]
            vertical = [line for line in ax.lines if len(set(line.get_xdata())) == 1
                        and line.get_marker() not in ("o", "<", ">")]
            draw_rows.plot = {"patches": len(ax.patches), "xlabel": ax.get_xlabel(), "xlim": ax.get_xlim(),
                              "key": [t.get_text() for legend in fig.legends for t in legend.get_texts()],
                              "lines": [ax.transData.transform((line.get_xdata()[0], 0))[0] for line in vertical],
                              "dots": [(line.get_xdata()[0], line.get_markerfacecolor()) for line in ax.lines
                                       if line.get_marker() == "o"],
                              "arrows": [(line.get_xdata()[0], line.get_markerfacecolor()) for line in ax.lines
                                         if line.get_marker() in ("<", ">")]}
        close(fig)

    monkeypatch.setattr(plt, "close", measure_then_close)

    def draw_rows(rows):
        draw(rows, str(tmp_path / "p.png"))
        return seen[-1]

    return draw_rows


@pytest.fixture
def rows(bundles):
    good = row_of(example_output(bundles("hpc")[0], "hpc_jobs_500.json"))
    unavailable = dict(good, contribution="unavailable.csv", source_path="unavailable.csv",
                       deltaone_decision="metric_unavailable", deltaone_accepted=False, deltaone_probability=0.0,
                       primary_delta_pp=None, primary_interval_pp=None)
    small = dict(good, contribution="a_contribution_with_a_long_name_" * 3 + ".csv", source_path="s.csv",
                 deltaone_decision="insufficient_samples", deltaone_accepted=False, deltaone_probability=0.0,
                 delta_one_score=-0.5)
    return [good, unavailable, small, row_of(error_record())]


def test_a_metric_unavailable_is_shown_and_counted_as_the_table_does(drawn, rows):
    texts, _ = drawn(rows)
    shown = [text for text, _ in texts]
    assert "metric unavailable  0%" in shown
    assert shown.count("failed") == 1  # the error row only
    subtitle = next(text for text in shown if "previewed" in text)
    passing = int(rows[0]["deltaone_accepted"])  # only the first can pass
    assert subtitle.startswith("3 previewed · %d would pass DeltaOne · %d would not · 1 failed · judged on accuracy, "
                               "1,500 benchmark rows" % (passing, 3 - passing))


def test_mixed_metrics_and_baselines_are_said_to_be_mixed(drawn, rows):
    rows[0] = dict(rows[0], primary_metric="f1", baseline_model_id="other")
    shown = [text for text, _ in drawn(rows)[0]]
    subtitle = next(text for text in shown if "previewed" in text)
    assert "judged on mixed metrics: accuracy, f1; 1,500 benchmark rows" in subtitle
    assert "mixed baselines (compare with care): hpc, other" in subtitle
    assert "How much would each contribution move its baseline?" in shown


def test_every_label_stays_inside_the_picture(drawn, rows):
    texts, width = drawn(rows)
    assert "benchmark too small  0%" in [text for text, _ in texts]
    for text, box in texts:
        assert 0 <= box.x0 and box.x1 <= width, text


def test_no_rows_is_a_picture_that_says_so(drawn):
    shown = [text for text, _ in drawn([])[0]]
    assert "No contributions to show" in shown


def test_each_name_carries_its_row_number_in_the_table(drawn, rows):
    # Names that clip to the same text stay apart by their number, the table's "#".
    same = [dict(rows[0], contribution="submission_acme_corp_batch_%04d_2024-06-01.csv" % i,
                 source_path="%d.csv" % i, delta_one_score=0.01 * i) for i in range(1, 5)]
    shown = [text for text, _ in drawn(same + rows[3:])[0]]
    names = [text for text in shown if "acme" in text or "broken" in text]
    assert names == ["%d  submission_acme_corp…024-06-01.csv" % i for i in range(1, 5)] + ["5  broken.csv"]


def test_a_picture_of_many_contributions_shows_the_best_and_counts_the_rest(drawn, rows):
    from hokusai_preview.core.plot import MOST_FAILED, MOST_ROWS

    many = [dict(rows[0], contribution="c%04d.csv" % i, source_path="c%04d.csv" % i, delta_one_score=-0.001 * i)
            for i in range(300)]
    errors = [dict(rows[3], contribution="e%02d.csv" % i, source_path="e%02d.csv" % i) for i in range(20)]
    shown = [text for text, _ in drawn(many + errors)[0]]
    assert len([t for t in shown if t.endswith(".csv") and t.split()[0].isdigit()]) == MOST_ROWS
    drawn_rows = MOST_ROWS - MOST_FAILED
    assert "%d  c%04d.csv" % (drawn_rows, drawn_rows - 1) in shown and "%d  c%04d.csv" % (
        drawn_rows + 1, drawn_rows) not in shown
    assert "301  e00.csv" in shown and "311  e10.csv" not in shown
    subtitle = next(text for text in shown if "previewed" in text)
    assert subtitle.endswith("showing %d of 300 previewed (the best estimates) and %d of 20 failed; the table lists "
                             "every one" % (drawn_rows, MOST_FAILED))


def test_long_names_are_cut_in_the_middle_so_their_ends_stay_apart():
    from hokusai_preview.core.text import shorten

    names = ["acme_hpc_jobs_contribution_2026-11_v%d.csv" % i for i in (1, 2)]
    clipped = [shorten(n, 33, middle=True, mark="…") for n in names]  # as the picture names them
    assert clipped[0] == "acme_hpc_jobs_contri…026-11_v1.csv" and len(clipped[1]) == 34
    assert clipped[0] != clipped[1]
    assert shorten("short.csv", 33, middle=True, mark="…") == "short.csv"


def test_an_uncertain_verdict_is_marked_and_counted_as_the_table_does(drawn, rows):
    unsure = dict(rows[0], deltaone_decision="not_statistically_significant", deltaone_accepted=False,
                  deltaone_probability=0.44, deltaone_probability_of_decision=0.35)
    shown = [text for text, _ in drawn([unsure, rows[3]])[0]]
    assert "not significant (uncertain)  44%" in shown
    subtitle = next(text for text in shown if "previewed" in text)
    assert subtitle.startswith("1 previewed · 0 would pass DeltaOne · 1 would not (1 uncertain) · 1 failed")


def test_rows_of_several_baselines_name_their_baseline_under_the_name(drawn, rows):
    other = dict(rows[0], baseline_model_id="other-baseline", contribution="x.csv", source_path="x.csv")
    shown = [text for text, _ in drawn([rows[0], other])[0]]
    assert any(text.endswith("rows · baseline other-baseline") for text in shown), shown
    assert any(text.endswith("rows · baseline hpc") for text in shown), shown
    assert not any("· baseline" in text for text, _ in drawn(rows[:1])[0])


@pytest.mark.parametrize("value", [1.13, 1.0, 0.98, 0.05, 1.8])
def test_value_labels_keep_clear_of_the_vertical_lines(drawn, rows, value):
    row = dict(rows[0], primary_delta_pp=value, primary_interval_pp=[value - 1.5, value + 1.5])
    texts, _ = drawn([row])
    (box,) = [box for text, box in texts if text == "%+.2f" % value]
    for x in drawn.plot["lines"]:  # the zero line and the +1 point line
        assert not box.x0 <= x <= box.x1, (value, x, box)


def test_nothing_is_shaded_as_passing_and_each_dot_says_its_verdict(drawn, rows):
    passing = dict(rows[0], deltaone_decision="accepted", deltaone_accepted=True, deltaone_probability=0.99,
                   primary_delta_pp=3.0, delta_one_score=0.9)
    failing = dict(rows[0], deltaone_decision="not_statistically_significant", deltaone_accepted=False,
                   deltaone_probability=0.1, primary_delta_pp=2.0, delta_one_score=0.1)
    shown = [text for text, _ in drawn([passing, failing])[0]]
    assert drawn.plot["patches"] == 0  # beyond +1 a delta can still fail: no side is shaded as passing
    assert any("DeltaOne needs ≥ +1 pt" in text for text in shown)
    faces = dict(drawn.plot["dots"])
    assert faces[2.0] == "white" and faces[3.0] != "white"  # hollow: would not pass; filled: would pass
    assert drawn.plot["xlabel"].startswith("estimated change in ")
    assert drawn.plot["key"] == ["would pass DeltaOne", "would not pass, metric rises", "90% interval",
                                 "significant on this benchmark from %s pts" % points(rows[0]["deltaone_needed_pp"])]


def test_the_delta_the_significance_test_needs_is_a_line_of_its_own(drawn, rows):
    """On 1,500 rows at accuracy 0.73 passing needs about +3.2 points, not +1: a reviewer sees which
    dots clear it. Where the rows disagree on it (other baselines) or it is the threshold, no line."""
    row = dict(rows[0], primary_delta_pp=0.5, primary_interval_pp=[0.2, 0.8], deltaone_needed_pp=3.5)
    texts, _ = drawn([row])
    zero, threshold, bar = drawn.plot["lines"]
    assert bar - threshold > 2 * (threshold - zero)  # +3.5 is drawn, far right of +1, though no dot is near it
    assert drawn.plot["key"][-1] == "significant on this benchmark from +3.50 pts"
    assert any("passing from +3.50 pts" in text for text, _ in texts)
    for other in (dict(row, deltaone_needed_pp=1.0), dict(row, deltaone_needed_pp=None)):
        drawn([row, dict(other, contribution="b.csv", source_path="b.csv")])
        assert len(drawn.plot["lines"]) == 2 and "significant" not in " ".join(drawn.plot["key"])


def test_a_suspect_pass_says_so_beside_its_dot(drawn, rows):
    suspect = dict(rows[0], suspect_rows=300)
    shown = [text for text, _ in drawn([suspect])[0]]
    assert any(text.startswith("pass (suspect)") for text in shown), shown
    assert any("1 would pass DeltaOne (1 suspect)" in text for text in shown)


def test_one_far_estimate_does_not_squeeze_the_others(drawn, rows):
    """A flipped-label file at -38.55 points: the others keep an axis of a few points, and it is an
    arrow at the left edge that still says its value."""
    near = [dict(rows[0], contribution="n%d.csv" % i, source_path="n%d.csv" % i, primary_delta_pp=v,
                 primary_interval_pp=[v - 0.8, v + 0.8]) for i, v in enumerate([1.33, 0.67, 0.2, -0.4, 1.9])]
    far = dict(rows[0], contribution="flipped.csv", source_path="flipped.csv", primary_delta_pp=-38.55,
               primary_interval_pp=[-41.0, -36.0])
    texts, _ = drawn(near + [far])
    zero, threshold, _ = drawn.plot["lines"]  # and the significance test's line
    arrows = [x for x, _ in drawn.plot["arrows"]]
    dots = [x for x, _ in drawn.plot["dots"]]
    assert sorted(dots) == sorted(r["primary_delta_pp"] for r in near)
    assert len(arrows) == 1 and arrows[0] < min(dots)  # at the left edge
    assert drawn.plot["xlim"][0] > -5 and drawn.plot["xlim"][1] < 5
    assert threshold - zero > 40  # pixels apart: which side of +1 a dot lies on shows
    assert "-38.55" in [text for text, _ in texts]
    assert "far off the axis (value beside it)" in drawn.plot["key"]
    drawn(near)
    assert not drawn.plot["arrows"] and "far off the axis (value beside it)" not in drawn.plot["key"]  # no outlier
    drawn(near[:2] + [far])  # too few to tell an outlier: every row on the axis
    assert not drawn.plot["arrows"] and drawn.plot["xlim"][0] < -38.55


def test_each_row_names_its_warnings_and_a_sure_fall_is_called_worse(drawn, rows):
    """"2 warnings" gives a reviewer nothing to act on: their first words do, within the label's width."""
    warned = dict(rows[0], warnings=["label noise: 444 of 700 rows (63.4%) look mislabelled",
                                     "class balance: good 26.0% here vs 69.4% in the benchmark (TVD 0.43: ...)"])
    fallen = dict(rows[0], contribution="flipped.csv", source_path="flipped.csv",
                  deltaone_decision="delta_below_threshold", deltaone_accepted=False, deltaone_probability=0.0,
                  deltaone_probability_of_decision=1.0,
                  primary_delta_pp=-25.6, primary_interval_pp=[-27.6, -23.7], warnings=[])
    # Rows left out are the table's to explain when the line cannot hold both: the topics stay whole.
    cleaned = dict(warned, contribution="cleaned.csv", source_path="cleaned.csv", rows_used=800, original_rows=880,
                   rows_removed=80)
    shown = [text for text, _ in drawn([warned, fallen, cleaned])[0]]
    assert any(text.endswith("· label noise, class balance") for text in shown), shown
    assert "800 of 880 rows · label noise, class balance" in shown, shown
    assert "worse  0%" in shown
    assert "would not pass, metric falls" in drawn.plot["key"]
