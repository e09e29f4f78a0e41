"""hp-check as a stage: its record and schema, removing benchmark copies, the estimate and report
that carry its findings, the driver's option, cache reuse and failures."""

import json
import os
import re
import subprocess

import pandas as pd

from helpers import EXAMPLES, ROOT, pipe, refused, run, validate

CONTAMINATED = os.path.join(EXAMPLES, "hpc_jobs_contaminated.csv")
CLEAN = os.path.join(EXAMPLES, "hpc_jobs_1000.csv")
FEATURES = ["protocol", "compounds", "input_fields", "iterations", "num_pending", "hour", "day"]


def check(path, *options):
    load, result = pipe(("hp-load", path), ("hp-check",) + options)
    assert load.code == 0, load
    return result


def default_benchmark():
    from hokusai_preview.core.bundle import Bundle

    return Bundle.open().read_table("benchmark")


def test_the_contaminated_example_loses_its_benchmark_copies():
    result = check(CONTAMINATED)
    assert result.code == 0, result
    (record,) = result.records
    validate(record, "check")
    section, findings = record["check"], record["check"]["diagnostics"]
    # bin/make-default-data planted 60 exact and 20 near copies of benchmark rows in 800 clean ones.
    contamination = findings["contamination"]
    assert (contamination["exact"], contamination["near"], contamination["same_label"]) == (60, 20, 80)
    assert (section["rows_removed"], section["rows_used"], section["contamination_action"]) == (80, 800, "removed")
    assert section["table_path"] != record["contribution"]["table_path"]
    cleaned = pd.read_parquet(section["table_path"])
    assert len(cleaned) == 800 and sum(section["class_counts"].values()) == 800
    assert cleaned.merge(default_benchmark()[FEATURES], on=FEATURES).empty  # no exact copy left
    assert findings["warnings"] == [w.split("warning: ", 1)[1] for w in result.err_lines if "warning:" in w]
    assert not findings["contamination"]["closeness"]["warn"]  # the 800 clean rows are not close
    assert findings["warnings"][0].startswith("benchmark contamination: 80 of 880 rows duplicate benchmark rows "
                                              "(60 exact, 20 near;")


def test_messages_name_rows_as_the_file_numbers_them_past_dropped_ones(tmp_path):
    # 300 rows of an unknown label (dropped by hp-load), then 10 benchmark rows, then clean rows:
    # the first benchmark copy is data row 301 of the file, whatever hp-load kept.
    clean = pd.read_csv(CLEAN)
    unknown = clean.iloc[:300].assign(label="XX")
    copies = default_benchmark().iloc[10:20][list(clean.columns)]
    path = tmp_path / "shifted.csv"
    pd.concat([unknown, copies, clean.iloc[300:]]).to_csv(path, index=False)
    load, result = pipe(("hp-load", str(path)), ("hp-check",))
    assert load.code == result.code == 0, result
    validate(load.records[0], "load")
    (record,) = result.records
    validate(record, "check")
    example = record["check"]["diagnostics"]["contamination"]["examples"][0]
    assert (example["row"], example["benchmark_row"]) == (0, 10)  # the JSON's positions, from 0
    (warning,) = [w for w in record["check"]["diagnostics"]["warnings"] if w.startswith("benchmark contamination")]
    assert "10 exact, 0 near; e.g. data row 301 ~ benchmark row 11)" in warning  # the messages' numbers, from 1
    # The original file's near repeat, data rows 982 ~ 888, moved down by the 10 rows put before it.
    (note,) = [n for n in record["check"]["diagnostics"]["notes"] if n.startswith("duplicates")]
    assert "e.g. data row 992 ~ data row 898)" in note


def test_keep_contaminated_trains_with_every_row():
    (record,) = check(CONTAMINATED, "--keep-contaminated").records
    validate(record, "check")
    section = record["check"]
    assert (section["rows_removed"], section["rows_used"], section["contamination_action"]) == (0, 880, "kept")
    assert section["table_path"] == record["contribution"]["table_path"]
    assert "the delta may be inflated" in section["diagnostics"]["warnings"][0]


