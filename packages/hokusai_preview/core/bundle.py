"""The baseline bundle: a directory holding a trained model, its benchmark and its manifest.

Layout (every path relative to the bundle, recorded with its SHA-256 in the manifest)::

    manifest.json      what the model is and how it was made (schema: schemas/bundle-manifest.schema.json)
    model.skops        the fitted scikit-learn Pipeline, saved with skops (no pickle)
    benchmark.parquet  the held-out benchmark every evaluation scores on
    base.parquet       optional: the base training table (enables retraining like the main pipeline)

Bundles come from elsewhere, so opening one verifies it before anything in it is used, in this
order (the first failure ends the command with one line):

1. the manifest is a regular file inside the bundle, parses as a JSON object of this format,
   and its format version is one this tool reads (a newer one is refused, naming ours) - exit 4;
2. it has every required field, the fields used as they are have the right types (features,
   classes, label_column, recipe.params), it lists the model and benchmark, and the model's
   format is known - exit 4;
3. every listed path stays inside the bundle: relative, no ``..``, no link resolving outside,
   a regular file - exit 5;
4. every listed file exists and matches its recorded SHA-256 - exit 5.

Then, before a command computes anything (:meth:`Bundle.check_contents`), the model file is
checked by :mod:`.modelfile` (exit 6) and the tables' values are checked (exit 4); whatever is
later loaded is checked again as it is read (:meth:`Bundle.load_model`, :meth:`Bundle.read_table`).
"""

import hashlib
import json
import os
import re

from .cache import BUNDLE_CHECK
from .deltaone import METRICS
from .errors import BaselineError, IntegrityError
from .fsutil import inside, refuse_undecodable, regular_file_opener, sha256_file
from .modelfile import (
    REBUILD,
    REFETCH,
    SAFE_FORMAT,
    changed,
    check_format,
    check_model,
    load_model,
    model_format,
    read_verified,
    refuse_untrusted,
)
from .records import whole
from .text import shorten

FORMAT = "hokusai-preview-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
REQUIRED = ("format", "format_version", "model_id", "model_type", "label_column", "classes", "features",
            "recipe", "files", "metrics", "primary_metric")
ENV_BASELINE = "HP_BASELINE"
ROLES = ("model", "benchmark", "base")  # the files a bundle of this format lists, and no others
# The feature kinds core/recipe.py encodes (infer_kind gives them, build_preprocessor uses them).
FEATURE_KINDS = ("numeric", "categorical", "text")
# The warning that a pickle/joblib model file was accepted with --trust-model (trust_warning),
# worded for where it is met: hp-load accepts the file without unpickling it, hp-train loads it,
# and the output (preview_metadata.warnings) says afterwards that it was loaded.
TRUST_WARNINGS = {
    "accepting": "--trust-model: accepting the {format} model file {path}; loading it runs any code it contains",
    "loading": "--trust-model: the {format} model file {path} is loaded as it is; that runs any code it contains",
    "loaded": "the baseline's {format} model file was loaded with --trust-model: it could run any code it contains",
}


EMBEDDED_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "baselines")


def default_bundle_path():
    """``$HP_BASELINE`` if set, else the embedded default baseline inside the package."""
    explicit = os.environ.get(ENV_BASELINE)
    if explicit:
        return explicit
    return os.path.join(EMBEDDED_DIR, "default")


