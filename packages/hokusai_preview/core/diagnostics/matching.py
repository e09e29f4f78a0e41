"""Matching rows: benchmark contamination, and duplicates within the contribution and of the
base table (:func:`match_rows`).

The baseline's feature columns are compared. *Exact*: every feature equal after normalising
types (numbers to float, 12 significant digits) and whitespace (trimmed, runs collapsed);
missing equals missing. *Near*: every feature similar: numbers of the same sign with magnitudes
within a ratio of 1 + ``NEAR_RATIO`` (zero only matches zero); categories equal ignoring case;
free text with a Jaccard similarity of word 3-shingles of at least ``NEAR_TEXT`` (0.8), or
without words on both sides (missing matches only missing).

*Chance level*: identical or near-identical rows also occur between clean tables of the same
source (two customers with the same plan). The rate at which the baseline's own rows (benchmark
and base) match each other gives the number expected by chance; a count is an alarm only above
the ``ALARM_QUANTILE`` Poisson quantile of that expectation (duplicates also need
``DUPLICATE_MIN_SHARE`` of the rows).
"""

import math
import re

import numpy as np

from ..text import plural, thousands
from .common import (
    EXAMPLES,
    NUMERIC_DIGITS,
    ROW_INDICES,
    _hash_rows,
    _numeric,
    _reference_row,
    _round_significant,
    _string_hashes,
    _value_hashes,
)

NEAR_RATIO = 0.001
NEAR_TEXT = 0.8
SHINGLE_WORDS = 3
NEIGHBOURS = 8
PAIR_BLOCK = 4_000_000  # candidate text pairs computed at once
ALARM_QUANTILE = 0.999
DUPLICATE_MIN_SHARE = 0.01  # fewer repeats than this cannot move an estimate noticeably


# --- encoding --------------------------------------------------------------------------------


class Encoded:
    """One table encoded for matching: exact keys, near-match points and text shingles."""

    def __init__(self, keys, points, shingles):
        self.keys = keys          # uint64 per row, equal iff the rows match exactly
        self.points = points      # (n, d) floats: near in all but text iff Chebyshev distance <= 1
        self.shingles = shingles  # one binary sparse matrix per text feature (no row: no words)
        self.empty = np.ones(len(keys), dtype=bool)  # rows whose every text feature has no words
        for matrix in shingles:
            self.empty &= np.diff(matrix.indptr) == 0

    def __len__(self):
        return len(self.keys)

    def take(self, rows):
        """The encoding of the given rows only."""
        return Encoded(self.keys[rows], self.points[rows], [m[rows] for m in self.shingles])


def _exact_keys(frame, features):
    """One uint64 per row, equal iff the rows' features are equal after normalisation."""
    return _hash_rows([_value_hashes(_round_significant(_numeric(frame[f["name"]]))) if f["kind"] == "numeric"
                       else _string_hashes(frame[f["name"]]) for f in features], len(frame))


def _encode_parts(frame, features):
    """One table's (exact keys, near-match group hashes, log-scaled numbers, shingle matrices).

    Every part is computed row by row, so a table encoded in batches gets the same parts."""
    text = [f["name"] for f in features if f["kind"] == "text"]
    numeric = [f["name"] for f in features if f["kind"] == "numeric"]
    categorical = [f["name"] for f in features if f["kind"] == "categorical"]
    step = math.log1p(NEAR_RATIO)
    n = len(frame)
    keys = _exact_keys(frame, features)
    matrices = [_shingle_matrix(frame[name]) for name in text]
    # Near: categories equal ignoring case, the same text features without words, and every
    # number of the same sign (zero and missing are signs of their own) with magnitudes within
    # a ratio of 1 + NEAR_RATIO: on a log scale divided by log(1 + NEAR_RATIO) that is a
    # Chebyshev distance of at most 1. Text similarity is checked on the pairs separately.
    values = [_numeric(frame[name]) for name in numeric]
    signs = [np.where(np.isnan(v), 2.0, np.sign(v)) for v in values]
    # 1: text without words, 2: missing (which matches only missing).
    wordless = [np.where(frame[name].isna().to_numpy(), 2.0, (np.diff(m.indptr) == 0).astype(np.float64))
                for name, m in zip(text, matrices)]
    groups = _hash_rows([_value_hashes(v) for v in signs + wordless]
                        + [_string_hashes(frame[name], fold=True) for name in categorical], n)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = [np.where(np.isfinite(v) & (v != 0), np.log(np.abs(v)) / step, 0.0) for v in values]
    logs = np.column_stack(scaled) if scaled else np.zeros((n, 0))
    return keys, groups, logs, matrices


