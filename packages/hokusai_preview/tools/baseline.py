"""hp-baseline: build a baseline bundle from a training table and a benchmark
table.

Usage:
  hp-baseline --train-data BASE --benchmark-data BENCH --output DIR [options]
  hp-baseline (-h | --help | --version)

Trains the main pipeline's recipe (a random forest behind numeric, categorical
and text encoding) on BASE, fitted like the main pipeline on the training part
of a stratified 80/20 split of its rows, scores it on BENCH, and writes a bundle
directory: the model (skops), the benchmark table, the base training table
(unless --no-base-table), and manifest.json with the features, classes, recipe,
metrics and the SHA-256 of every file. Tables may be in any format hp-load reads
(files, not stdin). The same inputs and seed give the same model and metrics. It
refuses a benchmark that is the training table, and warns when benchmark rows
also appear in the training table, when the benchmark has fewer than the 800
rows a DeltaOne verdict needs, when a class has fewer than 10 training rows, or
when the per-tree class probabilities every preview computes on the benchmark
(100 trees x rows x classes, 8 bytes each) exceed 256 MB.

Options:
  --train-data BASE       Base training table (features and label).
  --benchmark-data BENCH  Held-out benchmark table with the same columns.
  --output DIR            Bundle directory to create.
  --label-column NAME     Label column of both tables [default: label].
  --model-id ID           Model id for the manifest (default: the output
                          directory's name).
  --positive-class C      A binary label's positive class, recorded in the
                          manifest (default: the rarer class). No metric
                          depends on it: precision, recall and F1 are
                          weighted over both classes, and AUROC is the same
                          from either side.
  --primary-metric NAME   Metric DeltaOne is judged on [default: accuracy].
  --seed N                random_state of the forest and the split
                          [default: 42].
  --no-base-table         Leave the base table out: previews then fine-tune
                          instead of retraining.
  --force                 Replace DIR if it holds a bundle and nothing else.
  --jobs N                CPU cores for training, 0 for all [default: 0].
{basic_options}

Exit status: 0 success, 2 usage, 3 a table that cannot be read or used, 7 DIR
cannot be written (or holds a bundle and --force was not given, or holds other
files too), 1 internal error.
"""

import os
import shutil
import tempfile

from .. import __version__
from ..core.command import Command
from ..core.errors import DataError, HPError, OutputError, UsageError
from ..core.fsutil import inside
from ..core.options import choice_option, jobs_option, seed_option, with_basic_options
from ..core.text import and_list, did_you_mean, name_list, plural, thousands

__doc__ = with_basic_options(__doc__)

MIN_CLASS_ROWS = 10  # fewer training rows of a class than this, and hp-baseline warns
# Every preview computes, holds and caches each tree's class probabilities on the benchmark
# (trees x rows x classes, float64): above this, hp-baseline says what that costs.
PER_TREE_WARN_BYTES = 256 << 20


def read_any(path, expected=()):
    """A whole table in any supported format, as a pandas DataFrame (``expected``: column names
    it should hold, see :class:`BatchReader`)."""
    import pyarrow as pa

    from ..core.dataio import BatchReader, cast_batch, check_readable, read_with_restarts

    check_readable(path, stdin=False)
    reader = BatchReader(path, expected=expected)
    batches = read_with_restarts(lambda: list(reader.batches()), path)
    if not sum(batch.num_rows for batch in batches):  # a header alone gives an empty batch
        raise DataError("%s has no rows" % path, "give a table with data rows")
    # A JSON field null throughout the first batches is typed null there (no restart: nulls read
    # the same whatever the type), so the batches' schemas differ: null takes the later type.
    schema = pa.unify_schemas([batch.schema for batch in batches])
    types = {field.name: field.type for field in schema}
    batches = [batch if batch.schema.equals(schema) else cast_batch(batch, types) for batch in batches]
    return pa.Table.from_batches(batches, schema=schema).to_pandas()


