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
    "LOSS_TOES",
    "gradient_l1",
    "image_gradients",
    "render_for_loss",
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


# How the loss's sRGB curve treats values below 0 (after gain and colour matrix).
#   "clamped" (default, our choice): 0, as the metrics see them (they clip to [0, 1]). The authors' curve
#     continues its 12.92 x toe below 0, which is asymmetric around a dark target: the linear toe is far
#     flatter than the curve just above 0 is steep on average, so a constant POSITIVE offset lowers the loss
#     of a noisy dark estimate (a numeric probe: the best offset cuts the L2 term from 2.64 to 0.22 for
#     residual noise 0.25, and the clipped metric pays for it; with the curve clamped at 0 the best offset
#     is about 0.2 sigma). Our direct-prediction net learnt exactly that offset, about 2 sigma_read on R
#     and G at every dim (benchmarks/investigation/direct_bias.txt), and it sank below its noisy input.
#   "linear": the authors' code (NOTES "DeepFnF": the standard curve, linear toe), for the paper recipes.
LOSS_TOES = ("clamped", "linear")


def _check_toe(toe: str) -> None:
    if toe not in LOSS_TOES:
        raise ValueError(f"toe must be one of {LOSS_TOES}, got {toe!r}")


def render_for_loss(image: Tensor, gain: Tensor, color_matrix: Tensor, toe: str = "clamped") -> Tensor:
    """``image`` ``(B, 3, H, W)`` linear rendered to sRGB as the losses compare it: the curve continued
    linearly above 1 and nothing clipped above (NOTES), below 0 as ``toe`` says (:data:`LOSS_TOES`).

    >>> x = torch.tensor([-0.01, 0.0, 0.5]).reshape(1, 3, 1, 1)
    >>> render_for_loss(x, torch.ones(1), torch.eye(3)).flatten().tolist()[:2]
    [0.0, 0.0]
    >>> round(render_for_loss(x, torch.ones(1), torch.eye(3), toe="linear").flatten()[0].item(), 4)
    -0.1292
    """
    _check_toe(toe)
    out = render_srgb(image.float(), gain, color_matrix, clip=False, linear_above_one=True)
    return out.clamp_min(0.0) if toe == "clamped" else out


def render_pair(
    outputs: dict[str, Tensor], batch: dict[str, Tensor], key: str = "output", toe: str = "clamped"
) -> tuple[Tensor, Tensor]:
    """Render prediction and target to sRGB for the loss (:func:`render_for_loss`)."""
    gain, cm = batch[keys.GAIN], batch[keys.COLOR_MATRIX]
    return render_for_loss(outputs[key], gain, cm, toe), render_for_loss(batch[keys.TARGET], gain, cm, toe)


