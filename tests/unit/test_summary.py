"""The batch summary (core/summary.py): rows, their order, and the Markdown, CSV and JSON-lines tables."""

import csv
import io
import json
import os

import pytest

from format_outputs import error_record, example_output
from helpers import ROOT, validate
from hokusai_preview.core.report import percent, points, signed
from hokusai_preview.core.summary import CSV_FIELDS, BadField, check_input, render, row_of, sort_rows, tally, verdict

EXAMPLES = ["hpc_jobs_500.json", "hpc_jobs_700.parquet"]


@pytest.fixture
def rows(bundles):
    bundle = bundles("hpc")[0]
    return [row_of(example_output(bundle, name)) for name in EXAMPLES] + [row_of(error_record())]


def test_rows_of_outputs_records_and_errors_validate(rows, bundles):
    for row in rows:
        validate(row, "summary")
    output = example_output(bundles("hpc")[0], EXAMPLES[0])
    assert row_of({"record": "delta", "output": output}) == row_of(output) == rows[0]
    assert row_of(rows[0]) is rows[0]  # a row read back is taken as it is


def test_row_holds_the_estimate_and_the_verdict(rows, bundles):
    output = example_output(bundles("hpc")[0], EXAMPLES[0])
    p = output["preview_metadata"]
    row = rows[0]
    assert row["contribution"] == "hpc_jobs_500.json" and row["status"] == "ok"
    assert row["delta_one_score"] == p["estimate"]["delta_one_score"]
    assert row["delta_one_interval"] == p["estimate"]["delta_one_interval"]
    assert row["primary_delta_pp"] == p["primary_metric"]["estimated_delta_pp"]
    assert row["deltaone_probability"] == p["deltaone"]["probability"]
    assert row["rows_used"] == 500 and row["warnings"] == p["warnings"]
    assert rows[-1]["status"] == "error" and rows[-1]["error"]["exit_code"] == 3


def test_the_full_computation_has_no_interval_in_any_format(bundles):
    """A --full row's interval is its value, zero wide: no interval in the table, the CSV or the rows."""
    output = example_output(bundles("hpc")[0], EXAMPLES[0])
    est, prim = output["preview_metadata"]["estimate"], output["preview_metadata"]["primary_metric"]
    est.update(exact=True, delta_one_interval=[est["delta_one_score"]] * 2)
    prim["interval_pp"] = [prim["estimated_delta_pp"]] * 2
    row = row_of(output)
    validate(row, "summary")
    assert row["delta_one_interval"] is None and row["primary_interval_pp"] is None
    (line,) = csv.DictReader(io.StringIO(render([row], "csv")))
    assert [line[f] for f in ("delta_one_low", "delta_one_high", "primary_low_pp", "primary_high_pp")] == [""] * 4
    assert ".." not in render([row], "md")


def renamed(row, name, score):
    return dict(row, contribution=name, source_path="dir/" + name, delta_one_score=score)


def test_sorted_by_estimated_delta_best_first_failures_last(rows):
    good, other, failed = rows
    mixed = [failed, renamed(good, "b.csv", 0.01), renamed(good, "a.csv", 0.01), renamed(other, "c.csv", 0.02),
             renamed(good, "d.csv", -0.03), row_of(error_record("dir/a_bad.csv"))]
    names = [r["contribution"] for r in sort_rows(mixed)]
    assert names == ["c.csv", "a.csv", "b.csv", "d.csv", "a_bad.csv", "broken.csv"]


