"""Import the heavy libraries a stage will need while it waits for its input record.

Every stage of a pipe starts at once and most of them wait for the stage before. A stage that
computes needs pandas, pyarrow or scikit-learn, which take seconds to import; importing them in
a background thread during the wait takes that time off the critical path of a cold run.

* The thread starts only after the stage has waited :data:`DELAY` seconds for its input: in a
  cached re-run the records arrive sooner and, being cache hits, need none of it, so a cached
  run pays nothing (importing there would only take CPU from the stages that are working).
* It runs at a lower priority (per-thread nice, Linux) and is a daemon: a stage whose result
  comes from the cache exits at once, abandoning the import.
* Except the imports in :data:`POOLS`, done first at normal priority: they start the thread
  pools the computation runs on (OpenBLAS starts its workers when loaded). A thread inherits the
  nice value of the thread that creates it and cannot lower it back, so workers started after
  the renice would slow every matrix product of the process.
* A stage calls :func:`wait` before it computes, so its main thread never imports a library
  while the thread is importing it (concurrent imports of one package can fail). Nor may the
  main thread load a C extension the first time while the thread runs (its record handling
  needs only modules loaded before the thread starts, such as fcntl with core/cache.py):
  importing skops.io, the thread lists the loaded libraries through threadpoolctl, whose
  dl_iterate_phdr callback holds the dynamic loader's lock while it waits for the GIL, and a
  dlopen in the main thread holds the GIL while it waits for that lock (a deadlock seen on
  Python 3.8).
* Only console-script runs prefetch (``Command.entry_point``); in-process runs do not.
  ``HP_PREFETCH=0`` turns it off (the benchmark measures the difference).
"""

import os
import threading

DELAY = 1.0  # seconds without input before a stage assumes it will compute

# By top-level package a stage prefetches: what starts a BLAS thread pool it will compute with.
# scipy loads its own OpenBLAS (scipy.linalg), which scikit-learn's compiled code calls too.
# (OpenMP pools start at their first parallel region, in the thread computing: nothing to do.)
POOLS = {"numpy": ("numpy",), "scipy": ("numpy", "scipy.linalg"), "sklearn": ("numpy", "scipy.linalg")}

_thread = None
_cancelled = threading.Event()


def enabled():
    return os.environ.get("HP_PREFETCH", "1") != "0"


def start(modules, delay=DELAY):
    """Import ``modules`` (names) in the background after ``delay`` seconds; once per process."""
    global _thread
    if not modules or _thread is not None or not enabled():
        return
    _thread = threading.Thread(target=_import, args=(tuple(modules), delay), name="hp-prefetch", daemon=True)
    _thread.start()


def cancel():
    """Do not start importing (the input came from the cache); imports already running go on."""
    _cancelled.set()


def wait():
    """Before computing: cancel a prefetch not yet started, or wait for the one running."""
    _cancelled.set()
    if _thread is not None:
        _thread.join()


def _import(modules, delay):
    if _cancelled.wait(delay):
        return
    pools = [name for module in modules for name in POOLS.get(module.split(".")[0], ())]
    for name in dict.fromkeys(pools):  # in order, once each
        _try_import(name)
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass  # no per-thread priority here: the imports still overlap the wait
    for name in modules:
        _try_import(name)


def _try_import(name):
    import importlib

    try:
        importlib.import_module(name)
    except Exception:  # noqa: BLE001 - the stage imports it again itself and reports the error
        pass
