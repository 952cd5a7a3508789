"""The fast path for tiny networks on the CPU: the same numbers, bit for bit, with less overhead per step.

A multilayer perceptron of a few thousand weights trains at a speed set by eager PyTorch's cost per
operation, not by arithmetic: for the spiral's MLP at batch 10, autograd's bookkeeping and the
optimizer's Python take about two thirds of a step. For such a network (Linear layers and ReLU, Tanh,
Sigmoid, LeakyReLU or GELU between them, on 2-D inputs, trained on the CPU) with a loss listed in `LOSSES`,
`Gradients` computes the forward pass and writes every parameter's .grad by hand, and `lean_step`
applies SGD (with momentum, Nesterov, weight decay) or Adam/AdamW without torch.optim's wrapper.

`Gradients` also moves the network's parameters, and their gradients, into one buffer each (every
parameter a view of its part), so that the optimizer's update is one operation per step over all of
them instead of one per parameter: for the spiral's six tensors, ~25 us a step instead of ~77.

Both call the very ATen kernels autograd and torch.optim's single-tensor loops call, on the same
values in the same order, so the results are identical to the default path's, not merely close (an
element-wise kernel gives each element the same result whether it runs in a vector lane or in the
scalar tail, so one buffer instead of several changes no bit; checked for each operation used here):
tests/unit/test_fast.py checks every parameter bit for bit after whole runs, for each loss, activation
and optimizer here. Anything else (another layer, loss or optimizer, L1, augmentation, AMP, a GPU)
takes the default path; so does any run if PLAYGROUND_FAST=0 is set.
"""
from __future__ import annotations

import os

import torch

ACTIVATIONS = (torch.nn.ReLU, torch.nn.Tanh, torch.nn.Sigmoid, torch.nn.LeakyReLU, torch.nn.GELU)
LOSSES = {("classification", "cross_entropy"), ("classification", "mse"), ("regression", "mse"),
          ("regression", "huber")}
aten = torch.ops.aten


def enabled() -> bool:
    return os.environ.get("PLAYGROUND_FAST", "1") != "0"