def test_markdown_table(rows):
    text = render(rows, "md")
    headline, blank, header, rule, *body = text.splitlines()
    assert headline.startswith("3 contributions against baseline `%s`" % rows[0]["baseline_model_id"])
    assert ", 1 failed." in headline and "PREVIEW - NON-BINDING ESTIMATES" in headline
    assert header.split(" | ")[1:6] == ["contribution", "rows used", "delta_one_score (90% interval)",
                                        "accuracy delta, pts (90% interval)", "DeltaOne"]
    assert len(body) == 3
    best = max(rows[:2], key=lambda r: r["delta_one_score"])
    assert body[0].startswith("| 1 | %s | " % best["contribution"])
    assert "%+.4f (%+.4f .. %+.4f)" % ((best["delta_one_score"],) + tuple(best["delta_one_interval"])) in body[0]
    assert "%+.2f (" % best["primary_delta_pp"] in body[0]
    assert body[2].startswith("| 3 | broken.csv | — |")
    assert "**failed** (bad_data, exit 3)" in body[2] and "contributions/broken.csv is empty; give a file" in body[2]
    columns = header.count(" | ")
    assert all(line.replace("\\|", "").count(" | ") == columns for line in body)


def test_markdown_cells_stay_one_line_and_show_names_and_warnings_as_they_are(rows):
    # One warning may hold "; ", so each gets its own line in the cell; markup is escaped.
    rows[0]["warnings"] = ["a | b", "two\nlines; one warning"]
    rows[0]["contribution"] = "__init__*x*`y`<script>.csv"
    (line,) = [x for x in render(rows, "md").splitlines() if "script" in x]
    assert line.endswith("| a \\| b<br>two lines; one warning |")
    assert "| \\_\\_init\\_\\_\\*x\\*\\`y\\`\\<script\\>.csv |" in line
    assert "| hpc_jobs_700.parquet |" in render(rows, "md")  # "_" between letters is no markup
    (record,) = [r for r in csv.DictReader(io.StringIO(render(rows, "csv"))) if "script" in r["contribution"]]
    assert record["warnings"].split("\n") == ["a | b", "two lines; one warning"]


def test_markdown_names_each_metric_when_they_differ(rows):
    rows[1]["primary_metric"] = "f1"
    text = render(rows, "md")
    assert "primary metric delta, pts" in text
    assert "| accuracy %+.2f (" % rows[0]["primary_delta_pp"] in text
    assert "| f1 %+.2f (" % rows[1]["primary_delta_pp"] in text


def test_csv_has_every_field_unrounded(rows):
    table = list(csv.DictReader(io.StringIO(render(rows, "csv"))))
    assert list(table[0]) == CSV_FIELDS
    assert [t["contribution"] for t in table] == [r["contribution"] for r in sort_rows(rows)]
    by_name = {t["contribution"]: t for t in table}
    for row in rows[:2]:
        line = by_name[row["contribution"]]
        assert float(line["delta_one_score"]) == row["delta_one_score"]
        assert [float(line["delta_one_low"]), float(line["delta_one_high"])] == row["delta_one_interval"]
        assert float(line["primary_high_pp"]) == row["primary_interval_pp"][1]
        assert line["deltaone_accepted"] == str(row["deltaone_accepted"]).lower()
        assert line["status"] == "ok" and line["error_message"] == ""
    failed = by_name["broken.csv"]
    assert failed["status"] == "error" and failed["error_exit_code"] == "3" and failed["error_kind"] == "bad_data"
    assert failed["delta_one_score"] == "" and failed["error_message"].endswith("give a file")


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://x\")", "+1.csv", "-leading-dash.csv", "@SUM(A1).csv",
                                  "\tx.csv"])
def test_csv_cells_a_spreadsheet_would_run_are_written_as_text(rows, name):
    # Contributors choose the file names: a name a spreadsheet reads as a formula must not be one.
    rows = [dict(r) for r in rows]
    rows[0].update(contribution=name, source_path="dir/" + name)
    rows[0]["warnings"] = ["=cmd|' /C calc'!A0"]
    table = {t["source_path"]: t for t in csv.DictReader(io.StringIO(render(rows, "csv")))}
    line = table["dir/" + name]
    assert line["contribution"] == "'" + name
    assert line["warnings"] == "'=cmd|' /C calc'!A0"
    assert float(line["delta_one_low"]) == rows[0]["delta_one_interval"][0]  # numbers stay numbers, "-" or not
    assert line["delta_one_low"][:1] != "'"