def test_benchmark_matches_that_chance_explains_go_on_to_training():
    # The example holds one near match of a benchmark row, as clean data from this source does by
    # chance: removing it would reshuffle the main pipeline's split for nothing.
    result = check(os.path.join(EXAMPLES, "hpc_jobs_500.json"))
    assert result.code == 0, result
    (record,) = result.records
    validate(record, "check")
    section, contamination = record["check"], record["check"]["diagnostics"]["contamination"]
    assert (contamination["rows"], contamination["warn"]) == (1, False)
    assert (section["rows_removed"], section["rows_used"], section["contamination_action"]) == (0, 500, "kept_chance")
    assert section["table_path"] == record["contribution"]["table_path"]
    assert "benchmark matches 1, " in result.stderr and "warning" not in result.stderr
    assert "kept, as chance explains them (the main pipeline trains on them too)" in result.stderr


def test_a_clean_example_passes_unchanged_to_hp_sample():
    result = check(CLEAN)
    (record,) = result.records
    validate(record, "check")
    assert record["check"]["diagnostics"]["warnings"] == []
    assert record["check"]["rows_removed"] == 0
    assert record["check"]["table_path"] == record["contribution"]["table_path"]
    assert "warning" not in result.stderr
    sample = run("hp-sample", stdin=result.stdout)
    assert sample.code == 0, sample
    validate(sample.records[0], "sample")
    assert sample.records[0]["sample"]["table_path"] == record["check"]["table_path"]


def test_the_estimate_carries_the_findings_and_the_report_shows_them():
    results = pipe(("hp-load", CONTAMINATED), ("hp-check",), ("hp-sample",), ("hp-train",), ("hp-eval",),
                   ("hp-delta",))
    for result in results:
        assert result.code == 0, result
    findings = results[1].records[0]["check"]["diagnostics"]
    (delta,) = results[-1].records
    validate(delta, "delta")
    output = delta["output"]
    validate(output, "delta-output")
    assert output["preview_metadata"]["diagnostics"] == findings
    assert output["new_model"]["training_metadata"]["contributed_samples"] == 800
    meta = output["preview_metadata"]
    assert (meta["sample_size_used"], meta["original_data_size"], meta["sampled"]) == (800, 880, False)
    # its warnings are the output's too, not only the data check's
    assert set(findings["warnings"]) <= set(meta["warnings"]) and findings["warnings"]
    # the confidence is about the run this tool can do, which leaves the matches out
    assert "the full run without the " in meta["confidence_meaning"]
    assert "--keep-contaminated" in meta["confidence_meaning"]

    pretty = run("hp-format", "--output-format", "pretty", stdin=results[-1].stdout)
    assert pretty.code == 0, pretty
    assert "data check    880 rows: 1 warning" in pretty.stdout
    assert "benchmark contamination: 80 of 880 rows" in " ".join(pretty.stdout.split())
    assert "800 of 880 rows used (80 matching benchmark rows removed)" in " ".join(pretty.stdout.split())
    summary = run("hp-format", "--summary", "--summary-format", "jsonl", stdin=results[-1].stdout)
    assert summary.code == 0, summary
    row = summary.records[0]
    assert (row["rows_used"], row["original_rows"], row["rows_removed"]) == (800, 880, 80)
    table = run("hp-format", "--summary", "--summary-format", "md", stdin=results[-1].stdout)
    assert "| 800 of 880 (80 benchmark matches removed) |" in table.stdout


def test_a_cached_check_still_warns():
    check(CONTAMINATED)
    again = check(CONTAMINATED)
    assert "reused cached check" in again.stderr
    assert "warning: benchmark contamination" in again.stderr


def test_a_contribution_made_only_of_benchmark_rows_fails_with_one_line(tmp_path):
    path = tmp_path / "copied.csv"
    default_benchmark().iloc[:50].to_csv(path, index=False)
    line = refused(check(str(path)), 3, command="hp-check", cache_dir=False)  # hp-load's entry is there
    assert line.startswith("hp-check: error: %s: every row duplicates a benchmark row" % path)


