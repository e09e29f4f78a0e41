"""Training checkpoints: the trees grown so far, so an interrupted or extended run resumes.

Why this is exact: the recipe's forest draws tree ``i``'s seed as the ``i``-th number of one
``RandomState(random_state)``, and each tree sees only the training rows and its own seed. So
the first ``k`` trees of any run on the same rows with the same seed are the same trees, however
the run was split into rounds, stopped early, killed or continued, and a forest restored from a
checkpoint and grown further is the forest an uninterrupted run grows.

A checkpoint is keyed by what decides the trees: the bundle (its base table, recipe and, in
fine_tune mode, its forest), the mode, the seed, the scikit-learn version and a hash of the
training rows' content. It does not depend on the round size, the early-stopping target, --full
or --jobs, so a run with another target, or --full after a preview, continues from the trees
already grown (and a run that needs fewer trees takes the first ones).

Layout: ``$HP_CACHE_DIR/checkpoint/<key[:2]>/<key>/`` holds ``trees-<from>-<to>.skops`` (the
trees of one round, saved with skops: plain arrays, no code runs on loading) and ``entry.json``
listing each with its SHA-256, the checkpoint's key and the hash of its training rows (a
checkpoint directory copied over from another run does not match them, and is discarded).
Unlike other entries a checkpoint grows in place: each round's file is written atomically
before ``entry.json`` is rewritten (atomically) to list it, so a run killed at any point
leaves the trees of the last listed round; a file that does not match its checksum makes the
whole checkpoint discarded, never trusted. One run at a time extends a
checkpoint (a lock); others wait, then continue from what it saved.
"""

import os
import warnings

from .cache import CHECKPOINT as STAGE


def open_checkpoint(trainer, frame):
    """The checkpoint of ``trainer`` (stages/train.Trainer) growing a forest on ``frame``, locked.

    A trainer without a ``cache`` attribute gets one that saves nothing. Call ``close()`` after.
    """
    cache = getattr(trainer, "cache", None)
    if cache is None:
        return NoCheckpoint()
    columns = [trainer.label] + [f["name"] for f in trainer.features]
    rows = rows_hash(frame, columns)
    key = checkpoint_key(trainer.bundle.fingerprint, trainer.mode, trainer.seed, rows)
    return Checkpoint(cache, key, rows).open()


def rows_hash(frame, columns):
    """SHA-256 of the training rows' content (the given columns, in order; the index is ignored)."""
    import hashlib

    import pandas as pd

    hashed = pd.util.hash_pandas_object(frame[list(columns)], index=False).to_numpy()
    digest = hashlib.sha256(",".join(str(c) for c in columns).encode("utf-8"))
    digest.update(hashed.tobytes())
    return digest.hexdigest()


def checkpoint_key(fingerprint, mode, seed, content):
    import sklearn

    from .cache import make_key

    return make_key(STAGE, {"bundle": fingerprint, "rows": content},
                    {"mode": mode, "seed": int(seed), "sklearn": sklearn.__version__})


class Checkpoint:
    """The saved trees of one training trajectory; :meth:`open` takes its lock, :meth:`close` releases it.

    Parameters
    ----------
    cache : Cache
    key : str
        From :func:`checkpoint_key`.
    rows : str, optional
        The :func:`rows_hash` of the training rows, stored with the trees: a checkpoint whose
        stored key or rows differ (copied over from another run) is discarded, never resumed.
    """

    def __init__(self, cache, key, rows=None):
        self.cache = cache
        self.key = key
        self.rows = rows
        self.dir = cache.entry_dir(STAGE, key)
        self.trees = []      # saved trees, in order
        self.files = []      # their round files, in order
        self.resumed = 0     # trees taken from an earlier run
        self._lock = None

    def open(self):
        """Take the lock (waiting for a run extending the same checkpoint) and read the saved trees."""
        self._lock = self.cache.lock(STAGE, self.key)
        try:
            self.trees, self.files = self._load()
            self._sweep()
        except BaseException:
            self.close()
            raise
        return self

    def _sweep(self):
        """Remove files entry.json does not list (a round being written when a run was killed)."""
        keep = set(self.files) | {"entry.json"}
        try:
            names = os.listdir(self.dir)
        except OSError:
            return
        for name in names:
            if name not in keep:
                try:
                    os.unlink(os.path.join(self.dir, name))
                except OSError:
                    pass

    def close(self):
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _load(self):
        record = self.cache.lookup(STAGE, self.key)  # verified; --no-cache starts afresh
        if record is None:
            return [], []
        if record.get("key") != self.key or record.get("rows") != self.rows:
            self.cache.remove(STAGE, self.key)  # another run's trees: never resumed from
            return [], []
        trees, files = [], []
        try:
            for name in record["files"]:
                trees.extend(_read_trees(os.path.join(self.dir, name)))
                files.append(name)
        except Exception:  # noqa: BLE001 - whatever is wrong, a checkpoint is never trusted half-way
            self.cache.remove(STAGE, self.key)
            return [], []
        if len(trees) != record.get("trees"):
            self.cache.remove(STAGE, self.key)
            return [], []
        return trees, files

    def extend(self, forest, offset, n, fit):
        """Make ``forest`` hold ``offset + n`` trees: saved ones first, then ``fit()`` grows the rest.

        ``offset`` trees at the start of the forest are not part of the checkpoint (fine_tune:
        the baseline's). New trees are saved as one round file. Returns how many trees came
        from the checkpoint in this call.
        """
        current = len(getattr(forest, "estimators_", [])) - offset
        available = min(len(self.trees), n)
        restored = 0
        if current < available:
            restored = available - max(current, 0)
            forest.estimators_ = list(getattr(forest, "estimators_", [])[:offset]) + self.trees[:available]
        forest.set_params(n_estimators=offset + n)
        with warnings.catch_warnings():
            # All trees restored: fit() only sets the forest's fitted attributes (classes, features).
            warnings.filterwarnings("ignore", message="Warm-start fitting without increasing n_estimators")
            fit()
        self.resumed += restored
        if n > len(self.trees):
            self.save(forest.estimators_[offset + len(self.trees):offset + n])
        return restored

    def save(self, trees):
        """Append a round of trees (atomically) and list it in entry.json."""
        from .cache import seal
        from .errors import OutputError
        from .modelfile import save_model

        start = len(self.trees)
        name = "trees-%04d-%04d.skops" % (start, start + len(trees))
        try:
            os.makedirs(self.dir, exist_ok=True)
            save_model(list(trees), os.path.join(self.dir, name))
            files = self.files + [name]
            seal(self.dir, {"trees": start + len(trees), "files": files, "key": self.key, "rows": self.rows},
                 files, key=self.key, root=self.cache.root)
        except (OSError, OutputError):
            return  # a checkpoint is an optimisation: a full disk must not fail the training
        self.trees = self.trees + list(trees)
        self.files = files


class NoCheckpoint:
    """Grows without saving (a trainer with no cache)."""

    resumed = 0

    def extend(self, forest, offset, n, fit):
        forest.set_params(n_estimators=offset + n)
        fit()
        return 0

    def close(self):
        pass


def _read_trees(path):
    """The trees in a round file, refusing any type outside the recipe's trusted list."""
    from sklearn.tree import DecisionTreeClassifier

    from .modelfile import load_file

    trees = load_file(path)[0]  # skops, checked as a bundle's model file is
    if not isinstance(trees, list) or not all(type(t) is DecisionTreeClassifier for t in trees):
        raise ValueError("%s does not hold decision trees" % path)
    return trees
