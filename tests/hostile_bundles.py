"""The hostile-bundle corpus, built at test time from a real bundle (so the corpus never goes stale).

Each builder copies a valid bundle to ``target``, damages it one way, and returns the path.
Where the damage must get past the integrity checks to reach a later one (an untrusted model),
the manifest is re-written with the new file's SHA-256, as an attacker would.

    python tests/hostile_bundles.py SOURCE_BUNDLE OUTDIR   # writes every case to OUTDIR/<name>
"""

import hashlib
import json
import os
import pickle
import shutil
import sys


def copy_bundle(source, target):
    shutil.copytree(source, target, symlinks=True)
    return target


def read_manifest(bundle):
    with open(os.path.join(bundle, "manifest.json")) as handle:
        return json.load(handle)


def write_manifest(bundle, manifest):
    with open(os.path.join(bundle, "manifest.json"), "w") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)


def replace_file(bundle, role, name, data, fmt=None):
    """Put ``data`` in the bundle as the ``role`` file ``name`` and record its true SHA-256."""
    manifest = read_manifest(bundle)
    info = manifest["files"][role]
    os.unlink(os.path.join(bundle, info["path"]))
    with open(os.path.join(bundle, name), "wb") as handle:
        handle.write(data)
    info.update(path=name, sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    if fmt is not None:
        info["format"] = fmt
    write_manifest(bundle, manifest)
    return os.path.join(bundle, name)


class CreatesFile:
    """Unpickling this opens ``path`` for writing, creating it: proof that loading ran code."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def file_creating_pickle(marker, fmt="pickle"):
    """Bytes of a pickle (or joblib file) whose loading creates ``marker``."""
    if fmt == "joblib":
        import io

        import joblib

        buffer = io.BytesIO()
        joblib.dump(CreatesFile(marker), buffer)
        return buffer.getvalue()
    return pickle.dumps(CreatesFile(marker))


def load_skops_model(bundle):
    import skops.io as sio

    from hokusai_preview.core.recipe import TRUSTED_TYPES

    with open(os.path.join(bundle, read_manifest(bundle)["files"]["model"]["path"]), "rb") as handle:
        return sio.loads(handle.read(), trusted=TRUSTED_TYPES)


# --- the corpus -------------------------------------------------------------------------------


def pickle_model(source, target, marker, fmt="pickle", declared=True):
    """The model replaced by a pickle/joblib file whose loading creates ``marker``.

    ``declared``: the manifest says so (files.model.format); otherwise the pickle hides
    behind the name model.skops and the manifest's implicit skops format.
    """
    copy_bundle(source, target)
    name = {"pickle": "model.pkl", "joblib": "model.joblib"}[fmt] if declared else "model.skops"
    replace_file(target, "model", name, file_creating_pickle(marker, fmt), fmt if declared else None)
    return target


def untrusted_skops(source, target):
    """A skops model whose pipeline starts with FunctionTransformer(os.system): needs posix.system."""
    import skops.io as sio
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    copy_bundle(source, target)
    model = load_skops_model(target)
    evil = Pipeline([("run", FunctionTransformer(os.system))] + list(model.steps))
    replace_file(target, "model", "model.skops", sio.dumps(evil))
    return target


def changed_file(source, target, role):
    """One byte of the ``role`` file flipped after the manifest was written."""
    copy_bundle(source, target)
    path = os.path.join(target, read_manifest(target)["files"][role]["path"])
    with open(path, "r+b") as handle:
        handle.seek(os.path.getsize(path) // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))
    return target


def dotdot_path(source, target):
    """The benchmark listed as ../benchmark.parquet: a real file with the right SHA-256, outside."""
    copy_bundle(source, target)
    manifest = read_manifest(target)
    inside = os.path.join(target, manifest["files"]["benchmark"]["path"])
    shutil.move(inside, os.path.join(os.path.dirname(target), "benchmark.parquet"))
    manifest["files"]["benchmark"]["path"] = "../benchmark.parquet"
    write_manifest(target, manifest)
    return target


def symlink_outside(source, target):
    """benchmark.parquet is a symlink to an identical file outside the bundle."""
    copy_bundle(source, target)
    inside = os.path.join(target, read_manifest(target)["files"]["benchmark"]["path"])
    outside = os.path.join(os.path.dirname(target), "outside-benchmark.parquet")
    shutil.move(inside, outside)
    os.symlink(outside, inside)
    return target


def missing_file(source, target, role="base"):
    copy_bundle(source, target)
    os.unlink(os.path.join(target, read_manifest(target)["files"][role]["path"]))
    return target


def manifest_not_json(source, target):
    copy_bundle(source, target)
    with open(os.path.join(target, "manifest.json"), "w") as handle:
        handle.write('{"format": "hokusai-preview-bundle", "format_version": 1,\n')  # truncated
    return target


def future_version(source, target):
    copy_bundle(source, target)
    manifest = read_manifest(target)
    manifest["format_version"] = 2
    write_manifest(target, manifest)
    return target


def edited_manifest(source, target, edit):
    """The manifest changed by ``edit(manifest)``; it lists the same files, so every SHA-256 still holds."""
    copy_bundle(source, target)
    manifest = read_manifest(target)
    edit(manifest)
    write_manifest(target, manifest)
    return target


def features_as_names(source, target):
    """features listed as plain names, not {"name", "kind"} objects."""
    return edited_manifest(source, target, lambda m: m.update(features=[f["name"] for f in m["features"]]))


def unknown_feature_kind(source, target):
    """The first feature has a kind the recipe does not encode."""
    return edited_manifest(source, target, lambda m: m["features"][0].update(kind="ordinal"))


def edited_params(source, target, **params):
    """recipe.params changed (or added): n_estimators=0, bogus=1..."""
    return edited_manifest(source, target, lambda m: m["recipe"]["params"].update(params))


def benchmark_replaced(source, target, data_of):
    """The benchmark replaced by ``data_of(frame)`` bytes, its true SHA-256 recorded."""
    import pandas as pd

    copy_bundle(source, target)
    frame = pd.read_parquet(os.path.join(target, "benchmark.parquet"))
    replace_file(target, "benchmark", "benchmark.parquet", data_of(frame))
    return target


def damaged_tree(source, target, damage):
    """The model's first tree changed by ``damage(nodes)`` (only trusted types: it passes the
    type scan); its true SHA-256 recorded. scikit-learn would crash or loop on it."""
    import skops.io as sio

    copy_bundle(source, target)
    model = load_skops_model(target)
    tree = model[-1].estimators_[0].tree_
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    damage(nodes)
    state["nodes"] = nodes
    tree.__setstate__(state)
    replace_file(target, "model", "model.skops", sio.dumps(model))
    return target


def fewer_trees(source, target, trees=5):
    """The model cut to its first ``trees`` trees (the recipe grows more); its true SHA-256 recorded."""
    import skops.io as sio

    copy_bundle(source, target)
    model = load_skops_model(target)
    model[-1].estimators_ = model[-1].estimators_[:trees]
    model[-1].n_estimators = trees
    replace_file(target, "model", "model.skops", sio.dumps(model))
    return target


def base_from_benchmark(source, target, listed=False):
    """The base table is the benchmark: listed as the same file, or a copy of its bytes."""
    copy_bundle(source, target)
    manifest = read_manifest(target)
    if listed:
        manifest["files"]["base"] = dict(manifest["files"]["benchmark"])
        write_manifest(target, manifest)
        return target
    with open(os.path.join(target, manifest["files"]["benchmark"]["path"]), "rb") as handle:
        replace_file(target, "base", "base.parquet", handle.read())
    return target


def extra_roles(source, target, count=3):
    """The model listed again under roles the format does not define (each would be hashed)."""
    return edited_manifest(source, target, lambda m: m["files"].update(
        {"r%d" % i: dict(m["files"]["model"]) for i in range(count)}))


def zip_bomb(source, target):
    """The skops model with one more member: 1.1 GB of zeros, compressed to about 1 MB."""
    import zipfile

    copy_bundle(source, target)
    path = os.path.join(target, read_manifest(target)["files"]["model"]["path"])
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("bomb.npy", "w", force_zip64=True) as member:
            zeros = bytes(1 << 20)
            for _ in range(1100):
                member.write(zeros)
    with open(path, "rb") as handle:
        data = handle.read()
    replace_file(target, "model", os.path.basename(path), data)
    return target


def manifest_fifo(source, target):
    """manifest.json is a named pipe: opening it to read would wait for a writer forever."""
    copy_bundle(source, target)
    os.unlink(os.path.join(target, "manifest.json"))
    os.mkfifo(os.path.join(target, "manifest.json"))
    return target


def table_replaced(source, target, role, damage):
    """The ``role`` table replaced by ``damage(table, features)`` (a pyarrow Table, or bytes), its
    true SHA-256 recorded: it passes the integrity checks, not the table checks."""
    import pyarrow.parquet as pq

    copy_bundle(source, target)
    features = read_manifest(target)["features"]
    table = pq.read_table(os.path.join(target, read_manifest(target)["files"][role]["path"]))
    data = damage(table, features)
    replace_file(target, role, role + ".parquet", data if isinstance(data, bytes) else _table_bytes(data))
    return target


def _first(features, *kinds):
    return next(f["name"] for f in features if f["kind"] in kinds)


def _column_as(table, name, values):
    return table.set_column(table.schema.get_field_index(name), name, values)


def _damaged_pages(table, _features):
    """Data pages scrambled behind an intact footer: the schema reads, the values do not."""
    data = bytearray(_table_bytes(table))
    for at in range(len(data) // 4, len(data) // 2, 7):
        data[at] ^= 0x55
    return bytes(data)


def _label_values(table, value, rows=3):
    labels = table.column("label").to_pylist()
    return _column_as(table, "label", pa_array([value] * rows + labels[rows:], "string"))


def pa_array(values, kind=None):
    import pyarrow as pa

    return pa.array(values, type=pa.string() if kind == "string" else None)


def _table_bytes(table):
    import io

    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _parquet_bytes(frame):
    import io

    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


CORPUS = {
    "pickle_model": lambda s, t: pickle_model(s, t, os.path.join(os.path.dirname(t), "pickle_model.created")),
    "joblib_model": lambda s, t: pickle_model(s, t, os.path.join(os.path.dirname(t), "joblib_model.created"),
                                              fmt="joblib"),
    "pickle_named_skops": lambda s, t: pickle_model(s, t, os.path.join(os.path.dirname(t), "named.created"),
                                                    declared=False),
    "untrusted_skops": untrusted_skops,
    "changed_model": lambda s, t: changed_file(s, t, "model"),
    "changed_benchmark": lambda s, t: changed_file(s, t, "benchmark"),
    "dotdot_path": dotdot_path,
    "symlink_outside": symlink_outside,
    "missing_file": missing_file,
    "manifest_not_json": manifest_not_json,
    "future_version": future_version,
    "features_as_names": features_as_names,
    "unknown_feature_kind": unknown_feature_kind,
    "zero_trees": lambda s, t: edited_params(s, t, n_estimators=0),
    "trees_as_text": lambda s, t: edited_params(s, t, n_estimators="100"),
    "unknown_param": lambda s, t: edited_params(s, t, bogus=1),
    "whole_test_size": lambda s, t: edited_manifest(s, t, lambda m: m["recipe"].update(test_size=1.0)),
    "not_a_forest": lambda s, t: edited_manifest(s, t, lambda m: m.update(model_type="LinearRegression")),
    "unknown_primary_metric": lambda s, t: edited_manifest(s, t, lambda m: m.update(primary_metric="logloss")),
    "metric_as_text": lambda s, t: edited_manifest(s, t, lambda m: m["metrics"].update(accuracy="high")),
    "feature_twice": lambda s, t: edited_manifest(s, t, lambda m: m["features"].append(m["features"][0])),
    "benchmark_as_csv": lambda s, t: benchmark_replaced(s, t, lambda f: f.to_csv(index=False).encode()),
    "benchmark_without_label": lambda s, t: benchmark_replaced(s, t, lambda f: _parquet_bytes(f.drop(columns="label"))),
    "benchmark_without_rows": lambda s, t: benchmark_replaced(s, t, lambda f: _parquet_bytes(f.iloc[:0])),
    "benchmark_label_as_number": lambda s, t: benchmark_replaced(
        s, t, lambda f: _parquet_bytes(f.assign(label=f["label"].astype("category").cat.codes))),
    "feature_dropped": lambda s, t: edited_manifest(s, t, lambda m: m["features"].pop()),
    "kind_changed": lambda s, t: edited_manifest(s, t, lambda m: m["features"][-1].update(kind="text")),
    "tree_child_outside": lambda s, t: damaged_tree(s, t, lambda n: n["left_child"].__setitem__(0, 10 ** 12)),
    "tree_cycle": lambda s, t: damaged_tree(s, t, lambda n: n["left_child"].__setitem__(0, 0)),
    "tree_unknown_feature": lambda s, t: damaged_tree(s, t, lambda n: n["feature"].__setitem__(0, 10 ** 9)),
    "manifest_fifo": manifest_fifo,
    "zip_bomb": zip_bomb,
    "classes_extra": lambda s, t: edited_manifest(s, t, lambda m: m["classes"].append("ZZ")),
    "classes_reversed": lambda s, t: edited_manifest(s, t, lambda m: m["classes"].reverse()),
    "nul_in_path": lambda s, t: edited_manifest(s, t, lambda m: m["files"]["model"].update(path="model.skops\x00x")),
    "huge_depth": lambda s, t: edited_params(s, t, max_depth=10 ** 30),
    "base_samples_as_text": lambda s, t: edited_manifest(s, t, lambda m: m.update(base_samples="abc")),
    "label_column_twice": lambda s, t: table_replaced(
        s, t, "benchmark", lambda tb, f: tb.append_column("label", tb.column("label"))),
    "category_as_list": lambda s, t: table_replaced(s, t, "benchmark", lambda tb, f: _column_as(
        tb, _first(f, "categorical", "text"), pa_array([[1, 2]] * len(tb)))),
    "infinite_feature": lambda s, t: table_replaced(s, t, "benchmark", lambda tb, f: _column_as(
        tb, _first(f, "numeric"), pa_array([float("inf")] * len(tb)))),
    "damaged_pages": lambda s, t: table_replaced(s, t, "benchmark", _damaged_pages),
    "benchmark_label_missing": lambda s, t: table_replaced(s, t, "benchmark", lambda tb, f: _label_values(tb, None)),
    "model_five_trees": fewer_trees,
    "base_is_benchmark": lambda s, t: base_from_benchmark(s, t, listed=True),
    "base_copy_of_benchmark": base_from_benchmark,
    "base_samples_wrong": lambda s, t: edited_manifest(s, t, lambda m: m.update(base_samples=m["base_samples"] + 1)),
    "base_rows_wrong": lambda s, t: edited_manifest(s, t, lambda m: m["files"]["base"].update(rows=7)),
    "extra_roles": extra_roles,
    "base_label_unknown": lambda s, t: table_replaced(s, t, "base", lambda tb, f: _label_values(tb, "XX")),
}


if __name__ == "__main__":
    source, outdir = sys.argv[1], sys.argv[2]
    for name, build in CORPUS.items():
        os.makedirs(os.path.join(outdir, name))  # each case gets a parent of its own for files "outside"
        print(build(source, os.path.join(outdir, name, "bundle")))
