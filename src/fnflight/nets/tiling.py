"""Full-resolution inference in tiles, for every task: the one tiling mechanism of ``fnflight enhance`` and
``fnflight bench enhance`` (NOTES "SID": users of the authors' code run out of memory at full resolution).

The image is cut into cores that partition it; each core is run with a halo of context on every side and
only the core of each result is kept. An output pixel of a convolutional net depends only on the inputs
within its receptive-field radius ``r``, so with ``halo >= r`` every kept pixel sees exactly the inputs it
sees in the untiled forward, and the tiled result EQUALS the untiled one (to float rounding): no blending,
no seams. To keep the pooling grid of a U-Net the same, the whole image is first reflect-padded to a
multiple of the net's stride exactly as ``net.forward`` pads it, and cores and halos are multiples of the
stride, so every window starts on the untiled forward's grid (and the net adds no padding of its own).

Cost: a window of ``tile`` px computes a core of ``tile - 2 halo`` px, so the work is
``(tile / (tile - 2 halo))^2`` times the untiled forward; memory is that of one window plus the output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fnflight.nets.unet import _reflect_pad_1d, crop_padding, pad_to_multiple

__all__ = [
    "DEFAULT_CORE",
    "default_tile",
    "has_global_basis",
    "receptive_radius",
    "tile_boxes",
    "tiled_apply",
    "tiled_forward",
]


def receptive_radius(net: nn.Module) -> int:
    """``(net.receptive_field - 1) // 2``: how far (input px) an output pixel of ``net`` looks.

    >>> from fnflight.nets.sid import SIDUNet
    >>> receptive_radius(SIDUNet(width=1 / 8, depth=2))
    9
    """
    rf = getattr(net, "receptive_field", None)
    if rf is None:
        raise ValueError(f"{type(net).__name__} has no receptive_field: pass halo= explicitly")
    return (int(rf) - 1) // 2


def _round_up(value: int, multiple: int) -> int:
    return -(-int(value) // multiple) * multiple


def tile_boxes(size: int, core: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` cores of ``core`` px that partition ``range(size)`` (the last may be shorter).

    >>> tile_boxes(10, 4)
    [(0, 4), (4, 8), (8, 10)]
    """
    return [(s, min(s + core, size)) for s in range(0, size, core)]


class _Plan:
    """The windows of a tiled run: the stride-padded inputs, the cores that partition them and the halo.

    ``windows()`` yields ``(window inputs, (y0, y1, x0, x1) core, (wy0, wx0) window origin, margins)`` with
    ``margins = (left, right, top, bottom)``: the stride padding this window holds on each side (non-zero only
    where it touches the image border).
    """

    def __init__(self, inputs: Sequence[Tensor], tile: int, halo: int, multiple: int) -> None:
        if not inputs:
            raise ValueError("inputs must hold at least one tensor")
        size = tuple(inputs[0].shape[-2:])
        for i, x in enumerate(inputs):
            if not isinstance(x, Tensor) or x.dim() < 3:
                raise ValueError(
                    f"inputs[{i}] must be a tensor (..., H, W), got {getattr(x, 'shape', type(x))}"
                )
            if tuple(x.shape[-2:]) != size:
                raise ValueError(
                    f"inputs[{i}] is {tuple(x.shape[-2:])}, inputs[0] is {size}: sizes must agree"
                )
        self.multiple = multiple = max(1, int(multiple))
        if halo < 0:
            raise ValueError(f"halo must be >= 0, got {halo}")
        self.halo = halo = _round_up(halo, multiple)
        self.tile = tile = int(tile) // multiple * multiple
        self.core = core = tile - 2 * halo
        if core < multiple:
            raise ValueError(
                f"tile={tile} leaves no core after a halo of {halo} px on each side: need tile >= "
                f"{2 * halo + multiple} (2 x halo + stride)"
            )
        h, w = size
        th, tw = (-h) % multiple, (-w) % multiple
        # the split of pad_to_multiple (the untiled forward's): (left, right, top, bottom)
        self.pads = (tw // 2, tw - tw // 2, th // 2, th - th // 2)
        self.height, self.width = h + th, w + tw
        # Windows are cut from the ORIGINAL inputs and only the part outside the image is reflected (one
        # reflection about the border, as pad_to_multiple makes it while the pad is smaller than the image):
        # no stride-padded copy of full-size inputs (a 12 MP burst of 8 frames is 1.2 GB per copy).
        self.lazy = th < h and tw < w
        self.xs = list(inputs) if self.lazy else [pad_to_multiple(x, multiple)[0] for x in inputs]
        self.rows, self.cols = tile_boxes(self.height, core), tile_boxes(self.width, core)

    def cut(self, x: Tensor, wy0: int, wy1: int, wx0: int, wx1: int) -> Tensor:
        """The window ``[wy0, wy1) x [wx0, wx1)`` (stride-padded image px) of one input."""
        if not self.lazy:
            return x[..., wy0:wy1, wx0:wx1]
        left, _, top, _ = self.pads
        h, w = x.shape[-2:]
        y0, y1, x0, x1 = wy0 - top, wy1 - top, wx0 - left, wx1 - left  # original image px
        window = x[..., max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)]
        if y0 < 0 or y1 > h:
            window = _reflect_pad_1d(window, max(0, -y0), max(0, y1 - h), dim=-2)
        if x0 < 0 or x1 > w:
            window = _reflect_pad_1d(window, max(0, -x0), max(0, x1 - w), dim=-1)
        return window

    def __len__(self) -> int:
        return len(self.rows) * len(self.cols)

    def windows(self, progress: bool = False, desc: str = "tiles"):
        from tqdm import tqdm

        h, w, halo = self.height, self.width, self.halo
        left, right, top, bottom = self.pads
        bar = tqdm(total=len(self), desc=desc, unit="tile", disable=not progress, leave=False)
        try:
            for y0, y1 in self.rows:
                wy0, wy1 = max(0, y0 - halo), min(h, y1 + halo)
                for x0, x1 in self.cols:
                    wx0, wx1 = max(0, x0 - halo), min(w, x1 + halo)
                    margins = (
                        left if wx0 == 0 else 0,
                        right if wx1 == w else 0,
                        top if wy0 == 0 else 0,
                        bottom if wy1 == h else 0,
                    )
                    windows = [self.cut(x, wy0, wy1, wx0, wx1) for x in self.xs]
                    yield windows, (y0, y1, x0, x1), (wy0, wx0), margins
                    bar.update(1)
        finally:
            bar.close()