def read_manifest(path):
    """(the manifest of the bundle directory ``path``, the SHA-256 of its bytes), read as every
    reader of a bundle must: a regular file inside ``path`` (a named pipe would block the read
    forever), at most :data:`MAX_MANIFEST_BYTES`, holding a JSON object of this :data:`FORMAT`.
    BaselineError (IntegrityError for a link outside ``path``) otherwise; the rest of the
    manifest is :meth:`Bundle.open`'s to check."""
    manifest_path = os.path.join(path, MANIFEST)
    if os.path.lexists(manifest_path) and not inside(manifest_path, path):
        raise IntegrityError("bundle %s: %s links outside the bundle directory" % (path, MANIFEST),
                             "only use bundles built by hp-baseline")
    try:
        with open(manifest_path, "rb", opener=regular_file_opener) as handle:
            raw = handle.read(MAX_MANIFEST_BYTES + 1)
        if len(raw) > MAX_MANIFEST_BYTES:
            raise BaselineError("%s is over %d MB, far more than a manifest holds" % (
                manifest_path, MAX_MANIFEST_BYTES >> 20), REBUILD)
    except OSError as exc:
        raise BaselineError("cannot read %s: %s" % (manifest_path, exc.strerror or exc),
                            "a bundle directory needs the manifest.json written by hp-baseline") from None
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BaselineError("%s is not valid JSON" % manifest_path, REBUILD) from None
    if not isinstance(manifest, dict):
        raise BaselineError("%s is not a JSON object" % manifest_path, REBUILD)
    if manifest.get("format") != FORMAT:
        raise BaselineError("%s is not a hokusai-preview bundle manifest" % manifest_path,
                            "build one with hp-baseline")
    return manifest, hashlib.sha256(raw).hexdigest()


def manifest_files(manifest):
    """{role: path relative to the bundle} of the files ``manifest`` lists, as it gives them (each
    entry of ``files`` with a string ``path``; none when ``files`` is not an object). Not checked:
    :meth:`Bundle.file_path` confines a path to its bundle."""
    files = manifest.get("files")
    if not isinstance(files, dict):
        return {}
    return {role: info["path"] for role, info in files.items()
            if isinstance(info, dict) and isinstance(info.get("path"), str)}