def test_jsonl_rows_read_back_give_the_same_tables(rows):
    lines = render(rows, "jsonl").splitlines()
    back = [json.loads(line) for line in lines]
    assert back == sort_rows(rows)
    for row in back:
        validate(row, "summary")
    assert render([row_of(r) for r in back], "md") == render(rows, "md")
    assert render(back, "csv") == render(rows, "csv")


def test_warnings_include_the_data_checks_once(bundles):
    output = example_output(bundles("hpc")[0], EXAMPLES[0])
    output["preview_metadata"]["warnings"] = ["12 rows were dropped"]
    output["preview_metadata"]["diagnostics"] = {"warnings": ["12 rows were dropped", "30 rows repeat benchmark rows"]}
    assert row_of(output)["warnings"] == ["12 rows were dropped", "30 rows repeat benchmark rows"]
    assert "| 12 rows were dropped<br>30 rows repeat benchmark rows |" in render([row_of(output)], "md")


def test_the_headline_says_one_row_and_mixed_judgements_plainly(rows):
    one = [dict(rows[0], benchmark_rows=1, deltaone_needed_pp=None)]
    assert "(DeltaOne judged on accuracy, 1 benchmark row)" in render(one, "md")
    mixed = [dict(rows[0], primary_metric="f1", benchmark_rows=5, deltaone_needed_pp=None),
             dict(rows[1], benchmark_rows=700, deltaone_needed_pp=4.0), rows[0]]
    assert ("(DeltaOne judged on mixed metrics: accuracy, f1; mixed benchmarks of 5, 700 and 1,500 rows)"
            in render(mixed, "md").splitlines()[0])


def test_the_empty_summary(rows):
    headline, blank, header, rule = render([], "md").splitlines()
    assert headline == "0 contributions: the input holds no records. PREVIEW - NON-BINDING ESTIMATES."
    assert header == render(rows, "md").splitlines()[2].replace("accuracy delta", "primary metric delta")
    assert render([], "csv") == ",".join(CSV_FIELDS) + "\n"
    assert render([], "jsonl") == ""


def test_a_row_whose_metric_is_unavailable_is_previewed_not_failed(rows):
    unavailable = dict(rows[0], deltaone_decision="metric_unavailable", deltaone_accepted=False,
                       deltaone_probability=0.0, primary_delta_pp=None, primary_interval_pp=None)
    validate(unavailable, "summary")
    assert tally([unavailable, rows[2]]) == {"contributions": 2, "previewed": 1, "passing": 0, "not_passing": 1,
                                             "passing_uncertain": 0, "not_passing_uncertain": 0, "passing_suspect": 0,
                                             "failed": 1}
    assert verdict(unavailable) == "metric unavailable"
    assert "| metric unavailable | 0% |" in render([unavailable], "md")


def test_a_metric_missing_from_one_row_of_mixed_ones_is_not_a_crash(rows):
    text = render([rows[0], dict(rows[1], primary_metric="f1"), dict(rows[1], contribution="x", primary_metric=None)],
                  "md")
    assert "| ? %+.2f (" % rows[1]["primary_delta_pp"] in text


