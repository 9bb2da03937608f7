"""Differentiable Lucas-Kanade homography refinement (inverse compositional Gauss-Newton, Baker & Matthews
2004) on multi-channel feature maps: the solver of the learned flash aligner
(:mod:`fnflight.nets.flash_aligner`, an fnflight extension, not in paper 000).

Convention (the data engine's, :mod:`fnflight.data.fnf`): a homography ``A`` maps a pixel ``x`` of the FIXED
image (the no-flash reference) to ``A x`` in the MOVING image (the flash), so ``moving(A x) ~ fixed(x)``; the
aligned moving image is ``warp_image(moving, inv(A))``. Pixel centres are integer coordinates
(``align_corners=True``), as in :mod:`fnflight.imaging.homography`.

The solver works in normalised coordinates ``u = (x - (W-1)/2) / s``, ``v = (y - (H-1)/2) / s`` with
``s = max(H, W) / 2``: these are the same for every level of an average-pooling pyramid (pooling by ``f``
maps pixel centre ``x`` to ``(x + 0.5) / f - 0.5``), so a coarse level's estimate initialises the next finer
level without conversion, and the 8 parameters are of similar magnitude (well conditioned normal equations).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fnflight.ops._checks import check_ndim, check_positive_int, check_same, check_tensor

__all__ = [
    "MOTIONS",
    "translation_search",
    "LucasKanadeHomography",
    "lucas_kanade_homography",
    "normalised_homography",
    "pixel_homography",
]


def _normaliser(height: int, width: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """``N``: pixel coordinates -> normalised coordinates (module docstring)."""
    s = max(height, width) / 2.0
    return torch.tensor(
        [[1 / s, 0.0, -(width - 1) / (2 * s)], [0.0, 1 / s, -(height - 1) / (2 * s)], [0.0, 0.0, 1.0]],
        device=device,
        dtype=dtype,
    )


def normalised_homography(homography: Tensor, height: int, width: int) -> Tensor:
    """A pixel homography of an ``H x W`` image in normalised coordinates: ``N A N^-1``.

    Args:
        homography: ``(B, 3, 3)`` pixel homography.
        height, width: the image size it acts on.

    Returns:
        ``(B, 3, 3)``.

    >>> a = torch.tensor([[[1.0, 0.0, 4.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])  # 4 px to the right
    >>> normalised_homography(a, 8, 8)[0, 0, 2].item()  # 4 px of an 8 px wide image: one normalised unit
    1.0
    """
    n = _normaliser(height, width, homography.device, homography.dtype)
    return n @ homography @ torch.linalg.inv(n)


def pixel_homography(homography: Tensor, height: int, width: int) -> Tensor:
    """The inverse of :func:`normalised_homography`: ``N^-1 A_n N`` (``(B, 3, 3)`` -> ``(B, 3, 3)``)."""
    n = _normaliser(height, width, homography.device, homography.dtype)
    return torch.linalg.inv(n) @ homography @ n


def _grid(height: int, width: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """``(H * W, 3)`` normalised homogeneous coordinates ``(u, v, 1)`` of the pixel centres, row-major."""
    n = _normaliser(height, width, device, dtype)
    ys, xs = torch.meshgrid(
        torch.arange(height, device=device, dtype=dtype),
        torch.arange(width, device=device, dtype=dtype),
        indexing="ij",
    )
    p = torch.stack([xs.flatten(), ys.flatten(), torch.ones(height * width, device=device, dtype=dtype)], -1)
    return p @ n.T


def _update(dp: Tensor) -> Tensor:
    """``W(dp)``: the homography ``I + [[p0 p1 p2] [p3 p4 p5] [p6 p7 0]]`` of 8 parameters.

    ``(B, 8) -> (B, 3, 3)``."""
    w = torch.cat([dp, torch.zeros_like(dp[:, :1])], 1).reshape(-1, 3, 3)
    return w + torch.eye(3, device=dp.device, dtype=dp.dtype)


#: the warp parameters each motion model estimates (indices of dp, see ``_update``); the others stay 0
MOTIONS = {"translation": (2, 5), "affine": (0, 1, 2, 3, 4, 5), "homography": tuple(range(8))}


def lucas_kanade_homography(
    moving: Tensor,
    fixed: Tensor,
    homography: Tensor | None = None,
    iterations: int = 8,
    damping: float = 1e-3,
    motion: str = "homography",
) -> Tensor:
    r"""Refine the homography ``A`` with ``moving(A x) ~ fixed(x)`` by inverse compositional Gauss-Newton.

    Each iteration samples ``moving`` at ``A x`` (bilinear; samples falling outside ``moving`` are left out of
    the sums), solves the damped normal equations
    ``(J^T J + damping * diag(J^T J) + 1e-9 I) dp = J^T (moving(A x) - fixed(x))`` with the Jacobian
    ``J = grad(fixed) dW/dp`` at the identity (summed over channels and pixels), and composes
    ``A <- A W(dp)^-1``. Steps are bounded (a trust region) and a sample whose step diverges keeps its
    previous estimate, so the result is always a proper homography, even on untrained or featureless
    inputs. Differentiable w.r.t. both feature maps and the initial homography (a learned feature
    extractor is trained through it).

    Args:
        moving: ``(B, C, H, W)`` features of the image that is warped (the flash).
        fixed: ``(B, C, H, W)`` features of the reference (the no-flash image).
        homography: ``(B, 3, 3)`` initial estimate in NORMALISED coordinates (:func:`normalised_homography`);
            ``None``: the identity.
        iterations: Gauss-Newton steps (>= 1).
        damping: Levenberg-Marquardt factor on the Hessian's diagonal (>= 0): keeps a flat or one-directional
            texture from producing a wild step.
        motion: the update's degrees of freedom, ``"translation"`` (2), ``"affine"`` (6) or
            ``"homography"`` (8, default): coarse pyramid levels see too few pixels to fix 8 parameters
            robustly, so a coarse-to-fine fit starts with fewer.

    Returns:
        ``(B, 3, 3)`` refined homography in normalised coordinates (:func:`pixel_homography` converts).

    Example:
        >>> from fnflight.imaging import mean_displacement, translation_homography, warp_image
        >>> _ = torch.manual_seed(0); fixed = F.avg_pool2d(torch.rand(1, 1, 64, 64), 5, 1, 2)
        >>> shift = translation_homography(torch.tensor([[1.5, -1.0]]))
        >>> moving = warp_image(fixed, shift)
        >>> a = pixel_homography(lucas_kanade_homography(moving, fixed, iterations=10), 64, 64)
        >>> bool(mean_displacement(torch.linalg.inv(shift) @ a, 64, 64) < 0.1)  # residual (px): 2.5 before
        True
    """
    check_tensor(moving, "moving")
    check_tensor(fixed, "fixed")
    check_ndim(moving, "moving", (4,), "(B, C, H, W)")
    check_ndim(fixed, "fixed", (4,), "(B, C, H, W)")
    check_same(moving, "moving", {"fixed": fixed})
    if moving.shape != fixed.shape:
        raise ValueError(
            f"moving and fixed must have the same shape (B, C, H, W), got {tuple(moving.shape)} and "
            f"{tuple(fixed.shape)}"
        )
    check_positive_int(iterations, "iterations")
    if not damping >= 0:
        raise ValueError(f"damping must be >= 0, got {damping!r}")
    if motion not in MOTIONS:
        raise ValueError(f"motion must be one of {', '.join(MOTIONS)}, got {motion!r}")
    b, c, h, w = fixed.shape
    if h < 3 or w < 3:
        raise ValueError(f"the feature maps are {h}x{w} (HxW): need at least 3x3 for image gradients")
    dev, dt = fixed.device, fixed.dtype
    if homography is None:
        a = torch.eye(3, device=dev, dtype=dt).expand(b, 3, 3)
    else:
        check_tensor(homography, "homography")
        if homography.shape != (b, 3, 3):
            raise ValueError(f"homography must have shape ({b}, 3, 3), got {tuple(homography.shape)}")
        a = homography.to(dev, dt)

    s = max(h, w) / 2.0
    uv1 = _grid(h, w, dev, dt)  # (HW, 3)
    u, v = uv1[:, 0], uv1[:, 1]
    # the Jacobian of fixed at the identity warp (inverse compositional: computed once); gradients by central
    # differences in pixels (replicate border), times s for normalised units
    fpad = F.pad(fixed, (1, 1, 1, 1), mode="replicate")
    gx = (fpad[..., 1:-1, 2:] - fpad[..., 1:-1, :-2]) * (s / 2)
    gy = (fpad[..., 2:, 1:-1] - fpad[..., :-2, 1:-1]) * (s / 2)
    gx, gy = gx.reshape(b, c, -1), gy.reshape(b, c, -1)
    zero = torch.zeros_like(u)
    dxdp = torch.stack([u, v, torch.ones_like(u), zero, zero, zero, -u * u, -u * v])  # (8, HW)
    dydp = torch.stack([zero, zero, zero, u, v, torch.ones_like(u), -u * v, -v * v])
    free = list(MOTIONS[motion])
    jac = gx[..., None, :] * dxdp[free] + gy[..., None, :] * dydp[free]  # (B, C, P, HW)
    # grid_sample wants [-1, 1] over the pixel centres: normalised u times s / ((W - 1) / 2)
    to_grid = torch.tensor([s * 2 / max(w - 1, 1), s * 2 / max(h - 1, 1)], device=dev, dtype=dt)
    eye = torch.eye(len(free), device=dev, dtype=dt)
    step_bound = torch.tensor([0.02, 0.02, 0.05, 0.02, 0.02, 0.05, 0.005, 0.005], device=dev, dtype=dt)[free]
    target = fixed.reshape(b, c, -1)
    for _ in range(iterations):
        q = uv1 @ a.transpose(1, 2)  # (B, HW, 3)
        g = q[..., :2] / q[..., 2:] * to_grid
        inside = (g.abs() <= 1).all(-1).to(dt)  # (B, HW)
        sampled = F.grid_sample(moving, g.reshape(b, h, w, 2), align_corners=True, padding_mode="border")
        r = (sampled.reshape(b, c, -1) - target) * inside[:, None]
        jm = jac * inside[:, None, None]
        hess = torch.einsum("bckn,bcln->bkl", jm, jac)
        rhs = torch.einsum("bckn,bcn->bk", jm, r)
        lhs = hess + damping * torch.diag_embed(torch.diagonal(hess, dim1=1, dim2=2)) + 1e-9 * eye
        # a trust region: a step may translate by at most 2.5% of the image side (normalised units: 5.6 px
        # of a 224 px crop; the protocol's shake is up to ~20 px), change scale and shear by 2% and the
        # projective terms by 0.005; several steps cover a larger shake, and a wrong step cannot throw the
        # estimate far (unbounded steps made coarse levels diverge by tens of pixels on real-looking pairs)
        dp = torch.linalg.solve(lhs, rhs)
        finite = torch.isfinite(dp).all(-1)
        dp = torch.nan_to_num(dp, nan=0.0, posinf=0.0, neginf=0.0)
        dp = torch.maximum(torch.minimum(dp, step_bound), -step_bound)
        full = dp.new_zeros(b, 8)
        full[:, free] = dp
        step, info = torch.linalg.inv_ex(_update(full))
        new = a @ step
        # a step that diverged (flat or contradictory features: non-finite, folding, or a scale far off the
        # identity's) is refused per sample and the previous estimate kept
        det = torch.linalg.det(new) / new[:, 2, 2] ** 3
        ok = finite & (info == 0) & torch.isfinite(new).all(-1).all(-1) & (det > 0.5) & (det < 2.0)
        a = torch.where(ok[:, None, None], new, a)
    return a


@torch.no_grad()
def translation_search(moving: Tensor, fixed: Tensor, radius: int) -> Tensor:
    """The integer shift ``d`` with ``moving(x + d) ~ fixed(x)`` that maximises the zero-mean normalised
    cross-correlation over ``|dx|, |dy| <= radius`` px, as a homography in normalised coordinates.

    Lucas-Kanade converges only from within about a pixel of its level's grid; a global search gives it that
    start. From the identity, coarse-to-fine fits left more than 5 px on 15 of 32 flash/no-flash training
    pairs of the DeepFnF shake (up to ~20 px), and on 5 of 32 even for clean same-modality pairs; after the
    search, on 1 and 0 (benchmarks/investigation/aligner_convergence.txt). Exhaustive over
    ``(2 radius + 1)^2`` shifts of the central ``H - 2 radius`` x ``W - 2 radius`` window, so use it on a
    coarse level. Not differentiable (an argmax): the refinement after it is.

    Args:
        moving, fixed: ``(B, C, H, W)`` feature maps with ``H, W > 2 radius``.
        radius: the largest shift tried, in px of these maps (>= 1).

    Returns:
        ``(B, 3, 3)`` translation in normalised coordinates (:func:`pixel_homography` converts).

    >>> _ = torch.manual_seed(0); fixed = torch.rand(1, 1, 32, 32)
    >>> moving = torch.roll(fixed, shifts=(2, -3), dims=(-2, -1))  # content moved down 2, left 3
    >>> pixel_homography(translation_search(moving, fixed, 4), 32, 32)[0, :2, 2].tolist()
    [-3.0, 2.0]
    """
    check_tensor(moving, "moving")
    check_tensor(fixed, "fixed")
    check_ndim(fixed, "fixed", (4,), "(B, C, H, W)")
    if moving.shape != fixed.shape:
        raise ValueError(
            f"moving and fixed must have the same shape (B, C, H, W), got {tuple(moving.shape)} and "
            f"{tuple(fixed.shape)}"
        )
    r = check_positive_int(radius, "radius")
    b, _, h, w = fixed.shape
    if h <= 2 * r or w <= 2 * r:
        raise ValueError(f"the feature maps are {h}x{w} (HxW): a search radius of {r} needs H, W > {2 * r}")
    core = fixed[..., r : h - r, r : w - r]
    core = core - core.mean((-2, -1), keepdim=True)
    core_norm = core.pow(2).sum((1, 2, 3))
    scores = []
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            m = moving[..., r + dy : h - r + dy, r + dx : w - r + dx]
            m = m - m.mean((-2, -1), keepdim=True)
            den = (m.pow(2).sum((1, 2, 3)) * core_norm).sqrt().clamp_min(1e-12)
            scores.append((m * core).sum((1, 2, 3)) / den)
    best = torch.stack(scores, 1).argmax(1)
    shift = torch.stack([best % (2 * r + 1) - r, best // (2 * r + 1) - r], 1).to(fixed.dtype)
    a = torch.eye(3, device=fixed.device, dtype=fixed.dtype).repeat(b, 1, 1)
    # moving(x + d) = fixed(x): A x = x + d; a shift of d px of this map is d / s normalised units
    a[:, :2, 2] = shift / (max(h, w) / 2.0)
    return a


class LucasKanadeHomography(nn.Module):
    """Module form of :func:`lucas_kanade_homography` (fixed ``iterations`` and ``damping``).

    >>> lk = LucasKanadeHomography(iterations=2)
    >>> x = torch.rand(2, 4, 16, 16)
    >>> torch.allclose(lk(x, x), torch.eye(3).expand(2, 3, 3), atol=1e-5)  # aligned already: the identity
    True
    """

    def __init__(self, iterations: int = 8, damping: float = 1e-3, motion: str = "homography") -> None:
        super().__init__()
        self.iterations = check_positive_int(iterations, "iterations")
        if not damping >= 0:
            raise ValueError(f"damping must be >= 0, got {damping!r}")
        if motion not in MOTIONS:
            raise ValueError(f"motion must be one of {', '.join(MOTIONS)}, got {motion!r}")
        self.damping = float(damping)
        self.motion = motion

    def forward(self, moving: Tensor, fixed: Tensor, homography: Tensor | None = None) -> Tensor:
        return lucas_kanade_homography(moving, fixed, homography, self.iterations, self.damping, self.motion)

    def extra_repr(self) -> str:
        return f"iterations={self.iterations}, damping={self.damping}, motion={self.motion!r}"
