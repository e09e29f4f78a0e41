"""hp-baseline's refusals: one line, exit 3, no bundle left behind."""

import json
import os

import pytest

from helpers import DATASETS, EXAMPLES, refused, run

HEADER_ONLY = "protocol,compounds,input_fields,iterations,num_pending,hour,day,label\n"


@pytest.mark.parametrize("empty", ["--train-data", "--benchmark-data"])
def test_a_table_of_a_header_alone_is_refused(empty, tmp_path):
    blank = tmp_path / "header.csv"
    blank.write_text(HEADER_ONLY)
    tables = {"--train-data": EXAMPLES + "/hpc_jobs_1000.csv", "--benchmark-data": EXAMPLES + "/hpc_jobs_700.parquet"}
    tables[empty] = str(blank)
    output = tmp_path / "bundle"
    result = run("hp-baseline", "--train-data", tables["--train-data"], "--benchmark-data",
                 tables["--benchmark-data"], "--output", str(output))
    assert result.code == 3 and result.stdout == ""
    assert result.err_lines == ["hp-baseline: error: %s has no rows; give a table with data rows" % blank]
    assert not os.path.exists(str(output))


def test_a_missing_table_is_refused_without_offering_stdin(tmp_path):
    """hp-baseline reads files only, so its hint must not suggest '-' as hp-load's does."""
    missing = tmp_path / "base.csv"
    output = tmp_path / "bundle"
    result = run("hp-baseline", "--train-data", str(missing), "--benchmark-data", EXAMPLES + "/hpc_jobs_700.parquet",
                 "--output", str(output))
    assert result.code == 3 and result.stdout == ""
    assert result.err_lines == ["hp-baseline: error: %s: does not exist; check the path" % missing]
    assert not os.path.exists(str(output))


def test_an_output_under_a_file_is_refused_before_any_work(tmp_path):
    afile = tmp_path / "notes.txt"
    afile.write_text("not a folder")
    result = run("hp-baseline", "--train-data", EXAMPLES + "/hpc_jobs_1000.csv", "--benchmark-data",
                 EXAMPLES + "/hpc_jobs_700.parquet", "--output", str(afile / "bundle"))
    assert result.code == 7 and result.stdout == ""
    assert result.err_lines == ["hp-baseline: error: cannot write %s: %s is not a directory; choose another place"
                                % (afile / "bundle", afile)]  # no warning first: nothing was read


def test_the_bundle_model_is_fitted_like_the_main_pipeline(bundles):
    """hp-baseline fits the recipe on the training part of a stratified 80/20 split of the base
    table (random_state 42), as the main pipeline does: its benchmark accuracy is that model's."""
    from sklearn.model_selection import train_test_split

    from hokusai_preview.core.bundle import Bundle
    from hokusai_preview.core.recipe import build_forest, build_preprocessor, make_model, prepare_features

    bundle = Bundle.open(bundles("hpc")[0])
    label = bundle.label_column
    base, bench = bundle.read_table("base"), bundle.read_table("benchmark")
    assert bundle.recipe["test_size"] == 0.2
    fitted, _ = train_test_split(base, test_size=0.2, stratify=base[label], random_state=42)
    model = make_model(build_preprocessor(bundle.features), build_forest(bundle.recipe["params"], 100, n_jobs=1))
    model.fit(prepare_features(fitted, bundle.features), fitted[label].to_numpy())
    accuracy = (model.predict(prepare_features(bench, bundle.features)) == bench[label].to_numpy()).mean()
    assert bundle.manifest["metrics"]["accuracy"] == pytest.approx(accuracy, abs=1e-12)


def test_a_bundle_of_numbered_classes_is_fitted_on_the_main_pipelines_split(tmp_path):
    """Labels 1, 2, 3 and 10 are stored as text, but the main pipeline stratifies on the raw numbers,
    where 10 sorts after 2: its split, hence its forest, is the one whose metrics the manifest holds."""
    import pandas as pd
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    from hokusai_preview.core.bundle import Bundle
    from hokusai_preview.core.recipe import build_forest, build_preprocessor, make_model, prepare_features

    table = pd.read_parquet(os.path.join(DATASETS, "hpc_data.parquet")).sample(900, random_state=7)
    table["label"] = table["label"].map({"VF": 1, "F": 2, "M": 3, "L": 10})
    paths = [str(tmp_path / name) for name in ("train.csv", "bench.csv")]
    table.iloc[:600].to_csv(paths[0], index=False)
    table.iloc[600:].to_csv(paths[1], index=False)
    result = run("hp-baseline", "--train-data", paths[0], "--benchmark-data", paths[1], "--output",
                 str(tmp_path / "bundle"), "--quiet")
    assert result.code == 0, result
    bundle = Bundle.open(str(tmp_path / "bundle"))
    assert bundle.classes == ["1", "10", "2", "3"]  # the manifest's classes stay sorted as text
    base, bench = bundle.read_table("base"), bundle.read_table("benchmark")
    base["label"], y = base["label"].astype(int), bench["label"].astype(int).to_numpy()  # the raw labels
    fitted, _ = train_test_split(base, test_size=0.2, stratify=base["label"], random_state=42)
    model = make_model(build_preprocessor(bundle.features), build_forest(bundle.recipe["params"], 100, n_jobs=1))
    model.fit(prepare_features(fitted, bundle.features), fitted["label"].to_numpy())
    proba = model.predict_proba(prepare_features(bench, bundle.features))
    predicted = model.predict(prepare_features(bench, bundle.features))
    expected = {"accuracy": accuracy_score(y, predicted),
                "precision": precision_score(y, predicted, average="weighted", zero_division=0),
                "recall": recall_score(y, predicted, average="weighted", zero_division=0),
                "f1": f1_score(y, predicted, average="weighted", zero_division=0),
                "auroc": roc_auc_score(y, proba, multi_class="ovr", average="weighted", labels=model.classes_)}
    assert bundle.manifest["metrics"] == pytest.approx(expected, abs=1e-12)

