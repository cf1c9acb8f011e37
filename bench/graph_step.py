"""How fast can one DIP step go on a GPU? The paper preset's step captured in a CUDA graph, timed beside
the same step run eagerly, in one process.

    python -m bench graph_step [--size 512] [--steps 3000] [--preset paper-denoise] [--device cuda]

On an H100 the eager step of the paper preset takes 15–16 ms at every size from 128² to 512²
(bench/results/speed-cuda-*.json): it is bound by launching several hundred small kernels, not by
arithmetic. A CUDA graph launches them all at once. The step timed here is the core of the engine's:
input perturbation (drawn outside the graph into a static buffer), forward, mean squared error to a
fixed target, backward, Adam; without the engine's moving average, output copy and divergence guard, and
without any regularizer of the preset. Timed three ways: eager with plain Adam, as the engine steps;
graph replays (capturable Adam) reading the loss back every step, as the engine does for its guard and
auto-stop; graph replays reading it back every 50 steps. `--device cpu` runs only the eager timing (a
check of the script, not a benchmark).
Writes bench/results/graph_step-<device>-<date>.json.
"""
from __future__ import annotations

import argparse
import time

import torch

from invert import priors
from invert.engine import resolve_device

from .common import save_result

SMOKE = ["--size", "32", "--steps", "2", "--eager-steps", "2"]
REQUIRES = ["cuda"]  # a CUDA graph needs a GPU


class Step:
    """One optimization step of a DIP prior on fixed tensors, eager or replayed from a CUDA graph."""

    def __init__(self, preset: str, size: int, device: torch.device, capturable: bool = False):
        self.prior = priors.create("dip", preset=preset, size=(size, size), seed=0).to(device)
        self.std = float(self.prior.fit_defaults.get("reg_noise_std", 0.0))
        gen = torch.Generator().manual_seed(0)
        self.target = torch.rand(1, 3, size, size, generator=gen).to(device)
        self.net_in = self.prior.net_input.clone()  # static input buffer, refilled before every step
        self.noise = torch.Generator(device=device).manual_seed(0)
        params = [p for p in self.prior.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(params, lr=0.01, capturable=capturable)
        self.loss = torch.zeros((), device=device)
        self.graph: torch.cuda.CUDAGraph | None = None

    def perturb(self) -> None:
        """DIP's per-step input noise, outside the graph: z + σ·n into the static buffer."""
        torch.randn(self.net_in.shape, generator=self.noise, device=self.net_in.device, out=self.net_in)
        self.net_in.mul_(self.std).add_(self.prior.net_input)

    def compute(self) -> None:
        x = self.prior.net(self.net_in)[..., : self.target.shape[-2], : self.target.shape[-1]]
        loss = torch.mean((x - self.target) ** 2)
        loss.backward()
        self.optimizer.step()
        self.loss.copy_(loss.detach())

    def eager(self) -> None:
        self.perturb()
        self.optimizer.zero_grad(set_to_none=False)
        self.compute()

    def capture(self, warmup: int = 3) -> None:
        """Warm up on a side stream (as PyTorch's whole-network capture recipe does), then record one step."""
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(warmup):
                self.eager()
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        # gradients set to None: the captured backward allocates them in the graph's pool and every
        # replay overwrites them, so no zeroing is needed inside the graph
        self.optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(self.graph):
            self.compute()

    def replay(self) -> None:
        self.perturb()
        self.graph.replay()


def timed(run, steps: int, read_every: int, step: Step, device: torch.device) -> tuple[float, float]:
    """Seconds for `steps` calls of `run`, reading the loss back to the host every `read_every` steps."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    loss = float("nan")
    for i in range(steps):
        run()
        if (i + 1) % read_every == 0:
            loss = float(step.loss)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, loss


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="paper-denoise")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=3000, help="steps per graph timing")
    ap.add_argument("--eager-steps", type=int, default=300)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args(argv)
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    rows = []

    eager = Step(args.preset, args.size, device)
    for _ in range(3):
        eager.eager()
    seconds, loss = timed(eager.eager, args.eager_steps, 1, eager, device)
    rows.append({"mode": "eager, loss read every step", "steps": args.eager_steps, "seconds": round(seconds, 3),
                 "ms_per_step": round(1000 * seconds / args.eager_steps, 3), "last_loss": loss})
    if device.type == "cuda":
        for read_every in (1, 50):
            graphed = Step(args.preset, args.size, device, capturable=True)
            graphed.capture()
            seconds, loss = timed(graphed.replay, args.steps, read_every, graphed, device)
            rows.append({"mode": f"CUDA graph, loss read every {read_every} step(s)", "steps": args.steps,
                         "seconds": round(seconds, 3), "ms_per_step": round(1000 * seconds / args.steps, 3),
                         "last_loss": loss})
    for r in rows:
        print(f"{r['mode']:<40} {r['steps']:>5} steps {r['seconds']:8.2f} s  {r['ms_per_step']:7.2f} ms/step  "
              f"loss {r['last_loss']:.4g}", flush=True)
    gpu = torch.cuda.get_device_name() if device.type == "cuda" else None
    save_result("graph_step", {"device": str(device), "gpu": gpu, "preset": args.preset, "size": args.size,
                               "rows": rows})


if __name__ == "__main__":
    main()
