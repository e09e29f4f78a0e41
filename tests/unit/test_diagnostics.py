"""The data diagnostics on real tables with planted problems of known size, and on clean splits."""


import numpy as np
import pandas as pd
import pytest

from helpers import SPLIT_SIZES, features_and_classes, split_dataset, validate
from hokusai_preview.core import diagnostics as D
from hokusai_preview.core.diagnostics import common, labels, personal, proximity, shift


def split(name, seed=0, rows=1000):
    """(base, benchmark, contribution, features, classes): disjoint rows of one shipped dataset."""
    base, bench, rest = split_dataset(name, *SPLIT_SIZES[name], seed=seed)
    features, classes = features_and_classes(pd.concat([base, bench, rest]))  # no dataset has an id column
    return base, bench, rest.iloc[:rows].reset_index(drop=True), features, classes


def planted(clean, copies):
    """``clean`` with ``copies`` appended; returns the table and the positions of the copies."""
    table = pd.concat([clean, copies], ignore_index=True)
    return table, np.arange(len(clean), len(table))


def near_copy(rows):
    """Rows changed the way a careless or hiding copy changes them, yet near by the documented rule."""
    rows = rows.copy()
    rows["protocol"] = rows["protocol"].str.lower()  # categories: case
    rows["day"] = "  " + rows["day"].str.upper()      # and whitespace
    rows["hour"] = rows["hour"] * 1.0004               # numbers: within a ratio of 1.001
    return rows


# --- contamination and duplicates ----------------------------------------------------------------


def counts(found):
    return found["exact"], found["near"]


def test_planted_benchmark_copies_are_counted_exact_and_near_and_marked_for_removal():
    base, bench, clean, features, _ = split("hpc_data", seed=1)
    natural, _, natural_mask, _ = D.match_rows(clean, bench, base, features, "label")
    assert natural["rows"] <= 1 and not natural["warn"]  # hpc_data holds 2 near-identical pairs in all
    exact = bench.iloc[:30]
    near = near_copy(bench.iloc[100:120])
    table, positions = planted(clean, pd.concat([exact, near]))
    contamination, duplicates, mask, _ = D.match_rows(table, bench, base, features, "label")
    assert counts(contamination) == (natural["exact"] + 30, natural["near"] + 20)
    assert contamination["rows"] == natural["rows"] + 50
    assert contamination["same_label"] == natural["same_label"] + 50
    assert contamination["warn"] is True
    assert np.flatnonzero(mask).tolist() == np.flatnonzero(natural_mask).tolist() + positions.tolist()
    assert {"row": 1000, "benchmark_row": 0, "match": "exact"} in contamination["examples"]


def test_rows_just_outside_the_near_rule_are_not_matched():
    base, bench, clean, features, _ = split("hpc_data", seed=1)
    natural, _, _, _ = D.match_rows(clean, bench, base, features, "label")
    moved = bench.iloc[:20].copy()
    moved["hour"] = moved["hour"] * 1.002  # twice the tolerance
    table, _ = planted(clean, moved)
    contamination, _, mask, _ = D.match_rows(table, bench, base, features, "label")
    assert contamination["rows"] == natural["rows"]


def test_planted_duplicates_within_the_contribution_and_against_the_base_table():
    base, bench, clean, features, _ = split("hpc_data", seed=1)
    _, natural, natural_mask, _ = D.match_rows(clean, bench, base, features, "label")
    copies = pd.concat([clean.iloc[:40], near_copy(clean.iloc[50:60]), base.iloc[:25]])
    table, _ = planted(clean, copies)
    _, duplicates, mask, _ = D.match_rows(table, bench, base, features, "label")
    within, against_base = duplicates["within"], duplicates["base"]
    assert counts(within) == (natural["within"]["exact"] + 40, natural["within"]["near"] + 10)
    assert {"row": 1000, "duplicate_of": 0, "match": "exact"} in within["examples"]
    assert counts(against_base) == (natural["base"]["exact"] + 25, natural["base"]["near"])
    assert within["warn"] and against_base["warn"] and duplicates["warn"]
    assert mask.sum() == natural_mask.sum()  # duplicates are reported, not removed


def test_without_a_base_table_duplicates_against_it_are_unavailable():
    _, bench, clean, features, _ = split("hpc_data")
    _, duplicates, _, _ = D.match_rows(clean, bench, None, features, "label")
    assert duplicates["base"] == {"available": False}


def test_near_duplicate_reviews_are_found_by_their_word_shingles():
    base, bench, clean, features, _ = split("fine_food_reviews")
    long_reviews = bench[bench["review"].str.split().str.len() >= 60]
    lightly = long_reviews.iloc[:12].copy()  # one word replaced: Jaccard of 3-shingles >= 55/61
    lightly["review"] = lightly["review"].map(lambda t: " ".join(["XX"] + t.split()[1:]))
    heavily = long_reviews.iloc[12:20].copy()  # every third word replaced: far below 0.8
    heavily["review"] = heavily["review"].map(lambda t: " ".join("XX" if i % 3 == 0 else w
                                                                for i, w in enumerate(t.split())))
    table, positions = planted(clean, pd.concat([lightly, heavily]))
    contamination, _, mask, _ = D.match_rows(table, bench, base, features, "label")
    assert (contamination["exact"], contamination["near"]) == (0, 12)
    assert np.flatnonzero(mask).tolist() == positions[:12].tolist()


def test_markup_does_not_hide_a_copied_review():
    base, bench, clean, features, _ = split("fine_food_reviews")
    marked = bench[bench["review"].str.contains("<br />", regex=False)].iloc[:10].copy()
    assert len(marked) == 10
    marked["review"] = marked["review"].str.replace("<br />", " ", regex=False).str.replace("&quot;", '"')
    table, positions = planted(clean, marked)
    contamination, _, mask, _ = D.match_rows(table, bench, base, features, "label")
    assert set(positions) <= set(np.flatnonzero(mask))


def test_chance_level_matches_do_not_raise_an_alarm():
    # wa_churn holds identical customers: some clean rows match benchmark rows by chance.
    base, bench, clean, features, _ = split("wa_churn", seed=3, rows=3000)
    contamination, duplicates, _, _ = D.match_rows(clean, bench, base, features, "label")
    assert contamination["rows"] > 0
    assert contamination["expected_by_chance"] > 0
    assert contamination["rows"] <= contamination["alarm_above"] and not contamination["warn"]
    assert not duplicates["warn"]


