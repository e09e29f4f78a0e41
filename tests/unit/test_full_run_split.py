"""hp-train's FullRunSplit: a preview fits the rows the full run fits, restricted to its sample."""

import numpy as np
import pandas as pd
import pytest

from hokusai_preview.core.recipe import canonical_label, training_rows
from hokusai_preview.core.sampling import stratified_indices
from hokusai_preview.stages.train import FullRunSplit


def table(n, seed, classes=("a", "b", "c")):
    rng = np.random.default_rng(seed)
    weights = np.array([6.0, 3.0, 1.0][:len(classes)])
    return pd.DataFrame({"label": rng.choice(list(classes), n, p=weights / weights.sum()),
                         "x": np.arange(n) + 1000 * seed})


def split_of(base, contribution, codes=None, classes=None):
    if codes is None:
        classes, codes = np.unique(contribution["label"].astype(str).to_numpy(), return_inverse=True)
    return FullRunSplit(base, "label", codes, [str(c) for c in classes], 0.2, 42)


@pytest.mark.parametrize("base_rows", [0, 300])
def test_without_sampling_the_frame_is_the_full_runs_exactly(base_rows):
    base, contribution = table(base_rows, 1), table(500, 2)
    split = split_of(base, contribution)
    frame, fitted = split.frame(contribution, np.arange(len(contribution)))
    expected, how = training_rows(pd.concat([base, contribution], ignore_index=True), "label", 0.2, 42)
    pd.testing.assert_frame_equal(frame, expected)  # same rows in the same order: the same trees
    assert how == split.how == "stratified"
    assert fitted == split.fitted_contributed == (frame["x"] >= 2000).sum()
    assert split.fitted_base == len(frame) - fitted == (frame["x"] < 2000).sum()


def test_a_sample_fits_the_full_runs_base_rows_and_its_own_rows_the_full_run_keeps():
    base, whole = table(300, 1), table(2000, 2, classes=("a", "b", "c"))
    classes, codes = np.unique(whole["label"].to_numpy(), return_inverse=True)
    positions = stratified_indices(codes, 400, 42)
    sample = whole.iloc[positions].reset_index(drop=True)
    split = split_of(base, sample, codes, classes)  # labels of every row, rows of the sample only
    frame, fitted = split.frame(sample, positions)
    full, _ = training_rows(pd.concat([base, whole], ignore_index=True), "label", 0.2, 42)
    sampled_x = set(sample["x"])
    expected = full[(full["x"] < 2000) | full["x"].isin(sampled_x)].reset_index(drop=True)
    pd.testing.assert_frame_equal(frame, expected)
    assert (frame["x"] < 2000).sum() == split.fitted_base == (full["x"] < 2000).sum()
    assert fitted == frame["x"].isin(sampled_x).sum() and 0.7 * 400 < fitted < 0.9 * 400
    assert split.fitted_contributed == (full["x"] >= 2000).sum()


def test_a_class_only_the_base_has_keeps_the_labels_order():
    # The split depends on the labels' classes and sort order; codes must keep both.
    base, contribution = table(200, 1, classes=("a", "z")), table(300, 2, classes=("b", "c"))
    frame, _ = split_of(base, contribution).frame(contribution, np.arange(len(contribution)))
    expected, _ = training_rows(pd.concat([base, contribution], ignore_index=True), "label", 0.2, 42)
    pd.testing.assert_frame_equal(frame, expected)


def numbered(n, seed, classes):
    """A table whose labels are ``classes`` (raw, e.g. integers) as the tool stores them: canonical strings."""
    rng = np.random.default_rng(seed)
    weights = np.arange(len(classes), 0, -1, dtype=float)
    raw = rng.choice(np.array(classes), n, p=weights / weights.sum())
    return pd.DataFrame({"label": [canonical_label(v) for v in raw], "x": np.arange(n) + 1000 * seed}), raw


@pytest.mark.parametrize("classes", [(1, 2, 3, 10), (-2, -1, 1), (0.5, 2, 10.25), ("a", "b", "c", "ab"),
                                     ("2", "10", "x")])
def test_the_split_orders_classes_as_the_main_pipelines_raw_labels(classes):
    """train_test_split's stratified split follows the classes' sort order, and the main pipeline
    passes the raw column: numbers split as numbers (10 after 2), though they are stored as text;
    labels that are not all numbers as text."""
    from sklearn.model_selection import train_test_split

    frame, raw = numbered(600, 1, classes)
    kept, _ = train_test_split(np.arange(len(frame)), test_size=0.2, stratify=raw, random_state=42)
    rows, how = training_rows(frame, "label", 0.2, 42)
    assert how == "stratified"
    assert rows["x"].tolist() == frame["x"].to_numpy()[kept].tolist()


def test_the_full_runs_split_of_numbered_labels_is_the_main_pipelines():
    """FullRunSplit keeps the rows the main pipeline's split of base + whole contribution keeps,
    raw integer labels, in its order; 10 only the base has, -1 only the contribution."""
    from sklearn.model_selection import train_test_split

    (base, base_raw), (whole, whole_raw) = numbered(300, 1, (1, 2, 3, 10)), numbered(2000, 2, (-1, 1, 2, 3))
    classes, codes = np.unique(whole["label"].to_numpy(), return_inverse=True)
    positions = stratified_indices(codes, 400, 42)
    sample = whole.iloc[positions].reset_index(drop=True)
    split = split_of(base, sample, codes, classes)
    rows = np.arange(len(base) + len(whole))
    kept, _ = train_test_split(rows, test_size=0.2, stratify=np.concatenate([base_raw, whole_raw]), random_state=42)
    assert split.how == "stratified" and split.kept.tolist() == kept.tolist()
    frame, _ = split.frame(sample, positions)
    joined = pd.concat([base, whole], ignore_index=True).iloc[kept]
    expected = joined[(joined["x"] < 2000) | joined["x"].isin(set(sample["x"]))].reset_index(drop=True)
    pd.testing.assert_frame_equal(frame, expected)
