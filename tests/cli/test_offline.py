"""No network at any point: hp-baseline and the driver run with the network unavailable.

Two layers, so the test is real wherever it runs: every Python process gets a sitecustomize
that logs and refuses any internet socket connection or name lookup (which also catches an
attempt whose failure a library would swallow), and, where the kernel lets us (`unshare -n`,
root in a sandbox), the commands run in a network namespace with no interface up at all.
"""

import json
import os
import subprocess
import sys

import pandas as pd

from helpers import BIN, DATASETS, EXAMPLES, ROOT, validate

GUARD = '''\
import os
import socket

_LOG = os.environ["HP_NETWORK_LOG"]
_INTERNET = (socket.AF_INET, socket.AF_INET6)


def _refuse(what, detail):
    with open(_LOG, "a") as handle:
        handle.write("%d %s %r\\n" % (os.getpid(), what, detail))
    raise OSError(101, "network is unreachable (offline test)")


def _guard(name):
    real = getattr(socket.socket, name)

    def guarded(self, *args):
        if self.family in _INTERNET:
            _refuse(name, args)
        return real(self, *args)

    setattr(socket.socket, name, guarded)


for _name in ("connect", "connect_ex", "sendto", "sendmsg"):
    _guard(_name)


def _lookup(*args, **kwargs):
    _refuse("getaddrinfo", args)


socket.getaddrinfo = _lookup
'''


def offline_env(tmp_path):
    guard_dir = tmp_path / "guard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(GUARD)
    log = tmp_path / "network.log"
    log.write_text("")
    env = dict(os.environ, HP_NETWORK_LOG=str(log), HP_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=os.pathsep.join([str(guard_dir)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    return env, log


def isolation():
    """["unshare", "-n", "--"] when a network namespace can be made here, else [] (the guard alone)."""
    try:
        made = subprocess.run(["unshare", "-n", "--", "true"], capture_output=True, timeout=60).returncode == 0
    except OSError:
        made = False
    return ["unshare", "-n", "--"] if made else []


def test_baseline_and_driver_work_with_the_network_unavailable(tmp_path):
    env, log = offline_env(tmp_path)
    prefix = isolation()

    # Both layers really are in force: a connection attempt fails, and the guard saw it.
    probe = [sys.executable, "-c", "import socket; s = socket.socket(); s.settimeout(5); s.connect(('192.0.2.1', 9))"]
    assert subprocess.run(prefix + probe, env=env, capture_output=True, timeout=120).returncode != 0
    assert "connect" in log.read_text()
    if prefix:
        bare = dict(env, PYTHONPATH=os.environ.get("PYTHONPATH", ""))
        unguarded = subprocess.run(prefix + probe, env=bare, capture_output=True, text=True, timeout=120)
        assert unguarded.returncode != 0 and "unreachable" in unguarded.stderr, unguarded.stderr
    log.write_text("")

    frame = pd.read_parquet(os.path.join(DATASETS, "hpc_data.parquet")).sample(1100, random_state=11)
    frame.iloc[:600].to_parquet(str(tmp_path / "base.parquet"), index=False)
    frame.iloc[600:].to_parquet(str(tmp_path / "bench.parquet"), index=False)
    built = subprocess.run(prefix + [os.path.join(BIN, "hp-baseline"), "--train-data", str(tmp_path / "base.parquet"),
                                     "--benchmark-data", str(tmp_path / "bench.parquet"),
                                     "--output", str(tmp_path / "bundle"), "--jobs", "1"],
                           env=env, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr

    output = tmp_path / "out.json"
    run = subprocess.run(prefix + [os.path.join(ROOT, "bin", "hokusai-preview"), "--data-path",
                                   os.path.join(EXAMPLES, "hpc_jobs_1000.csv"), "--baseline-model",
                                   str(tmp_path / "bundle"), "--output-format", "json", "--output-file", str(output)],
                         env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    document = json.loads(output.read_text())
    validate(document, "delta-output")
    assert document["new_model"]["training_metadata"]["contributed_samples"] > 0
    assert log.read_text() == ""  # not one attempt, refused or not
