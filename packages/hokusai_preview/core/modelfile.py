"""Model files: saved with skops, loaded without running code unless the user says otherwise.

A bundle's model file has one of three formats (the manifest's ``files.model.format``; when
absent, the file name decides: ``.pkl``/``.pickle`` pickle, ``.joblib`` joblib, else skops):

* ``skops`` (what hp-baseline and hp-train write): rebuilt by skops without running code. It
  may only contain scikit-learn's own estimators plus the types in
  :data:`hokusai_preview.core.recipe.TRUSTED_TYPES`; a file needing anything else is refused
  before loading, naming the types.
* ``pickle`` and ``joblib`` (what the main pipeline's loader accepts): unpickling runs whatever
  code the file names, so they are refused unless the user passes ``--trust-model``.

Whatever the format, the loaded object must be the recipe's model: a scikit-learn Pipeline
ending in a RandomForestClassifier.
"""

import hashlib
import io
import os

from .errors import BaselineError, IntegrityError, UntrustedModelError
from .fsutil import atomic_path, regular_file_opener

# The hints of a bundle (core/bundle.py) or model file refused: one that cannot be used as it is,
# and one whose files changed after its manifest was written.
REBUILD = "rebuild the bundle with hp-baseline"
REFETCH = "get the bundle again from its source or rebuild it with hp-baseline"
SAFE_FORMAT = "skops"
UNSAFE_FORMATS = ("pickle", "joblib")
FORMATS = (SAFE_FORMAT,) + UNSAFE_FORMATS
EXTENSIONS = {".pkl": "pickle", ".pickle": "pickle", ".joblib": "joblib"}
ZIP_MAGIC = b"PK\x03\x04"  # a skops file is a zip archive
PICKLE_MAGIC = b"\x80"  # the PROTO opcode that starts every pickle of protocol 2 or later
# A forest of the recipe's depth unpacks to tens of MB; a file that would unpack to more than
# this is refused before skops reads it (a few MB of compressed zeros can declare gigabytes).
MAX_UNPACKED_BYTES = 1 << 30
TRUST_HINT = ("pass --trust-model only if you trust whoever made this bundle; bundles built by hp-baseline "
              "use skops, which loads without running code")


def save_model(model, path):
    """Write ``model`` (a model, or hp-train's checkpointed trees) to ``path`` atomically
    (zip-compressed skops file)."""
    import zipfile

    import skops.io as sio

    with atomic_path(path) as tmp:
        sio.dump(model, tmp, compression=zipfile.ZIP_DEFLATED)


def model_format(path, declared=None):
    """The format of a model file: ``declared`` (the manifest's) if given, else from its name."""
    if declared is None:
        return EXTENSIONS.get(os.path.splitext(path)[1].lower(), SAFE_FORMAT)
    if declared not in FORMATS:
        raise BaselineError("model file %s has format %r; hokusai-preview reads %s" % (
            path, declared, ", ".join(FORMATS)), REBUILD)
    return declared


def refuse_untrusted(path, fmt, trust, subject="model file %s is a %s file"):
    """Refuse (UntrustedModelError, exit 6) a model file of format ``fmt`` other than skops
    unless ``trust`` (--trust-model): unpickling it runs any code it names. ``subject``, given
    ``path`` and ``fmt``, says what is refused."""
    if fmt != SAFE_FORMAT and not trust:
        raise UntrustedModelError((subject + ", and loading one runs any code it contains, so it is refused")
                                  % (path, fmt), TRUST_HINT)


def check_format(path, fmt, trust=False, data=None):
    """Refuse a pickle/joblib file unless trusted, and a "skops" file that is not one (instant)."""
    refuse_untrusted(path, fmt, trust)
    if fmt in UNSAFE_FORMATS:
        return
    if data is None:
        with open(path, "rb", opener=regular_file_opener) as handle:
            head = handle.read(len(ZIP_MAGIC))
    else:
        head = data[:len(ZIP_MAGIC)]
    if head.startswith(PICKLE_MAGIC):
        # Never unpickled, even with --trust-model: its manifest said it was safe to open.
        raise UntrustedModelError("model file %s is a pickle, not the skops file its manifest declares" % path,
                                  "only use bundles from a source you trust; a pickle model needs "
                                  "files.model.format \"pickle\" in the manifest and --trust-model")
    if not head.startswith(ZIP_MAGIC):
        raise BaselineError("model file %s is not a skops file" % path, REBUILD)


def check_model(path, fmt, trust=False, data=None):
    """Refuse a model file that cannot be loaded safely, without loading it.

    Returns the skops types the file needs beyond skops' defaults (all trusted), or None for a
    pickle/joblib file the user trusts. Raises UntrustedModelError (exit 6) otherwise.
    """
    check_format(path, fmt, trust, data)
    if fmt in UNSAFE_FORMATS:
        return None
    import skops.io as sio

    from .recipe import TRUSTED_TYPES

    _check_unpacked_size(path, data)
    try:
        needed = sio.get_untrusted_types(data=data) if data is not None else sio.get_untrusted_types(file=path)
    except Exception as exc:  # a zip but not a skops file, or truncated
        raise _unreadable(path, exc) from None
    refused = sorted(set(needed) - set(TRUSTED_TYPES))
    if refused:
        raise UntrustedModelError("model file %s needs types outside the trusted list: %s" % (path, ", ".join(refused)),
                                  "it is not a model hokusai-preview builds; rebuild it with hp-baseline")
    return sorted(needed)


