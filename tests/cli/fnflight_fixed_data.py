"""A deterministic test-local DataModule of fixed flash/no-flash batches (no random degradation).

Every sample is drawn once from a seeded generator at construction, so every process (DDP rank) sees the same
data and the training is a pure function of the parameters; loaders do not shuffle. Importable by class path
``fnflight_fixed_data.FixedFnFData`` with ``tests/cli`` on ``PYTHONPATH`` (the DDP test runs ``fnflight`` in a
subprocess).
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

DIMS = (100.0, 50.0, 25.0, 12.5)


class FixedSamples(Dataset):
    def __init__(self, count: int, size: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.samples = []
        for i in range(count):
            dim = DIMS[i % len(DIMS)]
            target = torch.rand(3, size, size, generator=g) / dim
            noflash = target + 0.002 * torch.randn(3, size, size, generator=g)
            flash = 0.5 * torch.rand(3, size, size, generator=g) + target
            std = torch.full((3, size, size), 0.002)
            self.samples.append(
                {
                    "noflash": noflash,
                    "flash": flash,
                    "noflash_std": std,
                    "flash_std": std.clone(),
                    "target": target,
                    "gain": torch.tensor(dim),
                    "dim": torch.tensor(dim),
                    "color_matrix": torch.eye(3),
                    "index": torch.tensor(i),
                }
            )

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict:
        return self.samples[i]


class FixedFnFData(pl.LightningDataModule):
    """``count`` fixed samples of ``size`` px for training and the first ``val_count`` for validation."""

    def __init__(
        self, count: int = 8, val_count: int = 4, size: int = 32, batch_size: int = 2, seed: int = 0
    ):
        super().__init__()
        self.data = FixedSamples(count, size, seed)
        self.val = torch.utils.data.Subset(self.data, range(val_count))
        self.batch_size = batch_size

    def train_dataloader(self) -> DataLoader:
        # Lightning always shuffles the DistributedSampler it adds to training loaders; bring our own, in
        # order.
        sampler = None
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            sampler = DistributedSampler(self.data, shuffle=False, drop_last=True)
        return DataLoader(
            self.data, batch_size=self.batch_size, sampler=sampler, shuffle=False, drop_last=True
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val, batch_size=self.batch_size, shuffle=False)


class RecordingFixedFnFData(FixedFnFData):
    """Debug twin: appends ``rank: indices`` of every transferred training batch to ``record``."""

    def __init__(self, record: str = "", **kwargs):
        super().__init__(**kwargs)
        self.record = record

    def on_after_batch_transfer(self, batch, dataloader_idx):
        if self.record and self.trainer is not None and self.trainer.training:
            with open(self.record, "a") as f:
                f.write(f"{self.trainer.global_rank}: {batch['index'].tolist()}\n")
        return batch
