"""Reading contributed tables of any supported format as a stream of Arrow record batches.

Formats: CSV/TSV (any common delimiter, quoted fields, UTF-8 with or without BOM, UTF-16 with
BOM), JSON (an array of records or an object of columns), JSON Lines, Parquet; each may be
gzip-compressed. The format comes from the extension and is confirmed by sniffing the first
bytes, which win when the extension is missing or lies.

Large files are never held in memory whole: CSV, JSON Lines and Parquet are read in batches
(JSON documents must be parsed at once and are limited to :data:`MAX_JSON_BYTES`).
"""

import csv
import gzip
import json
import os
import re

from .errors import DataError

EXTENSIONS = {
    ".csv": "csv", ".tsv": "csv", ".tab": "csv", ".txt": "csv",
    ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".parquet": "parquet", ".pq": "parquet",
}
FORMATS = ("csv", "json", "jsonl", "parquet")
SNIFF_BYTES = 64 * 1024
CSV_BLOCK_BYTES = 4 << 20
PARQUET_BATCH_ROWS = 65536
MAX_JSON_BYTES = 512 << 20
GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"


def describe_format(path, forced=None):
    """(format, compressed) for ``path``: extension first, corrected by the content.

    Raises DataError for a file that is none of the supported formats.
    """
    name = os.path.basename(path).lower()
    compressed = name.endswith(".gz")
    if compressed:
        name = name[:-3]
    by_extension = EXTENSIONS.get(os.path.splitext(name)[1])
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if head[:2] == GZIP_MAGIC:
        compressed = True
        try:
            with gzip.open(path, "rb") as handle:
                head = handle.read(SNIFF_BYTES)
        except (OSError, EOFError) as exc:
            raise DataError("%s looks gzip-compressed but cannot be decompressed (%s)" % (path, exc),
                            "check the file is complete") from None
    elif compressed:
        compressed = False  # a .gz name on plain content: trust the content
    if forced:
        return forced, compressed
    sniffed = sniff(head)
    if sniffed is None:
        raise DataError("%s is not a table hokusai-preview can read (binary content that is not Parquet)" % path,
                        "give a CSV, JSON, JSON Lines or Parquet file")
    if by_extension == "jsonl" and sniffed == "json":
        return "jsonl", compressed  # a one-line JSON Lines file sniffs as a JSON document
    return sniffed, compressed


def sniff(head):
    """Guess the format of a file from its first bytes (decompressed); None if unknown."""
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if not head.strip():
        return "csv"  # empty: let the CSV reader report it
    text = _decode_head(head)
    if text is None:
        return None
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("["):
        return "json"
    if stripped.startswith("{"):
        lines = [line for line in stripped.splitlines() if line.strip()]
        if len(lines) > 1 and all(line.lstrip().startswith("{") for line in lines[:2]):
            try:
                json.loads(lines[0])
                return "jsonl"
            except ValueError:
                pass
        return "json"
    return "csv"


def _decode_head(head):
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="ignore")
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4:  # a multi-byte character cut by the sniff window
            return head[:exc.start].decode("utf-8")
        if b"\x00" in head[:4096]:
            return None  # binary
        return head.decode("latin-1")


def open_bytes(path, compressed):
    return gzip.open(path, "rb") if compressed else open(path, "rb")


def text_encoding(path, compressed):
    """'utf8' or 'utf16'; raises DataError for text in another encoding."""
    with open_bytes(path, compressed) as handle:
        head = handle.read(SNIFF_BYTES)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf16"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start <= len(head) - 4:
            raise DataError("%s is not UTF-8 text (invalid byte at offset %d)" % (path, exc.start),
                            "save the file as UTF-8 and try again") from None
    return "utf8"