def test_force_replaces_a_bundle_but_never_a_folder_of_other_things(tmp_path):
    tables = ("--train-data", EXAMPLES + "/hpc_jobs_1000.csv", "--benchmark-data", EXAMPLES + "/hpc_jobs_700.parquet")
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "precious.txt").write_text("keep me")
    for force in ((), ("--force",)):  # the hint never offers --force where it would not help
        refused = run("hp-baseline", *tables, "--output", str(folder), *force)
        assert refused.code == 7 and refused.stdout == ""
        assert refused.err_lines == ["hp-baseline: error: %s exists and is not a bundle (no hokusai-preview "
                                     "manifest.json), so it is not replaced, even with --force; choose another "
                                     "--output" % folder]
    assert os.listdir(str(folder)) == ["precious.txt"]

    bundle = tmp_path / "bundle"
    bundle.mkdir()  # an empty folder is a place to build in
    assert run("hp-baseline", *tables, "--output", str(bundle)).code == 0
    again = run("hp-baseline", *tables, "--output", str(bundle))
    assert again.code == 7 and again.err_lines == [
        "hp-baseline: error: %s already holds a bundle; choose another --output or pass --force" % bundle]
    rebuilt = run("hp-baseline", *tables, "--output", str(bundle), "--force", "--seed", "7")
    assert rebuilt.code == 0, rebuilt
    assert '"random_state": 7' in (bundle / "manifest.json").read_text()


def test_a_benchmark_that_overlaps_the_training_table_or_is_small_is_warned_about(tmp_path):
    import pandas as pd

    part = str(tmp_path / "part.parquet")
    pd.read_csv(EXAMPLES + "/hpc_jobs_1000.csv").head(700).to_parquet(part)
    result = run("hp-baseline", "--train-data", EXAMPLES + "/hpc_jobs_1000.csv", "--benchmark-data", part,
                 "--output", str(tmp_path / "b"))
    assert result.code == 0, result
    assert "hp-baseline: warning: 700 of 700 benchmark rows also appear in the training table" in result.stderr
    # named, so that they can be found; this many is a leak, not records that recur
    assert "(benchmark data row 1 = training data row 1; benchmark data row 2 = training data row 2; benchmark " \
           "data row 3 = training data row 3; ...): the baseline's metrics are inflated" in result.stderr
    assert "fewer than the 800 DeltaOne needs" in result.stderr


@pytest.mark.parametrize("extra", [(), ("--no-base-table",)])
def test_a_benchmark_that_is_the_training_table_is_refused(tmp_path, extra):
    """Its bundle would be refused at every use (its base table is its benchmark table)."""
    same = EXAMPLES + "/hpc_jobs_700.parquet"
    result = run("hp-baseline", "--train-data", same, "--benchmark-data", same, "--output", str(tmp_path / "b"),
                 *extra)
    assert (result.code, result.stdout) == (3, "")
    assert result.err_lines == ["hp-baseline: error: the training table %s and the benchmark table %s hold the same "
                                "rows: the new model would be scored on the rows it trains on; give --benchmark-data "
                                "rows held out of the training table" % (same, same)]
    assert not (tmp_path / "b").exists()


TABLES = ("--train-data", EXAMPLES + "/hpc_jobs_1000.csv", "--benchmark-data", EXAMPLES + "/hpc_jobs_700.parquet")


def test_a_class_with_few_training_rows_is_warned_about(tmp_path):
    import pandas as pd

    frame = pd.read_csv(EXAMPLES + "/hpc_jobs_1000.csv")
    few = pd.concat([frame[frame["label"] != "L"].head(300), frame[frame["label"] == "L"].head(3)])
    few.to_csv(str(tmp_path / "few.csv"), index=False)
    result = run("hp-baseline", "--train-data", str(tmp_path / "few.csv"), "--benchmark-data",
                 EXAMPLES + "/hpc_jobs_700.parquet", "--output", str(tmp_path / "b"))
    assert result.code == 0, result
    assert ("hp-baseline: warning: the training table has fewer than 10 rows of a class (L 3): the baseline barely "
            "knows it; give it more rows of it") in result.err_lines
    plenty = run("hp-baseline", *TABLES, "--output", str(tmp_path / "c"))
    assert "rows of a class" not in plenty.stderr and "classes (" not in plenty.stderr


