"""Personal data (:func:`pii`).

E-mail addresses, phone numbers, card numbers (Luhn-valid), IBANs (mod-97-valid) and government
ids (US SSN, UK National Insurance number) in up to ``PII_SAMPLE`` values per column; an alarm
when at least ``PII_MIN_SHARE`` of a column's checked values hold one (card numbers: and
Luhn-valid more often among the card-like numbers than the ``LUHN_CHANCE`` of random digits,
p < ``PII_CARD_ALPHA``). Bare digits and numbers count as phone numbers or SSNs only in a column
whose name says so (``PII_NAMED``).
"""

import re

import numpy as np

from ..text import plural, thousands

PII_SAMPLE = 1000
PII_MIN_SHARE = 0.05
LUHN_CHANCE = 0.1  # random digits pass the Luhn check one time in ten
IBAN_CHANCE = 1 / 97  # and random IBAN-shaped codes the mod-97 check one time in 97
PII_CARD_ALPHA = 0.001

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


# --- messages --------------------------------------------------------------------------------


def pii_lines(findings, rn):
    """(warnings, notes) about columns of personal data."""
    warnings = []
    for f in findings["pii"]["columns"]:
        if f["flagged"]:
            warnings.append("personal data: column %r holds %s (in %s of %s checked, e.g. %s%s); the main "
                            "pipeline would hash or reject it" % (f["column"], PII_NAMES[f["kind"]],
                                                                 thousands(f["matches"]),
                                                                 plural(f["values_checked"], "value"), f["examples"][0],
                                                                 ", as its name says" if f.get("named") else ""))
    return warnings, []
