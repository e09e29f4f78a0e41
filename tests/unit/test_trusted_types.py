"""TRUSTED_TYPES is exactly what the recipe's models need: every model hp-baseline and hp-train
write loads with it, and no entry in it goes unused (the list is no broader than it must be)."""

import os

import skops.io as sio

from helpers import EXAMPLES, pipe
from hokusai_preview.core.bundle import Bundle
from hokusai_preview.core.recipe import TRUSTED_TYPES

# hpc: numeric + categorical, 4 classes; churn: binary; food: free text (TF-IDF) + categorical;
# hpc_finetune: a bundle without its base table.
BUNDLES = ("hpc", "churn", "food", "hpc_finetune")
# Trusted types only some versions of the libraries need (skops before 0.10 trusted Tree itself):
# the models may not need them here.
VERSION_DEPENDENT_TYPES = {"scipy.sparse._csr.csr_matrix", "sklearn.tree._tree.Tree"}


def trained_model(bundle, data_path):
    """The model file hp-train writes for ``data_path`` against ``bundle``."""
    results = pipe(("hp-load", "--data-path", data_path, "--baseline-model", bundle), ("hp-train", "--min-trees", "10"))
    assert results[-1].code == 0, results[-1]
    return results[-1].records[0]["training"]["model_path"]


def test_trusted_types_are_exactly_what_the_recipes_models_need(bundles, tmp_path):
    needed = {}
    for name in BUNDLES:
        bundle = Bundle.open(bundles(name)[0])
        needed[name] = set(sio.get_untrusted_types(file=bundle.file_path("model")))
        model = bundle.load_model()  # loads with the list, and is the recipe's Pipeline
        assert [step for step, _ in model.steps] == ["preprocess", "forest"]
    assert {f["kind"] for f in Bundle.open(bundles("food")[0]).features} == {"text", "categorical"}

    food, rest = bundles("food")
    rest.iloc[:200].to_csv(str(tmp_path / "reviews.csv"), index=False)
    needed["food, retrained"] = set(sio.get_untrusted_types(file=trained_model(food, str(tmp_path / "reviews.csv"))))
    needed["hpc, fine-tuned"] = set(sio.get_untrusted_types(
        file=trained_model(bundles("hpc_finetune")[0], os.path.join(EXAMPLES, "hpc_jobs_500.json"))))

    used = set().union(*needed.values())
    assert used <= set(TRUSTED_TYPES) and set(TRUSTED_TYPES) - used <= VERSION_DEPENDENT_TYPES, needed
    assert len(TRUSTED_TYPES) == len(set(TRUSTED_TYPES))


def test_the_embedded_baseline_needs_only_trusted_types():
    # Runs skip the checks of the bundle shipped in the package (Bundle.check_contents): these are its checks.
    bundle = Bundle.open()
    assert bundle.embedded
    assert set(sio.get_untrusted_types(file=bundle.file_path("model"))) <= set(TRUSTED_TYPES)
    bundle.load_model()
    for role in ("benchmark", "base"):
        assert len(bundle.read_table(role)) > 0  # read_table checks the values as check_contents does