def test_the_matching_rules_are_what_the_output_says():
    assert D.luhn_valid("4539578763621486") and not D.luhn_valid("4539578763621487")
    a = pd.DataFrame({"x": [100.0, 0.0, None, -5.0], "c": [" A  b", "z", "z", "q"]})
    b = pd.DataFrame({"x": [100.09, 0.0, None, 5.0], "c": ["a B", "z", "z", "q"]})
    features = [{"name": "x", "kind": "numeric"}, {"name": "c", "kind": "categorical"}]
    ea, eb = D.encode([a, b], features)
    near, partner = D.near_match(ea, eb)
    assert near.tolist() == [True, True, True, False]  # ratio 1.0009; zero; missing; opposite sign
    assert D.exact_index(ea.keys, eb.keys).tolist() == [-1, 1, 2, -1]
    # A reference repeating its rows: the first row of each key, counted in the reference itself.
    assert D.exact_index(np.array([7, 9, 5, 4]), np.array([5, 5, 7, 9, 7])).tolist() == [2, 3, 0, -1]

    text = [{"name": "t", "kind": "text"}, {"name": "c", "kind": "categorical"}]
    a = pd.DataFrame({"t": ["the quick brown fox jumps over the lazy dog today", None, "", "hello there", ""],
                      "c": ["x", "x", "y", "x", "w"]})
    b = pd.DataFrame({"t": ["The quick brown fox jumps over the lazy dog today!", None, "!!!", "hello", None],
                      "c": ["X", "x", "y", "x", "w"]})
    ea, eb = D.encode([a, b], text)
    # Same words ignoring case and punctuation; both missing; no words either way; different
    # words; no words against missing (missing matches only missing).
    assert D.near_match(ea, eb)[0].tolist() == [True, True, True, False, False]
    assert D.exact_index(ea.keys, eb.keys).tolist() == [-1, 1, -1, -1, -1]
    assert D.near_earlier(D.encode([pd.concat([a, b], ignore_index=True)], text)[0]).tolist() == [
        -1, -1, -1, -1, -1, 0, 1, 2, -1, -1]

    # Numbers too small to round keep their value: 1e-305 is not missing.
    assert common._round_significant([1e-305, 1e-320, np.nan]).tolist()[:2] == [1e-305, 1e-320]


def test_a_near_repeat_is_found_behind_a_crowd_of_nearer_later_rows():
    # Row 1 is near row 0 (ratio 1.0009); rows 2-10 crowd around row 1, nearer to it than row 0
    # is, and more of them than the neighbours first asked of the k-d tree.
    x = [10.0, 10.009] + [10.009 + k * 1e-5 for k in range(1, 10)] + [10.009] * 20 + [50.0]
    encoded = D.encode([pd.DataFrame({"x": x})], [{"name": "x", "kind": "numeric"}])[0]
    partner = D.near_earlier(encoded)
    assert partner[0] == -1 and partner[1] == 0 and partner[-1] == -1
    assert (partner[2:-1] >= 0).all() and (partner[2:-1] < np.arange(2, len(x) - 1)).all()


# --- closeness to the benchmark ------------------------------------------------------------------


def nudged(rows, column, seed=0):
    """``rows`` with ``column`` moved one unit up or down: altered benchmark rows the near rule misses."""
    rows = rows.copy()
    rows[column] = rows[column] + np.random.default_rng(seed).choice([-1, 1], len(rows))
    return rows


def jittered(rows, share, seed=0):
    """``rows`` with each numeric feature of more than 10 values moved by normal noise of ``share``
    of its standard deviation (as the reviewer's files were made)."""
    rows = rows.copy()
    rng = np.random.default_rng(seed)
    for name in rows.columns:
        if name != "label" and pd.api.types.is_numeric_dtype(rows[name]) and rows[name].nunique() > 10:
            values = rows[name].astype(float)
            rows[name] = values + rng.normal(0.0, share * values.std(), len(rows))
    return rows


def closeness_of(table, bench, base, features, classes, seed=42):
    """The closeness finding as :func:`D.diagnose` makes it, without the slower checks."""
    matched = D.match_rows(table, bench, base, features, "label")[3]
    return D.closeness(table, bench, base, features, "label", classes, np.flatnonzero(~matched), seed)


def test_benchmark_rows_with_one_number_moved_are_closer_than_chance():
    base, bench, clean, features, classes = split("credit_data", seed=4, rows=400)
    sources = bench.sample(600, random_state=0)
    table, positions = planted(clean, nudged(sources, "Age"))  # Age +-1: no benchmark match
    findings, keep = D.diagnose(table, bench, base, features, "label", classes)
    assert findings["contamination"]["rows"] <= 2  # the near rule misses them
    close = findings["contamination"]["closeness"]
    assert close["status"] == "checked" and close["warn"] and close["p_value"] < proximity.CLOSE_ALPHA
    assert 540 <= close["estimated_rows"] <= 660  # 600 planted
    assert close["benchmark_nearest"] - close["expected"] == pytest.approx(close["excess"], abs=0.01)
    # The examples are planted rows, each named with the benchmark row it was made from.
    names = [f["name"] for f in features if f["name"] != "Age"]
    for example in close["examples"]:
        assert example["row"] in positions and example["distance_ratio"] < 0.1
        source = sources.iloc[example["row"] - len(clean)]
        assert bench.iloc[example["benchmark_row"]][names].equals(source[names])
    assert close["rows_tested"] == len(table)  # else "of 1000 rows tested"
    assert findings["warnings"][0].startswith(
        "closer to the benchmark than chance: %.0f of 1,000 rows have a benchmark row as their nearest neighbour "
        "where %.0f were expected (p < 1e-12); about %.0f rows look like altered benchmark rows (e.g. data row "
        "%d ~ benchmark row %d), which would inflate the delta; they are kept" % (
            close["benchmark_nearest"], close["expected"], close["estimated_rows"], close["examples"][0]["row"] + 1,
            close["examples"][0]["benchmark_row"] + 1))  # both from 1 in messages
    assert keep.sum() == len(table) - findings["contamination"]["rows_removed"]  # not removed for it
    validate(findings, "diagnostics")


@pytest.mark.parametrize("name, share", [("credit_data", 0.01), ("wa_churn", 0.1)])
def test_benchmark_rows_with_every_number_jittered_are_closer_than_chance(name, share):
    base, bench, clean, features, classes = split(name, seed=4, rows=600)
    close = closeness_of(planted(clean, jittered(bench.sample(400, random_state=0), share))[0], bench, base,
                         features, classes)
    assert close["warn"]
    assert 300 <= close["estimated_rows"] <= 480  # 400 planted


def test_benchmark_rows_altered_and_copied_are_counted_once():
    base, bench, clean, features, classes = split("credit_data", seed=4, rows=400)
    copies = pd.concat([bench.iloc[:100], base.iloc[:50]])  # exact: set aside before the test
    table, _ = planted(clean, pd.concat([copies, nudged(bench.iloc[200:500], "Age")]))
    findings, keep = D.diagnose(table, bench, base, features, "label", classes)
    contamination, close = findings["contamination"], findings["contamination"]["closeness"]
    assert contamination["exact"] >= 100 and findings["duplicates"]["base"]["exact"] >= 50
    assert close["rows_eligible"] <= len(table) - 150
    assert close["warn"] and 240 <= close["estimated_rows"] <= 360  # the 300 altered, not the copies
    assert findings["warnings"][0].startswith("benchmark contamination: ")
    assert findings["warnings"][1].startswith("closer to the benchmark than chance: ")


