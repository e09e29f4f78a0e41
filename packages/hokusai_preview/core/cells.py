"""How the cells of a contributed table are read as numbers (core of hp-load's validation, which
hp-baseline shares): a numeric feature's values as float64, and, for a cell that is no number, a
hint naming how it was written (a Unicode minus, a currency or percent sign, a decimal comma,
thousands separators) and what to write instead.

pyarrow and numpy are imported inside the functions: hp-load's start stays light.
"""

from .errors import DataError
from .text import plural, shorten

FLOAT32_MAX = 3.4028234663852886e38  # numpy.finfo(numpy.float32).max, without importing numpy here


def numeric_feature(array, name, offset, label):
    """A numeric feature's Arrow ``array`` as float64 (NaN as missing); DataError for text or infinite
    values, naming the column ``name``, the data row (``offset``: rows before this array) and the
    file ``label``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_null(array.type):
        return pa.nulls(len(array), pa.float64())
    if pa.types.is_boolean(array.type):
        array = pc.cast(array, pa.float64())
    elif pa.types.is_string(array.type):
        trimmed = pc.utf8_trim_whitespace(array)
        trimmed = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)
        try:
            array = pc.cast(trimmed, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            row, value = _first_non_numeric(trimmed)
            hint = _number_hint(value) or "fix or empty that cell, or give each column one type of value"
            raise DataError("%s: column %r should hold numbers but has %r (data row %d)" % (
                label, name, shorten(value), row + offset + 1), hint) from None
    elif pa.types.is_integer(array.type) or pa.types.is_floating(array.type) or pa.types.is_decimal(array.type):
        # Integers past 2**53 round to the nearest float64, as scikit-learn will see them anyway.
        array = pc.cast(array, pa.float64(), safe=False)
    else:
        raise DataError("%s: column %r holds %s values where the baseline expects numbers" % (
            label, name, array.type), "give plain numbers in that column")
    values = array.to_numpy(zero_copy_only=False)
    infinite = np.isinf(values)
    if infinite.any():
        first = int(np.flatnonzero(infinite)[0]) + offset
        raise DataError("%s: column %r has %s (first: data row %d)" % (
            label, name, plural(int(infinite.sum()), "infinite value"), first + 1),
            "replace them with empty cells or finite numbers")
    with np.errstate(invalid="ignore"):
        huge = np.abs(values) > FLOAT32_MAX  # NaN compares False
    if huge.any():  # scikit-learn's trees split on float32: such a value would fail the training
        first = int(np.flatnonzero(huge)[0]) + offset
        raise DataError("%s: column %r has %s beyond +/-3.4e38, the model's float32 range (first: data row %d)" % (
            label, name, plural(int(huge.sum()), "value"), first + 1),
            "replace them with empty cells or smaller numbers")
    if np.isnan(values).any():
        array = pc.if_else(pc.is_nan(array), pa.scalar(None, pa.float64()), array)
    return array


def _first_non_numeric(array):
    """(position, value) of the first cell of a string array that Arrow cannot cast to float64.

    Bisection with Arrow's own cast (Python's float() accepts cells Arrow refuses, such as
    "1_000"): the half holding the first bad cell is the first half whose cast fails."""
    import pyarrow as pa
    import pyarrow.compute as pc

    low, high = 0, len(array)  # array[low:high] holds the first cell that cannot be cast
    while high - low > 1:
        middle = (low + high) // 2
        try:
            pc.cast(array.slice(low, middle - low), pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            high = middle
        else:
            low = middle
    return low, array[low].as_py()


# Characters that make a number cell text, named for the hint that says what to write instead.
_MINUS_SIGNS = {"\u2212": "the Unicode minus sign U+2212", "\u2013": "an en dash U+2013",
                "\u2012": "a figure dash U+2012"}


_GROUP_SPACES = {" ": "a space", "\u00a0": "a non-breaking space (U+00A0)", "\u202f": "a narrow non-breaking space "
                 "(U+202F)", "\u2009": "a thin space (U+2009)"}


_GROUP_APOSTROPHES = {"'": "an apostrophe", "\u2019": "a right single quote (U+2019)"}


_CURRENCY_SIGNS = "$\u20ac\u00a3\u00a5\u20b9"  # $ € £ ¥ ₹


def _number_hint(value):
    """How to write a number given with a Unicode minus, a currency or percent sign, a decimal comma or
    thousands separators (commas, spaces, apostrophes); "" for none of these. The cell is not read
    as a number: the main pipeline would not read it so either."""
    import re

    text = str(value).strip()
    fixes, percent = [], False
    sign = ""
    if text[:1] in _MINUS_SIGNS:
        fixes.append("%r is %s: use '-'" % (text[0], _MINUS_SIGNS[text[0]]))
        sign, text = "-", text[1:]
    elif text[:1] and text[:1] in "+-":
        sign, text = text[0], text[1:]
    currency = re.match("([%s])\\s*(.+)\\Z|(.+?)\\s*([%s])\\Z" % (_CURRENCY_SIGNS, _CURRENCY_SIGNS), text)
    if currency:
        mark = currency.group(1) or currency.group(4)
        text = currency.group(2) or currency.group(3)
        if not sign and text[:1] in _MINUS_SIGNS:  # "$−5"
            fixes.append("%r is %s: use '-'" % (text[0], _MINUS_SIGNS[text[0]]))
            sign, text = "-", text[1:]
        elif not sign and text[:1] and text[:1] in "+-":
            sign, text = text[0], text[1:]
        fixes.append("strip the currency sign %r" % mark)
    if text.endswith("%"):
        percent, text = True, text[:-1].rstrip()
        fixes.append("strip the '%'")
    plain, core, decimal = _number_core(text)
    if plain is None or not (core or fixes):
        return ""
    if core:
        fixes.append(core)
    if decimal and len(fixes) == 1:  # "1,500": the comma may be a decimal mark, both readings are offered
        return "%s (%s), or with '.' as the decimal mark (%s) if the comma is one" % (core, sign + plain,
                                                                                       sign + decimal)
    hint = "%s (%s)" % (" and ".join(fixes), sign + plain)
    return hint + (", and divide by 100 if the baseline's values are fractions" if percent else "")


def _number_core(text):
    """(the plain number ``text`` (unsigned) writes, what to change or "", the number it writes if its
    comma is a decimal mark or None); plain is None if ``text`` is no number."""
    import re

    number = r"[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?\Z|\.[0-9]+([eE][-+]?[0-9]+)?\Z"
    if re.match(number, text):
        return text, "", None
    if re.match(r"[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?\Z", text):
        plain = text.replace(",", "")
        single = "." not in text and text.count(",") == 1
        return plain, "write numbers without thousands separators", text.replace(",", ".") if single else None
    for marks in (_GROUP_SPACES, _GROUP_APOSTROPHES):
        for mark, name in marks.items():
            grouped = re.match(r"[0-9]{1,3}(%s[0-9]{3})+([.,][0-9]+)?\Z" % re.escape(mark), text)
            if grouped:
                plain = text.replace(mark, "").replace(",", ".")
                decimal = " and with '.' as the decimal mark" if "," in text else ""
                return plain, "%s separates thousands: write numbers without thousands separators%s" % (
                    name, decimal), None
    if re.match(r"[0-9]+,[0-9]+\Z", text):
        return text.replace(",", "."), "use '.' as the decimal mark", None
    return None, "", None