@pytest.mark.parametrize("rows_of_l, hint", [
    (1, "give every class at least 2 rows (10 or more for a baseline that knows it), or remove its rows from both "
        "tables"),
    (None, "give the table more rows: at least 5 per class, so that the split can hold out one of each")])
def test_a_class_the_split_holds_out_entirely_is_refused(tmp_path, rows_of_l, hint):
    """A class the forest never sees makes a bundle every command refuses (its model does not
    predict every class its manifest lists), and rebuilding it gives the same: refused here, before
    training. One row of a class cannot be split; 8 rows of 4 classes are split at random."""
    import pandas as pd
    from sklearn.model_selection import train_test_split

    frame = pd.read_csv(EXAMPLES + "/hpc_jobs_1000.csv")
    others = frame[frame["label"] != "L"].head(300) if rows_of_l else \
        pd.concat([frame[frame["label"] == c].head(2) for c in ("F", "M", "VF")])
    rows = len(others) + (rows_of_l or 2)
    # Where the L rows go: positions the main pipeline's split, unstratified here, holds out.
    _, held_out = train_test_split(list(range(rows)), test_size=0.2, random_state=42)
    at = sorted(held_out[:rows_of_l or 2])
    table = others.iloc[:0]
    for position, (_, row) in enumerate(frame[frame["label"] == "L"].head(len(at)).iterrows()):
        table = pd.concat([table, others.iloc[len(table) - position:at[position] - position], row.to_frame().T])
    table = pd.concat([table, others.iloc[len(table) - len(at):]])
    assert len(table) == rows and list(table["label"].iloc[at]) == ["L"] * len(at)
    table.to_csv(str(tmp_path / "train.csv"), index=False)
    output = tmp_path / "b"
    result = run("hp-baseline", "--train-data", str(tmp_path / "train.csv"), "--benchmark-data",
                 EXAMPLES + "/hpc_jobs_700.parquet", "--output", str(output))
    refused(result, 3, "the recipe's 80/20 split holds out every row of", hint, cache_dir=False)
    assert "L (1 row)" in result.stderr if rows_of_l else "(2 rows)" in result.stderr
    assert not os.path.exists(str(output)) and os.listdir(str(tmp_path)) == ["train.csv"]


def test_force_never_deletes_an_input_or_a_file_that_is_not_the_bundles(tmp_path):
    """--force replaced the whole folder: files put beside the bundle, and even the tables it was
    reading, went with it."""
    import shutil

    bundle = tmp_path / "bnd"
    assert run("hp-baseline", *TABLES, "--output", str(bundle), "--jobs", "1").code == 0
    own = sorted(os.listdir(str(bundle)))
    (bundle / "NOTES.md").write_text("mine")
    shutil.copy(EXAMPLES + "/hpc_jobs_1000.csv", str(bundle / "mytrain.csv"))
    os.symlink(str(bundle / "mytrain.csv"), str(tmp_path / "train.csv"))  # real paths are compared
    bench = ("--benchmark-data", EXAMPLES + "/hpc_jobs_700.parquet")
    for train in (bundle / "mytrain.csv", tmp_path / "train.csv"):
        line = refused(run("hp-baseline", "--train-data", str(train), *bench, "--output", str(bundle), "--force"), 2)
        assert line == ("hp-baseline: error: --train-data %s is inside --output %s, which hp-baseline replaces; move "
                        "it out of that folder or choose another --output" % (train, bundle))
    table = tmp_path / "table.csv"
    shutil.copy(EXAMPLES + "/hpc_jobs_1000.csv", str(table))
    line = refused(run("hp-baseline", "--train-data", str(table), *bench, "--output", str(table)), 2)
    assert line == ("hp-baseline: error: --output %s is the --train-data table itself; give --output the name of a "
                    "new directory for the bundle" % table)
    refused(run("hp-baseline", "--train-data", EXAMPLES + "/hpc_jobs_1000.csv", "--benchmark-data",
                str(bundle / "benchmark.parquet"), "--output", str(bundle), "--force"), 2,
            "error: --benchmark-data %s is inside --output" % (bundle / "benchmark.parquet"))

    line = refused(run("hp-baseline", *TABLES, "--output", str(bundle), "--force"), 7)
    assert line == ("hp-baseline: error: %s holds NOTES.md and 1 more, which are not the bundle's, so it is not "
                    "replaced, even with --force; move them elsewhere, or choose another --output" % bundle)
    os.unlink(str(bundle / "mytrain.csv"))
    (bundle / "old").mkdir()  # an empty folder is something else too
    (bundle / "NOTES.md").unlink()
    line = refused(run("hp-baseline", *TABLES, "--output", str(bundle), "--force"), 7)
    assert line == ("hp-baseline: error: %s holds old/, which is not the bundle's, so it is not replaced, even with "
                    "--force; move it elsewhere, or choose another --output" % bundle)
    assert sorted(os.listdir(str(bundle))) == sorted(own + ["old"])
    (bundle / "old").rmdir()
    assert run("hp-baseline", *TABLES, "--output", str(bundle), "--force", "--jobs", "1").code == 0


