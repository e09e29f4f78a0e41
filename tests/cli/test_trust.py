"""Trust and safety: hostile bundles are refused before use, pickles only load with --trust-model,
and --output-file is written atomically and never into a directory."""

import json
import os
import subprocess

import pandas as pd
import pytest

import hostile_bundles as hb
from helpers import EXAMPLES, ROOT, Result, cache_files, pipe, refused, run, validate


@pytest.fixture
def hostile(bundles, tmp_path):
    """Build a corpus case from the hpc bundle; each in a directory of its own (for files "outside")."""

    def make(name, source="hpc"):
        parent = tmp_path / name
        parent.mkdir()
        return hb.CORPUS[name](bundles(source)[0], str(parent / "bundle"))

    return make


# name, exit status, words the one line must contain
CORPUS_CASES = [
    ("pickle_model", 6, ["model.pkl", "pickle", "runs any code", "--trust-model"]),
    ("joblib_model", 6, ["model.joblib", "joblib", "runs any code", "--trust-model"]),
    ("pickle_named_skops", 6, ["model.skops", "is a pickle, not the skops file"]),
    ("untrusted_skops", 6, ["model.skops", "outside the trusted list", "system"]),
    ("changed_model", 5, ["model.skops", "changed after the manifest was written"]),
    ("changed_benchmark", 5, ["benchmark.parquet", "changed after the manifest was written"]),
    ("dotdot_path", 5, ["'../benchmark.parquet'", "leaves the bundle directory"]),
    ("symlink_outside", 5, ["benchmark.parquet", "links outside the bundle directory"]),
    ("missing_file", 5, ["base.parquet", "missing"]),
    ("manifest_not_json", 4, ["manifest.json", "not valid JSON"]),
    ("future_version", 4, ["format version 2", "reads version 1"]),
    ("features_as_names", 4, ["manifest.json: features[0] must be an object with a name and a kind",
                              "rebuild the bundle with hp-baseline"]),
    ("unknown_feature_kind", 4, ["manifest.json: features[0]", 'has kind "ordinal", not one of numeric, categorical, '
                                 "text", "rebuild the bundle with hp-baseline"]),
    ("zero_trees", 4, ["manifest.json: recipe.params.n_estimators must be a whole number from 1 to 10000, not 0"]),
    ("trees_as_text", 4, ['recipe.params.n_estimators must be a whole number from 1 to 10000, not "100"']),
    ("unknown_param", 4, ["recipe.params.bogus is not a parameter of the recipe"]),
    ("whole_test_size", 4, ["recipe.test_size must be a number from 0 up to (not including) 1, not 1.0"]),
    ("not_a_forest", 4, ['model_type is "LinearRegression"; this hokusai-preview previews RandomForestClassifier']),
    ("unknown_primary_metric", 4, ['primary_metric is "logloss", not one of accuracy, precision, recall, f1, auroc']),
    ("metric_as_text", 4, ["metrics must give each of accuracy, precision, recall, f1, auroc as a number from 0"]),
    ("feature_twice", 4, ["manifest.json: features name 'protocol' twice"]),
    ("benchmark_as_csv", 4, ["the benchmark table", "benchmark.parquet is not a Parquet file"]),
    ("benchmark_without_label", 4, ["benchmark.parquet lacks the column 'label' that its manifest names"]),
    ("benchmark_without_rows", 4, ["benchmark.parquet has no rows"]),
    ("benchmark_label_as_number", 4, ["benchmark.parquet holds the label 'label' as int8, not as text"]),
    ("manifest_fifo", 4, ["manifest.json: not a regular file"]),
    ("nul_in_path", 5, ["'model.skops\\x00x' links outside the bundle directory"]),
    ("huge_depth", 4, ["recipe.params.max_depth must be a whole number from 1 to 2**31 - 1, or null"]),
    ("base_samples_as_text", 4, ['base_samples must be a whole number of at least 0, not "abc"']),
    ("label_column_twice", 4, ["benchmark.parquet has two columns named 'label'"]),
    ("category_as_list", 4, ["benchmark.parquet holds the categorical feature 'protocol' as list<", "not as text"]),
    ("infinite_feature", 4, ["benchmark.parquet holds an infinite value in the numeric feature 'compounds' (first: "
                             "row 1)"]),
    ("damaged_pages", 4, ["the benchmark table", "benchmark.parquet cannot be read"]),
    ("benchmark_label_missing", 4, ["benchmark.parquet: the benchmark holds the label null, which is not among"]),
    ("base_label_unknown", 4, ['base.parquet: the base holds the label "XX", which is not among']),
    # Found by loading the model, which hp-load does the first time it meets a bundle (its
    # verdict remembered): refused before any stage computes, caches or writes anything.
    ("feature_dropped", 4, ["model.skops", "was not fitted on the features its manifest lists"]),
    ("kind_changed", 4, ["model.skops", "was not fitted on the features its manifest lists"]),
    ("tree_child_outside", 4, ["model.skops", "tree 0 of its forest is damaged"]),
    ("tree_cycle", 4, ["model.skops", "tree 0 of its forest is damaged"]),
    ("tree_unknown_feature", 4, ["model.skops", "tree 0 of its forest is damaged"]),
    ("classes_extra", 4, ["model.skops predicts the classes F, L, M, VF, where its manifest lists F, L, M, VF, ZZ"]),
    ("classes_reversed", 4, ["model.skops predicts the classes F, L, M, VF, where its manifest lists VF, M, L, F"]),
    ("model_five_trees", 4, ["model.skops holds 5 trees, where its recipe grows 100"]),
    ("base_is_benchmark", 4, ["its base table is its benchmark table (the same SHA-256)"]),
    ("base_copy_of_benchmark", 4, ["its base table is its benchmark table (the same SHA-256)"]),
    ("base_samples_wrong", 4, ["its base table has 600 rows, where base_samples says 601"]),
    ("base_rows_wrong", 4, ["its base table has 600 rows, where files.base.rows says 7"]),
    ("extra_roles", 4, ["manifest.json: files.r0 is not a file of the bundle format (model, benchmark, base)"]),
    ("zip_bomb", 4, ["model.skops would unpack to 1.2 GB, over the 1 GB limit", "not opened"]),
]


