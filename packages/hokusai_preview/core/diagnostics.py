"""Data diagnostics: what may be wrong with a contribution before it is used.

Pure functions over pandas DataFrames (the contribution as hp-load normalised it, the bundle's
benchmark and base tables, the bundle's feature list); :func:`diagnose` checks a table in
memory, and :func:`diagnose_parquet`, which hp-check calls, the same in bounded memory over a
Parquet file read in batches. Every rule and threshold is a constant below, documented in the
README ("Data diagnostics"):

* **Matching rows** (contamination and duplicates) compares the baseline's feature columns.
  *Exact*: every feature equal after normalising types (numbers to float, 12 significant
  digits) and whitespace (trimmed, runs collapsed); missing equals missing. *Near*: every
  feature similar: numbers of the same sign with magnitudes within a ratio of 1 +
  ``NEAR_RATIO`` (zero only matches zero); categories equal ignoring case; free text with a
  Jaccard similarity of word 3-shingles of at least ``NEAR_TEXT`` (0.8), or without words on
  both sides (missing matches only missing).
* **Chance level**: identical or near-identical rows also occur between clean tables of the
  same source (two customers with the same plan). The rate at which the baseline's own rows
  (benchmark and base) match each other gives the number expected by chance; a count is an
  alarm only above the ``ALARM_QUANTILE`` Poisson quantile of that expectation (duplicates
  also need ``DUPLICATE_MIN_SHARE`` of the rows).
* **Closer to the benchmark than chance** (:func:`closeness`): benchmark rows altered beyond
  the near rule (a number moved by one, every number jittered) keep their source as nearest
  neighbour. Among the reference rows (benchmark and base, random splits of one distribution),
  a clean row's nearest is a benchmark row as often as a random split of them makes it; an
  alarm when the contribution's rows have benchmark rows as nearest neighbours more often, with
  p < ``CLOSE_ALPHA``, and the altered rows this implies are at least ``CLOSE_MIN_SHARE`` of the
  rows tested (and ``CLOSE_MIN_ROWS``). Reported, never removed.
* **Label noise**: confident learning (Northcutt et al., 2021) on out-of-fold probabilities of
  the recipe's forest (``NOISE_TREES`` trees, ``NOISE_FOLDS`` folds) trained on contribution and
  reference rows together; an alarm when the contribution's flagged rate exceeds the
  reference rows' rate by ``NOISE_MIN_EXCESS`` and significantly (p < ``NOISE_ALPHA``). A
  contribution that relabels the task consistently (every label flipped) teaches the pooled
  model its rule, so it is caught otherwise: a *label conflict* when the reference rows flagged
  with the contribution in the pooled rows exceed those flagged by the reference rows alone by
  ``CONFLICT_MIN_RISE``, as significantly (McNemar's test on the same rows).
* **Drift** against the benchmark: Kolmogorov-Smirnov for numbers, total variation distance
  (with a chi-square test) for categories and for the word distribution of free text; an alarm
  when the effect is at least ``DRIFT_MIN_EFFECT`` and p < ``DRIFT_ALPHA`` / features.
* **PII**: e-mail addresses, phone numbers, card numbers (Luhn-valid), IBANs (mod-97-valid) and
  government ids (US SSN, UK National Insurance number) in up to ``PII_SAMPLE`` values per column; an alarm when
  at least ``PII_MIN_SHARE`` of a column's checked values hold one (card numbers: and Luhn-valid
  more often among the card-like numbers than the ``LUHN_CHANCE`` of random digits, p <
  ``PII_CARD_ALPHA``). Bare digits and numbers count as phone numbers or SSNs only in a column
  whose name says so (``PII_NAMED``).
"""

import math
import re
import time

import numpy as np

from .bundle import class_codes
from .report import plural, thousands

RULES_VERSION = 9  # 2: a matched reference row is counted in the reference itself, repeats included;
#                    3: label noise at the contribution's class mix, card numbers above chance, missing
#                       text near only missing text
#                    4: noise rates with each table's own thresholds, markup out of shingles,
#                       wordless text as missing in drift, card numbers tested on distinct
#                       values, no decimal fractions as phones nor part numbers as SSNs, categories
#                       that differ from the benchmark's only in letter case named
#                    5: a contribution whose labels contradict the reference's (label conflict), IBANs
#                    6: a conflict only where the noise test is blind, IBANs in either case and by
#                       distinct values
#                    7: bare numbers as phone numbers or SSNs where the column's name says so
#                    8: rows closer to the benchmark than chance (altered benchmark rows), contamination.closeness
#                    9: categories spelled unlike the benchmark's in spaces too (spelling_differs, was
#                       case_differs), a drift of their own; a label conflict from a 10-point rise
NUMERIC_DIGITS = 12
NEAR_RATIO = 0.001
NEAR_TEXT = 0.8
SHINGLE_WORDS = 3
NEIGHBOURS = 8
PAIR_BLOCK = 4_000_000  # candidate text pairs computed at once
ALARM_QUANTILE = 0.999
DUPLICATE_MIN_SHARE = 0.01  # fewer repeats than this cannot move an estimate noticeably
NOISE_FOLDS = 3
NOISE_TREES = 30
NOISE_MAX_CONTRIBUTION = 5000
NOISE_MAX_CONTRIBUTION_TEXT = 3000  # TF-IDF and forests on sparse text cost more per row
NOISE_MAX_REFERENCE = 2000
NOISE_MIN_ROWS = 30
NOISE_ALPHA = 0.001
NOISE_MIN_EXCESS = 0.03
# A label conflict's least rise in the reference rows' flagged share. Adding clean rows moves it
# too, by how much more the forest learns: measured on 2,000-row references (four draws of
# lending_club, 5% of its loans bad, at 1,000 and 3,000 contributed rows; three of hpc_data,
# wa_churn, credit_data and fine_food_reviews), clean contributions moved it -3.7 to +5.8
# points (3 points, the noise test's excess, warned on 2 of 8 lending_club draws); every
# label flipped moved it +18 to +51 points on all five tables.
CONFLICT_MIN_RISE = 0.10
DRIFT_ALPHA = 0.01
DRIFT_MIN_EFFECT = 0.1
RARE_CATEGORY = 5
TEXT_TOP_WORDS = 200
PII_SAMPLE = 1000
PII_MIN_SHARE = 0.05
LUHN_CHANCE = 0.1  # random digits pass the Luhn check one time in ten
IBAN_CHANCE = 1 / 97  # and random IBAN-shaped codes the mod-97 check one time in 97
PII_CARD_ALPHA = 0.001
EXAMPLES = 5
CLOSE_ALPHA = 1e-6  # one test per contribution; clean splits stay within |z| < 4 (README)
CLOSE_MIN_SHARE = 0.02  # estimated altered rows below this share cannot move an estimate much
CLOSE_MIN_ROWS = 10
CLOSE_MAX_ROWS = 5000  # beyond, the reference's own randomness, not the rows, limits the test
CLOSE_MAX_REFERENCE = 5000
CLOSE_MAX_CATEGORIES = 50  # one-hot columns per categorical feature (plus one for the rest)
CLOSE_TIE = 1e-9  # distances this close (relative) tie: float rounding, not geometry
CLOSE_BLOCK = 1 << 18  # distances computed at once (a block that stays in the CPU's cache)
CLOSE_PERMUTATIONS = 500  # random splits the premise is judged against (its p to within a factor 1.5 at 0.001)
CLOSE_PREMISE_ALPHA = 0.001  # base and benchmark look like other distributions: no test
SAMPLE_ROWS = 50_000  # beyond this many contributed rows, checks of whole rows run on a sample
SAMPLE_ROWS_TEXT = 10_000  # with free text: near repeats compare every pair of texts (time grows as n^2)
STREAM_BATCH_BYTES = 8 << 20  # a larger table is read in batches of about this much data
ROW_INDICES = 20
# A noncharacter, not NUL: pandas before 2.1 hashes strings as C strings, so "\x00..." hashed as "".
MISSING = "\uffffmissing"


# --- normalisation ---------------------------------------------------------------------------


def _numeric(column):
    import pandas as pd

    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _round_significant(values, digits=NUMERIC_DIGITS):
    """Values rounded to ``digits`` significant digits (absorbs float formatting in CSV/JSON)."""
    out = np.array(values, dtype=np.float64)
    finite = np.isfinite(out) & (out != 0)
    magnitude = np.floor(np.log10(np.abs(out[finite])))
    with np.errstate(over="ignore", invalid="ignore"):
        scale = 10.0 ** (digits - 1 - magnitude)
        rounded = np.round(out[finite] * scale) / scale
    # Below about 1e-297 the scale overflows: such a value has nothing to round away.
    out[finite] = np.where(np.isfinite(scale), rounded, out[finite])
    return out + 0.0  # -0.0 -> 0.0


