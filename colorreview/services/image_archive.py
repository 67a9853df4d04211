"""The ZIP of images uploaded beside a catalogue: checked at upload, unpacked member by member inside the
upload's folder, and its images found by the catalogue's ``image`` cells.

A cell names an image by its path inside the archive or, when nothing is there, by its file name: a ZIP made
by zipping a folder holds ``photos/a.jpg`` for a cell ``a.jpg``. A file name that no image has as written is
looked up in any case (``IMG_01.JPG`` for ``img_01.jpg``). Paths may use Windows separators. The
folders and files that macOS adds to the archives it makes (``__MACOSX/``, ``._name``) are never unpacked.
"""

from __future__ import annotations

import os
import posixpath
import zipfile
from pathlib import Path

from inference.errors import ImageError

from .catalog_csv import ImportFailed, not_csv

_COPY_CHUNK = 1 << 20
#: paths an ambiguous file name lists before counting the rest
_LISTED = 5
_EXPECTED = "the images must be uploaded as one ZIP archive (.zip) beside the CSV"


def archive_problem(upload) -> str | None:
    """Why an uploaded images file cannot be used as the image archive; None when it is a ZIP archive."""
    if zipfile.is_zipfile(upload):
        return None
    upload.seek(0)
    head = upload.read(16)
    name = getattr(upload, "name", "") or "the images file"
    if head.startswith(b"PK"):
        return f"{name} is a damaged or incomplete ZIP archive: {_EXPECTED}"
    kind = not_csv(head)
    return f"{name} is not a ZIP archive{f' (it looks like {kind})' if kind else ''}: {_EXPECTED}"


def member_path(name: str) -> str | None:
    """A member's path with ``/`` separators; None for what macOS adds (``__MACOSX/``, ``._`` resource forks)."""
    path = name.replace("\\", "/")
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] == "__MACOSX" or parts[-1].startswith("._"):
        return None
    return path


def extract_zip(archive_path: Path, into: Path, limit: int) -> None:
    """Stream each member to disk (never whole in memory), inside ``into`` only, at most ``limit`` bytes."""
    root = into.resolve()
    written = 0
    try:
        with zipfile.ZipFile(archive_path) as archive:
            for info in archive.infolist():
                path = member_path(info.filename)
                target = (root / path).resolve() if path else root
                if path is None or path.endswith("/") or target == root or not target.is_relative_to(root):
                    continue  # folders, macOS's extras, and paths that would escape the upload folder
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, open(target, "wb") as dst:
                    while chunk := src.read(_COPY_CHUNK):
                        written += len(chunk)
                        if written > limit:
                            raise ImportFailed(f"the image archive unpacks to more than {limit:,} bytes")
                        dst.write(chunk)
    except zipfile.BadZipFile as exc:
        raise ImportFailed(f"the image archive cannot be unpacked ({exc}): {_EXPECTED}") from exc


def _leaves(path: str) -> bool:
    """Whether a path written in a catalogue points outside the folder it is read from, as written."""
    norm = posixpath.normpath(path)
    return path.startswith("/") or norm == ".." or norm.startswith("../")


class ArchiveImages:
    """Finds the images of an upload in the folder its archive was unpacked to (``root``; None when no
    archive was uploaded). Every path it returns lies inside ``root``."""

    def __init__(self, root: Path | None):
        self.root = root.resolve() if root is not None else None
        self._by_name: dict[bool, dict[str, list[str]]] | None = None  # by file name, as written and in any case

    def find(self, value: str) -> Path:
        """The file an ``image`` cell names (which may not exist: the caller reports a missing file)."""
        written = value.replace("\\", "/")
        inside = (self.root / written).resolve() if self.root is not None else None
        if _leaves(written) or (inside is not None and not inside.is_relative_to(self.root)):
            raise ImageError(f"image path must be inside the uploaded archive: {value}")
        if inside is None:
            raise ImageError(f"image file not found: {value} (no image archive was uploaded; "
                             "upload the images in a ZIP beside the CSV)")
        if inside.is_file():
            return inside
        return self._by_file_name(written) or inside

    def _by_file_name(self, written: str) -> Path | None:
        """The one image with the cell's file name (else, when none has it, in another case: ``IMG_01.JPG`` for
        ``img_01.jpg``); of several, the one whose path ends with the cell's."""
        name = written.rstrip("/").rsplit("/", 1)[-1]
        paths, any_case = self._names().get(name, []), ""
        if not paths:
            paths, any_case = self._names(any_case=True).get(name.casefold(), []), " in any case"
        if len(paths) > 1:
            paths = _ending_with(paths, written)
        if len(paths) > 1:
            more = f" and {len(paths) - _LISTED} more" if len(paths) > _LISTED else ""
            raise ImageError(f"image file name {name} is ambiguous: the archive holds {len(paths)} files of that "
                             f"name{any_case} ({', '.join(paths[:_LISTED])}{more}); write the path inside the archive")
        return self.root / paths[0] if paths else None

    def _names(self, any_case: bool = False) -> dict[str, list[str]]:
        """The archive's image paths by file name, or by file name in any case."""
        if self._by_name is None:
            self._by_name = {False: {}, True: {}}
            for folder, _, files in os.walk(self.root):
                for file in files:
                    rel = (Path(folder) / file).relative_to(self.root).as_posix()
                    self._by_name[False].setdefault(file, []).append(rel)
                    self._by_name[True].setdefault(file.casefold(), []).append(rel)
            for paths in (*self._by_name[False].values(), *self._by_name[True].values()):
                paths.sort()
        return self._by_name[any_case]


def _ending_with(paths: list[str], written: str) -> list[str]:
    """The one path that ends with the cell's path (as written, else in any case); all of them when not one does."""
    for fold in (str, str.casefold):
        ending = [p for p in paths if fold("/" + p).endswith(fold("/" + written))]
        if len(ending) == 1:
            return ending
    return paths
