"""hp-train: train the new model with the contribution, in rounds of trees,
stopping early.

Usage:
  hp-train [options] [--] [<record>...]
  hp-train (-h | --help | --version)

Reads `sample` records (or `check` or `load` records, to use the whole
contribution) and writes one `train` record each. The new model is the
baseline's recipe, really trained:

* retrain (the bundle holds its base training table): the recipe trained on the
  base table joined with the contribution, compared with the recipe on the base
  table alone grown with the same trees and seed;
* fine_tune (no base table): new trees fitted on the contribution added to the
  baseline forest.

Trees are added in rounds. After each round from --min-trees on, how far the
trees not yet grown could still move delta_one_score is measured on the trees
grown (a bootstrap over them); training stops early once the probability that it
moves no more than the tolerance (20%, at least 0.2 points), and that the
DeltaOne verdict on the bundle's primary metric stays the same, both reach the
target (--target); with --full every tree is grown.

When the contribution was sampled, the same number of trees is also trained on
nested quarter and half sub-samples, on the other half of the sample, and
(retrain) on the base rows alone, for the learning curve that extrapolates to
the whole file; the two halves, drawn from different rows, measure how much the
rows drawn matter. Every forest fits the rows the full run fits (the train/test
split of base + the whole contribution), restricted to those sampled. The
sub-samples are hp-sample's smaller samples of the file, so a run with a
larger --sample-size takes those a smaller run grew from its checkpoints.

Options:
  --seed N                Random seed of the forest [default: 42].
  --round-size N          Trees added per round [default: 10].
  --min-trees N           Trees grown before early stopping may stop
                          [default: 30].
  --target P              Early-stopping probability target [default: 0.95].
  --full                  Grow the recipe's full budget of trees (no early
                          stopping).
  --jobs N                CPU cores used for training, 0 for all [default: 0].
  --trust-model           Load a baseline model that is a pickle or joblib file,
                          which runs any code it contains (README: Trust and
                          safety).
{common_options}

Record written (schema: schemas/train.schema.json): everything in the input
record plus `training`: mode, trees grown and the full budget, why it stopped,
the convergence history, the model file (skops), the benchmark predictions
(NumPy .npz: the new forest's per tree, the learning-curve forests' means) and
the reference forest's per tree (.npy), the learning-curve points, and
base/contributed sample counts.
"""

import contextlib
import os
import sys
import time

from ..core.command import Stage, carry
from ..core.errors import DataError, UsageError
from ..core.options import int_option, jobs_option, seed_option, with_common_options
from ..core.text import plural, thousands

__doc__ = with_common_options(__doc__)

# Learning-curve points of a sampled contribution, as shares of the sample. 0 is the full run's
# base rows alone (retrain only): the curve's anchor, known exactly, so its lever reaches further.
CURVE_FRACTIONS = (0.0, 0.25, 0.5)
# The share whose complement in the sample is a point too: a second draw of that size from other
# rows, whose disagreement with the first measures the sampling luck (core/estimate.py).
COMPLEMENT_OF = 0.5
# Part of the cache key (hp-eval's and hp-delta's keys chain it): change it whenever the stopping
# rule or the estimate (core/estimate.py) changes, so no result of an older method is reused.
ESTIMATE_METHOD = "halves-2"