class Gradients:
    """Forward pass, loss and every parameter's .grad of one batch, as loss.backward() leaves them."""

    def __init__(self, layers: list[tuple], task):
        self.layers = layers            # (weight, bias or None, activation module or None) per Linear
        self.kind = (task.name, task.loss_name)
        self.delta = task.config.loss.huber_delta
        self.one = torch.ones(())
        self.params = [p for w, b, _ in layers for p in (w, b) if p is not None]
        self.flat, views = in_one_buffer(self.params)
        for p, view in zip(self.params, views):
            p.data = view                                   # the same Parameter, its values in self.flat
        self.flat_grad, self.grads = in_one_buffer([torch.zeros_like(p) for p in self.params])
        grads = iter(self.grads)
        self.layer_grads = [(next(grads), next(grads) if b is not None else None) for _, b, _ in layers]

    @classmethod
    def of(cls, model: torch.nn.Module, task, X: torch.Tensor, device: torch.device, cfg) -> Gradients | None:
        """The fast path's gradients for this run, or None where it takes the default path."""
        if not enabled() or device.type != "cpu" or X.dim() != 2 or not X.is_floating_point():
            return None
        if cfg.l1 or cfg.amp or cfg.data.augment or (task.name, task.loss_name) not in LOSSES:
            return None
        if task.name == "classification" and (task.weights is not None or cfg.loss.label_smoothing):
            return None
        mods = list(model.children()) if type(model) is torch.nn.Sequential else []
        layers, i = [], 0
        while i < len(mods):
            lin = mods[i]
            if type(lin) is not torch.nn.Linear:
                return None
            act = mods[i + 1] if i + 1 < len(mods) and type(mods[i + 1]) in ACTIVATIONS else None
            if act is not None and getattr(act, "inplace", False):
                return None
            layers.append((lin.weight, lin.bias, act))
            i += 2 if act is not None else 1
        return cls(layers, task) if layers else None

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(output, loss) of batch x; each parameter's .grad set to the loss's gradient."""
        ins, outs, pre = [], [], []
        a = x
        for w, b, act in self.layers:
            ins.append(a)
            z = torch.addmm(b, a, w.t()) if b is not None else a.mm(w.t())
            pre.append(z)
            if act is None:
                a = z
            elif type(act) is torch.nn.ReLU:
                a = torch.relu(z)
            elif type(act) is torch.nn.Tanh:
                a = torch.tanh(z)
            elif type(act) is torch.nn.Sigmoid:
                a = torch.sigmoid(z)
            elif type(act) is torch.nn.GELU:
                a = torch.nn.functional.gelu(z, approximate=act.approximate)
            else:
                a = torch.nn.functional.leaky_relu(z, act.negative_slope)
            outs.append(a)
        loss, g = self._loss(a, target)
        for k in range(len(self.layers) - 1, -1, -1):
            w, _, act = self.layers[k]
            gw, gb = self.layer_grads[k]
            if act is not None:
                g = self._through(act, g, pre[k], outs[k])
            torch.mm(g.t(), ins[k], out=gw)
            if gb is not None:
                torch.sum(g, 0, out=gb)
            if k:
                g = g.mm(w)
        for p, grad in zip(self.params, self.grads):
            if p.grad is not grad:              # set once; again after anything set .grad to None
                p.grad = grad
        return a, loss

    def _loss(self, out: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The task's mean loss and its gradient with respect to out (the kernels autograd runs)."""
        if self.kind == ("classification", "cross_entropy"):         # log_softmax, then nll_loss
            logp = torch.log_softmax(out, 1)
            loss, total_weight = aten.nll_loss_forward(logp, target, None, 1, -100)
            g = aten.nll_loss_backward(self.one, logp, target, None, 1, -100, total_weight)
            return loss, aten._log_softmax_backward_data(g, logp, 1, logp.dtype)   # noqa: SLF001 (an ATen op)
        if self.kind == ("regression", "mse"):
            return torch.nn.functional.mse_loss(out, target), aten.mse_loss_backward(self.one, out, target, 1)
        if self.kind == ("regression", "huber"):
            return (torch.nn.functional.huber_loss(out, target, delta=self.delta),
                    aten.huber_loss_backward(self.one, out, target, 1, self.delta))
        e = out[:, 0] - target.to(out.dtype)                            # classification, one output: mean((p - y)^2)
        loss = (e ** 2).mean()
        g = torch.zeros_like(out)
        g[:, 0] = self.one.expand(len(e)) / len(e) * (2 * e.pow(1))
        return loss, g

    @staticmethod
    def _through(act, g: torch.Tensor, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """The gradient before the activation from the one after it (z its input, a its output)."""
        if type(act) is torch.nn.ReLU:
            return aten.threshold_backward(g, a, 0)
        if type(act) is torch.nn.Tanh:
            return aten.tanh_backward(g, a)
        if type(act) is torch.nn.Sigmoid:
            return aten.sigmoid_backward(g, a)
        if type(act) is torch.nn.GELU:
            return aten.gelu_backward(g, z, approximate=act.approximate)
        return aten.leaky_relu_backward(g, z, act.negative_slope, False)


def lean_step(opt: torch.optim.Optimizer, fast: Gradients | None = None):
    """A function doing opt.step()'s work for SGD or Adam/AdamW on CPU tensors without its wrapper, or
    None where opt.step() must run. It reads the learning rate from the param group at every step (a
    schedule changes it) and the state torch.optim keeps (a checkpoint saves it); the first step goes
    through opt.step(), which creates that state. With the fast path's gradients (`fast`, whose buffers
    hold the parameters and gradients), the state moves into one buffer per kind too, and each step
    updates the buffers whole."""
    kind = type(opt)
    if not enabled() or kind not in (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW):
        return None
    update = _sgd if kind is torch.optim.SGD else _adam
    checked = [None, None]                     # the param group last checked, and its state's tensors if plain

    def step() -> None:
        groups = opt.param_groups              # read each time: loading a checkpoint replaces the groups
        group = groups[0]
        if checked[0] is not group:
            opt.step()                         # the first step creates the state torch.optim keeps
            kept = _kept(opt, group) if len(groups) == 1 and _plain(group) else None
            if kept is not None and fast is not None and _same(group["params"], fast.params):
                kept = _flattened(opt, fast, kept)
            checked[:] = [group, kept]
            return
        params, kept = group["params"], checked[1]
        if kept is not None and "flat" in kept:
            usable = all(p.grad is g for p, g in zip(fast.params, fast.grads))
            params, grads = [fast.flat], [fast.flat_grad]
        else:
            grads = [p.grad for p in params]
            usable = kept is not None and not any(g is None or g.is_sparse for g in grads)
        if not usable:
            opt.step()
            checked[0] = None                  # torch.optim skipped a parameter: check its state again
            return
        with torch.no_grad():
            update(group, params, grads, kept)
    return step


def in_one_buffer(tensors: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A new 1-D buffer holding the tensors' values one after another, and a view of it shaped like each."""
    buf = torch.cat([t.detach().reshape(-1) for t in tensors])
    views, at = [], 0
    for t in tensors:
        views.append(buf[at:at + t.numel()].view_as(t))
        at += t.numel()
    return buf, views


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))