def encode(frames, features):
    """Encode several tables consistently (shared group codes); returns a list of Encoded."""
    parts = [_encode_parts(frame, features) for frame in frames]
    _, codes = np.unique(np.concatenate([p[1] for p in parts]), return_inverse=True)
    bounds = np.cumsum([0] + [len(f) for f in frames])
    codes = codes.astype(np.float64).reshape(-1) * 3.0  # different groups are >= 3 apart
    full = np.column_stack([codes, np.concatenate([p[2] for p in parts])])
    return [Encoded(parts[i][0], full[bounds[i]:bounds[i + 1]], parts[i][3]) for i in range(len(frames))]


# Markup (HTML tags and entities) is formatting, not content: "<br />" must not make two copies
# of a review differ.
_MARKUP = re.compile(r"<[^<>]{0,200}>|&(?:[A-Za-z]{2,8}|#[0-9]{1,7}|#x[0-9A-Fa-f]{1,6});")


def _shingle_words(text):
    tokens = re.findall(r"\w+", _MARKUP.sub(" ", text).casefold())
    if len(tokens) < SHINGLE_WORDS:
        return [" ".join(tokens)] if tokens else []
    return [" ".join(tokens[i:i + SHINGLE_WORDS]) for i in range(len(tokens) - SHINGLE_WORDS + 1)]


def _shingle_matrix(column):
    import pandas as pd
    from sklearn.feature_extraction.text import HashingVectorizer

    values = column.astype(object).where(column.notna(), "").to_numpy()
    codes, uniques = pd.factorize(values)  # each distinct text is shingled once
    vectorizer = HashingVectorizer(analyzer=_shingle_words, n_features=1 << 22, binary=True, norm=None,
                                   alternate_sign=False, dtype=np.float32)
    return vectorizer.transform([str(u) for u in uniques]).tocsr()[codes]


# --- matching --------------------------------------------------------------------------------


def _stack(parts):
    """One Encoded of several tables' rows, in order."""
    import scipy.sparse

    shingles = [scipy.sparse.vstack([p.shingles[k] for p in parts]).tocsr() for k in range(len(parts[0].shingles))]
    return Encoded(np.concatenate([p.keys for p in parts]), np.concatenate([p.points for p in parts]), shingles)


