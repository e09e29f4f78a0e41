"""The baseline bundle: a directory holding a trained model, its benchmark and its manifest.

Layout (every path relative to the bundle, recorded with its SHA-256 in the manifest)::

    manifest.json      what the model is and how it was made (schema: schemas/bundle-manifest.schema.json)
    model.skops        the fitted scikit-learn Pipeline, saved with skops (no pickle)
    benchmark.parquet  the held-out benchmark every evaluation scores on
    base.parquet       optional: the base training table (enables retraining like the main pipeline)

Opening a bundle verifies it before anything in it is used: the manifest parses and is of a
supported format version, every path stays inside the bundle, and every file matches its
recorded SHA-256.
"""

import json
import os

from .errors import BaselineError, IntegrityError
from .fsutil import sha256_file

FORMAT = "hokusai-preview-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
REQUIRED = ("format", "format_version", "model_id", "model_type", "label_column", "classes", "features",
            "recipe", "files", "metrics", "primary_metric")
ENV_BASELINE = "HP_BASELINE"


def default_bundle_path():
    """``$HP_BASELINE`` if set, else the embedded default baseline inside the package."""
    explicit = os.environ.get(ENV_BASELINE)
    if explicit:
        return explicit
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "baselines", "default")


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
    """

    def __init__(self, path, manifest, fingerprint):
        self.path = path
        self.manifest = manifest
        self.fingerprint = fingerprint

    @classmethod
    def open(cls, path=None, verify=True):
        """Open and verify the bundle at ``path`` (default: :func:`default_bundle_path`)."""
        explicit = path is not None
        path = os.path.abspath(path or default_bundle_path())
        if not os.path.isdir(path):
            if not explicit:
                raise BaselineError("the embedded default baseline is missing at %s" % path,
                                    "run 'make baseline' or pass --baseline-model DIR")
            what = "does not exist" if not os.path.exists(path) else "is not a directory"
            raise BaselineError("baseline bundle %s %s" % (path, what),
                                "pass a directory built by hp-baseline to --baseline-model")
        manifest_path = os.path.join(path, MANIFEST)
        try:
            with open(manifest_path, "rb") as handle:
                raw = handle.read()
        except OSError as exc:
            raise BaselineError("cannot read %s: %s" % (manifest_path, exc.strerror or exc),
                                "a bundle directory needs the manifest.json written by hp-baseline") from None
        try:
            manifest = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise BaselineError("%s is not valid JSON" % manifest_path,
                                "rebuild the bundle with hp-baseline") from None
        if not isinstance(manifest, dict):
            raise BaselineError("%s is not a JSON object" % manifest_path, "rebuild the bundle with hp-baseline")
        if manifest.get("format") != FORMAT:
            raise BaselineError("%s is not a hokusai-preview bundle manifest" % manifest_path,
                                "build one with hp-baseline")
        version = manifest.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
            raise BaselineError("%s has bundle format version %r; this hokusai-preview reads version %d"
                                % (manifest_path, version, FORMAT_VERSION),
                                "upgrade hokusai-preview or rebuild the bundle with this version")
        missing = [k for k in REQUIRED if k not in manifest]
        if missing:
            raise BaselineError("%s lacks %s" % (manifest_path, ", ".join(missing)),
                                "rebuild the bundle with hp-baseline")
        import hashlib

        bundle = cls(path, manifest, hashlib.sha256(raw).hexdigest())
        if not isinstance(manifest["files"], dict) or "model" not in manifest["files"] \
                or "benchmark" not in manifest["files"]:
            raise BaselineError("%s must list the model and benchmark files" % manifest_path,
                                "rebuild the bundle with hp-baseline")
        for role in manifest["files"]:
            bundle.file_path(role)  # confinement check for every listed file
        if verify:
            bundle.verify()
        return bundle

    # --- files ---------------------------------------------------------------------------

    def file_path(self, role):
        """Absolute path of the file with ``role`` (model, benchmark, base), confined to the bundle."""
        info = self.manifest["files"].get(role)
        if not isinstance(info, dict) or not isinstance(info.get("path"), str):
            raise BaselineError("bundle %s has no %s file" % (self.path, role), "rebuild it with hp-baseline")
        relative = info["path"]
        if os.path.isabs(relative) or ".." in relative.replace("\\", "/").split("/"):
            raise IntegrityError("bundle %s: the %s path %r leaves the bundle directory" % (
                self.path, role, relative), "only use bundles built by hp-baseline")
        full = os.path.join(self.path, relative)
        real_root = os.path.realpath(self.path)
        if os.path.commonpath([os.path.realpath(full), real_root]) != real_root:
            raise IntegrityError("bundle %s: the %s file %r links outside the bundle directory" % (
                self.path, role, relative), "only use bundles built by hp-baseline")
        return full

    def has(self, role):
        return role in self.manifest["files"]

    def verify(self):
        """Check every listed file against its recorded SHA-256 (raises IntegrityError)."""
        for role, info in sorted(self.manifest["files"].items()):
            full = self.file_path(role)
            try:
                digest = sha256_file(full)
            except OSError as exc:
                raise BaselineError("bundle %s: cannot read the %s file %s: %s" % (
                    self.path, role, info["path"], exc.strerror or exc),
                    "rebuild the bundle with hp-baseline") from None
            if digest != info.get("sha256"):
                raise IntegrityError("bundle %s: %s was changed after the manifest was written (SHA-256 mismatch)"
                                     % (self.path, info["path"]),
                                     "get the bundle again from its source or rebuild it with hp-baseline")

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
                "has_base_table": self.has("base")}

    def read_table(self, role, columns=None):
        """A bundle table (benchmark or base) as a pandas DataFrame with canonical string labels."""
        import pyarrow.parquet as pq

        table = pq.read_table(self.file_path(role), columns=columns)
        return table.to_pandas()

    def benchmark_labels(self):
        """Benchmark labels as int codes into :attr:`classes` (numpy array)."""
        import numpy as np
        import pyarrow.parquet as pq

        labels = pq.read_table(self.file_path("benchmark"), columns=[self.label_column]).column(0).to_pylist()
        position = {c: i for i, c in enumerate(self.classes)}
        return np.array([position[v] for v in labels], dtype=np.int64)

    def load_model(self):
        """The fitted Pipeline, loaded with skops trusting only the recipe's types."""
        from .modelfile import load_model

        return load_model(self.file_path("model"))
