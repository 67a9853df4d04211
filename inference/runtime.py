"""ONNX Runtime for the classifier's networks on a CPU.

On this project's 2-core CPU, ONNX Runtime runs the classifier's EfficientNet-Lite members in about 60% of
the time of eager PyTorch, with the same outputs to ~1e-5. The garment segmenter stays on PyTorch: its
network alone is faster on ONNX Runtime too, but slower in the pipeline, beside the colour reading's threads.

Each network is exported once per weights version and kept in a cache folder (``COLORREVIEW_ONNX_CACHE``,
default ``~/.cache/colorreview/onnx``); where that folder cannot be written, the export is kept in memory
for the life of the process. Every session, cached or new, is checked against the PyTorch network on a
fixed input before use (a stale or damaged file is exported again); a network that ONNX Runtime cannot
take, or that disagrees, runs on PyTorch (with a warning).
``COLORREVIEW_CPU_RUNTIME=torch`` turns it off. A GPU always runs PyTorch.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from .errors import WeightsError

log = logging.getLogger(__name__)

RUNTIMES = ("onnx", "torch")
OPSET = 17
KEEP = 30  # exported networks kept in the cache (the most recently used); a retrain adds one per member
TOLERANCE = 1e-3  # largest difference of logits from the PyTorch network's on the check input
# what a failed export raises (the exporter's errors are RuntimeErrors; onnxruntime's own are added by
# ``failures``); anything else (a task's time limit, say) is no reason to give up ONNX Runtime for good
EXPORT_ERRORS = (RuntimeError, ValueError, TypeError, OSError, ImportError, AssertionError)


@functools.cache
def failures() -> tuple[type[Exception], ...]:
    """What a failed export, session or check raises: ``EXPORT_ERRORS`` and onnxruntime's exception types."""
    try:
        from onnxruntime.capi import onnxruntime_pybind11_state as state
    except ImportError:
        return EXPORT_ERRORS
    own = tuple(v for v in vars(state).values() if isinstance(v, type) and issubclass(v, Exception))
    return EXPORT_ERRORS + own


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
    if os.environ.get("COLORREVIEW_ONNX_CACHE"):
        return Path(os.environ["COLORREVIEW_ONNX_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "colorreview" / "onnx"


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
        # the TorchScript exporter's deprecation notice; its tracer warnings stay visible
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(model, (example,), buffer, input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, opset_version=OPSET, dynamo=False)
    return buffer.getvalue()


def _agrees(network: OnnxNetwork, model: torch.nn.Module, shape: tuple[int, int]) -> float:
    """The largest difference between the session's and the model's logits on a fixed input of 3 rows."""
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(3, 3, *shape)).astype(np.float32))
    with torch.inference_mode():
        expected = model(x).float()
    return float((network(x) - expected).abs().max())


def cpu_forward(model: torch.nn.Module, version: str, shape: tuple[int, int]):
    """The ONNX Runtime network of ``model``, or ``model`` itself where exporting or checking it fails."""
    try:
        return onnx_network(model, version, shape)
    except failures() as exc:
        log.warning("%s cannot run on ONNX Runtime (%s: %s); it runs on PyTorch", version, type(exc).__name__, exc)
        return model


def cache_name(version: str, shape: tuple[int, int]) -> str:
    """The cache file of a network: its weights version, input shape, and the exporter's versions."""
    import timm

    return (f"{version}-{shape[0]}x{shape[1]}-opset{OPSET}-torch{torch.__version__.split('+')[0]}-"
            f"timm{timm.__version__}.onnx")


def onnx_network(model: torch.nn.Module, version: str, shape: tuple[int, int], threads: int | None = None,
                 directory: Path | None = None) -> OnnxNetwork:
    """``model`` (eval mode, on the CPU) as an ONNX Runtime network for inputs of ``shape`` (height, width),
    exported once per ``version`` and shape, and checked against ``model`` before use."""
    threads = threads or torch.get_num_threads()
    directory = directory or cache_dir()
    path = directory / cache_name(version, shape)
    if path.is_file():
        try:
            network = OnnxNetwork(str(path), threads)
            difference = _agrees(network, model, shape)
        except failures() as exc:
            log.warning("cached network %s is unreadable (%s); exporting it again", path, exc)
        else:
            if difference <= TOLERANCE:
                with contextlib.suppress(OSError):  # a read-only cache is used as it is
                    os.utime(path)  # used now: kept by the pruning
                return network
            log.warning("cached network %s differs from its weights by %.2g; exporting it again", path, difference)
    data = _export(model, shape)
    network = OnnxNetwork(data, threads)
    difference = _agrees(network, model, shape)
    if difference > TOLERANCE:
        raise RuntimeError(f"the exported network differs from PyTorch by {difference:.2g}")
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
    except OSError as exc:
        log.warning("cannot cache the exported network in %s (%s); keeping it in memory", directory, exc)
    else:
        _prune(directory)
    return network


def _prune(directory: Path, keep: int = KEEP, stale_parts: float = 3600.0) -> None:
    """Remove all but the ``keep`` most recently used networks of the cache, and parts that a process killed
    while writing left behind."""
    def used(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:  # removed by another process meanwhile
            return 0.0

    now = time.time()
    for old in sorted(directory.glob("*.onnx"), key=used, reverse=True)[keep:]:
        with contextlib.suppress(OSError):
            old.unlink()
    for part in directory.glob("*.part"):
        if now - used(part) > stale_parts:
            with contextlib.suppress(OSError):
                part.unlink()