@pytest.mark.parametrize("via", ["hp-load", "hokusai-preview"])
@pytest.mark.parametrize("name,code,words", CORPUS_CASES, ids=[c[0] for c in CORPUS_CASES])
def test_hostile_bundle_is_refused_before_anything_is_used(name, code, words, via, hostile, example_csv, cache_dir,
                                                           tmp_path):
    bundle = hostile(name)
    output = tmp_path / "out.json"
    if via == "hp-load":
        result = run("hp-load", "--data-path", example_csv, "--baseline-model", bundle)
    else:  # the driver stops at its first stage with that stage's line and leaves no output file
        done = driver("--data-path", example_csv, "--baseline-model", bundle, "--output-file", output,
                      cache=cache_dir)
        result = Result(done.returncode, done.stdout, done.stderr)
    refused(result, code, *words, command="hp-load", cache_dir=cache_dir)
    assert not output.exists()
    assert not [p for p in cache_files(tmp_path) if p.endswith(".created")]  # no pickle ran


def test_a_trusted_pickle_passes_hp_load_but_hp_train_refuses_it_without_the_option(hostile, example_csv,
                                                                                     cache_dir, tmp_path):
    bundle = hostile("pickle_model")
    marker = tmp_path / "pickle_model" / "pickle_model.created"
    loaded = run("hp-load", "--data-path", example_csv, "--baseline-model", bundle, "--trust-model")
    assert loaded.code == 0, loaded
    assert "warning: --trust-model: accepting the pickle model file" in loaded.stderr
    (record,) = loaded.records
    validate(record, "load")
    assert record["baseline"]["model_format"] == "pickle" and record["baseline"]["trust_model"] is True
    before = set(cache_files())

    result = run("hp-train", stdin=loaded.stdout)
    refused(result, 6, "pickle model file", "--trust-model", command="hp-train", cache_dir=False)
    assert set(cache_files()) == before  # no train or reference entry
    assert not marker.exists()

    # Opting in is the user's explicit choice: the pickle runs (and, not being a model, is refused).
    trusted = run("hp-train", "--trust-model", stdin=loaded.stdout)
    assert "hp-train: warning: --trust-model: the pickle model file" in trusted.stderr
    assert marker.exists()
    assert trusted.code == 4 and trusted.stdout == "", trusted
    assert trusted.err_lines[-1].startswith("hp-train: error: ") and "TextIOWrapper, not the recipe's Pipeline" \
        in trusted.err_lines[-1]
    assert set(cache_files()) == before