class Train(Stage):
    name = "hp-train"
    usage = __doc__
    accepts = ("sample", "check", "load")
    produces = "train"
    prefetch = ("numpy", "pandas", "pyarrow.parquet", "sklearn.ensemble", "sklearn.compose", "sklearn.model_selection",
                "sklearn.feature_extraction.text", "sklearn.impute", "sklearn.preprocessing", "sklearn.pipeline",
                "skops.io", "tqdm")

    def setup(self, args):
        self.seed = seed_option(args)
        self.round_size = int_option(args, "--round-size")
        self.min_trees = int_option(args, "--min-trees")
        try:
            self.target = float(args["--target"])
        except ValueError:
            raise UsageError("--target must be a probability, not %r" % args["--target"], None) from None
        if not 0 < self.target < 1:
            raise UsageError("--target must be a probability strictly between 0 and 1, not %s" % args["--target"], None)
        self.full = bool(args["--full"])
        self.jobs = jobs_option(args)
        self.trust_model = bool(args["--trust-model"])

    @contextlib.contextmanager
    def prepared(self, record):
        from ..core.bundle import refuse_untrusted_record

        refuse_untrusted_record(record["baseline"], self.trust_model)  # before the cache is consulted
        yield

    def params(self, record):
        params = {"seed": self.seed, "round_size": self.round_size, "full": self.full, "estimate": ESTIMATE_METHOD}
        if not self.full:
            params.update(min_trees=self.min_trees, target=self.target)
        return params

    def compute(self, record, entry):
        import numpy as np
        import pandas as pd

        from ..core.bundle import Bundle
        from ..core.fsutil import atomic_path
        from ..core.modelfile import save_model

        bundle = Bundle.for_record(record)
        bundle.check_contents(self.trust_model, cache=self.cache)  # refused whether or not this run loads it
        if bundle.runs_model_code:
            self.warn(bundle.trust_warning("loading"))
        mode = "retrain" if bundle.has("base") else "fine_tune"
        from ..core.records import current_table

        sample = record.get("sample") or {}
        contribution = pd.read_parquet(current_table(record)[0])
        benchmark = bundle.read_table("benchmark")
        y_bench = bundle.benchmark_labels()
        reference = self.reference_probas(bundle, mode, benchmark)  # the .npy file's path

        full_new = int(bundle.recipe["params"]["n_estimators"])
        if not self.full and self.min_trees >= full_new:
            self.warn("--min-trees %d is not below the recipe's %d trees, so early stopping never stops: every tree "
                      "is grown; give a smaller --min-trees for a faster preview" % (self.min_trees, full_new))
        started = time.perf_counter()
        trainer = Trainer(bundle, mode, self.seed, self.jobs, benchmark)
        trainer.cache = self.cache  # checkpoints: see core/checkpoint.py
        split, positions = trainer.full_run_split(contribution, sample)
        frame, fitted_contributed = split.frame(contribution, positions)
        if not len(frame):  # fine_tune: every sampled row is among those the full run holds out
            kept = round(100 * (1 - trainer.test_size))
            raise DataError("none of the %s sampled rows is among the %d%% of the contribution the full run fits, so "
                            "there is nothing to fine-tune on" % (thousands(len(contribution)), kept),
                            "give a larger --sample-size")
        grown = trainer.grow(frame, reference, y_bench, self.round_size,
                             None if self.full else (self.min_trees, self.target), progress=self.progress)
        model, new_probas, history, stop_reason, baseline_trees = grown
        arrays = {"new": new_probas}
        curve = []
        if sample.get("sampled"):
            points = trainer.learning_curve(split, contribution, positions, len(new_probas), CURVE_FRACTIONS,
                                            COMPLEMENT_OF, draw_seed=int(sample["seed"]))
            for rows, fitted, mean, complement, resumed in points:
                name = "curve_%d%s" % (rows, "_rest" if complement else "")
                arrays[name] = mean
                curve.append({"rows": rows, "fitted_rows": fitted, "array": name, "complement": complement,
                              "resumed_trees": resumed})
            curve.append({"rows": len(contribution), "fitted_rows": fitted_contributed, "array": "new",
                          "complement": False, "resumed_trees": int(trainer.resumed_trees)})
        fit_seconds = time.perf_counter() - started

        save_model(model, entry.path("model.skops"))
        with atomic_path(entry.path("predictions.npz")) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)
        base_rows = int(bundle.manifest.get("base_samples") or 0)
        section = {
            "mode": mode,
            "budget": "full" if self.full else "preview",
            "seed": self.seed,
            "round_size": self.round_size,
            "trees": int(len(new_probas)),
            "full_trees": full_new,
            "baseline_trees": baseline_trees,
            "stop_reason": stop_reason,
            "convergence": history,
            "base_samples": base_rows,
            "contributed_samples": int(len(contribution)),
            "test_size": trainer.test_size,
            "split": split.how,
            "fitted_samples": int(len(frame)),
            "full_run_fitted": {"base": split.fitted_base, "contributed": split.fitted_contributed},
            "model_path": entry.path("model.skops"),
            "predictions_path": entry.path("predictions.npz"),
            "reference_predictions_path": entry.adopt("reference.npy", self.reference_path),
            "learning_curve": curve,
            "fit_seconds": round(fit_seconds, 3),
            "resumed_trees": int(trainer.resumed_trees),
            "reference_profile": trainer.profile.to_json() if trainer.profile is not None else None,
        }
        base_shown = base_rows if mode == "retrain" else 0
        rows = "%s base + %s contributed" % (thousands(base_shown), thousands(len(contribution)))
        if split.how == "none":
            rows = "%s base + %s" % (thousands(base_shown), plural(len(contribution), "contributed row"))
        elif sample.get("sampled"):  # the full run's split is over the whole contribution
            rows = "%s (%s base + %s that the full run's %g%% %s training split of %s base + %s contributed " \
                   "keeps)" % (plural(len(frame), "row"), thousands(split.fitted_base),
                               plural(fitted_contributed, "sampled contributed row"), 100 * (1 - trainer.test_size),
                               split.how, thousands(base_shown), thousands(int(sample["original_data_size"])))
        else:  # say what the main pipeline's train/test split kept
            rows = "%s (the %g%% %s training split of %s)" % (
                plural(len(frame), "row"), 100 * (1 - trainer.test_size), split.how, rows)
        grew = "grew %d of %d trees" % (len(new_probas), full_new)
        if trainer.resumed_trees:  # say which were only read back: "grew 100" in 0.3s would puzzle
            grew = "has %d of %d trees (%d from a checkpoint an earlier run on the same rows left, %d grown now)" % (
                len(new_probas), full_new, trainer.resumed_trees, len(new_probas) - trainer.resumed_trees)
        self.info("%s: %s on %s, %s, in %.1fs" % (mode, grew, rows, stop_reason.replace("_", " "), fit_seconds))
        reused = [p for p in curve[:-1] if p["resumed_trees"]]
        if reused:  # a smaller --sample-size on the same file grew these (its sample, or its curve's)
            self.info("learning curve: %s from checkpoints of earlier runs (%s)" % (
                "%d of its %d forests" % (len(reused), len(curve) - 1),
                ", ".join("%d trees on %s" % (p["resumed_trees"], "the base rows alone" if not p["rows"] else
                                              plural(p["rows"], "other row" if p["complement"] else "row"))
                          for p in reused)))
        return carry(record, training=section), ["model.skops", "predictions.npz", "reference.npy"]

    def progress(self, total, initial):
        from tqdm import tqdm

        return tqdm(total=total, initial=initial, unit="tree", desc=self.name, leave=False, file=sys.stderr,
                    disable=self.quiet or sys.stderr is None or not sys.stderr.isatty())

    def reference_probas(self, bundle, mode, benchmark):
        """The path of the reference forest's per-tree benchmark probabilities (an .npy file of
        (trees, benchmark rows, classes)), cached per bundle and seed.

        The reference is the recipe on the base table alone. With the bundle's own seed (or in
        fine_tune mode) that is the shipped model itself; another seed retrains it.
        """
        from ..core.cache import REFERENCE, make_key
        from ..core.fsutil import atomic_path
        from ..core.recipe import iter_tree_probas
        from ..core.treearrays import write_npy

        shipped = mode == "fine_tune" or self.seed == int(bundle.recipe["params"]["random_state"])
        key = make_key(REFERENCE, bundle.fingerprint, {"seed": None if shipped else self.seed})

        def make(entry):
            forest, bench = Trainer(bundle, mode, self.seed, self.jobs, benchmark).reference(shipped)
            with atomic_path(entry.path("reference.npy")) as tmp:
                with open(tmp, "wb") as handle:
                    # A tree at a time, never the whole array (hundreds of MB with many classes);
                    # through handle.write: np.save into a real file fails on a full disk with
                    # an OSError that has no errno, which would read as a bug, not as exit 7.
                    trees = write_npy(handle, (len(forest.estimators_), bench.shape[0], len(bundle.classes)),
                                      iter_tree_probas(forest, bench, bundle.classes))
            return {"trees": trees}, ["reference.npy"]

        self.cache.build("reference", key, make)
        self.reference_path = os.path.join(self.cache.entry_dir("reference", key), "reference.npy")
        return self.reference_path