class Baseline(Command):
    name = "hp-baseline"
    usage = __doc__

    def run(self, args):
        from ..core.deltaone import METRICS

        label = args["--label-column"]
        model_id = _model_id(args)
        if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in model_id):  # it heads one-line summaries and reports
            raise UsageError("the model id %r holds a control character (a line break, a tab)" % model_id,
                             "give --model-id, or name --output, in printable characters")
        choice_option(args, "--primary-metric", METRICS)
        seed = seed_option(args)
        jobs = jobs_option(args)
        output = os.path.abspath(args["--output"])
        for option in ("--train-data", "--benchmark-data"):
            # Replacing the folder would delete the table, and comparing real paths sees through links.
            if args[option] != "-" and os.path.lexists(output) and inside(args[option], output):
                from ..core.fsutil import same_path

                if same_path(args[option], output):
                    raise UsageError("--output %s is the %s table itself" % (args["--output"], option),
                                     "give --output the name of a new directory for the bundle")
                raise UsageError("%s %s is inside --output %s, which hp-baseline replaces" % (
                    option, args[option], args["--output"]), "move it out of that folder or choose another --output")
        empty_folder = os.path.isdir(output) and not os.path.islink(output) and not os.listdir(output)
        if os.path.lexists(output) and not empty_folder:
            if not _is_bundle(output):  # --force must never wipe a folder of other things
                raise OutputError("%s exists and is not a bundle (no hokusai-preview manifest.json), so it is "
                                  "not replaced, even with --force" % output, "choose another --output")
            if not args["--force"]:
                raise OutputError("%s already holds a bundle" % output, "choose another --output or pass --force")
            foreign = _foreign_files(output)
            if foreign:  # the whole folder is replaced: --force must not take someone's notes with it
                raise OutputError("%s holds %s, which %s not the bundle's, so it is not replaced, even with --force"
                                  % (output, name_list(foreign, 1, quote=str), "are" if foreign[1:] else "is"),
                                  "move %s elsewhere, or choose another --output" % ("them" if foreign[1:] else "it"))
        from ..core.fsutil import check_writable_place

        check_writable_place(output)  # before the tables are read and the model is trained
        for option in ("--train-data", "--benchmark-data"):
            if args[option] == "-":
                raise UsageError("%s - : hp-baseline reads its tables from files, not stdin" % option,
                                 "save the table to a file and name it")
        train = read_any(args["--train-data"], [label])
        bench = read_any(args["--benchmark-data"], [label])
        spec = self.specify(train, bench, label, args)
        self.check_split(train, spec, seed, args["--train-data"])  # a refusal comes before any warning
        self.check_tables(train, bench, spec, args)
        parent = os.path.dirname(output)
        try:
            os.makedirs(parent, exist_ok=True)
            staging = tempfile.mkdtemp(prefix=".%s.building-" % os.path.basename(output), dir=parent)
        except OSError as exc:
            raise OutputError("cannot create %s: %s" % (output, exc.strerror or exc),
                              "choose a writable place") from None
        try:
            manifest = build_bundle(staging, train, bench, spec, seed, jobs, keep_base=not args["--no-base-table"])
            _replace_dir(staging, output)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self.info("built %s: %s on %s, %s %.4f on %s" % (
            output, manifest["model_type"], plural(manifest["base_samples"], "base row"), manifest["primary_metric"],
            manifest["metrics"][manifest["primary_metric"]], plural(manifest["benchmark_samples"], "benchmark row")))

    def check_split(self, train, spec, seed, path):
        """Refuse a training table whose every row of some class the recipe's 80/20 split holds out:
        the forest would never see that class, and every command would refuse the bundle (its
        model would not predict every class its manifest lists). A class needs 2 rows for the
        stratified split to keep one; a table too small to hold out one row of each class is
        split at random."""
        from ..core.recipe import default_recipe, training_rows

        label = spec["label"]
        fitted, how = training_rows(train[[label]], label, default_recipe(seed)["test_size"], seed)
        lost = sorted(set(spec["classes"]) - set(fitted[label]))
        if not lost:
            return
        counts = train[label].value_counts()
        raise DataError("training table %s: the recipe's 80/20 split holds out every row of %s, so the baseline "
                        "would never learn %s" % (path, name_list(["%s (%s)" % (c, plural(int(counts[c]), "row"))
                                                                  for c in lost], 5, str),
                                                 "it" if len(lost) == 1 else "them"),
                        "give every class at least 2 rows (10 or more for a baseline that knows it), or remove "
                        "its rows from both tables" if how == "random" and counts.min() < 2 else
                        "give the table more rows: at least 5 per class, so that the split can hold out one of each")

    def check_tables(self, train, bench, spec, args):
        """Warn about tables that make a bundle whose verdicts mean little."""
        import pandas as pd

        from ..core.deltaone import MIN_BENCHMARK_ROWS

        columns = [spec["label"]] + [f["name"] for f in spec["features"]]
        bench_rows = pd.util.hash_pandas_object(bench[columns], index=False)
        train_rows = pd.util.hash_pandas_object(train[columns], index=False)
        if len(bench_rows) == len(train_rows) and (bench_rows.values == train_rows.values).all():
            # Every bundle of them is refused when opened (its base table is its benchmark table).
            raise DataError("the training table %s and the benchmark table %s hold the same rows: the new model would "
                            "be scored on the rows it trains on" % (args["--train-data"], args["--benchmark-data"]),
                            "give --benchmark-data rows held out of the training table")
        bench_classes = sorted(set(bench[spec["label"]]))
        if len(bench_classes) == 1:
            # Refused as a training table of one class is: AUROC is undefined on it, weighted precision
            # is 1.0 whatever the model does, and every DeltaOne verdict would judge that class alone.
            raise DataError("benchmark table %s has a single class %r: AUROC is undefined on it, precision is "
                            "trivially 1.0 and DeltaOne would judge that class alone" % (
                                args["--benchmark-data"], bench_classes[0]),
                            "give a benchmark with rows of at least two classes")
        shared = bench_rows.isin(set(train_rows))
        if shared.any():
            self.warn(_shared_rows_warning(bench_rows, train_rows, shared, args["--train-data"]))
        if len(bench) < MIN_BENCHMARK_ROWS:
            self.warn("the benchmark has %s, fewer than the %d DeltaOne needs: every verdict will be "
                      "insufficient_samples" % (plural(len(bench), "row"), MIN_BENCHMARK_ROWS))
        counts = train[spec["label"]].astype(str).value_counts()
        rare = counts[counts < MIN_CLASS_ROWS]
        if len(rare):
            # The 80/20 split may leave a forest none of such a class: a baseline that cannot predict it.
            self.warn("the training table has fewer than %d rows of %s (%s): the baseline barely knows %s; "
                      "give it more rows of %s" % (
                          MIN_CLASS_ROWS, "a class" if len(rare) == 1 else "%d classes" % len(rare),
                          ", ".join("%s %d" % kv for kv in sorted(rare.items())[:5]),
                          "it" if len(rare) == 1 else "them", "it" if len(rare) == 1 else "each"))
        from ..core.recipe import FOREST_PARAMS

        heavy = _per_tree_warning(FOREST_PARAMS["n_estimators"], len(bench), len(spec["classes"]))
        if heavy:
            self.warn(heavy)
        empty = [f for f in spec["features"] if not train[f["name"]].notna().any()]
        if empty:
            self.warn("feature column%s %s %s no value in the training table: the baseline learns nothing from %s "
                      "(%s kind is the benchmark's: %s); fill %s in, or drop %s from both tables" % (
                          "" if len(empty) == 1 else "s", and_list([f["name"] for f in empty], quote=repr),
                          "has" if len(empty) == 1 else "have", "it" if len(empty) == 1 else "them",
                          "its" if len(empty) == 1 else "their", ", ".join(f["kind"] for f in empty),
                          "it" if len(empty) == 1 else "them", "it" if len(empty) == 1 else "them"))
        cased = _case_variants(counts.index)
        if cased:
            self.warn("the training table has labels that differ only in letter case, which become separate "
                      "classes: %s%s; if they mean the same, make them one value in both tables" % (
                          ", ".join(and_list(group, quote=repr) for group in cased[:3]),
                          " and %s" % plural(len(cased) - 3, "more pair") if len(cased) > 3 else ""))
        ids = id_like_features(train, spec["features"])
        if ids:
            one, shown = len(ids) == 1, ["%r (%s)" % pair for pair in ids]
            self.warn("feature column%s %s look%s like %s: the forest splits on %s and contributors must supply "
                      "%s; drop %s from both tables" % (
                          "" if one else "s", and_list(shown) if len(shown) <= 5 else name_list(shown, 5, quote=str),
                          "s" if one else "", "an identifier" if one else "identifiers",
                          *(("it",) * 3 if one else ("them",) * 3)))
        unseen = unseen_categories(train, bench, [f for f in spec["features"] if f["kind"] == "categorical"
                                                  and f["name"] not in {name for name, _ in ids}])
        if unseen:
            shown = ["%r (%s, e.g. %r%s)" % (name, plural(rows, "row"), example, hint)
                     for name, rows, example, hint in unseen[:3]]
            self.warn("the benchmark has categories the training table lacks, which the baseline never learnt: "
                      "%s%s; write them as the training table does if they mean the same, or give the training "
                      "table rows of them" % (", ".join(shown), " and %s" % plural(len(unseen) - 3, "more column")
                                              if len(unseen) > 3 else ""))

    def specify(self, train, bench, label, args):
        """Validate the two tables and decide features, kinds and classes."""
        from ..core.recipe import ID_COLUMNS, canonical_categories, canonical_labels, infer_kind

        for name, frame, path in (("training", train, args["--train-data"]),
                                  ("benchmark", bench, args["--benchmark-data"])):
            if label not in frame.columns:
                columns = [str(c) for c in frame.columns]
                raise DataError("%s table %s has no label column %r (its columns: %s)"
                                % (name, path, label, name_list(columns)),
                                "name the label column with --label-column" + did_you_mean(label, columns))
            labels = canonical_labels(frame[label])
            if labels.isna().any():
                unlabelled = int(labels.isna().sum())
                raise DataError("%s table %s has %s without a label" % (name, path, plural(unlabelled, "row")),
                                "fill in or remove %s" % ("it" if unlabelled == 1 else "them"))
            frame[label] = labels.astype(str)
        features = [c for c in train.columns if c != label and c not in ID_COLUMNS]
        if not features:
            raise DataError("training table %s has no feature columns" % args["--train-data"],
                            "give columns besides the label")
        missing = [c for c in features if c not in bench.columns]
        if missing:
            raise DataError("benchmark table %s lacks feature columns %s" % (args["--benchmark-data"], missing),
                            "give both tables the same columns")
        classes = sorted(set(train[label]))
        if len(classes) > len(train) / 2:  # scikit-learn's own test for "could represent a regression problem"
            from ..core.dataio import is_float

            # Numbers to predict, or simply too few rows for their classes: said as the case is.
            numeric = all(is_float(c) for c in classes) and (
                len(classes) > 50 or not all(float(c).is_integer() for c in classes))  # 0-3: classes, few rows
            raise DataError("training table %s has %s distinct labels in %s: %s" % (
                args["--train-data"], thousands(len(classes)), plural(len(train), "row"),
                "%r holds numbers to predict, not classes" % label if numeric else
                "too few rows per class to train a classifier"),
                "hokusai-preview previews classifiers; give a label column of classes" if numeric else
                "give the training table several rows of each class")
        if len(classes) < 2:
            raise DataError("training table %s has a single class %r" % (args["--train-data"], classes[0]),
                            "a classifier needs at least two classes")
        unseen = sorted(set(bench[label]) - set(classes))
        if unseen:
            raise DataError("benchmark table %s has classes the training table lacks: %s" % (
                args["--benchmark-data"], unseen), "give the training table rows of every class")
        positive = args["--positive-class"]
        if positive is not None and positive not in classes:
            raise UsageError("--positive-class %r is not one of the classes %s" % (positive, classes), None)
        if positive is not None and len(classes) > 2:
            raise UsageError("--positive-class is for a label of two classes; %r has %d" % (label, len(classes)),
                             "leave it out: every metric of more classes is weighted over all of them")
        if positive is None and len(classes) == 2:
            counts = train[label].value_counts()
            positive = min(classes, key=lambda c: (counts.get(c, 0), c))
        # A column with no value in the training table says nothing of its kind: the benchmark's does
        # (else an empty numeric column became categorical, and every contributed number a new category).
        shown = {c: train[c] if train[c].notna().any() else bench[c] for c in features}
        kinds = [{"name": c, "dtype": str(shown[c].dtype), "kind": infer_kind(shown[c])} for c in features]
        for feature in [f for f in kinds if f["kind"] != "numeric"]:
            for frame in (train, bench):  # stored as contributions are, or True and "true" would differ
                frame[feature["name"]] = canonical_categories(frame[feature["name"]], feature["kind"])
        numeric = [f["name"] for f in kinds if f["kind"] == "numeric"]
        numbers_in(train, numeric, args["--train-data"])
        numbers_in(bench, numeric, args["--benchmark-data"])
        model_id = _model_id(args)
        return {"label": label, "features": kinds, "classes": classes, "positive_class": positive,
                "primary_metric": args["--primary-metric"], "model_id": model_id,
                "id_columns": [c for c in ID_COLUMNS if c in train.columns]}



