"""Optimizer race on 2-D surfaces: the real torch.optim classes stepping one (2,) parameter.

A Surface is a function of two coordinates with a plot range, a default start, its minima and a
default learning rate per optimizer chosen so that, on the page's defaults, SGD zig-zags across the
narrow valley, momentum overshoots and settles, and RMSprop/Adam head more directly. `race` runs
several optimizers from one shared start and records where each one is at every step.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from playground.config import OPTIMIZERS, OptimConfig
from playground.errors import ConfigError
from playground.train.optim import LABELS, make_optimizer

MAX_STEPS = 1000           # longest race a page may ask for
ESCAPE = 10.0              # a trajectory this many plot half-widths from the plot's centre has diverged
RACERS = ("sgd", "momentum", "rmsprop", "adam")     # the page's default line-up


@dataclass(frozen=True)
class Surface:
    name: str                                  # key of SURFACES
    title: str                                 # shown in the picker
    fn: Callable[[torch.Tensor], torch.Tensor]  # xy (..., 2) -> f (...)
    x_range: tuple[float, float]               # plot range of x
    y_range: tuple[float, float]               # plot range of y
    start: tuple[float, float]                 # default shared start point
    minima: list[tuple[float, float]]          # every local minimum inside the plot range
    about: str                                 # one sentence: the formula and what it is for
    look_for: str = ""                         # one sentence: what the race shows on the defaults
    lrs: dict[str, float] = field(default_factory=dict)  # default learning rate per optimizer name
    steps: int = 100                           # default number of steps

    @property
    def fmin(self) -> float:
        """The lowest value over the minima (f*)."""
        return min(float(self.fn(torch.tensor(m, dtype=torch.float64))) for m in self.minima)


def _quadratic_fn(condition: float) -> Callable[[torch.Tensor], torch.Tensor]:
    def fn(xy: torch.Tensor) -> torch.Tensor:
        x, y = xy[..., 0], xy[..., 1]                   # (...), (...)
        return 0.5 * (x ** 2 / condition + y ** 2)      # (...)
    return fn


def _rosenbrock(xy: torch.Tensor) -> torch.Tensor:
    x, y = xy[..., 0], xy[..., 1]
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2       # (...)


def _saddle(xy: torch.Tensor) -> torch.Tensor:
    x, y = xy[..., 0], xy[..., 1]
    return x ** 2 + (y ** 2 - 1) ** 2 / 8               # (...): saddle at (0, 0), minima at (0, +-1)


def _himmelblau(xy: torch.Tensor) -> torch.Tensor:
    x, y = xy[..., 0], xy[..., 1]
    return ((x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2) / 10   # (...): Himmelblau's function / 10


def quadratic(condition: float = 50.0) -> Surface:
    """The elongated bowl f = (x^2/condition + y^2) / 2.

    Departure from the textbook 0.5*(x^2 + k*y^2): the steep direction keeps curvature 1 for every
    condition number, so one learning rate stays stable (plain SGD: below 2) whatever the slider
    says, and a larger condition number shows up as a flatter valley floor (slower progress along x).
    """
    if not (math.isfinite(condition) and condition >= 1):
        raise ConfigError(f"quadratic: the condition number must be 1 or more, got {condition}")
    return Surface(
        name="quadratic", title="Elongated bowl (quadratic)", fn=_quadratic_fn(condition),
        x_range=(-10.0, 10.0), y_range=(-5.0, 5.0), start=(-9.0, 3.0), minima=[(0.0, 0.0)],
        about=f"f = (x²/κ + y²)/2 with condition number κ = {condition:g}: curvature 1 across the valley, "
              f"1/κ along it; plain SGD is stable for learning rates below 2.",
        look_for="SGD bounces between the valley walls and creeps along the floor (raise κ: slower still); "
                 "momentum rolls like a heavy ball, swinging across the valley and past the minimum in arcs "
                 "that shrink; RMSprop and Adam divide each coordinate's step by that coordinate's own "
                 "gradient size, so x and y move at similar speeds, the path cuts across, and κ hardly "
                 "slows them (because this valley lies along an axis).",
        lrs={"sgd": 1.8, "momentum": 0.2, "nesterov": 0.2, "adagrad": 2.0, "rmsprop": 0.1, "adam": 0.3,
             "adamw": 0.3},
        steps=100)


SURFACES: dict[str, Surface] = {
    "quadratic": quadratic(),
    "rosenbrock": Surface(
        name="rosenbrock", title="Rosenbrock (curved valley)", fn=_rosenbrock,
        x_range=(-2.0, 2.0), y_range=(-1.0, 3.0), start=(-1.2, 1.0), minima=[(1.0, 1.0)],
        about="f = (1 − x)² + 100(y − x²)²: a steep-walled banana-shaped valley with its minimum at (1, 1).",
        look_for="Everyone drops into the valley at once; the race is along its curved, nearly flat floor. "
                 "SGD crawls: the steep walls keep its learning rate below 2/1000; momentum builds up speed "
                 "along the floor, and Adam's per-coordinate steps keep their size where the gradient is small.",
        lrs={"sgd": 1.5e-3, "momentum": 1e-3, "nesterov": 1e-3, "adagrad": 0.3, "rmsprop": 0.02, "adam": 0.2,
             "adamw": 0.2},
        steps=500),
    "saddle": Surface(
        name="saddle", title="Saddle", fn=_saddle,
        x_range=(-2.0, 2.0), y_range=(-1.6, 1.6), start=(-1.8, 0.01), minima=[(0.0, 1.0), (0.0, -1.0)],
        about="f = x² + (y² − 1)²/8: a saddle point at (0, 0), where f = 1/8, between two valleys at y = ±1.",
        look_for="Starting just off the ridge, the gradient across it is tiny: SGD rides into the saddle and "
                 "sits there (the flat stretch of its loss at 1/8) until the sideways push has grown; RMSprop "
                 "and Adam scale the tiny gradient up to a full-sized step and turn off at once.",
        lrs={"sgd": 0.3, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.3, "rmsprop": 0.02, "adam": 0.05,
             "adamw": 0.05},
        steps=100),
    "multi_minima": Surface(
        name="multi_minima", title="Several minima (Himmelblau)", fn=_himmelblau,
        x_range=(-5.0, 5.0), y_range=(-5.0, 5.0), start=(-0.3, -0.9),
        minima=[(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)],
        about="f = ((x² + y − 11)² + (x + y² − 7)²)/10 (Himmelblau's function): four minima of equal "
              "depth around a hill.",
        look_for="From the hilltop each optimizer's path decides which minimum it reaches; move the start "
                 "point and watch them split up.",
        lrs={"sgd": 0.01, "momentum": 0.002, "nesterov": 0.002, "adagrad": 0.5, "rmsprop": 0.02,
             "adam": 0.1, "adamw": 0.1},
        steps=150),
}


def make_surface(name: str, condition: float = 50.0) -> Surface:
    """The surface `name`; the quadratic is built for `condition`."""
    if name not in SURFACES:
        raise ConfigError(f"surface '{name}' is unknown; pick one of {', '.join(SURFACES)}")
    return quadratic(condition) if name == "quadratic" else SURFACES[name]


def default_config(surface: Surface, name: str) -> OptimConfig:
    """The optimizer `name` with the surface's default learning rate (momentum 0.9 for the momentum ones)."""
    return OptimConfig(name=name, lr=surface.lrs[name])