def compared_pair(
    outputs: dict[str, Tensor], batch: dict[str, Tensor], render: bool, toe: str = "clamped"
) -> tuple[Tensor, Tensor]:
    """Prediction and target as a loss compares them: :func:`render_pair` if ``render``, else the raw
    ``outputs["output"]`` and ``batch["target"]`` in float32."""
    if render:
        return render_pair(outputs, batch, toe=toe)
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
        toe: the rendered curve below 0 (:data:`LOSS_TOES`): ``"clamped"`` (default) or the authors'
            ``"linear"`` toe.

    Example:
        >>> b = {"target": torch.zeros(1, 3, 4, 4), "gain": torch.ones(1), "color_matrix": torch.eye(3)[None]}
        >>> DeepFnFLoss()({"output": torch.zeros(1, 3, 4, 4)}, b)["loss"].item()
        0.0
    """

    def __init__(self, grad_weight: float = 1.0, render: bool = True, toe: str = "clamped") -> None:
        super().__init__()
        _check_toe(toe)
        self.grad_weight = float(grad_weight)
        self.render, self.toe = bool(render), toe

    def terms(self, pred: Tensor, target: Tensor) -> dict[str, Tensor]:
        diff = pred - target
        l2 = diff.square().mean()
        grad = gradient_l1(diff)
        return {"loss": l2 + self.grad_weight * grad, "l2": l2, "grad": grad}

    def forward(
        self, outputs: dict[str, Tensor], batch: dict[str, Tensor], step: int = 0
    ) -> dict[str, Tensor]:
        pred, target = compared_pair(outputs, batch, self.render, self.toe)
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
        self,
        beta: float = 100.0,
        alpha: float = 0.9998,
        grad_weight: float = 1.0,
        border: int = 8,
        toe: str = "clamped",
        anneal_until: float | None = None,
    ) -> None:
        super().__init__()
        if anneal_until is not None and not 0.0 < float(anneal_until) <= 1.0:
            raise ValueError(
                f"anneal_until must be a fraction of the run in (0, 1] or null, got {anneal_until}"
            )
        self.beta, self.alpha, self.border = float(beta), float(alpha), int(border)
        self.base = DeepFnFLoss(grad_weight=grad_weight, toe=toe)
        self.toe = toe
        self.anneal_until = None if anneal_until is None else float(anneal_until)
        #: the run's length in steps (``trainer.max_steps``), set by the task when fitting starts; the
        #: decay of ``anneal_until`` is stated against it
        self.run_steps: int | None = None

    def weight(self, step: int) -> float:
        """The per-frame term's weight at ``step``: ``beta alpha^step`` (the paper), or with
        ``anneal_until`` the same exponential shape fitted to the run: ``beta`` at step 0, 1 (the main
        loss's weight) at ``anneal_until x run_steps``.

        Why: the paper's constants decay over tens of thousands of steps (the weight is still 55 x the main
        loss at step 3000, per frame), so a CPU run of a few thousand steps trains each frame as a
        denoiser alone and never the burst. The fraction keeps the paper's idea (steer the start, then let
        go) at any budget; ``experiment=kpn_burst_paper`` keeps the paper's constants.

        >>> loss = KPNAnnealedLoss(anneal_until=0.25); loss.run_steps = 1000
        >>> [round(loss.weight(s), 3) for s in (0, 250, 500)]
        [100.0, 1.0, 0.01]
        >>> round(KPNAnnealedLoss().weight(3000), 1)
        54.9
        """
        step = max(int(step), 0)
        if self.anneal_until is None or not self.run_steps or self.run_steps <= 0:
            # outside a fit (a validation or benchmark of its own) the run's length is unknown: the paper's
            return self.beta * self.alpha**step
        # the paper's factor: 100 * 0.9998^t falls 100x (to the main loss's weight) by t ~ 23,000
        return self.beta * 0.01 ** (step / (self.anneal_until * self.run_steps))

    def forward(
        self, outputs: dict[str, Tensor], batch: dict[str, Tensor], step: int = 0
    ) -> dict[str, Tensor]:
        gain, cm = batch[keys.GAIN], batch[keys.COLOR_MATRIX]
        pred, target = render_pair(outputs, batch, toe=self.toe)
        target = _crop(target, self.border)
        parts = self.base.terms(_crop(pred, self.border), target)
        result = {"loss": parts["loss"], "l2": parts["l2"], "grad": parts["grad"]}
        per_frame = outputs.get("per_frame")
        weight = self.weight(step)
        if per_frame is not None and weight > 0:
            anneal = per_frame.new_zeros((), dtype=torch.float32)
            for i in range(per_frame.shape[1]):
                frame = render_for_loss(per_frame[:, i], gain, cm, self.toe)
                anneal = anneal + self.base.terms(_crop(frame, self.border), target)["loss"]
            result["anneal"] = anneal
            result["anneal_weight"] = torch.tensor(weight)
            result["loss"] = result["loss"] + weight * anneal
        return result


class _PixelLoss(nn.Module):
    """``{"loss": distance(pred, target)}`` on the :func:`compared_pair` of ``render``; subclasses set
    ``distance``."""

    def __init__(self, render: bool = False, toe: str = "clamped") -> None:
        super().__init__()
        _check_toe(toe)
        self.render, self.toe = bool(render), toe

    def forward(
        self, outputs: dict[str, Tensor], batch: dict[str, Tensor], step: int = 0
    ) -> dict[str, Tensor]:
        pred, target = compared_pair(outputs, batch, self.render, self.toe)
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

    def __init__(
        self, grad_weight: float = 1.0, ssim_weight: float = 0.1, render: bool = True, toe: str = "clamped"
    ) -> None:
        super().__init__()
        _check_toe(toe)
        self.grad_weight, self.ssim_weight, self.render = float(grad_weight), float(ssim_weight), bool(render)
        self.toe = toe

    def forward(
        self, outputs: dict[str, Tensor], batch: dict[str, Tensor], step: int = 0
    ) -> dict[str, Tensor]:
        pred, target = compared_pair(outputs, batch, self.render, self.toe)
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