def _shared_rows_warning(bench_rows, train_rows, shared, train_name):
    """The warning for benchmark rows that repeat training rows (row hashes, ``shared`` the mask
    over the benchmark's), naming a few by their data rows (from 1, as the files number them) so
    they can be found. Under 1% of the benchmark, they cannot inflate its metrics much and may be
    records that recur in clean data (credit_data holds such pairs): said so, not called a leak."""
    import numpy as np

    count = int(shared.sum())
    first_in_train = {}
    for position, value in enumerate(train_rows.values):
        first_in_train.setdefault(value, position)
    examples = ["benchmark data row %d = training data row %d" % (position + 1, first_in_train[value] + 1)
                for position, value in zip(np.flatnonzero(shared.values)[:3], bench_rows.values[shared.values][:3])]
    few = count < 0.01 * len(bench_rows)
    return "%s of %s also appear%s in the training table %s (%s%s): %s" % (
        thousands(count), plural(len(bench_rows), "benchmark row"), "s" if count == 1 else "", train_name,
        "; ".join(examples), "; ..." if count > 3 else "",
        "too few to move the baseline's metrics much; if they are records that recur in the data, nothing to do, "
        "otherwise remove them from the benchmark" if few else
        "the baseline's metrics are inflated and contributions are judged on rows it has seen; give a held-out "
        "benchmark")




