"""torch.optim optimizers by name, with the update rule each one uses (PyTorch's conventions)."""
from __future__ import annotations

import torch

from playground.config import OptimConfig, ScheduleConfig

# What the page shows next to the optimizer control: PyTorch's form, not a textbook's.
RULES = {
    "sgd": "w -= lr * g",
    "momentum": "v = momentum*v + g;  w -= lr * v   (PyTorch form: no (1-momentum) factor)",
    "nesterov": "v = momentum*v + g;  w -= lr * (g + momentum*v)",
    "adagrad": "s += g^2;  w -= lr * g / (sqrt(s) + eps)",
    "rmsprop": "s = alpha*s + (1-alpha)*g^2;  w -= lr * g / (sqrt(s) + eps)   (PyTorch: alpha 0.99; Keras' rho is 0.9)",
    "adam": "m, v = EMAs of g, g^2 (beta1, beta2), bias-corrected;  w -= lr * m / (sqrt(v) + eps)",
    "adamw": "Adam, with weight decay applied to w directly (decoupled), not added to g",
}
LABELS = {"sgd": "SGD", "momentum": "SGD + momentum", "nesterov": "Nesterov", "adagrad": "Adagrad",
          "rmsprop": "RMSprop", "adam": "Adam", "adamw": "AdamW"}


def make_optimizer(cfg: OptimConfig, params) -> torch.optim.Optimizer:
    o = torch.optim
    if cfg.name == "sgd":
        return o.SGD(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.name in ("momentum", "nesterov"):
        return o.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.name == "nesterov",
                     weight_decay=cfg.weight_decay)
    if cfg.name == "adagrad":
        return o.Adagrad(params, lr=cfg.lr, eps=cfg.eps, weight_decay=cfg.weight_decay)
    if cfg.name == "rmsprop":
        return o.RMSprop(params, lr=cfg.lr, alpha=cfg.alpha, eps=cfg.eps, weight_decay=cfg.weight_decay)
    if cfg.name == "adam":
        return o.Adam(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, weight_decay=cfg.weight_decay)
    if cfg.name == "adamw":
        return o.AdamW(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.name!r}")


SCHEDULE_LABELS = {"constant": "constant", "step": "step decay", "exponential": "exponential decay",
                   "cosine": "cosine annealing", "onecycle": "one-cycle", "warmup": "linear warm-up"}


def make_scheduler(cfg: ScheduleConfig, opt: torch.optim.Optimizer, steps_per_epoch: int, epochs: int):
    """A torch.optim.lr_scheduler stepped once per optimizer step, or None for a constant rate."""
    s, total = torch.optim.lr_scheduler, steps_per_epoch * epochs
    if cfg.name == "constant":
        return None
    if cfg.name == "step":
        return s.StepLR(opt, step_size=cfg.step_epochs * steps_per_epoch, gamma=cfg.gamma)
    if cfg.name == "exponential":
        return s.ExponentialLR(opt, gamma=cfg.gamma ** (1 / steps_per_epoch))     # gamma per epoch
    if cfg.name == "cosine":
        return s.CosineAnnealingLR(opt, T_max=total)
    if cfg.name == "onecycle":
        d = opt.defaults
        cycles = "betas" in d or d.get("momentum", 0) > 0               # plain SGD/Adagrad: no momentum to cycle
        return s.OneCycleLR(opt, max_lr=opt.param_groups[0]["lr"], total_steps=total, cycle_momentum=cycles)
    if cfg.name == "warmup":
        return s.LinearLR(opt, start_factor=0.01, end_factor=1.0,
                          total_iters=max(1, round(cfg.warmup_epochs * steps_per_epoch)))
    raise ValueError(f"unknown schedule {cfg.name!r}")
