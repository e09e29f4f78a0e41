"""Reading contributed tables of any supported format as a stream of Arrow record batches.

Formats: CSV/TSV (``,`` ``;`` tab or ``|`` delimited, quoted fields, UTF-8 with or without BOM,
UTF-16 with BOM), JSON (an array of records, an object of columns, or records keyed by row
number or name as pandas' orient="index" writes them), JSON Lines, Parquet;
each may be gzip-compressed. The format comes from the extension and is confirmed by sniffing
the first bytes, which win when the extension is missing or lies.

Nothing is held in memory whole: CSV and Parquet are read in blocks by pyarrow, JSON Lines
and JSON arrays of records are parsed record by record into batches, and a gzipped Parquet
file is decompressed to a temporary file (Parquet needs random access). Only a JSON object of
columns must be parsed at once; it is limited to :data:`MAX_JSON_BYTES`.

A batch's column types may prove too narrow for a later batch (a CSV integer column that
holds ``1.5`` further down, a JSON field that turns from numbers to text). The reader then
records the wider type and raises :class:`Restart`; the caller discards what it accumulated
and reads again. Types only ever widen, so restarts are few and the result does not depend on
block sizes.

Every problem is a :class:`~hokusai_preview.core.errors.DataError` whose message starts with
the file's name as the user gave it.
"""

import codecs
import csv
import gzip
import io
import json
import os
import re
import zlib

from .errors import DataError, UsageError
from .records import limited_lines
from .text import shorten

EXTENSIONS = {
    ".csv": "csv", ".tsv": "csv", ".tab": "csv", ".txt": "csv", ".psv": "csv",
    ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".parquet": "parquet", ".pq": "parquet",
}
FORMATS = ("csv", "json", "jsonl", "parquet")
# --format values beside FORMATS: delimited text read as csv with this delimiter, not a sniffed one.
DELIMITED = {"tsv": "\t"}
FORMAT_CHOICES = FORMATS[:1] + tuple(DELIMITED) + FORMATS[1:]  # what --format takes: tsv beside csv
SNIFF_BYTES = 64 * 1024
# pyarrow's CSV reader reads a few blocks ahead: peak memory grows with the block size
# (measured on a 1 KB-per-row CSV: about 130 MB at 1 MB blocks, 260 MB at 4 MB), speed does not.
BLOCK_BYTES = 1 << 20
MAX_BLOCK_BYTES = 64 << 20  # blocks grow up to this for rows longer than a block
BATCH_ROWS = 65536
BATCH_BYTES = 8 << 20  # Parquet batches: rows per batch chosen to hold about this much data
MAX_RECORD_BYTES = 16 << 20  # one JSON record or line
MAX_JSON_BYTES = 128 << 20  # a JSON object of columns, parsed at once
MAX_RESTARTS = 64  # types only widen, so real files need a handful of reads at most
GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
# pandas.read_csv's default missing-value markers: the same cells are missing here, so the
# data hash and null counts match the main pipeline's (pyarrow's own list lacks two of them).
NULL_VALUES = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
               "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]
# Content that is clearly not a table, recognised by its first bytes, with what to do.
KNOWN_BINARY = [
    (rb"PK\x03\x04", "a ZIP archive (or an Excel .xlsx workbook)",
     "export the sheet as CSV, or unzip the archive and give the table inside"),
    (rb"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel (.xls) or other Office document",
     "export the sheet as CSV"),
    (rb"BZh[1-9]1AY&SY", "bzip2-compressed", "decompress it (bunzip2) or compress it with gzip instead"),
    (rb"\xfd7zXZ\x00", "xz-compressed", "decompress it (unxz) or compress it with gzip instead"),
    (rb"\x28\xb5\x2f\xfd", "zstd-compressed", "decompress it (unzstd) or compress it with gzip instead"),
    (rb"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract the table inside"),
    (rb"%PDF-", "a PDF document", "give the data as CSV, JSON, JSON Lines or Parquet"),
    (rb"SQLite format 3\x00", "an SQLite database", "export the table as CSV"),
    (rb"ARROW1\x00\x00", "an Arrow/Feather file", "write it as Parquet (pyarrow.parquet.write_table)"),
]


# What to do with text that is not UTF-8: most such files are Excel's "ANSI" CSV (Windows-1252), which
# decodes every printable latin1 character the same and also "€", "–" and curly quotes, which
# latin1 would turn into control characters.
ANSI_HINT = "save it as UTF-8 (e.g. iconv -f cp1252 -t utf-8 for Excel's \"ANSI\", Windows-1252) and try again"


class Restart(Exception):
    """Raised by :meth:`BatchReader.batches` when the stream must be read again from the start."""


def read_with_restarts(read, label):
    """``read()``, called again each time it raises :class:`Restart`; RuntimeError (a bug) when
    column types still change after :data:`MAX_RESTARTS` reads."""
    for _ in range(MAX_RESTARTS):
        try:
            return read()
        except Restart:
            continue  # a column needed a wider type: read again from the start
    raise RuntimeError("column types of %s kept changing after %d reads" % (label, MAX_RESTARTS))


