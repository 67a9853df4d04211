"""``python -m inference train-all``: every network in one run, weights + cards + figures in one folder.

The pretrained-encoder garment segmenter, then the paper's EfficientNet-B3 at 300 px on the new
segmenter's garment crops (timm ``efficientnet_b3`` from scratch: no ImageNet weights ship in a
package), an EfficientNet-Lite2 garment member and an EfficientNet-Lite0 whole-image member (both from
the packaged ImageNet weights), and finally ``calibrate`` over `val` with the audit. Sized for one GPU
in about nine minutes: on one H100, with budgets of 2.5, 2.5, 1.2 and 0.8 minutes, the four trainings
took 72, 229, 137 and 94 s (loading and crop caches included). B3 from scratch reached only 0.50 val
accuracy in its budget, against 0.68 for each pretrained member. ``--tiny`` runs the
same steps on a few images for a check on a CPU.

    python -m inference train-all --out var/train-all            # on a GPU
    python -m inference train-all --out /tmp/t --tiny --ccp DIR --catalogue DIR
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from ..weights import card_path

STEPS = ("segmenter", "b3", "lite2", "lite0", "calibrate")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="var/train-all", help="weights/, report/, logs and summary.json go here")
    p.add_argument("--ccp", default="../shared/data/clothing-co-parsing")
    p.add_argument("--catalogue", default="../shared/data/fashion-products")
    p.add_argument("--audit", default="benchmarks/golden/val_audit.csv")
    p.add_argument("--minutes", type=float, nargs=4, default=[1.5, 1.8, 1.2, 0.8],
                   metavar=("SEGMENTER", "B3", "LITE2", "LITE0"), help="wall-clock budget of each training")
    p.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    p.add_argument("--tiny", action="store_true", help="a few images, one epoch, small inputs: a CPU check")
    p.add_argument("--device", default=None)


def _segmenter_args(args, weights: Path) -> list[str]:
    common = ["--data", args.ccp, "--out", str(Path(args.out) / "segmenter"), "--export", str(weights),
              "--name", "effunet_garment", "--arch", "effunet_lite0", "--class-weights", "1", "1", "1", "1.5"]
    if args.tiny:
        return [*common, "--epochs", "1", "--batch-size", "4", "--input-size", "64", "48", "--load-size", "96", "64",
                "--train-encoder-from", "5"]
    return [*common, "--minutes", str(args.minutes[0]), "--batch-size", "32", "--lr", "0.002",
            "--train-encoder-from", "0"]


def _classifier_args(args, weights: Path, name: str, arch: str, view: str, size: int, minutes: float) -> list[str]:
    common = ["--data", args.catalogue, "--out", str(Path(args.out) / name), "--export", str(weights),
              "--name", name, "--arch", arch, "--view", view, "--segmenter", "effunet", "--weights-dir",
              str(weights), "--cache", str(Path(args.out) / f"crops-{view}-{size}.pt")]
    if arch == "efficientnet_b3" or args.tiny:  # a tiny check needs no ImageNet weights
        common += ["--pretrained", "none"]
    if args.tiny:
        return [*common, "--input-size", "64", "--epochs", "1", "--batch-size", "4", "--min-count", "1"]
    return [*common, "--input-size", str(size), "--minutes", str(minutes), "--batch-size", "64"]


def _link_ensemble(weights: Path) -> None:
    """The B3 card names the other two members, so that the classifier loads all three."""
    path = card_path("colornet", str(weights))
    card = json.loads(path.read_text())
    card["ensemble"] = [{"weights": "colornet_lite2", "view": "garment", "weight": 1.0},
                        {"weights": "colornet_image", "view": "image", "weight": 1.0}]
    path.write_text(json.dumps(card, indent=2) + "\n")


def run(args) -> int:
    from ..cli import main

    out = Path(args.out)
    weights = out / "weights"
    weights.mkdir(parents=True, exist_ok=True)
    device = ["--device", args.device] if args.device else []
    timings, started = {}, time.perf_counter()
    plan = {
        "segmenter": lambda: main(["train-segmenter", *_segmenter_args(args, weights), *device]),
        "b3": lambda: main(["train-classifier", *_classifier_args(args, weights, "colornet", "efficientnet_b3",
                                                                   "garment", 300, args.minutes[1]), *device]),
        "lite2": lambda: main(["train-classifier", *_classifier_args(args, weights, "colornet_lite2",
                                                                      "efficientnet_lite2", "garment", 224,
                                                                      args.minutes[2]), *device]),
        "lite0": lambda: main(["train-classifier", *_classifier_args(args, weights, "colornet_image",
                                                                      "efficientnet_lite0", "image", 224,
                                                                      args.minutes[3]), *device]),
        "calibrate": lambda: _calibrate(args, weights, out),
    }
    for step in args.steps:
        t0 = time.perf_counter()
        code = plan[step]()
        timings[step] = round(time.perf_counter() - t0, 1)
        if code:
            print(f"train-all: {step} failed ({code})")
            return code
        if step == "lite0" and card_path("colornet", str(weights)).is_file():
            _link_ensemble(weights)
    summary = {"seconds": timings, "total_seconds": round(time.perf_counter() - started, 1),
               "weights": sorted(p.name for p in weights.iterdir())}
    report = out / "report" / "report.json"
    if report.is_file():
        summary["calibration"] = json.loads(report.read_text())
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: summary[k] for k in ("seconds", "total_seconds", "weights")}))
    return 0


def _calibrate(args, weights: Path, out: Path) -> int:
    from ..cli import main

    shutil.copy(card_path("colornet", str(weights)), out / "colornet.uncalibrated.json")
    extra = ["--split", "train", "--limit", "16"] if args.tiny else []
    return main(["calibrate", "--data", args.catalogue, "--weights-dir", str(weights), "--segmenter", "effunet",
                 "--report", str(out / "report"), "--cache", str(out / "readings.npz"), "--audit", args.audit,
                 *extra])
