"""ONNX Runtime for the classifier on a CPU: same probabilities as PyTorch, exported once, robust cache."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from inference import runtime
from inference.classify.model import TimmColorClassifier
from inference.errors import WeightsError
from inference.garment import whole_image_view
from inference.imageio import load_image

from ..conftest import DEMO


def _tiny() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 5)).eval()


def test_onnx_and_torch_give_the_same_probabilities_for_the_shipped_members():
    crops = [whole_image_view(load_image(path).rgb, 224) for path in sorted((DEMO / "images").glob("*.jpg"))[:3]]
    views = {"garment": crops, "image": crops}
    onnx = TimmColorClassifier(device="cpu", runtime="onnx")
    plain = TimmColorClassifier(device="cpu", runtime="torch")
    assert onnx.runtime == "onnx" and plain.runtime == "torch"
    assert all(isinstance(m.logits, runtime.OnnxNetwork) for m in onnx.members)  # none fell back to PyTorch
    assert {m["runtime"] for m in onnx.describe()["members"]} == {"onnx"}
    assert {m["runtime"] for m in plain.describe()["members"]} == {"torch"}
    assert onnx.version == plain.version  # the runtime does not change a prediction's model version
    for a, b in zip(onnx.member_probabilities(views), plain.member_probabilities(views)):
        assert a.shape == (3, len(onnx.classes))
        np.testing.assert_allclose(a, b, atol=1e-4)
    np.testing.assert_allclose(onnx.predict_proba(views), plain.predict_proba(views), atol=1e-4)


def test_a_network_is_exported_once_then_read_from_the_cache(tmp_path, monkeypatch):
    model, x = _tiny(), torch.rand(3, 3, 16, 16)
    first = runtime.onnx_network(model, "tiny-0001", (16, 16), threads=1, directory=tmp_path)
    files = list(tmp_path.glob("tiny-0001-16x16-*-timm*.onnx"))
    assert len(files) == 1 and not list(tmp_path.glob("*.part"))
    np.testing.assert_allclose(first(x).numpy(), model(x).detach().numpy(), atol=1e-5)

    def no_export(*args):
        raise AssertionError("exported again")

    monkeypatch.setattr(runtime, "_export", no_export)
    again = runtime.onnx_network(model, "tiny-0001", (16, 16), threads=1, directory=tmp_path)
    np.testing.assert_allclose(again(x).numpy(), first(x).numpy(), atol=1e-6)


def test_a_damaged_cache_file_is_exported_again(tmp_path):
    model, x = _tiny(), torch.rand(2, 3, 16, 16)
    runtime.onnx_network(model, "tiny-0002", (16, 16), threads=1, directory=tmp_path)
    path = next(tmp_path.glob("tiny-0002-*.onnx"))
    path.write_bytes(b"not a network")
    net = runtime.onnx_network(model, "tiny-0002", (16, 16), threads=1, directory=tmp_path)
    np.testing.assert_allclose(net(x).numpy(), model(x).detach().numpy(), atol=1e-5)
    assert path.stat().st_size > 100  # replaced by a good export


def test_a_cached_network_that_differs_from_its_weights_is_exported_again(tmp_path):
    model, other, x = _tiny(), _tiny(), torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        other[0].weight.mul_(2)  # same version name, other weights: a stale file
    runtime.onnx_network(other, "tiny-0005", (16, 16), threads=1, directory=tmp_path)
    net = runtime.onnx_network(model, "tiny-0005", (16, 16), threads=1, directory=tmp_path)
    np.testing.assert_allclose(net(x).numpy(), model(x).detach().numpy(), atol=1e-5)
    again = runtime.onnx_network(model, "tiny-0005", (16, 16), threads=1, directory=tmp_path)  # the file replaced
    np.testing.assert_allclose(again(x).numpy(), model(x).detach().numpy(), atol=1e-5)


def test_an_unwritable_cache_keeps_the_export_in_memory(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    model, x = _tiny(), torch.rand(2, 3, 16, 16)
    net = runtime.onnx_network(model, "tiny-0003", (16, 16), threads=1, directory=blocker / "onnx")
    np.testing.assert_allclose(net(x).numpy(), model(x).detach().numpy(), atol=1e-5)


def test_runtime_choice(monkeypatch):
    monkeypatch.delenv("COLORREVIEW_CPU_RUNTIME", raising=False)
    assert runtime.cpu_runtime() == "onnx"
    monkeypatch.setenv("COLORREVIEW_CPU_RUNTIME", "torch")
    assert runtime.cpu_runtime() == "torch"
    assert runtime.cpu_runtime("onnx") == "onnx"  # an explicit choice wins over the environment
    with pytest.raises(WeightsError, match="unknown CPU runtime 'tensorrt'"):
        runtime.cpu_runtime("tensorrt")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # not installed
    assert runtime.cpu_runtime("onnx") == "torch"



def test_a_network_that_cannot_be_exported_runs_on_pytorch(monkeypatch, caplog, tmp_path):
    def broken(*args):
        raise RuntimeError("unsupported operator")

    monkeypatch.setenv("COLORREVIEW_ONNX_CACHE", str(tmp_path))
    monkeypatch.setattr(runtime, "_export", broken)
    model = _tiny()
    assert runtime.cpu_forward(model, "tiny-never-cached", (16, 16)) is model
    assert "runs on PyTorch" in caplog.text and "unsupported operator" in caplog.text


def test_an_export_that_disagrees_with_pytorch_is_not_used(monkeypatch, tmp_path):
    model, other = _tiny(), _tiny()
    with torch.no_grad():
        other[-1].bias.add_(1.0)
    monkeypatch.setenv("COLORREVIEW_ONNX_CACHE", str(tmp_path))
    real_export = runtime._export
    monkeypatch.setattr(runtime, "_export", lambda m, shape: real_export(other, shape))
    assert runtime.cpu_forward(model, "tiny-wrong-export", (16, 16)) is model
    assert not list(tmp_path.glob("*.onnx"))  # nothing cached


def test_the_cache_keeps_the_most_recently_used_networks(tmp_path):
    import os

    model = _tiny()
    runtime.onnx_network(model, "tiny-0004", (16, 16), threads=1, directory=tmp_path)
    ours = next(tmp_path.glob("tiny-0004-*.onnx"))
    os.utime(ours, (500, 500))  # long unused...
    for i in range(5):
        path = tmp_path / f"old-{i}.onnx"
        path.write_bytes(b"x")
        os.utime(path, (1000 + i, 1000 + i))
    (tmp_path / "killed-writer.part").write_bytes(b"x")
    os.utime(tmp_path / "killed-writer.part", (1000, 1000))
    runtime.onnx_network(model, "tiny-0004", (16, 16), threads=1, directory=tmp_path)  # ...then used again
    runtime._prune(tmp_path, keep=3)
    names = sorted(p.name for p in tmp_path.glob("*"))
    assert names == ["old-3.onnx", "old-4.onnx", ours.name]