def _text_pairs(a, b, same):
    """Near (i, j) pairs of rows with words: a text feature with Jaccard >= NEAR_TEXT finds the
    candidates; every text feature (both without words, or similar) and the rest must agree."""
    candidates = []
    for ma, mb in zip(a.shingles, b.shingles):
        size_a = np.asarray(ma.sum(axis=1)).ravel()
        size_b = np.asarray(mb.sum(axis=1)).ravel()
        transposed = mb.T.tocsc()
        # In blocks of rows, so that shingles most rows share (a boilerplate sentence) cannot make
        # the product of every pair at once.
        block = max(64, PAIR_BLOCK // max(mb.shape[0], 1))
        for start in range(0, ma.shape[0], block):
            product = (ma[start:start + block] @ transposed).tocoo()
            rows = product.row.astype(np.int64) + start
            shared = product.data
            keep = shared / np.maximum(size_a[rows] + size_b[product.col] - shared, 1) >= NEAR_TEXT - 1e-9
            if same:
                keep &= rows != product.col
            candidates.append(rows[keep] * len(b) + product.col[keep])
    codes = np.unique(np.concatenate(candidates)) if candidates else np.empty(0, dtype=np.int64)
    i, j = codes // max(len(b), 1), codes % max(len(b), 1)
    ok = _within_points(a, b, i, j)
    for ma, mb in zip(a.shingles, b.shingles):
        if len(a.shingles) == 1:
            break  # the candidates already passed the only text feature
        size_a = np.asarray(ma.sum(axis=1)).ravel()[i]
        size_b = np.asarray(mb.sum(axis=1)).ravel()[j]
        shared = np.asarray(ma[i].multiply(mb[j]).sum(axis=1)).ravel()
        similar = shared / np.maximum(size_a + size_b - shared, 1) >= NEAR_TEXT - 1e-9
        ok &= similar | ((size_a == 0) & (size_b == 0))
    return i[ok], j[ok]


def _within_points(a, b, i, j):
    """Whether pairs (a[i], b[j]) are near in the features besides text."""
    if not len(i):
        return np.ones(0, dtype=bool)
    return np.max(np.abs(a.points[i] - b.points[j]), axis=1) <= 1.0 + 1e-9


def _tree(points):
    from sklearn.neighbors import KDTree

    return KDTree(points, metric="chebyshev")


def near_match(a, b):
    """For each row of ``a``: whether some row of ``b`` is near (or exact), and which (-1 if none)."""
    partner = np.full(len(a), -1, dtype=np.int64)
    if not len(a) or not len(b):
        return partner >= 0, partner
    if a.shingles:
        i, j = _text_pairs(a, b, same=False)
        partner[i[::-1]] = j[::-1]  # the first partner of each row
        rows_a, rows_b = np.flatnonzero(a.empty), np.flatnonzero(b.empty)  # rows without words: by the rest
    else:
        rows_a, rows_b = np.arange(len(a)), np.arange(len(b))
    if len(rows_a) and len(rows_b):
        distance, index = _tree(b.points[rows_b]).query(a.points[rows_a], k=1)
        near = distance[:, 0] <= 1.0 + 1e-9
        partner[rows_a[near]] = rows_b[index[near, 0]]
    return partner >= 0, partner


def near_earlier(a):
    """For each row of ``a``: an earlier row of ``a`` that is near it (-1 if none)."""
    n = len(a)
    partner = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return partner
    rows = np.arange(n)
    if a.shingles:
        i, j = _text_pairs(a, a, same=True)
        earlier = j < i
        i, j = i[earlier], j[earlier]
        partner[i[::-1]] = j[::-1]
        rows = np.flatnonzero(a.empty)
    if len(rows) >= 2:
        points = a.points[rows]
        tree = _tree(points)
        k = min(NEIGHBOURS, len(rows))
        distance, index = tree.query(points, k=k)
        index = rows[index]
        earlier = (distance <= 1.0 + 1e-9) & (index < rows[:, None])
        has = earlier.any(axis=1)
        partner[rows[has]] = index[has, np.argmax(earlier[has], axis=1)]
        # Where all k nearest are near but later rows, an earlier one may lie further out.
        crowded = np.flatnonzero(~has & (distance[:, -1] <= 1.0 + 1e-9))
        if len(crowded):
            _earlier_beyond(partner, rows, points, tree, crowded)
    return partner


def _earlier_beyond(partner, rows, points, tree, crowded):
    """near_earlier for rows whose k nearest neighbours are all near and later: the first of
    identical points, else a search of the whole radius (in blocks, to bound memory)."""
    _, first, inverse = np.unique(points, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    twin = first[inverse[crowded]]
    found = twin < crowded
    partner[rows[crowded[found]]] = rows[twin[found]]
    rest = crowded[~found]
    for start in range(0, len(rest), 256):
        block = rest[start:start + 256]
        for position, near in zip(block, tree.query_radius(points[block], r=1.0 + 1e-9)):
            before = near[near < position]
            if len(before):
                partner[rows[position]] = rows[before.min()]


def matching_pairs(a):
    """Number of unordered pairs of rows of ``a`` that are near (or exact) each other."""
    n = len(a)
    if n < 2:
        return 0
    pairs, rows = 0, np.arange(n)
    if a.shingles:
        pairs = len(_text_pairs(a, a, same=True)[0]) // 2
        rows = np.flatnonzero(a.empty)
    if len(rows) >= 2:
        counts = _tree(a.points[rows]).query_radius(a.points[rows], r=1.0 + 1e-9, count_only=True)
        pairs += int((counts.sum() - len(rows)) // 2)
    return pairs


def exact_index(keys, reference_keys):
    """For each key: the first position of the same key in ``reference_keys`` (-1 if none)."""
    import pandas as pd

    if not len(keys):
        return np.empty(0, dtype=np.int64)
    first = np.flatnonzero(~pd.Index(reference_keys).duplicated())  # positions of each key's first row
    found = pd.Index(reference_keys[first]).get_indexer(keys)  # a unique index: positions among those
    return np.where(found >= 0, first[found], -1).astype(np.int64)


def chance_expected(pair_rate, rows, others):
    """Rows of ``rows`` expected to match one of ``others`` rows when the pair rate is ``pair_rate``."""
    if others <= 0:
        return 0.0
    return float(rows * -math.expm1(others * math.log1p(-min(pair_rate, 0.999999))))


def alarm_above(expected):
    """Counts above this are more than chance (the ALARM_QUANTILE Poisson quantile of ``expected``)."""
    from scipy.stats import poisson

    return int(poisson.ppf(ALARM_QUANTILE, expected)) if expected > 0 else 0


def _match_summary(exact_partner, near_partner, expected, partner_name):
    exact = exact_partner >= 0
    near = (near_partner >= 0) & ~exact
    matched = exact | near
    rows = np.flatnonzero(matched)
    threshold = alarm_above(expected)
    examples = []
    for row in rows[:EXAMPLES]:
        is_exact = bool(exact[row])
        examples.append({"row": int(row), partner_name: int(exact_partner[row] if is_exact else near_partner[row]),
                         "match": "exact" if is_exact else "near"})
    return {"exact": int(exact.sum()), "near": int(near.sum()), "rows": int(matched.sum()),
            "expected_by_chance": round(expected, 3), "alarm_above": threshold,
            "warn": bool(matched.sum() > threshold), "row_indices": rows[:ROW_INDICES].tolist(),
            "examples": examples}, matched


# --- findings --------------------------------------------------------------------------------


def _pair_rate(references):
    """How often two of the baseline's own rows (Encoded tables, stacked) match each other."""
    reference = _stack(references)
    n_ref = len(reference)
    # Plus one: a reference without a matching pair does not show that chance matches cannot happen.
    return (matching_pairs(reference) + 1) / (n_ref * (n_ref - 1) / 2.0) if n_ref > 1 else 0.0


def _distinct(keys):
    """(row of each distinct key's first appearance, in order; each row's position among them).

    Near matching runs on the distinct rows (exact copies share the answer), in order of first
    appearance, so "an earlier distinct row" is an earlier row."""
    _, first_rows, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first_rows, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return first_rows[order], rank[inverse.reshape(-1)]


def _matched(partners):
    """Rows with an exact or a near partner, from (exact, near) partner rows (-1: none); None: none."""
    return False if partners is None else (partners[0] >= 0) | (partners[1] >= 0)


def match_rows(contribution, benchmark, base, features, label):
    """Benchmark contamination and duplicates; returns (contamination, duplicates, contaminated
    mask, mask of rows matching any benchmark or base row)."""
    frames = [contribution, benchmark] + ([base] if base is not None else [])
    encoded = encode(frames, features)
    c, b = encoded[0], encoded[1]
    distinct_rows, inverse = _distinct(c.keys)
    distinct = c.take(distinct_rows)
    bench = (exact_index(c.keys, b.keys), near_match(distinct, b)[1][inverse])
    base_found = None
    if base is not None:
        a = encoded[2]
        base_found = (exact_index(c.keys, a.keys), near_match(distinct, a)[1][inverse])
    earlier = near_earlier(distinct)
    within_near = np.where(earlier >= 0, distinct_rows[np.maximum(earlier, 0)], -1)[inverse]
    pair_rate = _pair_rate(encoded[1:])
    contamination, contaminated = _contamination(pair_rate, len(b), bench, contribution[label].astype(str).to_numpy(),
                                                 benchmark[label].astype(str).to_numpy())
    duplicates = _duplicates(pair_rate, len(base) if base is not None else 0, base_found, distinct_rows, inverse,
                             within_near)
    return contamination, duplicates, contaminated, contaminated | _matched(base_found)


def _contamination(pair_rate, n_bench, bench, labels, bench_labels):
    """(contamination, contaminated mask) from each row's benchmark partners: ``bench`` is
    (exact, near) partner rows (-1: none), ``labels`` the rows' labels and ``bench_labels`` the
    benchmark's (in any one coding). Needs nothing of the duplicates, so that the rows to remove
    are known before a large table is read again."""
    n = len(labels)
    contamination, mask = _match_summary(bench[0], bench[1], chance_expected(pair_rate, n, n_bench),
                                         "benchmark_row")
    matched_rows = np.flatnonzero(mask)
    partner = np.where(bench[0] >= 0, bench[0], bench[1])[matched_rows]
    contamination["same_label"] = int((labels[matched_rows] == bench_labels[partner]).sum())
    contamination["rate"] = round(contamination["rows"] / n, 6) if n else 0.0
    return contamination, mask


def _duplicates(pair_rate, n_base, base, distinct_rows, inverse, within_near):
    """Duplicates from each row's partners: ``base`` is (exact, near) base partner rows (-1:
    none; None: no base table), ``within_near`` an earlier near row of the contribution."""
    n = len(inverse)
    first = distinct_rows[inverse]
    within_exact = np.where(first < np.arange(n), first, -1)
    within, _ = _match_summary(within_exact, within_near, chance_expected(pair_rate, n, (n - 1) / 2.0),
                               "duplicate_of")
    duplicates = {"within": within}
    if base is not None:
        duplicates["base"], _ = _match_summary(base[0], base[1], chance_expected(pair_rate, n, n_base), "base_row")
        duplicates["base"]["available"] = True
    else:
        duplicates["base"] = {"available": False}
    # Identical rows cluster (many customers share the cheapest plan), so the chance estimate is
    # rough; a duplicate alarm also needs DUPLICATE_MIN_SHARE of the rows.
    for found in (within, duplicates["base"]):
        if found.get("warn") and found["rows"] < DUPLICATE_MIN_SHARE * n:
            found["warn"] = False
    duplicates["warn"] = bool(within["warn"] or duplicates["base"].get("warn"))
    return duplicates


def rules():
    """The matching rules, as the output states them."""
    return {"exact": "every feature equal after normalising types (numbers to %d significant digits) and "
                     "whitespace; missing equals missing" % NUMERIC_DIGITS,
            "near": "every feature similar: numbers of the same sign with magnitudes within a ratio of %g "
                    "(zero only matches zero); categories equal ignoring case; free text with a Jaccard "
                    "similarity of word %d-shingles (HTML markup aside) of at least %g"
                    % (1 + NEAR_RATIO, SHINGLE_WORDS, NEAR_TEXT),
            "chance": "alarm only above the %g Poisson quantile of the matches expected from how often the "
                      "baseline's own rows match each other (duplicates: and at least %g%% of the rows)"
                      % (ALARM_QUANTILE, 100 * DUPLICATE_MIN_SHARE)}


# --- tables of any size ----------------------------------------------------------------------


class ReferenceIndex:
    """The benchmark and base tables encoded once, for matching a contribution batch by batch.

    A contributed row can only be near a reference row of its own group (signs, categories,
    wordless texts), so groups no reference row has get one code far from all of theirs."""

    def __init__(self, benchmark, base, features):
        self.features = features
        parts = [_encode_parts(t, features) for t in (benchmark, base) if t is not None]
        self.groups = np.unique(np.concatenate([p[1] for p in parts]))
        encoded = [self._encoded(p) for p in parts]
        self.benchmark = encoded[0]
        self.base = encoded[1] if base is not None else None
        self.pair_rate = _pair_rate(encoded)

    def _encoded(self, parts):
        keys, groups, logs, shingles = parts
        position = np.minimum(np.searchsorted(self.groups, groups), len(self.groups) - 1)
        codes = np.where(self.groups[position] == groups, position * 3.0, -3.0)
        return Encoded(keys, np.column_stack([codes, logs]), shingles)

    def encode(self, frame):
        return self._encoded(_encode_parts(frame, self.features))


# --- messages --------------------------------------------------------------------------------


def contamination_lines(findings, rn):
    """(warnings, notes) about rows matching benchmark rows; ``rn`` numbers a contributed row."""
    warnings, notes = [], []
    n = findings["rows_checked"]
    c = findings["contamination"]
    if c["rows"]:
        first = c["examples"][0]
        text = ("%s of %s %s (%s exact, %s near; e.g. data row %d ~ benchmark row %d)"
                % (thousands(c["rows"]), plural(n, "row"),
                   "duplicates a benchmark row" if c["rows"] == 1 else "duplicate benchmark rows",
                   thousands(c["exact"]), thousands(c["near"]), rn(first["row"]),
                   _reference_row(first["benchmark_row"])))
        if c["warn"]:
            action = ("; removed before training (the main pipeline would train on them; --keep-contaminated "
                      "does too)" if c["action"] == "removed"
                      else "; kept (--keep-contaminated): the delta may be inflated")
            warnings.append("benchmark contamination: " + text + action)
        else:
            notes.append("benchmark matches: %s, about as many as clean data from this source has by chance "
                         "(%.1f expected); kept, as chance explains them (the main pipeline trains on them too)"
                         % (text, c["expected_by_chance"]))
    return warnings, notes


def duplicate_lines(findings, rn):
    """(warnings, notes) about repeated rows: within the contribution, then of the base table."""
    warnings, notes = [], []
    for key, what in (("within", "other contributed rows"), ("base", "rows of the base training table")):
        d = findings["duplicates"][key]
        if not d.get("rows"):
            continue
        first = d["examples"][0]
        partner = first.get("duplicate_of", first.get("base_row"))
        other = "data row %d" % rn(partner) if key == "within" else "base row %d" % _reference_row(partner)
        text = "duplicates: %s %s %s (%s exact, %s near; e.g. data row %d ~ %s)" % (
            thousands(d["rows"]), "row repeats" if d["rows"] == 1 else "rows repeat", what, thousands(d["exact"]),
            thousands(d["near"]), rn(first["row"]), other)
        if d["warn"]:
            warnings.append(text)
        elif d["rows"] > d["alarm_above"]:  # above chance, but too few to move an estimate
            notes.append(text + ", more than chance (%.1f expected) but under %s of the rows"
                         % (d["expected_by_chance"], "%g%%" % (100 * DUPLICATE_MIN_SHARE)))
        else:
            notes.append(text + ", about as many as chance (%.1f expected)" % d["expected_by_chance"])
    return warnings, notes