def _per_tree_warning(trees, rows, classes):
    """The warning for a benchmark of ``rows`` rows and ``classes`` classes whose per-tree class
    probabilities in a forest of ``trees`` trees exceed PER_TREE_WARN_BYTES, or None."""
    size = trees * rows * classes * 8
    if size <= PER_TREE_WARN_BYTES:
        return None
    # hp-train holds the reference's trees (memory-mapped) and 50 subset means of them at once,
    # beside about 0.4 GB of its own (measured at 200 classes x 2,000 rows: 0.84 GB in all).
    peak, megabytes = 1.5 * size / (1 << 30) + 0.4, thousands(size >> 20)
    return ("every preview against this bundle computes, holds and caches each tree's class probabilities on the "
            "benchmark: %d trees x %s rows x %s classes x 8 bytes = %s MB, so hp-train needs about %.1f GB of memory "
            "and the cache %s MB for the bundle and up to as much again per preview; a smaller benchmark or fewer "
            "classes shrink that in proportion" % (trees, thousands(rows), thousands(classes), megabytes, peak,
                                                   megabytes))


def _case_variants(values):
    """Groups of ``values`` spelt alike but for letter case and surrounding spaces (as hp-load
    matches a label to a class: 'BAD' and 'bad'), each sorted, in order; [] if none."""
    from ..core.text import spelling

    groups = {}
    for value in values:
        groups.setdefault(spelling(value), []).append(str(value))
    return sorted(sorted(group) for group in groups.values() if len(group) > 1)