def sniff_delimiter(path, compressed, encoding):
    with open_bytes(path, compressed) as handle:
        head = handle.read(SNIFF_BYTES)
    text = head.decode("utf-16" if encoding == "utf16" else "utf-8", errors="ignore").lstrip("\ufeff")
    lines = text.splitlines()[:50]
    if len(lines) > 1 and not text.endswith("\n"):
        lines = lines[:-1]  # the last line may be cut by the sniff window
    sample = "\n".join(lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        counts = {d: header.count(d) for d in ",;\t|"}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


class BatchReader:
    """Iterate a table file as Arrow record batches.

    Parameters
    ----------
    path : str
    fmt : str, optional
        Force a format (csv, json, jsonl, parquet); default: detected.
    """

    def __init__(self, path, fmt=None):
        self.path = path
        self.format, self.compressed = describe_format(path, fmt)
        self.delimiter = None
        self.encoding = None
        self.column_types = {}  # CSV columns whose inferred type proved too narrow

    def batches(self):
        """Yield ``pyarrow.RecordBatch`` objects; raises DataError for unreadable content.

        A CSV column whose type, inferred from the first block, fails on a later row gets a
        wider type (integer -> float -> string) and :class:`Restart` is raised: the caller
        discards what it accumulated and iterates :meth:`batches` again.
        """
        reader = getattr(self, "_batches_" + self.format)
        return reader()

    # --- CSV -------------------------------------------------------------------------------

    def csv_options(self, column_types):
        import pyarrow.csv as pacsv

        if self.encoding is None:
            self.encoding = text_encoding(self.path, self.compressed)
            self.delimiter = sniff_delimiter(self.path, self.compressed, self.encoding)
        read = pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES,
                                 encoding="utf16" if self.encoding == "utf16" else "utf8")
        parse = pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True)
        convert = pacsv.ConvertOptions(column_types=column_types, strings_can_be_null=True)
        return read, parse, convert

    def _batches_csv(self):
        import pyarrow as pa
        import pyarrow.csv as pacsv

        read, parse, convert = self.csv_options(self.column_types)
        names = []
        try:
            with open_bytes(self.path, self.compressed) as raw:
                stream = pacsv.open_csv(raw, read_options=read, parse_options=parse, convert_options=convert)
                names = stream.schema.names
                _check_names(self.path, names)
                yield from stream
        except pa.ArrowInvalid as exc:
            widened = _widen(str(exc), self.column_types, names)
            if widened is None:
                raise DataError(_csv_message(self.path, str(exc)),
                                "fix the file (every row needs the same columns) and try again") from None
            self.column_types = widened
            raise Restart() from None

    # --- JSON ------------------------------------------------------------------------------

    def _batches_json(self):
        import pandas as pd
        import pyarrow as pa

        size = os.path.getsize(self.path)
        if size > MAX_JSON_BYTES:
            raise DataError("%s is a %d MB JSON document, too large to parse at once" % (self.path, size >> 20),
                            "convert it to JSON Lines, CSV or Parquet, which are read in batches")
        try:
            with open_bytes(self.path, self.compressed) as handle:
                document = json.loads(handle.read().decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise DataError("%s is not UTF-8 text" % self.path, "save the file as UTF-8 and try again") from None
        except ValueError as exc:
            raise DataError("%s is not valid JSON (%s)" % (self.path, str(exc).split(":")[0]),
                            "check the file; JSON Lines files should be named .jsonl") from None
        if isinstance(document, list):
            if not all(isinstance(row, dict) for row in document):
                raise DataError("%s is a JSON array whose items are not all objects" % self.path,
                                "give an array of records like [{\"col\": 1, ...}, ...]")
            frame = pd.DataFrame.from_records(document)
        elif isinstance(document, dict) and document and all(
                isinstance(v, (list, dict)) for v in document.values()):
            lengths = {len(v) for v in document.values()}
            if len(lengths) != 1:
                raise DataError("%s is an object of columns of different lengths %s" % (
                    self.path, sorted(lengths)), "give every column the same number of values")
            frame = pd.DataFrame({k: list(v.values()) if isinstance(v, dict) else v for k, v in document.items()})
        else:
            raise DataError("%s is JSON but not a table (expected an array of records or an object of columns)"
                            % self.path, "give [{\"col\": 1, ...}, ...] or {\"col\": [1, ...], ...}")
        _check_names(self.path, [str(c) for c in frame.columns])
        for column in frame.columns:
            if frame[column].map(lambda v: isinstance(v, (dict, list))).any():
                raise DataError("%s: column %r holds nested values (lists or objects)" % (self.path, column),
                                "flatten it into plain values")
        try:
            table = pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataError("%s: %s" % (self.path, _first_line(exc)), "give each column one type of value") from None
        yield from table.to_batches(max_chunksize=PARQUET_BATCH_ROWS)

    def _batches_jsonl(self):
        import pyarrow as pa
        import pyarrow.json as pajson

        try:
            with open_bytes(self.path, self.compressed) as raw:
                if hasattr(pajson, "open_json"):
                    stream = pajson.open_json(raw, read_options=pajson.ReadOptions(block_size=CSV_BLOCK_BYTES))
                    _check_names(self.path, stream.schema.names)
                    yield from stream
                else:  # pyarrow < 19 has no streaming JSON reader
                    table = pajson.read_json(raw)
                    _check_names(self.path, table.schema.names)
                    yield from table.to_batches(max_chunksize=PARQUET_BATCH_ROWS)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            text = _first_line(exc)
            match = re.search(r"in row (\d+)", text)
            where = " at line %d" % (int(match.group(1)) + 1) if match else ""
            raise DataError("%s is not valid JSON Lines%s (%s)" % (self.path, where, text.split(" in row")[0]),
                            "every line must be one JSON object with the same kinds of values") from None

    # --- Parquet ---------------------------------------------------------------------------

    def _batches_parquet(self):
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            if self.compressed:
                with gzip.open(self.path, "rb") as handle:  # Parquet needs random access
                    source = pa.BufferReader(handle.read())
            else:
                source = self.path
            parquet = pq.ParquetFile(source)
            _check_names(self.path, parquet.schema_arrow.names)
            yield from parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS)
        except (pa.ArrowInvalid, pa.ArrowException, OSError, EOFError) as exc:
            raise DataError("%s is not a readable Parquet file (%s)" % (self.path, _first_line(exc)),
                            "check the file is complete (it may be truncated)") from None


