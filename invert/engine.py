"""The one fitting loop: optimize a prior's parameters so its image minimizes an energy.

Every task (denoising, super-resolution, inpainting, feature inversion) is `fit(prior, energy)`.
"""
from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
from tqdm.auto import tqdm

from . import threads
from .energies import Energy
from .errors import InvertError, NotFiniteError, SettingError
from .metrics import psnr
from .stopping import DiscrepancyStop, LuminanceDiscrepancyStop, VarianceStop

OPTIMIZERS = {"adam": torch.optim.Adam, "nadam": torch.optim.NAdam}
LOG_EVERY_S = 30.0  # not on a terminal, progress is a line this often


class LogLines:
    """Progress where the bar is off because stderr is not a terminal (a log, a pipe, a batch job; a notebook
    has its widget): a line when the first step is done, then one every LOG_EVERY_S seconds, each with the time
    left at the pace so far."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled, self.said = total, enabled, -math.inf

    def update(self, done: int, seconds: float) -> None:
        if not self.enabled or (done > 1 and seconds - self.said < LOG_EVERY_S):
            return
        self.said = seconds
        left = seconds / done * (self.total - done)
        when = f"{left / 60:.0f} min" if left >= 90 else f"{left:.0f} s"
        try:
            print(f"invert: step {done} of {self.total} after {seconds:.0f} s; about {when} left at this pace",
                  file=sys.stderr, flush=True)
        except OSError:  # a log that went away costs the line, not the fit
            pass

# (step, loss, raw output of the step, the output the fit shows: its moving average where one is kept, else the
# raw output) → True to stop early
Callback = Callable[[int, float, torch.Tensor, torch.Tensor], bool | None]


@dataclass
class FitConfig:
    """Engine settings; a prior's preset supplies defaults, the caller overrides them."""

    steps: int = 1000
    lr: float = 0.01
    optimizer: str = "adam"  # adam | nadam (MACO's choice)
    schedule: str | None = None  # None (constant) or "cosine"
    reg_noise_std: float = 0.0  # DIP's per-step perturbation of the generator input
    ema: float = 0.0  # exponential moving average of outputs; 0 turns it off
    ema_warmup: bool = False  # decay min(ema, (1+t)/(10+t)): early outputs fade fast instead of lingering
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    amp: bool = False  # bfloat16 autocast for the prior's forward (CUDA, and CPUs with bf16 units; see `uses_amp`)
    channels_last: bool | None = None  # NHWC layout for the prior's convolutions; None: on CPU only (faster there)
    guard: bool = True  # back off when the loss jumps (DIP's divergence fix)
    guard_every: int = 50  # steps between checkpoints of the last good parameters
    guard_ratio: float = 10 ** 0.5  # a loss this many times the checkpoint's counts as divergence
    progress: bool = False
    auto_stop: bool = False  # stop by itself, no reference needed: discrepancy rule or output variance (ES-WMV)
    stop_window: int = 100  # outputs in the variance window
    stop_patience: int = 300  # steps without a variance near its minimum before stopping
    stop_tolerance: float = 0.03  # "near": within this fraction of the minimum
    stop_residual: float | None = None  # denoising: stop when the data term falls to this (discrepancy principle)
    stop_extend: float = 1.0  # ... or run on to this many times the step it fell there (the average lags the fit)
    stop_luminance: bool = False  # the discrepancy rule measures the luminance residual alone (camera noise)

    def __post_init__(self) -> None:
        if int(self.steps) != self.steps or self.steps < 1:
            raise SettingError("steps", f"must be a whole number, at least 1, got {self.steps}")
        if not 0 <= self.lr < math.inf:
            raise SettingError("lr", f"must be a finite learning rate, 0 or more, got {self.lr}")
        if self.stop_extend < 1:
            raise SettingError("stop_extend", f"must be at least 1, got {self.stop_extend}")

    @classmethod
    def build(cls, defaults: dict[str, Any] | None = None, **overrides: Any) -> FitConfig:
        """Defaults (a preset's "fit" row) updated by the overrides that are not None."""
        known = {f.name for f in fields(cls)}
        values = {**(defaults or {}), **{k: v for k, v in overrides.items() if v is not None}}
        unknown = set(values) - known
        if unknown:
            raise InvertError(f"unknown fit settings: {', '.join(sorted(unknown))}")
        return cls(**values)