@pytest.mark.parametrize("manifest", ["named pipe", "oversized"])
def test_an_output_manifest_is_read_as_a_bundles_is(manifest, tmp_path):
    """hp-baseline reads the manifest of an existing --output as opening a bundle does
    (bundle.read_manifest): a named pipe is refused, not waited on for ever, and a manifest past
    the size limit is not read whole."""
    from hokusai_preview.core.bundle import FORMAT, MAX_MANIFEST_BYTES

    folder = tmp_path / "out"
    folder.mkdir()
    if manifest == "named pipe":
        os.mkfifo(str(folder / "manifest.json"))
    else:
        padded = {"format": FORMAT, "files": {}, "pad": " " * MAX_MANIFEST_BYTES}
        (folder / "manifest.json").write_text(json.dumps(padded))
    line = refused(run("hp-baseline", *TABLES, "--output", str(folder), "--force"), 7)
    assert line == ("hp-baseline: error: %s exists and is not a bundle (no hokusai-preview manifest.json), so it is "
                    "not replaced, even with --force; choose another --output" % folder)
    assert os.listdir(str(folder)) == ["manifest.json"]


def test_a_benchmark_column_must_hold_what_the_training_column_holds(tmp_path):
    """A word in a numeric benchmark column was stored as text under a manifest that says numeric
    (and scored as a missing value); hp-load refuses the same in a contribution, in the same words."""
    import pandas as pd

    bench = pd.read_parquet(EXAMPLES + "/hpc_jobs_700.parquet")
    assert str(bench["compounds"].dtype) == "int64"
    bench["compounds"] = bench["compounds"].astype(str)
    bench.loc[3, "compounds"] = " "  # an empty cell is a missing value, as in a contribution
    numbers = tmp_path / "numbers_as_text.parquet"
    bench.to_parquet(str(numbers))
    bench.loc[5, "compounds"] = "many"
    for suffix in (".parquet", ".csv"):
        bad = tmp_path / ("bench" + suffix)
        if suffix == ".parquet":
            bench.to_parquet(str(bad))
        else:
            bench.to_csv(str(bad), index=False)
        output = tmp_path / "bundle"
        result = run("hp-baseline", "--train-data", EXAMPLES + "/hpc_jobs_1000.csv", "--benchmark-data", str(bad),
                     "--output", str(output))
        assert result.code == 3 and result.stdout == ""
        assert result.err_lines == ["hp-baseline: error: %s: column 'compounds' should hold numbers but has 'many' "
                                    "(data row 6); fix or empty that cell, or give each column one type of value" % bad]
        assert not os.path.exists(str(output))

    output = tmp_path / "ok"
    result = run("hp-baseline", "--train-data", EXAMPLES + "/hpc_jobs_1000.csv", "--benchmark-data", str(numbers),
                 "--output", str(output), "--jobs", "1")
    assert result.code == 0, result
    stored = pd.read_parquet(str(output / "benchmark.parquet"))["compounds"]
    assert str(stored.dtype) == "float64" and stored.isna().sum() == 1 and stored[0] == 269.0


@pytest.mark.parametrize("table", ["--train-data", "--benchmark-data"])
def test_an_infinite_number_in_either_table_is_refused_as_in_a_contribution(table, tmp_path):
    import pandas as pd

    frame = pd.read_parquet(EXAMPLES + "/hpc_jobs_700.parquet")
    frame["hour"] = frame["hour"].astype(float)
    frame.loc[4, "hour"] = float("inf")
    bad = tmp_path / "inf.parquet"
    frame.to_parquet(str(bad))
    tables = {"--train-data": EXAMPLES + "/hpc_jobs_1000.csv", "--benchmark-data": EXAMPLES + "/hpc_jobs_500.json"}
    tables[table] = str(bad)
    result = run("hp-baseline", "--train-data", tables["--train-data"], "--benchmark-data",
                 tables["--benchmark-data"], "--output", tmp_path / "bundle")
    assert result.code == 3 and result.stdout == "", result
    assert result.err_lines == ["hp-baseline: error: %s: column 'hour' has 1 infinite value (first: data row 5); "
                                "replace them with empty cells or finite numbers" % bad]
    assert not os.path.exists(str(tmp_path / "bundle"))


def test_a_json_field_null_throughout_the_first_batch_is_read(tmp_path):
    """The reader types a field null in a batch of nulls alone (65,536 records) and numbers later:
    joining the batches failed with an internal error."""
    from hokusai_preview.core.dataio import BATCH_ROWS
    from hokusai_preview.tools.baseline import read_any

    path = tmp_path / "late.jsonl"
    rows = BATCH_ROWS + 10
    with open(str(path), "w") as handle:
        for i in range(rows):
            late = "1.5" if i >= rows - 3 else "null"
            handle.write('{"label": "%s", "x": %d, "late": %s}\n' % ("ab"[i % 2], i, late))
    frame = read_any(str(path))
    assert len(frame) == rows and str(frame["late"].dtype) == "float64"
    assert frame["late"].isna().sum() == rows - 3 and frame["late"].iloc[-1] == 1.5


