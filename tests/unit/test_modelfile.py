"""Model files are read one way: a regular file, read once and checked against its SHA-256, with
the bundle's hints; a pickle is refused one way; checkpointed trees are saved and loaded as
model files are."""

import hashlib
import os

import numpy as np
import pytest

from hokusai_preview.core.errors import BaselineError, IntegrityError, UntrustedModelError
from hokusai_preview.core.modelfile import REBUILD, REFETCH, load_model, read_verified, refuse_untrusted, save_model


def test_a_model_file_that_is_a_named_pipe_is_refused_not_waited_on(tmp_path):
    fifo = str(tmp_path / "model.skops")
    os.mkfifo(fifo)  # no writer: reading it would wait for ever
    with pytest.raises(OSError):
        read_verified(fifo)
    with pytest.raises(BaselineError) as caught:
        load_model(fifo)
    assert caught.value.line() == "cannot read model file %s: not a regular file; %s" % (fifo, REBUILD)


def test_a_changed_file_is_refused_before_it_is_used(tmp_path):
    path = tmp_path / "model.skops"
    path.write_bytes(b"PK\x03\x04 not what the manifest recorded")
    assert read_verified(str(path), hashlib.sha256(path.read_bytes()).hexdigest()) == path.read_bytes()
    with pytest.raises(IntegrityError) as caught:
        load_model(str(path), sha256="0" * 64)
    assert caught.value.line() == ("model file %s was changed after the manifest was written (SHA-256 mismatch); %s"
                                   % (path, REFETCH))
    with pytest.raises(IntegrityError) as caught:
        read_verified(str(path), "0" * 64, "bundle b: model.skops")
    assert caught.value.message.startswith("bundle b: model.skops was changed after the manifest was written")


def test_a_pickle_is_refused_in_one_way_unless_trusted():
    from hokusai_preview.core.bundle import refuse_untrusted_record

    refuse_untrusted("m.pkl", "pickle", True)
    refuse_untrusted("m.skops", "skops", False)
    refuse_untrusted_record({"path": "/b", "model_format": "skops"}, False)
    refuse_untrusted_record({"path": "/b"}, False)  # records before the format was recorded: skops
    for refuse, line in ((lambda: refuse_untrusted("m.pkl", "pickle", False), "model file m.pkl is a pickle file"),
                         (lambda: refuse_untrusted_record({"path": "/b", "model_format": "joblib"}, False),
                          "the baseline /b has a joblib model file")):
        with pytest.raises(UntrustedModelError) as caught:
            refuse()
        assert caught.value.message == line + ", and loading one runs any code it contains, so it is refused"
        assert "--trust-model" in caught.value.hint


def test_checkpointed_trees_are_saved_and_loaded_as_model_files(tmp_path):
    from sklearn.tree import DecisionTreeClassifier

    from hokusai_preview.core.checkpoint import _read_trees

    rows = np.arange(40, dtype=np.float64).reshape(20, 2)
    trees = [DecisionTreeClassifier(random_state=seed).fit(rows, np.arange(20) % 2) for seed in (1, 2)]
    path = str(tmp_path / "trees-0000-0002.skops")
    save_model(trees, path)
    loaded = _read_trees(path)
    assert [type(t) for t in loaded] == [DecisionTreeClassifier] * 2
    assert all((a.predict(rows) == b.predict(rows)).all() for a, b in zip(trees, loaded))
    save_model({"not": "trees"}, path)
    with pytest.raises(ValueError):
        _read_trees(path)