@pytest.mark.parametrize("name", ["credit_data", "hpc_data"])
def test_clean_draws_are_not_closer_to_the_benchmark_than_chance(name):
    # Independent splits, each with a contribution of every remaining row: under a random split
    # (benchmark_nearest - expected) / sd is about standard normal; the alarm needs 4.75.
    scores = []
    for seed in range(8):
        base, bench, clean, features, classes = split(name, seed=200 + seed, rows=5000)
        close = closeness_of(clean, bench, base, features, classes, seed=seed)
        assert close["status"] == "checked" and not close["warn"], close
        scores.append((close["benchmark_nearest"] - close["expected"]) / close["sd"])
    assert max(scores) < 3.5 and abs(np.mean(scores)) < 1.0


@pytest.mark.parametrize("name, column, value", [("wa_churn", "contract", "Two year"), ("hpc_data", "protocol", "J")])
def test_a_contribution_of_one_subpopulation_is_not_closer_than_chance(name, column, value):
    base, bench, clean, features, classes = split(name, seed=5, rows=5000)
    part = clean[clean[column] == value].reset_index(drop=True)
    assert len(part) >= 300
    close = closeness_of(part, bench, base, features, classes)
    assert close["status"] == "checked" and not close["warn"]
    assert abs(close["benchmark_nearest"] - close["expected"]) < 4 * close["sd"]


def test_a_reference_split_other_than_at_random_is_not_tested():
    # Benchmark and base from different customers (long and short tenure): every contribution
    # of long-tenure customers would look close to the benchmark, so the test does not run.
    base, bench, clean, features, classes = split("wa_churn", seed=6, rows=2000)
    pooled = pd.concat([base, bench], ignore_index=True).sort_values("tenure", kind="stable")
    base, bench = pooled.iloc[:800].reset_index(drop=True), pooled.iloc[800:].reset_index(drop=True)
    findings, _ = D.diagnose(clean[clean["tenure"] > bench["tenure"].median()].reset_index(drop=True), bench, base,
                             features, "label", classes)
    close = findings["contamination"]["closeness"]
    assert close["status"] == "skipped" and not close["warn"]
    assert not close["premise"]["holds"] and close["premise"]["p_value"] < proximity.CLOSE_PREMISE_ALPHA
    assert "do not look like random splits" in close["reason"]
    assert not any(w.startswith("closer") for w in findings["warnings"])
    assert any(n.startswith("closeness to the benchmark not tested: the benchmark and base tables") for n in
               findings["notes"])
    validate(findings, "diagnostics")


def test_rows_closer_than_chance_yet_too_few_to_matter_are_a_note():
    close = {"status": "checked", "p_value": 1e-8, "benchmark_nearest": 140.0, "rows_tested": 200, "expected": 120.4,
             "warn": False, "estimated_rows": 8.2, "examples": []}  # significant, but under 10 rows
    findings = {"rows_checked": 200, "contamination": {"rows": 0, "closeness": close},
                "duplicates": {"within": {}, "base": {}}, "label_noise": {"status": "checked", "warn": False},
                "drift": {"drifted": [], "features": [], "class_balance": {"shifted": False}}, "pii": {"columns": []}}
    assert D.messages(findings) == ([], [
        "closer to the benchmark than chance: 140 of 200 rows have a benchmark row as their nearest neighbour "
        "where 120 were expected (p = 1e-08), but that makes about 8 altered benchmark rows, fewer than the 10 (2% "
        "of the rows tested, at least 10) that would be a warning"])


def test_counts_in_messages_have_thousands_separators():
    close = {"status": "checked", "p_value": 1e-13, "benchmark_nearest": 10500.0, "rows_tested": 12000,
             "expected": 8000.4, "warn": True, "estimated_rows": 2500.2, "examples": []}
    findings = {"rows_checked": 12000,
                "contamination": {"rows": 1500, "exact": 1200, "near": 300, "action": "removed", "warn": True,
                                  "examples": [{"row": 1, "benchmark_row": 2}], "closeness": close},
                "duplicates": {"within": {}, "base": {}}, "label_noise": {"status": "checked", "warn": False},
                "drift": {"drifted": [], "features": [], "class_balance": {"shifted": False}},
                "pii": {"columns": [{"flagged": True, "column": "contact", "kind": "email", "matches": 1000,
                                     "values_checked": 1000, "examples": ["a@b.example"]}]}}
    warnings, _ = D.messages(findings)
    assert warnings[0].startswith("benchmark contamination: 1,500 of 12,000 rows duplicate benchmark rows (1,200 "
                                  "exact, 300 near;")
    assert warnings[1].startswith("closer to the benchmark than chance: 10,500 of 12,000 rows have a benchmark row "
                                  "as their nearest neighbour where 8,000 were expected (p < 1e-12); about 2,500 rows")
    assert "(in 1,000 of 1,000 values checked, e.g. a@b.example)" in warnings[2]


def test_closeness_is_skipped_without_a_base_table_or_features_to_place_rows():
    base, bench, clean, features, classes = split("fine_food_reviews")
    assert D.closeness(clean, bench, None, features, "label", classes)["reason"] == "the bundle has no base table"
    text = [f for f in features if f["kind"] == "text"]
    skipped = D.closeness(clean, bench, base, text, "label", classes)
    assert (skipped["status"], skipped["reason"], skipped["warn"]) == ("skipped", "no feature besides free text", False)
    assert D.closeness(clean, bench, base, features, "label", classes, rows=[])["reason"].startswith("no row is left")


def test_ties_share_the_benchmark_row_among_the_tied_rows():
    # One numeric feature: contributed 5 has 4 (benchmark) and 6 (base) at equal distance, and
    # 1 has two identical rows, one of each table: each counts half. 9 is nearest 10 (benchmark),
    # at a third of its distance to 6 (base).
    features = [{"name": "x", "kind": "numeric"}]
    bench = pd.DataFrame({"x": [4.0, 1.0, 10.0, 20.0], "label": "a"})
    base = pd.DataFrame({"x": [6.0, 1.0, 30.0, 40.0], "label": "a"})
    close = D.closeness(pd.DataFrame({"x": [5.0, 1.0, 9.0], "label": "a"}), bench, base, features, "label", ["a"])
    assert close["status"] == "checked" and close["benchmark_nearest"] == 2.0 and close["expected"] == 1.5
    assert close["examples"] == [{"row": 2, "benchmark_row": 2, "distance_ratio": round(1 / 3, 4)}]


# --- label noise -----------------------------------------------------------------------------------


