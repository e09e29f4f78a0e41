"""The model recipe: the main pipeline's random forest behind a preprocessing step.

The main pipeline trains ``RandomForestClassifier(n_estimators=100, max_depth=10,
min_samples_split=5, random_state=42)`` on every column but the label and ``query_id``, fitted
on the training part of a stratified 80/20 train/test split of its rows (``random_state=42``;
:func:`split_positions`). Its own code passes raw columns, so this module adds the encoding a
real table needs:

* numeric columns: missing values imputed with the median (of the training rows);
* categorical columns: ordinal codes (trees split on them well); missing -> ``"__missing__"``,
  categories unseen in training -> -1;
* free-text columns: TF-IDF of words and word pairs (at most 2,000 terms); missing -> ``""``.

Trees are added in rounds with ``warm_start`` so a preview can stop early. Because every tree's
seed is drawn from one ``RandomState(random_state)`` in order, a forest grown in rounds is
identical to one grown at once, and its first ``k`` trees are the forest with ``k`` trees.
scikit-learn is imported lazily: stages that do not train never pay for it.
"""

import re

import numpy as np

RECIPE_NAME = "random_forest_v1"
FOREST_PARAMS = {"n_estimators": 100, "max_depth": 10, "min_samples_split": 5, "random_state": 42}
TEST_SIZE = 0.2  # the share of the training rows the main pipeline's split holds out
TEXT_MAX_FEATURES = 2000
MISSING_CATEGORY = "__missing__"
ID_COLUMNS = ("query_id",)

# The only types the recipe's models need beyond skops' defaults (scikit-learn's estimators,
# builtins, numpy arrays): the median imputer's dtype and the trees. A model file
# needing any other type is refused before loading. tests/unit/test_trusted_types.py checks that
# numeric, categorical and text (TF-IDF) models, as hp-baseline and hp-train write them, need
# exactly these: nothing missing, nothing broader.
TRUSTED_TYPES = [
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    # Older scikit-learn (1.3, the last for Python 3.8) keeps TF-IDF weights as a sparse
    # diagonal matrix: a plain data container.
    "scipy.sparse._csr.csr_matrix",
]


def default_recipe(random_state=None):
    """The recipe as recorded in a bundle manifest."""
    params = dict(FOREST_PARAMS)
    if random_state is not None:
        params["random_state"] = int(random_state)
    return {"name": RECIPE_NAME, "estimator": "RandomForestClassifier", "params": params,
            "test_size": TEST_SIZE,
            "preprocessing": {"numeric": "median_impute", "categorical": "ordinal",
                              "text": "tfidf_1_2gram_%d" % TEXT_MAX_FEATURES}}


def split_positions(labels, test_size, seed):
    """The main pipeline's train/test split: which rows the recipe is fitted on, in what order.

    ``train_test_split(rows, test_size=test_size, stratify=labels, random_state=seed)``; the
    split depends only on the labels' classes and their sort order, so ``labels`` are codes
    whose order is the main pipeline's raw labels' (:func:`class_order`). The
    order it returns decides the forest's bootstrap draws, so the trees are the ones the main
    pipeline grows on the same rows. Where no stratified split exists (a class of one row, fewer
    held-out rows than classes) the split is unstratified; where no row can be held out, or
    ``test_size`` is 0 (bundles that predate the split), every row is kept in order.

    Returns
    -------
    (int64 array of kept row positions, how: "stratified", "random" or "none")
    """
    rows = np.arange(len(labels), dtype=np.int64)
    if not test_size:
        return rows, "none"
    from sklearn.model_selection import train_test_split

    for how, stratify in (("stratified", labels), ("random", None)):
        try:
            kept, _ = train_test_split(rows, test_size=test_size, stratify=stratify, random_state=seed)
        except ValueError:
            continue
        return kept, how
    return rows, "none"


def training_rows(frame, label, test_size, seed):
    """The rows of ``frame`` the recipe is fitted on (:func:`split_positions` of its labels).

    Returns
    -------
    (pandas.DataFrame of the kept rows with a fresh index, how: "stratified", "random" or "none")
    """
    classes, codes = np.unique(frame[label].astype(str).to_numpy(), return_inverse=True)
    kept, how = split_positions(class_order(classes)[codes], test_size, seed)
    return frame.iloc[kept].reset_index(drop=True), how


def class_order(classes):
    """Codes for ``classes`` (distinct canonical labels) whose order is the order of the main
    pipeline's raw label column: by value when every class is a number, else as text.

    train_test_split's stratified split follows the classes' sort order, and the main pipeline
    sorts the raw column, where 10 follows 2 and -2 precedes -1, though "10" < "2" as text.
    (Decimal orders canonical numbers exactly, at any length.)

    Returns
    -------
    int64 array, one code per class: its position in that order
    """
    from decimal import Decimal

    classes = [str(c) for c in classes]
    if all(_NUMBER.match(c) for c in classes):
        ordered = sorted(classes, key=lambda c: (Decimal(c), c))
    else:
        ordered = sorted(classes)
    return class_codes(classes, ordered)


