"""Input checks shared by the ops: each raises ``TypeError``/``ValueError`` naming the argument, its shape and
what was expected (kornia style)."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def check_tensor(x: object, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


def check_ndim(x: torch.Tensor, name: str, ndims: Sequence[int], layout: str) -> None:
    if x.ndim not in ndims:
        raise ValueError(f"{name} must have shape {layout}, got {x.ndim}-D shape {tuple(x.shape)}")


def check_same(ref: torch.Tensor, ref_name: str, others: dict[str, torch.Tensor]) -> None:
    """Same dtype and device as ``ref`` for every tensor in ``others``."""
    for name, x in others.items():
        if x.device != ref.device:
            raise ValueError(
                f"{name} is on device {x.device} but {ref_name} is on {ref.device}; expected the same device"
            )
        if x.dtype != ref.dtype:
            raise TypeError(
                f"{name} has dtype {x.dtype} but {ref_name} has {ref.dtype}; expected the same dtype"
            )


def check_dim(x: torch.Tensor, name: str, dim: int, expected: int, what: str) -> None:
    if x.shape[dim] != expected:
        raise ValueError(
            f"{name} has shape {tuple(x.shape)}: dimension {dim} ({what}) is {x.shape[dim]}, "
            f"expected {expected}"
        )


def check_reflect(h: int, w: int, pad: int, name: str, why: str) -> None:
    """Reflect padding by ``pad`` needs ``pad < H`` and ``pad < W``."""
    if pad >= h or pad >= w:
        raise ValueError(
            f"{name} is {h}x{w} (HxW), too small for reflect padding by {pad} ({why}); "
            f"expected H and W > {pad}"
        )


def check_odd_square(x: torch.Tensor, name: str, layout: str) -> int:
    k1, k2 = x.shape[-2], x.shape[-1]
    if k1 != k2 or k1 % 2 == 0:
        raise ValueError(f"{name} must have odd square kernels {layout}, got shape {tuple(x.shape)}")
    return k1


def check_positive_int(v: object, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{name} must be a positive int, got {v!r}")
    return v


def autocast_off(device: torch.device):
    """Context manager disabling autocast on ``device``'s type (ops compute in float32 under autocast)."""
    return torch.autocast(device_type=device.type, enabled=False)


def harmonise(ref_name: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Check device (always) and dtype (outside autocast) against the first tensor; under autocast cast all
    to float32 instead of requiring equal dtypes (a net's bf16 outputs meet a float32 image)."""
    ref = tensors[ref_name]
    if torch.is_autocast_enabled(ref.device.type):
        for name, x in tensors.items():
            if x.device != ref.device:
                raise ValueError(
                    f"{name} is on device {x.device} but {ref_name} is on {ref.device}; "
                    "expected the same device"
                )
        dt = torch.float64 if any(x.dtype == torch.float64 for x in tensors.values()) else torch.float32
        return {k: v.to(dt) for k, v in tensors.items()}
    check_same(ref, ref_name, {k: v for k, v in tensors.items() if k != ref_name})
    return tensors