def flip(clean, classes, count, seed=0):
    """``clean`` with the labels of ``count`` random rows changed to another class; and those rows."""
    noisy = clean.copy()
    rng = np.random.default_rng(seed)
    flipped = rng.choice(len(noisy), count, replace=False)
    for row in flipped:
        noisy.loc[row, "label"] = rng.choice([c for c in classes if c != noisy.loc[row, "label"]])
    return noisy, flipped


@pytest.mark.parametrize("name", ["hpc_data", "wa_churn"])
def test_planted_flipped_labels_raise_the_noise_estimate(name):
    base, bench, clean, features, classes = split(name, seed=3)
    noisy, flipped = flip(clean, classes, 100)
    reference = pd.concat([base, bench], ignore_index=True)
    summary, rows = D.label_noise(noisy, reference, features, "label", classes, seed=42, all_rows=True)
    assert summary["warn"] is True
    assert summary["flagged"] == len(rows)
    assert len(set(flipped) & set(rows)) >= 45  # of the 100 flips
    assert 0.04 <= summary["excess_noise_rate"] <= 0.16  # 10% planted
    assert summary["p_value"] < labels.NOISE_ALPHA
    assert set(summary["row_indices"]) <= set(rows)

    clean_summary = D.label_noise(clean, reference, features, "label", classes, seed=42)
    assert clean_summary["warn"] is False
    assert clean_summary["excess_noise_rate"] < 0.04
    assert summary["estimated_noise_rate"] > clean_summary["estimated_noise_rate"] + 0.04


def test_a_copy_of_each_row_does_not_vouch_for_its_flipped_label():
    """Cross-validated folds that split a row from its copy let the copy confirm its label, however
    wrong: the same flipped rows written twice read as cleaner than the baseline's. Identical rows
    share a fold: twice the rows, the same reading (near, as the forests see other rows)."""
    base, bench, clean, features, classes = split("wa_churn", seed=3, rows=500)
    noisy, _ = flip(clean, classes, 100)
    reference = pd.concat([base, bench], ignore_index=True)
    once = D.label_noise(noisy, reference, features, "label", classes, seed=42)
    twice = D.label_noise(pd.concat([noisy, noisy], ignore_index=True), reference, features, "label", classes,
                          seed=42)
    assert once["warn"] and twice["warn"]
    assert twice["rate"] == pytest.approx(once["rate"], abs=0.05)
    assert twice["excess_noise_rate"] > 0.5 * once["excess_noise_rate"]


@pytest.mark.parametrize("name", ["hpc_data", "wa_churn", "credit_data"])
def test_heavy_label_noise_is_not_read_as_the_baselines_own(name):
    # Flipped rows lower the confidence thresholds of every row they are scored with: judged by
    # those, the baseline's rows would look noisier, and 30% planted would read as 15-22%.
    base, bench, clean, features, classes = split(name, seed=3)
    noisy, _ = flip(clean, classes, 300)
    reference = pd.concat([base, bench], ignore_index=True)
    clean_summary = D.label_noise(clean, reference, features, "label", classes, seed=42)
    summary = D.label_noise(noisy, reference, features, "label", classes, seed=42)
    assert abs(summary["reference_noise_rate"] - clean_summary["reference_noise_rate"]) < 0.05
    assert 0.16 <= summary["excess_noise_rate"] <= 0.4  # 30% planted


@pytest.mark.parametrize("name", ["hpc_data", "wa_churn"])
def test_a_contribution_relabelled_throughout_is_a_label_conflict(name):
    # Every label moved to another class, on more rows than the reference holds: pooled with
    # them, the model learns the contribution's rule and the reference looks as noisy as the
    # contribution, so the noise excess alone stays near 0; the reference judged alone does not.
    base, bench, clean, features, classes = split(name, seed=3, rows=3000)
    relabelled = clean.copy()
    relabelled["label"] = [classes[(classes.index(v) + 1) % len(classes)] for v in clean["label"]]
    reference = pd.concat([base, bench], ignore_index=True)
    findings, _ = D.diagnose(relabelled, bench, base, features, "label", classes, seed=42)
    summary = findings["label_noise"]
    conflict = summary["conflict"]
    assert conflict["conflict"] is True and summary["warn"] is True
    assert conflict["reference_rate_together"] > conflict["reference_rate_alone"] + 0.2
    (warning,) = [w for w in findings["warnings"] if w.startswith("label ")]
    assert warning.startswith("label conflict: the contribution's labels contradict the baseline's rows")

    assert D.label_noise(clean, reference, features, "label", classes, seed=42)["conflict"]["conflict"] is False
    # Noisy at random, 10% to 40%: the reference rows' flags rise a little too, but the
    # contribution's stand out from theirs: label noise, with its rate, not a conflict.
    for share in (0.1, 0.4):
        noisy, _ = flip(clean, classes, int(share * len(clean)))
        findings, _ = D.diagnose(noisy, bench, base, features, "label", classes, seed=42)
        assert findings["label_noise"]["conflict"]["conflict"] is False and findings["label_noise"]["warn"]
        assert [w[:13] for w in findings["warnings"] if w.startswith("label ")] == ["label noise: "]


def test_labels_mostly_swapped_are_named_as_pairs_to_fix():
    """Three in four churn labels reversed, on fewer rows than the reference (label noise, not a
    conflict): the warning names the two readings, one each way, and says to fix the mapping."""
    base, bench, clean, features, classes = split("wa_churn", seed=3, rows=700)
    swapped = clean.copy()
    rows = np.random.default_rng(0).choice(len(swapped), int(0.75 * len(swapped)), replace=False)
    swapped.loc[rows, "label"] = [classes[1 - classes.index(v)] for v in swapped.loc[rows, "label"]]
    findings, _ = D.diagnose(swapped, bench, base, features, "label", classes, seed=42)
    summary = findings["label_noise"]
    assert summary["estimated_noise_rate"] >= labels.MOSTLY_WRONG
    assert {(r["label"], r["suggested"]) for r in summary["readings"]} == {(classes[0], classes[1]),
                                                                          (classes[1], classes[0])}
    assert sum(r["rows"] for r in summary["readings"]) == summary["flagged"]
    (warning,) = [w for w in findings["warnings"] if w.startswith("label noise: ")]
    assert "most read as another class: %s as %s (" % (summary["readings"][0]["label"],
                                                       summary["readings"][0]["suggested"]) in warning
    assert warning.endswith("are the labels swapped (e.g. 0/1 reversed)? fix the mapping and preview again")
    # A few flips: noise, whose pairs are no fix to name.
    noisy, _ = flip(clean, classes, 70)
    findings, _ = D.diagnose(noisy, bench, base, features, "label", classes, seed=42)
    assert not any("most read as another class" in w for w in findings["warnings"])


