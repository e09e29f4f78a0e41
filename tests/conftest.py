import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from helpers import EXAMPLES, SPLIT_SIZES, build_test_bundle  # noqa: E402


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    """Every test gets its own empty cache (and never touches the user's)."""
    path = tmp_path / "cache"
    monkeypatch.setenv("HP_CACHE_DIR", str(path))
    monkeypatch.delenv("HP_BASELINE", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return path


@pytest.fixture(scope="session")
def bundles(tmp_path_factory):
    """Real bundles built once per session, keyed by name, with the rows left for contributions.

    hpc: 4 classes, base table kept (retrain mode); hpc_finetune: same without base table;
    churn: binary; food: free text.
    """
    root = tmp_path_factory.mktemp("bundles")
    built = {}

    def get(name):
        if name not in built:
            dataset, keep_base = {"hpc": ("hpc_data", True), "hpc_finetune": ("hpc_data", False),
                                  "churn": ("wa_churn", True), "food": ("fine_food_reviews", True)}[name]
            built[name] = build_test_bundle(str(root / name), dataset, *SPLIT_SIZES[dataset], keep_base=keep_base)
        return built[name]

    return get


@pytest.fixture
def example_csv():
    return os.path.join(EXAMPLES, "hpc_jobs_1000.csv")
