"""hp-sample on real loaded contributions: stratified, every class kept, deterministic, recorded."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd

from helpers import ROOT, pipe, run, validate


def loaded(tmp_path, bundle, frame, name="contribution.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    result = run("hp-load", path, "--baseline-model", bundle)
    assert result.code == 0, result
    return result.stdout


def sample(load_stdout, *argv):
    result = run("hp-sample", *argv, stdin=load_stdout)
    assert result.code == 0, result
    (record,) = result.records
    validate(record, "sample")
    return record, pd.read_parquet(record["sample"]["table_path"])


def test_a_larger_contribution_is_sampled_by_label(tmp_path, bundles):
    bundle, rest = bundles("hpc")
    frame = rest.copy()
    frame.loc[frame.index[-1], "label"] = "L"
    frame.loc[(frame["label"] == "L") & (frame.index < frame.index[-1]), "label"] = "M"  # L: one row left
    stdout = loaded(tmp_path, bundle, frame)
    record, table = sample(stdout, "--sample-size", "300")
    s = record["sample"]
    assert s["sampled"] is True
    assert s["sample_size_used"] == len(table) == 300
    assert s["original_data_size"] == len(frame)
    assert s["class_counts_original"] == frame["label"].value_counts().to_dict()
    assert s["class_counts"] == table["label"].value_counts().to_dict()
    assert s["class_counts"]["L"] == 1  # the rare class is kept
    counts = frame["label"].value_counts()
    others = counts.drop("L")
    exact = others * (299 / others.sum())
    assert (np.abs(table["label"].value_counts().drop("L") - exact) < 1).all()
    # rows are the loaded rows, in file order
    source = pd.read_parquet(record["contribution"]["table_path"])
    merged = table.merge(source.reset_index(), how="left", on=list(table.columns))
    assert merged["index"].is_monotonic_increasing and merged["index"].notna().all()
    assert "sampled 300 of {:,} rows".format(len(frame)) in run("hp-sample", "--no-cache", "--sample-size", "300",
                                                         stdin=stdout).stderr


def test_the_same_seed_gives_the_same_sample(tmp_path, bundles):
    bundle, rest = bundles("hpc")
    stdout = loaded(tmp_path, bundle, rest)
    _, first = sample(stdout, "--sample-size", "500", "--seed", "3")
    _, again = sample(stdout, "--sample-size", "500", "--seed", "3", "--no-cache")
    _, other = sample(stdout, "--sample-size", "500", "--seed", "4")
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)
    assert first["label"].value_counts().to_dict() == other["label"].value_counts().to_dict()


def test_smaller_data_passes_through_unchanged(tmp_path, bundles):
    bundle, rest = bundles("hpc")
    stdout = loaded(tmp_path, bundle, rest.head(150))
    record, table = sample(stdout, "--sample-size", "10000")
    s = record["sample"]
    assert s["sampled"] is False
    assert s["sample_size_used"] == s["original_data_size"] == 150
    assert s["table_path"] == record["contribution"]["table_path"]
    assert s["class_counts"] == s["class_counts_original"]
    # Neither size nor seed mattered, so neither is recorded: the cached record another seed
    # reuses must not name the first run's.
    assert s["sample_size_requested"] is None and s["seed"] is None
    again, _ = sample(stdout, "--sample-size", "5000", "--seed", "9")
    assert again["sample"] == s


def test_the_preview_reports_the_sample_sizes(tmp_path, bundles):
    bundle, rest = bundles("hpc")
    path = tmp_path / "rest.csv"
    rest.to_csv(path, index=False)
    results = pipe(("hp-load", path, "--baseline-model", bundle), ("hp-sample", "--sample-size", "400"),
                   ("hp-train",), ("hp-eval",), ("hp-delta",))
    assert all(r.code == 0 for r in results), results
    meta = results[-1].records[0]["output"]["preview_metadata"]
    assert meta["sample_size_used"] == 400 and meta["original_data_size"] == len(rest)


def test_sampling_does_not_import_pandas(tmp_path, bundles):
    """hp-sample starts fast: it streams Parquet with pyarrow and never needs pandas."""
    bundle, rest = bundles("hpc")
    record = tmp_path / "load.jsonl"
    record.write_text(loaded(tmp_path, bundle, rest))
    code = ("import sys\nfrom hokusai_preview.stages.sample import Sample\n"
            "status = Sample().main(['--sample-size', '100', %r])\n"
            "sys.stderr.write('pandas loaded: %%s\\n' %% ('pandas' in sys.modules))\nsys.exit(status)" % str(record))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, HP_CACHE_DIR=str(tmp_path / "cache")))
    assert done.returncode == 0, done.stderr
    assert "sampled 100 of" in done.stderr
    assert "pandas loaded: False" in done.stderr