def _string_codes(column, fold=False):
    """(code per row, cleaned distinct strings then MISSING): whitespace trimmed and collapsed,
    optionally case-folded; a missing value's code (-1) picks MISSING."""
    import pandas as pd

    codes, uniques = pd.factorize(column)  # missing -> -1

    def clean(v):
        text = " ".join(str(v).split())
        return text.casefold() if fold else text

    return codes, np.array([clean(u) for u in uniques] + [MISSING], dtype=object)


def _strings(column, fold=False):
    """Strings with whitespace trimmed and collapsed (optionally case-folded); missing -> MISSING."""
    codes, values = _string_codes(column, fold)
    return values[codes]


def _value_hashes(values):
    """One uint64 per value of an array of floats or strings."""
    import pandas as pd

    return pd.util.hash_array(np.asarray(values))


def _string_hashes(column, fold=False):
    """_value_hashes of _strings, hashing each distinct string once."""
    codes, values = _string_codes(column, fold)
    return _value_hashes(values)[codes]


def _hash_rows(hashes, n):
    """One uint64 per row from the per-column hashes of its values (pandas' hash_pandas_object
    combination, so a row's key does not depend on the rows beside it)."""
    out = np.full(n, 0x345678, dtype=np.uint64)
    mult = np.uint64(1000003)
    for i, column in enumerate(hashes):
        out ^= column
        out *= mult
        mult += np.uint64(82520 + 2 * (len(hashes) - i))
    return out + np.uint64(97531) if hashes else np.zeros(n, dtype=np.uint64)


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


def contamination_and_duplicates(contribution, benchmark, base, features, label):
    """Benchmark contamination and duplicates; returns (contamination, duplicates, contaminated mask)."""
    return _match_all(contribution, benchmark, base, features, label)[:3]


def _matched(partners):
    """Rows with an exact or a near partner, from (exact, near) partner rows (-1: none); None: none."""
    return False if partners is None else (partners[0] >= 0) | (partners[1] >= 0)


def _match_all(contribution, benchmark, base, features, label):
    """:func:`contamination_and_duplicates`, and the mask of rows matching any benchmark or base row."""
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
    found = _matches(_pair_rate(encoded[1:]), len(b), len(base) if base is not None else 0, bench, base_found,
                     distinct_rows, inverse, within_near, contribution[label].astype(str).to_numpy(),
                     benchmark[label].astype(str).to_numpy())
    return found + (found[2] | _matched(base_found),)


def _matches(pair_rate, n_bench, n_base, bench, base, distinct_rows, inverse, within_near, labels, bench_labels):
    """(contamination, duplicates, contaminated mask) from each row's partners: ``bench`` and
    ``base`` are (exact, near) partner rows (-1: none), ``within_near`` an earlier near row."""
    n = len(inverse)
    contamination, mask = _match_summary(bench[0], bench[1], chance_expected(pair_rate, n, n_bench),
                                         "benchmark_row")
    matched_rows = np.flatnonzero(mask)
    partner = np.where(bench[0] >= 0, bench[0], bench[1])[matched_rows]
    contamination["same_label"] = int((labels[matched_rows] == bench_labels[partner]).sum())
    contamination["rate"] = round(contamination["rows"] / n, 6) if n else 0.0

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
    return contamination, duplicates, mask


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
                      % (ALARM_QUANTILE, 100 * DUPLICATE_MIN_SHARE),
            "closeness": "rows matching no reference row whose nearest reference row (numbers as mid-ranks in the "
                         "reference, categories one-hot, text left out) is a benchmark row more often than a random "
                         "split of benchmark and base tables gives: an alarm at p < %g when the altered benchmark "
                         "rows this implies are at least %g%% of the rows tested and %d; the rows are kept"
                         % (CLOSE_ALPHA, 100 * CLOSE_MIN_SHARE, CLOSE_MIN_ROWS)}


# --- closeness to the benchmark ----------------------------------------------------------------


class _Space:
    """A standardised feature space learnt from reference rows, for nearest neighbours.

    A number becomes its mid-rank in the reference (the share of reference values below it plus
    half of those equal, interpolated between them, and beyond them on at the mean slope up to 0
    or 1: a number nudged past the smallest value must not jump by half of the rows holding it),
    so that a feature's scale and outliers do not decide the distance and every numeric feature
    spans [0, 1]; a missing number sits at 0.5 with an indicator column of its own (when the
    reference has missing values there). A category (case-folded, whitespace collapsed; missing
    is a category) is one-hot over the ``CLOSE_MAX_CATEGORIES`` most frequent the reference holds
    at least twice, the rest sharing one column, scaled so that a different category adds 1 to
    the squared distance, as the whole range of a number does. Free text is left out. ``dims``
    is 0 when nothing is left.
    """

    def __init__(self, reference, features):
        import pandas as pd

        self.columns = []  # (name, kind, values, (mid-ranks, slope) or None, with a missing indicator)
        for f in features:
            if f["kind"] == "numeric":
                values = _numeric(reference[f["name"]])
                known = values[np.isfinite(values)]
                if not len(known):
                    continue  # nothing to place a number against
                distinct, counts = np.unique(known, return_counts=True)
                mid = (np.cumsum(counts) - counts / 2.0) / len(known)
                slope = (mid[-1] - mid[0]) / (distinct[-1] - distinct[0]) if len(distinct) > 1 else 0.0
                self.columns.append((f["name"], "numeric", distinct, (mid, slope), bool(np.isnan(values).any())))
            elif f["kind"] == "categorical":
                counts = pd.Series(_strings(reference[f["name"]], fold=True)).value_counts(sort=True)
                kept = [str(v) for v in counts.index[counts >= 2][:CLOSE_MAX_CATEGORIES]]
                self.columns.append((f["name"], "categorical", kept, None, False))
        self.dims = sum(1 + missing if kind == "numeric" else len(values) + 1
                        for _, kind, values, _, missing in self.columns)

    def transform(self, frame):
        """(n, dims) float64 coordinates of ``frame``'s rows."""
        import pandas as pd

        parts = []
        for name, kind, values, ranks, missing in self.columns:
            if kind == "numeric":
                mid, slope = ranks
                x = _numeric(frame[name])
                absent = np.isnan(x)
                x = np.where(absent, values[0], x)
                with np.errstate(invalid="ignore", over="ignore"):  # infinite numbers: 0 or 1
                    low = mid[0] - np.minimum(mid[0], np.nan_to_num((values[0] - x) * slope))
                    high = mid[-1] + np.minimum(1.0 - mid[-1], np.nan_to_num((x - values[-1]) * slope))
                rank = np.where(x < values[0], low, np.where(x > values[-1], high, np.interp(x, values, mid)))
                parts.append(np.where(absent, 0.5, rank))
                if missing:
                    parts.append(absent.astype(np.float64))
            else:
                codes = pd.Index(values).get_indexer(_strings(frame[name], fold=True))  # -1: the rest
                onehot = np.zeros((len(frame), len(values) + 1))
                onehot[np.arange(len(frame)), np.where(codes >= 0, codes, len(values))] = math.sqrt(0.5)
                parts.append(onehot)
        return np.column_stack(parts) if parts else np.zeros((len(frame), 0))