class Restart(Exception):
    """Raised by :meth:`BatchReader.batches` when the stream must be read again from the start."""


def _widen(message, column_types, names):
    """Wider column types after a CSV conversion error, or None if it was not one."""
    import pyarrow as pa

    match = re.search(r"In CSV column #(\d+): CSV conversion error to (\w+): invalid value '(.*)'", message)
    if not match or not names:
        return None
    index, target, value = int(match.group(1)), match.group(2), match.group(3)
    if index >= len(names):
        return None
    name = names[index]
    widened = dict(column_types)
    if target.startswith(("int", "uint")) and _is_float(value):
        widened[name] = pa.float64()
    elif widened.get(name) == pa.string():
        return None
    else:
        widened[name] = pa.string()
    return widened


def _is_float(value):
    try:
        float(value)
        return True
    except ValueError:
        return False


def _check_names(path, names):
    seen = set()
    for name in names:
        if name in seen:
            raise DataError("%s has two columns named %r" % (path, name), "give every column a unique name")
        seen.add(name)
    if not names:
        raise DataError("%s has no columns" % path, "give a table with a header row")


def _csv_message(path, message):
    text = _first_line(message)
    if "Empty CSV file" in text or "Empty file" in text:
        return "%s is empty" % path
    match = re.search(r"Expected (\d+) columns, got (\d+)", text)
    if match:
        return "%s has a row with %s fields where the header has %s (ragged rows)" % (
            path, match.group(2), match.group(1))
    return "%s cannot be read as CSV (%s)" % (path, text)


def _first_line(exc):
    return " ".join(str(exc).strip().splitlines()[0].split()) if str(exc).strip() else type(exc).__name__


def spool_stdin(directory):
    """Copy stdin to a file in ``directory`` (so it can be hashed and sniffed); returns the path."""
    import sys
    import tempfile

    os.makedirs(directory, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix="stdin-", dir=directory)
    source = getattr(sys.stdin, "buffer", sys.stdin)
    with os.fdopen(fd, "wb") as out:
        while True:
            block = source.read(1 << 20)
            if not block:
                break
            out.write(block if isinstance(block, bytes) else block.encode("utf-8"))
    return path
