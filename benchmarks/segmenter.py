"""Garment segmenter benchmark: IoU on the validation photos and CPU speed.

    python benchmarks/segmenter.py --data ../shared/data/clothing-co-parsing

IoU: each shipped segmenter (U2-NetP and the pretrained-encoder U-Net, ``--segmenters``) on every
validation photo of Clothing Co-Parsing (split sha1(stem) % 100 < 15), predicted on the pipeline's
working copy and compared at the annotation's full resolution; intersections and unions summed over
the split. Speed: batches of 16 at each one's input size, plus U2-Net full width, images per second
and peak resident memory, each in its own process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def iou(data: Path, limit: int | None, name: str = "u2net") -> dict:
    from inference.evaluate.seg_metrics import IoUMeter
    from inference.imageio import load_image
    from inference.segment import get_segmenter
    from inference.train.common import split_of
    from inference.train.seg_data import label_lookup

    seg = get_segmenter(name)
    classes, _ = label_lookup(data)
    stems = [p.stem for p in sorted((data / "masks").glob("*.png")) if split_of(p.stem) == "val"][:limit]
    meter = IoUMeter()
    for stem in stems:
        truth = classes[np.asarray(Image.open(data / "masks" / f"{stem}.png"))]
        labels = seg.segment(load_image(data / "photos" / f"{stem}.jpg").rgb).labels
        full = np.asarray(Image.fromarray(labels).resize(truth.shape[::-1], Image.Resampling.NEAREST))
        meter.update(full, truth)
    return {"segmenter": name, "images": len(stems), **meter.summary(), "version": seg.version}


def speed(spec: str, batch: int, repeats: int) -> dict:
    """``spec``: a weights name (its card says the network) or ``u2net-full`` (U2-Net full width)."""
    import torch

    from inference.segment.u2net_segmenter import build_model
    from inference.weights import load_card

    torch.set_num_threads(max(1, torch.get_num_threads()))
    card = load_card("u2netp_garment" if spec == "u2net-full" else spec)
    h, w = card["input_size"]
    model = build_model({**card, "width": "full"} if spec == "u2net-full" else card).eval()
    parameters = sum(p.numel() for p in model.parameters())
    model = model.fuse_for_inference().to(memory_format=torch.channels_last)  # as the segmenter runs it
    x = torch.randn(batch, 3, h, w).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        for chunk in x.split(4):
            model(chunk)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            for chunk in x.split(4):  # the segmenter's CPU chunking
                model(chunk)
            times.append(time.perf_counter() - start)
    return {"model": spec, "input_size": [h, w], "batch": batch, "threads": torch.get_num_threads(),
            "images_per_second": round(batch / float(np.median(times)), 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "parameters": parameters}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT.parent / "shared/data/clothing-co-parsing"))
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--speed-only", action="store_true")
    p.add_argument("--segmenters", nargs="+", default=["u2net", "effunet"])
    p.add_argument("--_speed", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._speed:
        print(json.dumps(speed(args._speed, args.batch, args.repeats)))
        return
    from machine import describe

    result = {"machine": describe()}
    print(result["machine"], flush=True)
    result["iou"] = []
    for name in [] if args.speed_only else args.segmenters:
        result["iou"].append(iou(Path(args.data), args.limit, name))
        print(json.dumps(result["iou"][-1]), flush=True)
    result["speed"] = []
    weights = {"u2net": "u2netp_garment", "effunet": "effunet_garment"}
    for spec in [weights[n] for n in args.segmenters if n in weights] + ["u2net-full"]:
        out = subprocess.run([sys.executable, __file__, "--_speed", spec, "--batch", str(args.batch),
                              "--repeats", str(args.repeats)], capture_output=True, text=True, check=True)
        result["speed"].append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(result["speed"][-1]), flush=True)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