ID_WORDS = {"id", "ids", "uuid", "guid", "key"}  # a feature named ... id, customerId, uuid, row_key
MIN_ID_ROWS = 50  # a column of as many distinct values as rows looks like an identifier from this many rows
# Benchmark categories the training table lacks are worth a word from this share of the benchmark
# on (a handful of rare values is what any split gives), or at any share when one is spelt like a
# training value but for letter case and spaces.
MIN_UNSEEN_SHARE = 0.01


def id_like_features(train, features):
    """[(name, why)] of the features that look like identifiers (row or entity keys): a name whose
    last word is one of :data:`ID_WORDS`, or a categorical column with a different value in every
    row of a table of at least :data:`MIN_ID_ROWS` rows, or a numeric one whose whole numbers are
    as dense as a counter (all different, spanning under twice the rows). Free text (every
    review differs) and measured numbers (fractions, or amounts that happen to differ) are not."""
    import pandas as pd

    from ..core.diagnostics.personal import name_words

    found = []
    for feature in features:
        name, kind = feature["name"], feature["kind"]
        words = name_words(name)
        if words and words[-1] in ID_WORDS:
            found.append((name, "named like one"))
        elif kind != "text" and len(train) >= MIN_ID_ROWS and train[name].nunique(dropna=False) == len(train):
            if kind == "numeric":
                values = pd.to_numeric(train[name], errors="coerce").dropna()
                if not len(values) or not (values % 1 == 0).all() or values.max() - values.min() >= 2 * len(values):
                    continue  # measured (29.85), or amounts that differ in a small table, not a counter
            found.append((name, "a different value in every row"))
    return found