def printable(name):
    """A file name as messages show it: control characters escaped (\\x1b, \\n), so that a name
    cannot drive the terminal or split a message over lines."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f]", lambda m: {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(
        m.group(), "\\x%02x" % ord(m.group())), name)


def bad(label, what, todo):
    """A DataError in the one-line form ``<file>: <what is wrong>; <what to do>``."""
    return DataError("%s: %s" % (label, what), todo)


# --- format detection ------------------------------------------------------------------------


def describe_format(path, forced=None, label=None):
    """(format, compressed, note) for ``path``: the extension, corrected by the content.

    ``note`` is None, or says that the content contradicted the name. Raises DataError for a
    file that is none of the supported formats.
    """
    label = label or path
    name = os.path.basename(path).lower()
    named_gz = name.endswith(".gz")
    if named_gz:
        name = name[:-3]
    by_extension = EXTENSIONS.get(os.path.splitext(name)[1])
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    compressed = head[:2] == GZIP_MAGIC
    if compressed:
        try:
            with gzip.open(path, "rb") as handle:
                head = handle.read(SNIFF_BYTES)
        except (OSError, EOFError, zlib.error) as exc:
            raise bad(label, "looks gzip-compressed but cannot be decompressed (%s)" % _first_line(exc),
                      "check the file is complete, or give it uncompressed") from None
    if len(head) < SNIFF_BYTES and not head.lstrip(codecs.BOM_UTF8).strip():
        raise bad(label, "is empty%s" % (" once decompressed" if compressed else " (only blank lines)" if head
                                         else ""), "give a file with a header row and data rows")
    if forced:
        parquet = head.startswith(PARQUET_MAGIC)
        if (forced == "parquet") != parquet:  # text read as Parquet or the reverse: certain to fail, and say less
            raise bad(label, "is %s by its content, not %s as --format says" % (
                "Parquet" if parquet else "text", _FORMAT_NAMES[forced]),
                "leave --format out (the format is detected) or give the right one")
        # Text that cannot open a JSON document ("a,b", not "[" or "{") would fail as JSON at line 1
        # and blame the file; the other way round a CSV header may look like JSON, so that is read.
        opening = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if forced in ("json", "jsonl") and not parquet and opening[:1] not in (
                b"[", b"{", b"") and not _json_scalar(head):
            raise bad(label, "is CSV by its content, not %s as --format says" % _FORMAT_NAMES[forced],
                      "leave --format out (the format is detected) or give the right one")
        # JSON records read as CSV fail on "ragged rows", and an array read as JSON Lines on line 1,
        # advice that fixes nothing. Only openings no CSV header or JSON Lines record has are
        # refused: --format is also how a CSV that merely looks like JSON is read as CSV.
        records = re.match(rb'(\[\s*)?\{\s*"', opening)
        if records and (forced == "csv" or forced == "jsonl" and records.group(1)):
            shown = "JSON" if records.group(1) or sniff(head, label) == "json" else "JSON Lines"
            raise bad(label, "is %s by its content, not %s as --format says" % (shown, _FORMAT_NAMES[forced]),
                      "leave --format out (the format is detected) or give the right one")
        return forced, compressed, None
    sniffed = sniff(head, label)
    if sniffed == "csv" and by_extension in ("json", "jsonl") and _json_scalar(head):
        sniffed = "json"  # a JSON scalar or string: read as JSON, which says it is not a table
    if by_extension == "jsonl" and sniffed == "json" and head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        sniffed = "jsonl"  # a one-line JSON Lines file sniffs as a JSON document
    note = None
    if by_extension and by_extension != sniffed and {by_extension, sniffed} != {"json", "jsonl"}:
        note = "the content is %s although the name says %s; read as %s" % (
            _FORMAT_NAMES[sniffed], _FORMAT_NAMES[by_extension], _FORMAT_NAMES[sniffed])
    elif named_gz and not compressed:
        note = "the name ends in .gz but the content is not compressed; read as is"
    return sniffed, compressed, note


_FORMAT_NAMES = {"csv": "CSV", "json": "JSON", "jsonl": "JSON Lines", "parquet": "Parquet"}
_NEXT_STAGE = {"load": "hp-check (or hp-sample)", "check": "hp-sample", "sample": "hp-train", "train": "hp-eval",
               "eval": "hp-delta", "delta": "hp-format"}


def _refuse_stage_record(text, label):
    """UsageError (exit 2, as every stage answers a record of the wrong stage) when ``text``
    opens with a record a stage wrote: read as data, it would be "a nested object" or "a single
    JSON object", which sends the user the wrong way."""
    from .records import RECORD_SECTIONS

    try:
        first = json.loads(text.split("\n", 1)[0])
    except (ValueError, RecursionError):
        return
    kind = first.get("record") if isinstance(first, dict) else None
    if kind in RECORD_SECTIONS and "key" in first and all(s in first for s in RECORD_SECTIONS[kind]):
        raise UsageError("%s is a %s record (written by hp-%s), not contributed data" % (label, kind, kind),
                         "give hp-load the data file, and the record to %s" % _NEXT_STAGE[kind])


def _json_scalar(head):
    """Whether ``head`` is a whole small file holding one JSON value: read as JSON, it says it is
    no table. A head of the full sniffing size is no whole file, and is not parsed."""
    if len(head) >= SNIFF_BYTES:
        return False
    try:
        json.loads(head.decode("utf-8-sig"))
        return True
    except (ValueError, RecursionError):
        return False


def sniff(head, label="the file"):
    """The format of a file from its first bytes (decompressed); raises DataError if not a table."""
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    for magic, what, todo in KNOWN_BINARY:
        if re.match(magic, head):
            raise bad(label, "is %s, not a table hokusai-preview reads" % what, todo)
    text = _decode_head(head, label)
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("version https://git-lfs.github.com/spec/"):
        raise bad(label, "is a Git LFS pointer, not the data it stands for",
                  "fetch the file itself (git lfs pull) and give that")
    if stripped[:15].lower().startswith(("<!doctype html", "<html")):
        raise bad(label, "is an HTML page, not a data table",
                  "download the raw file (CSV, JSON, JSON Lines or Parquet) instead of the web page")
    # JSON opens with [ or { and a value or a key: a CSV header can start "[run]," or "{id},".
    if re.match(r'\[\s*(?:[\[{"\]\d-]|true\b|false\b|null\b|$)', stripped):
        return "json"
    if re.match(r'\{\s*(?:["}]|$)', stripped):
        _refuse_stage_record(stripped, label)
        lines = [line for line in stripped.splitlines() if line.strip()]
        if len(lines) > 1 and all(line.lstrip().startswith("{") for line in lines[:2]):
            try:
                json.loads(lines[0])
                return "jsonl"
            except (ValueError, RecursionError):
                pass
        return "json"
    return "csv"


