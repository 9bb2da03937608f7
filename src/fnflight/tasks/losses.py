"""Training losses, one class per paper. All share one call signature::

    loss(outputs: dict[str, Tensor], batch: dict[str, Tensor], step: int = 0) -> dict[str, Tensor]

``outputs`` is what the net returned (``"output"`` always; ``"per_frame"`` for burst nets), ``batch`` the
batch
dict of :mod:`fnflight.data.batch`, ``step`` the global training step (for annealed terms). The result holds
``"loss"`` (the scalar to minimise) and its named parts (logged as ``train/<part>``).

Images are compared after rendering with :func:`fnflight.imaging.color.render_srgb` (``gain``,
``color_matrix``
from the batch) when ``render=True``: paper 000 sec. 3.3 trains "in a color and gamma-corrected sRGB space".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from kornia.metrics import ssim as kornia_ssim
from torch import Tensor, nn

from fnflight.data import batch as keys
from fnflight.imaging.color import render_srgb
from fnflight.imaging.homography import mean_displacement

__all__ = [
    "DeepFnFLoss",
    "HierarchicalLoss",
    "HomographyResidualLoss",
    "KPNAnnealedLoss",
    "L1Loss",
    "MSELoss",
    "compared_pair",
    "gradient_l1",
    "image_gradients",
    "render_pair",
]


def image_gradients(x: Tensor) -> tuple[Tensor, Tensor]:
    """Half forward differences ``0.5 (x[.., 1:] - x[.., :-1])`` along W and H (NOTES "DeepFnF": "gradients
    as 0.5 x forward differences").

    Args:
        x: ``(B, C, H, W)``.

    Returns:
        ``(dx, dy)`` of shapes ``(B, C, H, W-1)`` and ``(B, C, H-1, W)``.

    Example:
        >>> dx, dy = image_gradients(torch.arange(4.0).reshape(1, 1, 2, 2))
        >>> dx.flatten().tolist(), dy.flatten().tolist()
        ([0.5, 0.5], [1.0, 1.0])
    """
    if x.ndim != 4:
        raise ValueError(f"x must have shape (B, C, H, W), got shape {tuple(x.shape)}")
    dx = 0.5 * (x[..., :, 1:] - x[..., :, :-1])
    dy = 0.5 * (x[..., 1:, :] - x[..., :-1, :])
    return dx, dy


def gradient_l1(diff: Tensor) -> Tensor:
    """``mean |d_x diff| + mean |d_y diff|`` with :func:`image_gradients` (the L1 gradient term of eq. 6).

    Example:
        >>> gradient_l1(torch.arange(4.0).reshape(1, 1, 2, 2)).item()
        1.5
    """
    dx, dy = image_gradients(diff)
    return dx.abs().mean() + dy.abs().mean()


def render_pair(
    outputs: dict[str, Tensor], batch: dict[str, Tensor], key: str = "output"
) -> tuple[Tensor, Tensor]:
    """Render prediction and target to sRGB for the loss: linear continuation above 1, no clipping (NOTES)."""
    gain, cm = batch[keys.GAIN], batch[keys.COLOR_MATRIX]
    pred = render_srgb(outputs[key].float(), gain, cm, clip=False, linear_above_one=True)
    target = render_srgb(batch[keys.TARGET].float(), gain, cm, clip=False, linear_above_one=True)
    return pred, target


def compared_pair(
    outputs: dict[str, Tensor], batch: dict[str, Tensor], render: bool
) -> tuple[Tensor, Tensor]:
    """Prediction and target as a loss compares them: :func:`render_pair` if ``render``, else the raw
    ``outputs["output"]`` and ``batch["target"]`` in float32."""
    if render:
        return render_pair(outputs, batch)
    return outputs["output"].float(), batch[keys.TARGET].float()


def _crop(x: Tensor, border: int) -> Tensor:
    return x[..., border:-border, border:-border] if border > 0 else x


class DeepFnFLoss(nn.Module):
    r"""Paper 000 eq. 6: ``mean ||f(Y^) - f(Y)||^2 + eta (mean |d_x (f(Y^) - f(Y))| + mean |d_y (...)|)``.

    ``f`` renders with the sample's gain and colour matrix (sec. 3.3), the sRGB curve continued linearly
    above 1
    and nothing clipped (NOTES). L2 is the mean squared error over pixels and channels (NOTES: "mean L2 + mean
    L1 of image gradients, weight 1:1"); gradients are half forward differences.

    Args:
        grad_weight: eta, the weight of the gradient term (1.0 in the authors' code).
        render: compare rendered sRGB (True, the paper) or the raw outputs (False, e.g. for sRGB targets).

    Example:
        >>> b = {"target": torch.zeros(1, 3, 4, 4), "gain": torch.ones(1), "color_matrix": torch.eye(3)[None]}
        >>> DeepFnFLoss()({"output": torch.zeros(1, 3, 4, 4)}, b)["loss"].item()
        0.0
    """

    def __init__(self, grad_weight: float = 1.0, render: bool = True) -> None:
        super().__init__()
        self.grad_weight = float(grad_weight)
        self.render = bool(render)

    def terms(self, pred: Tensor, target: Tensor) -> dict[str, Tensor]:
        diff = pred - target
        l2 = diff.square().mean()
        grad = gradient_l1(diff)
        return {"loss": l2 + self.grad_weight * grad, "l2": l2, "grad": grad}

    def forward(
        self, outputs: dict[str, Tensor], batch: dict[str, Tensor], step: int = 0
    ) -> dict[str, Tensor]:
        pred, target = compared_pair(outputs, batch, self.render)
        return self.terms(pred, target)


class KPNAnnealedLoss(nn.Module):
    r"""KPN's annealed loss (paper 002; NOTES "KPN"): ``l(Y^) + beta alpha^t sum_i l(N f_i(X_i))``.

    ``l`` is L2 + L1 gradient loss (:class:`DeepFnFLoss`) on rendered sRGB with an ``border``-pixel border
    cropped (KPN crops 8 px). ``outputs["per_frame"]`` ``(B, N, 3, H, W)`` holds each frame's own estimate
    ``N f_i(X_i)`` (frame i filtered by its kernel, times N: the net's contract, see
    :class:`fnflight.nets.kpn_burst.KPNBurst`), compared with the target as it is. The per-frame terms are
    summed over frames (the paper's sum), weighted by
    ``beta * alpha**step`` (beta 100, alpha 0.9998: the term fades after a few ten thousand steps).

    Example:
        >>> b = {"target": torch.ones(1, 3, 20, 20), "gain": torch.ones(1),
        ...     "color_matrix": torch.eye(3)[None]}
        >>> out = {"output": torch.ones(1, 3, 20, 20), "per_frame": torch.ones(1, 2, 3, 20, 20)}
        >>> KPNAnnealedLoss()(out, b, step=0)["loss"].item()
        0.0
    """

    def __init__(
        self, beta: float = 100.0, alpha: float = 0.9998, grad_weight: float = 1.0, border: int = 8
    ) -> None:
        super().__init__()
        self.beta, self.alpha, self.border = float(beta), float(alpha), int(border)
        self.base = DeepFnFLoss(grad_weight=grad_weight)

    def forward(
        self, outputs: dict[str, Tensor], batch: dict[str, Tensor], step: int = 0
    ) -> dict[str, Tensor]:
        gain, cm = batch[keys.GAIN], batch[keys.COLOR_MATRIX]
        pred, target = render_pair(outputs, batch)
        target = _crop(target, self.border)
        parts = self.base.terms(_crop(pred, self.border), target)
        result = {"loss": parts["loss"], "l2": parts["l2"], "grad": parts["grad"]}
        per_frame = outputs.get("per_frame")
        weight = self.beta * self.alpha ** max(int(step), 0)
        if per_frame is not None and weight > 0:
            anneal = per_frame.new_zeros((), dtype=torch.float32)
            for i in range(per_frame.shape[1]):
                frame = render_srgb(per_frame[:, i].float(), gain, cm, clip=False, linear_above_one=True)
                anneal = anneal + self.base.terms(_crop(frame, self.border), target)["loss"]
            result["anneal"] = anneal
            result["anneal_weight"] = torch.tensor(weight)
            result["loss"] = result["loss"] + weight * anneal
        return result


class _PixelLoss(nn.Module):
    """``{"loss": distance(pred, target)}`` on the :func:`compared_pair` of ``render``; subclasses set
    ``distance``."""

    def __init__(self, render: bool = False) -> None:
        super().__init__()
        self.render = bool(render)

    def forward(
        self, outputs: dict[str, Tensor], batch: dict[str, Tensor], step: int = 0
    ) -> dict[str, Tensor]:
        pred, target = compared_pair(outputs, batch, self.render)
        return {"loss": self.distance(pred, target)}


class L1Loss(_PixelLoss):
    """Mean absolute error (SID, paper 004: L1 on the sRGB output against the sRGB target; ``render=False``).

    Example:
        >>> L1Loss()({"output": torch.ones(1, 3, 2, 2)}, {"target": torch.zeros(1, 3, 2, 2)})["loss"].item()
        1.0
    """

    distance = staticmethod(F.l1_loss)


class MSELoss(_PixelLoss):
    """Mean squared error (LSD2, paper 003: MSE between output and target images, ``render=False``).

    Example:
        >>> MSELoss()({"output": torch.ones(1, 3, 2, 2)}, {"target": torch.zeros(1, 3, 2, 2)})["loss"].item()
        1.0
    """

    distance = staticmethod(F.mse_loss)


class HierarchicalLoss(nn.Module):
    r"""Paper 001 eq. 7-8: ``L_rec + lambda_grad L_grad + lambda_ssim (1 - SSIM)`` on rendered sRGB.

    ``L_rec`` is the mean squared error, ``L_grad`` the mean L1 of the half forward differences of the error
    (as :class:`DeepFnFLoss`; paper 001 only says "gradient filters"), SSIM with an 11x11 Gaussian window,
    sigma 1.5, data range 1 (paper 001 cites [14], the standard SSIM). Weights from paper 001 sec. 3:
    lambda_grad = 1, lambda_ssim = 0.1.

    Example:
        >>> b = {"target": torch.rand(1, 3, 16, 16), "gain": torch.ones(1),
        ...     "color_matrix": torch.eye(3)[None]}
        >>> round(HierarchicalLoss()({"output": b["target"]}, b)["loss"].item(), 4)
        0.0
    """

    def __init__(self, grad_weight: float = 1.0, ssim_weight: float = 0.1, render: bool = True) -> None:
        super().__init__()
        self.grad_weight, self.ssim_weight, self.render = float(grad_weight), float(ssim_weight), bool(render)

    def forward(
        self, outputs: dict[str, Tensor], batch: dict[str, Tensor], step: int = 0
    ) -> dict[str, Tensor]:
        pred, target = compared_pair(outputs, batch, self.render)
        diff = pred - target
        l2 = diff.square().mean()
        grad = gradient_l1(diff)
        ssim = kornia_ssim(pred, target, window_size=11, max_val=1.0).mean()
        loss = l2 + self.grad_weight * grad + self.ssim_weight * (1.0 - ssim)
        return {"loss": loss, "l2": l2, "grad": grad, "ssim": ssim}


class HomographyResidualLoss(nn.Module):
    """The learned flash aligner's loss (an fnflight extension): the mean Manhattan displacement, in pixels,
    left between the true flash homography ``batch["homography"]`` and each pyramid level's estimate
    ``outputs["levels"]`` (the residual warp ``H^-1 A``, :func:`fnflight.imaging.mean_displacement`), averaged
    over the levels so that the coarse levels, which the fine ones start from, are trained too; a sample's
    residual is capped at ``cap`` pixels. The last level's (uncapped) residual is logged as ``residual_px``.

    >>> eye = torch.eye(3)[None]
    >>> shift = eye.clone(); shift[0, 0, 2] = 2.0
    >>> batch = {"homography": shift, "target": torch.zeros(1, 3, 8, 8)}
    >>> HomographyResidualLoss()({"levels": [eye, shift]}, batch)["loss"].item()  # (2 px + 0 px) / 2
    1.0
    """

    def __init__(self, cap: float = 20.0) -> None:
        super().__init__()
        self.cap = float(cap)

    def forward(
        self, outputs: dict[str, Tensor], batch: dict[str, Tensor], step: int = 0
    ) -> dict[str, Tensor]:
        h, w = batch[keys.TARGET].shape[-2:]
        back = torch.linalg.inv(batch[keys.HOMOGRAPHY].to(outputs["levels"][-1].dtype))
        per_sample = [mean_displacement(back @ a, h, w) for a in outputs["levels"]]
        # a sample the solver lost (> cap px) gets no gradient: it would otherwise dominate the batch
        loss = torch.stack([r.clamp(max=self.cap).mean() for r in per_sample]).mean()
        return {"loss": loss, "residual_px": per_sample[-1].mean().detach()}