def unseen_categories(train, bench, features):
    """[(column, benchmark rows, example, hint)] of the categorical ``features`` whose benchmark
    values include some the training table lacks, on at least :data:`MIN_UNSEEN_SHARE` of its
    rows or spelt like a training value but for letter case and spaces: the example is the
    commonest one, preferring such a spelling (the hint then says which, as hp-load says of a
    label: " - did you mean 'owner'?"), else the hint is ""."""
    from ..core.text import class_hint, spelling

    found = []
    for feature in features:
        name = feature["name"]
        known = set(train[name].dropna())
        values = bench[name].dropna()
        unseen = values[~values.isin(known)]
        if not len(unseen):
            continue
        counts = sorted(unseen.value_counts().items(), key=lambda kv: (-kv[1], str(kv[0])))
        spelt = {spelling(value) for value in known}
        near = [v for v, _ in counts if spelling(v) in spelt]
        if not near and len(unseen) < MIN_UNSEEN_SHARE * len(bench):
            continue
        example = near[0] if near else counts[0][0]
        found.append((name, len(unseen), example, class_hint(example, sorted(known, key=str))))
    return found


def _model_id(args):
    """--model-id, by default the output directory's name."""
    return args["--model-id"] or os.path.basename(os.path.abspath(args["--output"]).rstrip("/"))


def numbers_in(frame, numeric, path):
    """Check ``frame``'s columns of the numeric features as hp-load checks a contribution's: a
    DataError names the file, column, value and row of text, or of an infinite value (which the
    forest cannot split on). A column read as text becomes float64 numbers (empty cells missing);
    numbers stay as they are, as the data hash has them.

    Left as they are, text such as 'many' in the benchmark would be stored as text under a
    manifest that says numeric, and scored as missing values."""
    import pandas as pd
    import pyarrow as pa

    from ..core.cells import numeric_feature

    for name in numeric:
        array = pa.array(frame[name], from_pandas=True)
        if pa.types.is_large_string(array.type):  # pandas' str columns; the loader reads Arrow's string
            array = array.cast(pa.string())
        values = numeric_feature(array, name, 0, path)
        if not pd.api.types.is_numeric_dtype(frame[name]):
            frame[name] = values.to_numpy(zero_copy_only=False)  # float64, missing as NaN


