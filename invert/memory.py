"""Refuse an image too large for memory before spending minutes on it.

The prior is built on PyTorch's meta device (no memory), run once with hooks that add up every layer's
output: what autograd keeps for the backward pass. Parameters count four times (weights, gradients and
Adam's two moments).
"""
from __future__ import annotations

import os
from typing import Callable

import torch
from torch import nn

from .errors import InvertError


def estimate_fit_bytes(build: Callable[[], nn.Module]) -> int:
    """Approximate peak bytes of fitting the prior that `build()` returns (activations + optimizer)."""
    with torch.device("meta"):
        prior = build()
    activations = 0

    def count(_module, _inputs, output):
        nonlocal activations
        if isinstance(output, torch.Tensor):
            activations += output.numel() * output.element_size()

    leaves = [m for m in prior.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(count) for m in leaves]
    try:
        with torch.no_grad():
            image = prior()
    finally:
        for h in handles:
            h.remove()
    params = sum(p.numel() * p.element_size() for p in prior.parameters())
    buffers = sum(b.numel() * b.element_size() for b in prior.buffers())
    # activations are kept for backward and their gradients live at the same time at the peak
    return int(2 * activations + 4 * params + buffers + 8 * image.numel() * image.element_size())


def available_bytes(device: torch.device) -> int:
    """Free memory on the device: CUDA's free memory, or Linux's MemAvailable."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def ensure_fits(need: int, device: torch.device | str, what: str, fix: str) -> None:
    """Refuse, in one line that says `fix`, work whose `need` bytes would not fit in the device's free memory."""
    device = torch.device(device)
    have = available_bytes(device)
    if need > 0.9 * have:
        raise InvertError(f"{what} needs about {need / 2**30:.1f} GiB but {device.type} has {have / 2**30:.1f} GiB "
                          f"free; {fix}")


def ensure_fit_fits(build: Callable[[], nn.Module], device: torch.device | str, what: str, fix: str) -> None:
    """`ensure_fits` for fitting the prior that `build()` returns (estimated without allocating it)."""
    ensure_fits(estimate_fit_bytes(build), device, what, fix)