@dataclass
class FitResult:
    final: torch.Tensor  # the last output
    best: torch.Tensor  # the output at the lowest loss
    ema: torch.Tensor  # the moving average (the last output when EMA is off)
    best_step: int
    history: list[dict[str, float]] = field(default_factory=list)
    steps_run: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    stopped_by: str = "steps"  # steps | auto | callback | interrupt
    chosen: torch.Tensor | None = None  # the output auto-stop picked
    chosen_step: int | None = None
    noise_level_step: int | None = None  # where the residual reached the noise level (discrepancy rule)
    watched: bool = False  # an auto-stop rule watched the fit (asked for, and the prior stops early)
    backoffs: int = 0
    config: FitConfig | None = None
    optimizer_state: dict | None = None  # to run the fit on (see `fit`)

    @property
    def output(self) -> torch.Tensor:
        """The image to show: auto-stop's pick, else the moving average when the config used one, else the last output."""
        if self.chosen is not None:
            return self.chosen
        return self.ema if self.config is not None and self.config.ema > 0 else self.final

    def summary(self) -> dict[str, Any]:
        return {
            "steps_run": self.steps_run,
            "seconds": round(self.seconds, 3),
            "best_step": self.best_step,
            "interrupted": self.interrupted,
            "stopped_by": self.stopped_by,
            "stopped_at": self.steps_run,
            "output_step": self.chosen_step if self.chosen is not None else self.steps_run - 1,
            "noise_level_step": self.noise_level_step,
            "backoffs": self.backoffs,
            "config": asdict(self.config) if self.config else None,
        }


def ema_decay(cfg: FitConfig, step: int) -> float:
    """The moving average's decay at `step`; the warm-up (as in TensorFlow's ExponentialMovingAverage)
    keeps the first, poor outputs from dominating it for hundreds of steps."""
    return min(cfg.ema, (1 + step) / (10 + step)) if cfg.ema_warmup else cfg.ema


def update_ema(average: torch.Tensor | None, output: torch.Tensor, cfg: FitConfig, step: int) -> torch.Tensor | None:
    """The moving average after `step`'s output (updated in place); None while averaging is off."""
    if cfg.ema <= 0:
        return None
    if average is None:
        return output.clone()
    decay = ema_decay(cfg, step)
    return average.mul_(decay).add_(output, alpha=1 - decay)


def uses_amp(cfg: FitConfig, device: torch.device) -> bool:
    """Whether the fit runs its prior in bfloat16: when asked, and where bfloat16 pays (`bf16_pays`)."""
    return cfg.amp and bf16_pays(device)


def bf16_pays(device: torch.device) -> bool:
    """Not on a CPU without bf16 instructions, where torch emulates bf16 and a step gets slower, not faster."""
    return device.type != "cpu" or torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def parse_device(name: str) -> torch.device | None:
    """The device `name` spells (None for "auto"), whether or not this machine has it: a study's workers may."""
    if name == "auto":
        return None
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):  # meta, xla …: nothing this fits on
        raise SettingError("device", f"{name!r} is not a device; use auto, cpu, cuda, cuda:N or mps")
    return device


