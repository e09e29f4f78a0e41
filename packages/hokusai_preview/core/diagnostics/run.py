"""Running the checks: :func:`diagnose` on a table in memory, :func:`diagnose_parquet` (which
hp-check calls) on a Parquet file in bounded memory, and :func:`messages`, the findings as short
lines for people."""

import time
from collections import namedtuple

import numpy as np

from ..bundle import class_codes
from .labels import label_noise, label_noise_lines
from .matching import (
    ReferenceIndex,
    _contamination,
    _distinct,
    _duplicates,
    _exact_keys,
    _matched,
    contamination_lines,
    duplicate_lines,
    encode,
    exact_index,
    match_rows,
    near_earlier,
    near_match,
)
from .matching import rules as matching_rules
from .personal import pii, pii_lines
from .proximity import closeness, closeness_lines
from .proximity import rule as closeness_rule
from .shift import class_balance_lines, drift, drift_lines

RULES_VERSION = 12  # bump it whenever a change to a rule or threshold can change the findings (hp-check's cache key)
SAMPLE_ROWS = 50_000  # beyond this many contributed rows, checks of whole rows run on a sample
SAMPLE_ROWS_TEXT = 10_000  # with free text: near repeats compare every pair of texts (time grows as n^2)
STREAM_BATCH_BYTES = 8 << 20  # a larger table is read in batches of about this much data

# What a contribution is checked against (the baseline's tables and features, the label and its
# classes), and the seed of every random draw.
Context = namedtuple("Context", "benchmark base features label classes seed")


def rules():
    """The matching rules, as the output states them."""
    return dict(matching_rules(), closeness=closeness_rule())


def diagnose(contribution, benchmark, base, features, label, classes, seed=42, remove_contaminated=True):
    """Every finding about ``contribution``; returns (diagnostics dict, boolean mask of rows to keep).

    Row numbers in the findings are 0-based positions in ``contribution``.
    """
    ctx = Context(benchmark, base, features, label, classes, seed)
    timings = {}
    started = time.perf_counter()
    contamination, duplicates, contaminated, matched = match_rows(contribution, benchmark, base, features, label)
    timings["matching"] = time.perf_counter() - started
    keep = _act(contamination, contaminated, remove_contaminated)
    started = time.perf_counter()
    # Rows matching a reference row have it as nearest neighbour: they are counted above, not here.
    contamination["closeness"] = closeness(contribution, benchmark, base, features, label, classes,
                                           np.flatnonzero(~matched), seed)
    timings["closeness"] = time.perf_counter() - started
    columns = [c for c in contribution.columns if c != label]
    noise, shift, personal = _row_checks(contribution, ctx, columns, timings)
    return _findings(len(contribution), ctx, contamination, duplicates, noise, shift, personal, timings), keep


def _act(contamination, contaminated, remove_contaminated):
    """Record what is done with the contaminated rows; returns the mask of rows to keep.

    Only an alarm removes them: a count chance explains is kept, as the main pipeline keeps it,
    because removing even one row reshuffles its 80/20 split and forest and can move the delta
    more than those rows do (README, "Chance")."""
    remove = remove_contaminated and contamination["warn"]
    if not contamination["rows"]:
        contamination["action"] = "none"
    elif not contamination["warn"]:
        contamination["action"] = "kept_chance"
    else:
        contamination["action"] = "removed" if remove else "kept"
    contamination["rows_removed"] = contamination["rows"] if remove else 0
    return ~contaminated if remove else np.ones(len(contaminated), dtype=bool)


def _row_checks(contribution, ctx, pii_columns, timings, class_counts=None):
    """(label noise, drift, PII) of ``contribution``, timed into ``timings``."""
    import pandas as pd

    started = time.perf_counter()
    reference = pd.concat([t for t in (ctx.base, ctx.benchmark) if t is not None], ignore_index=True)
    noise = label_noise(contribution, reference, ctx.features, ctx.label, ctx.classes, ctx.seed)
    timings["label_noise"] = time.perf_counter() - started

    started = time.perf_counter()
    shift = drift(contribution, ctx.benchmark, ctx.features, ctx.label, ctx.classes, class_counts, ctx.seed)
    timings["drift"] = time.perf_counter() - started

    started = time.perf_counter()
    personal = pii(contribution, pii_columns, ctx.seed)
    timings["pii"] = time.perf_counter() - started
    return noise, shift, personal


