"""LPIPS from local weights: the distance's basic properties and clear errors for bad weight files."""

from __future__ import annotations

import pytest
import torch

from fnflight.metrics.lpips import LPIPS, LPIPSError, file_state, load_lpips


def _state(model: LPIPS) -> dict[str, torch.Tensor]:
    state = file_state(model)
    return {k: v.abs() if k.startswith("lin") else v for k, v in state.items()}  # LPIPS heads are >= 0


def test_loaded_weights_are_used_and_distance_grows_with_noise(tmp_path):
    torch.manual_seed(0)
    source = LPIPS()
    path = tmp_path / "w.pt"
    torch.save(_state(source), path)
    model = load_lpips(path)
    assert torch.equal(model.features[0].weight, source.features[0].weight)
    x = torch.rand(2, 3, 64, 64)
    mild, strong = (x + 0.02 * torch.randn_like(x)).clamp(0, 1), (x + 0.2 * torch.randn_like(x)).clamp(0, 1)
    d0, d1, d2 = model(x, x), model(mild, x), model(strong, x)
    assert d0.shape == (2,) and float(d0.abs().max()) < 1e-6
    assert bool((d1 > 0).all()) and bool((d2 > d1).all())
    torch.testing.assert_close(model(mild, x), model(x, mild))  # symmetric


def test_bad_weight_files_say_what_is_wrong(tmp_path):
    with pytest.raises(LPIPSError, match="not found"):
        load_lpips(tmp_path / "missing.pt")
    state = _state(LPIPS())
    del state["lin2.model.1.weight"]
    state["features.0.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "partial.pt")
    with pytest.raises(LPIPSError, match=r"missing lin2\.model\.1\.weight.*wrong shapes features\.0\.weight"):
        load_lpips(tmp_path / "partial.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(LPIPSError, match="not a state dict"):
        load_lpips(tmp_path / "list.pt")


def test_input_checks():
    m = LPIPS()
    with pytest.raises(ValueError, match="one \\(B, 3, H, W\\) shape"):
        m(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 32))
    with pytest.raises(ValueError, match="at least 32 x 32"):
        m(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16))