def _nearest(points, targets, exclude=None, first=0):
    """Every nearest target of each point, ties included.

    ``points`` (n, d) and ``targets`` (m, d) are coordinates; ``exclude`` (n,) optionally names a
    target each point may not pick (itself; -1: none). Squared Euclidean distances come from one
    matrix product per block of points (``CLOSE_BLOCK`` distances at once, on one core: on a
    busy machine BLAS threads waiting for each other cost more than they save); targets within
    ``CLOSE_TIE`` (relative to the squared norms) of a point's smallest distance tie with it. The
    rule sees no label, so its rounding cannot favour either table.

    Returns (point, target) int64 arrays of the tied pairs, the (n,) smallest squared distances,
    and the (n,) smallest to the ``first`` targets (inf when 0).
    """
    from threadpoolctl import threadpool_limits

    n, m = len(points), len(targets)
    best, within = np.empty(n), np.full(n, np.inf)
    if not n:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), best, within
    squared = (targets ** 2).sum(axis=1)
    scaled = -2.0 * targets.T
    block = max(1, CLOSE_BLOCK // max(m, 1))
    rows, cols = [], []
    with threadpool_limits(1):
        for start in range(0, n, block):
            chunk = points[start:start + block]
            size = (chunk ** 2).sum(axis=1)
            # The squared distance less the point's own squared norm, which cannot change its order.
            d2 = chunk @ scaled
            d2 += squared[None, :]
            if exclude is not None:
                own = exclude[start:start + block]
                d2[np.flatnonzero(own >= 0), own[own >= 0]] = np.inf
            nearest = d2.argmin(axis=1)
            low = d2[np.arange(len(chunk)), nearest]
            best[start:start + block] = np.maximum(low + size, 0.0)
            if first:
                within[start:start + block] = np.maximum(d2[:, :first].min(axis=1) + size, 0.0)
            tied = d2 <= (low + CLOSE_TIE * (1.0 + size + squared.max()))[:, None]
            # Most points have one nearest target; only the others need their ties listed.
            several = np.flatnonzero(np.count_nonzero(tied, axis=1) > 1)
            r, c = np.nonzero(tied[several])
            single = np.ones(len(chunk), dtype=bool)
            single[several] = False
            rows.extend([np.flatnonzero(single) + start, several[r] + start])
            cols.extend([nearest[single], c])
    return np.concatenate(rows), np.concatenate(cols), best, within


def _tie_weights(pairs, n, counts):
    """(per-point weight of each of its tied targets' rows (pairs,), rows each point ties with (n,)):
    a point whose nearest targets hold t reference rows gives each of them 1/t."""
    point, target = pairs
    rows = np.bincount(point, weights=counts[target], minlength=n)
    return 1.0 / rows[point], rows


def _permutation_moments(w, groups, in_bench):
    """(mean, variance) of sum(w[r] for benchmark rows r) when the benchmark rows are a random
    subset of each group's rows of their number (a random split, stratified by ``groups``)."""
    mean = variance = 0.0
    for g in np.unique(groups):
        members = groups == g
        rows, bench = int(members.sum()), int((members & in_bench).sum())
        values = w[members]
        mean += bench / rows * values.sum()
        if 0 < bench < rows:
            variance += bench * (rows - bench) / (rows * (rows - 1.0)) * ((values - values.mean()) ** 2).sum()
    return mean, variance


def _split_premise(coords, in_bench, groups, seed):
    """Whether the reference rows look like a random split of one distribution into benchmark and
    base: each row's nearest other reference row is in its own table about as often as under a
    random split (``CLOSE_PERMUTATIONS`` splits, stratified by class, drawn with ``seed``). A
    benchmark drawn from other data than the base table (a later period) would make every
    contribution from that data look close to the benchmark.

    Returns {"holds", "same_table", "expected", "p_value"}; same_table counts rows whose nearest
    other rows are of their own table (a share of them on ties)."""
    from scipy.sparse import csr_matrix
    from scipy.stats import norm

    unique, inverse = np.unique(coords, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.bincount(inverse).astype(np.float64)
    # A row with an identical twin has its twins (distance 0) as nearest; a unique row looks
    # among the other points.
    alone = np.flatnonzero(counts == 1)
    exclude = np.full(len(unique), -1, dtype=np.int64)
    exclude[alone] = alone
    point, target, _, _ = _nearest(unique[alone], unique, exclude[alone])
    weight, _ = _tie_weights((point, target), len(alone), counts)
    spread = csr_matrix((weight, (point, target)), shape=(len(alone), len(unique)))
    lone_rows = np.flatnonzero(counts[inverse] == 1)  # rows of the unique points in ``alone`` ...
    lone_rows = lone_rows[np.argsort(inverse[lone_rows])]  # ... in the order of ``alone``
    twins = counts >= 2

    def statistic(bench):
        b = np.bincount(inverse, weights=bench, minlength=len(unique))
        a = counts - b
        same = ((b * (b - 1) + a * (a - 1))[twins] / (counts[twins] - 1)).sum()
        share = spread @ b  # bench share of each lone row's nearest rows
        lone = bench[lone_rows]
        return same + (lone * share + (1 - lone) * (1 - share)).sum()

    observed = statistic(in_bench.astype(np.float64))
    rng = np.random.default_rng(seed)
    shuffled = in_bench.astype(np.float64)
    members = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    draws = np.empty(CLOSE_PERMUTATIONS)
    for k in range(CLOSE_PERMUTATIONS):
        for rows in members:
            shuffled[rows] = shuffled[rng.permutation(rows)]
        draws[k] = statistic(shuffled)
    sd = draws.std(ddof=1)
    p_value = float(norm.sf((observed - draws.mean()) / sd)) if sd > 0 else 1.0
    return {"holds": bool(p_value >= CLOSE_PREMISE_ALPHA), "same_table": round(float(observed), 3),
            "expected": round(float(draws.mean()), 3), "p_value": _sig(p_value)}


def closeness(contribution, benchmark, base, features, label, classes, rows=None, seed=42):
    """Whether contributed rows lie closer to the benchmark than chance: a test for altered
    copies of benchmark rows that needs no similarity threshold.

    Base and benchmark are random splits of one distribution; a contributed row drawn
    independently of both has as its nearest reference row (in :class:`_Space`) a benchmark row
    with probability n_bench / (n_bench + n_base), and exactly so given every row's position:
    which reference rows are the benchmark's is then a random draw (stratified by class, as a
    split may be). On ties the row counts the benchmark's share of its tied nearest rows. The
    count of benchmark-nearest rows is tested against that draw's mean and variance (one-sided,
    normal): the variance counts how the rows crowd onto the same reference rows, which a
    binomial test would not (on 5,000 clean rows of the shipped datasets the standard deviation
    is 1.5 to 2.2 times the binomial's, and a binomial test would raise false alarms). An altered
    benchmark row keeps its source as nearest neighbour, so ``excess / (1 - chance share)``
    estimates how many there are. A warning needs p < ``CLOSE_ALPHA`` and at least
    ``CLOSE_MIN_SHARE`` of the rows tested and ``CLOSE_MIN_ROWS`` estimated. The rows are
    kept: no single row can be told from a clean one with certainty.

    Parameters
    ----------
    contribution, benchmark, base : DataFrame
        ``base`` None: not tested (the premise needs both tables).
    features : list of dict
        The bundle's features (``name``, ``kind``); free text is left out.
    label : str
    classes : list of str
    rows : array of int, optional
        Positions in ``contribution`` to test (default: all): the rows left once those matching
        a benchmark or base row (exactly or nearly) are set aside, as their nearest neighbour is
        that row. At most ``CLOSE_MAX_ROWS`` are tested, a random subset beyond.
    seed : int
        Draws the subsets and the premise's random splits.

    Returns
    -------
    dict: status ``checked`` or ``skipped`` (with ``reason``), the counts, ``p_value``, ``warn``,
    the premise and up to ``EXAMPLES`` rows nearest a benchmark row relative to the base table.
    """
    import pandas as pd
    from scipy.stats import norm

    rows = np.arange(len(contribution)) if rows is None else np.asarray(rows, dtype=np.int64)
    found = {"status": "skipped", "reason": None, "method": "nearest_neighbour", "rows_eligible": int(len(rows)),
             "rows_tested": 0, "reference_rows": 0, "dimensions": 0, "benchmark_nearest": None,
             "expected": None, "sd": None, "excess": None, "estimated_rows": None, "p_value": None,
             "alpha": CLOSE_ALPHA, "min_share": CLOSE_MIN_SHARE, "min_rows": CLOSE_MIN_ROWS, "warn": False,
             "premise": None, "examples": []}
    if base is None or not len(base):
        return dict(found, reason="the bundle has no base table")
    rng = np.random.default_rng(seed)
    reference = pd.concat([benchmark, base], ignore_index=True)
    picked = np.arange(len(reference))
    if len(picked) > CLOSE_MAX_REFERENCE:  # a random subset of a random split is one too
        picked = np.sort(rng.choice(len(picked), CLOSE_MAX_REFERENCE, replace=False))
        reference = reference.iloc[picked].reset_index(drop=True)
    in_bench = picked < len(benchmark)
    if in_bench.all() or not in_bench.any():
        return dict(found, reason="the reference holds no %s row" % ("base" if in_bench.all() else "benchmark"))
    space = _Space(reference, features)
    if not space.dims:
        return dict(found, reason="no feature besides free text")
    if not len(rows):
        return dict(found, reason="no row is left once benchmark and base matches are set aside")
    if len(rows) > CLOSE_MAX_ROWS:  # beyond this, the reference's own randomness limits the test
        rows = np.sort(rng.choice(rows, CLOSE_MAX_ROWS, replace=False))
    found.update(reference_rows=int(len(reference)), dimensions=int(space.dims))

    coords = space.transform(reference)
    if not (coords != coords[0]).any():
        return dict(found, reason="no feature tells the reference rows apart")
    groups = class_codes(reference[label].astype(str), classes, unknown=-1)
    found["premise"] = premise = _split_premise(coords, in_bench, groups, seed)
    if not premise["holds"]:
        return dict(found, reason="the benchmark and base tables do not look like random splits of one "
                                  "distribution (their rows' nearest neighbours are in their own table more "
                                  "often than chance, p = %.2g)" % premise["p_value"])

    # Identical reference rows are one point holding several rows; points holding base rows first,
    # so that the distance to the nearest base row is a minimum over the first columns.
    unique, inverse = np.unique(coords, axis=0, return_inverse=True)
    holds_base = np.bincount(inverse.reshape(-1), weights=~in_bench, minlength=len(unique)) > 0
    order = np.argsort(~holds_base, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    unique, inverse = unique[order], rank[inverse.reshape(-1)]
    counts = np.bincount(inverse).astype(np.float64)
    bench_counts = np.bincount(inverse, weights=in_bench.astype(np.float64), minlength=len(unique))
    n = len(rows)
    point, target, best, base_best = _nearest(space.transform(contribution.iloc[rows]), unique,
                                              first=int(holds_base.sum()))
    weight, _ = _tie_weights((point, target), n, counts)
    share = np.bincount(point, weights=weight * bench_counts[target], minlength=n)
    w = np.bincount(target, weights=weight, minlength=len(unique))[inverse]  # per reference row
    observed = float(share.sum())
    expected, variance = _permutation_moments(w, groups, in_bench)
    sd = math.sqrt(variance)
    # No spread: every split gives the same count (all rows tie with the same reference rows).
    p_value = float(norm.sf((observed - expected) / sd)) if sd > 1e-9 else 1.0
    excess = observed - expected
    chance = expected / n
    estimated = excess / (1.0 - chance) if chance < 1 else 0.0
    warn = bool(p_value < CLOSE_ALPHA and estimated >= max(CLOSE_MIN_SHARE * n, CLOSE_MIN_ROWS))

    # Examples: benchmark-nearest rows, nearest a benchmark row relative to the base table first.
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.sqrt(best) / np.sqrt(base_best)
    ratio = np.where(np.isnan(ratio), 1.0, ratio)
    candidates = np.flatnonzero((share > 0) & (ratio < 1))
    candidates = candidates[np.argsort(ratio[candidates], kind="stable")][:EXAMPLES]
    # Each example's benchmark row: the first benchmark row of its first tied point holding one.
    bench_rows = np.flatnonzero(in_bench)
    first_bench = np.full(len(unique), -1, dtype=np.int64)
    first_bench[inverse[bench_rows[::-1]]] = bench_rows[::-1]
    holder = np.full(n, -1, dtype=np.int64)
    tied = first_bench[target] >= 0
    holder[point[tied][::-1]] = first_bench[target[tied]][::-1]
    examples = [{"row": int(rows[i]), "benchmark_row": int(picked[holder[i]]),
                 "distance_ratio": round(float(ratio[i]), 4)} for i in candidates]
    found.update(status="checked", rows_tested=int(n), benchmark_nearest=round(observed, 3),
                 expected=round(float(expected), 3), sd=round(sd, 3), excess=round(float(excess), 3),
                 estimated_rows=round(float(estimated), 1), p_value=_sig(p_value), warn=warn, examples=examples)
    return found


def label_noise(contribution, reference, features, label, classes, seed=42, all_rows=False):
    """Confident-learning label issues in the contribution, compared with reference rows.

    A forest of the recipe (NOISE_TREES trees) gives out-of-fold class probabilities for the
    contribution and reference rows together. The per-class threshold is the mean probability
    of that class over rows labelled with it; a row is flagged when the most probable class
    whose probability reaches its threshold differs from its label. The confident joint of
    given and suggested labels, calibrated to the label counts, estimates the noise rate; the
    same on the reference rows (at the contribution's class mix: some classes are harder than
    others) measures the task's own ambiguity, and the difference estimates
    the noise the contribution adds. With ``all_rows``, returns (summary, every flagged row).
    """
    import warnings

    import pandas as pd

    from .recipe import FOREST_PARAMS, build_forest, build_preprocessor, prepare_features
    from .sampling import stratified_indices

    n_total = len(contribution)
    skipped = {"status": "skipped", "method": "confident_learning", "rows_checked": 0, "flagged": 0,
               "rate": 0.0, "estimated_noise_rate": None, "warn": False, "row_indices": [], "examples": []}
    y_c = class_codes(contribution[label].astype(str), classes)
    y_r = class_codes(reference[label].astype(str), classes, unknown=-1)
    if n_total < NOISE_MIN_ROWS:
        return _skip(dict(skipped, reason="fewer than %d rows" % NOISE_MIN_ROWS), all_rows)
    rows_c = np.arange(n_total)
    cap = NOISE_MAX_CONTRIBUTION_TEXT if any(f["kind"] == "text" for f in features) else NOISE_MAX_CONTRIBUTION
    if n_total > cap:
        rows_c = stratified_indices(y_c, cap, seed)
    rows_r = np.flatnonzero(y_r >= 0)
    if len(rows_r) > NOISE_MAX_REFERENCE:
        rows_r = rows_r[stratified_indices(y_r[rows_r], NOISE_MAX_REFERENCE, seed)]
    frame = pd.concat([contribution.iloc[rows_c][[f["name"] for f in features]],
                       reference.iloc[rows_r][[f["name"] for f in features]]], ignore_index=True)
    y = np.concatenate([y_c[rows_c], y_r[rows_r]])
    folds = _folds(y, len(classes))
    if not folds:
        return _skip(dict(skipped, reason="a class has fewer than 2 rows"), all_rows)

    # The encoding is fitted on all rows at once: it never sees labels, and fitting TF-IDF once
    # instead of per fold keeps the check fast. Only the forest is cross-validated.
    X = build_preprocessor(features).fit_transform(prepare_features(frame, features))

    def out_of_fold(rows):
        from sklearn.model_selection import StratifiedKFold

        probas = np.zeros((len(rows), len(classes)))
        splits = _folds(y[rows], len(classes))
        if not splits:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for train, test in StratifiedKFold(splits, shuffle=True, random_state=seed).split(rows, y[rows]):
                forest = build_forest(dict(FOREST_PARAMS, random_state=seed), NOISE_TREES, n_jobs=1)
                forest.fit(X[rows[train]], y[rows[train]])
                probas[np.ix_(test, forest.classes_)] = forest.predict_proba(X[rows[test]])
        return probas

    probas = out_of_fold(np.arange(len(y)))
    flagged, suggested = _confident_issues(probas, y, len(classes))
    n_c = len(rows_c)
    is_c = np.arange(len(y)) < n_c
    conflict = _conflict(flagged[~is_c], out_of_fold(np.flatnonzero(~is_c)), y[~is_c], len(classes))
    k_c = int(flagged[is_c].sum())
    rate_c = k_c / n_c
    # Some classes are harder than others: the reference is taken at the contribution's class mix.
    rate_r, p_value = _standardised_excess(flagged, y, is_c, len(classes))
    excess = rate_c - rate_r
    warn = bool(excess >= NOISE_MIN_EXCESS and p_value < NOISE_ALPHA)
    # Random noise raises the reference rows' flags too, but the contribution's stand out from
    # theirs (label noise, above); a consistent relabelling's do not: that is a conflict.
    conflict["conflict"] = conflict["conflict"] and not warn
    issue_rows = rows_c[flagged[:n_c]]
    issue_positions = np.flatnonzero(flagged[:n_c])
    # The most confident issues first: highest probability of the suggested class.
    order = np.argsort(-probas[issue_positions, suggested[issue_positions]], kind="stable")
    examples = [{"row": int(rows_c[p]), "label": classes[y[p]], "suggested": classes[suggested[p]],
                 "confidence": round(float(probas[p, suggested[p]]), 3)} for p in issue_positions[order][:EXAMPLES]]
    noise_c, per_class_c, given_c = _noise_rate(probas[is_c], y[is_c], len(classes))
    noise_r = None
    if (~is_c).any():
        noise_r, per_class_r, _ = _noise_rate(probas[~is_c], y[~is_c], len(classes))
        noise_r = _at_mix(per_class_r, ~np.isnan(per_class_r), noise_r, given_c * ~np.isnan(per_class_c))
    summary = {
        "status": "checked", "reason": None, "method": "confident_learning",
        "model": "recipe forest, %d trees, %d-fold out-of-fold probabilities" % (NOISE_TREES, folds),
        "folds": folds, "rows_checked": n_c, "rows_total": n_total, "flagged": k_c, "rate": round(rate_c, 6),
        "estimated_noise_rate": round(noise_c, 6),
        "reference_rows": int((~is_c).sum()), "reference_rate": round(rate_r, 6),
        "reference_noise_rate": None if noise_r is None else round(noise_r, 6),
        "excess_noise_rate": round(max(0.0, noise_c - (noise_r or 0.0)), 6),
        "excess_rate": round(excess, 6), "p_value": _sig(p_value), "warn": warn or conflict["conflict"],
        "conflict": conflict,
        "row_indices": np.sort(issue_rows)[:ROW_INDICES].tolist(), "examples": examples,
    }
    return (summary, np.sort(issue_rows)) if all_rows else summary


def _folds(y, k):
    """Stratified folds these labels allow (at most NOISE_FOLDS), or 0 when they allow none: a
    class with a single row, or a single class."""
    counts = np.bincount(y, minlength=k)
    folds = int(min(NOISE_FOLDS, counts[counts > 0].min()))
    return folds if folds >= 2 and (counts > 0).sum() >= 2 else 0


def _conflict(flagged_together, probas_alone, y, k):
    """Whether the contribution's labels contradict the reference's: the reference rows flagged
    when the model also learns from the contribution, against those flagged when it learns
    from the reference rows alone (McNemar's test on the same rows). Confident learning within
    the pooled rows cannot see a contribution that relabels the task consistently (every label
    flipped): the model learns the contribution's rule, and the reference rows then look as
    noisy as the contribution. That is the sign this looks for (:func:`label_noise` keeps it
    only where the contribution's own flags do not stand out: random noise raises the
    reference's flags a little too, and is label noise)."""
    from scipy.stats import norm

    result = {"conflict": False, "reference_rate_alone": None,
              "reference_rate_together": round(float(flagged_together.mean()), 6) if len(y) else None,
              "p_value": 1.0}
    if probas_alone is None:
        return result
    flagged_alone = _confident_issues(probas_alone, y, k)[0]
    gained = int((flagged_together & ~flagged_alone).sum())
    lost = int((flagged_alone & ~flagged_together).sum())
    p_value = float(norm.sf((gained - lost) / math.sqrt(gained + lost))) if gained + lost else 1.0
    rise = (gained - lost) / len(y)
    result.update(reference_rate_alone=round(float(flagged_alone.mean()), 6), p_value=_sig(p_value),
                  conflict=bool(rise >= CONFLICT_MIN_RISE and p_value < NOISE_ALPHA))
    return result


def _skip(summary, all_rows):
    return (summary, np.empty(0, dtype=np.int64)) if all_rows else summary


def _thresholds(probas, y, k):
    thresholds = np.full(k, np.inf)
    for j in range(k):
        if (y == j).any():
            thresholds[j] = probas[y == j, j].mean()
    return thresholds


def _confident_classes(probas, thresholds):
    """Per row: the most probable class at or above its threshold, or -1."""
    above = probas >= thresholds[None, :] - 1e-12
    masked = np.where(above, probas, -1.0)
    best = np.argmax(masked, axis=1)
    return np.where(above.any(axis=1), best, -1)


def _confident_issues(probas, y, k):
    suggested = _confident_classes(probas, _thresholds(probas, y, k))
    return (suggested >= 0) & (suggested != y), suggested


def _noise_rate(probas, y, k):
    """Off-diagonal mass of the calibrated confident joint of these rows, with their own thresholds
    (flipped contributed rows lower the thresholds of all rows: the baseline's rows would then
    look noisier than they are, and the excess smaller).

    Returns (rate, per-class rate (NaN where a class has no confident row), rows per class)."""
    suggested = _confident_classes(probas, _thresholds(probas, y, k))
    joint = np.zeros((k, k))
    counted = suggested >= 0
    np.add.at(joint, (y[counted], suggested[counted]), 1)
    given = np.bincount(y, minlength=k).astype(float)
    row_sums = joint.sum(axis=1)
    # A calibrated row sums to the class's count, so the rate is the given-weighted per-class rate.
    per_class = np.full(k, np.nan)
    np.divide(row_sums - np.diag(joint), row_sums, out=per_class, where=row_sums > 0)
    defined = given * (row_sums > 0)
    rate = float((defined * np.nan_to_num(per_class)).sum() / defined.sum()) if defined.sum() else 0.0
    return rate, per_class, given


def _at_mix(per_class, known, overall, weights):
    """The weighted mean of ``per_class`` rates, with ``overall`` for classes not ``known``."""
    if not weights.sum():
        return overall
    return float((weights * np.where(known, np.nan_to_num(per_class), overall)).sum() / weights.sum())


def _standardised_excess(flagged, y, is_c, k):
    """(Reference flagged rate at the contribution's class mix, one-sided p-value of the
    contribution's rate exceeding it): a z-test stratified by class, pooled within each class;
    p is 1.0 when undefined or without reference rows."""
    from scipy.stats import norm

    n_c, n_r = np.bincount(y[is_c], minlength=k), np.bincount(y[~is_c], minlength=k)
    k_c = np.bincount(y[is_c], weights=flagged[is_c], minlength=k)
    k_r = np.bincount(y[~is_c], weights=flagged[~is_c], minlength=k)
    if not n_r.sum():
        return 0.0, 1.0
    known = n_r > 0
    overall = k_r.sum() / n_r.sum()
    per_class = np.divide(k_r, n_r, out=np.zeros(k), where=known)
    expected = _at_mix(per_class, known, overall, n_c) * n_c.sum()
    # Var(k_c - expected) per class: n_c p (1 - p) (1 + n_c / n_r), p pooled within the class.
    refs = np.where(known, n_r, n_r.sum()).astype(float)
    pooled = np.where(known, (k_c + k_r) / np.maximum(n_c + n_r, 1), (k_c + k_r.sum()) / np.maximum(n_c + refs, 1))
    variance = float((n_c * pooled * (1 - pooled) * (1 + n_c / refs)).sum())
    rate = expected / n_c.sum()
    if variance <= 0:
        return rate, 1.0
    return rate, float(norm.sf((k_c.sum() - expected) / math.sqrt(variance)))


def drift(contribution, benchmark, features, label, classes, class_counts=None):
    """Per-feature drift and class balance of the contribution against the benchmark.

    ``class_counts`` (per class, in the order of ``classes``) replaces the contribution's own
    counts: the whole table's when ``contribution`` is a sample of it."""
    from scipy.stats import chi2_contingency, ks_2samp

    alpha = DRIFT_ALPHA / max(len(features), 1)
    results = []
    for f in features:
        name, kind = f["name"], f["kind"]
        a, b = contribution[name], benchmark[name]
        missing = [float(_absent(column, kind).mean()) if len(column) else 0.0 for column in (a, b)]
        entry = {"feature": name, "kind": kind, "missing_share": [round(m, 4) for m in missing]}
        if kind == "numeric":
            x, z = _numeric(a), _numeric(b)
            x, z = x[np.isfinite(x)], z[np.isfinite(z)]
            if len(x) and len(z):
                test = ks_2samp(x, z)
                entry.update(statistic="ks", value=round(float(test.statistic), 6), p_value=_sig(test.pvalue))
            else:
                entry.update(statistic="ks", value=None, p_value=None)
        elif kind == "categorical":
            spelling = _spelling_differs(a, b)
            a, b = _strings(a), _strings(b)
            table = _category_table(a, b)
            entry.update(statistic="tvd", value=round(_tvd(table), 6), p_value=_sig(_chi2_p(table, chi2_contingency)),
                         spelling_differs=spelling)
        else:
            table = _word_table(a, b)
            entry.update(statistic="tvd_words", value=round(_tvd(table), 6),
                         p_value=_sig(_chi2_p(table, chi2_contingency)))
        # Missing values count as drift too when their share moves by the same effect size.
        missing_moved = abs(missing[0] - missing[1]) >= DRIFT_MIN_EFFECT
        # Values spelled otherwise are new categories to the model, however alike the counts (the
        # statistic compares values with their spaces trimmed, as near matching does).
        entry["drifted"] = bool((entry["value"] is not None and entry["value"] >= DRIFT_MIN_EFFECT
                                 and entry["p_value"] is not None and entry["p_value"] < alpha) or missing_moved
                                or entry.get("spelling_differs"))
        results.append(entry)

    count_c = np.asarray(class_counts) if class_counts is not None else \
        np.bincount(class_codes(contribution[label].astype(str), classes), minlength=len(classes))
    bench_codes = class_codes(benchmark[label].astype(str), classes, unknown=-1)
    count_b = np.bincount(bench_codes[bench_codes >= 0], minlength=len(classes))
    table = np.vstack([count_c, count_b]).astype(float)
    tvd = _tvd(table)
    p_value = _chi2_p(table, chi2_contingency)
    balance = {"contribution": _shares(count_c, classes), "benchmark": _shares(count_b, classes),
               "tvd": round(tvd, 6), "p_value": _sig(p_value),
               "shifted": bool(tvd >= DRIFT_MIN_EFFECT and p_value is not None and p_value < DRIFT_ALPHA)}
    drifted = [r["feature"] for r in results if r["drifted"]]
    return {"reference": "benchmark", "reference_rows": int(len(benchmark)), "alpha": DRIFT_ALPHA,
            "min_effect": DRIFT_MIN_EFFECT, "features": results, "drifted": drifted, "class_balance": balance,
            "warn": bool(drifted) or balance["shifted"]}


def _absent(column, kind):
    """Per value: missing, or for free text without a word (a text of "" or "!!!" says nothing,
    as near matching treats it; its words would be left out of the word counts unseen)."""
    missing = column.isna().to_numpy()
    if kind == "text":
        missing = missing | ~column.astype(str).str.contains(r"\w", regex=True).to_numpy(dtype=bool)
    return missing


def _spelling_differs(a, b):
    """[contributed value, benchmark value] when the contribution's values are mostly unknown to
    the benchmark but for their letter case or spaces ("fri" or "Fri " where the benchmark has
    "Fri"): the model reads them as new categories, and the contributor wants to know why. Else
    None. ``a`` and ``b`` are the columns as stored (missing values are left out)."""
    import pandas as pd

    def spelled(column):
        return pd.Series(column[column.notna()].astype(str).to_numpy())

    def fold(value):  # as the statistic and near matching compare categories, and case aside
        return " ".join(value.split()).casefold()

    values, known = spelled(a), set(spelled(b).tolist())
    if not len(values) or values.isin(known).mean() >= 0.5:
        return None
    folded = {}
    for value in sorted(known):
        folded.setdefault(fold(value), value)
    unknown = values[~values.isin(known)]
    if unknown.map(fold).isin(set(folded)).mean() < 0.9:
        return None
    example = unknown.value_counts().index[0]
    return [example, folded[fold(example)]]


def _sig(value, digits=4):
    """A p-value to ``digits`` significant digits (they are compared with thresholds, not summed)."""
    return float("%.*g" % (digits, value)) if value is not None else None


def _shares(counts, classes):
    total = counts.sum()
    return {c: round(float(n / total), 4) if total else 0.0 for c, n in zip(classes, counts)}


def _tvd(table):
    """Total variation distance between the two rows of a count table (as distributions)."""
    sums = table.sum(axis=1, keepdims=True)
    if (sums == 0).any():
        return 0.0
    return float(0.5 * np.abs(table[0] / sums[0] - table[1] / sums[1]).sum())


def _chi2_p(table, chi2_contingency):
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 1.0
    return float(chi2_contingency(table)[1])


def _category_table(a, b):
    """Counts per category; categories rarer than RARE_CATEGORY in the benchmark share one bucket."""
    import pandas as pd

    reference = pd.Series(b).value_counts()
    kept = set(reference.index[reference >= RARE_CATEGORY])
    bucket_a = pd.Series([v if v in kept else "\x00other" for v in a]).value_counts()
    bucket_b = pd.Series([v if v in kept else "\x00other" for v in b]).value_counts()
    names = sorted(set(bucket_a.index) | set(bucket_b.index))
    return np.array([[bucket_a.get(k, 0) for k in names], [bucket_b.get(k, 0) for k in names]], dtype=float)


def _word_table(a, b):
    """Word counts over the TEXT_TOP_WORDS most frequent words of both, plus one bucket for the rest."""
    from collections import Counter

    def words(column):
        counter = Counter()
        for value in column.dropna().astype(str):
            counter.update(re.findall(r"\w+", value.casefold()))
        return counter

    count_a, count_b = words(a), words(b)
    top = [w for w, _ in (count_a + count_b).most_common(TEXT_TOP_WORDS)]
    rows = []
    for counter in (count_a, count_b):
        inside = [counter.get(w, 0) for w in top]
        rows.append(inside + [sum(counter.values()) - sum(inside)])
    return np.array(rows, dtype=float)


# --- PII ---------------------------------------------------------------------------------------

PII_PATTERNS = {
    "email": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    # +CC and 8-15 digits in groups, or the North American (ddd) ddd-dddd form.
    "phone": re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){2,4}"
                        r"|(?:\+?1[ .-]?)?(?:\(\d{3}\) ?|\d{3}[.-])\d{3}[ .-]\d{4})(?![\w])"),
    "card_number": re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])"),
    "government_id": re.compile(r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])"
                                r"|\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2}"
                                r" ?[A-D]\b"),
    # Country, check digits, then up to 30 letters and digits, in groups of four or not.
    "iban": re.compile(r"(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![\w])", re.IGNORECASE),
}
PII_NAMES = {"email": "e-mail addresses", "phone": "phone numbers", "card_number": "card numbers",
             "government_id": "government ids", "iban": "bank account numbers (IBAN)"}


