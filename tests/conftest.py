import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from helpers import EXAMPLES, build_test_bundle  # noqa: E402


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
            spec = {"hpc": ("hpc_data", 600, 1500, True), "hpc_finetune": ("hpc_data", 600, 1500, False),
                    "churn": ("wa_churn", 800, 1200, True), "food": ("fine_food_reviews", 800, 1000, True)}[name]
            built[name] = build_test_bundle(str(root / name), spec[0], spec[1], spec[2], keep_base=spec[3])
        return built[name]

    return get


@pytest.fixture
def example_csv():
    return os.path.join(EXAMPLES, "hpc_jobs_1000.csv")