def build_bundle(directory, train, bench, spec, seed, jobs, keep_base=True):
    """Train, score and write a bundle into ``directory``; returns the manifest."""
    from ..core.bundle import FORMAT, FORMAT_VERSION, MANIFEST, class_codes
    from ..core.fsutil import sha256_file, write_json_atomic
    from ..core.manifest import data_manifest
    from ..core.metrics import score
    from ..core.modelfile import save_model
    from ..core.recipe import (
        build_forest,
        build_preprocessor,
        default_recipe,
        make_model,
        prepare_features,
        training_rows,
        tree_proba_mean,
    )

    label, features, classes = spec["label"], spec["features"], spec["classes"]
    recipe = default_recipe(seed)
    model = make_model(build_preprocessor(features),
                       build_forest(recipe["params"], recipe["params"]["n_estimators"], n_jobs=jobs))
    fitted, _ = training_rows(train, label, recipe["test_size"], seed)
    model.fit(prepare_features(fitted, features), fitted[label].to_numpy())
    forest = model[-1]
    forest.set_params(warm_start=False, n_jobs=None)  # a shipped model carries no machine-specific settings
    bench_X = model[:-1].transform(prepare_features(bench, features))
    y = class_codes(bench[label], classes)
    metrics = score(y, tree_proba_mean(forest, bench_X, classes))

    keep = [label] + [f["name"] for f in features] + spec["id_columns"]
    files = {}
    save_model(model, os.path.join(directory, "model.skops"))
    files["model"] = {"path": "model.skops"}
    tables = [("benchmark", bench)] + ([("base", train)] if keep_base else [])
    hashes = {}
    for role, frame in tables:
        name = role + ".parquet"
        frame = frame[[c for c in keep if c in frame.columns]].reset_index(drop=True)
        frame.to_parquet(os.path.join(directory, name), index=False)
        hashes[role] = data_manifest(frame, name)["data_hash"]
        files[role] = {"path": name, "rows": int(len(frame)), "data_hash": hashes[role]}
    if not keep_base:
        hashes["base"] = data_manifest(train[[c for c in keep if c in train.columns]], "base")["data_hash"]
    for info in files.values():
        path = os.path.join(directory, info["path"])
        info["sha256"] = sha256_file(path)
        info["bytes"] = os.path.getsize(path)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tool_version": __version__,
        "model_id": spec["model_id"],
        "model_type": "RandomForestClassifier",
        "label_column": label,
        "classes": classes,
        "positive_class": spec["positive_class"],
        "primary_metric": spec["primary_metric"],
        "features": features,
        "id_columns": spec["id_columns"],
        "recipe": recipe,
        "files": files,
        "base_samples": int(len(train)),
        "benchmark_samples": int(len(bench)),
        "data_hashes": hashes,
        "metrics": metrics,
    }
    write_json_atomic(os.path.join(directory, MANIFEST), manifest, sort_keys=True)
    return manifest


def _is_bundle(path):
    """Whether ``path`` is a directory holding a hokusai-preview bundle manifest (read as every
    bundle's is: :func:`read_manifest`)."""
    from ..core.bundle import read_manifest

    try:
        read_manifest(path)
    except HPError:
        return False
    return True


def _foreign_files(path):
    """Sorted paths, relative to the bundle at ``path``, of what is in it besides its manifest
    and the files the manifest lists."""
    from ..core.bundle import MANIFEST, manifest_files, read_manifest

    try:
        listed = manifest_files(read_manifest(path)[0]).values()
    except HPError:
        listed = ()
    own = {os.path.normpath(relative) for relative in listed} | {MANIFEST}
    foreign = []

    def unreadable(exc):  # what cannot be listed cannot be told apart from the bundle's
        foreign.append(os.path.relpath(exc.filename, path) + os.sep)

    for top, folders, names in os.walk(path, onerror=unreadable):
        relative = os.path.normpath(os.path.relpath(top, path))
        # os.walk does not enter a link to a folder: it is an entry of its own, like a file
        entries = names + [f for f in folders if os.path.islink(os.path.join(top, f))]
        foreign.extend(e for e in (os.path.normpath(os.path.join(relative, n)) for n in entries) if e not in own)
        if not folders and not names and relative != "." and not any(o.startswith(relative + os.sep) for o in own):
            foreign.append(relative + os.sep)  # an empty folder
    return sorted(foreign)


def _replace_dir(staging, output):
    """Move the finished bundle into place; an existing one (with --force) is replaced whole.

    If the new bundle cannot be put in place, the old one is put back under its name (the
    caller removes ``staging``) and the error is an OutputError."""
    hint = "check the permissions of %s" % os.path.dirname(output)
    old = None
    if os.path.exists(output):
        old = output + ".old-%d" % os.getpid()
        try:
            os.rename(output, old)
        except OSError as exc:
            raise OutputError("cannot replace %s: %s" % (output, exc.strerror or exc), hint) from None
    moved = False
    try:
        os.rename(staging, output)
        moved = True
        os.chmod(output, 0o755)
    except OSError as exc:
        kept = ""
        try:
            if moved:
                os.rename(output, staging)  # the new bundle goes back to be removed
            if old:
                os.rename(old, output)
                kept = "; the old bundle is kept"
        except OSError:
            kept = "; the old bundle is left at %s" % old if old else ""
        raise OutputError("cannot move the new bundle to %s: %s%s" % (output, exc.strerror or exc, kept),
                          hint) from None
    if old:
        shutil.rmtree(old, ignore_errors=True)


main = Baseline.entry_point