def _decode_head(head, label):
    """The first bytes as text; DataError for binary content or text that is not UTF-8/UTF-16."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise bad(label, "is UTF-32 text", "save it as UTF-8 and try again")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head[: len(head) // 2 * 2].decode("utf-16", errors="replace")
    window = head[:4096]
    if b"\x00" in window:
        # UTF-16 text of mostly ASCII has zeros in every other byte: in one half, not in both.
        if len(window) > 8 and (window[1::2].count(0) > len(window) // 3) != (window[0::2].count(0) > len(window) // 3):
            raise bad(label, "looks like UTF-16 text without a byte-order mark",
                      "save it as UTF-8 (or UTF-16 with a BOM) and try again")
        raise bad(label, "is binary content, not a table hokusai-preview reads",
                  "give a CSV, JSON, JSON Lines or Parquet file")
    return _utf8_or_fail(head, label, final=len(head) < SNIFF_BYTES)


def _utf8_or_fail(head, label, final=False):
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not final and exc.start > len(head) - 4 and exc.reason == "unexpected end of data":
            return head[: exc.start].decode("utf-8")  # a character cut by the sniff window
        line = head.count(b"\n", 0, exc.start) + 1
        raise bad(label, "is not UTF-8 text (byte 0x%s on line %d)" % (head[exc.start:exc.start + 1].hex(), line),
                  ANSI_HINT) from None


def open_bytes(path, compressed):
    return gzip.open(path, "rb") if compressed else open(path, "rb")


# --- the reader --------------------------------------------------------------------------------


class BatchReader:
    """Iterate a table file as Arrow record batches.

    Parameters
    ----------
    path : str
        The file to read.
    fmt : str, optional
        Force a format (csv, json, jsonl, parquet, or tsv: csv delimited by tabs); default:
        detected.
    label : str, optional
        How messages name the file (default ``path``; e.g. ``<stdin>`` for a spooled stdin).
    expected : collection of str, optional
        Column names the table should hold (the bundle's label and features): a JSON object of
        objects is read as records keyed by row (pandas' orient="index") when these are its
        inner keys and not its outer ones, whatever its row keys are.
    block_bytes, batch_rows : int, optional
        Size of a CSV/JSON Lines block, and the most rows in a batch of the other formats
        (Parquet batches also stop at about 8 MB); tests use small values to exercise many
        batches.
    """

    def __init__(self, path, fmt=None, label=None, block_bytes=BLOCK_BYTES, batch_rows=BATCH_ROWS, expected=()):
        self.path = path
        self.label = label or path
        self.expected = set(expected)
        self.block_bytes = block_bytes
        self.batch_rows = batch_rows
        self.delimiter = DELIMITED.get(fmt)  # None: sniffed when the text is first read
        self.delimiter_given = self.delimiter  # by --format (tsv), not sniffed
        self.format, self.compressed, self.note = describe_format(path, "csv" if self.delimiter else fmt, self.label)
        self.encoding = None
        self.column_types = {}  # CSV, Parquet: column -> wider Arrow type learnt from a later batch
        self.columns = []  # JSON: every field seen so far, in order of first appearance
        self.json_kinds = {}  # JSON: field -> kind of value (see _join)
        self.header = None  # CSV: the column names, once an empty one was named as pandas names it
        # CSV: pyarrow reads "0x1A" in an integer column as 26, where pandas keeps the text. Once
        # the bytes hold "0x" anywhere, integer columns are read as text and converted here.
        self.ints_as_text = False
        self.saw_hex = False
        self.skip_rows = 0  # CSV: 1 after Excel's "sep=;" line, which names the delimiter

    def batches(self):
        """Yield ``pyarrow.RecordBatch`` objects; raises DataError for unreadable content and
        :class:`Restart` when a column needs a wider type than earlier batches had."""
        import pyarrow as pa

        reader = getattr(self, "_batches_" + self.format)
        try:
            yield from reader()
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise bad(self.label, "is truncated or corrupt (%s)" % _first_line(exc),
                      "check the file is complete (download or copy it again)") from None
        except pa.ArrowInvalid as exc:
            raise bad(self.label, "cannot be read (%s)" % _first_line(exc),
                      "check the file is complete and in a supported format") from None
        except UnicodeDecodeError as exc:  # pyarrow's UTF-16 transcoding: a cut or broken file
            raise bad(self.label, "is not valid %s text (%s)" % (exc.encoding.upper(), exc.reason),
                      "check the file is complete, or save it as UTF-8") from None

    def widen(self, name, arrow_type):
        """Read again with column ``name`` as ``arrow_type`` (raises :class:`Restart`)."""
        import pyarrow as pa

        if self.format in ("json", "jsonl"):
            self.json_kinds[name] = "float" if pa.types.is_floating(arrow_type) else "string"
        else:
            self.column_types[name] = arrow_type
        raise Restart()

    # --- CSV -------------------------------------------------------------------------------

    def csv_options(self):
        import pyarrow as pa
        import pyarrow.csv as pacsv

        if self.encoding is None:
            self.encoding = self.text_encoding()
            self.delimiter = self.delimiter or self.sniff_delimiter()
        # With names given, the header is skipped as a parsed row (it may hold quoted newlines).
        read = pacsv.ReadOptions(block_size=self.block_bytes, encoding=self.encoding, column_names=self.header,
                                 skip_rows=self.skip_rows, skip_rows_after_names=1 if self.header else 0)
        parse = pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True)
        types = self.column_types
        if self.ints_as_text:
            types = {name: pa.string() if pa.types.is_integer(t) else t for name, t in types.items()}
        convert = pacsv.ConvertOptions(column_types=types, strings_can_be_null=True,
                                       null_values=NULL_VALUES, quoted_strings_can_be_null=True)
        return read, parse, convert

    def text_encoding(self):
        """'utf8' or 'utf16' (with a BOM); raises DataError for text in another encoding."""
        with open_bytes(self.path, self.compressed) as handle:
            head = handle.read(SNIFF_BYTES)
            final = len(head) < SNIFF_BYTES
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf16"
        _utf8_or_fail(head, self.label, final)
        return "utf8"

    def sniff_delimiter(self):
        with open_bytes(self.path, self.compressed) as handle:
            head = handle.read(SNIFF_BYTES)
        codec = "utf-16" if self.encoding == "utf16" else "utf-8"
        text = head[: len(head) // 2 * 2 if codec == "utf-16" else len(head)].decode(codec, errors="ignore")
        text = text.lstrip("\ufeff")
        lines = text.splitlines()[:50]
        if len(lines) > 1 and len(head) == SNIFF_BYTES:
            lines = lines[:-1]  # the last line may be cut by the sniff window
        excel = re.match(r"sep=(.)\Z", lines[0]) if lines else None
        if excel:  # Excel's line naming the delimiter, above the header
            self.skip_rows = 1
            return excel.group(1)
        return guess_delimiter(lines)

    def _batches_csv(self):
        import pyarrow as pa
        import pyarrow.csv as pacsv

        read, parse, convert = self.csv_options()
        names = []
        try:
            with open_bytes(self.path, self.compressed) as raw:
                raw = raw if self.ints_as_text else _HexWatch(raw, self)
                stream = pacsv.open_csv(raw, read_options=read, parse_options=parse, convert_options=convert)
                # Closed before the file it reads: its read-ahead thread must not outlive the file,
                # whatever ends the reading (an error, or a reader that stops early).
                try:
                    names = stream.schema.names
                    if "" in names:
                        # pandas (the main pipeline's reader) names an empty header cell "Unnamed: <i>",
                        # as in the index column DataFrame.to_csv writes; the data hash needs the same names.
                        self.header = unnamed_columns(names)
                        raise Restart()
                    check_names(self.label, names)
                    for field in stream.schema:  # pyarrow types text that is not UTF-8 as binary
                        if pa.types.is_binary(field.type):
                            raise bad(self.label, "is not UTF-8 text (in column %r)" % field.name,
                                      ANSI_HINT)
                    # pandas keeps dates and times as text; so must we, for the same data hash.
                    odd = {f.name: pa.string() for f in stream.schema if _needs_text(f.type)}
                    if odd:
                        self.column_types.update(odd)
                        raise Restart()
                    if self.ints_as_text:  # integers inferred from the first block: read as text from now
                        found = {f.name: f.type for f in stream.schema
                                 if pa.types.is_integer(f.type) and f.name not in self.column_types}
                        if found:
                            self.column_types.update(found)
                            raise Restart()
                    empty = True
                    for batch in stream:
                        empty = False
                        self._check_hex(stream.schema)
                        yield self._ints_from_text(batch) if self.ints_as_text else batch
                    self._check_hex(stream.schema)
                    if empty:  # a header without rows: the columns still need checking
                        yield pa.RecordBatch.from_pylist([], schema=stream.schema)
                finally:
                    stream.close()
        except pa.ArrowInvalid as exc:
            message = str(exc)
            widened = _widen(message, self.column_types, names)
            if widened is not None:
                self.column_types = widened
                raise Restart() from None
            if "straddl" in message and self.block_bytes < MAX_BLOCK_BYTES:
                self.block_bytes *= 4  # a row longer than a block: read again in bigger blocks
                raise Restart() from None
            raise self._csv_error(message, names) from None

    def _text_lines(self):
        codec = "utf-16" if self.encoding == "utf16" else "utf-8-sig"
        raw = open_bytes(self.path, self.compressed)
        return io.TextIOWrapper(raw, encoding=codec, errors="replace", newline="")

    def _first_text_line(self):
        with self._text_lines() as text:
            return text.readline(1000).rstrip("\r\n")

    def _line_of(self, row, limit=64 << 20):
        """The number of the first line of the file that is ``row`` (a ragged row as pyarrow quotes it),
        looked for in the first ``limit`` characters; None if not found there."""
        wanted = row.rstrip("\r\n")
        if "\n" in wanted or "\r" in wanted:
            return None
        seen = 0
        with self._text_lines() as text:
            for number, line in enumerate(text, 1):
                if line.rstrip("\r\n") == wanted:
                    return number
                seen += len(line)
                if seen > limit:
                    return None
        return None

    def _check_hex(self, schema):
        """Restart with integer columns read as text once "0x" was seen in the bytes read so far
        (pyarrow reads ahead: a block is read before its batch comes out)."""
        import pyarrow as pa

        if self.saw_hex and not self.ints_as_text and any(pa.types.is_integer(f.type) for f in schema):
            self.ints_as_text = True
            raise Restart()

    def _ints_from_text(self, batch):
        """``batch`` with the integer columns (read as text) converted as pyarrow's CSV reader
        converts them, except that hexadecimal text ("0x1A") stays text, as pandas reads it."""
        import pyarrow as pa
        import pyarrow.compute as pc

        arrays = []
        for name, array in zip(batch.schema.names, batch.columns):
            wanted = self.column_types.get(name)
            if wanted is not None and pa.types.is_integer(wanted) and pa.types.is_string(array.type):
                trimmed = pc.utf8_trim(array, characters=" \t")  # as the CSV reader trims numbers
                if pc.any(pc.match_substring_regex(trimmed, r"^[+-]?0[xX]")).as_py():
                    self.widen(name, pa.string())
                try:
                    array = pc.cast(trimmed, wanted)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    try:
                        pc.cast(trimmed, pa.float64())
                        self.widen(name, pa.float64())
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                        self.widen(name, pa.string())
            arrays.append(array)
        return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)

    def _csv_error(self, message, names):
        text = _first_line(message)
        if "Empty CSV file" in text:
            if self._first_text_line().strip():  # one line and no line break after it: pyarrow sees no header
                return bad(self.label, "has a header but no data rows", "give at least one row of data")
            return bad(self.label, "is empty", "give a file with a header row and data rows")
        ragged = re.search(r"Expected (\d+) columns, got (\d+): (.*)", message, re.S)
        if ragged:
            row = ragged.group(3)
            hint = "give every row the same number of fields (quote values that contain the delimiter %r)" % (
                self.delimiter)
            if "\n" in row.strip():
                hint = "close the quote this row opens: an unclosed quote swallows the lines after it"
            first = self._first_text_line()
            if ragged.group(1) == "1" and first.lstrip().startswith(("#", "//", "--")):
                hint = "its first line (%s) was taken as the header and looks like a comment: remove the lines " \
                       "above the header" % shorten(first)
            elif re.match(r"sep=", first):
                hint = "its first line (%s) was taken as the header and looks like Excel's delimiter line: " \
                       "remove it, or give --format" % shorten(first)
            line = self._line_of(row)
            fields = int(ragged.group(2))
            if ragged.group(1) == "1" and fields > 2 and "looks like" not in hint and first.strip():
                # a one-field first line, then rows of many: a title above the table ("Credit export Q1")
                hint = "its first line (%s) was taken as the header and looks like a title line: remove the " \
                       "lines above the real header" % shorten(first)
            if not row.strip():
                hint = "remove that line, which holds only spaces or tabs"
            return bad(self.label, "has a row with %d field%s where the header has %s (%s%s)" % (
                fields, "" if fields == 1 else "s", ragged.group(1), "line %d: " % line if line else "",
                repr(row.strip("\r\n")) if not row.strip() else shorten(row, 60)), hint)
        if "invalid UTF8" in text:
            column = re.search(r"column #(\d+)", text)
            where = " (in column %r)" % names[int(column.group(1))] if column and int(column.group(1)) < len(
                names) else ""
            return bad(self.label, "is not UTF-8 text%s" % where,
                       ANSI_HINT)
        if "straddl" in text:
            return bad(self.label, "has a row longer than %d MB" % (self.block_bytes >> 20 or 1),
                       "check its quotes are balanced; cells are limited to 100 KB")
        return bad(self.label, "cannot be read as CSV (%s)" % text, "check the file is a well-formed CSV")

    # --- JSON and JSON Lines ---------------------------------------------------------------

    def _refuse_utf16(self):
        """DataError for JSON in UTF-16 (JSON text is UTF-8; CSV may be UTF-16 with a BOM)."""
        with open_bytes(self.path, self.compressed) as raw:
            if raw.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                raise bad(self.label, "is UTF-16 text, and JSON is read as UTF-8",
                          "save it as UTF-8 (e.g. iconv -f utf-16 -t utf-8) and try again")

    def _batches_json(self):
        self._refuse_utf16()
        with open_bytes(self.path, self.compressed) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict")
            try:
                first, skipped = _skip_space(text)
                if first == "[":
                    yield from self._from_records(_json_array(text, self.label, first_line=1 + skipped))
                    return
                document = first + self._read_document(text)
            except UnicodeDecodeError:
                raise bad(self.label, "is not UTF-8 text", "save it as UTF-8 and try again") from None
        try:
            value = json.loads(document, object_pairs_hook=_unique_keys)
        except _DuplicateKey as exc:
            raise bad(self.label, "has two fields named %r in one object" % exc.args[0],
                      "give every field a unique name") from None
        except (ValueError, RecursionError) as exc:
            line = " at line %d" % (exc.lineno + skipped) if getattr(exc, "lineno", None) else ""
            raise bad(self.label, "is not valid JSON%s (%s)" % (line, _json_reason(exc)),
                      "check the file; JSON Lines files should be named .jsonl") from None
        if isinstance(value, dict) and "data" in value and set(value) <= {"columns", "data", "index", "schema"} \
                and ("columns" in value or "schema" in value):  # pandas' other layouts of a table
            raise bad(self.label, "is pandas' orient=%r JSON, not records or columns" % (
                "split" if "columns" in value else "table"), "write it with DataFrame.to_json(orient='records')")
        wrapped = _records_key(value)
        if wrapped is not None:  # an API's answer: {"data": [{...}, ...], "count": 2}
            path = ".%s" % wrapped if re.match(r"[A-Za-z_][A-Za-z0-9_]*\Z", wrapped) else ".[%s]" % json.dumps(wrapped)
            raise bad(self.label, "holds its records under %r" % wrapped,
                      "give the array itself (e.g. jq '%s')" % path.replace("'", "'\\''"))
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()) \
                and self._names_inside(value):
            # pandas' orient="index": records keyed by row ({"0": {"col": 1, ...}, ...}), told
            # from an object of columns keyed by row by which side the names are on.
            rows = (("record %s" % key, row, 0) for key, row in value.items())
            yield from self._from_records(rows)
            return
        if isinstance(value, dict) and value and all(isinstance(v, (list, dict)) for v in value.values()):
            yield from self._from_columns(value)
            return
        if isinstance(value, dict):
            raise bad(self.label, "is a single JSON object, not a table",
                      "give an array of records [{\"col\": 1, ...}, ...] or an object of columns "
                      "{\"col\": [1, ...], ...}; one record per line is JSON Lines (.jsonl)")
        raise bad(self.label, "is JSON but not a table (a %s)" % _json_kind(value),
                  "give an array of records [{\"col\": 1, ...}, ...] or an object of columns {\"col\": [1, ...]}")

    def _names_inside(self, document):
        """Whether an object of objects holds the column names in its inner keys: those that
        name expected columns when the outer ones do not, or else row numbers outside and
        names inside."""
        inner = {str(k) for row in document.values() for k in row}
        outer = {str(k) for k in document}
        if self.expected & inner and not self.expected & outer:
            return True
        if self.expected & outer:
            return False
        return all(k.isdigit() for k in outer) and not all(k.isdigit() for k in inner)

    def _read_document(self, text):
        chunks, size = [], 0
        while True:
            chunk = text.read(1 << 20)
            if not chunk:
                return "".join(chunks)
            size += len(chunk)
            if size > MAX_JSON_BYTES:
                raise bad(self.label, "is a JSON object of columns over %d MB, which must be parsed at once"
                          % (MAX_JSON_BYTES >> 20),
                          "give an array of records or JSON Lines, which are read record by record")
            chunks.append(chunk)

    def _from_columns(self, document):
        lengths = {len(v) for v in document.values()}
        if len(lengths) != 1:
            raise bad(self.label, "is an object of columns of different lengths (%s)" % ", ".join(
                str(n) for n in sorted(lengths)), "give every column the same number of values")
        # Columns written as {row key: value} are matched by row key, as pandas matches them, in
        # the first such column's order.
        keys = next((list(v) for v in document.values() if isinstance(v, dict)), None)
        columns = {}
        for name, values in document.items():
            if isinstance(values, dict):
                if values.keys() != set(keys):
                    raise bad(self.label, "is an object of columns whose row keys differ (column %r)" % str(name),
                              "give every column the same row keys, or each column as a list")
                values = [values[key] for key in keys]
            columns[str(name)] = values
        names = list(columns)
        rows = (dict(zip(names, values)) for values in zip(*columns.values()))
        yield from self._from_records(("record %d" % n, row, 0) for n, row in enumerate(rows, 1))

    def _batches_jsonl(self):
        self._refuse_utf16()

        def records():
            with open_bytes(self.path, self.compressed) as raw:
                for number, line in enumerate(_limited_lines(raw, self.label), 1):
                    if number == 1:
                        line = line.lstrip(codecs.BOM_UTF8)
                    if not line.strip():
                        continue
                    where = "line %d" % number
                    try:
                        row = json.loads(line, object_pairs_hook=_unique_keys)
                    except _DuplicateKey as exc:
                        raise bad(self.label, "has two fields named %r on %s" % (exc.args[0], where),
                                  "give every field a unique name") from None
                    except UnicodeDecodeError as exc:
                        raise bad(self.label, "is not UTF-8 text (byte 0x%s on %s)" % (
                            line[exc.start:exc.start + 1].hex(), where),
                            ANSI_HINT) from None
                    except (ValueError, RecursionError) as exc:
                        raise bad(self.label, "%s is not valid JSON (%s)" % (where, _json_reason(exc)),
                                  "every line must be one JSON object; fix or remove that line") from None
                    yield where, row, len(line)

        yield from self._from_records(records())

    def _from_records(self, records):
        """Batches from (where, dict, bytes of JSON) triples, with columns and types fixed across batches.

        A batch ends at :attr:`batch_rows` rows or about :data:`BATCH_BYTES` of JSON, whichever
        comes first: wide records take many times their JSON size as Python objects.
        """
        builder = _RecordBatcher(self)
        size = 0
        for where, row, length in records:
            if not isinstance(row, dict):
                raise bad(self.label, "%s is a JSON %s, not an object" % (where, _json_kind(row)),
                          "give one object {\"col\": value, ...} per record")
            builder.add(where, row)
            size += length
            if builder.rows >= self.batch_rows or size >= BATCH_BYTES:
                yield builder.flush()
                size = 0
        if builder.rows:
            yield builder.flush()
        elif not builder.emitted:
            raise bad(self.label, "holds no records", "give at least one record with the label and features")

    # --- Parquet ---------------------------------------------------------------------------

    def _batches_parquet(self):
        import shutil
        import tempfile

        import pyarrow as pa

        spool = None
        try:
            if self.compressed:
                # Parquet needs random access: decompress to a temporary file, not to memory.
                spool = tempfile.TemporaryFile(prefix="hp-parquet-")
                with gzip.open(self.path, "rb") as handle:
                    shutil.copyfileobj(handle, spool, 1 << 20)
                spool.seek(0)
            try:
                parquet = open_parquet(spool if spool is not None else self.path)
            except (pa.ArrowException, OSError) as exc:
                raise bad(self.label, "is not a readable Parquet file (%s)" % _first_line(exc),
                          "check the file is complete (it may be truncated)") from None
            schema = parquet.schema_arrow
            check_names(self.label, schema.names)
            index = pandas_index_columns(schema)
            if index:
                schema = pa.schema([field for field in schema if field.name not in index])
            columns = schema.names if index else None
            # Without pandas' metadata: to_pandas() would make a named index of it (pyarrow < 18).
            schema = schema.remove_metadata()
            casts = {f.name: _plain_type(f.type) for f in schema if _plain_type(f.type) != f.type}
            casts.update(self.column_types)
            try:
                empty = True
                for batch in parquet_batches(parquet, columns=columns, max_rows=self.batch_rows):
                    empty = False
                    batch = pa.RecordBatch.from_arrays(batch.columns, schema=schema)
                    yield cast_batch(batch, casts) if casts else batch
                if empty:
                    yield cast_batch(pa.RecordBatch.from_pylist([], schema=schema), casts)
            except (pa.ArrowException, OSError) as exc:
                raise bad(self.label, "is not a readable Parquet file (%s)" % _first_line(exc),
                          "check the file is complete (it may be truncated)") from None
        finally:
            if spool is not None:
                spool.close()


def open_parquet(source):
    """A ``pyarrow.parquet.ParquetFile`` that reads column chunks as it goes (not the whole file ahead)."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(source, pre_buffer=False, buffer_size=1 << 20)


class ParquetSink:
    """A ``pyarrow.parquet.ParquetWriter`` that encodes and compresses each table in a thread
    while the caller reads and checks the next one (Arrow releases the GIL while it writes): on a
    1 GB contribution the write is about a quarter of hp-load's time. At most one table is in
    flight, so memory stays bounded; a failed write raises at the next call or at :meth:`close`.
    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path, schema, **options):
        from concurrent.futures import ThreadPoolExecutor

        import pyarrow.parquet as pq

        self._writer = pq.ParquetWriter(path, schema, **options)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="parquet-sink")
        self._pending = None

    def write(self, table_or_batch):
        self._wait()
        self._pending = self._pool.submit(self._writer.write, table_or_batch)

    def _wait(self):
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self):
        try:
            self._wait()
        finally:
            self._pool.shutdown(wait=True)
            self._writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def pandas_index_columns(schema):
    """Names of the columns pandas wrote for an unnamed, non-default index (``__index_level_0__``).

    They number the rows of the DataFrame the file was written from, not data: pandas reads
    them back as the index, and the main pipeline's row hash (JSON records) leaves them out.
    A named index is kept as a column: its name says it may be data (``query_id``, say).
    """
    try:  # metadata another writer damaged is ignored, as pandas would fail on it
        index = (schema.pandas_metadata or {}).get("index_columns", [])
    except (ValueError, UnicodeDecodeError, AttributeError, TypeError):
        return set()
    if not isinstance(index, list):
        return set()
    return {name for name in index if isinstance(name, str) and re.match(r"__index_level_\d+__\Z", name)}


def parquet_batches(parquet, columns=None, max_rows=BATCH_ROWS, target_bytes=BATCH_BYTES):
    """Record batches of ``columns`` (default all) of a ParquetFile, at most ``max_rows`` rows and
    otherwise about ``target_bytes`` each (at least 256 rows): sized by the bytes of the table
    (its share for ``columns``), since a free-text column can outweigh the others a hundred times."""
    meta = parquet.metadata
    # Row groups' sizes, not their column chunks': pyarrow aborts the process (a C++ exception
    # it does not catch) on some damaged column-chunk metadata, where reading raises OSError.
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if columns is not None and meta.num_columns:
        size = size * len(columns) / meta.num_columns
    rows = int(min(max_rows, max(256, target_bytes * meta.num_rows / max(size, 1))))
    return parquet.iter_batches(batch_size=max(rows, 1), columns=columns)


def take_rows(batch, rows, start):
    """The rows of ``batch``, whose first row is row ``start`` of its table, that ``rows`` (sorted
    row numbers of the table) names, as a batch; None when it holds none of them."""
    import numpy as np
    import pyarrow as pa

    lo, hi = np.searchsorted(rows, [start, start + batch.num_rows])
    if hi <= lo:
        return None
    wanted = np.ascontiguousarray(rows[lo:hi] - start, dtype=np.int64)  # as Arrow int64 without a copy
    return batch.take(pa.Array.from_buffers(pa.int64(), len(wanted), [None, pa.py_buffer(wanted)]))


def cast_batch(batch, types):
    """``batch`` with the named columns cast to the given Arrow types."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arrays = []
    for name, array in zip(batch.schema.names, batch.columns):
        wanted = types.get(name)
        if wanted is not None and array.type != wanted:
            array = pa.nulls(len(array), wanted) if pa.types.is_null(array.type) else pc.cast(array, wanted)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _plain_type(arrow_type):
    """The type a column is read as: dictionaries decoded, large/view strings as plain strings."""
    import pyarrow as pa

    if pa.types.is_dictionary(arrow_type):
        return _plain_type(arrow_type.value_type)
    if pa.types.is_large_string(arrow_type) or getattr(pa.types, "is_string_view", lambda t: False)(arrow_type):
        return pa.string()
    if pa.types.is_large_binary(arrow_type):
        return pa.binary()
    return arrow_type


def _needs_text(arrow_type):
    import pyarrow as pa

    return pa.types.is_temporal(arrow_type) or pa.types.is_decimal(arrow_type)


# --- JSON helpers ------------------------------------------------------------------------------


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs):
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


def _json_reason(exc):
    """What a JSONDecodeError says, without its position (given separately)."""
    if isinstance(exc, RecursionError):  # json's decoder recurses once per level of nesting
        return "nested too deeply"
    text = getattr(exc, "msg", None) or str(exc).split(":")[0]
    text = text.replace(" starting at", "").replace(": line", "")
    return text[:1].lower() + text[1:]


def _records_key(value):
    """The key of a JSON object under which its records are (the one array of objects, beside no
    other array: {"data": [{...}, ...], "total": 2}), else None."""
    if not isinstance(value, dict):
        return None
    arrays = [key for key, v in value.items() if isinstance(v, list)]
    if len(arrays) != 1:
        return None
    items = value[arrays[0]]
    return arrays[0] if items and all(isinstance(item, dict) for item in items) else None


def _json_kind(value):
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number" if isinstance(value, (int, float)) else type(value).__name__)


def _skip_space(text):
    """(the first non-space character of a text stream ('' at the end), the newlines before it)."""
    newlines = 0
    while True:
        char = text.read(1)
        if not char or not char.isspace():
            return char, newlines
        newlines += char == "\n"


def _limited_lines(raw, label):
    """Lines of a JSON Lines data file, each at most MAX_RECORD_BYTES."""
    return limited_lines(raw, MAX_RECORD_BYTES, lambda number: bad(
        label, "line %d is longer than %d MB" % (number, MAX_RECORD_BYTES >> 20),
        "give one record per line; cells are limited to 100 KB"))


def _json_array(text, label, first_line=1):
    """(where, value, characters) for each item of a JSON array whose '[' was just read, one by one."""
    decoder = json.JSONDecoder(object_pairs_hook=_unique_keys)
    buffer, position, line_base, eof, number = "", 0, first_line, False, 0

    def refill():
        nonlocal buffer, position, line_base, eof
        line_base += buffer.count("\n", 0, position)
        buffer = buffer[position:]
        position = 0
        chunk = text.read(1 << 20)
        eof = not chunk
        buffer += chunk
        return not eof

    def skip():
        nonlocal position
        while True:
            while position < len(buffer) and buffer[position].isspace():
                position += 1
            if position < len(buffer) or not refill():
                return buffer[position] if position < len(buffer) else ""

    def error(what):
        line = line_base + buffer.count("\n", 0, position)
        return bad(label, "is not valid JSON at line %d (%s)" % (line, what),
                   "check the file; JSON Lines files should be named .jsonl")

    expect_item = True
    while True:
        char = skip()
        if char == "]" and (number == 0 or not expect_item):
            position += 1
            if skip():
                raise error("extra data after the array")
            return
        if not expect_item:
            if char != ",":
                raise error("expected ',' or ']'" if char else "unexpected end of file")
            position += 1
            expect_item = True
            continue
        if not char:
            raise error("unexpected end of file")
        while True:
            try:
                value, end = decoder.raw_decode(buffer, position)
                break
            except _DuplicateKey as exc:
                raise bad(label, "has two fields named %r in record %d" % (exc.args[0], number + 1),
                          "give every field a unique name") from None
            except RecursionError:
                raise error("nested too deeply") from None
            except ValueError as exc:
                if len(buffer) - position > MAX_RECORD_BYTES:
                    raise bad(label, "has a record larger than %d MB" % (MAX_RECORD_BYTES >> 20),
                              "cells are limited to 100 KB") from None
                if eof or not refill():
                    raise error(_json_reason(exc)) from None
        length, position = end - position, end
        number += 1
        expect_item = False
        yield "record %d" % number, value, length


# A JSON column's kind is the join of its values' kinds: null < int < float < string and
# null < bool < string; it only ever widens.


def _join(a, b):
    if a == b or b == "null":
        return a
    if a == "null":
        return b
    if {a, b} == {"int", "float"}:
        return "float"
    return "string"


def _kind(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if -(1 << 63) <= value < (1 << 63) else "float"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "nested"


class _RecordBatcher:
    """Collects JSON records column by column and builds Arrow batches of stable types."""

    def __init__(self, reader):
        self.reader = reader
        self.values = {name: [] for name in reader.columns}
        self.kinds = {}
        self.rows = 0
        self.emitted = False
        self.wheres = []  # where each row of the batch comes from, for messages

    def add(self, where, row):
        for name, value in row.items():
            if name not in self.values:
                if self.emitted:  # a field first seen after a batch went out: read again with it
                    self.reader.columns.append(name)
                    raise Restart()
                self.reader.columns.append(name)
                self.values[name] = [None] * self.rows
            kind = _kind(value)
            if kind == "float" and value != value:
                row[name], kind = None, "null"  # NaN (which Python's json accepts) is a missing value
            if kind == "nested":
                raise bad(self.reader.label, "field %r of %s holds a nested %s" % (
                    name, where, "array" if isinstance(value, list) else "object"),
                    "flatten nested values into plain columns")
            self.kinds[name] = _join(self.kinds.get(name, "null"), kind)
        for name, column in self.values.items():
            column.append(row.get(name))
        self.wheres.append(where)
        self.rows += 1

    def flush(self):
        import pyarrow as pa

        types = self.reader.json_kinds
        widened = False
        arrays = []
        for name in self.reader.columns:
            values = self.values.get(name) or [None] * self.rows
            kind = self.kinds.get(name, "null")
            known = types.get(name, "null")
            kind = _join(known, kind)
            # Earlier batches hashed their values as they were typed then: a wider type now
            # means reading again, except after only nulls (written the same whatever the type).
            if kind != known and known != "null" and self.emitted:
                widened = True
            types[name] = kind
            try:
                arrays.append(_arrow_column(values, kind))
            except UnicodeEncodeError:
                raise self._surrogate(name, values) from None
        if widened:
            raise Restart()
        self.values = {name: [] for name in self.reader.columns}
        self.kinds = {}
        self.rows = 0
        self.emitted = True
        self.wheres = []
        check_names(self.reader.label, self.reader.columns)
        for name in self.reader.columns:
            if not _is_utf8(name):
                raise _surrogate_error(self.reader.label, "a field name (%r)" % name)
        return pa.RecordBatch.from_arrays(arrays, names=list(self.reader.columns))

    def _surrogate(self, name, values):
        """The DataError for a value of column ``name`` holding a lone surrogate ("\\ud800")."""
        for where, value in zip(self.wheres, values):
            if isinstance(value, str) and not _is_utf8(value):
                return _surrogate_error(self.reader.label, "field %r of %s" % (name, where))
        return _surrogate_error(self.reader.label, "field %r" % name)


def _is_utf8(text):
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _surrogate_error(label, where):
    return bad(label, "%s holds a lone surrogate escape (\\ud800 to \\udfff), half of a character, which is "
                      "not text" % where,
               "fix or remove the broken character (it is often an emoji cut in two) and write the file again")


def _arrow_column(values, kind):
    import pyarrow as pa

    if kind == "null":
        return pa.nulls(len(values), pa.null())
    if kind == "bool":
        return pa.array(values, pa.bool_())
    if kind == "int":
        return pa.array(values, pa.int64())
    if kind == "float":
        return pa.array([None if v is None else _as_float(v) for v in values], pa.float64())
    return pa.array([None if v is None else _as_text(v) for v in values], pa.string())


def _as_float(value):
    """float(value), with an integer too large for a float as an infinity, as a CSV reader reads it
    (hp-load then says which row has it)."""
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def _as_text(value):
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


# --- CSV helpers -------------------------------------------------------------------------------


def guess_delimiter(lines):
    """The delimiter of CSV ``lines``: one of , ; tab | (default ,)."""
    sample = "\n".join(lines)
    candidates = ",;\t|"
    try:
        found = csv.Sniffer().sniff(sample, delimiters=candidates).delimiter
    except csv.Error:
        found = None
    header = lines[0] if lines else ""
    counts = {d: _count_outside_quotes(header, d) for d in candidates}
    best = max(candidates, key=lambda d: counts[d])
    # The sniffer can be fooled (e.g. ';' files with decimal commas); a delimiter the header
    # does not contain cannot be right.
    if found and counts.get(found):
        return found
    return best if counts[best] else ","


def _count_outside_quotes(line, delimiter):
    count, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            count += 1
    return count


class _HexWatch:
    """A binary file whose reads note, in ``reader.saw_hex``, whether "0x" or "0X" passed (also
    in UTF-16); a byte is kept across reads so a pair cut in two is seen too."""

    NEEDLES = (b"0x", b"0X", b"0\x00x", b"0\x00X")

    def __init__(self, raw, reader):
        self.raw = raw
        self.reader = reader
        self.tail = b""

    def read(self, size=-1):
        data = self.raw.read(size)
        if data and not self.reader.saw_hex:
            edge = self.tail + data[:3]
            if any(n in edge or n in data for n in self.NEEDLES):
                self.reader.saw_hex = True
            self.tail = data[-3:]
        return data

    def __getattr__(self, name):
        return getattr(self.raw, name)


def _widen(message, column_types, names):
    """Wider column types after a CSV conversion error, or None if it was not one."""
    import pyarrow as pa

    match = re.search(r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to (\w+): invalid value '(.*)'",
                      message, re.S)  # a quoted value may hold newlines
    if not match or not names:
        return None
    index, target, value = int(match.group(1)), match.group(2), match.group(3)
    if index >= len(names):
        return None
    name = names[index]
    widened = dict(column_types)
    if target == "null":
        # A column empty for a whole block was typed null: its first value gets the type it would
        # have had in that block, so numbers stay numbers (as pandas reads the whole column).
        widened[name] = _inferred_csv_type(value)
    elif target.startswith(("int", "uint")) and is_float(value):
        widened[name] = pa.float64()
    elif widened.get(name) == pa.string():
        return None
    else:
        widened[name] = pa.string()
    return widened


def _inferred_csv_type(value):
    """The type pyarrow's CSV reader, set up as the reader's, infers for a column holding only ``value``;
    string for what the reader keeps as text (dates, decimals) or cannot type."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    cell = b'v\n"' + value.replace('"', '""').encode("utf-8", "replace") + b'"\n'
    try:
        inferred = pacsv.read_csv(io.BytesIO(cell), parse_options=pacsv.ParseOptions(newlines_in_values=True),
                                  convert_options=pacsv.ConvertOptions(
                                      strings_can_be_null=True, null_values=NULL_VALUES,
                                      quoted_strings_can_be_null=True)).schema[0].type
    except pa.ArrowInvalid:
        return pa.string()
    if pa.types.is_null(inferred) or pa.types.is_binary(inferred) or _needs_text(inferred):
        return pa.string()  # null would fail the same way again
    return inferred


def is_float(value):
    """Whether ``value`` (a text) reads as a number ('3', '0.25', 'nan')."""
    try:
        float(value)
        return True
    except ValueError:
        return False


def unnamed_columns(names):
    """``names`` with each empty one named as pandas.read_csv names it: "Unnamed: <i>", or
    "Unnamed: <i>.<k>" (the smallest k free) when that is taken, as in a CSV written by
    DataFrame.to_csv twice (",Unnamed: 0,label,..."); the given names keep theirs."""
    taken = set(names)
    named = []
    for i, name in enumerate(names):
        if not name:
            base = name = "Unnamed: %d" % i
            k = 0
            while name in taken:
                k += 1
                name = "%s.%d" % (base, k)
            taken.add(name)
        named.append(name)
    return named


def check_names(label, names):
    """DataError for a table without columns or with two columns of the same name."""
    if not names:
        raise bad(label, "has no columns", "give a table with a header row")
    seen = set()
    for name in names:
        if name in seen:
            raise bad(label, "has two columns named %r" % name, "give every column a unique name")
        seen.add(name)


def _first_line(exc):
    text = str(exc).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(exc).__name__


# --- sources that are not regular files -------------------------------------------------------


def spool_stream(source, directory, label="<stdin>"):
    """Copy a binary stream to a new file in ``directory`` (so it can be hashed and sniffed).

    Its first bytes (decompressed, when gzip) are sniffed before the rest is copied: an endless
    stream of binary data (``< /dev/zero``, also gzipped) or of blank space (``yes ''``) is
    refused at once rather than copied until the disk is full."""
    import tempfile

    os.makedirs(directory, exist_ok=True)
    # The process id in the name tells hp-cache whether the copy's owner still runs.
    fd, path = tempfile.mkstemp(prefix="stdin-%d-" % os.getpid(), dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            head = b""  # a pipe gives what it holds: gather the sniffing window first
            while True:
                block = source.read(1 << 20)
                block = block if isinstance(block, bytes) else block.encode("utf-8")
                if head is not None:
                    head += block
                    window = _content_start(head)
                    if block and len(window) < SNIFF_BYTES:
                        continue
                    if window.strip():
                        sniff(window, label)
                    elif block:  # a whole window of blank space, and more coming
                        raise bad(label, "starts with %d KB of nothing but blank space" % (SNIFF_BYTES >> 10),
                                  "give a table with a header row and data rows")
                    block, head = head, None
                if not block:
                    break
                out.write(block)
    except BaseException:
        os.unlink(path)
        raise
    return path


def refuse_early(path, label):
    """DataError at once when the first bytes of the file at ``path`` (decompressed, when gzip)
    are no table (binary, an archive, an HTML page...): hashing a huge file first would take long."""
    with open(path, "rb") as handle:
        window = _content_start(handle.read(SNIFF_BYTES))
    if window.strip():
        sniff(window, label)


def _content_start(head):
    """Up to SNIFF_BYTES of the content that ``head`` (a stream's first bytes) begins: itself, or
    what it decompresses to when it is gzip (empty while it cannot tell, e.g. a damaged header,
    which the reader reports)."""
    if head[:2] != GZIP_MAGIC:
        return head[:SNIFF_BYTES]
    import zlib

    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, SNIFF_BYTES)
    except zlib.error:
        return b""


def spool_stdin(directory):
    """Copy stdin to a file in ``directory``; returns the path."""
    import sys

    if sys.stdin is None:  # started with stdin closed (<&-)
        raise bad("<stdin>", "is closed", "pipe the data in or name a file")
    if sys.stdin.isatty():  # nobody types a table: waiting for one would look like a hang
        raise UsageError("--data-path - reads the data on stdin, but stdin is a terminal",
                         "pipe the data in (e.g. zcat data.csv.gz | ... --data-path -) or name a file")
    return spool_stream(getattr(sys.stdin, "buffer", sys.stdin), directory)


def check_readable(path, stdin=True):
    """'file' for a regular file, 'stream' for a pipe; DataError for anything unreadable.

    ``stdin``: whether the command reads ``-`` as stdin (its hints offer it only then)."""
    import stat

    name = printable(path)  # as messages show it
    if not path:
        raise DataError("the data path is empty", "name the data file%s" % (" (or - to read stdin)" if stdin else ""))
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise DataError("%s: does not exist" % name,
                        "check the path (use - to read stdin)" if stdin else "check the path") from None
    except OSError as exc:
        raise DataError("%s: cannot be opened (%s)" % (name, exc.strerror or exc), "check the path") from None
    if stat.S_ISDIR(mode):
        raise DataError("%s: is a directory" % name, "give a data file (CSV, JSON, JSON Lines or Parquet)")
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        raise DataError("%s: is a device or socket, not a file" % name,
                        "give a data file, or - to read stdin" if stdin else "give a data file")
    if stat.S_ISFIFO(mode):
        return "stream"  # opening a pipe waits for its writer: it is opened once, to be copied
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise DataError("%s: cannot be read (%s)" % (name, exc.strerror or exc),
                        "fix its permissions (chmod +r) or copy it somewhere readable") from None
    if os.path.getsize(path) == 0:
        raise DataError("%s: is empty" % name, "give a file with a header row and data rows")
    return "file"
