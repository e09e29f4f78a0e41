"""How labels and category values are compared: the same value, however a file typed it."""

import numpy as np
import pandas as pd
import pytest

from hokusai_preview.core.recipe import canonical_categories, canonical_category, canonical_label


@pytest.mark.parametrize("value, expected", [
    (1, "1"), (np.int64(1), "1"), (1.0, "1"), ("1", "1"), ("1.0", "1"), (" 01 ", "1"), ("+1", "1"), ("1e0", "1"),
    (0.5, "0.5"), ("0.50", "0.5"), (".5", "0.5"), ("-0", "0"), (-0.0, "0"),
    ("12345678901234567890", "12345678901234567890"),
    (True, "true"), (np.bool_(False), "false"), ("TRUE", "true"), ("False", "false"),
    (" spam ", "spam"), ("tRuE", "tRuE"), ("1,000", "1,000"), ("\u0661", "\u0661"), ("nan", "nan"),
    (None, None), ("", None), ("  ", None), (float("nan"), None), (float("inf"), None), ("1e999", "1e999"),
    ("-00", "0"), ("-007", "-7"), ("1" * 5000, "1" * 5000),
])
def test_a_label_is_the_string_a_csv_reader_would_make_of_it(value, expected):
    assert canonical_label(value) == expected


@pytest.mark.parametrize("text, expected", [("01", "1"), ("2.50", "2.5"), ("TRUE", "true"), (" a", " a"),
                                            (" 1 ", "1"), ("x1", "x1"), ("1" * 30000 + "x", "1" * 30000 + "x")])
def test_a_category_is_not_trimmed_but_reads_numbers_and_booleans_spaces_aside(text, expected):
    assert canonical_category(text) == expected


def test_free_text_is_kept_as_it_is_and_categories_are_canonical():
    column = pd.Series(["01", True, 2.0, None, "TRUE", "a b"], dtype=object)
    assert canonical_categories(column).tolist() == ["1", "true", "2", None, "true", "a b"]
    assert canonical_categories(column, "text").tolist() == ["01", "true", "2", None, "TRUE", "a b"]


def test_labels_become_class_codes_in_one_way_everywhere(tmp_path):
    """recipe.class_codes is the one mapping of labels to classes: the bundle's, the diagnostics'
    (a table of any size) and hp-sample's (streamed) give the same codes and refuse alike."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from hokusai_preview.core.bundle import class_codes as bundle_codes
    from hokusai_preview.core.diagnostics.run import _label_codes
    from hokusai_preview.core.recipe import class_codes
    from hokusai_preview.stages.sample import label_codes

    classes = ["a", "b", "c"]
    labels = pd.Series(["c", "a", "c", "b"], name="label")
    expected = [2, 0, 2, 1]
    path = str(tmp_path / "labels.parquet")
    pq.write_table(pa.table({"label": labels.tolist()}), path)
    assert class_codes(labels, classes).tolist() == expected
    assert bundle_codes(labels, classes).tolist() == expected
    assert _label_codes(labels, classes).tolist() == expected
    assert label_codes(pq.ParquetFile(path), "label", classes).tolist() == expected
    assert class_codes(["a", "x", None], classes, unknown=-1).tolist() == [0, -1, -1]

    refusal = "label column 'label' holds a value outside ['a', 'b', 'c']"
    for bad in (["a", "x"], ["a", None]):
        with pytest.raises(ValueError) as caught:
            class_codes(pd.Series(bad, name="label"), classes)
        assert str(caught.value) == refusal
        pq.write_table(pa.table({"label": pa.array(bad, pa.string())}), path)
        with pytest.raises(ValueError) as caught:
            label_codes(pq.ParquetFile(path), "label", classes)
        assert str(caught.value) == refusal
    with pytest.raises(ValueError) as caught:
        _label_codes(pd.Series(["a", "x"], name="label"), classes)
    assert str(caught.value) == refusal


@pytest.mark.parametrize("classes, ordered", [
    (["1", "10", "2", "3"], ["1", "2", "3", "10"]),
    (["-1", "-2", "1"], ["-2", "-1", "1"]),
    (["-0.5", "1e+20", "1e999", "2.5", "12345678901234567891", "12345678901234567890"],
     ["-0.5", "2.5", "12345678901234567890", "12345678901234567891", "1e+20", "1e999"]),
    (["1", "10", "2", "a"], ["1", "10", "2", "a"]),  # not all numbers: as text
    (["false", "true"], ["false", "true"]),
])
def test_classes_are_ordered_as_the_main_pipelines_raw_labels(classes, ordered):
    from hokusai_preview.core.recipe import class_order

    codes = class_order(classes)
    assert codes.dtype == np.int64 and [classes[i] for i in np.argsort(codes)] == ordered