_FRACTION = re.compile(r"\.\d{5}")

# Bare digits (5551234567, 123456789, or the same as an integer) are as likely an id as a phone
# number or an SSN; a column whose name says which it is settles it, as PII scanners' context
# words do. Names are split into words (camelCase too); (words, fewest and most digits).
PII_NAMED = {
    "phone": ({"phone", "phones", "telephone", "tel", "mobile", "cell", "cellphone", "fax", "msisdn"}, 10, 15),
    "government_id": ({"ssn", "ssns", "socialsecurity", "nationalid", "taxid", "tin", "itin"}, 9, 9),
}
_BARE = re.compile(r"\+?[\d .()/-]+")


def name_words(name):
    """A column name's words, lower case: 'customerId', 'customer_id' and 'Customer ID' are
    ['customer', 'id'] (hp-baseline reads identifier names by them too)."""
    return re.findall(r"[a-z]+|\d+", re.sub(r"([a-z])([A-Z])", r"\1 \2", str(name)).lower())


def _named_kind(name):
    """The kind of bare number a column named ``name`` declares itself to hold, or None."""
    words = name_words(name)
    joined = {"".join(words[i:i + 2]) for i in range(len(words))}
    for kind, (names, _, _) in PII_NAMED.items():
        if names & (set(words) | joined):
            return kind
    return None


