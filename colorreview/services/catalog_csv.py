"""Catalogue CSVs read as a stream: any size, UTF-8 with or without a BOM, UTF-16, cp1252.

A row that cannot be read (bad encoding, a NUL byte, too many fields, an oversized field) comes
back with its line number and the reason, and reading goes on with the next row.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from . import ServiceError

COLUMNS = ("sku", "title", "category", "image", "seller_color")
REQUIRED = ("sku", "image")
#: a field this long is reported as a bad row rather than held in memory
MAX_FIELD_CHARS = 16 * 1024 * 1024
_SNIFF_BYTES = 1 << 16
#: how the csv module (strict) says that a quoted field runs to the end of the file
_OPEN_QUOTE = "unexpected end of data"
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes kept by errors="surrogateescape"

csv.field_size_limit(MAX_FIELD_CHARS)



#: names a catalogue gives the seller's colour column other than ``seller_color`` (letters only, "colour"
#: as "color"); other colour columns (a colour family, a colour code) are attributes like any other
_SELLER_COLOR_NAMES = {"sellercolor", "sellercolors", "color", "colors", "basecolor", "productcolor", "colorname",
                       "colortag", "sellertag"}


def _seller_color_alike(name: str) -> bool:
    """Whether a header name is the seller's colour column misspelt (``seller_colour``, ``Seller Color``,
    ``colour``, ``baseColour``), not another colour attribute (``colour_family``, ``colorway``)."""
    letters = re.sub(r"[^a-z]", "", name.lower()).replace("colour", "color")
    return letters in _SELLER_COLOR_NAMES or bool(difflib.get_close_matches(letters, ["sellercolor"], cutoff=0.85))


class ImportFailed(ServiceError):
    """The catalogue file could not be read at all."""


@dataclass
class CsvRow:
    line: int  # line of the file where the row starts (the header is line 1)
    values: dict[str, str]
    problem: str = ""


def detect_encoding(head: bytes) -> str:
    """The encoding of a catalogue from its first bytes (BOMs first, then UTF-16 by its NULs)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    even, odd = head[0::2], head[1::2]
    if len(head) >= 4 and odd.count(0) > len(odd) // 2 and not even.count(0):
        return "utf-16-le"
    if len(head) >= 4 and even.count(0) > len(even) // 2 and not odd.count(0):
        return "utf-16-be"
    text = head.decode("utf-8", errors="surrogateescape")
    bad = len(_UNDECODABLE.findall(text[:-3]))  # a multi-byte character may be cut at the end
    wide = sum(ord(c) > 127 for c in text) - bad
    return "cp1252" if bad and not wide else "utf-8"


#: first bytes of files that are uploaded by mistake instead of a catalogue
_NOT_CSV = ((b"\xff\xd8\xff", "a JPEG image"), (b"\x89PNG", "a PNG image"), (b"GIF8", "a GIF image"),
            (b"RIFF", "a WebP image or other RIFF file"), (b"PK\x03\x04", "a ZIP archive (or an Excel workbook)"),
            (b"%PDF", "a PDF document"), (b"\x1f\x8b", "a gzip archive"),
            (b"\xd0\xcf\x11\xe0", "an old Excel or Word document"))


def printable(text: str) -> str:
    """``text`` with the bytes that could not be decoded shown as U+FFFD and NULs left out (safe to store
    in any database and to print)."""
    return _UNDECODABLE.sub("\ufffd", text).replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def not_csv(head: bytes) -> str | None:
    """What the file is instead of a CSV catalogue, from its first bytes; None when it may be text."""
    return next((kind for magic, kind in _NOT_CSV if head.startswith(magic)), None)


#: field separators a catalogue may use: commas, or semicolons (spreadsheets where the comma is the decimal
#: mark write those) or tabs
DELIMITERS = (",", ";", "\t")


def column_name(cell: str) -> str:
    """A header cell as a column name: without NULs or byte-order marks, trimmed, lower case."""
    return cell.replace("\x00", "").replace("\ufeff", "").strip().lower()


def sniff_delimiter(head: str) -> str:
    """The separator of the header line that names the required columns (a comma when none does)."""
    lines = head.splitlines()
    first = lines[0] if lines else ""
    for delimiter in DELIMITERS:
        try:
            names = {column_name(h) for h in next(csv.reader([first], delimiter=delimiter), [])}
        except csv.Error:
            continue
        if all(c in names for c in REQUIRED):
            return delimiter
    return ","


