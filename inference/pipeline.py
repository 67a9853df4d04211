"""The colour pipeline: segment the garment, read its dominant colours, classify its colour.

``Pipeline.predict_batch`` never raises for a bad image: the result carries an ``error``
and the rest of the batch goes on.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .classify import get_classifier
from .colors import ColorNamer, ColorVocabulary, DominantColor, default_vocabulary
from .errors import ImageError, InferenceError
from .fusion import Fusion
from .imageio import load_image
from .reading import GarmentReading, ReadingPool, ReadingSetup, default_processes, read_garment
from .segment import DEFAULT_SEGMENTER, RegionTable, Segmentation, default_region_table, get_segmenter

#: Garment regions smaller than this share of the image give no prediction.
MIN_GARMENT_FRACTION = 0.01
#: Images segmented at once on a GPU and on a CPU (see ``Pipeline.segment_chunk``).
GPU_CHUNK, CPU_CHUNK = 64, 8
#: Threads that decode images and read garments (they release the GIL in PIL, numpy and scipy).
POOL_THREADS = int(os.environ.get("COLORREVIEW_DECODE_THREADS", "0")) or min(8, os.cpu_count() or 1)
_pool: tuple[int, ThreadPoolExecutor] | None = None


def worker_pool() -> ThreadPoolExecutor:
    """This process's decoding pool (a forked child makes its own)."""
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        _pool = (os.getpid(), ThreadPoolExecutor(POOL_THREADS, thread_name_prefix="colorreview-decode"))
    return _pool[1]


def _decode(source: str | Path | bytes | np.ndarray) -> np.ndarray | ImageError:
    if isinstance(source, np.ndarray):
        return source
    try:
        return load_image(source).rgb
    except ImageError as exc:
        return exc


@dataclass(frozen=True)
class PipelineConfig:
    segmenter: str = DEFAULT_SEGMENTER
    classifier: str = "timm"
    dominant_k: int = 5
    min_garment_fraction: float = MIN_GARMENT_FRACTION
    keep_masks: bool = False
    half_precision: bool = True  # autocast on a GPU; a CPU always computes in full precision
    reading_processes: int | None = None  # garment-reading processes; None: a GPU host's cores, none on a CPU

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ImageInput:
    """One image to analyse; ``source`` is a path, raw bytes or an RGB array."""

    source: str | Path | bytes | np.ndarray
    category: str | None = None
    key: str | None = None


@dataclass
class ColorPrediction:
    key: str | None
    predicted_color: str | None = None
    confidence: float | None = None
    family: str | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    dominant_colors: list[DominantColor] = field(default_factory=list)
    region: str | None = None
    garment_fraction: float = 0.0
    flags: tuple[str, ...] = ()
    error: str | None = None
    seconds: float = 0.0
    mask: np.ndarray | None = None  # garment classes 0..3 at the working size (keep_masks)
    garment_mask: np.ndarray | None = None  # the pixels whose colour was read (keep_masks)

    @property
    def ok(self) -> bool:
        return self.error is None and self.predicted_color is not None

    def dominant_text(self, limit: int = 3) -> str:
        return " ".join(d.as_text() for d in self.dominant_colors[:limit])


LEARNED_SEGMENTERS = ("u2net", "effunet")