BAD_ROWS = [
    ({"source_path": None}, "source_path null, not a string"),
    ({"deltaone_probability": 5}, "deltaone_probability 5, not a number from 0 to 1"),
    ({"estimation_confidence": -0.1}, "estimation_confidence -0.1, not a number from 0 to 1"),
    ({"warnings": "abc"}, 'warnings "abc", not a list of strings'),
    ({"warnings": [1]}, "warnings [1], not a list of strings"),
    ({"rows_used": 1.5}, "rows_used 1.5, not a whole number of at least 1"),
    ({"delta_one_interval": [0.1]}, "delta_one_interval [0.1], not two numbers [low, high] from -1 to 1, low first"),
    ({"primary_interval_pp": [1e308, -1e308]}, "primary_interval_pp [1e+308, -1e+308], not two numbers [low, high] "
                                               "from -100 to 100, low first"),
    ({"deltaone_decision": "maybe"}, 'deltaone_decision "maybe", not one of accepted, delta_below_threshold, '
                                     "not_statistically_significant, insufficient_samples, dataset_hash_mismatch, "
                                     "metric_unavailable"),
    ({"deltaone_accepted": "yes"}, 'deltaone_accepted "yes", not true or false'),
    ({"delta_one_score": None}, "delta_one_score null, not a number"),
    ({"status": "fine"}, 'status "fine", not one of ok, error'),
    # values no preview gives, which the table would print as they are (a review's jq edits)
    ({"delta_one_score": 1e308}, "delta_one_score 1e+308, not a number from -1 to 1"),
    ({"primary_delta_pp": -1e30}, "primary_delta_pp -1e+30, not a number from -100 to 100"),
    ({"primary_metric": "abc"}, 'primary_metric "abc", not one of accuracy, precision, recall, f1, auroc'),
]


@pytest.mark.parametrize("change, text", BAD_ROWS)
def test_a_row_its_schema_refuses_is_refused_naming_the_field(rows, change, text):
    import jsonschema

    row = dict(rows[0], **change)
    with pytest.raises(jsonschema.ValidationError):
        validate(row, "summary")
    with pytest.raises(BadField) as caught:
        check_input(row)
    assert (caught.value.kind, caught.value.text) == ("a summary row", text)


def test_an_interval_with_its_ends_swapped_is_refused(rows):
    """Beyond what a JSON Schema can say: low comes first."""
    with pytest.raises(BadField) as caught:
        check_input(dict(rows[0], delta_one_interval=[0.2, 0.1]))
    assert caught.value.text == "delta_one_interval [0.2, 0.1], not two numbers [low, high] from -1 to 1, low first"


def test_what_the_pipeline_writes_passes_the_check(rows, bundles):
    for row in rows:
        check_input(row)
    output = example_output(bundles("hpc")[0], EXAMPLES[0])
    check_input(output)
    check_input({"record": "delta", "key": "k", "output": output})
    check_input(error_record())
    check_input(json.loads(json.dumps(rows[2])))  # an error row read back


@pytest.mark.parametrize("change, text", [
    (lambda o: o["preview_metadata"].update(estimation_confidence=float("nan")),
     "preview_metadata.estimation_confidence NaN, which is not a JSON number"),
    (lambda o: o["preview_metadata"]["deltaone"].update(probability=5),
     "preview_metadata.deltaone.probability 5, not a number from 0 to 1"),
    (lambda o: o["preview_metadata"].pop("deltaone"), "no preview_metadata.deltaone"),
    (lambda o: o["preview_metadata"].update(warnings="abc"), 'preview_metadata.warnings "abc", not a list of strings'),
    (lambda o: o["delta_computation"]["metric_deltas"]["f1"].update(new_value=2),
     "delta_computation.metric_deltas.f1.new_value 2, not a number from 0 to 1"),
    (lambda o: o.update(preview_metadata=[]), "preview_metadata [], not an object"),
])
def test_an_output_its_schema_refuses_is_refused_naming_the_field(bundles, change, text):
    import jsonschema

    output = example_output(bundles("hpc")[0], EXAMPLES[0])
    change(output)
    if "NaN" not in text:  # the schema's validator takes NaN for a number
        with pytest.raises(jsonschema.ValidationError):
            validate(output, "delta-output")
    with pytest.raises(BadField) as caught:
        check_input(output)
    assert (caught.value.kind, caught.value.text) == ("a delta output", text)


def test_the_input_check_knows_the_metrics_and_error_kinds_the_tool_has():
    # hp-format must not import numpy, so summary.py names the metrics itself: kept equal here.
    from hokusai_preview.core import summary
    from hokusai_preview.core.deltaone import METRICS

    assert summary.METRICS == METRICS
    with open(os.path.join(ROOT, "schemas", "error.schema.json"), encoding="utf-8") as handle:
        schema = json.load(handle)
    assert list(summary.ERROR_KINDS) == schema["properties"]["error"]["properties"]["kind"]["enum"]


