"""Homographies for simulated camera shake (paper 000 sec. 4.1, NOTES "DeepFnF") and KPN burst jitter
(paper 002, NOTES "KPN").

Coordinate convention (used by every function here and in :mod:`fnflight.imaging.motion`): pixel
coordinates ``(x, y)`` with ``x`` the column and ``y`` the row, the centre of pixel ``(i, j)`` at
``x = j, y = i`` (so the image spans ``[-0.5, W - 0.5]``; this is kornia's ``align_corners=True``).
A homography ``H`` maps a point ``p`` of the input image to ``H p`` in the output image:
:func:`warp_image` returns ``J(x) = I(H^-1 x)``, i.e. content at ``p`` in ``I`` moves to ``H p`` in ``J``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .srgb import _check_bchw, _check_tensor

__all__ = [
    "homography_from_params",
    "identity_homography",
    "intrinsics_from_fov",
    "homography_sampling_grid",
    "mean_displacement",
    "rotation_matrix_xyz",
    "sample_burst_offsets",
    "sample_homography",
    "translate_image",
    "translation_homography",
    "warp_image",
]


def _check_homography(h: object, name: str = "homography", batch: int | None = None) -> Tensor:
    h = _check_tensor(h, name)
    if h.ndim != 3 or h.shape[-2:] != (3, 3):
        raise ValueError(f"{name} must have shape (B, 3, 3), got {tuple(h.shape)}")
    if batch is not None and h.shape[0] not in (1, batch):
        raise ValueError(f"{name} must have shape ({batch}, 3, 3) or (1, 3, 3), got {tuple(h.shape)}")
    return h


def identity_homography(
    batch: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> Tensor:
    r"""``(B, 3, 3)`` identity homographies.

    Example:
        >>> identity_homography(2).shape
        torch.Size([2, 3, 3])
    """
    return torch.eye(3, device=device, dtype=dtype).expand(batch, 3, 3).clone()


def translation_homography(offsets: Tensor) -> Tensor:
    r"""Homographies of pure translations: ``(B, 2)`` offsets ``(dx, dy)`` in pixels -> ``(B, 3, 3)``.

    Example:
        >>> translation_homography(torch.tensor([[3.0, -1.0]]))[0]
        tensor([[ 1.,  0.,  3.],
                [ 0.,  1., -1.],
                [ 0.,  0.,  1.]])
    """
    offsets = _check_tensor(offsets, "offsets")
    if offsets.ndim != 2 or offsets.shape[1] != 2:
        raise ValueError(f"offsets must have shape (B, 2), got {tuple(offsets.shape)}")
    h = identity_homography(len(offsets), offsets.device, offsets.dtype)
    h[:, :2, 2] = offsets
    return h


def intrinsics_from_fov(
    height: int,
    width: int,
    fov_deg: float | Tensor = 90.0,
    batch: int = 1,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    r"""Pinhole intrinsics with the principal point at the image centre, from the HORIZONTAL field of view.

    ``f = (W / 2) / tan(fov / 2)`` (NOTES: ``f = crop/2 / tan 45deg`` for a square crop; for non-square images
    we choose the width), ``c = ((W - 1) / 2, (H - 1) / 2)`` in this module's pixel-centre convention.

    Returns:
        ``(B, 3, 3)``.

    Example:
        >>> intrinsics_from_fov(5, 5, 90.0)[0]
        tensor([[2.5000, 0.0000, 2.0000],
                [0.0000, 2.5000, 2.0000],
                [0.0000, 0.0000, 1.0000]])
    """
    if height < 1 or width < 1:
        raise ValueError(f"height and width must be >= 1, got {height}, {width}")
    fov = torch.as_tensor(fov_deg, device=device, dtype=dtype).expand(batch)
    f = (width / 2.0) / torch.tan(torch.deg2rad(fov) / 2.0)
    k = identity_homography(batch, device, dtype)
    k[:, 0, 0] = f
    k[:, 1, 1] = f
    k[:, 0, 2] = (width - 1) / 2.0
    k[:, 1, 2] = (height - 1) / 2.0
    return k


def rotation_matrix_xyz(angles_rad: Tensor) -> Tensor:
    r"""Rotation matrices ``R = Rz @ Ry @ Rx`` from ``(..., 3)`` angles (x, y, z) in radians.

    The order is our choice (paper 000 only says "a random 3D rotation ... in each axis"); for the sub-degree
    angles used here the order changes nothing measurable.

    Example:
        >>> rotation_matrix_xyz(torch.zeros(1, 3))[0]
        tensor([[1., 0., 0.],
                [0., 1., 0.],
                [0., 0., 1.]])
    """
    angles_rad = _check_tensor(angles_rad, "angles_rad")
    if angles_rad.shape[-1] != 3:
        raise ValueError(f"angles_rad must have shape (..., 3), got {tuple(angles_rad.shape)}")
    cx, cy, cz = torch.cos(angles_rad).unbind(-1)
    sx, sy, sz = torch.sin(angles_rad).unbind(-1)
    one, zero = torch.ones_like(cx), torch.zeros_like(cx)
    rx = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1).unflatten(-1, (3, 3))
    ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).unflatten(-1, (3, 3))
    rz = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1).unflatten(-1, (3, 3))
    return rz @ ry @ rx


def homography_from_params(
    angles_deg: Tensor,
    scale: Tensor,
    translation: Tensor,
    height: int,
    width: int,
    fov_deg: float = 90.0,
    scale_about: Tensor | None = None,
) -> Tensor:
    r"""Build ``H = T(t) @ S_c(s) @ K R K^-1`` (paper 000 sec. 4.1, NOTES "DeepFnF").

    ``R`` from rotations about x, y, z (:func:`rotation_matrix_xyz`), ``K`` from :func:`intrinsics_from_fov`,
    ``S_c`` an isotropic scaling about the point ``c`` = ``scale_about`` (``(B, 2)`` pixel coordinates; None:
    the image centre), ``T`` a translation by ``t = (tx, ty)`` pixels. The authors' code scales about the
    origin of the WHOLE source image (NOTES): pass that origin in this image's coordinates, e.g. ``-offset``
    for a crop at ``offset`` of its source; the centre halves the scale term's displacement.

    Args:
        angles_deg: ``(B, 3)`` rotation angles about x, y, z in degrees.
        scale: ``(B,)`` isotropic scale.
        translation: ``(B, 2)`` translation ``(tx, ty)`` in pixels.
        height: image height H.
        width: image width W.
        fov_deg: horizontal field of view for ``K``.
        scale_about: ``(B, 2)`` the point the scale acts about; ``None``: the image centre.

    Returns:
        ``(B, 3, 3)`` homographies in pixel coordinates.

    Example:
        >>> h = homography_from_params(torch.zeros(1, 3), torch.ones(1), torch.zeros(1, 2), 8, 8)
        >>> torch.allclose(h, torch.eye(3)[None], atol=1e-6)
        True
    """
    angles_deg = _check_tensor(angles_deg, "angles_deg")
    if angles_deg.ndim != 2 or angles_deg.shape[1] != 3:
        raise ValueError(f"angles_deg must have shape (B, 3), got {tuple(angles_deg.shape)}")
    b = len(angles_deg)
    scale = _check_tensor(scale, "scale")
    translation = _check_tensor(translation, "translation")
    if scale.shape != (b,):
        raise ValueError(f"scale must have shape ({b},), got {tuple(scale.shape)}")
    if translation.shape != (b, 2):
        raise ValueError(f"translation must have shape ({b}, 2), got {tuple(translation.shape)}")
    dev, dt = angles_deg.device, angles_deg.dtype
    k = intrinsics_from_fov(height, width, fov_deg, b, dev, dt)
    r = rotation_matrix_xyz(torch.deg2rad(angles_deg))
    h_rot = k @ r @ _inverse3(k)
    c = k[:, :2, 2] if scale_about is None else _check_tensor(scale_about, "scale_about").to(dt)
    if c.shape != (b, 2):
        raise ValueError(f"scale_about must have shape ({b}, 2), got {tuple(c.shape)}")
    s = identity_homography(b, dev, dt)
    s[:, 0, 0] = scale
    s[:, 1, 1] = scale
    s[:, :2, 2] = (1.0 - scale)[:, None] * c  # p -> s (p - c) + c
    return translation_homography(translation.to(dt)) @ s @ h_rot


def sample_homography(
    batch: int,
    height: int,
    width: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    fov_deg: float = 90.0,
    max_rotation_deg: float = 0.5,
    scale_range: tuple[float, float] = (0.98, 1.02),
    max_translation: float = 2.0,
    return_params: bool = False,
    scale_about: Tensor | None = None,
) -> Tensor | tuple[Tensor, dict[str, Tensor]]:
    r"""Sample DeepFnF camera-shake homographies (paper 000 sec. 4.1, NOTES "DeepFnF").

    Rotations about x, y, z each ``U(-max_rotation_deg, max_rotation_deg)``; ``K`` from a ``fov_deg`` field of
    view; isotropic scale ``U(scale_range)`` about ``scale_about`` (default the image centre); translation
    ``U(-max_translation, max_translation)`` px in x and in y independently (NOTES; the paper's "magnitude
    in [0, 2]" is read as the per-axis range of the authors' code). See :func:`homography_from_params` for
    the composition.

    Args:
        batch: B.
        height: image height H (pixels).
        width: image width W (pixels).
        generator: random generator on ``device``.
        device: output device.
        fov_deg: horizontal field of view.
        max_rotation_deg: bound of each rotation angle.
        scale_range: ``(low, high)`` isotropic scale.
        max_translation: bound of each translation component, pixels.
        return_params: also return the sampled ``{"angles_deg", "scale", "translation"}``.
        scale_about: ``(B, 2)`` the point the scale acts about (:func:`homography_from_params`; None: the
            image centre).

    Returns:
        ``(B, 3, 3)`` homographies (input -> output pixel coordinates, see the module docstring), and the
        parameters if ``return_params``.

    Example:
        >>> sample_homography(2, 16, 16, torch.Generator().manual_seed(0)).shape
        torch.Size([2, 3, 3])
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")

    def uniform(shape: tuple[int, ...], low: float, high: float) -> Tensor:
        return low + (high - low) * torch.rand(shape, generator=generator, device=device)

    angles = uniform((batch, 3), -max_rotation_deg, max_rotation_deg)
    scale = uniform((batch,), scale_range[0], scale_range[1])
    translation = uniform((batch, 2), -max_translation, max_translation)
    h = homography_from_params(angles, scale, translation, height, width, fov_deg, scale_about)
    if return_params:
        return h, {"angles_deg": angles, "scale": scale, "translation": translation}
    return h


_BASE_GRIDS: dict[tuple[int, int, str, torch.dtype], Tensor] = {}


def _base_grid(height: int, width: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """``(H * W, 3)`` homogeneous pixel-centre coordinates ``(x, y, 1)``, row-major; a few sizes cached."""
    key = (height, width, str(device), dtype)
    grid = _BASE_GRIDS.get(key)
    if grid is None:
        ys, xs = torch.meshgrid(
            torch.arange(height, device=device, dtype=dtype),
            torch.arange(width, device=device, dtype=dtype),
            indexing="ij",
        )
        grid = torch.stack([xs, ys, torch.ones_like(xs)], -1).reshape(-1, 3)
        if len(_BASE_GRIDS) >= 8:
            _BASE_GRIDS.pop(next(iter(_BASE_GRIDS)))
        _BASE_GRIDS[key] = grid
    return grid


def _inverse3(h: Tensor) -> Tensor:
    """Inverse of ``(B, 3, 3)`` matrices by the adjugate: a few elementwise products, where
    ``torch.linalg.inv`` pays a LAPACK call (tens of ms on a busy CPU for a batch of 3 x 3 matrices)."""
    a, b, c = h[:, 0, 0], h[:, 0, 1], h[:, 0, 2]
    d, e, f = h[:, 1, 0], h[:, 1, 1], h[:, 1, 2]
    g, k, i = h[:, 2, 0], h[:, 2, 1], h[:, 2, 2]
    co = torch.stack(
        [e * i - f * k, c * k - b * i, b * f - c * e,
         f * g - d * i, a * i - c * g, c * d - a * f,
         d * k - e * g, b * g - a * k, a * e - b * d],
        -1,
    ).reshape(-1, 3, 3)  # fmt: skip
    det = a * co[:, 0, 0] + b * co[:, 1, 0] + c * co[:, 2, 0]
    return co / det[:, None, None]


def _margins(margin: int | tuple[int, int]) -> tuple[int, int]:
    """``(my, mx)`` from an int or a ``(my, mx)`` pair of non-negative ints."""
    my, mx = (margin, margin) if isinstance(margin, int) else (int(margin[0]), int(margin[1]))
    if my < 0 or mx < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    return my, mx


def homography_sampling_grid(
    homography: Tensor, height: int, width: int, margin: int | tuple[int, int] = 0
) -> Tensor:
    r"""The ``grid_sample`` grid (``align_corners=True``) of :func:`warp_image`: output pixel ``x`` samples
    the input at ``H^-1 x``.

    With a ``margin`` ``m`` the input is a larger window, ``(H + 2 m_y) x (W + 2 m_x)``, whose central
    ``H x W`` is the output frame (the frame ``H`` is defined in): output pixel ``x`` samples the window at
    ``H^-1 x + m``. The pixel -> normalised map ``N`` is folded into one matrix ``M = N T(m) H^-1``, so the
    grid is one batched matrix product with the pixel coordinates and one perspective division.

    Args:
        homography: ``(B, 3, 3)``.
        height: output height H.
        width: output width W.
        margin: ``m`` or ``(m_y, m_x)``: pixels of the input beyond the output frame on every side.

    Returns:
        ``(B, H, W, 2)`` normalised ``(x, y)`` sampling positions in ``[-1, 1]`` inside the input.

    Example:
        >>> g = homography_sampling_grid(identity_homography(1), 3, 3)
        >>> g[0, 0, 0].tolist(), g[0, 2, 2].tolist()
        ([-1.0, -1.0], [1.0, 1.0])
    """
    homography = _check_homography(homography)
    my, mx = _margins(margin)
    dev, dt = homography.device, homography.dtype
    sw, sh = 2.0 / max(width + 2 * mx - 1, 1), 2.0 / max(height + 2 * my - 1, 1)
    norm = torch.tensor(
        [[sw, 0.0, sw * mx - 1.0], [0.0, sh, sh * my - 1.0], [0.0, 0.0, 1.0]], device=dev, dtype=dt
    )
    m = norm @ _inverse3(homography)  # (B, 3, 3): pixel (output) -> normalised (input)
    q = _base_grid(height, width, dev, dt) @ m.transpose(1, 2)  # (B, HW, 3)
    return (q[..., :2] / q[..., 2:]).reshape(len(homography), height, width, 2)


def warp_image(
    image: Tensor,
    homography: Tensor,
    mode: str = "bilinear",
    padding_mode: str = "reflection",
    margin: int | tuple[int, int] = 0,
) -> Tensor:
    r"""Warp images by homographies: ``J(x) = I(H^-1 x)`` (content at ``p`` moves to ``H p``).

    One batched :func:`torch.nn.functional.grid_sample` call (``align_corners=True``, pixel-centre
    coordinates as in the module docstring) on the grid of :func:`homography_sampling_grid`; the same
    result as :func:`kornia.geometry.transform.warp_perspective` with ``align_corners=True`` (to float
    rounding), without its per-call overhead. Differentiable w.r.t. the image and the homography.

    ``margin``: ``image`` is a window read ``m`` pixels beyond the frame on every side (the frame is its
    central part, and ``H`` is in the frame's coordinates); the output is the frame, ``(H - 2 m_y) x (W - 2
    m_x)``. Content that the warp brings into the frame from outside it is then read from the window, not
    reflected at the frame's border (a warped crop of a photo: read a margin around the crop, warp, crop;
    ``padding_mode`` applies only beyond the window).

    Args:
        image: ``(B, C, H, W)``.
        homography: ``(B, 3, 3)`` or ``(1, 3, 3)``.
        mode: ``"bilinear"`` or ``"nearest"``.
        padding_mode: ``"zeros"``, ``"border"`` or ``"reflection"``.
        margin: ``m`` or ``(m_y, m_x)`` pixels of ``image`` beyond the frame on every side.

    Returns:
        ``(B, C, H - 2 m_y, W - 2 m_x)``.

    Example:
        >>> img = torch.zeros(1, 1, 5, 5); img[0, 0, 2, 2] = 1.0
        >>> out = warp_image(img, translation_homography(torch.tensor([[1.0, 0.0]])), padding_mode="zeros")
        >>> out[0, 0, 2, 3].item()
        1.0
        >>> warp_image(torch.arange(5.0).expand(1, 1, 1, 5), identity_homography(1), margin=(0, 1))
        tensor([[[[1., 2., 3.]]]])
    """
    image = _check_bchw(image, "image")
    homography = _check_homography(homography, "homography", len(image))
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"mode must be 'bilinear' or 'nearest', got {mode!r}")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"padding_mode must be 'zeros', 'border' or 'reflection', got {padding_mode!r}")
    my, mx = _margins(margin)
    oh, ow = image.shape[-2] - 2 * my, image.shape[-1] - 2 * mx
    if oh < 1 or ow < 1:
        raise ValueError(f"margin {margin} leaves no frame in an image of shape {tuple(image.shape)}")
    h = homography.to(image.device, image.dtype).expand(len(image), 3, 3)
    grid = homography_sampling_grid(h, oh, ow, (my, mx))
    return F.grid_sample(image, grid, mode=mode, padding_mode=padding_mode, align_corners=True)