def test_force_puts_the_old_bundle_back_when_the_new_one_cannot_be_moved_in(tmp_path, monkeypatch):
    """The old bundle was renamed aside before the new one moved in: when that move failed, the
    output was gone and the old bundle left under a temporary name."""
    from hokusai_preview.core.errors import OutputError
    from hokusai_preview.tools import baseline

    output, staging = tmp_path / "bundle", tmp_path / ".bundle.building-x"
    for folder, text in ((output, "old"), (staging, "new")):
        folder.mkdir()
        (folder / "manifest.json").write_text(text)
    real_rename, calls = os.rename, []

    def rename(source, target):
        calls.append((source, target))
        if len(calls) == 2:  # staging -> output
            raise PermissionError(13, "Permission denied")
        real_rename(source, target)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OutputError) as caught:
        baseline._replace_dir(str(staging), str(output))
    assert caught.value.line() == "cannot move the new bundle to %s: Permission denied; the old bundle is kept; " \
        "check the permissions of %s" % (output, tmp_path)
    assert (output / "manifest.json").read_text() == "old"
    assert sorted(os.listdir(str(tmp_path))) == [".bundle.building-x", "bundle"]  # the caller removes staging

    def chmod(path, mode):  # the new bundle moved in, but cannot be made readable
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "rename", real_rename)
    monkeypatch.setattr(os, "chmod", chmod)
    with pytest.raises(OutputError, match="Operation not permitted; the old bundle is kept"):
        baseline._replace_dir(str(staging), str(output))
    assert (output / "manifest.json").read_text() == "old" and (staging / "manifest.json").read_text() == "new"
    assert sorted(os.listdir(str(tmp_path))) == [".bundle.building-x", "bundle"]


def test_a_yes_no_feature_is_stored_as_a_contribution_stores_it(tmp_path):
    """True in a base table and true in a contribution are one category: hp-load writes "true",
    and the bundle's tables did keep True ("True" to the model), so the same column drifted
    completely and was a category the baseline had never seen."""
    import json

    import pandas as pd

    frames = {}
    for name, source in (("train", "hpc_jobs_1000.csv"), ("bench", "hpc_jobs_700.parquet"),
                         ("mine", "hpc_jobs_500.json")):
        frame = pd.read_parquet(EXAMPLES + "/" + source) if source.endswith(".parquet") else \
            pd.read_csv(EXAMPLES + "/" + source) if source.endswith(".csv") else pd.read_json(EXAMPLES + "/" + source)
        frame["big"] = frame["compounds"] > 300
        frames[name] = tmp_path / (name + ".csv")
        frame.to_csv(str(frames[name]), index=False)
    bundle, cache = tmp_path / "bundle", str(tmp_path / "cache")
    assert run("hp-baseline", "--train-data", str(frames["train"]), "--benchmark-data", str(frames["bench"]),
               "--output", str(bundle)).code == 0
    for table in ("base", "benchmark"):
        assert set(pd.read_parquet(str(bundle / (table + ".parquet")))["big"]) == {"true", "false"}
    loaded = run("hp-load", "--cache-dir", cache, "--baseline-model", str(bundle), "--data-path", str(frames["mine"]))
    checked = run("hp-check", "--cache-dir", cache, stdin=loaded.stdout)
    drift = json.loads(checked.stdout)["check"]["diagnostics"]["drift"]
    big = [f for f in drift["features"] if f["feature"] == "big"]
    assert big and big[0]["value"] < 0.05 and not big[0]["drifted"]  # was a TVD of 1.0


def test_a_label_of_numbers_to_predict_is_refused(tmp_path):
    """As many labels as rows is regression, which the recipe's classifier cannot preview: it
    built a bundle with accuracy 0 while scikit-learn printed hundreds of warnings."""
    import pandas as pd

    train = pd.read_csv(EXAMPLES + "/hpc_jobs_1000.csv").iloc[:300]
    train["label"] = range(len(train))
    path, output = tmp_path / "numbers.csv", tmp_path / "bundle"
    train.to_csv(str(path), index=False)
    result = run("hp-baseline", "--train-data", str(path), "--benchmark-data", EXAMPLES + "/hpc_jobs_700.parquet",
                 "--output", str(output))
    assert (result.code, result.stdout) == (3, "")
    assert result.err_lines == ["hp-baseline: error: training table %s has 300 distinct labels in 300 rows: 'label' "
                                "holds numbers to predict, not classes; hokusai-preview previews classifiers; give a "
                                "label column of classes" % path]
    assert not output.exists()



def test_two_rows_of_two_text_classes_are_too_few_not_numbers(tmp_path):
    import pandas as pd

    path = tmp_path / "two.csv"
    pd.read_csv(EXAMPLES + "/hpc_jobs_1000.csv").drop_duplicates("label").head(2).to_csv(str(path), index=False)
    result = run("hp-baseline", "--train-data", str(path), "--benchmark-data", EXAMPLES + "/hpc_jobs_700.parquet",
                 "--output", str(tmp_path / "bundle"))
    assert (result.code, result.stdout) == (3, "")
    assert result.err_lines == ["hp-baseline: error: training table %s has 2 distinct labels in 2 rows: too few rows "
                                "per class to train a classifier; give the training table several rows of each class"
                                % path]