@pytest.mark.parametrize("decision, p_decision, p_pass, cell", [
    ("not_statistically_significant", 0.35, 0.44, "not significant (uncertain)"),  # as the report's "?"
    ("accepted", 0.6, 0.6, "**pass** (uncertain)"),
    # only the reason is in doubt, a sure fail: both reasons, the likelier first
    ("not_statistically_significant", 0.6, 0.1, "not significant or below 1 pt"),
    ("not_statistically_significant", 0.449, 0.069, "below 1 pt or not significant"),
    ("accepted", 0.9, 0.9, "**pass**")])
def test_an_uncertain_verdict_is_marked_as_the_single_report_marks_it(bundles, decision, p_decision, p_pass, cell):
    from hokusai_preview.core.report import render as report

    output = example_output(bundles("hpc")[0], EXAMPLES[0])
    output["preview_metadata"]["deltaone"].update(decision=decision, accepted=decision == "accepted",
                                                  probability_of_decision=p_decision, probability=p_pass)
    row = row_of(output)
    validate(row, "summary")
    unsure = report(output, color=False).splitlines()[1].startswith("? ")
    assert unsure == cell.endswith("(uncertain)")
    text = render([row], "md")
    assert "| %s | %d%% |" % (cell, round(100 * p_pass)) in text
    passing = decision == "accepted"
    assert ": %d would pass DeltaOne%s, %d would not%s." % (
        passing, " (1 uncertain)" if unsure and passing else "", not passing,
        " (1 uncertain)" if unsure and not passing else "") in text.splitlines()[0]
    (line,) = csv.DictReader(io.StringIO(render([row], "csv")))
    assert line["deltaone_uncertain"] == str(unsure).lower()
    assert float(line["deltaone_probability_of_decision"]) == p_decision
    back = json.loads(render([row], "jsonl"))
    assert render([back], "md") == text  # read back, the mark stays


def test_a_row_written_before_it_carried_the_decision_probability_is_read_as_sure(rows):
    old = {k: v for k, v in rows[0].items() if k != "deltaone_probability_of_decision"}
    validate(old, "summary")
    check_input(old)
    assert "(uncertain)" not in render([old], "md")


def test_rows_of_several_baselines_name_their_baseline(rows):
    other = dict(rows[0], baseline_model_id="other-baseline", delta_one_score=rows[0]["delta_one_score"] / 2)
    text = render([rows[0], other, rows[2]], "md")
    header, rule = text.splitlines()[2:4]
    assert header.startswith("| # | contribution | baseline | rows used |") and rule.count("|") == header.count("|")
    body = text.splitlines()[4:]
    assert body[0].startswith("| 1 | hpc_jobs_500.json | hpc | ")
    assert body[1].startswith("| 2 | hpc_jobs_500.json | other-baseline | ")
    assert body[2].startswith("| 3 | broken.csv | — | — |")
    assert "| baseline |" not in render([rows[0], rows[2]], "md")  # one baseline: said once, in the headline


def test_the_full_computation_has_no_interval_in_the_table(rows):
    full = dict(rows[0], delta_one_interval=[rows[0]["delta_one_score"]] * 2,
                primary_interval_pp=[rows[0]["primary_delta_pp"]] * 2)
    text = render([full], "md")
    assert "| %s | %s | " % (signed(full["delta_one_score"], 4), points(full["primary_delta_pp"])) in text
    assert "interval" not in text  # nor in the head, when no row has one
    assert "delta_one_score (90% interval)" in render([full, rows[1]], "md")


def test_an_interval_end_that_rounds_to_zero_is_not_minus_zero(rows):
    low = dict(rows[0], primary_interval_pp=[-0.0042, 14.14], delta_one_interval=[-0.000042, 0.1329])
    text = render([low], "md")
    assert "(+0.00 .. +14.14)" in text and "(+0.0000 .. +0.1329)" in text and "-0.00" not in text