class _Taken:
    """The lines of a text stream, remembering those of the record being read."""

    def __init__(self, text):
        self._text, self.taken = text, []

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self._text)
        self.taken.append(line)
        return line


class CatalogReader:
    """Iterate over a catalogue's rows; ``bytes_read`` tells how far into the file it got."""

    def __init__(self, binary: BinaryIO):
        self._binary = binary
        head = binary.read(_SNIFF_BYTES)
        binary.seek(0)
        self.encoding = detect_encoding(head)
        kind = not_csv(head)
        if kind:
            raise ImportFailed(f"this file is not a CSV catalogue: it looks like {kind}. Upload the catalogue "
                               "as a CSV file (UTF-8 or Windows-1252), and the images in a ZIP beside it")
        self._text = io.TextIOWrapper(binary, encoding=self.encoding, errors="surrogateescape", newline="")
        # strict, so that a quote left open until the end of the file is an error rather than a silent merge
        # of every following row; a record that strict parsing refuses for another reason (text after a
        # closing quote, as in "Red" ,) is read again leniently, as spreadsheets write and read it
        self._lines = _Taken(self._text)
        self.delimiter = sniff_delimiter(head.decode(self.encoding, errors="replace"))
        self._reader = csv.reader(self._lines, strict=True, delimiter=self.delimiter)
        self.header = self._read_header()

    @property
    def bytes_read(self) -> int:
        return self._binary.tell()

    def _read_header(self) -> list[str]:
        try:
            header = [column_name(h) for h in next(self._reader, [])]
        except (csv.Error, UnicodeError) as exc:
            raise ImportFailed(f"the catalogue's header cannot be read: {exc}") from exc
        if not any(header):
            raise ImportFailed("the catalogue file is empty")
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise ImportFailed(f"the catalogue has no column {', '.join(missing)} "
                               f"(expected columns: {','.join(COLUMNS)}; found: {printable(','.join(header))[:300]})")
        twice = [c for c in dict.fromkeys(header) if c and header.count(c) > 1]
        if twice:
            where = "; ".join(f"{printable(c)[:60]} in columns "
                              f"{', '.join(str(i + 1) for i, h in enumerate(header) if h == c)}" for c in twice)
            raise ImportFailed(f"the catalogue's header names a column more than once ({where}): keep one, so "
                               "that it is clear which is meant; nothing was imported")
        if "seller_color" not in header:
            alike = [h for h in header if _seller_color_alike(h)]
            if alike:  # a misspelt tag column would import every product untagged, its tags kept as attributes
                raise ImportFailed(f"the catalogue has no column seller_color but has {printable(alike[0])[:60]}: "
                                   "name the seller's colour column seller_color (a catalogue without tags leaves "
                                   "it out); nothing was imported")
        return header

    def __iter__(self) -> Iterator[CsvRow]:
        while True:
            line = self._reader.line_num + 1
            self._lines.taken.clear()
            try:
                cells = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if _OPEN_QUOTE in str(exc):
                    yield CsvRow(line, {}, self._unreadable(line, exc))
                    continue
                try:
                    cells = next(csv.reader(list(self._lines.taken), delimiter=self.delimiter), [])
                except csv.Error as lenient:
                    yield CsvRow(line, {}, self._unreadable(line, lenient))
                    continue
            except UnicodeError as exc:
                yield CsvRow(line, {}, self._unreadable(line, exc))
                continue
            if any(c.strip() for c in cells):
                yield self._row(line, cells)

    def _unreadable(self, line: int, exc: Exception) -> str:
        if _OPEN_QUOTE in str(exc):
            return (f"a quote opened in this row is never closed, so lines {line}–{self._reader.line_num} "
                    "(the rest of the file) were read as one field and not imported; close the quote and "
                    "import the file again")
        return f"the row cannot be read ({exc})"

    def _row(self, line: int, cells: list[str]) -> CsvRow:
        values = dict(zip(self.header, cells))
        if len(cells) > len(self.header):
            return CsvRow(line, values, f"the row has {len(cells)} fields, the header {len(self.header)}")
        joined = "".join(cells)
        if "\x00" in joined:
            return CsvRow(line, values, "the row contains a NUL byte")
        if _UNDECODABLE.search(joined):
            return CsvRow(line, values, f"the row is not valid {self.encoding} text")
        return CsvRow(line, values)
