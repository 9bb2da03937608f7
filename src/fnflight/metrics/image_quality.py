"""Image-quality metrics as paper 000 reports them (sec. 4.1, Table 1; NOTES "DeepFnF" evaluation).

PSNR over the whole sRGB image clipped to ``[0, 1]`` (data range 1), one value per image, averaged over
images; SSIM with an 11x11 Gaussian window, sigma 1.5 (torchmetrics, standard constants). Both are reported
per
dimming level: :class:`DimMetrics` accumulates per-image values in one bin per level, so the LightningModules
(validation/test) and ``fnflight eval`` share one code path, and it syncs across DDP processes like any
torchmetrics ``Metric``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from fnflight.imaging.color import render_srgb

__all__ = ["PAPER_DIMS", "DimMetrics", "dim_label", "psnr_per_image", "render_for_metrics", "ssim_per_image"]

# The dimming factors of paper 000 sec. 4.2 / Table 1.
PAPER_DIMS: tuple[float, ...] = (100.0, 50.0, 25.0, 12.5)


def render_for_metrics(image: Tensor, gain: Tensor | float, color_matrix: Tensor) -> Tensor:
    """sRGB clipped to ``[0, 1]``: the image the metrics see (NOTES: "metrics clip to [0, 1]")."""
    return render_srgb(image.float(), gain, color_matrix, clip=True, linear_above_one=True)


def psnr_per_image(pred: Tensor, target: Tensor) -> Tensor:
    """PSNR in dB of each image of ``(B, C, H, W)`` sRGB tensors in ``[0, 1]``; returns ``(B,)``.

    Example:
        >>> psnr_per_image(torch.full((2, 3, 4, 4), 0.5), torch.full((2, 3, 4, 4), 0.6)).round()
        tensor([20., 20.])
    """
    return peak_signal_noise_ratio(pred, target, data_range=1.0, reduction="none", dim=(1, 2, 3))


def ssim_per_image(pred: Tensor, target: Tensor) -> Tensor:
    """SSIM (11x11 Gaussian window, sigma 1.5, data range 1) of each image; returns ``(B,)``.

    Images need at least 11 pixels a side.

    Example:
        >>> x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
        >>> ssim_per_image(x, x)
        tensor([1., 1.])
    """
    out = structural_similarity_index_measure(
        pred, target, gaussian_kernel=True, sigma=1.5, kernel_size=11, data_range=1.0, reduction="none"
    )
    assert isinstance(out, Tensor)
    return out.reshape(len(pred))


def dim_label(dim: float, key: str = "dim") -> str:
    """The name of a level in metric keys: ``50.0 -> "dim50"``, ``12.5 -> "dim12.5"``; with ``key="ratio"``
    (SID's amplification ratios) ``100.0 -> "ratio100"``.

    Example:
        >>> dim_label(50.0), dim_label(12.5), dim_label(300.0, "ratio")
        ('dim50', 'dim12.5', 'ratio300')
    """
    return f"{key}{float(dim):g}"


class DimMetrics(Metric):
    """Mean PSNR and SSIM overall and per level: dimming factor (paper 000) or any other per-sample level
    named by ``key`` (``"ratio"``: SID's amplification ratios).

    Every image counts in the bin of the level nearest to its dimming factor in the log domain: test sets use
    exactly the levels; training-style validation data with random dims in [5, 50] fall in the nearest one
    (so ``val/psnr_dim12.5`` also holds the brightest validation images). :meth:`compute` returns
    ``{"psnr", "ssim", "count", "psnr_dim50", "ssim_dim50", "count_dim50", ...}`` for the levels that saw
    images.

    Args:
        levels: the levels to report (dimming factors by default).
        key: the level's name in metric keys and records (``"dim"``: ``psnr_dim50``, ``{"dim": 50}``).
        lpips: an :class:`~fnflight.metrics.lpips.LPIPS` module (``fnflight eval lpips=PATH``): its mean
            distance is reported as ``lpips`` too; ``None`` (default): PSNR and SSIM only.

    Example:
        >>> m = DimMetrics()
        >>> x = torch.full((2, 3, 16, 16), 0.5)
        >>> m.update(x, x + 0.1, torch.tensor([50.0, 12.5]))
        >>> out = m.compute()
        >>> round(float(out["psnr_dim50"]), 1), float(out["count"])
        (20.0, 2.0)
    """

    full_state_update = False
    higher_is_better = True

    def __init__(
        self,
        levels: Sequence[float] = PAPER_DIMS,
        key: str = "dim",
        lpips: torch.nn.Module | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.key = str(key)
        self.lpips = lpips
        if not levels:
            raise ValueError("levels must name at least one dimming factor, got an empty sequence")
        self.levels = tuple(float(v) for v in levels)
        n = len(self.levels)
        self.add_state("psnr_sum", torch.zeros(n, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("ssim_sum", torch.zeros(n, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros(n, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("lpips_sum", torch.zeros(n, dtype=torch.float64), dist_reduce_fx="sum")
        self.register_buffer(
            "_log_levels", torch.tensor([math.log(v) for v in self.levels]), persistent=False
        )

    def bins(self, dim: Tensor) -> Tensor:
        """Index of the nearest level (log domain) for each dimming factor ``(B,)``."""
        logs = torch.log(dim.reshape(-1, 1).double().clamp_min(1e-6))
        return (logs - self._log_levels.double().to(logs.device)[None]).abs().argmin(dim=1)

    def update(self, pred: Tensor, target: Tensor, dim: Tensor | float) -> None:  # type: ignore[override]
        """Add a batch of sRGB images in ``[0, 1]`` ``(B, 3, H, W)`` with their dimming factors ``(B,)``."""
        if pred.shape != target.shape or pred.ndim != 4:
            raise ValueError(
                f"pred and target must have one (B, C, H, W) shape, got {tuple(pred.shape)}, "
                f"{tuple(target.shape)}"
            )
        dim = torch.as_tensor(dim, device=pred.device).reshape(-1).expand(len(pred))
        psnr = psnr_per_image(pred.float(), target.float()).double()
        ssim = ssim_per_image(pred.float(), target.float()).double()
        idx = self.bins(dim)
        self.psnr_sum.index_add_(0, idx, psnr)
        self.ssim_sum.index_add_(0, idx, ssim)
        self.count.index_add_(0, idx, torch.ones_like(psnr))
        if self.lpips is not None:
            self.lpips_sum.index_add_(0, idx, self.lpips(pred.float(), target.float()).double())

    def compute(self) -> dict[str, Tensor]:
        total = self.count.sum()
        out = {
            "psnr": (self.psnr_sum.sum() / total.clamp_min(1)).float(),
            "ssim": (self.ssim_sum.sum() / total.clamp_min(1)).float(),
            "count": total.float(),
        }
        for i, level in enumerate(self.levels):
            if self.count[i] > 0:
                label = dim_label(level, self.key)
                out[f"psnr_{label}"] = (self.psnr_sum[i] / self.count[i]).float()
                out[f"ssim_{label}"] = (self.ssim_sum[i] / self.count[i]).float()
                out[f"count_{label}"] = self.count[i].float()
        return out

    def records(self, method: str) -> list[dict[str, float | str | int]]:
        """``[{"method", <key>, "psnr", "ssim", ["lpips",] "count"}, ...]``, one per level that saw images
        (``fnflight eval``; ``<key>`` is ``"dim"`` unless the metric was made with another ``key``)."""
        out = []
        for i, level in enumerate(self.levels):
            n = float(self.count[i])
            if n > 0:
                out.append(
                    {
                        "method": method,
                        self.key: level,
                        "psnr": float(self.psnr_sum[i]) / n,
                        "ssim": float(self.ssim_sum[i]) / n,
                        **({"lpips": float(self.lpips_sum[i]) / n} if self.lpips is not None else {}),
                        "count": int(n),
                    }
                )
        return out
