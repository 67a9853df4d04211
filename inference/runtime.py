"""ONNX Runtime for the classifier's networks on a CPU.

On this project's 2-core CPU, ONNX Runtime runs the classifier's EfficientNet-Lite members in about 60% of
the time of eager PyTorch, with the same outputs to ~1e-5. The garment segmenter stays on PyTorch: its
network alone is faster on ONNX Runtime too, but slower in the pipeline, beside the colour reading's threads.

Each network is exported once per weights version and kept in a cache folder (``COLORREVIEW_ONNX_CACHE``,
default ``~/.cache/colorreview/onnx``); where that folder cannot be written, the export is kept in memory
for the life of the process; a network that ONNX Runtime cannot take runs on PyTorch (with a warning).
``COLORREVIEW_CPU_RUNTIME=torch`` turns it off. A GPU always runs PyTorch.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from .errors import WeightsError

log = logging.getLogger(__name__)

RUNTIMES = ("onnx", "torch")
OPSET = 17
KEEP = 30  # exported networks kept in the cache (the most recently used); a retrain adds one per member


def cpu_runtime(requested: str | None = None) -> str:
    """The runtime asked for (argument, else ``COLORREVIEW_CPU_RUNTIME``, else ``onnx``), or ``torch`` when
    ONNX Runtime is not installed."""
    runtime = (requested or os.environ.get("COLORREVIEW_CPU_RUNTIME") or "onnx").strip().lower()
    if runtime not in RUNTIMES:
        raise WeightsError(f"unknown CPU runtime {runtime!r}; choose one of: {', '.join(RUNTIMES)}")
    if runtime == "onnx":
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            log.warning("onnxruntime is not installed; the networks run on PyTorch")
            return "torch"
    return runtime


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "colorreview" / "onnx"
    return Path(os.environ.get("COLORREVIEW_ONNX_CACHE") or default)


class OnnxNetwork:
    """A network's forward through an ONNX Runtime session: float32 N x 3 x H x W in, logits out."""

    def __init__(self, model_bytes_or_path: bytes | str, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        # the worker's decoding and colour reading share the cores: idle threads sleep instead of spinning
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(model_bytes_or_path, options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(x.detach().float().cpu().numpy())
        return torch.from_numpy(self.session.run(None, {self.input: array})[0])


def _export(model: torch.nn.Module, shape: tuple[int, int]) -> bytes:
    example = torch.zeros((2, 3, *shape))
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(model, (example,), buffer, input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, opset_version=OPSET, dynamo=False)
    return buffer.getvalue()


def cpu_forward(model: torch.nn.Module, version: str, shape: tuple[int, int]):
    """The ONNX Runtime network of ``model``, or ``model`` itself where exporting or loading it fails."""
    try:
        return onnx_network(model, version, shape)
    except Exception as exc:
        log.warning("%s cannot run on ONNX Runtime (%s: %s); it runs on PyTorch", version, type(exc).__name__, exc)
        return model


def onnx_network(model: torch.nn.Module, version: str, shape: tuple[int, int], threads: int | None = None,
                 directory: Path | None = None) -> OnnxNetwork:
    """``model`` (eval mode, on the CPU) as an ONNX Runtime network for inputs of ``shape`` (height, width),
    exported once per ``version`` and shape."""
    threads = threads or torch.get_num_threads()
    directory = directory or cache_dir()
    path = directory / (f"{version}-{shape[0]}x{shape[1]}-opset{OPSET}-"
                        f"torch{torch.__version__.split('+')[0]}.onnx")
    if path.is_file():
        try:
            network = OnnxNetwork(str(path), threads)
        except Exception as exc:  # a damaged cache file: export again
            log.warning("cached network %s is unreadable (%s); exporting it again", path, exc)
        else:
            with contextlib.suppress(OSError):  # a read-only cache is used as it is
                os.utime(path)  # used now: kept by the pruning
            return network
    data = _export(model, shape)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # written aside, then renamed: worker processes starting together never read a partial file
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
        _prune(directory)
    except OSError as exc:
        log.warning("cannot cache the exported network in %s (%s); keeping it in memory", directory, exc)
    return OnnxNetwork(data, threads)


def _prune(directory: Path, keep: int = KEEP) -> None:
    """Remove all but the ``keep`` most recently used networks of the cache."""
    networks = sorted(directory.glob("*.onnx"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in networks[keep:]:
        old.unlink(missing_ok=True)