def test_a_model_id_with_a_line_break_is_refused(tmp_path):
    """The model id heads the one-line batch summary and the report: a line break would split them."""
    result = run("hp-baseline", "--train-data", EXAMPLES + "/hpc_jobs_1000.csv", "--benchmark-data",
                 EXAMPLES + "/hpc_jobs_700.parquet", "--output", str(tmp_path / "b"), "--model-id", "a\nb")
    assert (result.code, result.stdout) == (2, "")
    assert result.err_lines == ["hp-baseline: error: the model id 'a\\nb' holds a control character (a line break, "
                                "a tab); give --model-id, or name --output, in printable characters"]
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("label, tail", [
    ("Label", "; name the label column with --label-column (the file has 'label': did you mean that column?)"),
    ("target", "; name the label column with --label-column"),
])
def test_a_label_column_not_in_the_table_is_refused_naming_the_columns_it_has(label, tail, tmp_path):
    table = EXAMPLES + "/hpc_jobs_1000.csv"
    result = run("hp-baseline", "--train-data", table, "--benchmark-data", EXAMPLES + "/hpc_jobs_700.parquet",
                 "--output", str(tmp_path / "b"), "--label-column", label)
    assert (result.code, result.stdout) == (3, "")
    assert result.err_lines == ["hp-baseline: error: training table %s has no label column %r (its columns: "
                                "'protocol', 'compounds', 'input_fields', 'iterations', 'num_pending', 'hour', 'day', "
                                "'label')%s" % (table, label, tail)]
    assert not (tmp_path / "b").exists()


def test_a_few_shared_rows_are_named_without_calling_them_a_leak(tmp_path):
    """Under 1% of the benchmark (clean credit_data holds such a pair) cannot inflate its metrics."""
    import pandas as pd

    train = pd.read_csv(EXAMPLES + "/hpc_jobs_1000.csv")
    bench = pd.concat([pd.read_parquet(EXAMPLES + "/hpc_jobs_700.parquet").head(120), train.iloc[[41]]])
    bench.to_csv(str(tmp_path / "bench.csv"), index=False)
    result = run("hp-baseline", "--train-data", EXAMPLES + "/hpc_jobs_1000.csv", "--benchmark-data",
                 str(tmp_path / "bench.csv"), "--output", str(tmp_path / "b"))
    assert result.code == 0, result
    assert ("1 of 121 benchmark rows also appears in the training table %s/hpc_jobs_1000.csv (benchmark data row "
            "121 = training data row 42): too few to move" % EXAMPLES) in " ".join(result.stderr.split())


def test_counts_of_one_are_singular(tmp_path):
    """(A benchmark of one row is one class, which is refused: two rows, one seen in training.)"""
    import pandas as pd

    frame = pd.read_csv(EXAMPLES + "/hpc_jobs_1000.csv")
    frame.head(1).to_csv(str(tmp_path / "one.csv"), index=False)
    other = pd.read_parquet(EXAMPLES + "/hpc_jobs_700.parquet")
    other = other[other["label"] != frame["label"][0]].head(1)
    pd.concat([frame.head(1), other]).to_csv(str(tmp_path / "two.csv"), index=False)
    result = run("hp-baseline", "--train-data", EXAMPLES + "/hpc_jobs_1000.csv", "--benchmark-data",
                 str(tmp_path / "two.csv"), "--output", str(tmp_path / "b"))
    assert result.code == 0, result
    assert "hp-baseline: warning: 1 of 2 benchmark rows also appears in the training table" in result.stderr
    assert "RandomForestClassifier on 1,000 base rows, accuracy " in result.stderr
    frame.loc[5, "label"] = None
    frame.to_csv(str(tmp_path / "unlabelled.csv"), index=False)
    line = refused(run("hp-baseline", "--train-data", str(tmp_path / "unlabelled.csv"), "--benchmark-data",
                       str(tmp_path / "one.csv"), "--output", str(tmp_path / "c")), 3)
    assert line == "hp-baseline: error: training table %s has 1 row without a label; fill in or remove it" % (
        tmp_path / "unlabelled.csv")


def test_a_binary_labels_positive_class_is_the_rarer_unless_given(tmp_path):
    """Binary precision, recall and F1 are about the positive class: by default the one a model
    is usually asked to find, the rarer."""
    tables = [tmp_path / "base.csv", tmp_path / "bench.csv"]
    for start, table in zip((0, 60), tables):  # 'yes' in a quarter of the rows
        table.write_text("x,label\n" + "".join("%d,%s\n" % (i, "yes" if i % 4 == 0 else "no")
                                               for i in range(start, start + 60)), encoding="utf-8")
    for given, expected in ((), "yes"), (("--positive-class", "no"), "no"):
        output = tmp_path / ("bundle" + "".join(given))
        built = run("hp-baseline", "--train-data", tables[0], "--benchmark-data", tables[1], "--output", output,
                    *given)
        assert built.code == 0, built
        with open(str(output / "manifest.json"), encoding="utf-8") as handle:
            assert json.load(handle)["positive_class"] == expected
    line = refused(run("hp-baseline", "--train-data", tables[0], "--benchmark-data", tables[1], "--output",
                       tmp_path / "c", "--positive-class", "maybe"), 2)
    assert line.startswith("hp-baseline: error: --positive-class 'maybe' is not one of the classes")