def _findings(rows, ctx, contamination, duplicates, noise, shift, personal, timings, sample=None):
    findings = {"rules_version": RULES_VERSION, "rows_checked": int(rows),
                "reference": {"benchmark_rows": int(len(ctx.benchmark)),
                              "base_rows": int(len(ctx.base)) if ctx.base is not None else 0},
                "rules": rules(), "contamination": contamination, "duplicates": duplicates, "label_noise": noise,
                "drift": shift, "pii": personal}
    if sample is not None:
        findings["sample"] = sample
    findings["warnings"], findings["notes"] = messages(findings)
    findings["timings"] = {k: round(v, 4) for k, v in timings.items()}
    return findings


# --- tables of any size ----------------------------------------------------------------------


def _label_codes(column, classes):
    """The labels of ``column`` (a pandas Series) as codes into ``classes``: each distinct value
    looked up once (:func:`..recipe.class_codes`, which refuses one outside them)."""
    import pandas as pd

    from ..recipe import class_codes

    indices, values = pd.factorize(column.astype(str))
    return class_codes(values, classes, column=column.name)[indices]


def sample_cap(features):
    """Rows beyond which :func:`diagnose_parquet` samples: fewer with free text."""
    return SAMPLE_ROWS_TEXT if any(f["kind"] == "text" for f in features) else SAMPLE_ROWS


