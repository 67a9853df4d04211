"""Helpers shared by the training loops: seeding, splits, devices, schedules, checkpoints."""

from __future__ import annotations

import hashlib
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def split_of(key: str, val_percent: int = 15) -> str:
    """Deterministic train/val split by the SHA-1 of an id (as the shared data does)."""
    return "val" if int(hashlib.sha1(str(key).encode()).hexdigest()[:8], 16) % 100 < val_percent else "train"


def pick_device(name: str | None = None) -> torch.device:
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def cosine_lr(step: int, total: int, base: float, warmup: int, floor: float = 0.01) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


class ModelEma:
    """Exponential moving average of a model's parameters and buffers."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        import copy

        self.decay = decay
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))
        pairs = [(e, v.detach()) for e, v in zip(self.module.state_dict().values(),
                                                 model.state_dict().values())]
        floats = [(e, v) for e, v in pairs if e.is_floating_point()]
        ema_f, model_f = [e for e, _ in floats], [v for _, v in floats]
        torch._foreach_mul_(ema_f, decay)
        torch._foreach_add_(ema_f, model_f, alpha=1 - decay)
        for e, v in pairs:
            if not e.is_floating_point():
                e.copy_(v)


def save_checkpoint(path: Path, **state) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def rng_state() -> dict:
    return {"python": random.getstate(), "numpy": np.random.get_state(),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def restore_rng(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class StepBudget:
    """Turns a wall-clock budget into a step count after timing the first steps."""

    def __init__(self, minutes: float | None, fixed_steps: int, probe_steps: int = 25) -> None:
        self.minutes = minutes
        self.total = fixed_steps
        self.probe_steps = probe_steps
        self._start: float | None = None

    def observe(self, step: int, reserve_fraction: float = 0.12) -> None:
        if not self.minutes:
            return
        if step == 5:
            self._start = time.perf_counter()
        elif step == 5 + self.probe_steps and self._start is not None:
            per_step = (time.perf_counter() - self._start) / self.probe_steps
            self.total = max(step + 1, int(self.minutes * 60 * (1 - reserve_fraction) / per_step))


def new_state() -> dict:
    return {"step": 0, "epoch": 0, "best": -1.0, "history": []}


def resume(out: Path, model, ema: ModelEma, optimizer, gen: torch.Generator, budget: StepBudget,
           minutes: float | None, device) -> dict:
    """Restore a run from ``out/last.pt``; a time-budgeted run keeps its planned step count."""
    ckpt = torch.load(out / "last.pt", map_location=device, weights_only=False)
    model.load_state_dict(ckpt["model"])
    ema.module.load_state_dict(ckpt["ema"])
    optimizer.load_state_dict(ckpt["optimizer"])
    if minutes:
        budget.total = ckpt["total_steps"]
    restore_rng(ckpt["rng"])
    gen.set_state(ckpt["gen"])
    state = ckpt["state"]
    print(f"resumed at epoch {state['epoch']} step {state['step']}", flush=True)
    return state


def checkpoint(out: Path, model, ema: ModelEma, optimizer, state: dict, budget: StepBudget,
               gen: torch.Generator, args, **extra) -> None:
    save_checkpoint(out / "last.pt", model=model.state_dict(), ema=ema.module.state_dict(),
                    optimizer=optimizer.state_dict(), state=state, total_steps=budget.total,
                    rng=rng_state(), gen=gen.get_state(), args=vars(args), **extra)