def test_a_positive_class_is_for_two_classes_only(tmp_path):
    """Of more classes every metric is weighted over all of them: a positive class would mean nothing."""
    result = run("hp-baseline", *TABLES, "--output", str(tmp_path / "b"), "--positive-class", "M")
    assert (result.code, result.stdout) == (2, "")
    assert result.err_lines == ["hp-baseline: error: --positive-class is for a label of two classes; 'label' has 4; "
                                "leave it out: every metric of more classes is weighted over all of them"]
    assert not (tmp_path / "b").exists()


def _split(dataset, train_rows, bench_rows, seed=1):
    """A shipped dataset's rows shuffled, without repeats: (training, benchmark) DataFrames."""
    import pandas as pd

    frame = pd.read_parquet(os.path.join(DATASETS, dataset + ".parquet")).drop_duplicates()
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return (frame.iloc[:train_rows].reset_index(drop=True),
            frame.iloc[train_rows:train_rows + bench_rows].reset_index(drop=True))


def _build(tmp_path, train, bench, *extra):
    paths = [str(tmp_path / "train.parquet"), str(tmp_path / "bench.parquet")]
    train.to_parquet(paths[0], index=False)
    bench.to_parquet(paths[1], index=False)
    return run("hp-baseline", "--train-data", paths[0], "--benchmark-data", paths[1], "--output",
               str(tmp_path / "bundle"), "--jobs", "1", *extra), paths


def test_a_clean_build_gives_no_warning(tmp_path):
    train, bench = _split("credit_data", 600, 900)
    result, _ = _build(tmp_path, train, bench)
    assert result.code == 0, result
    assert len(result.err_lines) == 1 and result.err_lines[0].startswith("hp-baseline: built "), result
    shipped = run("hp-baseline", *TABLES, "--output", str(tmp_path / "shipped"), "--jobs", "1")
    assert shipped.code == 0, shipped
    assert [line for line in shipped.err_lines if "warning" in line] == [
        "hp-baseline: warning: the benchmark has 700 rows, fewer than the 800 DeltaOne needs: every verdict will "
        "be insufficient_samples"]  # its only shortcoming


def test_labels_that_differ_only_in_letter_case_are_warned_about(tmp_path):
    """'BAD' and 'bad' become two classes, as hp-load tells a contributor ("did you mean 'bad'?")."""
    train, bench = _split("credit_data", 600, 900)
    train.loc[train.index[train["label"] == "bad"][:20], "label"] = "BAD"
    result, _ = _build(tmp_path, train, bench)
    assert result.code == 0, result
    assert result.err_lines[:-1] == [
        "hp-baseline: warning: the training table has labels that differ only in letter case, which become "
        "separate classes: 'BAD' and 'bad'; if they mean the same, make them one value in both tables"]

    train, bench = _split("hpc_data", 600, 900)
    for label in ("F", "L", "M", "VF"):  # four pairs: three shown, then a count
        train.loc[train.index[train["label"] == label][:12], "label"] = " %s " % label.lower()
    result, _ = _build(tmp_path, train, bench, "--force")
    assert result.code == 0, result
    assert ("hp-baseline: warning: the training table has labels that differ only in letter case, which become "
            "separate classes: 'F' and 'f', 'L' and 'l', 'M' and 'm' and 1 more pair; if they mean the same, make "
            "them one value in both tables") in result.err_lines


def test_feature_columns_that_look_like_identifiers_are_warned_about(tmp_path):
    """A product code in every row, a customerId, a row number: features the forest splits on and
    contributors must supply. The reviews are all different too, but free text; and measured
    numbers (fractions) are not identifiers either."""
    import numpy as np

    train, bench = _split("fine_food_reviews", 300, 900)
    assert train["product"].nunique() == len(train) and train["review"].nunique() == len(train)
    for frame, start in ((train, 0), (bench, len(train))):
        frame["customerId"] = np.arange(len(frame)) % 7
        frame["seq"] = np.arange(start, start + len(frame))
        frame["score"] = np.random.RandomState(start).uniform(0, 5, len(frame))
        # Whole amounts that happen to differ in every row of a small table are no counter.
        frame["amount"] = np.random.RandomState(start).choice(10 ** 6, len(frame), replace=False)
    result, _ = _build(tmp_path, train, bench)
    assert result.code == 0, result
    assert result.err_lines[:-1] == [
        "hp-baseline: warning: feature columns 'product' (a different value in every row), 'customerId' (named like "
        "one) and 'seq' (a different value in every row) look like identifiers: the forest splits on them and "
        "contributors must supply them; drop them from both tables"]  # not also as unseen benchmark categories

    train, bench = _split("credit_data", 600, 900)
    train["ID"], bench["ID"] = "x", "x"
    result, _ = _build(tmp_path, train, bench, "--force")
    assert result.err_lines[:-1] == [
        "hp-baseline: warning: feature column 'ID' (named like one) looks like an identifier: the forest splits on it "
        "and contributors must supply it; drop it from both tables"]
    train, bench = _split("credit_data", 40, 900)  # fewer than 50 rows: all different by chance
    train["code"], bench["code"] = ["c%d" % i for i in range(40)], "c1"
    result, _ = _build(tmp_path, train, bench, "--force")
    assert result.code == 0 and "identifier" not in result.stderr, result