def check(surface: Surface, configs: dict[str, OptimConfig], start, steps: int) -> None:
    """Raise ConfigError naming the item, the value and the fix for anything race() cannot run."""
    if not 1 <= steps <= MAX_STEPS:
        raise ConfigError(f"steps: must be between 1 and {MAX_STEPS}, got {steps}")
    (x0, x1), (y0, y1) = surface.x_range, surface.y_range
    sx, sy = (float(v) for v in start)
    if not (x0 <= sx <= x1 and y0 <= sy <= y1):
        raise ConfigError(f"start ({sx:g}, {sy:g}) is outside the plot of {surface.title}; "
                          f"pick x in [{x0:g}, {x1:g}] and y in [{y0:g}, {y1:g}]")
    for label, cfg in configs.items():
        if cfg.name not in OPTIMIZERS:
            raise ConfigError(f"{label}: unknown optimizer '{cfg.name}'; pick one of {', '.join(OPTIMIZERS)}")
        if not (math.isfinite(cfg.lr) and cfg.lr > 0):
            raise ConfigError(f"{label}: the learning rate must be above 0, got {cfg.lr:g}; "
                              f"try {surface.lrs.get(cfg.name, 0.01):g}")
        if cfg.name in ("momentum", "nesterov") and not 0 < cfg.momentum < 1:
            raise ConfigError(f"{label}: momentum must be between 0 and 1 (exclusive), got {cfg.momentum:g}; try 0.9")
        if cfg.weight_decay < 0:
            raise ConfigError(f"{label}: weight decay must be 0 or more, got {cfg.weight_decay:g}")