class Bundle:
    """A verified baseline bundle. Use :meth:`open`.

    Attributes
    ----------
    path : str
        Absolute bundle directory.
    manifest : dict
        The parsed manifest.
    fingerprint : str
        SHA-256 of the manifest bytes; since the manifest holds every file's SHA-256, it
        identifies the whole bundle (cache keys use it).
    trust_model : bool
        Whether the user passed ``--trust-model``: only then may a pickle/joblib model be loaded.
    """

    def __init__(self, path, manifest, fingerprint):
        self.path = path
        self.manifest = manifest
        self.fingerprint = fingerprint
        self.trust_model = False
        self._checked = False  # check_contents passed in this process
        self._table_bytes = {}  # role -> the table's bytes, read and hash-checked once (_checked_table)

    @classmethod
    def for_record(cls, record):
        """The bundle a record names, verified, and refused if it is not the one the record was made with."""
        bundle = cls.open(record["baseline"]["path"])
        if "sha256:" + bundle.fingerprint != record["baseline"]["fingerprint"]:
            raise BaselineError("the baseline bundle %s changed since this record was made" % bundle.path,
                                "run the pipeline again from hp-load")
        return bundle

    @classmethod
    def open(cls, path=None):
        """Open and verify the bundle at ``path`` (default: :func:`default_bundle_path`)."""
        explicit = path is not None
        path = os.path.abspath(path or default_bundle_path())
        refuse_undecodable(path, "the baseline bundle")  # its path goes into every record
        if not os.path.isdir(path):
            if not explicit and os.environ.get(ENV_BASELINE):
                raise BaselineError("%s=%r is not a bundle directory" % (ENV_BASELINE, os.environ[ENV_BASELINE]),
                                    "point %s at a directory built by hp-baseline, or unset it" % ENV_BASELINE)
            if not explicit:
                raise BaselineError("the embedded default baseline is missing at %s" % path,
                                    "run 'make baseline' in the checkout (then install again, if this is an "
                                    "install of your own), or pass --baseline-model DIR")
            what = "does not exist" if not os.path.exists(path) else "is not a directory"
            raise BaselineError("baseline bundle %s %s" % (path, what),
                                "pass a directory built by hp-baseline to --baseline-model")
        manifest, fingerprint = read_manifest(path)
        manifest_path = os.path.join(path, MANIFEST)
        version = manifest.get("format_version")
        if not whole(version) or version > FORMAT_VERSION or version < 1:
            raise BaselineError("%s has bundle format version %s; this hokusai-preview reads version %d" % (
                manifest_path, json.dumps(version), FORMAT_VERSION),
                "upgrade hokusai-preview or rebuild the bundle with this version")
        missing = [k for k in REQUIRED if k not in manifest]
        if missing:
            raise BaselineError("%s lacks %s" % (manifest_path, ", ".join(missing)), REBUILD)
        _check_contents(manifest, manifest_path)
        files = manifest["files"]
        if not isinstance(files, dict) or "model" not in files or "benchmark" not in files:
            raise BaselineError("%s must list the model and benchmark files" % manifest_path, REBUILD)
        unknown = sorted(set(files) - set(ROLES), key=str)
        if unknown:  # each listed file is hashed on every open: a list without end is refused first
            raise BaselineError("%s: files.%s is not a file of the bundle format (%s)" % (
                manifest_path, _short_json(unknown[0]).strip('"'), ", ".join(ROLES)), REBUILD)
        for role, info in sorted(files.items()):
            if not isinstance(info, dict) or not isinstance(info.get("path"), str) \
                    or not isinstance(info.get("sha256"), str):
                raise BaselineError("%s: files.%s needs a path and a sha256" % (manifest_path, role), REBUILD)
            if not re.fullmatch(r"[0-9a-fA-F]{64}", info["sha256"]):
                raise BaselineError("%s: files.%s.sha256 is not 64 hexadecimal digits" % (manifest_path, role),
                                    REBUILD)
            info["sha256"] = info["sha256"].lower()  # hex is hex in either case
        model_format(files["model"]["path"], files["model"].get("format"))  # an unknown format is refused now
        benchmark_hash = files["benchmark"].get("data_hash")  # every evaluation carries it, as upstream's do
        if not (isinstance(benchmark_hash, str) and re.fullmatch(r"sha256:[0-9a-f]{64}", benchmark_hash)):
            raise BaselineError("%s: files.benchmark.data_hash is %s, not sha256: and 64 hexadecimal digits" % (
                manifest_path, _short_json(benchmark_hash)), REBUILD)
        bundle = cls(path, manifest, fingerprint)
        for role in sorted(files):
            bundle.file_path(role)  # confinement check for every listed file
        bundle.verify()
        if bundle.has("base") and files["base"]["sha256"] == files["benchmark"]["sha256"]:
            # the new model would train on the rows it is scored on
            raise BaselineError("bundle %s: its base table is its benchmark table (the same SHA-256)" % path, REBUILD)
        for role, count in (("benchmark", "benchmark_samples"), ("base", "base_samples")):
            if bundle.has(role):  # files that match their hashes may still not match the manifest
                rows = bundle._parquet(role).metadata.num_rows
                for field, stated in (("files.%s.rows" % role, files[role].get("rows")), (count, manifest.get(count))):
                    if stated is not None and stated != rows:
                        raise BaselineError("bundle %s: its %s table has %d rows, where %s says %s" % (
                            path, role, rows, field, _short_json(stated)), REBUILD)
        return bundle

    # --- files ---------------------------------------------------------------------------

    def file_path(self, role):
        """Absolute path of the file with ``role`` (model, benchmark, base), confined to the bundle."""
        relative = manifest_files(self.manifest).get(role)
        if relative is None:
            raise BaselineError("bundle %s has no %s file" % (self.path, role), "rebuild it with hp-baseline")
        if not relative or os.path.isabs(relative) or ".." in relative.replace("\\", "/").split("/"):
            raise IntegrityError("bundle %s: the %s path %r leaves the bundle directory" % (
                self.path, role, relative), "only use bundles built by hp-baseline")
        full = os.path.join(self.path, relative)
        if "\x00" in relative or not inside(full, self.path):
            raise IntegrityError("bundle %s: the %s file %r links outside the bundle directory" % (
                self.path, role, relative), "only use bundles built by hp-baseline")
        return full

    def has(self, role):
        return role in self.manifest["files"]

    def verify(self):
        """Check every listed file against its recorded SHA-256 (raises IntegrityError); a file
        listed twice is read once."""
        digests = {}
        for role, info in sorted(self.manifest["files"].items()):
            full = self.file_path(role)
            if not os.path.lexists(full):
                raise IntegrityError("bundle %s: the %s file %s listed in its manifest is missing" % (
                    self.path, role, info["path"]), REFETCH)
            if not os.path.isfile(full):  # a FIFO or device would hang or never end the hashing
                raise IntegrityError("bundle %s: the %s file %s is not a regular file" % (
                    self.path, role, info["path"]), REFETCH)
            try:
                real = os.path.realpath(full)
                if real not in digests:
                    digests[real] = sha256_file(full)
                digest = digests[real]
            except OSError as exc:
                raise BaselineError("bundle %s: cannot read the %s file %s: %s" % (
                    self.path, role, info["path"], exc.strerror or exc), REBUILD) from None
            if digest != info["sha256"]:
                raise changed("bundle %s: %s" % (self.path, info["path"]))

    # --- the model -----------------------------------------------------------------------

    @property
    def model_format(self):
        """skops, pickle or joblib: ``files.model.format``, else from the model file's name."""
        info = self.manifest["files"]["model"]
        return model_format(info["path"], info.get("format"))

    @property
    def runs_model_code(self):
        """Whether loading the model file runs code it contains: a pickle/joblib file accepted
        with ``--trust-model`` (refused without it)."""
        return self.trust_model and self.model_format != SAFE_FORMAT

    def trust_warning(self, moment):
        """:func:`trust_warning` for this bundle's model file at ``moment``: "accepting" (hp-load)
        or "loading" (hp-train); stages give it when :attr:`runs_model_code`."""
        return trust_warning(self.model_format, moment, self.file_path("model"))

    def check_model(self, trust_model=False):
        """Refuse the model file now if its format cannot be loaded safely: a pickle/joblib file
        without ``trust_model``, a "skops" file that is not one (instant; no code in it runs).
        :meth:`check_contents` does the thorough checks."""
        self.trust_model = bool(trust_model)
        check_format(self.file_path("model"), self.model_format, self.trust_model)

    def check_contents(self, trust_model=False, cache=None):
        """Refuse the bundle now if its model file needs an untrusted type (exit 6) or a table
        holds values the recipe cannot use (:meth:`_checked_table`, exit 4); no code in it runs.

        Commands call this before they compute anything, so a refused bundle leaves no cache
        entry. The scan of a skops file's types needs skops, whose import walks all of
        scikit-learn (seconds), so with a ``cache`` the verdict is remembered (stage
        ``bundle-check``) by the manifest's SHA-256 (which covers every file's) and the
        trusted-type list: a bundle is checked the first time this user's cache meets it, not
        on every run, and a refusal is never remembered. A bundle shipped inside the package is
        part of the installed code, like the modules beside it: it is not checked here (the
        test suite checks it), which spares a first run those seconds. :meth:`load_model` and
        :meth:`read_table` check again whatever they read, embedded or not.
        """
        from .cache import make_key
        from .recipe import TRUSTED_TYPES

        self.check_model(trust_model)
        if self.embedded or self._checked:
            return
        fmt, path = self.model_format, self.file_path("model")
        # The manifest's SHA-256 covers every file's, and the checks read the manifest too. An
        # opted-in pickle has nothing to scan, and its verdict is not remembered.
        key = make_key(BUNDLE_CHECK, self.fingerprint, {"trusted": TRUSTED_TYPES}) \
            if cache is not None and fmt == SAFE_FORMAT else None

        def scan():
            if fmt == SAFE_FORMAT:  # scanned, then loaded (safe once scanned): trees, features and classes are
                types = self.load_model(with_types=True)[1]  # refused here, before any stage caches
            else:
                types = check_model(path, fmt, self.trust_model)
            for role in ("benchmark", "base"):
                if self.has(role):
                    self._check_streamed(role)
            return types

        if key is None:
            scan()
        else:
            cache.build(BUNDLE_CHECK, key, lambda _entry: ({"verdict": "passed", "types": scan()}, []))
        self._checked = True

    def load_model(self, with_types=False):
        """The fitted Pipeline: skops trusting only the recipe's types, or (with --trust-model) unpickled.
        With ``with_types``, (the Pipeline, the skops types its file needs)."""
        path = self.file_path("model")
        model, types = load_model(path, self.model_format, self.trust_model,
                                  sha256=self.manifest["files"]["model"]["sha256"], with_types=True)
        from .recipe import build_preprocessor

        expected = [(name, columns) for name, _, columns in build_preprocessor(self.features).transformers]
        try:
            fitted = [(name, columns) for name, _, columns in model[0].transformers]
        except (AttributeError, IndexError, KeyError, TypeError, ValueError):
            fitted = None  # not the recipe's pipeline at all (a pickle can hold anything)
        if fitted != expected:
            raise BaselineError("model file %s was not fitted on the features its manifest lists, as the recipe "
                                "encodes them" % path, REBUILD)
        predicted = [str(c) for c in getattr(model[-1], "classes_", ())]
        unknown = sorted(set(predicted) - set(self.classes))
        if unknown:
            raise BaselineError("model file %s predicts classes its manifest lacks: %s" % (path, ", ".join(unknown)),
                                REBUILD)
        if predicted != self.classes:  # a class it never predicts, or another order of the same
            raise BaselineError("model file %s predicts the classes %s, where its manifest lists %s" % (
                path, ", ".join(predicted), ", ".join(self.classes)), REBUILD)
        forest = model[-1]
        trees = len(getattr(forest, "estimators_", ()))
        if trees != self.recipe["params"]["n_estimators"]:  # the baseline is the recipe: so many trees
            raise BaselineError("model file %s holds %d trees, where its recipe grows %d" % (
                path, trees, self.recipe["params"]["n_estimators"]), REBUILD)
        try:
            fitted_params = forest.get_params(deep=False)
        except (AttributeError, TypeError):
            fitted_params = {}
        for name, value in sorted(self.recipe["params"].items()):
            if name != "n_estimators" and name in fitted_params and fitted_params[name] != value:
                raise BaselineError("model file %s was fitted with %s=%s, where its recipe says %s" % (
                    path, name, _short_json(fitted_params[name]), _short_json(value)), REBUILD)
        return (model, types) if with_types else model

    @property
    def embedded(self):
        """Whether the bundle ships inside the installed package (``baselines/``)."""
        return os.path.dirname(os.path.realpath(self.path)) == os.path.realpath(EMBEDDED_DIR)

    # --- contents ------------------------------------------------------------------------

    @property
    def label_column(self):
        return self.manifest["label_column"]

    @property
    def classes(self):
        return list(self.manifest["classes"])

    @property
    def features(self):
        return list(self.manifest["features"])

    @property
    def feature_names(self):
        return [f["name"] for f in self.manifest["features"]]

    @property
    def recipe(self):
        return self.manifest["recipe"]

    def identity(self):
        """What a record says about the baseline it was computed against."""
        return {"path": self.path, "model_id": self.manifest["model_id"],
                "model_type": self.manifest["model_type"], "fingerprint": "sha256:" + self.fingerprint,
                "label_column": self.label_column, "classes": self.classes,
                "has_base_table": self.has("base"), "model_format": self.model_format,
                "trust_model": self.runs_model_code}

    def read_table(self, role):
        """A bundle table (benchmark or base) as a pandas DataFrame, as stored (hp-baseline stores
        the labels as canonical strings)."""
        return self._checked_table(role).to_pandas()

    def benchmark_labels(self):
        """Benchmark labels as int codes into :attr:`classes` (numpy array)."""
        from .recipe import class_codes

        table = self._checked_table("benchmark", columns=[self.label_column])
        return class_codes(table.column(0).to_pylist(), self.classes, column=self.label_column)

    def _parquet(self, role, source=None):
        """The bundle table ``role`` as a ParquetFile, checked to hold rows and the columns the
        manifest names, once each (the label as text, numeric features as numbers, the other
        features as text); BaselineError if not. ``source``: the file's bytes, if already read.

        A bundle from elsewhere has files that match their hashes, which says nothing of whether
        they match the manifest. (ParquetFile, not read_table: read_table imports pyarrow.dataset
        and with it pandas, ~1 s.)"""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = self.file_path(role)
        try:
            parquet = pq.ParquetFile(path if source is None else pa.BufferReader(source))
        except (pa.ArrowException, OSError) as exc:
            raise BaselineError("the %s table %s is not a Parquet file (%s)" % (
                role, path, shorten(exc, 80)), REBUILD) from None
        schema = parquet.schema_arrow
        missing = [c for c in [self.label_column] + self.feature_names if c not in schema.names]
        if missing:
            raise BaselineError("the %s table %s lacks the column%s %s that its manifest names" % (
                role, path, "" if len(missing) == 1 else "s", ", ".join(map(repr, missing))), REBUILD)
        twice = [c for c in [self.label_column] + self.feature_names if schema.names.count(c) > 1]
        if twice:
            raise BaselineError("the %s table %s has two columns named %r" % (role, path, twice[0]), REBUILD)
        if not parquet.metadata.num_rows:  # first: an empty column may have no type (null)
            raise BaselineError("the %s table %s has no rows" % (role, path), REBUILD)
        label = schema.field(self.label_column).type
        if not _text_type(label):
            raise BaselineError("the %s table %s holds the label %r as %s, not as text" % (
                role, path, self.label_column, label), REBUILD)
        for feature in self.features:
            kind = schema.field(feature["name"]).type
            numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind)
            if not (pa.types.is_null(kind) or (numeric if feature["kind"] == "numeric" else _text_type(kind))):
                raise BaselineError("the %s table %s holds the %s feature %r as %s, not as %s" % (
                    role, path, feature["kind"], feature["name"], kind,
                    "numbers" if feature["kind"] == "numeric" else "text"), REBUILD)
        return parquet

    def _checked_table(self, role, columns=None):
        """The bundle table ``role`` (only ``columns``, if given) as a pyarrow Table whose values
        pass :meth:`_check_values`, parsed from bytes read once per command and checked against
        the manifest's SHA-256 (a file swapped after :meth:`verify` is refused, not used)."""
        import pyarrow as pa

        path, info = self.file_path(role), self.manifest["files"][role]
        cached = self._table_bytes
        if role not in cached:
            try:
                cached[role] = read_verified(path, info["sha256"], "bundle %s: %s" % (self.path, info["path"]))
            except OSError as exc:
                raise BaselineError("cannot read the %s table %s: %s" % (role, path, exc.strerror or exc),
                                    REFETCH) from None
        try:
            table = self._parquet(role, cached[role]).read(columns=columns)
        except (pa.ArrowException, OSError) as exc:  # damaged pages behind a sound footer
            raise _unreadable(role, path, exc) from None
        self._check_values(role, table)
        return table

    def _check_streamed(self, role, batch_rows=65536):
        """:meth:`_check_values` over the whole ``role`` table, read batch by batch from its path
        (verified when the bundle was opened): memory stays bounded whatever the table's size."""
        import pyarrow as pa

        parquet = self._parquet(role)
        try:
            offset = 0
            for batch in parquet.iter_batches(batch_size=batch_rows):
                self._check_values(role, pa.Table.from_batches([batch]), offset)
                offset += batch.num_rows
        except (pa.ArrowException, OSError) as exc:
            raise _unreadable(role, self.file_path(role), exc) from None

    def _check_values(self, role, table, offset=0):
        """BaselineError naming the first value of ``table`` (the ``role`` table's rows from
        ``offset`` on) the recipe cannot use as this tool reads contributions: a label that is
        missing or not one of the classes, an infinite numeric feature, a category not in the
        form contributions give it (``"01"`` where they give ``"1"``: a bundle built before
        0.8.0)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        from .recipe import canonical_category

        path = self.file_path(role)
        if self.label_column in table.column_names:
            # distinct values, not is_in(): an array built from Python values imports pandas (1 s)
            unknown = sorted(set(pc.unique(table.column(self.label_column)).to_pylist()) - set(self.classes),
                             key=lambda v: (v is not None, v))
            if unknown:  # a bundle from elsewhere: its files agree with its hashes, not with each other
                raise BaselineError("%s: the %s holds the label %s, which is not among the manifest's classes" % (
                    path, role, _short_json(unknown[0])), REBUILD)
        for feature in self.features:
            name = feature["name"]
            if name not in table.column_names:
                continue
            kind = table.schema.field(name).type
            if feature["kind"] == "numeric" and pa.types.is_floating(kind):
                first = pc.index(pc.is_inf(table.column(name)), True).as_py()
                if first >= 0:
                    raise BaselineError("the %s table %s holds an infinite value in the numeric feature %r (first: "
                                        "row %d)" % (role, path, name, offset + first + 1), REBUILD)
            elif feature["kind"] == "categorical" and _text_type(kind):
                for value in pc.unique(table.column(name)).to_pylist():
                    if value is not None and canonical_category(value) != value:
                        raise BaselineError("the %s table %s holds the category %s in %r, which contributions give "
                                            "as %s (a bundle built before 0.8.0)" % (
                                                role, path, _short_json(value), name,
                                                _short_json(canonical_category(value))), REBUILD)


def _unreadable(role, path, exc):
    return BaselineError("the %s table %s cannot be read (%s)" % (role, path, shorten(exc, 80)),
                         REBUILD)


def _text_type(kind):
    import pyarrow as pa

    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def class_codes(labels, classes, unknown=None):
    """:func:`.recipe.class_codes` (int64), for the modules that take it from here: importing
    this module must not import numpy, as the recipe does."""
    from .recipe import class_codes

    return class_codes(labels, classes, unknown)


def _check_contents(manifest, manifest_path):
    """BaselineError naming the first manifest field of the wrong type: a bundle comes from
    elsewhere, and its fields are used as they are."""
    features = manifest["features"]
    if not isinstance(features, list) or not features:
        raise BaselineError("%s: features must be a non-empty list, not %s" % (
            manifest_path, _short_json(features)), REBUILD)
    for index, feature in enumerate(features):
        if not isinstance(feature, dict) or not isinstance(feature.get("name"), str):
            raise BaselineError("%s: features[%d] must be an object with a name and a kind, not %s" % (
                manifest_path, index, _short_json(feature)), REBUILD)
        if feature.get("kind") not in FEATURE_KINDS:
            raise BaselineError("%s: features[%d] (%r) has kind %s, not one of %s" % (
                manifest_path, index, feature["name"], _short_json(feature.get("kind")), ", ".join(FEATURE_KINDS)),
                REBUILD)
    classes = manifest["classes"]
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise BaselineError("%s: classes must be a non-empty list of strings, not %s" % (
            manifest_path, _short_json(classes)), REBUILD)
    model_id = manifest["model_id"]
    if not isinstance(model_id, str) or not 0 < len(model_id) <= 200 or any(ord(c) < 32 for c in model_id):
        raise BaselineError("%s: model_id must be a name of 1 to 200 printable characters, not %s" % (
            manifest_path, _short_json(model_id)), REBUILD)
    base_samples = manifest.get("base_samples")
    if base_samples is not None and not (whole(base_samples) and base_samples >= 0):
        raise BaselineError("%s: base_samples must be a whole number of at least 0, not %s" % (
            manifest_path, _short_json(base_samples)), REBUILD)
    if not isinstance(manifest["label_column"], str):
        raise BaselineError("%s: label_column must be a string, not %s" % (
            manifest_path, _short_json(manifest["label_column"])), REBUILD)
    names = [f["name"] for f in features]
    twice = sorted(set(n for n in names if names.count(n) > 1))
    if twice:
        raise BaselineError("%s: features name %r twice" % (manifest_path, twice[0]), REBUILD)
    if manifest["label_column"] in names:
        raise BaselineError("%s: features name the label column %r" % (manifest_path, manifest["label_column"]),
                            REBUILD)
    from .recipe import canonical_label

    stale = [c for c in classes if canonical_label(c) != c]
    if stale:
        raise BaselineError("%s: the class %s is read as %s in contributions (a bundle built before 0.8.0, or not by "
                            "hp-baseline)" % (manifest_path, _short_json(stale[0]),
                                              _short_json(canonical_label(stale[0]))), REBUILD)
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise BaselineError("%s: classes must be two or more distinct strings, not %s" % (
            manifest_path, _short_json(classes)), REBUILD)
    if manifest["model_type"] != "RandomForestClassifier":
        raise BaselineError("%s: model_type is %s; this hokusai-preview previews RandomForestClassifier models" % (
            manifest_path, _short_json(manifest["model_type"])), REBUILD)
    if manifest["primary_metric"] not in METRICS:
        raise BaselineError("%s: primary_metric is %s, not one of %s" % (
            manifest_path, _short_json(manifest["primary_metric"]), ", ".join(METRICS)), REBUILD)
    if manifest.get("positive_class") not in [None] + classes:
        raise BaselineError("%s: positive_class %s is not one of its classes" % (
            manifest_path, _short_json(manifest.get("positive_class"))), REBUILD)
    metrics = manifest["metrics"]
    if not isinstance(metrics, dict) or not all(_fraction(metrics.get(m), none=True) for m in METRICS):
        raise BaselineError("%s: metrics must give each of %s as a number from 0 to 1 (or null), not %s" % (
            manifest_path, ", ".join(METRICS), _short_json(metrics)), REBUILD)
    recipe = manifest["recipe"]
    if not isinstance(recipe, dict) or not isinstance(recipe.get("params"), dict):
        raise BaselineError("%s: recipe.params must be an object, not %s" % (
            manifest_path, _short_json(recipe.get("params") if isinstance(recipe, dict) else recipe)), REBUILD)
    for name, (allowed, what) in sorted(RECIPE_PARAMS.items()):
        value = recipe["params"].get(name)
        if name not in recipe["params"] or not allowed(value):
            raise BaselineError("%s: recipe.params.%s must be %s, not %s" % (
                manifest_path, name, what, _short_json(value) if name in recipe["params"] else "absent"), REBUILD)
    unknown = sorted(set(recipe["params"]) - set(RECIPE_PARAMS))
    if unknown:
        raise BaselineError("%s: recipe.params.%s is not a parameter of the recipe (%s)" % (
            manifest_path, unknown[0], ", ".join(sorted(RECIPE_PARAMS))), REBUILD)
    test_size = recipe.get("test_size")
    if test_size is not None and not (_fraction(test_size) and test_size < 1):
        raise BaselineError("%s: recipe.test_size must be a number from 0 up to (not including) 1, not %s" % (
            manifest_path, _short_json(test_size)), REBUILD)


MAX_MANIFEST_BYTES = 16 << 20


def _fraction(value, none=False):
    if value is None:
        return none
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1


# The forest's parameters a bundle may set, each with its allowed values.
MAX_TREES = 10000
RECIPE_PARAMS = {
    "n_estimators": (lambda v: whole(v) and 1 <= v <= MAX_TREES, "a whole number from 1 to %d" % MAX_TREES),
    "max_depth": (lambda v: v is None or whole(v) and 1 <= v < 2 ** 31, "a whole number from 1 to 2**31 - 1, or null"),
    "min_samples_split": (lambda v: whole(v) and 2 <= v < 2 ** 31, "a whole number from 2 to 2**31 - 1"),
    "random_state": (lambda v: whole(v) and 0 <= v < 2 ** 32, "a whole number from 0 to 2**32 - 1"),
}


def _short_json(value):
    return shorten(json.dumps(value))


def trust_warning(model_format, moment, path=None):
    """The warning that a ``model_format`` (pickle or joblib) model file was accepted with
    --trust-model, worded for ``moment``: "accepting" (hp-load) or "loading" (hp-train) the file
    at ``path``, or "loaded" (the output's warnings, which name no path)."""
    return TRUST_WARNINGS[moment].format(format=model_format, path=path)


def refuse_untrusted_record(baseline, trust_model):
    """For a stage reading records: refuse (exit 6) a record whose baseline has a pickle/joblib
    model unless ``--trust-model`` was given.

    Checked before the cache is consulted, so a result computed by a trusting run never serves
    one that did not opt in.
    """
    refuse_untrusted(baseline["path"], baseline.get("model_format", SAFE_FORMAT), trust_model,
                     "the baseline %s has a %s model file")