def resolve_device(name: str) -> torch.device:
    """"auto" (a CUDA GPU when there is one, else the CPU) or a device this machine has."""
    device = parse_device(name)
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda" and not (torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()):
        raise SettingError("device", f"{name!r} is not on this machine ({torch.cuda.device_count()} CUDA GPUs); use cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise SettingError("device", "'mps' is not available in this build of torch; use cpu")
    return device


class _Guard:
    """Keeps the last good parameters; on a loss jump restores them and halves the learning rate."""

    def __init__(self, prior: torch.nn.Module, optimizer: torch.optim.Optimizer, cfg: FitConfig):
        self.prior, self.optimizer, self.cfg = prior, optimizer, cfg
        self.state: tuple[dict, dict] | None = None
        self.loss = math.inf
        self.backoffs = 0

    def check(self, step: int, loss: float) -> bool:
        """True when the step diverged and the last good state was restored."""
        if self.state is not None and (not math.isfinite(loss) or self._jumped(loss)):
            self.prior.load_state_dict(self.state[0])
            self.optimizer.load_state_dict(self.state[1])
            for group in self.optimizer.param_groups:
                group["lr"] *= 0.5
            self.backoffs += 1
            return True
        if not math.isfinite(loss) and step == 0:  # nothing has been updated yet: the inputs are at fault
            raise NotFiniteError("the energy is not finite before the first step: the model's weights, the "
                                 "target or the prior's settings hold NaN or infinite values")
        if not math.isfinite(loss):
            raise NotFiniteError(f"the loss is not finite at step {step}; lower the learning rate (lr)")
        # checkpoints start after a warm-up: Adam's first steps may raise the loss for a while
        if step and step % self.cfg.guard_every == 0:
            self.state = (copy.deepcopy(self.prior.state_dict()), copy.deepcopy(self.optimizer.state_dict()))
            self.loss = loss
        return False

    def _jumped(self, loss: float) -> bool:
        """A rise of (ratio − 1) times the checkpoint's magnitude; works for negative energies too."""
        return loss - self.loss > (self.cfg.guard_ratio - 1) * abs(self.loss)


Stopper = DiscrepancyStop | VarianceStop


def stop_rule(cfg: FitConfig, energy: Energy) -> Stopper | None:
    """The auto-stop rule `cfg` asks for, for `fit(..., stop=)`: the discrepancy principle when it names a residual
    (on the luminance's when `stop_luminance`), else the output variance (ES-WMV); None when auto_stop is off."""
    if not cfg.auto_stop:
        return None
    if cfg.stop_residual is not None and cfg.stop_luminance:
        return LuminanceDiscrepancyStop(energy.observation, cfg.stop_residual, cfg.stop_extend)
    if cfg.stop_residual is not None:
        return DiscrepancyStop(cfg.stop_residual, cfg.stop_extend)
    return VarianceStop(cfg.stop_window, cfg.stop_patience, cfg.stop_tolerance)


def fit(
    prior: torch.nn.Module,
    energy: Energy,
    config: FitConfig | None = None,
    *,
    reference: torch.Tensor | None = None,
    callbacks: tuple[Callback, ...] = (),
    optimizer_state: dict | None = None,
    stop: Stopper | None = None,
) -> FitResult:
    """Minimize `energy(prior())` (+ the prior's own regularizer) over the prior's parameters with Adam.

    `stop` ends the fit by itself and picks the output (`stop_rule(cfg, energy)` makes the one a config asks
    for); a prior whose answer is its energy's minimum (`stops_early` False, TV) runs its budget regardless.
    `reference` (a clean image) only feeds the PSNR in the history; it never touches the fit.
    `optimizer_state` (an earlier result's) runs a fit on with the optimizer's moments where they were: a
    fresh Adam's first steps move every parameter by about the learning rate and undo much of the fit.
    Ctrl-C ends the loop early and still returns the best result so far.
    The first fit of a process sets torch's CPU threads by the command line's policy, unless they were chosen
    (`invert.threads.set_threads`).
    """
    threads.apply()
    cfg = config or FitConfig.build(getattr(prior, "fit_defaults", {}))
    device = resolve_device(cfg.device)
    prior = prior.to(device)
    if cfg.channels_last or (cfg.channels_last is None and device.type == "cpu"):
        prior = prior.to(memory_format=torch.channels_last)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # the shapes never change during a fit
    energy = energy.to(device)
    # kept apart from the data term, which the discrepancy rule must see alone
    regularizer = prior.regularizer()
    regularizer = regularizer.to(device) if regularizer is not None else None
    params = [p for p in prior.parameters() if p.requires_grad]
    if not params:
        raise InvertError("the prior has no trainable parameters: nothing to fit (were they frozen with "
                          "requires_grad_(False)?)")
    if cfg.schedule not in (None, "cosine"):
        raise SettingError("schedule", f"{cfg.schedule!r} is unknown; use 'cosine' or none")
    if cfg.optimizer not in OPTIMIZERS:
        raise SettingError("optimizer", f"{cfg.optimizer!r} is unknown; use one of {', '.join(OPTIMIZERS)}")
    optimizer = OPTIMIZERS[cfg.optimizer](params, lr=cfg.lr)
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, cfg.steps) if cfg.schedule else None
    generator = torch.Generator(device=device).manual_seed(cfg.seed)
    guard = _Guard(prior, optimizer, cfg) if cfg.guard else None
    ref = reference.to(device) if reference is not None else None
    stopper = stop if getattr(prior, "stops_early", True) else None
    amp = uses_amp(cfg, device)

    history: list[dict[str, float]] = []
    best_loss, best, best_step = math.inf, None, 0
    ema: torch.Tensor | None = None
    last: torch.Tensor | None = None
    stopped_by = "steps"
    start = time.perf_counter()
    # on a terminal only (disable=None), so logs and CI output stay clean
    bar = tqdm(total=cfg.steps, disable=None if cfg.progress else True, unit="step", dynamic_ncols=True,
               leave=False, mininterval=0.5)
    lines = LogLines(cfg.steps, cfg.progress and bar.disable)  # and a line now and then where the bar is off
    # random transforms inside energies draw from the global generator: seed it for this fit only
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(cfg.seed)
        try:
            for step in range(cfg.steps):
                optimizer.zero_grad(set_to_none=True)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                    x = prior(cfg.reg_noise_std, generator)
                x = x.float()
                data_t = energy(x)
                loss_t = data_t if regularizer is None else data_t + regularizer(x)
                loss = float(loss_t.detach())
                if guard is not None and guard.check(step, loss):
                    continue
                loss_t.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()

                last = x.detach().clone()  # a snapshot: pixel priors return their parameter itself
                ema = update_ema(ema, last, cfg, step)
                if loss < best_loss:
                    best_loss, best, best_step = loss, last, step
                record = {"step": step, "seconds": time.perf_counter() - start, "loss": loss}
                if regularizer is not None:
                    record["data"] = float(data_t.detach())
                if ref is not None:
                    record["psnr"] = psnr(last, ref)
                    if ema is not None:
                        record["psnr_ema"] = psnr(ema, ref)
                history.append(record)
                bar.update(1)
                lines.update(len(history), record["seconds"])
                if step % 10 == 0 or step == cfg.steps - 1:
                    bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k in ("loss", "psnr", "psnr_ema")})
                shown = ema if ema is not None else last
                if stopper is not None:
                    done = stopper(step, record.get("data", loss), last, shown)
                    if math.isfinite(getattr(stopper, "variance", math.nan)):
                        record["variance"] = stopper.variance
                    if done:
                        stopped_by = "auto"
                        break
                if any(cb(step, loss, last, shown) for cb in callbacks):
                    stopped_by = "callback"
                    break
        except KeyboardInterrupt:
            if not history:  # no step done: no result to keep, the interrupt goes on
                raise
            stopped_by = "interrupt"
        finally:
            bar.close()
    if not history:
        raise RuntimeError("the fit ended before its first step")
    return FitResult(
        final=last.cpu(),
        best=(best if best is not None else last).cpu(),  # None when no loss was finite
        ema=(ema if ema is not None else last).cpu(),
        best_step=best_step,
        history=history,
        steps_run=len(history),
        seconds=time.perf_counter() - start,
        interrupted=stopped_by == "interrupt",
        stopped_by=stopped_by,
        backoffs=guard.backoffs if guard else 0,
        config=cfg,
        optimizer_state=optimizer.state_dict(),
        chosen=stopper.image.cpu() if stopper is not None and stopper.image is not None else None,
        chosen_step=stopper.chosen_step if stopper is not None and stopper.image is not None else None,
        noise_level_step=getattr(stopper, "reached_step", None),
        watched=stopper is not None,
    )
