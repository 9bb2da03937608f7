"""Helpers shared by the imaging tests (imported by name: pytest puts this folder on sys.path)."""

import torch


def gen(seed: int = 0) -> torch.Generator:
    """A CPU generator seeded with ``seed``: every random draw of a test is reproducible."""
    return torch.Generator().manual_seed(seed)
