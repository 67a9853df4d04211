"""Folding batch norms into convolutions keeps the networks' outputs and leaves no norm behind."""

import copy

import pytest
import torch

from inference.classify.backbones import create_backbone
from inference.fold import fold_batchnorm
from inference.segment.effunet import EffUNet


def _with_statistics(model: torch.nn.Module) -> torch.nn.Module:
    """Non-trivial running statistics and affine parameters, as a trained network has."""
    gen = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.rand(n, generator=gen) - 0.5)
            module.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            module.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            module.bias.data.copy_(torch.rand(n, generator=gen) * 0.4 - 0.2)
    return model.eval()


@pytest.mark.parametrize("build, shape", [
    (lambda: create_backbone("efficientnet_lite0", 5, pretrained=False), (2, 3, 64, 64)),
    (lambda: EffUNet("efficientnet_lite0", 4), (2, 3, 64, 48)),
])
def test_folding_keeps_outputs(build, shape):
    model = _with_statistics(build())
    folded = copy.deepcopy(model)
    assert fold_batchnorm(folded) > 10
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        before, after = model(x), folded(x)
    assert before.shape == after.shape
    assert torch.allclose(before, after, atol=1e-4 * max(1.0, float(before.abs().max())))


def test_folding_needs_eval_mode():
    with pytest.raises(RuntimeError, match="eval mode"):
        fold_batchnorm(EffUNet("efficientnet_lite0", 4).train())