@pytest.mark.parametrize("seed, rows", [(3, 1000), (0, 3000)])
def test_clean_rows_of_a_skewed_task_are_no_label_conflict(seed, rows):
    # lending_club: 5% of loans bad. More clean rows change what the forest flags among the
    # reference rows (here by +5.8 and +3.0 points, p < 0.001), which a 3-point rise took for a
    # conflict; a relabelled contribution moves it by 18 points and more.
    base, bench, clean, features, classes = split("lending_club", seed=seed, rows=rows)
    reference = pd.concat([base, bench], ignore_index=True)
    summary = D.label_noise(clean, reference, features, "label", classes, seed=42)
    conflict = summary["conflict"]
    assert 0.02 < conflict["reference_rate_together"] - conflict["reference_rate_alone"] < labels.CONFLICT_MIN_RISE
    assert conflict["conflict"] is False and summary["warn"] is False


@pytest.mark.parametrize("dropped, expected", [([], [1, 5, 10]), ([1, 2], [3, 7, 12]), ([3, 4, 9], [1, 7, 13])])
def test_messages_name_rows_as_the_file_numbers_them(dropped, expected):
    # Positions 0, 4 and 9 among the rows hp-load kept, past the data rows it dropped.
    number = D.file_rows(dropped)
    assert [number(i) for i in (0, 4, 9)] == expected
    assert not set(expected) & set(dropped)


def test_messages_number_benchmark_and_base_rows_from_1_as_contributed_ones():
    # One convention per line: each table's first row is row 1; the JSON keeps positions from 0.
    match = {"exact": 1, "near": 0, "rows": 1, "warn": True, "alarm_above": 0, "expected_by_chance": 0.1}
    findings = {"rows_checked": 10,
                "contamination": dict(match, action="removed", closeness={},
                                      examples=[{"row": 0, "benchmark_row": 0, "match": "exact"}]),
                "duplicates": {"within": {},
                               "base": dict(match, examples=[{"row": 2, "base_row": 4, "match": "exact"}])},
                "label_noise": {"status": "checked", "warn": False},
                "drift": {"drifted": [], "features": [], "class_balance": {"shifted": False}}, "pii": {"columns": []}}
    warnings, _ = D.messages(findings)
    assert "e.g. data row 1 ~ benchmark row 1)" in warnings[0]
    assert "e.g. data row 3 ~ base row 5)" in warnings[1]


def test_clean_rows_of_the_hardest_classes_are_not_called_noisy():
    # hpc_data's M and L jobs are flagged about twice as often as the rest, clean or not: the
    # contribution is compared with the baseline's rows of the same classes.
    base, bench, clean, features, classes = split("hpc_data", seed=3, rows=3000)
    hard = clean[clean["label"].isin(["M", "L"])].reset_index(drop=True)
    reference = pd.concat([base, bench], ignore_index=True)
    summary = D.label_noise(hard, reference, features, "label", classes, seed=42)
    assert summary["rows_checked"] >= 300
    assert summary["reference_rate"] > 0.09  # the hard classes' rate, not the whole reference's
    assert summary["warn"] is False and summary["p_value"] > 0.01


def test_label_noise_is_skipped_on_too_few_rows():
    base, bench, clean, features, classes = split("hpc_data")
    summary = D.label_noise(clean.iloc[:10], bench, features, "label", classes)
    assert summary["status"] == "skipped" and "fewer than" in summary["reason"] and not summary["warn"]


# --- drift ------------------------------------------------------------------------------------------


def test_a_shifted_feature_and_a_shifted_class_balance_are_found():
    base, bench, clean, features, classes = split("hpc_data")
    shifted = clean.copy()
    shifted["hour"] = (shifted["hour"] + 6) % 24
    shifted["protocol"] = np.where(np.arange(len(shifted)) % 3 == 0, "N", shifted["protocol"])
    result = D.drift(shifted, bench, features, "label", classes)
    assert result["drifted"] == ["protocol", "hour"]
    assert {r["feature"]: r["statistic"] for r in result["features"]}["hour"] == "ks"
    assert not result["class_balance"]["shifted"]

    rare = pd.concat([clean[clean["label"] == "L"]] * 4 + [clean.iloc[:300]], ignore_index=True)
    balance = D.drift(rare, bench, features, "label", classes)["class_balance"]
    assert balance["shifted"] and balance["tvd"] > 0.3


