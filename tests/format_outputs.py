"""Real output documents for the hp-format tests (report, summary, picture), previewed once.

Each example is previewed in-process through the six stages against the session's "hpc" test
bundle the first time a test asks for it; later tests get a copy of the same document.
"""

import copy
import json
import os

from helpers import EXAMPLES, pipe

_DONE = {}


def example_output(bundle, name="hpc_jobs_500.json", sample_size=None):
    """The output document of an example; with ``sample_size``, of a stratified sample of it."""
    key = (bundle, name, sample_size)
    if key not in _DONE:
        sample = ("hp-sample",) + (("--sample-size", str(sample_size)) if sample_size else ())
        result = pipe(("hp-load", os.path.join(EXAMPLES, name), "--baseline-model", bundle), sample, ("hp-train",),
                      ("hp-eval",), ("hp-delta",), ("hp-format", "--output-format", "json"))[-1]
        assert result.code == 0, result
        _DONE[key] = json.loads(result.stdout)
    return copy.deepcopy(_DONE[key])


def error_record(source="contributions/broken.csv", message="contributions/broken.csv is empty; give a file"):
    return {"record": "error", "source_path": source,
            "error": {"kind": "bad_data", "exit_code": 3, "message": message, "stage": "load"}}