def infer_kind(series):
    """'numeric', 'categorical' or 'text' for a pandas column.

    Strings whose values average at least five words are free text; other strings, booleans
    and objects are categorical.
    """
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return "categorical"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    values = series.dropna().astype(str)
    if len(values) and values.head(2000).str.split().str.len().mean() >= 5:
        return "text"
    return "categorical"


# Text a CSV reader types as a number or a boolean stands for that value, so the same data gives
# the same classes and categories as CSV, JSON or Parquet, whichever way its column was typed:
# "1.0", "01", " 1" and 1 are "1" (as 1.0 is), "TRUE" is "true". ASCII digits only, as CSV
# readers. (No nested repeats in the patterns: a long run of digits must not match slowly.)
_INTEGER = re.compile(r"([+-]?)0*([0-9]+)\Z")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_BOOLEANS = {"true": "true", "True": "true", "TRUE": "true", "false": "false", "False": "false", "FALSE": "false"}


def canonical_label(value):
    """A label as the string it is compared as: 1, 1.0, "1.0" and " 1 " are "1"; True and "TRUE"
    are "true"; other text is trimmed; missing, empty, NaN and infinite values are None."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return None
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if value is None:
        return None
    return canonical_category(str(value).strip()) or None


def canonical_category(text):
    """A categorical feature's text value as stored: as it is (not trimmed: " a" and "a" may
    differ), unless it reads as a number or a boolean, spaces around it aside (see
    :func:`canonical_label`). A number too large for a float stays as written."""
    trimmed = text.strip()
    if trimmed in _BOOLEANS:
        return _BOOLEANS[trimmed]
    integer = _INTEGER.match(trimmed)
    if integer:  # by text, not int(): exact at any length (int() refuses over 4,300 digits)
        sign, digits = integer.groups()
        return ("-" if sign == "-" and digits != "0" else "") + digits
    if _NUMBER.match(trimmed):
        number = float(trimmed)
        return canonical_label(number) if np.isfinite(number) else text
    return text


def canonical_labels(series):
    """Vectorised :func:`canonical_label` for a pandas Series; returns an object Series (None = missing)."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return series.map(lambda v: None if pd.isna(v) else canonical_label(v)).astype(object)
    text = series.astype(object).where(series.notna(), None)
    return text.map(lambda v: None if v is None else canonical_label(v))


def canonical_categories(series, kind="categorical"):
    """A categorical or text column's values as hp-load stores a contribution's: categories by
    :func:`canonical_category` (text) or :func:`canonical_label` (booleans, numbers), so that
    True, "TRUE" and "true" are one category and 1.0, "01" and 1 another, in the bundle's tables
    as in every contribution; free text as it is. Missing values are None."""
    import pandas as pd

    def one(value):
        if isinstance(value, str):
            return value if kind == "text" else canonical_category(value)
        return None if value is None or value is pd.NA or value is pd.NaT else canonical_label(value)

    mapped = series.astype(object).map(one).astype(object)
    return mapped.where(mapped.notna(), None)  # map() may give NaN for None


def prepare_features(frame, features):
    """Type each feature column for the preprocessing step.

    Parameters
    ----------
    frame : pandas.DataFrame
        Holds at least the named feature columns (extra columns are ignored).
    features : list of dict
        The manifest's features: ``{"name", "kind"}``.

    Returns
    -------
    pandas.DataFrame with the feature columns only: numeric as float64 (missing = NaN),
    categorical as str objects (missing = ``"__missing__"``), text as str (missing = ``""``).
    """
    import pandas as pd

    out = {}
    for feature in features:
        name, kind = feature["name"], feature["kind"]
        column = frame[name]
        if kind == "numeric":
            out[name] = pd.to_numeric(column, errors="coerce").astype("float64")
        else:
            filler = MISSING_CATEGORY if kind == "categorical" else ""
            values = column.astype(object).where(column.notna(), None)
            out[name] = values.map(lambda v, f=filler: f if v is None else str(v)).astype(object)
    return pd.DataFrame(out, index=frame.index)


def build_preprocessor(features):
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OrdinalEncoder

    numeric = [f["name"] for f in features if f["kind"] == "numeric"]
    categorical = [f["name"] for f in features if f["kind"] == "categorical"]
    parts = []
    if numeric:
        parts.append(("numeric", SimpleImputer(strategy="median", keep_empty_features=True), numeric))
    if categorical:
        parts.append(("categorical", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                                     dtype=np.float64), categorical))
    for f in features:
        if f["kind"] == "text":
            parts.append(("text:" + f["name"], TfidfVectorizer(max_features=TEXT_MAX_FEATURES,
                                                               ngram_range=(1, 2), sublinear_tf=True,
                                                               min_df=2, dtype=np.float32), f["name"]))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.3)