class ExitsQuietly:
    """Unpickling this calls sys.exit(0): a run that would look finished, with nothing done."""

    def __reduce__(self):
        import sys

        return (sys.exit, (0,))


def test_a_trusted_pickle_that_exits_while_loading_fails_the_run(bundles, example_csv, tmp_path):
    import pickle

    bundle = hb.copy_bundle(bundles("hpc")[0], str(tmp_path / "b"))
    hb.replace_file(bundle, "model", "model.pkl", pickle.dumps(ExitsQuietly()), "pickle")
    loaded = run("hp-load", "--data-path", example_csv, "--baseline-model", bundle, "--trust-model")
    assert loaded.code == 0, loaded
    trained = run("hp-train", "--trust-model", stdin=loaded.stdout)
    assert trained.code == 4 and trained.stdout == "", trained
    assert trained.err_lines[-1] == "hp-train: error: model file %s cannot be loaded: SystemExit; rebuild the " \
        "bundle with hp-baseline" % os.path.join(bundle, "model.pkl")


def test_the_sha256_is_checked_before_a_trusted_pickle_is_loaded(hostile, example_csv, tmp_path):
    bundle = hostile("pickle_model")
    loaded = run("hp-load", "--data-path", example_csv, "--baseline-model", bundle, "--trust-model")
    assert loaded.code == 0, loaded
    # Swapped after hp-load verified it: another pickle, same size or not, same manifest.
    swapped = tmp_path / "swapped.created"
    with open(os.path.join(bundle, "model.pkl"), "wb") as handle:
        handle.write(hb.file_creating_pickle(str(swapped)))
    result = run("hp-train", "--trust-model", stdin=loaded.stdout)
    refused(result, 5, "model.pkl", "changed after the manifest was written", command="hp-train", cache_dir=False)
    assert not swapped.exists()


def test_a_model_swapped_after_the_bundle_was_verified_is_not_loaded(bundles, tmp_path):
    from hokusai_preview.core.bundle import Bundle
    from hokusai_preview.core.errors import IntegrityError

    bundle = Bundle.open(hb.copy_bundle(bundles("hpc")[0], str(tmp_path / "b")))
    hb.changed_file(bundles("hpc")[0], str(tmp_path / "other"), "model")
    os.replace(str(tmp_path / "other" / "model.skops"), bundle.file_path("model"))
    with pytest.raises(IntegrityError, match="changed after the manifest was written"):
        bundle.load_model()


def test_a_table_swapped_after_the_bundle_was_verified_is_not_used(bundles, tmp_path):
    from hokusai_preview.core.bundle import Bundle
    from hokusai_preview.core.errors import IntegrityError

    bundle = Bundle.open(hb.copy_bundle(bundles("hpc")[0], str(tmp_path / "b")))
    hb.benchmark_replaced(bundles("hpc")[0], str(tmp_path / "other"), lambda f: hb._parquet_bytes(f.iloc[::-1]))
    os.replace(str(tmp_path / "other" / "benchmark.parquet"), bundle.file_path("benchmark"))
    for read in (lambda: bundle.read_table("benchmark"), bundle.benchmark_labels):
        with pytest.raises(IntegrityError, match="benchmark.parquet was changed after the manifest was written"):
            read()


