"""What the checks share: values normalised and hashed as matching compares them, and numbers
rounded for the findings and written for the messages. The names keep their leading underscore:
they are internal to the package."""

import numpy as np

from ..text import spelling

NUMERIC_DIGITS = 12
EXAMPLES = 5
ROW_INDICES = 20
# A noncharacter, not NUL: pandas before 2.1 hashes strings as C strings, so "\x00..." hashed as "".
MISSING = "\uffffmissing"


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


def _normal_text(value, fold=False):
    """``value`` as text, whitespace trimmed and its runs collapsed to one space; with ``fold``,
    case-folded too (text.spelling, as every near miss is compared): how categories are compared."""
    return spelling(value) if fold else " ".join(str(value).split())


def _string_codes(column, fold=False):
    """(code per row, cleaned distinct strings then MISSING): whitespace trimmed and collapsed,
    optionally case-folded; a missing value's code (-1) picks MISSING."""
    import pandas as pd

    codes, uniques = pd.factorize(column)  # missing -> -1
    return codes, np.array([_normal_text(u, fold) for u in uniques] + [MISSING], dtype=object)


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


def _sig(value, digits=4):
    """A p-value to ``digits`` significant digits (they are compared with thresholds, not summed)."""
    return float("%.*g" % (digits, value)) if value is not None else None


def _reference_row(position):
    """A benchmark or base row as messages number it: from 1, as they number a contributed row,
    so that one line does not count two ways (the JSON keeps positions from 0)."""
    return int(position) + 1


def _pct(value):
    return "%.1f%%" % (100 * value)