@torch.no_grad()
def tiled_apply(
    fn: Callable[..., Tensor],
    inputs: Sequence[Tensor],
    tile: int,
    halo: int,
    multiple: int = 1,
    scale: int = 1,
    progress: bool = False,
    out_device: torch.device | str | None = None,
    pass_margins: bool = False,
) -> Tensor:
    """Run ``fn(*windows) -> (B, C, scale h, scale w)`` over the inputs in tiles (module docstring).

    Args:
        fn: image-to-image function of the windows of ``inputs`` (all cut at the same place).
        inputs: tensors ``(..., H, W)`` of one ``H, W`` (e.g. ``(B, 4, h, w)`` packed raw, or the no-flash,
            flash and std maps of a pair, or a ``(B, N, C, H, W)`` burst).
        tile: window size in input px (rounded down to a multiple of ``multiple``).
        halo: context on each side of a core (input px, rounded up to a multiple of ``multiple``); exact when
            ``>=`` the receptive-field radius.
        multiple: the net's stride (its pooling grid).
        scale: output px per input px (2 for SID on Bayer, 3 on X-Trans).
        progress: tqdm bar over tiles (on stderr).
        out_device: where the full output is assembled (default: the inputs' device).
        pass_margins: call ``fn(*windows, margins=(left, right, top, bottom))`` with the stride padding the
            window holds at the image border, for a function that must treat the true border itself (a
            reflect-padded filter, :func:`tiled_forward` of a global-basis net).

    Returns:
        ``(B, C, scale H, scale W)``.

    >>> from fnflight.nets.sid import SIDUNet
    >>> net = SIDUNet(width=1 / 8, depth=2).eval()
    >>> raw = torch.rand(1, 4, 60, 40)
    >>> out = tiled_apply(lambda x: net(x)["output"], [raw], tile=40, halo=9, multiple=4, scale=2)
    >>> torch.allclose(out, net(raw)["output"], atol=1e-5)
    True
    """
    plan = _Plan(inputs, tile, halo, multiple)
    scale = max(1, int(scale))
    out: Tensor | None = None
    for windows, (y0, y1, x0, x1), (wy0, wx0), margins in plan.windows(progress):
        y = fn(*windows, margins=margins) if pass_margins else fn(*windows)
        if out is None:
            out = torch.empty(
                *y.shape[:-2],
                plan.height * scale,
                plan.width * scale,
                dtype=y.dtype,
                device=out_device or y.device,
            )
        keep = y[..., (y0 - wy0) * scale : (y1 - wy0) * scale, (x0 - wx0) * scale : (x1 - wx0) * scale]
        out[..., y0 * scale : y1 * scale, x0 * scale : x1 * scale] = keep.to(out.device)
    assert out is not None
    return crop_padding(out, plan.pads, scale=scale)


def has_global_basis(net: nn.Module) -> bool:
    """Whether ``net`` is a flash/no-flash net whose kernel basis pools the whole image (DeepFnF, no-flash
    only): it states ``body_input`` and ``head`` and its encoder-decoder has a basis decoder."""
    body = getattr(net, "net", None)
    return (
        callable(getattr(net, "body_input", None))
        and callable(getattr(net, "head", None))
        and getattr(body, "basis_decoder", None) is not None
    )


