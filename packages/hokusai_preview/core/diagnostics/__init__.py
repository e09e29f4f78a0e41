"""Data diagnostics: what may be wrong with a contribution before it is used.

Pure functions over pandas DataFrames (the contribution as hp-load normalised it, the bundle's
benchmark and base tables, the bundle's feature list), one module per check, each with its
rules and thresholds as constants, documented in the README ("Data diagnostics"), and the
builder of its message lines:

* :mod:`.matching`: rows matching benchmark rows (contamination) or repeating other rows
  (duplicates), exactly or nearly, counted against what chance gives;
* :mod:`.proximity`: rows closer to the benchmark than chance (altered benchmark rows);
* :mod:`.labels`: label noise and label conflict;
* :mod:`.shift`: drift of the features and the class balance against the benchmark;
* :mod:`.personal`: personal data (PII) in any column.

:mod:`.run` runs them: :func:`diagnose` checks a table in memory, and :func:`diagnose_parquet`,
which hp-check calls, the same in bounded memory over a Parquet file read in batches;
:func:`messages` turns the findings into short lines. :mod:`.common` holds what the checks share
(value normalisation, row hashing, rounding and percentages for messages). The names below are
the package's interface; each check's thresholds are constants of its module.
"""

from .labels import label_noise
from .matching import encode, exact_index, match_rows, near_earlier, near_match
from .personal import iban_valid, luhn_valid, mask, name_words, pii
from .proximity import closeness
from .run import (
    RULES_VERSION,
    SAMPLE_ROWS,
    SAMPLE_ROWS_TEXT,
    diagnose,
    diagnose_parquet,
    file_rows,
    messages,
    rules,
    sample_cap,
)
from .shift import drift

__all__ = ["RULES_VERSION", "SAMPLE_ROWS", "SAMPLE_ROWS_TEXT", "closeness", "diagnose", "diagnose_parquet", "drift",
           "encode", "exact_index", "file_rows", "iban_valid", "label_noise", "luhn_valid", "mask", "match_rows",
           "messages", "name_words", "near_earlier", "near_match", "pii", "rules", "sample_cap"]
