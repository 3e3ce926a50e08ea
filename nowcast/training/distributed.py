"""Scale-out with ``torchrun``: process group, DDP wrapper and deterministic sharding.

Under ``torchrun --nproc-per-node N`` every process sees ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK`` in its environment. :func:`setup` then joins
the process group (NCCL on GPUs, Gloo on CPUs) and gives each process its own
GPU. Each epoch's sample order is one seeded permutation shared by all ranks,
then dealt out round-robin, so rank ``r`` trains on items ``r, r+N, r+2N...``
(``DistributedSampler`` style, but reproducible and resumable mid-epoch).
Rank 0 alone writes files and reports progress. A plain ``python`` run has
no process group and every helper here reduces to the single-process case.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Sampler

from nowcast.data.dataset import from_workers
from nowcast.models.device import select_device

_TRAIN_STREAM = 1  # separates the train-order and validation-subset random streams
_VAL_STREAM = 2


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in a (possibly one-process) job.

    Attributes:
        rank: Global index of this process, 0 to ``world_size - 1``.
        world_size: Number of processes.
        local_rank: Index of this process on its machine (its GPU number).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """True on the process that writes files and reports progress."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """True when a process group with more than one process is running."""
        return self.world_size > 1


def launched_by_torchrun() -> bool:
    """True when ``torchrun`` (or ``torch.distributed.run``) started this process."""
    return all(key in os.environ for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))


def group_running() -> bool:
    """True when a process group has been initialised in this process."""
    return dist.is_available() and dist.is_initialized()


def backend() -> str | None:
    """The running process group's backend (``nccl`` or ``gloo``), or ``None`` without one."""
    return str(dist.get_backend()) if group_running() else None


def context() -> DistContext:
    """The current process's place in the job (single-process when no group is running)."""
    if not group_running():
        return DistContext()
    local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
    return DistContext(dist.get_rank(), dist.get_world_size(), local)


def setup(device_name: str) -> tuple[DistContext, torch.device]:
    """Join the torchrun process group if there is one, and pick this process's device.

    Args:
        device_name: ``TrainConfig.device``; under torchrun, CUDA means the GPU
            numbered ``LOCAL_RANK``.

    Returns:
        The context and the device this process should train on.
    """
    device = select_device(device_name)
    if not launched_by_torchrun():
        return DistContext(), device
    local_rank = int(os.environ["LOCAL_RANK"])
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not group_running():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return context(), device


def teardown() -> None:
    """Leave the process group (a no-op without one)."""
    if group_running():
        dist.destroy_process_group()


def wrap_model(model: nn.Module, device: torch.device) -> nn.Module:
    """``DistributedDataParallel(model)`` in a multi-process job, ``model`` otherwise."""
    if not context().enabled:
        return model
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    """Element-wise sum of ``values`` over all processes (identity in a single process)."""
    if context().enabled:
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def barrier() -> None:
    """Wait until every process gets here (a no-op in a single process)."""
    if context().enabled:
        dist.barrier()


def epoch_order(num_items: int, count: int, seed: int, epoch: int) -> np.ndarray:
    """The item order of one epoch: ``count`` items (0 = all) from seeded permutations.

    The order depends only on ``(seed, epoch)``, never on global random state,
    so a resumed run sees exactly the order of an uninterrupted one. When
    ``count`` exceeds ``num_items``, further permutations are appended.
    """
    count = count or num_items
    rng = np.random.default_rng([seed & 0xFFFFFFFF, epoch, _TRAIN_STREAM])
    rounds = math.ceil(count / num_items) if num_items else 0
    if rounds == 0:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([rng.permutation(num_items) for _ in range(rounds)])[:count]


class EpochSampler(Sampler[int]):
    """Seeded per-epoch sample order, sharded across ranks, resumable at any batch.

    Args:
        num_items: Windows in the dataset.
        samples_per_epoch: Windows drawn per epoch over all ranks (0 = all, once).
        seed: Run seed.
        ctx: Rank and world size (default: the current job).
    """

    def __init__(
        self, num_items: int, samples_per_epoch: int, seed: int, ctx: DistContext | None = None
    ) -> None:
        self.num_items = num_items
        self.samples_per_epoch = samples_per_epoch
        self.seed = seed
        self.ctx = ctx or context()
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Draw epoch ``epoch``'s order and skip its first ``start`` items of this rank."""
        self.epoch = epoch
        self.start = start

    def _shard(self) -> np.ndarray:
        order = epoch_order(self.num_items, self.samples_per_epoch, self.seed, self.epoch)
        world = self.ctx.world_size
        padded = math.ceil(order.size / world) * world
        if padded > order.size:  # every rank gets as many items (DDP steps in lock-step)
            order = np.resize(order, padded)
        return order[self.ctx.rank :: world]

    def __iter__(self) -> Iterator[int]:
        return iter(self._shard()[self.start :].tolist())

    def __len__(self) -> int:
        return max(0, self._shard().size - self.start)


class SubsetSampler(Sampler[int]):
    """A fixed, seeded subset of ``count`` items (0 = all), in index order, sharded by rank.

    Validation uses the same windows at every evaluation so losses are
    comparable from epoch to epoch. Ranks get disjoint shards without padding;
    the loop sums losses and counts over ranks.
    """

    def __init__(
        self, num_items: int, count: int, seed: int, ctx: DistContext | None = None
    ) -> None:
        rng = np.random.default_rng([seed & 0xFFFFFFFF, _VAL_STREAM])
        if count and count < num_items:
            items = np.sort(rng.permutation(num_items)[:count])
        else:
            items = np.arange(num_items)
        ctx = ctx or context()
        self.items = items[ctx.rank :: ctx.world_size].tolist()

    def __iter__(self) -> Iterator[int]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def epoch_batches(loader: Iterable[Any], epoch: int, skip: int) -> Iterator[Any]:
    """The batches of epoch ``epoch``, from batch ``skip`` on (a resume continues mid-epoch).

    With an :class:`EpochSampler` the skipped windows are never loaded;
    other loaders are iterated and the first ``skip`` batches dropped. An expected
    error of a DataLoader worker stays one line (:func:`~nowcast.data.dataset.from_workers`).
    """
    dataset_set_epoch = getattr(getattr(loader, "dataset", None), "set_epoch", None)
    if dataset_set_epoch is not None:
        dataset_set_epoch(epoch)  # the dataset's augmentation stream follows the epoch
    sampler = getattr(loader, "sampler", None)
    if isinstance(sampler, EpochSampler):
        sampler.set_epoch(epoch, start=skip * int(getattr(loader, "batch_size", 1) or 1))
        return from_workers(loader)
    sampler_set_epoch = getattr(sampler, "set_epoch", None)
    if sampler_set_epoch is not None:
        sampler_set_epoch(epoch)
    return itertools.islice(from_workers(loader), skip, None)


def steps_per_epoch(loader: Iterable[Any]) -> int:
    """Batches in one full epoch (the sampler's resume offset aside)."""
    sampler = getattr(loader, "sampler", None)
    if isinstance(sampler, EpochSampler):
        sampler.set_epoch(sampler.epoch)
    return len(loader)  # type: ignore[arg-type]