@pytest.mark.parametrize("delta, interval, worse", [
    (-25.6, [-27.6, -23.7], True),
    (-1.5, [-2.5, -0.5], False),  # may fall by less than a point: below the threshold, no more said
    (-1.2, None, True),  # the full computation has no interval: its value is sure
    (0.7, [0.2, 1.2], False)])
def test_a_sure_fall_is_called_worse_in_the_report_and_the_table(bundles, delta, interval, worse):
    """A -25-point contribution and a +0.7 one share the reason code; the words tell them apart."""
    from hokusai_preview.core.report import render as report

    output = example_output(bundles("hpc")[0], EXAMPLES[0])
    p = output["preview_metadata"]
    p["deltaone"].update(decision="delta_below_threshold", accepted=False, probability_of_decision=0.99,
                         probability=0.0)
    p["primary_metric"].update(delta_pp=delta, estimated_delta_pp=delta, interval_pp=interval)
    p["estimate"]["exact"] = interval is None
    headline = " ".join(report(output, color=False).splitlines()[1].split())
    assert headline.startswith("✘ DeltaOne would not pass: " + (
        "it makes the model worse" if worse else "below the +1 point threshold")), headline
    assert "| %s | 0%% |" % ("worse" if worse else "below 1 pt") in render([row_of(output)], "md")


def test_a_row_using_more_rows_than_it_had_is_refused(rows):
    row = dict(rows[0], rows_used=10 ** 30, original_rows=500)
    with pytest.raises(BadField) as caught:
        check_input(row)
    assert caught.value.text == "rows_used %d, more than its original_rows 500" % 10 ** 30


def test_a_warning_topic_is_its_first_words():
    from hokusai_preview.core.summary import warning_topic

    assert warning_topic("label noise: 444 of 700 rows (63.4%) look mislabelled") == "label noise"
    assert warning_topic("the estimate extrapolates 5-fold, from 300 rows") == "the estimate extrapolates…"
    assert warning_topic("(a note in brackets) and more") == "(a note in brackets) and…"


def test_marks_under_the_table_say_what_they_mean_only_where_a_row_shows_them(rows):
    """A P(pass) of a run without removed benchmark matches, a suspect pass, and values without an
    interval beside others with one: each explained once, under the table."""
    assert render(rows, "md").count("\n\n") == 1  # the headline's blank line, no notes
    removed = dict(rows[0], contribution="removed.csv", source_path="removed.csv", rows_removed=30)
    suspect = dict(rows[0], contribution="suspect.csv", source_path="suspect.csv", suspect_rows=300)
    exact = dict(rows[0], contribution="exact.csv", source_path="exact.csv", exact=True, delta_one_interval=None,
                 primary_interval_pp=None)
    text = render([removed, suspect, exact, rows[1]], "md")
    table, notes = text.split("\n\n")[1], text.split("\n\n")[2:]
    assert "| %s† |" % percent(removed["deltaone_probability"]) in table
    assert "| **pass** (suspect) |" in table and "(1 suspect)" in text.splitlines()[0]
    assert [n.split(" ")[0] for n in notes] == ["†", "suspect:", "A"]
    assert "without the benchmark matches hp-check removed" in notes[0]
    assert notes[2].startswith("A value without an interval is exact")
    assert render([exact], "md").count("\n\n") == 1  # every row exact: nothing to tell apart


def test_the_headline_says_what_passing_needs_on_this_benchmark(rows):
    assert "(DeltaOne judged on accuracy, 1,500 benchmark rows, passing from %s pts)" % points(
        rows[0]["deltaone_needed_pp"]) in render(rows[:2], "md").splitlines()[0]
    differing = [rows[0], dict(rows[1], deltaone_needed_pp=9.0)]
    assert "passing from" not in render(differing, "md")
    assert "needed_pp,estimation_confidence,exact,suspect_rows" in render(rows, "csv").splitlines()[0]