@pytest.mark.parametrize("fmt,source", [("pickle", "hpc_finetune"), ("joblib", "hpc")])
def test_a_real_model_as_pickle_or_joblib_runs_with_trust_model_and_the_output_says_so(fmt, source, bundles,
                                                                                       tmp_path):
    import io
    import pickle

    import joblib

    original, _ = bundles(source)
    bundle = hb.copy_bundle(original, str(tmp_path / fmt))
    model = hb.load_skops_model(bundle)
    buffer = io.BytesIO()
    joblib.dump(model, buffer) if fmt == "joblib" else pickle.dump(model, buffer)
    hb.replace_file(bundle, "model", "model." + {"pickle": "pkl", "joblib": "joblib"}[fmt], buffer.getvalue(), fmt)

    def stages(path, *trust):
        data = os.path.join(EXAMPLES, "hpc_jobs_500.json")
        return pipe(("hp-load", "--data-path", data, "--baseline-model", path) + trust, ("hp-sample",),
                    ("hp-train",) + trust, ("hp-eval",), ("hp-delta",), ("hp-format", "--output-format", "json"))

    trusted = stages(bundle, "--trust-model")
    for result in trusted:
        assert result.code == 0, result
    assert "warning: --trust-model" in trusted[0].stderr and "warning: --trust-model" in trusted[2].stderr
    output = json.loads(trusted[-1].stdout)
    validate(output, "delta-output")
    meta = output["preview_metadata"]
    assert meta["trust"] == {"model_format": fmt, "trust_model": True}
    assert any("loaded with --trust-model" in w for w in meta["warnings"])

    plain = json.loads(stages(original)[-1].stdout)
    assert plain["preview_metadata"]["trust"] == {"model_format": "skops", "trust_model": False}
    assert not any("--trust-model" in w for w in plain["preview_metadata"]["warnings"])
    # The same model, however it was stored, gives the same numbers.
    assert output["delta_computation"] == plain["delta_computation"]


def test_a_bundle_whose_labels_are_not_the_datas_is_refused_at_hp_load(tmp_path, example_csv, cache_dir):
    frame = pd.read_parquet(os.path.join(ROOT, "datasets", "hpc_data.parquet")).sample(900, random_state=3)
    frame["label"] = "other_" + frame["label"].astype(str)
    frame.iloc[:600].to_parquet(str(tmp_path / "base.parquet"), index=False)
    frame.iloc[600:].to_parquet(str(tmp_path / "bench.parquet"), index=False)
    built = run("hp-baseline", "--train-data", tmp_path / "base.parquet", "--benchmark-data",
                tmp_path / "bench.parquet", "--output", tmp_path / "other", "--jobs", "1")
    assert built.code == 0, built
    result = run("hp-load", "--data-path", example_csv, "--baseline-model", tmp_path / "other")
    refused(result, 3, "none of its labels", "is a class of the baseline", command="hp-load")


def test_a_table_checked_batch_by_batch_names_its_first_bad_row(bundles, tmp_path):
    import pyarrow as pa

    from hokusai_preview.core.bundle import Bundle
    from hokusai_preview.core.errors import BaselineError

    def damage(table, _features):
        hours = table.column("hour").to_pylist()
        hours[69] = float("inf")
        return hb._column_as(table, "hour", pa.array(hours, pa.float64()))

    bundle = Bundle.open(hb.table_replaced(bundles("hpc")[0], str(tmp_path / "b"), "base", damage))
    with pytest.raises(BaselineError, match=r"base.parquet holds an infinite value in the numeric feature 'hour' "
                                            r"\(first: row 70\)"):
        bundle._check_streamed("base", batch_rows=32)


