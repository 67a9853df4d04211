"""The catalogue's colour vocabulary: names, reference colours, families and aliases."""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


#: minus signs are not dashes to Unicode (category Sm) but are typed as ones
_MINUS_SIGNS = frozenset("\u2212\u2796")


def _plain(c: str) -> str:
    """One character of a decomposed name as a key has it: a mark or an invisible format character (a
    zero-width space, a soft hyphen, a byte-order mark) is dropped; any dash, space, ``_`` or ``/`` separates."""
    if unicodedata.combining(c) or unicodedata.category(c) == "Cf":
        return ""
    if c.isspace() or c in "_/" or c in _MINUS_SIGNS or unicodedata.category(c) == "Pd":
        return " "
    return c


def normalise(text: str) -> str:
    """Case-, accent-, space-, dash- and underscore-insensitive key for a colour name (``Crème`` is ``creme``,
    ``Off–White`` with an en dash or a no-break space is ``off white``; full-width and other compatibility
    forms are read as their plain letters)."""
    plain = "".join(_plain(c) for c in unicodedata.normalize("NFKD", text))
    return re.sub(r" +", " ", plain.casefold()).strip()


@dataclass(frozen=True)
class ColorEntry:
    name: str
    hex: str
    family: str
    kd: bool = True  # may the KD-tree name a pixel colour with it (not textures/metals)
    aliases: tuple[str, ...] = ()


@dataclass
class ColorVocabulary:
    """Lookup of catalogue colour names; ``match`` maps free text onto an entry."""

    entries: tuple[ColorEntry, ...]
    _index: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        index: dict[str, str] = {}
        for entry in self.entries:
            index.setdefault(normalise(entry.name), entry.name)
            index.setdefault(normalise(entry.name).replace(" ", ""), entry.name)
        for entry in self.entries:
            for alias in entry.aliases:
                index.setdefault(normalise(alias), entry.name)
        self._index = index
        self._by_name = {e.name: e for e in self.entries}

    @classmethod
    def from_rows(cls, rows: list[dict]) -> ColorVocabulary:
        """Build from dicts with keys name, hex, family and optional kd, aliases."""
        entries = []
        for row in rows:
            aliases = row.get("aliases") or ()
            if isinstance(aliases, str):
                aliases = tuple(a.strip() for a in aliases.split("|") if a.strip())
            kd = row.get("kd", True)
            kd = kd if isinstance(kd, bool) else str(kd).strip() not in ("0", "false", "")
            entries.append(ColorEntry(row["name"].strip(), row["hex"].strip().lower(),
                                      row["family"].strip(), kd, tuple(aliases)))
        return cls(tuple(entries))

    @classmethod
    def from_csv(cls, path: str | Path) -> ColorVocabulary:
        with open(path, newline="", encoding="utf-8") as fh:
            return cls.from_rows(list(csv.DictReader(fh)))

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.entries]

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def get(self, name: str) -> ColorEntry:
        return self._by_name[name]

    def match(self, text: str | None) -> str | None:
        """Canonical vocabulary name for ``text`` (case- and accent-insensitive, aliases), else None."""
        if not text or not text.strip():
            return None
        key = normalise(text)
        return self._index.get(key) or self._index.get(key.replace(" ", ""))

    def family(self, name: str | None) -> str | None:
        entry = self._by_name.get(name or "")
        return entry.family if entry else None

    def families(self) -> list[str]:
        return sorted({e.family for e in self.entries})


@lru_cache(maxsize=1)
def default_vocabulary() -> ColorVocabulary:
    """The shipped vocabulary, seeded from the catalogue's ``baseColour`` values."""
    return ColorVocabulary.from_csv(DATA_DIR / "vocabulary.csv")