@torch.no_grad()
def _global_basis_forward(
    net: nn.Module, inputs: Sequence[Tensor], tile: int, halo: int, progress: bool
) -> Tensor:
    """Exact tiled inference of a global-basis net in two passes over the same windows.

    The basis decoder sees the encoder only through global average pools (Table 3 "GP"). Pass 1 runs the
    encoder per window and sums each pooled map over the window's core (cores partition the stride-padded
    image and are multiples of the stride, so they partition every encoder level); the means give the basis
    of the whole image. Pass 2 runs the encoder and per-pixel decoder per window and filters with that basis.
    The filter reflects at the TRUE image border, so each window's stride padding at the border is cropped
    before filtering (``margins``) and its output there left to the final crop.
    """
    body = net.net
    stride = int(body.stride)
    plan = _Plan(inputs, tile, halo, stride)
    sums: list[Tensor] | None = None
    factors: list[int] = []
    for windows, (y0, y1, x0, x1), (wy0, wx0), _ in plan.windows(progress, desc="tiles (basis)"):
        bottleneck, skips = body.encoder(net.body_input(*windows))
        maps = body.basis_decoder.pooled_features(bottleneck, skips)
        parts = []
        factors = [windows[0].shape[-1] // m.shape[-1] for m in maps]  # each level's downsampling
        for m, f in zip(maps, factors, strict=True):
            core = m[..., (y0 - wy0) // f : (y1 - wy0) // f, (x0 - wx0) // f : (x1 - wx0) // f]
            parts.append(core.sum((-2, -1), keepdim=True, dtype=torch.float64))
        sums = parts if sums is None else [a + b for a, b in zip(sums, parts, strict=True)]
    assert sums is not None
    count = plan.height * plan.width
    pools = [(s * (f * f) / count).to(inputs[0].dtype) for s, f in zip(sums, factors, strict=True)]
    basis = body.basis_decoder.from_pools(pools)

    def window_forward(*windows: Tensor, margins: tuple[int, int, int, int]) -> Tensor:
        x = net.body_input(*windows)
        bottleneck, skips = body.encoder(x)
        pixel = body.pixel_decoder(bottleneck, skips)
        left, right, top, bottom = margins
        h, w = x.shape[-2:]
        inner = (slice(None), slice(None), slice(top, h - bottom), slice(left, w - right))
        out = net.head([t[inner] for t in windows], pixel[inner], basis)["output"]
        return F.pad(out, (left, right, top, bottom))  # the stride padding: cropped by tiled_apply

    return tiled_apply(window_forward, inputs, tile, halo, stride, 1, progress, pass_margins=True)


DEFAULT_CORE = 512  # px of each window's kept core when the tile size is left to the net's receptive field


def default_tile(net: nn.Module, core: int = DEFAULT_CORE) -> int:
    """``core`` + a halo of the receptive-field radius on each side, on the stride grid: the window size at
    which the halo costs at most ``((core + 2 halo) / core)^2`` the untiled work (full SID: 736 px, 2.1x).

    >>> from fnflight.nets.sid import SIDUNet
    >>> default_tile(SIDUNet(width=1 / 8))
    736
    """
    stride = int(getattr(net, "stride", 1))
    return _round_up(core, stride) + 2 * _round_up(receptive_radius(net), stride)


def tiled_forward(
    net: nn.Module,
    *inputs: Tensor,
    tile: int | None = None,
    halo: int | None = None,
    progress: bool = False,
    out_device: torch.device | str | None = None,
) -> Tensor:
    """``net(*inputs)["output"]`` computed in tiles (:func:`tiled_apply`; through ``net.forward_output`` where
    the net has that memory-lean inference form): the halo from the net's
    receptive field (exact), the grid from ``net.stride``, the output scale from ``net.upscale`` (default 1);
    ``tile=None`` is :func:`default_tile` (cores of 512 px).

    >>> from fnflight.nets.sid import SIDUNet
    >>> net = SIDUNet(width=1 / 16).eval()  # full depth: receptive radius 107 packed px
    >>> raw = torch.rand(1, 4, 150, 40)
    >>> torch.allclose(tiled_forward(net, raw, tile=256), net(raw)["output"], atol=1e-5)
    True
    """
    net_halo = receptive_radius(net) if halo is None else int(halo)
    if has_global_basis(net):
        return _global_basis_forward(
            net, inputs, default_tile(net) if tile is None else int(tile), net_halo, progress
        )
    # a net may state a memory-lean inference form of its output (KPNBurst.forward_output)
    lean = getattr(net, "forward_output", None)
    return tiled_apply(
        lean if callable(lean) else (lambda *x: net(*x)["output"]),
        inputs,
        default_tile(net) if tile is None else int(tile),
        net_halo,
        int(getattr(net, "stride", 1)),
        int(getattr(net, "upscale", 1)),
        progress,
        out_device,
    )