def _unreadable(path, exc):
    return BaselineError("model file %s is not a readable skops file (%s)" % (path, type(exc).__name__), REBUILD)


def _check_unpacked_size(path, data=None):
    """Refuse a zip whose members declare more than MAX_UNPACKED_BYTES (zipfile never inflates a
    member past its declared size, so the declaration bounds what loading can take)."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data) if data is not None else path) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _unreadable(path, exc) from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise BaselineError("model file %s would unpack to %.1f GB, over the %d GB limit (a model of the recipe "
                            "unpacks to tens of MB), so it is not opened" % (
                                path, unpacked / 1e9, MAX_UNPACKED_BYTES >> 30), REBUILD)


def changed(what):
    """The IntegrityError (exit 5) for a bundle file, named by ``what``, that does not match the
    SHA-256 its manifest records."""
    return IntegrityError("%s was changed after the manifest was written (SHA-256 mismatch)" % what, REFETCH)


def read_verified(path, sha256=None, what=None):
    """The bytes of the regular file ``path``, read once; when ``sha256`` is given, those very
    bytes match it or are refused (:func:`changed`, naming ``what``, by default ``path``): a file
    swapped after its bundle was verified is refused, not used. OSError if it cannot be read."""
    with open(path, "rb", opener=regular_file_opener) as handle:
        data = handle.read()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise changed(path if what is None else what)
    return data


def load_model(path, fmt=SAFE_FORMAT, trust=False, sha256=None, with_types=False):
    """Load a model file (:func:`load_file`) that must hold the recipe's model. With
    ``with_types``, returns (model, the types :func:`check_model` found)."""
    model, needed = load_file(path, fmt, trust, sha256)
    _check_recipe_model(path, model)
    return (model, needed) if with_types else model


def load_file(path, fmt=SAFE_FORMAT, trust=False, sha256=None):
    """(the object in a model file, the types :func:`check_model` found), loaded after
    :func:`check_model`: skops trusting only the recipe's types, or (``trust``) unpickled.

    The file is read once (:func:`read_verified`: checked against ``sha256`` when given).
    """
    try:
        data = read_verified(path, sha256, "model file %s" % path)
    except OSError as exc:
        raise BaselineError("cannot read model file %s: %s" % (path, exc.strerror or exc), REBUILD) from None
    needed = check_model(path, fmt, trust, data=data)
    try:
        if fmt == SAFE_FORMAT:
            import skops.io as sio

            model = sio.loads(data, trusted=needed)
        elif fmt == "joblib":
            import joblib

            model = joblib.load(io.BytesIO(data))
        else:
            import pickle

            model = pickle.loads(data)
    except (Exception, SystemExit) as exc:  # a trusted pickle may call sys.exit(0): not a finished run
        raise BaselineError("model file %s cannot be loaded: %s" % (path, type(exc).__name__), REBUILD) from None
    return model, needed


def _check_recipe_model(path, model):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline

    if not isinstance(model, Pipeline) or not isinstance(model[-1], RandomForestClassifier):
        raise BaselineError("model file %s holds a %s, not the recipe's Pipeline ending in a RandomForestClassifier"
                            % (path, type(model).__name__), REBUILD)
    _check_trees(path, model[-1])


def _check_trees(path, forest):
    """Refuse trees scikit-learn would walk out of bounds (a crash) or in circles (a hang):
    trusted types hold any arrays, and predict() trusts them. Every child comes after its node
    and within the tree; every split's feature is one the forest has."""
    import numpy as np

    trees = getattr(forest, "estimators_", None)
    features = getattr(forest, "n_features_in_", None)
    if not trees or not isinstance(features, int):
        raise BaselineError("model file %s holds a forest without fitted trees" % path, REBUILD)
    for number, estimator in enumerate(trees):
        tree = getattr(estimator, "tree_", None)
        try:
            nodes = np.arange(tree.node_count)
            left, right, feature = tree.children_left, tree.children_right, tree.feature
            leaf = left == -1
            sound = (len(left) == len(right) == len(feature) == tree.node_count > 0
                     and tree.value.shape[0] == tree.node_count
                     and np.array_equal(leaf, right == -1)
                     and ((left > nodes) & (left < tree.node_count) | leaf).all()
                     and ((right > nodes) & (right < tree.node_count) | leaf).all()
                     and ((feature >= 0) & (feature < features) | leaf).all())
        except (AttributeError, TypeError, ValueError):
            sound = False
        if not sound:
            raise BaselineError("model file %s: tree %d of its forest is damaged (a node points outside the tree "
                                "or back up it, or splits on a feature the model lacks)" % (path, number), REBUILD)