def test_a_remembered_verdict_does_not_pass_a_bundle_whose_manifest_changed(bundles, tmp_path, example_csv,
                                                                            cache_dir):
    bundle = bundles("hpc")[0]
    assert run("hp-load", "--data-path", example_csv, "--baseline-model", bundle).code == 0
    # Same files, same SHA-256s; one class fewer, which the model still predicts (checked first)
    # and the benchmark still holds.
    edited = hb.edited_manifest(bundle, str(tmp_path / "edited"), lambda m: m["classes"].remove("VF"))
    result = run("hp-load", "--data-path", example_csv, "--baseline-model", edited)
    refused(result, 4, "model.skops predicts classes its manifest lacks: VF", command="hp-load", cache_dir=False)


@pytest.mark.parametrize("value", [None, "abc"])
def test_a_benchmark_without_its_data_hash_is_refused(bundles, tmp_path, example_csv, value):
    """Every evaluation carries the benchmark's hash (DeltaOne compares it): without it, a record
    would fail its schema three stages later."""
    def drop(manifest):
        if value is None:
            del manifest["files"]["benchmark"]["data_hash"]
        else:
            manifest["files"]["benchmark"]["data_hash"] = value

    edited = hb.edited_manifest(bundles("hpc")[0], str(tmp_path / "edited"), drop)
    refused(run("hp-load", "--data-path", example_csv, "--baseline-model", edited), 4,
            "files.benchmark.data_hash is %s, not sha256: and 64 hexadecimal digits" % ("null" if value is None
                                                                                       else '"abc"'),
            command="hp-load")


@pytest.mark.parametrize("where", ["class", "category"])
def test_a_bundle_from_before_numbers_in_text_were_read_as_numbers_is_refused(where, bundles, tmp_path,
                                                                             example_csv, cache_dir):
    """Before 0.8.0 a label or category "01" read as text stayed "01"; contributions now give "1"."""
    import pyarrow as pa

    source = bundles("hpc")[0]
    if where == "class":
        old = hb.edited_manifest(source, str(tmp_path / "old"), lambda m: m["classes"].__setitem__(0, "01"))
        words = ['manifest.json: the class "01" is read as "1" in contributions (a bundle built before 0.8.0']
    else:
        old = hb.table_replaced(source, str(tmp_path / "old"), "base", lambda tb, f: hb._column_as(
            tb, "protocol", pa.array(["01"] + tb.column("protocol").to_pylist()[1:], pa.string())))
        words = ["base.parquet holds the category \"01\" in 'protocol', which contributions give as \"1\""]
    result = run("hp-load", "--data-path", example_csv, "--baseline-model", old)
    refused(result, 4, *words, command="hp-load")


def test_labels_the_bundle_lacks_are_dropped_and_counted(bundles, tmp_path, example_csv):
    bundle, _ = bundles("hpc")
    frame = pd.read_csv(example_csv)
    frame.loc[frame.index[:100], "label"] = "mystery"
    frame.to_csv(str(tmp_path / "partial.csv"), index=False)
    result = run("hp-load", "--data-path", tmp_path / "partial.csv", "--baseline-model", bundle)
    assert result.code == 0, result
    validation = result.records[0]["contribution"]["validation"]
    assert validation["unseen_labels"] == {"mystery": 100}
    assert validation["rows_dropped"] == 100
    assert result.records[0]["contribution"]["rows_used"] == len(frame) - 100


def test_the_bundle_manifest_check_refuses_an_unknown_model_format(bundles, tmp_path, example_csv, cache_dir):
    bundle = hb.copy_bundle(bundles("hpc")[0], str(tmp_path / "b"))
    manifest = hb.read_manifest(bundle)
    manifest["files"]["model"]["format"] = "onnx"
    hb.write_manifest(bundle, manifest)
    result = run("hp-load", "--data-path", example_csv, "--baseline-model", bundle)
    refused(result, 4, "'onnx'", "skops, pickle, joblib", command="hp-load")