def test_a_benchmark_of_a_single_class_is_refused_as_a_training_table_of_one_is(tmp_path):
    """AUROC is undefined on it, precision is 1.0 whatever the model does, and DeltaOne would
    judge one class alone: refused with exit 3, as a single-class training table is."""
    import pandas as pd

    bench = pd.read_parquet(EXAMPLES + "/hpc_jobs_700.parquet")
    path = tmp_path / "vf.csv"
    bench[bench["label"] == "VF"].to_csv(str(path), index=False)
    result = run("hp-baseline", "--train-data", EXAMPLES + "/hpc_jobs_1000.csv", "--benchmark-data", str(path),
                 "--output", str(tmp_path / "b"))
    assert (result.code, result.stdout) == (3, "")
    assert result.err_lines == ["hp-baseline: error: benchmark table %s has a single class 'VF': AUROC is undefined "
                                "on it, precision is trivially 1.0 and DeltaOne would judge that class alone; give a "
                                "benchmark with rows of at least two classes" % path]
    assert not (tmp_path / "b").exists()


def test_benchmark_categories_the_training_table_lacks_are_warned_about(tmp_path):
    train, bench = _split("credit_data", 600, 900)
    owners = int((bench["Home"] == "owner").sum())
    bench.loc[bench["Home"] == "owner", "Home"] = "OWNER"
    bench.loc[bench.index[:3], "Job"] = " fixed"
    result, _ = _build(tmp_path, train, bench)
    assert result.code == 0, result
    assert result.err_lines[:-1] == [
        "hp-baseline: warning: the benchmark has categories the training table lacks, which the baseline never "
        "learnt: 'Home' (%d rows, e.g. 'OWNER' - did you mean 'owner'?), 'Job' (3 rows, e.g. ' fixed' - did you mean "
        "'fixed'?); write them as the training table does if they mean the same, or give the training table rows "
        "of them" % owners]
    # A new value is worth a word from 1% of the benchmark's rows on: 9 of 900, not 8.
    bench = _split("credit_data", 600, 900)[1]
    bench.loc[bench.index[:8], "Marital"] = "eloped"
    result, _ = _build(tmp_path, train, bench, "--force")
    assert result.code == 0 and result.err_lines[:-1] == []
    bench.loc[bench.index[:9], "Marital"] = "eloped"
    result, _ = _build(tmp_path, train, bench, "--force")
    assert result.err_lines[:-1] == [
        "hp-baseline: warning: the benchmark has categories the training table lacks, which the baseline never "
        "learnt: 'Marital' (9 rows, e.g. 'eloped'); write them as the training table does if they mean the same, "
        "or give the training table rows of them"]


def test_a_feature_empty_in_the_training_table_takes_its_kind_from_the_benchmark(tmp_path):
    """Read from a CSV, a column without a value has no type: it was made categorical, and every
    number a contribution gave it a category the baseline never saw (and drift)."""
    import pandas as pd

    frame = pd.read_csv(EXAMPLES + "/hpc_jobs_1000.csv")
    train = frame.head(400).assign(hour="")
    train.to_csv(str(tmp_path / "train.csv"), index=False)
    result = run("hp-baseline", "--train-data", str(tmp_path / "train.csv"), "--benchmark-data",
                 EXAMPLES + "/hpc_jobs_700.parquet", "--output", str(tmp_path / "b"))
    assert result.code == 0, result
    assert ("hp-baseline: warning: feature column 'hour' has no value in the training table: the baseline learns "
            "nothing from it (its kind is the benchmark's: numeric); fill it in, or drop it from both tables"
            ) in result.err_lines
    with open(str(tmp_path / "b" / "manifest.json")) as handle:
        kinds = {f["name"]: f["kind"] for f in json.load(handle)["features"]}
    assert kinds["hour"] == "numeric"


def test_a_benchmark_whose_per_tree_probabilities_are_large_is_warned_about():
    """Every preview computes, holds and caches trees x benchmark rows x classes float64s: past
    256 MB hp-baseline names the figure and what shrinks it."""
    from hokusai_preview.tools.baseline import _per_tree_warning

    assert _per_tree_warning(100, 1500, 4) is None  # the embedded baseline's: 4.6 MB
    assert _per_tree_warning(100, 1677, 200) is None  # just under 256 MB
    warning = _per_tree_warning(100, 2000, 200)
    assert "100 trees x 2,000 rows x 200 classes x 8 bytes = 305 MB" in warning
    assert warning.endswith("a smaller benchmark or fewer classes shrink that in proportion")