def race(surface: Surface, configs: dict[str, OptimConfig], start, steps: int) -> dict[str, dict]:
    """Run each optimizer `steps` steps from `start` on `surface`, all in lockstep.

    configs: label -> OptimConfig; each gets its own (2,) parameter and its own torch.optim optimizer
    from playground.train.optim.make_optimizer. One forward/backward per step serves all of them:
    f of the stacked parameters is summed, and each row's gradient depends on its own row only.
    Returns label -> {"xy": (n+1, 2) positions, "loss": (n+1,) f at them, "diverged": step or None},
    n = steps unless the trajectory left the plot range widened ESCAPE times or became non-finite:
    then it stops at n = the last step it was still in that box, and "diverged" is the step that left.
    """
    check(surface, configs, start, steps)
    labels, m = list(configs), len(configs)
    (x0, x1), (y0, y1) = surface.x_range, surface.y_range
    cx, cy, hx, hy = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2 * ESCAPE, (y1 - y0) / 2 * ESCAPE
    ps = [torch.tensor([float(v) for v in start], dtype=torch.float64, requires_grad=True) for _ in labels]
    opts = [make_optimizer(configs[label], [p]) for label, p in zip(labels, ps)]
    xy = torch.empty(m, steps + 1, 2, dtype=torch.float64)                              # (m, steps+1, 2)
    loss = torch.empty(m, steps + 1, dtype=torch.float64)                               # (m, steps+1)
    xy[:, 0] = ps[0].detach()
    n, diverged, active = [steps] * m, [None] * m, list(range(m))
    for k in range(steps):
        for i in active:
            ps[i].grad = None
        f = surface.fn(torch.stack([ps[i] for i in active]))                           # (a,)
        f.sum().backward()
        loss[active, k] = f.detach()
        for i in active:
            opts[i].step()
        w = torch.stack([ps[i].detach() for i in active])                              # (a, 2)
        xy[active, k + 1] = w
        inside = [abs(a - cx) <= hx and abs(b - cy) <= hy for a, b in w.tolist()]  # NaN: False, outside
        if not all(inside):
            for i in [i for i, ok in zip(active, inside) if not ok]:
                n[i], diverged[i] = k, k + 1
            active = [i for i, ok in zip(active, inside) if ok]
            if not active:
                break
    with torch.no_grad():
        last = surface.fn(xy[torch.arange(m), torch.tensor(n)])                       # (m,)
    out = {}
    for i, label in enumerate(labels):
        loss[i, n[i]] = last[i]
        out[label] = {"xy": xy[i, :n[i] + 1].numpy(), "loss": loss[i, :n[i] + 1].numpy(), "diverged": diverged[i]}
    return out


def label_configs(configs: list[OptimConfig]) -> dict[str, OptimConfig]:
    """Name each config by its optimizer (LABELS); repeats get ' (2)', ' (3)', ..."""
    out: dict[str, OptimConfig] = {}
    for cfg in configs:
        label = LABELS.get(cfg.name, cfg.name)
        k = 2
        while label in out:
            label = f"{LABELS.get(cfg.name, cfg.name)} ({k})"
            k += 1
        out[label] = dataclasses.replace(cfg)
    return out


def grid(surface: Surface, n: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """f on an n x n grid over the plot range: xs (n,), ys (n,), Z (n, n) with Z[i, j] = f(xs[j], ys[i])."""
    xs = torch.linspace(*surface.x_range, n, dtype=torch.float64)                        # (n,)
    ys = torch.linspace(*surface.y_range, n, dtype=torch.float64)                        # (n,)
    X, Y = torch.meshgrid(xs, ys, indexing="xy")                                         # (n, n) each
    with torch.no_grad():
        Z = surface.fn(torch.stack([X, Y], dim=-1))                                      # (n, n)
    return xs.numpy(), ys.numpy(), Z.numpy()