def test_altered_benchmark_rows_are_closer_than_chance_and_kept(tmp_path):
    import numpy as np

    clean = pd.read_csv(CLEAN).iloc[:500]
    altered = default_benchmark().sample(500, random_state=0)[clean.columns]
    altered["hour"] = altered["hour"] + np.random.default_rng(0).choice([-0.25, 0.25], len(altered))  # 15 minutes
    path = tmp_path / "altered.csv"
    pd.concat([clean, altered], ignore_index=True).to_csv(path, index=False)
    result = check(str(path))
    assert result.code == 0, result
    (record,) = result.records
    validate(record, "check")
    section, findings = record["check"], record["check"]["diagnostics"]
    close = findings["contamination"]["closeness"]
    assert findings["contamination"]["rows"] <= 5  # beyond the near rule
    assert close["warn"] and 350 <= close["estimated_rows"] <= 600
    assert section["rows_removed"] == findings["contamination"]["rows"]  # the altered rows are kept
    (line,) = [w for w in result.err_lines if "closer to the benchmark than chance" in w]
    assert line.startswith("hp-check: warning: closer to the benchmark than chance: ")
    assert "look like altered benchmark rows" in line and "remove them or explain where the data came from" in line
    assert re.search(r"rows nearest a benchmark row \d+ \(\d+ expected\)", result.stderr)


def test_personal_data_in_an_extra_column_is_flagged(tmp_path):
    frame = pd.read_csv(CLEAN).iloc[:300]
    frame["contact"] = ["operator%d@cluster.example.edu" % i for i in range(len(frame))]
    path = tmp_path / "with_emails.csv"
    frame.to_csv(path, index=False)
    (record,) = check(str(path)).records
    (finding,) = [f for f in record["check"]["diagnostics"]["pii"]["columns"] if f["flagged"]]
    assert (finding["column"], finding["kind"], finding["matches"]) == ("contact", "email", 300)
    assert any(w.startswith("personal data: column 'contact' holds e-mail addresses")
               for w in record["check"]["diagnostics"]["warnings"])


def test_error_records_pass_and_other_records_are_refused():
    error = {"record": "error", "source_path": "x.csv",
             "error": {"kind": "bad_data", "exit_code": 3, "message": "x.csv is empty"}}
    passed = run("hp-check", stdin=json.dumps(error) + "\n")
    assert passed.code == 0 and passed.records == [error]
    twice = run("hp-check", stdin=check(CLEAN).stdout)
    assert twice.code == 2 and twice.stdout == ""
    assert "record of kind 'check'" in twice.stderr and "hp-load" in twice.stderr


def test_the_driver_runs_hp_check_and_passes_keep_contaminated(tmp_path):
    env = dict(os.environ, HP_CACHE_DIR=str(tmp_path / "cache"), NO_COLOR="1")
    done = subprocess.run([os.path.join(ROOT, "bin", "hokusai-preview"), "--data-path", CONTAMINATED,
                           "--keep-contaminated", "--output-format", "json", "--quiet"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    validate(output, "delta-output")
    assert output["preview_metadata"]["diagnostics"]["contamination"]["action"] == "kept"
    assert output["new_model"]["training_metadata"]["contributed_samples"] == 880


def test_a_fine_tune_contribution_left_with_one_class_is_refused_as_hp_load_refuses_one(tmp_path, bundles):
    """hp-load refuses a single-class contribution to a bundle without a base table; removing
    benchmark copies can leave one too, and fine-tuning on it would say nothing of the data."""
    from hokusai_preview.core.bundle import Bundle

    bundle, _ = bundles("hpc_finetune")
    benchmark = Bundle.open(bundle).read_table("benchmark")
    own = pd.read_csv(CLEAN)
    path = tmp_path / "one-class-and-copies.csv"
    pd.concat([own[own["label"] == "VF"].iloc[:100], benchmark[benchmark["label"] == "F"].iloc[:10]]).to_csv(
        path, index=False)
    load, result = pipe(("hp-load", str(path), "--baseline-model", bundle), ("hp-check",))
    assert load.code == 0, load
    assert result.code == 3 and result.stdout == ""
    assert re.fullmatch(r"hp-check: error: .*one-class-and-copies\.csv: without the \d+ rows that duplicate "
                        r"benchmark rows, every row has the label 'VF', and the baseline has no base table to "
                        r"retrain with; contribute rows of at least two classes, or pass --keep-contaminated",
                        result.err_lines[-1]), result.err_lines
    kept = pipe(("hp-load", str(path), "--baseline-model", bundle), ("hp-check", "--keep-contaminated"))[-1]
    assert kept.code == 0, kept
