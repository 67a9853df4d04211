"""Command-line interface of the inference library."""

from __future__ import annotations

import argparse
import importlib
import sys

#: subcommand -> (module, help)
COMMANDS = {
    "predict": ("inference.commands.predict", "predict the colour of images into a CSV"),
    "segment": ("inference.commands.segment", "write one garment mask PNG per image"),
    "train-segmenter": ("inference.train.segmentation", "train U2-Net on Clothing Co-Parsing"),
    "train-classifier": ("inference.train.classification", "fine-tune the timm colour classifier"),
    "calibrate": ("inference.commands.calibrate", "fit temperature, fusion and thresholds on val"),
    "evaluate": ("inference.commands.evaluate", "evaluate predictions against a truth CSV"),
    "train-all": ("inference.train.all", "train every network in one run (sized for one GPU)"),
    "label-issues": ("inference.commands.label_issues", "confident learning: likely tag errors of a split"),
    "audit-flags": ("inference.commands.audit_flags", "flags the audit confirms: outside colours, shade families"),
    "outside-colours": ("inference.commands.audit_flags", "the same as audit-flags (its former name)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m inference", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module = importlib.import_module(args._module)
    from .errors import InferenceError

    try:
        result = module.run(args) if hasattr(module, "run") else module.train(args)
    except InferenceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return result if isinstance(result, int) else 0