def _cell_centres(n: int, step: int, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Split pixel indices ``0 .. n-1`` into runs of ``step``: (mean index of each run, run weight)."""
    starts = torch.arange(0, n, step, device=device, dtype=dtype)
    counts = torch.clamp(n - starts, max=float(step))
    return starts + (counts - 1) / 2, counts / n


def mean_displacement(
    homography: Tensor, height: int, width: int, norm: str = "l1", step: int | None = None
) -> Tensor:
    r"""Mean per-pixel displacement ``|H p - p|`` over all pixel centres of an ``H x W`` image.

    ``norm="l1"`` (default) is the Manhattan distance ``|dx| + |dy|`` the paper's misalignment figure uses
    (paper 000 sec. 4.1, "up to 20 pixels (Manhattan distance)"); ``norm="l2"`` the Euclidean distance.

    The displacement field is smooth, so the mean is evaluated on a coarse grid: the pixels are grouped in
    ``step x step`` cells and each cell contributes its centre's value times its pixel count. This is exact
    wherever the field is affine within a cell (the mean of an affine function over the cell's pixel centres
    is its value at their mean); the error comes only from the perspective curvature and from cells where
    ``dx`` or ``dy`` changes sign, far below 1e-3 px for DeepFnF's homographies at ``step=4``. ``step=1`` is
    the dense (exact) mean; the default ``None`` is 1 up to 65536 pixels and 4 above.

    Args:
        homography: ``(B, 3, 3)``.
        height: image height.
        width: image width.
        norm: ``"l1"`` or ``"l2"``.
        step: cell size in pixels (``>= 1``; 1 = every pixel); ``None``: see above.

    Returns:
        ``(B,)`` mean displacement in pixels.

    Example:
        >>> mean_displacement(translation_homography(torch.tensor([[3.0, 4.0]])), 4, 4, norm="l2")
        tensor([5.])
    """
    homography = _check_homography(homography)
    if norm not in ("l1", "l2"):
        raise ValueError(f"norm must be 'l1' or 'l2', got {norm!r}")
    if step is None:
        step = 1 if height * width <= 65536 else 4
    if int(step) < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    dev, dt = homography.device, homography.dtype
    ys, wy = _cell_centres(height, int(step), dev, dt)
    xs, wx = _cell_centres(width, int(step), dev, dt)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    p = torch.stack([gx.flatten(), gy.flatten(), torch.ones_like(gx.flatten())], 0)  # (3, cells)
    q = homography @ p  # (B, 3, cells)
    d = q[:, :2] / q[:, 2:3] - p[None, :2]
    dist = d.abs().sum(1) if norm == "l1" else d.norm(dim=1)
    weight = (wy[:, None] * wx[None, :]).flatten()
    return dist @ weight


def sample_burst_offsets(
    batch: int,
    frames: int,
    generator: torch.Generator | None = None,
    small: float = 2.0,
    large: float = 16.0,
    p_large_mean: float = 1.5,
    quarter_pixel: bool = True,
    device: torch.device | str | None = None,
) -> Tensor:
    r"""KPN-style burst jitter (paper 002, NOTES "KPN").

    Frame 0 is the reference (offset 0). Per burst, ``p = min(Poisson(p_large_mean) / N, 1)``; every other
    frame is then, independently, jittered by ``U(-large, large)`` px in x and y with probability ``p``,
    otherwise by ``U(-small, small)``. With ``quarter_pixel`` the offsets are rounded to multiples of 0.25 px.

    Args:
        batch: B.
        frames: N (>= 1).
        generator: random generator on ``device``.
        small: bound of a small offset, pixels.
        large: bound of a large offset, pixels.
        p_large_mean: mean of the Poisson variable setting the probability of large offsets.
        quarter_pixel: round to quarter pixels.
        device: output device.

    Returns:
        ``(B, N, 2)`` offsets ``(dx, dy)`` in pixels; use with :func:`translate_image`.

    Example:
        >>> off = sample_burst_offsets(2, 4, torch.Generator().manual_seed(0))
        >>> off.shape, bool(off[:, 0].eq(0).all())
        (torch.Size([2, 4, 2]), True)
    """
    if batch < 1 or frames < 1:
        raise ValueError(f"batch and frames must be >= 1, got {batch}, {frames}")
    rate = torch.full((batch,), float(p_large_mean), device=device)
    p = torch.clamp(torch.poisson(rate, generator=generator) / frames, max=1.0)
    is_large = torch.rand((batch, frames), generator=generator, device=device) < p[:, None]
    u = 2.0 * torch.rand((batch, frames, 2), generator=generator, device=device) - 1.0
    bound = torch.where(is_large, torch.tensor(large, device=device), torch.tensor(small, device=device))
    off = u * bound[..., None]
    if quarter_pixel:
        off = torch.round(off * 4.0) / 4.0
    off[:, 0] = 0.0
    return off


def translate_image(
    image: Tensor, offsets: Tensor, mode: str = "bilinear", padding_mode: str = "reflection"
) -> Tensor:
    r"""Sub-pixel translation: ``J(x) = I(x - offset)`` (content moves by ``+offset``), bilinear.

    Args:
        image: ``(B, C, H, W)`` with offsets ``(B, 2)``, or a burst ``(B, N, C, H, W)`` with offsets
            ``(B, N, 2)``.
        offsets: ``(dx, dy)`` in pixels.
        mode: interpolation, see :func:`warp_image`.
        padding_mode: see :func:`warp_image`.

    Returns:
        Same shape as ``image``.

    Example:
        >>> img = torch.zeros(1, 1, 1, 4); img[..., 1] = 1.0
        >>> translate_image(img, torch.tensor([[0.5, 0.0]]), padding_mode="zeros")[0, 0, 0]
        tensor([0.0000, 0.5000, 0.5000, 0.0000])
    """
    image = _check_tensor(image, "image")
    offsets = _check_tensor(offsets, "offsets")
    if image.ndim == 5:
        b, n = image.shape[:2]
        if offsets.shape != (b, n, 2):
            raise ValueError(
                f"offsets must have shape ({b}, {n}, 2) for a burst image, got {tuple(offsets.shape)}"
            )
        out = translate_image(image.flatten(0, 1), offsets.flatten(0, 1), mode, padding_mode)
        return out.unflatten(0, (b, n))
    image = _check_bchw(image, "image")
    if offsets.shape != (len(image), 2):
        raise ValueError(f"offsets must have shape ({len(image)}, 2), got {tuple(offsets.shape)}")
    return warp_image(image, translation_homography(offsets.to(image.dtype)), mode, padding_mode)