def diagnose_parquet(path, benchmark, base, features, label, classes, seed=42, remove_contaminated=True,
                     cleaned_path=None, sample_rows=None, batch_bytes=STREAM_BATCH_BYTES):
    """:func:`diagnose` for the contribution in the Parquet file ``path`` (as hp-load writes it),
    in memory bounded by ``sample_rows`` rather than by the file's size.

    Returns (findings, mask of rows to keep, class counts of the kept rows). When
    ``cleaned_path`` is given and some but not all rows are removed, the kept rows are written
    there.

    Up to ``sample_rows`` rows (default: :func:`sample_cap`) the table is read whole and the
    findings are :func:`diagnose`'s. Beyond, only the columns each check needs are read, in
    batches of about ``batch_bytes``: every row is matched against the benchmark and base tables
    and hashed for exact repeats, so contamination (and its removal) and exact duplicates cover
    every row; near repeats within the contribution are looked for among its distinct rows, a
    random ``sample_rows`` of them when there are more; label noise, drift of the features and
    personal data are checked on a stratified sample of ``sample_rows`` rows (class balance on
    every row). ``findings["sample"]`` says so.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..dataio import open_parquet
    from ..fsutil import atomic_path

    parquet = open_parquet(path)
    n = parquet.metadata.num_rows
    sample_rows = sample_cap(features) if sample_rows is None else sample_rows
    if n <= sample_rows:
        table = pq.read_table(path)
        frame = table.to_pandas()
        findings, keep = diagnose(frame, benchmark, base, features, label, classes, seed=seed,
                                  remove_contaminated=remove_contaminated)
        if cleaned_path is not None and 0 < (~keep).sum() < n:
            with atomic_path(cleaned_path) as tmp:
                pq.write_table(table.filter(pa.array(keep)), tmp)
        labels, counts = np.unique(frame[label].astype(str).to_numpy()[keep], return_counts=True)
        return findings, keep, {str(k): int(v) for k, v in zip(labels, counts)}
    ctx = Context(benchmark, base, features, label, classes, seed)
    return _diagnose_batches(parquet, n, ctx, remove_contaminated, cleaned_path, sample_rows, batch_bytes)


def _diagnose_batches(parquet, n, ctx, remove_contaminated, cleaned_path, sample_rows, batch_bytes):
    import contextlib

    import pyarrow as pa

    from ..dataio import ParquetSink, parquet_batches, take_rows
    from ..fsutil import atomic_path
    from ..sampling import stratified_indices

    benchmark, base, features, label, classes, seed = ctx
    timings = {}
    started = time.perf_counter()
    names = [f["name"] for f in features]
    reference = ReferenceIndex(benchmark, base, features)
    bench_labels = class_codes(benchmark[label].astype(str), classes, unknown=-1)
    # Per row only a label code, a key and its partner rows (about 30 bytes), none of its values.
    y = np.empty(n, dtype=np.int16 if len(classes) < 1 << 15 else np.int32)
    keys = np.empty(n, dtype=np.uint64)
    bench = (np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int32))
    base_found = (np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int32)) if base is not None else None
    start = 0
    for batch in parquet_batches(parquet, names + [label], target_bytes=batch_bytes):
        frame = batch.to_pandas()
        stop = start + len(frame)
        y[start:stop] = _label_codes(frame[label], classes)
        batch_keys = keys[start:stop] = _exact_keys(frame, features)
        # Near matching on the batch's distinct rows: copies share the answer.
        _, first, inverse = np.unique(batch_keys, return_index=True, return_inverse=True)
        encoded = reference.encode(frame.iloc[first])
        for found, table in ((bench, reference.benchmark), (base_found, reference.base)):
            if found is not None:
                found[0][start:stop] = exact_index(batch_keys, table.keys)
                found[1][start:stop] = near_match(encoded, table)[1][inverse.reshape(-1)]
        start = stop
    distinct_rows, inverse = _distinct(keys)
    del keys
    checked = np.arange(len(distinct_rows))
    if len(checked) > sample_rows:
        checked = np.sort(np.random.default_rng(seed).choice(len(checked), sample_rows, replace=False))
    near_rows = distinct_rows[checked]  # ascending, like distinct_rows
    # Contamination before the pass below: whether it is an alarm decides the rows written.
    contamination, contaminated = _contamination(reference.pair_rate, len(benchmark), bench, y, bench_labels)
    keep = _act(contamination, contaminated, remove_contaminated)
    timings["matching"] = time.perf_counter() - started

    # One pass over every column: the kept rows into the cleaned table, the rows the remaining
    # checks need into memory.
    started = time.perf_counter()
    write = cleaned_path is not None and 0 < (~keep).sum() < n
    sample = stratified_indices(y, sample_rows, seed)
    near_parts, sample_parts = [], []
    with (atomic_path(cleaned_path) if write else contextlib.nullcontext()) as tmp:
        # No column statistics: nothing reads them, and on long texts they cost a fifth of the write.
        writer = ParquetSink(tmp, parquet.schema_arrow, write_statistics=False) if write else None
        try:
            start = 0
            for batch in parquet_batches(parquet, target_bytes=batch_bytes):
                stop = start + batch.num_rows
                for rows, parts, columns in ((near_rows, near_parts, names), (sample, sample_parts, None)):
                    taken = take_rows(batch, rows, start)
                    if taken is not None:
                        parts.append(taken.select(columns) if columns is not None else taken)
                if writer is not None:
                    kept = keep[start:stop]
                    writer.write(batch if kept.all() else batch.filter(pa.array(kept)))
                start = stop
        finally:
            if writer is not None:
                writer.close()
    timings["reading"] = time.perf_counter() - started

    started = time.perf_counter()
    earlier = near_earlier(encode([pa.Table.from_batches(near_parts).to_pandas()], features)[0])
    near_of_distinct = np.full(len(distinct_rows), -1, dtype=np.int64)
    near_of_distinct[checked] = np.where(earlier >= 0, near_rows[np.maximum(earlier, 0)], -1)
    duplicates = _duplicates(reference.pair_rate, len(base) if base is not None else 0, base_found, distinct_rows,
                             inverse, near_of_distinct[inverse])
    timings["matching"] += time.perf_counter() - started

    frame = pa.Table.from_batches(sample_parts).to_pandas()
    started = time.perf_counter()
    matched = contaminated | _matched(base_found)
    close = contamination["closeness"] = closeness(frame, benchmark, base, features, label, classes,
                                                   np.flatnonzero(~matched[sample]), seed)
    for example in close["examples"]:  # the sample's row numbers, as the whole table's
        example["row"] = int(sample[example["row"]])
    timings["closeness"] = time.perf_counter() - started
    counts = np.bincount(y, minlength=len(classes))
    noise, shift, personal = _row_checks(frame, ctx, [c for c in frame.columns if c != label], timings, counts)
    # The sample's row numbers, as the whole table's.
    if noise["status"] == "checked":
        noise["rows_total"] = int(n)
        noise["row_indices"] = sample[noise["row_indices"]].tolist()
        for example in noise["examples"]:
            example["row"] = int(sample[example["row"]])
    about = {"rows": int(len(sample)), "cap": int(sample_rows), "method": "stratified_by_label", "seed": seed,
             "checks": ["closeness", "label_noise", "drift", "pii"], "distinct_rows": int(len(distinct_rows)),
             "distinct_rows_checked": int(len(checked))}
    findings = _findings(n, ctx, contamination, duplicates, noise, shift, personal, timings, about)
    kept = np.bincount(y[keep], minlength=len(classes))
    return findings, keep, {str(c): int(k) for c, k in sorted(zip(classes, kept)) if k}


# --- messages --------------------------------------------------------------------------------


def file_rows(dropped=None):
    """The function from a row's position among the rows hp-load kept (from 0) to its data-row
    number in the contributed file (from 1, as hp-load's own messages count), given the sorted
    data-row numbers of the rows hp-load ``dropped`` (unknown labels)."""
    if dropped is None or not len(dropped):
        return lambda i: int(i) + 1
    dropped = np.asarray(dropped, dtype=np.int64)

    def number(i):
        # The smallest r with r - (rows dropped up to r) = i + 1, r not dropped.
        r = int(i) + 1
        while True:
            moved = int(i) + 1 + int(np.searchsorted(dropped, r, side="right"))
            if moved == r:
                return r
            r = moved
    return number


def _sample_lines(findings, rn):
    """(warnings, notes) about the checks run on a sample of a large table."""
    sample = findings.get("sample")
    if not sample:
        return [], []
    n = findings["rows_checked"]
    ln = findings["label_noise"]
    partial = sample["distinct_rows_checked"] < sample["distinct_rows"]
    noise_rows = ln["rows_checked"] if ln["status"] == "checked" else sample["rows"]
    close = findings["contamination"].get("closeness") or {}
    return [], ["sampled: feature drift and personal data checked on a stratified sample of {:,} of {:,} "
                "rows (more than {:,}), label noise on {:,} of them{}; benchmark copies and repeats on every "
                "row{}".format(sample["rows"], n, sample["cap"], min(noise_rows, sample["rows"]),
                    ", closeness to the benchmark on {:,}".format(close["rows_tested"])
                    if close.get("status") == "checked" else "",
                    ", near repeats among {:,} of {:,} distinct rows".format(
                        sample["distinct_rows_checked"], sample["distinct_rows"]) if partial else "")]


# Each finding's lines, in the order the messages give them.
LINES = (contamination_lines, closeness_lines, duplicate_lines, label_noise_lines, drift_lines, class_balance_lines,
         pii_lines, _sample_lines)


def messages(findings, row_number=None):
    """(warnings, notes): short lines for people; warnings are the alarms. They name a contributed
    row by ``row_number(position)`` (default: :func:`file_rows`, nothing dropped), as the file
    numbers it; benchmark and base rows from 1 too, as their tables' rows (the JSON holds
    positions from 0)."""
    rn = row_number or file_rows()
    warnings, notes = [], []
    for lines in LINES:
        found, noted = lines(findings, rn)
        warnings.extend(found)
        notes.extend(noted)
    return warnings, notes
