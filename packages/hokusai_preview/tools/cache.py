"""hp-cache: show, trim or clear the cache the hp-* stages share.

Usage:
  hp-cache [options]
  hp-cache [options] --clear [--stage NAME]
  hp-cache [options] --max-bytes SIZE
  hp-cache (-h | --help | --version)

Without an action, prints where the cache is, its size and its cap, and per
stage the number of entries, their size and when one was last used, plus what
interrupted runs left behind (the next run removes it). Every stage caches its
result under a key that hashes its input record, its options and the tool
version; a re-run with the same inputs reuses it. The cap (HP_CACHE_MAX_BYTES,
default 2G) is enforced after every new entry by evicting the least recently
used ones; entries used in the last 10 minutes are kept, so a running pipeline
keeps its files.

Options:
  --clear                 Remove every entry and what interrupted runs left
                          (only --stage's entries with --stage). A run using
                          the cache meanwhile fails in one line (exit 2, its
                          cached files removed or gone): run it again.
  --stage NAME            With --clear: only this stage's entries (load, check,
                          sample, train, eval, delta; reference: a bundle's own
                          predictions; checkpoint: trees grown; bundle-check: a
                          bundle found safe to open and usable).
  --max-bytes SIZE        Evict least-recently-used entries now until the cache
                          fits SIZE (bytes, or like 500M, 2G); entries in use
                          are not spared.
  --entries               List every entry (stage, key, size, last used) after
                          the summary.
  --json                  Print one JSON object instead of text.
  --cache-dir DIR         Cache directory (default: $HP_CACHE_DIR, else
                          ~/.cache/hokusai-preview).
{basic_options}

Exit status: 0 success, 2 usage, 7 the cache cannot be written.
"""

import json
import os
import time

from ..core.command import Command, write_stdout
from ..core.errors import OutputError, UsageError
from ..core.options import with_basic_options
from ..core.text import name_list, plural

__doc__ = with_basic_options(__doc__)



class CacheCommand(Command):
    name = "hp-cache"
    usage = __doc__

    def run(self, args):
        from ..core.cache import KINDS, Cache, parse_size

        cache = Cache(args["--cache-dir"])
        if args["--stage"] is not None and not args["--clear"]:
            raise UsageError("--stage only goes with --clear", "see 'hp-cache --help'")
        if args["--stage"] is not None and args["--stage"] not in KINDS:
            raise UsageError("--stage %r is not a cache stage" % args["--stage"],
                             "give one of %s" % ", ".join(KINDS))
        unreadable = list(cache.unreadable())  # before acting: what cannot be listed cannot be cleared
        for path, reason in unreadable:
            if path == cache.root:
                raise OutputError("cannot read the cache %s: %s" % (path, reason),
                                  "check the directory's permissions, or give --cache-dir another")
        if args["--clear"]:
            blocked = [path for path, _reason in unreadable if args["--stage"] is None
                       or os.path.relpath(path, cache.root).split(os.sep)[0] == args["--stage"]]
            if blocked:
                raise OutputError("cannot clear %s: %s cannot be read (%s)" % (
                    cache.root, name_list([os.path.relpath(p, cache.root) for p in blocked], 3, quote=str),
                    unreadable[0][1]), "check the directory's permissions")
            freed = cache.clear(stage=args["--stage"])
            self.info("removed %s from %s" % (human(freed), cache.root))
        elif args["--max-bytes"] is not None:
            try:
                limit = parse_size(args["--max-bytes"])
            except ValueError:
                raise UsageError("--max-bytes must be a size like 500M or 2G, not %r" % args["--max-bytes"],
                                 None) from None
            removed = cache.enforce_limit(max_bytes=limit, grace=0)
        for path, reason in unreadable:
            self.warn("cannot read %s: %s; the entries in it are not counted" % (path, reason))
        info = describe(cache)
        if args["--max-bytes"] is not None:
            if info["bytes"] > limit:  # enforce_limit skips what it cannot remove: the error is the one line
                raise OutputError("%s still holds %s, more than %s: some entries cannot be removed (is it "
                                  "read-only?)" % (cache.root, human(info["bytes"]), human(limit)),
                                  "check the directory's permissions")
            self.info("evicted %s (%s)" % (entries_text(len(removed)), human(sum(e["bytes"] for e in removed))))
        if args["--json"]:
            if not args["--entries"]:
                del info["entries"]
            write_stdout(json.dumps(info, indent=2) + "\n", utf8=True)
        else:
            write_stdout(render(info, args["--entries"]))


def describe(cache):
    """The cache's state as a JSON-able dict."""
    entries = list(cache.entries())
    stages = {}
    for entry in entries:
        stage = stages.setdefault(entry["stage"], {"entries": 0, "bytes": 0, "last_used": 0.0})
        stage["entries"] += 1
        stage["bytes"] += entry["bytes"]
        stage["last_used"] = max(stage["last_used"], entry["last_used"])
    leftovers = [(path, size) for path, size, alive in cache.leftovers() if not alive]
    return {
        "path": cache.root,
        "exists": os.path.isdir(cache.root),
        "bytes": sum(e["bytes"] for e in entries),
        "max_bytes": cache.max_bytes,
        "entry_count": len(entries),
        "stages": {name: dict(s, last_used=_iso(s["last_used"])) for name, s in sorted(stages.items())},
        "leftovers": {"count": len(leftovers), "bytes": sum(size for _path, size in leftovers)},
        "entries": [{"stage": e["stage"], "key": e["key"], "bytes": e["bytes"], "last_used": _iso(e["last_used"])}
                    for e in sorted(entries, key=lambda e: -e["last_used"])],
    }


def render(info, with_entries=False):
    # A directory that does not exist is said to: a mistyped --cache-dir would read as an empty cache.
    lines = ["cache: %s%s" % (info["path"], "" if info["exists"] else " (does not exist yet: nothing cached there)"),
             "size: %s in %s (cap %s, HP_CACHE_MAX_BYTES)" % (
                 human(info["bytes"]), entries_text(info["entry_count"]), human(info["max_bytes"]))]
    if info["stages"]:
        lines.append("%-12s %8s %10s  %s" % ("stage", "entries", "size", "last used"))
        for name, stage in info["stages"].items():
            lines.append("%-12s %8d %10s  %s" % (name, stage["entries"], human(stage["bytes"]), stage["last_used"]))
    if info["leftovers"]["count"]:
        lines.append("left by interrupted runs: %s, %s (never read; removed by the next run or --clear)"
                     % (plural(info["leftovers"]["count"], "item"), human(info["leftovers"]["bytes"])))
    if with_entries and info["entries"]:
        lines.append("")
        lines.append("%-12s %-16s %10s  %s" % ("stage", "key", "size", "last used"))
        for entry in info["entries"]:
            lines.append("%-12s %-16s %10s  %s" % (entry["stage"], entry["key"][:16], human(entry["bytes"]),
                                                   entry["last_used"]))
    return "\n".join(lines) + "\n"


def entries_text(count):
    return plural(count, "entry", "entries")


def human(size):
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return "%d %s" % (value, unit) if unit == "B" else "%.1f %s" % (value, unit)
        value /= 1024.0


def _iso(stamp):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else None


main = CacheCommand.entry_point