def test_missing_values_count_as_drift():
    base, bench, clean, features, classes = split("credit_data")
    holes = clean.copy()
    holes.loc[: len(holes) // 2, "Income"] = np.nan
    result = D.drift(holes, bench, features, "label", classes)
    assert result["drifted"] == ["Income"]


def test_a_few_missing_values_in_a_tiny_contribution_are_not_drift():
    """2 of 10 rows without an Income move the missing share by about 0.2, which chance gives on
    10 rows: drift needs the move to pass its test too; half of 40 rows missing does."""
    base, bench, clean, features, classes = split("credit_data", rows=3000)
    complete = clean.dropna().reset_index(drop=True)
    tiny = complete.iloc[:10].copy()
    tiny.loc[:1, "Income"] = np.nan
    result = D.drift(tiny, bench, features, "label", classes)
    income = [f for f in result["features"] if f["feature"] == "Income"][0]
    assert income["missing_share"][0] - income["missing_share"][1] >= shift.DRIFT_MIN_EFFECT
    assert income["missing_p_value"] > shift.DRIFT_ALPHA / len(features) and "Income" not in result["drifted"]
    many = complete.iloc[:40].copy()
    many.loc[:19, "Income"] = np.nan
    assert "Income" in D.drift(many, bench, features, "label", classes)["drifted"]


def test_text_drift_uses_the_word_distribution():
    base, bench, clean, features, classes = split("fine_food_reviews")
    assert D.drift(clean, bench, features, "label", classes)["drifted"] == []
    other = clean.copy()
    other["review"] = "the battery of this phone lasts two days and the screen is sharp " + other["review"].str[:40]
    result = D.drift(other, bench, features, "label", classes)
    assert result["drifted"] == ["review"]
    assert result["features"][0]["statistic"] == "tvd_words"


@pytest.mark.parametrize("respell, statistic", [(lambda v: v.lower(), "TVD 1.00"),
                                                (lambda v: v + " ", "TVD 0.0"),  # the counts alike when trimmed
                                                (lambda v: " " + v.upper(), "TVD 1.00")])
def test_categories_spelled_unlike_the_benchmarks_are_drift_and_named_so(respell, statistic):
    base, bench, clean, features, classes = split("hpc_data")
    respelled = clean.copy()
    respelled["day"] = respelled["day"].map(respell)
    result = D.drift(respelled, bench, features, "label", classes)
    assert result["drifted"] == ["day"]
    (day,) = [f for f in result["features"] if f["feature"] == "day"]
    assert day["spelling_differs"][0] == respell(day["spelling_differs"][1]) != day["spelling_differs"][1]
    assert all(f.get("spelling_differs") is None for f in D.drift(clean, bench, features, "label", classes)["features"])
    findings, _ = D.diagnose(respelled, bench, base, features, "label", classes)
    (warning,) = [w for w in findings["warnings"] if w.startswith("drift")]
    assert "day (%s" % statistic in warning
    assert ("its values are spelled unlike the benchmark's, in letter case or spaces, e.g. %r for %r: new categories "
            "to the model)" % tuple(day["spelling_differs"])) in warning
    validate(findings, "diagnostics")


def exact_p(table):
    """The exact permutation p-value of Pearson's statistic for a 2 x K count table with a small
    first row: every table with the same margins, weighted by its hypergeometric probability."""
    import math

    columns, n = table.sum(axis=0).astype(int), int(table[0].sum())
    expected = np.outer(table.sum(axis=1), columns) / table.sum()
    weight = 1 / expected[0] + 1 / expected[1]

    def statistic(row):
        return float(((np.asarray(row) - expected[0]) ** 2 * weight).sum())

    def rows(j, left):  # every first row with these column totals
        if j == len(columns) - 1:
            yield from [(left,)] if left <= columns[j] else []
            return
        for value in range(min(left, columns[j]) + 1):
            yield from ((value,) + rest for rest in rows(j + 1, left - value))

    observed = statistic(table[0])
    extreme = sum(math.prod(math.comb(int(c), int(x)) for c, x in zip(columns, row))
                  for row in rows(0, n) if statistic(row) >= observed * (1 - 1e-9))
    return extreme / math.comb(int(columns.sum()), n)


def test_a_rare_category_on_a_tiny_contribution_is_not_drift_and_a_real_shift_is():
    from scipy.stats import chi2_contingency

    # 10 rows, 2 of them "widow" (1.5% of the benchmark): expected counts far under 5, where the
    # chi-square approximation called it drift (TVD 0.28). No missing value: one in 10 rows would
    # move the missing share by 0.1.
    base, bench, clean, features, classes = split("credit_data", rows=3000)
    complete = clean.dropna()

    def of(*mix):
        return pd.concat([complete[complete["Marital"] == m].iloc[:k] for m, k in mix], ignore_index=True)

    def marital(found):
        return [f for f in found["features"] if f["feature"] == "Marital"][0]

    alpha = shift.DRIFT_ALPHA / len(features)
    tiny = of(("married", 5), ("single", 3), ("widow", 2))
    table = shift._category_table(common._strings(tiny["Marital"]), common._strings(bench["Marital"]))
    assert chi2_contingency(table)[1] < alpha / 3  # the approximation's false alarm
    exact = exact_p(table)
    assert exact > 10 * alpha
    result = D.drift(tiny, bench, features, "label", classes)
    found = marital(result)
    assert found["value"] == pytest.approx(0.28) and not found["drifted"] and result["drifted"] == []
    assert exact / 2 < found["p_value"] < 2 * exact  # the Monte Carlo estimate of the exact answer
    assert D.drift(tiny, bench, features, "label", classes) == result  # seeded
    # Half the rows "widow" is a real shift, found on as few rows.
    shifted = D.drift(of(("married", 5), ("widow", 5)), bench, features, "label", classes)
    assert shifted["drifted"] == ["Marital"] and marital(shifted)["p_value"] < alpha


@pytest.mark.parametrize("text", ["", "  ", "!!!", None])
def test_texts_without_words_count_as_missing_text(text):
    base, bench, clean, features, classes = split("fine_food_reviews")
    blank = clean.copy()
    blank["review"] = text
    result = D.drift(blank, bench, features, "label", classes)
    assert result["drifted"] == ["review"]
    assert result["features"][0]["missing_share"][0] == 1.0


# --- PII ----------------------------------------------------------------------------------------------


def with_luhn_digit(number):
    """``number`` followed by the digit that makes it pass the Luhn check."""
    return next(number + d for d in "0123456789" if D.luhn_valid(number + d))


def iban(country, bban):
    """A valid IBAN: check digits so that the number is 1 modulo 97."""
    number = int("".join(str(int(ch, 36)) for ch in bban + country + "00"))
    return "%s%02d%s" % (country, 98 - number % 97, bban)


def test_columns_of_personal_data_are_flagged_and_not_repeated():
    n = 200
    rng = np.random.default_rng(1)
    valid = [with_luhn_digit("453957876362%03d" % i) for i in range(n)]
    spaced = [" ".join(v[i:i + 4] for i in range(0, 16, 4)) for v in valid]
    frame = pd.DataFrame({
        "email": ["user%d@example.org" % i for i in range(n)],
        "phone": ["+44 20 7946 %04d" % i for i in range(n)],
        # Half pass Luhn: the other half has the last digit changed.
        "card": spaced[: n // 2] + [v[:-1] + str((int(v[-1]) + 1) % 10) for v in spaced[n // 2:]],
        "ssn": ["%03d-%02d-%04d" % (100 + i, 10 + i % 80, 1000 + i) for i in range(n)],
        "iban": [iban("DE", "37040044053201%04d" % i) for i in range(n)],
        "iban_lower": [iban("NL", "ABNA%010d" % i).lower() for i in range(n)],
        "iban_spaced": [" ".join(v[i:i + 4] for i in range(0, 22, 4)) for v in
                        (iban("GB", "WEST123456%08d" % i) for i in range(n))],
        "card_as_number": [float(v) for v in valid],
        "note": ["called back, all fine"] * (n - 1) + ["reach me at a.b@example.com"],
        "amount": rng.uniform(0, 1000, n),
        "date": ["2024-01-%02d" % (1 + i % 28) for i in range(n)],
        # Card-like numbers that pass the Luhn check by chance, one in ten: not card numbers.
        "id16": ["%016d" % v for v in rng.integers(10 ** 15, 10 ** 16, n)],
        "ts_ms": rng.integers(1_600_000_000_000, 1_800_000_000_000, n).astype(np.float64),
    })
    result = D.pii(frame, list(frame.columns))
    flagged = {(f["column"], f["kind"]) for f in result["columns"] if f["flagged"]}
    assert flagged == {("email", "email"), ("phone", "phone"), ("card", "card_number"),
                       ("ssn", "government_id"), ("card_as_number", "card_number"), ("iban", "iban"),
                       ("iban_spaced", "iban"), ("iban_lower", "iban")}
    assert D.iban_valid("GB82 WEST 1234 5698 7654 32") and not D.iban_valid("GB82 WEST 1234 5698 7654 33")
    note = [f for f in result["columns"] if f["column"] == "note"]
    assert note and note[0]["matches"] == 1 and not note[0]["flagged"]  # one value in 200: reported only
    card = [f for f in result["columns"] if f["column"] == "card"][0]
    assert card["matches"] == n // 2 and card["card_like"] == n
    chance = [f for f in result["columns"] if f["column"] in ("id16", "ts_ms") and f["kind"] == "card_number"]
    assert [f["column"] for f in chance] == ["id16", "ts_ms"]  # reported, Luhn-valid at about 10%
    assert all(f["share"] >= personal.PII_MIN_SHARE and f["card_like"] == n for f in chance)
    assert result["warn"]
    for finding in result["columns"]:
        for example in finding["examples"]:
            assert example not in frame[finding["column"]].astype(str).tolist()
    assert D.mask("email", "jane.doe@example.org") == "j***@example.org"


def test_bare_numbers_are_personal_data_only_where_the_column_name_says_so():
    n = 200
    rng = np.random.default_rng(4)
    phones = rng.integers(2_000_000_000, 9_999_999_999, n)
    ssns = [int("%03d%02d%04d" % (1 + i, 10 + i % 80, 1000 + i)) for i in range(n)]  # 001...: leading zeros lost
    frame = pd.DataFrame({
        "phoneNumber": phones, "mobile_no": ["%d" % v for v in phones], "customer_ssn": ssns,
        "Social Security": ["%09d" % v for v in ssns], "tel": ["(%03d) %03d %04d" % (v // 10 ** 7, v // 10 ** 4 % 1000,
                                                                                     v % 10 ** 4) for v in phones],
        # The same digits under names that say nothing: ids.
        "account_id": phones, "order": ssns, "telescope": phones,
        # A phone column of short extensions, an SSN column of invalid areas: not flagged.
        "fax": rng.integers(100, 9999, n), "ssn_bad": [int("666%06d" % i) for i in range(n)],
    })
    result = D.pii(frame, list(frame.columns))
    flagged = {(f["column"], f["kind"]) for f in result["columns"] if f["flagged"]}
    assert flagged == {("phoneNumber", "phone"), ("mobile_no", "phone"), ("tel", "phone"),
                       ("customer_ssn", "government_id"), ("Social Security", "government_id")}
    assert all(f.get("named") for f in result["columns"] if f["flagged"])
    assert [f["matches"] for f in result["columns"] if f["column"] == "customer_ssn"] == [n]
    assert not [f for f in result["columns"] if f["column"] in ("account_id", "order", "telescope", "fax", "ssn_bad")]


def test_look_alikes_of_personal_data_are_not_flagged():
    n = 300
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({
        # One barcode of three passes the Luhn check: three numbers, however often repeated, are no cards.
        "barcode": rng.choice(["5449000000996", "4006381333931", "8712100325953"], n),
        "position": ["%+.6f,%+.6f" % (lat, lon) for lat, lon in rng.uniform(-80, 80, (n, 2))],
        "part": ["%03d-%02d-%04d-X" % (100 + i, 10 + i % 80, 1000 + i) for i in range(n)],
        "version_ref": ["REF-%03d-%02d-%04d" % (100 + i, 10 + i % 80, 1000 + i) for i in range(n)],
        # Product codes shaped like IBANs: one in 97 passes the check by chance, too few to flag,
        # even when the few codes of a column repeat on every row and one of them passes.
        "sku": ["XY%02d%s" % (i % 100, "".join(rng.choice(list("ABCDEFGH0123456789"), 16))) for i in range(n)],
        "sku_few": rng.choice(["XY%02dABCDEFGH12345" % k for k in range(20)] + [iban("XY", "ABCDEFGH12345")], n,
                              p=[0.035] * 20 + [0.3]),
    })
    assert D.luhn_valid("5449000000996") and not D.luhn_valid("4006381333931")
    result = D.pii(frame, list(frame.columns))
    assert [f for f in result["columns"] if f["flagged"]] == [] and not result["warn"]
    sku = [f for f in result["columns"] if f["column"] == "sku_few"][0]
    assert sku["share"] > 0.2 and sku["iban_like"] == 21  # on a third of the rows, one code of 21
    barcode = [f for f in result["columns"] if f["column"] == "barcode"][0]
    assert barcode["card_like"] == 3 and barcode["matches"] > 0.05 * n  # reported, not flagged


# --- everything together -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["hpc_data", "wa_churn", "credit_data", "fine_food_reviews"])
def test_clean_splits_raise_no_alarm(name):
    base, bench, clean, features, classes = split(name, seed=11)
    findings, keep = D.diagnose(clean, bench, base, features, "label", classes)
    assert findings["warnings"] == []
    assert keep.sum() == len(clean) - findings["contamination"]["rows_removed"]
    close = findings["contamination"]["closeness"]
    if name == "fine_food_reviews":  # a product per review, none seen twice: nothing to place rows by
        assert close["reason"] == "no feature tells the reference rows apart"
    else:
        assert close["status"] == "checked" and close["premise"]["holds"] and close["p_value"] > 1e-3
    validate(findings, "diagnostics")


def test_diagnose_removes_contamination_by_default_and_keeps_it_on_request():
    base, bench, clean, features, classes = split("hpc_data", seed=2)
    assert D.match_rows(clean, bench, base, features, "label")[0]["rows"] == 0
    table, positions = planted(clean, bench.iloc[:12])
    findings, keep = D.diagnose(table, bench, base, features, "label", classes)
    assert np.flatnonzero(~keep).tolist() == positions.tolist()
    assert findings["contamination"]["action"] == "removed" and findings["contamination"]["rows_removed"] == 12
    assert findings["warnings"][0].startswith("benchmark contamination: 12 of 1,012 rows")
    assert "removed before training" in findings["warnings"][0]
    validate(findings, "diagnostics")

    kept, keep = D.diagnose(table, bench, base, features, "label", classes, remove_contaminated=False)
    assert keep.all() and kept["contamination"]["action"] == "kept"
    assert "inflated" in kept["warnings"][0]


@pytest.mark.parametrize("copies, alarm", [(1, False), (12, True)])
def test_benchmark_matches_are_removed_only_beyond_chance_in_memory_and_streamed(tmp_path, copies, alarm):
    # Removing even one row reshuffles the main pipeline's split and forest: matches that chance
    # explains are kept, so the run stays the main pipeline's own computation.
    base, bench, clean, features, classes = split("hpc_data", seed=2)
    table, positions = planted(clean, bench.iloc[:copies])
    path, cleaned = str(tmp_path / "contribution.parquet"), str(tmp_path / "cleaned.parquet")
    table.to_parquet(path, index=False)
    whole = D.diagnose(table, bench, base, features, "label", classes)
    # A cap of 300 rows and batches of a few KB: the streamed path, which decides before writing.
    streamed, keep, class_counts = D.diagnose_parquet(path, bench, base, features, "label", classes,
                                                      cleaned_path=cleaned, sample_rows=300, batch_bytes=4096)
    assert "sample" in streamed and "sample" not in whole[0]
    for findings, kept in (whole, (streamed, keep)):
        c = findings["contamination"]
        assert (c["rows"], c["warn"]) == (copies, alarm)
        assert (c["action"], c["rows_removed"]) == (("removed", copies) if alarm else ("kept_chance", 0))
        assert np.flatnonzero(~kept).tolist() == (positions.tolist() if alarm else [])
        validate(findings, "diagnostics")
    assert class_counts == {k: int(v) for k, v in table[keep]["label"].astype(str).value_counts().items()}
    if alarm:
        pd.testing.assert_frame_equal(pd.read_parquet(cleaned), table[keep].reset_index(drop=True))
        assert whole[0]["warnings"][0].startswith("benchmark contamination: 12 of 1,012 rows")
    else:
        assert not (tmp_path / "cleaned.parquet").exists()  # the rows go on to training: hp-load's table
        assert whole[0]["warnings"] == []
        (note,) = [n for n in whole[0]["notes"] if n.startswith("benchmark matches")]
        expected = whole[0]["contamination"]["expected_by_chance"]
        assert note == (
            "benchmark matches: 1 of 1,001 rows duplicates a benchmark row (1 exact, 0 near; e.g. data row 1001 ~ "
            "benchmark row 1), about as many as clean data from this source has by chance (%.1f expected); kept, as "
            "chance explains them (the main pipeline trains on them too)" % expected)
        kept, keep = D.diagnose(table, bench, base, features, "label", classes, remove_contaminated=False)
        assert keep.all() and kept["contamination"]["action"] == "kept_chance"  # the option changes nothing


def test_findings_are_deterministic_for_a_seed():
    base, bench, clean, features, classes = split("wa_churn")

    def strip(findings):
        return {k: v for k, v in findings.items() if k != "timings"}

    first, _ = D.diagnose(clean, bench, base, features, "label", classes, seed=5)
    second, _ = D.diagnose(clean, bench, base, features, "label", classes, seed=5)
    assert strip(first) == strip(second)


# --- tables larger than the sample cap ---------------------------------------------------------------


def test_a_table_beyond_the_cap_is_matched_on_every_row_and_sampled_for_the_rest(tmp_path, monkeypatch):
    monkeypatch.setattr(labels, "NOISE_MAX_CONTRIBUTION", 200)  # label noise: fewer rows than the sample
    base, bench, clean, features, classes = split("hpc_data", seed=1)
    copies = pd.concat([bench.iloc[:30], near_copy(bench.iloc[100:120]), clean.iloc[:40], base.iloc[:25]])
    table, _ = planted(clean, copies)
    path = str(tmp_path / "contribution.parquet")
    table.to_parquet(path, index=False)
    whole, whole_keep = D.diagnose(table, bench, base, features, "label", classes)

    cleaned = str(tmp_path / "cleaned.parquet")
    # A cap of 300 rows and batches of a few KB: many batches, and a sample for the row checks.
    findings, keep, class_counts = D.diagnose_parquet(path, bench, base, features, "label", classes,
                                                      cleaned_path=cleaned, sample_rows=300, batch_bytes=4096)
    assert keep.tolist() == whole_keep.tolist()  # contamination is found on every row
    for key in ("exact", "near", "rows", "same_label"):
        assert findings["contamination"][key] == whole["contamination"][key], key
    assert findings["duplicates"]["within"]["exact"] == whole["duplicates"]["within"]["exact"]
    assert counts(findings["duplicates"]["base"]) == counts(whole["duplicates"]["base"])
    assert findings["rows_checked"] == len(table)
    assert findings["sample"]["rows"] == 300 and findings["sample"]["distinct_rows_checked"] == 300
    assert findings["label_noise"]["rows_checked"] == 200
    close = findings["contamination"]["closeness"]
    assert close["status"] == "checked" and close["rows_tested"] == close["rows_eligible"] <= 300
    assert [note for note in findings["notes"] if note.startswith("sampled:")] == [
        "sampled: feature drift and personal data checked on a stratified sample of 300 of %s rows (more than "
        "300), label noise on 200 of them, closeness to the benchmark on %d; benchmark copies and repeats on every "
        "row, near repeats among 300 of 1,075 distinct rows" % (format(len(table), ","), close["rows_tested"])]
    kept = table[keep].reset_index(drop=True)
    assert class_counts == {k: int(v) for k, v in kept["label"].astype(str).value_counts().items()}
    pd.testing.assert_frame_equal(pd.read_parquet(cleaned), kept)
    validate(findings, "diagnostics")


def test_closeness_is_tested_on_the_sample_of_a_table_beyond_the_cap(tmp_path):
    base, bench, clean, features, classes = split("credit_data", seed=4, rows=1000)
    table, positions = planted(clean, nudged(bench.sample(600, random_state=1), "Age"))
    path = str(tmp_path / "contribution.parquet")
    table.to_parquet(path, index=False)
    findings, keep, _ = D.diagnose_parquet(path, bench, base, features, "label", classes, sample_rows=1000,
                                           batch_bytes=1 << 14)
    close = findings["contamination"]["closeness"]
    assert findings["sample"]["rows"] == 1000 and "closeness" in findings["sample"]["checks"]
    assert close["warn"] and close["rows_eligible"] <= 1000
    assert 0.25 <= close["estimated_rows"] / close["rows_tested"] <= 0.45  # 600 of 1,600 rows planted
    assert {e["row"] for e in close["examples"]} <= set(positions)  # the whole table's row numbers
    assert keep.sum() == len(table) - findings["contamination"]["rows_removed"]
    validate(findings, "diagnostics")


def test_a_table_within_the_cap_gets_the_findings_of_diagnose(tmp_path):
    base, bench, clean, features, classes = split("wa_churn", seed=3)
    table, _ = planted(clean, bench.iloc[:5])
    path = str(tmp_path / "contribution.parquet")
    table.to_parquet(path, index=False)
    whole, whole_keep = D.diagnose(table, bench, base, features, "label", classes)
    findings, keep, _ = D.diagnose_parquet(path, bench, base, features, "label", classes)
    strip = lambda f: {k: v for k, v in f.items() if k != "timings"}  # noqa: E731
    assert strip(findings) == strip(whole) and keep.tolist() == whole_keep.tolist()


def test_repeats_above_chance_yet_too_few_to_matter_are_a_note_that_says_so():
    base, bench, clean, features, classes = split("credit_data", seed=2)
    table, _ = planted(clean, clean.iloc[:8])  # 8 of 1008 rows: above chance, under 1%
    findings, _ = D.diagnose(table, bench, base, features, "label", classes)
    within = findings["duplicates"]["within"]
    assert within["exact"] >= 8 and within["rows"] > within["alarm_above"] and not within["warn"]
    assert not any(w.startswith("duplicates") for w in findings["warnings"])
    assert [n for n in findings["notes"] if n.startswith("duplicates") and "contributed" in n] == [
        "duplicates: %d rows repeat other contributed rows (%d exact, %d near; e.g. data row %d ~ data row %d), "
        "more than chance (%.1f expected) but under 1%% of the rows" % (within["rows"], within["exact"], within["near"],
                                                                       within["examples"][0]["row"] + 1,
                                                                       within["examples"][0]["duplicate_of"] + 1,
                                                              within["expected_by_chance"])]