class Trainer:
    """Fits the recipe for one bundle; knows how to grow, score and sub-sample.

    Parameters
    ----------
    bundle : Bundle
    mode : {"retrain", "fine_tune"}
    seed : int
        The forest's random_state.
    jobs : int
        scikit-learn n_jobs.
    benchmark : pandas.DataFrame
        The bundle's benchmark table.
    """

    def __init__(self, bundle, mode, seed, jobs, benchmark):
        from ..core.recipe import prepare_features

        self.bundle = bundle
        self.mode = mode
        self.seed = seed
        self.jobs = jobs
        self.features = bundle.features
        self.classes = bundle.classes
        self.label = bundle.label_column
        self.params = dict(bundle.recipe["params"], random_state=seed)
        self.test_size = float(bundle.recipe.get("test_size") or 0.0)  # 0: a bundle older than the split
        self.bench_X = prepare_features(benchmark, self.features)

    def reference(self, shipped):
        """(the reference forest, the benchmark transformed for it)."""
        if shipped:
            model = self.bundle.load_model()
            return model[-1], model[:-1].transform(self.bench_X)
        base, _ = self.split_rows(self.bundle.read_table("base"))
        model, bench = self.start(base)
        model[-1].set_params(n_estimators=int(self.params["n_estimators"]))
        self.fit(model, base)
        return model[-1], bench

    def start(self, frame):
        """An unfitted (retrain) or baseline-initialised (fine_tune) model and the transformed benchmark."""
        import copy

        from ..core.recipe import build_forest, build_preprocessor, make_model, prepare_features

        if self.mode == "fine_tune":
            baseline = self.bundle.load_model()
            preprocessor = baseline[:-1]
            forest = copy.deepcopy(baseline[-1])
            forest.set_params(warm_start=True, n_jobs=self.jobs, random_state=self.seed)
            self.training_X = preprocessor.transform(prepare_features(frame, self.features))
            return make_model(preprocessor.steps[0][1], forest), preprocessor.transform(self.bench_X)
        preprocessor = build_preprocessor(self.features)
        self.training_X = preprocessor.fit_transform(prepare_features(frame, self.features))
        forest = build_forest(self.params, 0, n_jobs=self.jobs)
        return make_model(preprocessor, forest), preprocessor.transform(self.bench_X)

    def fit(self, model, frame):
        """Grow ``model``'s forest to its n_estimators on the prepared training rows."""
        import numpy as np

        labels = frame[self.label].astype(str).to_numpy()
        X, weights = self.training_X, None
        if self.mode == "fine_tune":
            # The forest's class list must not shrink when the contribution lacks a class:
            # one zero-weight row per missing class keeps it whole without influencing a split.
            seen = set(labels)
            missing = [c for c in self.classes if c not in seen]
            if missing:
                import scipy.sparse as sp

                filler = X[:1]
                X = sp.vstack([X] + [filler] * len(missing)) if sp.issparse(X) else \
                    np.vstack([X] + [filler] * len(missing))
                labels = np.concatenate([labels, np.array(missing, dtype=object)])
                weights = np.concatenate([np.ones(len(frame)), np.zeros(len(missing))])
        model[-1].fit(X, labels, sample_weight=weights)

    def split_rows(self, frame):
        """(the rows of ``frame`` the recipe is fitted on, how they were split): recipe.training_rows."""
        from ..core.recipe import training_rows

        return training_rows(frame, self.label, self.test_size, self.seed)

    def full_run_split(self, contribution, sample):
        """(:class:`FullRunSplit` of this run, positions of ``contribution``'s rows in the whole one).

        ``sample`` is the record's sample section: when the contribution was sampled it says
        which rows were kept and every row's label; otherwise ``contribution`` is the whole.
        """
        import numpy as np

        if sample.get("sampled"):
            if not sample.get("rows_path"):
                raise UsageError("this sample record was written by an older hp-sample, without the rows it kept",
                                 "run the pipeline again from hp-sample")
            with np.load(sample["rows_path"]) as rows:
                positions, codes = rows["positions"], rows["label_codes"]
            classes = list(sample["classes"])
        else:
            positions = np.arange(len(contribution), dtype=np.int64)
            classes, codes = np.unique(contribution[self.label].astype(str).to_numpy(), return_inverse=True)
            classes = [str(c) for c in classes]
        columns = [self.label] + [f["name"] for f in self.features]
        base = self.bundle.read_table("base")[columns] if self.mode == "retrain" else contribution[columns].iloc[:0]
        return FullRunSplit(base, self.label, codes, classes, self.test_size, self.seed), positions

    def grow(self, frame, reference, y_bench, round_size, stopping, progress=None):
        """Grow the new forest round by round.

        Parameters
        ----------
        frame : pandas.DataFrame
            The training rows (:meth:`FullRunSplit.frame`).
        reference : str
            The .npy file of the reference forest's per-tree probabilities (t, n, C).
        stopping : (min_trees, target) or None
            None grows the full budget.

        Returns
        -------
        (model, new tree probabilities (k, n, C), convergence history, stop reason, the
        reference's number of trees t)
        """
        import functools

        import numpy as np

        from ..core.checkpoint import open_checkpoint
        from ..core.estimate import ForestMean, Profile, convergence
        from ..core.recipe import tree_probas
        from ..core.treearrays import read_mean

        model, bench = self.start(frame)
        forest = model[-1]
        offset = len(forest.estimators_) if self.mode == "fine_tune" else 0
        full = int(self.params["n_estimators"])
        history, k, reason = [], 0, "full_budget"
        # The checks use the reference's mean only; its trees (memory-mapped, not copied) only
        # for the profile: how its score varies with its tree count, the stopping rule's yardstick.
        with open(reference, "rb") as handle:
            reference_mean = ForestMean(*read_mean(handle))
        self.profile = Profile.measure(y_bench, np.load(reference, mmap_mode="r"), self.mode, full,
                                       seed=self.seed) if stopping else None
        # Each round's trees go into one buffer, whose pages the system provides as they are
        # first written: a forest that stops at 30 trees takes only their memory, and no round's
        # probabilities are copied to join the others'.
        probas = np.empty((full, bench.shape[0], len(self.classes)), dtype=np.float64)
        bar = progress(full, 0) if progress else None
        saved = open_checkpoint(self, frame)  # trees an earlier run grew on these rows are reused
        try:
            while k < full:
                grown = k
                step = min(round_size, full - grown)
                saved.extend(forest, offset, grown + step, functools.partial(self.fit, model, frame))
                tree_probas(forest, bench, self.classes, start=offset + grown, out=probas[grown:grown + step])
                if bar is not None:
                    bar.update(step)
                k = grown + step
                # A check costs a bootstrap over trees: only where it may stop.
                if stopping is not None and stopping[0] <= k < full:
                    state = convergence(y_bench, reference_mean, probas[:k], self.mode, full, self.profile,
                                        self.bundle.manifest.get("primary_metric"), seed=self.seed)
                    history.append({key: v if key == "trees" else round(float(v), 6) for key, v in state.items()})
                    settled = min(state["within"], state.get("verdict", 1.0))  # the estimate and the verdict
                    if settled >= stopping[1]:
                        reason = "converged"
                        break
        finally:
            saved.close()
            self.resumed_trees = saved.resumed
            if bar is not None:
                bar.close()
        if stopping is None:
            reason = "full_budget_requested"
        return model, probas[:k], history, reason, reference_mean.trees

    def learning_curve(self, split, contribution, positions, trees, fractions, complement_of=None, draw_seed=None):
        """Yield (rows, fitted rows, the mean of its ``trees`` trees' probabilities (n, C),
        complement, trees resumed) for nested stratified sub-samples of the contribution (whose
        rows are at ``positions`` of the whole), fitted with ``split``; right after the
        sub-sample of share ``complement_of``, for the rest of the contribution (``complement``
        True: a disjoint draw of about the same size).

        The sub-samples are drawn as hp-sample draws from the whole file (its quotas and row
        priorities for ``draw_seed``, hp-sample's seed), within the rows at hand: the half of a
        sample of 2m rows is then the sample of m rows itself, and the full run's split makes
        its training rows the same, so a preview with a larger --sample-size takes the forests
        of a smaller one's sample and curve from their checkpoints instead of growing them."""
        import functools

        import numpy as np

        from ..core.checkpoint import open_checkpoint
        from ..core.recipe import tree_proba_mean
        from ..core.sampling import stratified_indices

        for fraction in fractions:
            if fraction == 0 and self.mode == "fine_tune":
                continue  # no trees without contributed rows: the baseline is that point
            size = max(int(round(len(contribution) * fraction)), 1) if fraction else 0
            chosen = stratified_indices(split.codes, size, draw_seed, within=positions) if size \
                else np.empty(0, dtype=np.int64)
            draws, drawn = [(chosen, False)], 0  # drawn: contributed rows the first draw fitted
            if fraction == complement_of:
                draws.append((np.setdiff1d(np.arange(len(contribution)), chosen), True))
            for rows, complement in draws:
                frame, fitted = split.frame(contribution.iloc[rows], positions[rows])
                if not len(frame):
                    break  # fine_tune, every row held out: no trees to grow, the baseline is that point
                if complement and not (fitted and drawn):
                    break  # either half has no contributed row fitted: no pair of draws to compare
                drawn = fitted
                model, bench = self.start(frame)
                forest = model[-1]
                offset = len(forest.estimators_) if self.mode == "fine_tune" else 0
                saved = open_checkpoint(self, frame)
                try:
                    saved.extend(forest, offset, trees, functools.partial(self.fit, model, frame))
                finally:
                    saved.close()
                # hp-eval compares the curve's forests by their means only: their trees are not kept.
                yield len(rows), fitted, tree_proba_mean(forest, bench, self.classes, start=offset), complement, \
                    saved.resumed