@pytest.mark.parametrize("field,value,words", [
    ("features", {"protocol": "categorical"}, "features must be a non-empty list, not {"),
    ("features", [], "features must be a non-empty list, not []"),
    ("features", [{"kind": "numeric"}], "features[0] must be an object with a name and a kind"),
    ("classes", "A,B", 'classes must be a non-empty list of strings, not "A,B"'),
    ("classes", [1, 2], "classes must be a non-empty list of strings, not [1, 2]"),
    ("label_column", ["label"], 'label_column must be a string, not ["label"]'),
    ("recipe", {"name": "random_forest_v1"}, "recipe.params must be an object, not null"),
    ("recipe", [], "recipe.params must be an object, not []"),
])
def test_the_bundle_manifest_fields_are_checked_before_use(field, value, words, bundles, tmp_path):
    """A wrong type reached the code that uses the field: an internal error (exit 1), or a
    misleading data error."""
    from hokusai_preview.core.bundle import Bundle
    from hokusai_preview.core.errors import BaselineError

    bundle = hb.edited_manifest(bundles("hpc")[0], str(tmp_path / "b"), lambda m: m.update({field: value}))
    with pytest.raises(BaselineError) as caught:
        Bundle.open(bundle)
    assert type(caught.value) is BaselineError and caught.value.exit_code == 4
    line = caught.value.line()
    assert line.startswith(os.path.join(bundle, "manifest.json") + ": " + words), line
    assert line.endswith("; rebuild the bundle with hp-baseline")


def test_a_benchmark_label_missing_from_the_classes_is_refused(bundles, tmp_path):
    from hokusai_preview.core.bundle import Bundle
    from hokusai_preview.core.errors import BaselineError

    bundle = hb.edited_manifest(bundles("hpc")[0], str(tmp_path / "b"),
                                lambda m: m.update(classes=[c for c in m["classes"] if c != "VF"]))
    with pytest.raises(BaselineError) as caught:
        Bundle.open(bundle).benchmark_labels()
    assert caught.value.line() == ("%s: the benchmark holds the label \"VF\", which is not among the manifest's "
                                   "classes; rebuild the bundle with hp-baseline" % os.path.join(bundle,
                                                                                              "benchmark.parquet"))


# --- --output-file --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def delta_record(bundles, tmp_path_factory):
    """A real delta record, saved to a file (computed once for the module, in a cache of its own)."""
    bundle, _ = bundles("hpc")
    cache = ("--cache-dir", str(tmp_path_factory.mktemp("delta-cache")))
    results = pipe(("hp-load", "--data-path", os.path.join(EXAMPLES, "hpc_jobs_500.json"),
                    "--baseline-model", bundle) + cache, ("hp-sample",) + cache, ("hp-train",) + cache,
                   ("hp-eval",) + cache, ("hp-delta",) + cache)
    assert results[-1].code == 0, results[-1]
    path = tmp_path_factory.mktemp("records") / "delta.jsonl"
    path.write_text(results[-1].stdout)
    return str(path)


@pytest.mark.parametrize("target", ["directory", "link_to_directory", "trailing_slash"])
def test_output_file_never_writes_into_a_directory(target, delta_record, tmp_path):
    directory = tmp_path / "dir"
    directory.mkdir()
    if target == "directory":
        output = str(directory)
    elif target == "link_to_directory":
        output = str(tmp_path / "link")
        os.symlink(str(directory), output)
    else:
        output = str(tmp_path / "new") + "/"
    result = run("hp-format", "--output-format", "json", "--output-file", output, delta_record)
    refused(result, 7, "a directory", "give a file name", command="hp-format", cache_dir=False)
    assert os.listdir(str(directory)) == []
    assert sorted(os.listdir(str(tmp_path))) == sorted(["dir"] + (["link"] if target == "link_to_directory" else []))