def _plain(group: dict) -> bool:
    """Whether torch.optim would take its single-tensor loop, with nothing lean_step leaves out."""
    if any(group.get(k) for k in ("foreach", "fused", "maximize", "differentiable", "capturable", "amsgrad",
                                  "dampening")):
        return False
    return all(p.device.type == "cpu" and not p.is_complex() for p in group["params"])


def _kept(opt, group: dict) -> dict | None:
    """The state tensors the lean update reads, by their names in torch.optim's state, one per parameter
    (Adam's "count": the first one's step count), or None where a parameter has none (one without a
    gradient at the first step) or the parameters' step counts differ."""
    states = [opt.state.get(p, {}) for p in group["params"]]
    if "betas" in group:
        if not all("step" in s for s in states) or len({float(s["step"]) for s in states}) != 1:
            return None
        return {"count": states[0]["step"], **{k: [s[k] for s in states] for k in ("step", "exp_avg", "exp_avg_sq")}}
    if group["momentum"] == 0:
        return {}
    bufs = [s.get("momentum_buffer") for s in states]
    return None if any(b is None for b in bufs) else {"momentum_buffer": bufs}


def _flattened(opt, fast: Gradients, kept: dict) -> dict:
    """kept with each kind of state in one buffer: every parameter's state tensor becomes a view of
    its part (torch.optim, a checkpoint and a resume read them as before)."""
    out = {"flat": True}
    for name, tensors in kept.items():
        if name == "count":
            continue
        buf, views = in_one_buffer(tensors)
        for p, view in zip(fast.params, views):
            opt.state[p][name] = view
        out[name] = [buf]
    if "count" in kept:
        out["count"] = opt.state[fast.params[0]]["step"]
    return out


# torch._foreach_* ops on CPU tensors run the single-tensor kernel on each tensor in turn: the same
# arithmetic as torch.optim's single-tensor loop, with one Python call per operation, not per parameter.
(foreach_add, foreach_add_, foreach_mul_, foreach_lerp_, foreach_addcmul_, foreach_sqrt, foreach_div_,
 foreach_addcdiv_) = (getattr(torch, "_foreach_" + name) for name in
                      ("add", "add_", "mul_", "lerp_", "addcmul_", "sqrt", "div_", "addcdiv_"))

def _sgd(group, params, grads, kept) -> None:
    """torch.optim.SGD's single-tensor update (dampening 0)."""
    lr, wd, momentum, nesterov = group["lr"], group["weight_decay"], group["momentum"], group["nesterov"]
    if wd != 0:
        grads = foreach_add(grads, params, alpha=wd)
    if momentum != 0:
        bufs = kept["momentum_buffer"]
        foreach_mul_(bufs, momentum)
        foreach_add_(bufs, grads, alpha=1)
        grads = foreach_add(grads, bufs, alpha=momentum) if nesterov else bufs
    foreach_add_(params, grads, alpha=-lr)


def _adam(group, params, grads, kept) -> None:
    """torch.optim.Adam's single-tensor update (AdamW's: the group's decoupled_weight_decay), without amsgrad."""
    lr, wd, eps, decoupled = group["lr"], group["weight_decay"], group["eps"], group["decoupled_weight_decay"]
    beta1, beta2 = group["betas"]
    steps, exp_avgs, exp_avg_sqs = kept["step"], kept["exp_avg"], kept["exp_avg_sq"]
    foreach_add_(steps, 1)
    if wd != 0:
        if decoupled:
            foreach_mul_(params, 1 - lr * wd)
        else:
            grads = foreach_add(grads, params, alpha=wd)
    foreach_lerp_(exp_avgs, grads, 1 - beta1)
    foreach_mul_(exp_avg_sqs, beta2)
    foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
    step = kept["count"].item()                         # every parameter's count is the same (see _kept)
    step_size = lr / (1 - beta1 ** step)
    denom = foreach_sqrt(exp_avg_sqs)
    foreach_div_(denom, (1 - beta2 ** step) ** 0.5)
    foreach_add_(denom, eps)
    foreach_addcdiv_(params, exp_avgs, denom, value=-step_size)