class FullRunSplit:
    """The rows the full run fits on, and those of them a preview has at hand.

    The full run fits the recipe on the training part of the main pipeline's train/test split
    (recipe.split_positions) of base + the whole contribution. A preview of a sample takes that
    same split and fits the sampled rows it keeps, with the same base rows, in the same order:
    its sample is then a sample of the full run's training rows, and sampling is the only
    difference. (Splitting base + sample anew holds out other base rows than the full run does:
    on 18 sampled draws apart from the accuracy suite, that raised the error's RMSE from 1.6 to
    2.1 points.)
    Without sampling the frame is exactly the full run's.

    Parameters
    ----------
    base : pandas.DataFrame
        The base table's label and feature columns (no rows in fine_tune mode).
    label : str
    codes : int array, shape (n_contributed,)
        Every contributed row's label, as an index into ``classes``.
    classes : list of str
    test_size : float
    seed : int
    """

    def __init__(self, base, label, codes, classes, test_size, seed):
        import numpy as np

        from ..core.recipe import class_order, split_positions

        # One code space for base and contribution, in the main pipeline's class order: the split
        # depends on the labels only through their classes and that order, and codes keep a
        # million labels small.
        base_labels = base[label].astype(str).to_numpy()
        union = np.array(sorted(set(classes) | set(base_labels.tolist())))
        order = class_order(union)
        labels = np.concatenate([order[np.searchsorted(union, base_labels)],
                                 order[np.searchsorted(union, np.array(classes))][np.asarray(codes)]])
        self.kept, self.how = split_positions(labels, test_size, seed)
        self.codes = np.asarray(codes)  # the learning curve draws its sub-samples by them, as hp-sample does
        self.base = base
        self.fitted_base = int((self.kept < len(base)).sum())
        self.fitted_contributed = int(len(self.kept) - self.fitted_base)

    def frame(self, table, positions):
        """(the full run's training rows among base + ``table``, in its order; how many are contributed).

        ``table`` holds the contributed rows at ``positions`` (ascending) of the whole contribution.
        """
        import numpy as np
        import pandas as pd

        n_base = len(self.base)
        kept = self.kept
        chosen = kept[(kept < n_base) | np.isin(kept - n_base, positions)]
        rows = np.where(chosen < n_base, chosen, n_base + np.searchsorted(positions, chosen - n_base))
        joined = pd.concat([self.base, table[list(self.base.columns)]], ignore_index=True)
        return joined.iloc[rows].reset_index(drop=True), int((chosen >= n_base).sum())


main = Train.entry_point