def test_output_file_is_replaced_whole_by_a_rename(delta_record, tmp_path):
    output = tmp_path / "out.json"
    output.write_text("old content\n")
    old_inode = os.stat(str(output)).st_ino
    result = run("hp-format", "--output-format", "json", "--output-file", output, delta_record)
    assert result.code == 0 and result.stdout == "", result
    validate(json.loads(output.read_text()), "delta-output")
    assert os.stat(str(output)).st_ino != old_inode  # a new file renamed into place, not rewritten in place
    assert os.listdir(str(tmp_path)) == ["out.json"]  # no temporary file left


def test_output_file_through_a_link_replaces_the_link_not_its_target(delta_record, tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me\n")
    link = tmp_path / "out.json"
    os.symlink(str(target), str(link))
    result = run("hp-format", "--output-format", "json", "--output-file", link, delta_record)
    assert result.code == 0, result
    assert target.read_text() == "keep me\n"
    assert not link.is_symlink()
    validate(json.loads(link.read_text()), "delta-output")


def test_a_failed_format_keeps_the_old_output_file(delta_record, tmp_path):
    output = tmp_path / "out.json"
    output.write_text("old content\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(open(delta_record).read() + "not a record\n")
    result = run("hp-format", "--output-format", "json", "--output-file", output, bad)
    assert result.code == 2 and result.stdout == "", result
    assert output.read_text() == "old content\n"
    assert sorted(os.listdir(str(tmp_path))) == ["bad.jsonl", "out.json"]


def test_atomic_path_refuses_a_directory_that_appears_while_writing(tmp_path):
    from hokusai_preview.core.errors import OutputError
    from hokusai_preview.core.fsutil import atomic_path

    output = tmp_path / "out.json"
    with pytest.raises(OutputError, match="cannot write"):
        with atomic_path(str(output)) as tmp:
            with open(tmp, "w") as handle:
                handle.write("complete\n")
            (output / "inside").mkdir(parents=True)  # a directory (not empty) takes the name meanwhile
    assert os.listdir(str(output)) == ["inside"]
    assert os.listdir(str(tmp_path)) == ["out.json"]


# --- the driver -----------------------------------------------------------------------------------


def driver(*argv, cache, timeout=600):
    env = dict(os.environ, HP_CACHE_DIR=str(cache))
    return subprocess.run([os.path.join(ROOT, "bin", "hokusai-preview")] + [str(a) for a in argv],
                          capture_output=True, text=True, env=env, timeout=timeout)


def test_the_driver_passes_trust_model_to_the_stages_that_need_it(bundles, tmp_path):
    import pickle

    bundle = hb.copy_bundle(bundles("hpc_finetune")[0], str(tmp_path / "b"))
    hb.replace_file(bundle, "model", "model.pkl", pickle.dumps(hb.load_skops_model(bundle)), "pickle")
    result = driver("--data-path", os.path.join(EXAMPLES, "hpc_jobs_500.json"), "--baseline-model", bundle,
                    "--trust-model", "--output-format", "json", cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    assert "hp-load: warning: --trust-model" in result.stderr and "hp-train: warning: --trust-model" in result.stderr
    assert json.loads(result.stdout)["preview_metadata"]["trust"] == {"model_format": "pickle", "trust_model": True}


def test_a_file_listed_twice_is_hashed_once_and_a_role_without_end_is_refused_unread(hostile, monkeypatch):
    import hokusai_preview.core.bundle as bundle_module
    from hokusai_preview.core.errors import BaselineError

    hashed = []
    real = bundle_module.sha256_file
    monkeypatch.setattr(bundle_module, "sha256_file", lambda path: hashed.append(path) or real(path))
    with pytest.raises(BaselineError, match="its base table is its benchmark table"):
        bundle_module.Bundle.open(hostile("base_is_benchmark"))
    assert len(hashed) == len(set(hashed)) == 2  # model and benchmark, once each
    hashed.clear()
    many = hostile("extra_roles")
    with pytest.raises(BaselineError, match="files.r0 is not a file of the bundle format"):
        bundle_module.Bundle.open(many)
    assert hashed == []  # refused before any file is read