def _bare_found(kind, text):
    """``text`` if it is a bare number of ``kind``'s length (an SSN with a valid area; an SSN
    read as an integer may have lost its leading zeros), else None."""
    if not _BARE.fullmatch(text):
        return None
    digits = re.sub(r"\D", "", text)
    _, fewest, most = PII_NAMED[kind]
    if kind == "government_id":
        if not 7 <= len(digits) <= 9 or text.strip().startswith("+"):
            return None
        digits = digits.zfill(9)
        if digits[:3] in ("000", "666") or digits[0] == "9" or digits[3:5] == "00" or digits[5:] == "0000":
            return None
    elif not fewest <= len(digits) <= most:
        return None
    return text


def luhn_valid(digits):
    """The Luhn checksum of a string of digits (card numbers have a valid one)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_valid(text):
    """The ISO 13616 check of an IBAN (spaces allowed): its number, country and check digits
    moved to the end and letters read as 10-35, is 1 modulo 97."""
    compact = text.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    return int("".join(str(int(ch, 36)) for ch in compact[4:] + compact[:4])) % 97 == 1


def _pii_found(kind, text, checksum=True):
    """The first value of ``kind`` in ``text``, or None; ``checksum=False`` finds card-like
    numbers and IBAN-like codes whether or not they pass their checksum."""
    for match in PII_PATTERNS[kind].finditer(text):
        value = match.group(0)
        if kind == "card_number":
            digits = re.sub(r"\D", "", value)
            if not 13 <= len(digits) <= 19 or len(set(digits)) == 1 or (checksum and not luhn_valid(digits)):
                continue
        # A decimal fraction (+40.712776, a latitude) is not a phone number's digit group.
        if kind == "phone" and (not 8 <= len(re.sub(r"\D", "", value)) <= 15 or _FRACTION.search(value)):
            continue
        if kind == "iban" and checksum and not iban_valid(value):  # random letters and digits pass one time in 97
            continue
        return value
    return None


def _above_chance(texts, kind="card_number"):
    """(values of the shape, whether those passing the checksum are too frequent among them for
    chance): ids, timestamps and ISBNs of 13-19 digits pass the Luhn check one time in ten, and
    codes shaped like IBANs pass mod 97 one time in 97 (a binomial test over the distinct values:
    a barcode repeated on every row is one number, not a thousand)."""
    from scipy.stats import binom

    candidates = hits = 0
    for text in set(texts):
        if _pii_found(kind, text, checksum=False) is not None:
            candidates += 1
            hits += _pii_found(kind, text) is not None
    chance = LUHN_CHANCE if kind == "card_number" else IBAN_CHANCE
    return candidates, bool(hits and binom.sf(hits - 1, candidates, chance) < PII_CARD_ALPHA)


def mask(kind, value):
    """``value`` with all but a hint hidden, so the report does not repeat the personal data."""
    if kind == "email":
        user, _, domain = value.partition("@")
        return user[:1] + "***@" + domain
    keep = 2
    chars = [ch for ch in value]
    alnum = [i for i, ch in enumerate(chars) if ch.isalnum()]
    for i in alnum[:-keep]:
        chars[i] = "*"
    return "".join(chars)


def pii(frame, columns, seed=42):
    """Columns whose values hold e-mail addresses, phone numbers, card numbers or government ids."""
    import pandas as pd

    found = []
    for name in columns:
        column = frame[name].dropna()
        if not len(column):
            continue
        if len(column) > PII_SAMPLE:
            column = column.sample(PII_SAMPLE, random_state=seed)
        named = _named_kind(name)
        if pd.api.types.is_numeric_dtype(column):
            # Numbers can only be card numbers (13-16 digit integers; float64 holds 15-16 exactly),
            # or what the column's name says they are.
            values = column.to_numpy(dtype=np.float64)
            whole = values[(values == np.round(values)) & (np.abs(values) < 1e16)]
            texts = ["%d" % v for v in whole]
            kinds = {"card_number": [t for t in texts if len(t.lstrip("-")) >= 13]}
            if named:
                kinds[named] = texts
            checked = len(values)
        else:
            texts = column.astype(str).tolist()
            kinds = {kind: texts for kind in PII_PATTERNS}
            checked = len(texts)
        for kind, texts in kinds.items():
            hits = [v for v in (_pii_found(kind, t) for t in texts) if v is not None]
            if kind == named:
                hits += [v for v in (_bare_found(kind, t) for t in texts)
                         if v is not None and _pii_found(kind, v) is None]
            if not hits:
                continue
            share = len(hits) / checked
            entry = {"column": name, "kind": kind, "values_checked": checked, "matches": len(hits),
                     "share": round(share, 4), "flagged": bool(share >= PII_MIN_SHARE),
                     "examples": [mask(kind, h) for h in hits[:3]]}
            if kind == named:
                entry["named"] = True
            if kind in ("card_number", "iban"):
                entry["card_like" if kind == "card_number" else "iban_like"], above = _above_chance(texts, kind)
                entry["flagged"] &= above
            found.append(entry)
    return {"columns": found, "min_share": PII_MIN_SHARE, "warn": any(f["flagged"] for f in found)}


# --- everything --------------------------------------------------------------------------------


def diagnose(contribution, benchmark, base, features, label, classes, seed=42, remove_contaminated=True):
    """Every finding about ``contribution``; returns (diagnostics dict, boolean mask of rows to keep).

    Row numbers in the findings are 0-based positions in ``contribution``.
    """
    timings = {}
    started = time.perf_counter()
    contamination, duplicates, contaminated, matched = _match_all(contribution, benchmark, base, features, label)
    timings["matching"] = time.perf_counter() - started
    keep = _act(contamination, contaminated, remove_contaminated)
    started = time.perf_counter()
    # Rows matching a reference row have it as nearest neighbour: they are counted above, not here.
    contamination["closeness"] = closeness(contribution, benchmark, base, features, label, classes,
                                           np.flatnonzero(~matched), seed)
    timings["closeness"] = time.perf_counter() - started
    columns = [c for c in contribution.columns if c != label]
    noise, shift, personal = _row_checks(contribution, benchmark, base, features, label, classes, seed, columns,
                                         timings)
    return _findings(len(contribution), benchmark, base, contamination, duplicates, noise, shift, personal,
                     timings), keep


def _act(contamination, contaminated, remove_contaminated):
    """Record what is done with the contaminated rows; returns the mask of rows to keep."""
    contamination["action"] = "removed" if remove_contaminated and contamination["rows"] else \
        ("kept" if contamination["rows"] else "none")
    contamination["rows_removed"] = contamination["rows"] if remove_contaminated else 0
    return ~contaminated if remove_contaminated else np.ones(len(contaminated), dtype=bool)


def _row_checks(contribution, benchmark, base, features, label, classes, seed, pii_columns, timings,
                class_counts=None):
    """(label noise, drift, PII) of ``contribution``, timed into ``timings``."""
    import pandas as pd

    started = time.perf_counter()
    reference = pd.concat([t for t in (base, benchmark) if t is not None], ignore_index=True)
    noise = label_noise(contribution, reference, features, label, classes, seed)
    timings["label_noise"] = time.perf_counter() - started

    started = time.perf_counter()
    shift = drift(contribution, benchmark, features, label, classes, class_counts)
    timings["drift"] = time.perf_counter() - started

    started = time.perf_counter()
    personal = pii(contribution, pii_columns, seed)
    timings["pii"] = time.perf_counter() - started
    return noise, shift, personal


def _findings(rows, benchmark, base, contamination, duplicates, noise, shift, personal, timings, sample=None):
    findings = {"rules_version": RULES_VERSION, "rows_checked": int(rows),
                "reference": {"benchmark_rows": int(len(benchmark)),
                              "base_rows": int(len(base)) if base is not None else 0},
                "rules": rules(), "contamination": contamination, "duplicates": duplicates, "label_noise": noise,
                "drift": shift, "pii": personal}
    if sample is not None:
        findings["sample"] = sample
    findings["warnings"], findings["notes"] = messages(findings)
    findings["timings"] = {k: round(v, 4) for k, v in timings.items()}
    return findings


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


def _label_codes(column, classes):
    import pandas as pd

    codes = pd.Categorical(column.astype(str), categories=classes).codes
    if (codes < 0).any():
        raise ValueError("label column %r holds a value outside %s" % (column.name, list(classes)))
    return codes


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

    from .dataio import open_parquet
    from .fsutil import atomic_path

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
    return _diagnose_batches(parquet, n, benchmark, base, features, label, classes, seed, remove_contaminated,
                             cleaned_path, sample_rows, batch_bytes)


def _diagnose_batches(parquet, n, benchmark, base, features, label, classes, seed, remove_contaminated,
                      cleaned_path, sample_rows, batch_bytes):
    import contextlib

    import pyarrow as pa

    from .dataio import ParquetSink, parquet_batches, take_rows
    from .fsutil import atomic_path
    from .sampling import stratified_indices

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
    timings["matching"] = time.perf_counter() - started

    # One pass over every column: the kept rows into the cleaned table, the rows the remaining
    # checks need into memory.
    started = time.perf_counter()
    keep = ~((bench[0] >= 0) | (bench[1] >= 0)) if remove_contaminated else np.ones(n, dtype=bool)
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
    contamination, duplicates, contaminated = _matches(
        reference.pair_rate, len(benchmark), len(base) if base is not None else 0, bench, base_found,
        distinct_rows, inverse, near_of_distinct[inverse], y, bench_labels)
    _act(contamination, contaminated, remove_contaminated)
    timings["matching"] += time.perf_counter() - started

    frame = pa.Table.from_batches(sample_parts).to_pandas()
    started = time.perf_counter()
    matched = (bench[0] >= 0) | (bench[1] >= 0) | _matched(base_found)
    close = contamination["closeness"] = closeness(frame, benchmark, base, features, label, classes,
                                                   np.flatnonzero(~matched[sample]), seed)
    for example in close["examples"]:  # the sample's row numbers, as the whole table's
        example["row"] = int(sample[example["row"]])
    timings["closeness"] = time.perf_counter() - started
    counts = np.bincount(y, minlength=len(classes))
    noise, shift, personal = _row_checks(frame, benchmark, base, features, label, classes, seed,
                                         [c for c in frame.columns if c != label], timings, counts)
    # The sample's row numbers, as the whole table's.
    if noise["status"] == "checked":
        noise["rows_total"] = int(n)
        noise["row_indices"] = sample[noise["row_indices"]].tolist()
        for example in noise["examples"]:
            example["row"] = int(sample[example["row"]])
    about = {"rows": int(len(sample)), "cap": int(sample_rows), "method": "stratified_by_label", "seed": seed,
             "checks": ["closeness", "label_noise", "drift", "pii"], "distinct_rows": int(len(distinct_rows)),
             "distinct_rows_checked": int(len(checked))}
    findings = _findings(n, benchmark, base, contamination, duplicates, noise, shift, personal, timings, about)
    kept = np.bincount(y[keep], minlength=len(classes))
    return findings, keep, {str(c): int(k) for c, k in sorted(zip(classes, kept)) if k}


STATISTICS = {"ks": "KS", "tvd": "TVD", "tvd_words": "TVD of words"}


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


def _count(value):
    """A count held as a float (an expectation, an estimate), rounded and with thousands separators."""
    return "{:,.0f}".format(value)


def _pct(value):
    return "%.1f%%" % (100 * value)


def _p_text(p_value):
    """'p = 3e-08', or 'p < 1e-12' below what a normal tail states reliably."""
    return "p < 1e-12" if p_value < 1e-12 else "p = %.0e" % p_value


def messages(findings, row_number=None):
    """(warnings, notes): short lines for people; warnings are the alarms. They name a contributed
    row by ``row_number(position)`` (default: :func:`file_rows`, nothing dropped), as the file
    numbers it; benchmark and base rows by their position in the bundle's tables."""
    rn = row_number or file_rows()
    warnings, notes = [], []
    n = findings["rows_checked"]
    c = findings["contamination"]
    if c["rows"]:
        first = c["examples"][0]
        text = ("%s of %s %s (%s exact, %s near; e.g. data row %d ~ benchmark row %d)"
                % (thousands(c["rows"]), plural(n, "row"),
                   "duplicates a benchmark row" if c["rows"] == 1 else "duplicate benchmark rows",
                   thousands(c["exact"]), thousands(c["near"]), rn(first["row"]), first["benchmark_row"]))
        action = ("; removed before training (the main pipeline would train on them; --keep-contaminated "
                  "does too)" if c["action"] == "removed"
                  else "; kept (--keep-contaminated): the delta may be inflated")
        if c["warn"]:
            warnings.append("benchmark contamination: " + text + action)
        else:
            notes.append("benchmark matches: %s, about as many as clean data from this source has by chance "
                         "(%.1f expected)%s" % (text, c["expected_by_chance"], action))
    close = c.get("closeness") or {}
    if close.get("status") == "checked" and close["p_value"] < CLOSE_ALPHA:
        text = ("%s of %s%s have a benchmark row as their nearest neighbour where %s were expected (%s)"
                % (_count(close["benchmark_nearest"]), plural(close["rows_tested"], "row"),
                   " tested" if close["rows_tested"] < n else "", _count(close["expected"]),
                   _p_text(close["p_value"])))
        if close["warn"]:
            example = (" (e.g. data row %d ~ benchmark row %d)" % (rn(close["examples"][0]["row"]),
                                                                  close["examples"][0]["benchmark_row"])
                       if close["examples"] else "")
            warnings.append("closer to the benchmark than chance: %s; about %s rows look like altered benchmark "
                            "rows%s, which would inflate the delta; they are kept, as no single one can be told "
                            "from a clean row: remove them or explain where the data came from"
                            % (text, _count(close["estimated_rows"]), example))
        else:
            notes.append("closer to the benchmark than chance: %s, but that makes about %s altered benchmark rows, "
                         "fewer than the %s (%g%% of the rows tested, at least %s) that would be a warning" % (
                             text, _count(max(close["estimated_rows"], 0.0)),
                             _count(math.ceil(max(CLOSE_MIN_SHARE * close["rows_tested"], CLOSE_MIN_ROWS))),
                             100 * CLOSE_MIN_SHARE, thousands(CLOSE_MIN_ROWS)))
    elif close.get("status") == "skipped" and close.get("premise"):
        notes.append("closeness to the benchmark not tested: %s" % close["reason"])
    for key, what in (("within", "other contributed rows"), ("base", "rows of the base training table")):
        d = findings["duplicates"][key]
        if not d.get("rows"):
            continue
        first = d["examples"][0]
        partner = first.get("duplicate_of", first.get("base_row"))
        other = "data row %d" % rn(partner) if key == "within" else "base row %d" % partner
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
    ln = findings["label_noise"]
    conflict = ln.get("conflict") or {}
    if ln["status"] == "checked" and conflict.get("conflict"):
        # The pooled model learnt the contribution's rule, so its per-row flags mean little here.
        warnings.append("label conflict: the contribution's labels contradict the baseline's rows: a model "
                        "cross-validated with them finds %s of the baseline's own rows mislabelled, against %s "
                        "without them (labels flipped, or another labelling rule?)" % (
                            _pct(conflict["reference_rate_together"]), _pct(conflict["reference_rate_alone"])))
    elif ln["status"] == "checked" and ln["warn"]:
        warnings.append("label noise: %s of %s (%s) %s mislabelled against %s of the baseline's own "
                        "rows of the same classes (e.g. data rows %s); estimated noise %s against the baseline's %s" % (
                            thousands(ln["flagged"]), plural(ln["rows_checked"], "row"), _pct(ln["rate"]),
                            "looks" if ln["flagged"] == 1 else "look", _pct(ln["reference_rate"]),
                            ", ".join(str(rn(i)) for i in ln["row_indices"][:3]), _pct(ln["estimated_noise_rate"]),
                            _pct(ln["reference_noise_rate"] or 0.0)))
    elif ln["status"] == "skipped":
        notes.append("label noise not checked: %s" % ln["reason"])
    d = findings["drift"]
    if d["drifted"]:
        parts = []
        for r in d["features"]:
            if not r["drifted"]:
                continue
            if r.get("spelling_differs"):
                parts.append("%s (%s %.2f: its values are spelled unlike the benchmark's, in letter case or "
                             "spaces, e.g. %r for %r: new categories to the model)"
                             % (r["feature"], STATISTICS[r["statistic"]], r["value"], *r["spelling_differs"]))
            elif r["value"] is not None and r["value"] >= DRIFT_MIN_EFFECT:
                parts.append("%s (%s %.2f)" % (r["feature"], STATISTICS[r["statistic"]], r["value"]))
            else:
                parts.append("%s (missing %s vs %s)" % (r["feature"], _pct(r["missing_share"][0]),
                                                        _pct(r["missing_share"][1])))
        warnings.append("drift: %s of %s %s from the benchmark: %s" % (
            thousands(len(d["drifted"])), plural(len(d["features"]), "feature"),
            "differs" if len(d["drifted"]) == 1 else "differ",
            ", ".join(parts[:5])))
    balance = d["class_balance"]
    if balance["shifted"]:
        moved = sorted(balance["contribution"], key=lambda k: -abs(balance["contribution"][k]
                                                                   - balance["benchmark"].get(k, 0.0)))
        warnings.append("class balance differs from the benchmark (TVD %.2f): %s" % (balance["tvd"], ", ".join(
            "%s %s vs %s" % (k, _pct(balance["contribution"][k]), _pct(balance["benchmark"].get(k, 0.0)))
            for k in moved[:3])))
    for f in findings["pii"]["columns"]:
        if f["flagged"]:
            warnings.append("personal data: column %r holds %s (in %s of %s checked, e.g. %s%s); the main "
                            "pipeline would hash or reject it" % (f["column"], PII_NAMES[f["kind"]],
                                                                 thousands(f["matches"]),
                                                                 plural(f["values_checked"], "value"), f["examples"][0],
                                                                 ", as its name says" if f.get("named") else ""))
    sample = findings.get("sample")
    if sample:
        partial = sample["distinct_rows_checked"] < sample["distinct_rows"]
        noise_rows = ln["rows_checked"] if ln["status"] == "checked" else sample["rows"]
        close = c.get("closeness") or {}
        notes.append("sampled: feature drift and personal data checked on a stratified sample of {:,} of {:,} "
                     "rows (more than {:,}), label noise on {:,} of them{}; benchmark copies and repeats on every "
                     "row{}".format(sample["rows"], n, sample["cap"], min(noise_rows, sample["rows"]),
                         ", closeness to the benchmark on {:,}".format(close["rows_tested"])
                         if close.get("status") == "checked" else "",
                         ", near repeats among {:,} of {:,} distinct rows".format(
                             sample["distinct_rows_checked"], sample["distinct_rows"]) if partial else ""))
    return warnings, notes