def build_forest(params, n_estimators, n_jobs=None):
    from sklearn.ensemble import RandomForestClassifier

    forest_params = dict(params)
    forest_params["n_estimators"] = int(n_estimators)
    return RandomForestClassifier(warm_start=True, n_jobs=n_jobs, **forest_params)


def make_model(preprocessor, forest):
    from sklearn.pipeline import Pipeline

    return Pipeline([("preprocess", preprocessor), ("forest", forest)])


def class_codes(labels, classes, unknown=None, column=None, dtype=np.int64):
    """``labels`` (canonical strings) as their positions in ``classes`` (a numpy array of
    ``dtype``). A label not among them (or missing) gets the code ``unknown`` when it is given
    (e.g. -1), else is refused: ValueError naming the label column (``column``, by default the
    name of a pandas Series given as ``labels``)."""
    position = {c: i for i, c in enumerate(classes)}
    if unknown is not None:
        return np.array([position.get(v, unknown) for v in labels], dtype=dtype)
    try:
        return np.array([position[v] for v in labels], dtype=dtype)
    except KeyError:
        if column is None:
            column = getattr(labels, "name", None)
        raise ValueError("label column %r holds a value outside %s" % (column, list(classes))) from None


def class_columns(forest, classes):
    """Indices mapping each of the forest's classes to the bundle's class list."""
    return class_codes([str(c) for c in forest.classes_], classes)


def iter_tree_probas(forest, X, classes, start=0):
    """Each tree's class probabilities in turn, float64 arrays (n_rows, len(classes)).

    Arguments as for :func:`tree_probas`. One tree's at a time: a consumer that needs only their
    sum, or writes them to a file, never holds (trees, rows, classes) at once, which for a
    benchmark of thousands of rows and hundreds of classes is gigabytes.
    """
    columns = class_columns(forest, classes)
    every = len(columns) == len(classes)  # the trees saw every class: columns is a permutation
    for tree in forest.estimators_[start:]:
        proba = tree.predict_proba(X)
        out = np.empty((X.shape[0], len(classes)), dtype=np.float64) if every else \
            np.zeros((X.shape[0], len(classes)), dtype=np.float64)
        out[:, columns] = proba
        yield out


def tree_probas(forest, X, classes, start=0, out=None):
    """Per-tree class probabilities, float64 array (n_trees - start, n_rows, len(classes)).

    ``forest`` is the fitted Pipeline's forest step, ``X`` the rows already transformed by its
    preprocessing (n_rows, n_encoded_features), ``start`` the first tree wanted (default 0: the
    trees of earlier rounds are skipped). Columns follow ``classes`` (the bundle's order),
    whatever subset of them the trees saw. ``out``, when given, is filled and returned instead
    of a new array (a slice of a buffer for every round's trees, so that no round's are copied).
    """
    # float64 as scikit-learn's own: its forest sums the trees' float64 probabilities in order,
    # which a mean over axis 0 repeats bit for bit. float32 would move AUROC in the 5th digit
    # where rounding breaks a tie between two rows' scores.
    if out is None:
        out = np.empty((len(forest.estimators_[start:]), X.shape[0], len(classes)), dtype=np.float64)
    for i, proba in enumerate(iter_tree_probas(forest, X, classes, start)):
        out[i] = proba
    return out


def tree_proba_mean(forest, X, classes, start=0):
    """``tree_probas(forest, X, classes, start).mean(axis=0)``, bit for bit, without holding
    every tree's probabilities: float64 array (n_rows, len(classes)).

    numpy's mean over the first axis adds the trees in order, element by element, then divides
    by their number, as this does; only where a tree gives a single value does it sum pairwise,
    and that is computed as it does.
    """
    if X.shape[0] * len(classes) < 2:
        return tree_probas(forest, X, classes, start).mean(axis=0)
    total, trees = None, 0
    for proba in iter_tree_probas(forest, X, classes, start):
        if total is None:
            total = proba
        else:
            total += proba
        trees += 1
    if total is None:  # no trees: numpy's mean of nothing (NaN, with its warning)
        return np.empty((0, X.shape[0], len(classes))).mean(axis=0)
    return np.true_divide(total, trees, out=total)


def canonical_label_array(array, trim=True):
    """Labels (or, with ``trim=False``, category values) as canonical strings, computed once per
    distinct value.

    Follows core/recipe.canonical_label (canonical_category for a category's text): 1, 1.0,
    "01" and "1" are the same; a label's text is trimmed; NaN, empty and missing labels are null.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_null(array.type):
        return pa.nulls(len(array), pa.string())
    if not trim and pa.types.is_string(array.type):
        # Categories are nearly always canonical already: then the array is kept, not rebuilt.
        if all(v is None or canonical_category(v) == v for v in pc.unique(array).to_pylist()):
            return array
        canonical = canonical_category
    else:
        canonical = canonical_label
    encoded = pc.dictionary_encode(array)
    mapped = [None if v is None else canonical(v) for v in encoded.dictionary.to_pylist()]
    return pc.take(pa.array(mapped, type=pa.string()), encoded.indices)