class Pipeline:
    """Composes a segmenter, the KD-tree namer and a classifier (each chosen by name)."""

    def __init__(self, config: PipelineConfig | None = None, vocabulary: ColorVocabulary | None = None,
                 region_table: RegionTable | None = None, weights_dir: str | None = None) -> None:
        self.config = config or PipelineConfig()
        self.vocabulary = vocabulary or default_vocabulary()
        self.region_table = region_table or default_region_table()
        extra = {"weights_dir": weights_dir} if weights_dir else {}
        self.segmenter = get_segmenter(self.config.segmenter,
                                       **(extra if self.config.segmenter in LEARNED_SEGMENTERS else {}))
        self.classifier = get_classifier(self.config.classifier,
                                         **(extra if self.config.classifier == "timm" else {}))
        self.namer = ColorNamer(self.vocabulary)
        self.fusion = Fusion.from_card(getattr(self.classifier, "card", {}), self.classifier.classes,
                                       self.vocabulary)
        self.crop_size = int(getattr(self.classifier, "input_size", 224))
        self.reading = ReadingSetup(self.vocabulary, self.region_table, self.crop_size, self.config.dominant_k,
                                    self.config.min_garment_fraction, self.config.keep_masks,
                                    whole_view="image" in getattr(self.classifier, "views", ()))
        processes = self.config.reading_processes
        processes = default_processes(self.device) if processes is None else processes
        self.reading_pool = ReadingPool(self.reading, processes) if processes else None

    @property
    def version(self) -> str:
        """Identifies everything that changes a prediction: models, fusion, config."""
        parts = [self.segmenter.version, self.classifier.version, self.fusion.version]
        return "+".join(parts)

    def describe(self) -> dict:
        return {"version": self.version, "config": self.config.as_dict(),
                "segmenter": self.segmenter.describe(), "classifier": self.classifier.describe(),
                "fusion": self.fusion.describe()}

    def analyse_batch(self, inputs: list[ImageInput]) -> tuple[list[ColorPrediction], dict[str, list], list[int]]:
        """Everything but the classifier: load, segment, pick the garment, read its colours.

        Images are decoded in a thread pool while the segmenter works on earlier chunks, and each
        chunk's garment reading (k-means, naming) runs in that pool, or in the reading processes,
        while the segmenter takes the next one. Returns the partial results, the classifier's views
        of the usable images and their indices in ``inputs``.
        """
        results = [ColorPrediction(key=item.key) for item in inputs]
        pool = worker_pool()
        readings: list[tuple[list[int], Future]] = []  # the inputs a future reads, and the future
        for chunk in self._decoded_chunks(inputs, results, pool):
            with self.autocast():
                masks = self._segment([rgb for _, rgb in chunk])
            jobs = [(rgb, seg, inputs[i].category) for (i, rgb), seg in zip(chunk, masks)]
            if self.reading_pool is not None:
                readings += [([chunk[j][0] for j in part], f) for part, f in self.reading_pool.submit(jobs)]
            else:
                readings += [([i], pool.submit(lambda job: [read_garment(self.reading, self.namer, *job)], job))
                             for (i, _), job in zip(chunk, jobs)]
        crops, wholes = {}, {}
        for indices, future in readings:
            for i, reading in zip(indices, future.result()):
                if (crop := self._apply_reading(results[i], reading)) is not None:
                    crops[i], wholes[i] = crop, reading.whole
        return results, self.views(crops, wholes), list(crops)

    def _decoded_chunks(self, inputs: list[ImageInput], results: list[ColorPrediction],
                        pool: ThreadPoolExecutor) -> Iterator[list[tuple[int, np.ndarray]]]:
        """(index, RGB) chunks in input order, decoded ahead in ``pool``; unreadable images get their error."""
        futures = [pool.submit(_decode, item.source) for item in inputs]
        step = self.segment_chunk
        for start in range(0, len(inputs), step):
            chunk = []
            for i in range(start, min(start + step, len(inputs))):
                decoded = futures[i].result()
                if isinstance(decoded, ImageError):
                    results[i].error = str(decoded)
                else:
                    chunk.append((i, decoded))
            if chunk:
                yield chunk

    @property
    def device(self) -> str:
        """``cuda`` when a component runs its network there, else ``cpu``."""
        devices = {str(getattr(c, "device", "cpu")).split(":")[0] for c in (self.segmenter, self.classifier)}
        return "cuda" if "cuda" in devices else "cpu"

    @property
    def segment_chunk(self) -> int:
        """Images segmented at once: large on a GPU, small on a CPU so that decoding overlaps."""
        return GPU_CHUNK if self.device == "cuda" else CPU_CHUNK

    def autocast(self) -> contextlib.AbstractContextManager:
        """Half precision on a GPU (bf16 where supported, else fp16); full precision on a CPU."""
        if self.device != "cuda" or not self.config.half_precision:
            return contextlib.nullcontext()
        import torch

        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)

    def predict_batch(self, inputs: list[ImageInput]) -> list[ColorPrediction]:
        started = time.perf_counter()
        results, views, usable = self.analyse_batch(inputs)
        if usable:
            with self.autocast():
                probs = self.classifier.predict_proba(views)
            for i, p in zip(usable, probs):
                self._decide(results[i], p)
        per_image = (time.perf_counter() - started) / max(1, len(inputs))
        for r in results:
            r.seconds = round(per_image, 4)
        return results

    def views(self, crops: dict[int, np.ndarray], wholes: dict[int, np.ndarray | None]) -> dict[str, list[np.ndarray]]:
        """The inputs each classifier view reads, for the images that have a usable garment."""
        out = {"garment": list(crops.values())}
        if "image" in self.classifier.views:
            out["image"] = [wholes[i] for i in crops]
        return out

    def predict(self, source, category: str | None = None) -> ColorPrediction:
        return self.predict_batch([ImageInput(source, category)])[0]

    def _segment(self, rgbs: list[np.ndarray]) -> list[Segmentation]:
        try:
            return self.segmenter.segment_batch(rgbs)
        except (RuntimeError, ValueError, InferenceError):
            if len(rgbs) <= 1:
                raise
            return [self.segmenter.segment(rgb) for rgb in rgbs]

    def _read_garment(self, result: ColorPrediction, rgb: np.ndarray, seg: Segmentation,
                      category: str | None) -> np.ndarray | None:
        """Fill in region, flags and dominant colours; return the classifier crop if usable."""
        return self._apply_reading(result, read_garment(self.reading, self.namer, rgb, seg, category))

    @staticmethod
    def _apply_reading(result: ColorPrediction, reading: GarmentReading) -> np.ndarray | None:
        result.region = reading.region
        result.garment_fraction = reading.garment_fraction
        result.flags = reading.flags
        result.dominant_colors = reading.dominant_colors
        result.mask, result.garment_mask = reading.mask, reading.garment_mask
        if reading.error:
            result.error = reading.error
        return reading.crop

    def _decide(self, result: ColorPrediction, probs: np.ndarray) -> None:
        decision = self.fusion.decide(probs, result.dominant_colors)
        result.probabilities = decision.top(len(decision.classes))
        result.predicted_color = decision.color
        result.confidence = round(decision.confidence, 4)
        result.family = self.vocabulary.family(decision.color)

