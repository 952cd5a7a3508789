"""What a run learns. A Task decides the target of each batch, the loss, the metrics, and the
output the network must end with; the training loop calls it and knows nothing else about tasks.

    classification  class scores (cross-entropy, hinge), or one output for two classes (bce, mse)
    regression      real-valued targets (mse, mae, huber, log-cosh); metrics MAE, RMSE, R²
    reconstruction  the input itself (mse, bce), plus beta x KL for a variational Latent layer
    sequence        a class per position or per sequence (cross-entropy); token and sequence accuracy

Per step, the trainer asks the task for the batch's `target()`, its `loss()`, and `step_sums()`, a
small tensor of detached sums (no sync): the loop adds them up on the device and `train_metrics()`
turns them into the epoch's numbers. `evaluate()` runs a split
in eval mode. Metric keys become epoch-record keys with a `train_` / `val_` prefix.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from playground.config import EVAL_BATCH, LOSSES, RunConfig, parse_class_weights
from playground.errors import ConfigError, ShapeError
from playground.models.build import end_fix, shape_text

IGNORE = -100                   # sequence targets that are not scored (F.cross_entropy's ignore_index)
LONG_NAMES = {"acc": "accuracy", "token_acc": "token_accuracy", "seq_acc": "sequence_accuracy"}
METRIC_LABELS = {"loss": "loss", "acc": "accuracy", "mae": "MAE", "rmse": "RMSE", "r2": "R²",
                 "recon": "reconstruction loss", "kl": "KL per sample", "token_acc": "token accuracy",
                 "seq_acc": "sequence accuracy"}
PERCENT = {"acc", "token_acc", "seq_acc"}
LOSS_LABELS = {"cross_entropy": "cross-entropy (softmax)", "bce": "binary cross-entropy (one sigmoid output)",
               "hinge": "hinge (multi-class margin)", "mse": "mean squared error", "mae": "mean absolute error",
               "huber": "Huber", "logcosh": "log-cosh"}


def output_text(task: "Task") -> str:
    """What the network's output means, for the page: "10 class scores", "1 prediction", ..."""
    shape = task.expected()
    if task.name == "classification":
        return "P(class 1) (one output)" if shape == (1,) else f"{shape[0]} class scores"
    if task.name == "regression":
        return f"{shape[0]} prediction{'s' if shape[0] > 1 else ''}"
    if task.name == "reconstruction":
        return f"a reconstruction of the {shape_text(shape)} input"
    if len(shape) == 2:
        return f"{shape[1]} class scores at each of {shape[0]} positions"
    return f"{shape[0]} class scores per sequence"


def task_of(config: RunConfig, data) -> str:
    """The task a config trains on data: its own task, or what config.task asks (checked)."""
    if config.task == "auto":
        return data.task
    want, has = config.task, data.task
    if want == "reconstruction":
        if data.kind == "tokens":
            raise ConfigError(f"task: reconstruction trains on images, points or tables; '{data.name}' holds "
                              f"token sequences; pick the sequence task, or an image set such as mnist_subset")
        return want
    if want != has:
        raise ConfigError(f"task: '{data.name}' is a {has} data set, so it cannot train for {want}; set task to "
                          f"auto (or {has}{', or reconstruction' if data.kind != 'tokens' else ''}), "
                          f"or pick a {want} data set")
    return want


def make_task(config: RunConfig, data) -> "Task":
    name = task_of(config, data)
    loss = config.loss.name if config.loss.name != "auto" else LOSSES[name][0]
    if loss not in LOSSES[name]:
        raise ConfigError(f"loss.name: '{loss}' is not a {name} loss; pick one of {', '.join(LOSSES[name])}")
    return TASKS[name](config, data, loss)


class Task:
    name = ""
    train_keys: tuple = ()      # metrics accumulated while training
    val_keys: tuple = ()        # metrics of evaluate(), besides "loss"
    headline = "loss"           # the validation metric a run is judged by (the live panel's number)
    higher_better = False

    def __init__(self, config: RunConfig, data, loss: str):
        self.config, self.data, self.loss_name = config, data, loss

    # ---------------------------------------------------------------- the network's end
    def expected(self) -> tuple:
        """The output shape (without batch) the network must end with."""
        raise NotImplementedError

    def check_output(self, rows) -> None:
        """Raise ShapeError with a fix when the network's last shape is not what this task needs."""
        shape = rows[-1].out_shape
        if tuple(shape) != self.expected():
            raise ShapeError(self._end_message(rows))

    def _end_message(self, rows) -> str:
        want = self.expected()
        return (f"the network ends with {shape_text(rows[-1].out_shape)}, but {self.why()}, so it must end with "
                f"{shape_text(want)}; {end_fix(rows, want[-1])}")

    def why(self) -> str:
        raise NotImplementedError

    # ---------------------------------------------------------------- training
    def target(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return yb

    def prepare(self, model: torch.nn.Module, device) -> None:
        """Called once the model is on its device (finds Latent layers, moves class weights)."""

    def loss(self, out: torch.Tensor, target: torch.Tensor, model: torch.nn.Module) -> torch.Tensor:
        raise NotImplementedError

    def step_sums(self, out: torch.Tensor, target: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
        """Detached sums for the training metrics of this batch (added up on the device)."""
        raise NotImplementedError

    def train_metrics(self, sums: torch.Tensor, steps: int, samples: int) -> dict:
        raise NotImplementedError

    # ---------------------------------------------------------------- evaluation
    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, device) -> dict:
        """{"loss": mean loss, metric: value, ...} of model on X, y, in eval mode, in batches."""
        switch = not mode_free(model)           # eval() and back visit every module: ~30 us an epoch for a tiny net
        was_training = model.training
        if switch:
            model.eval()
        try:
            parts = []
            for i in range(0, len(X), EVAL_BATCH):
                xb, yb = (X, y) if len(X) <= EVAL_BATCH else (X[i:i + EVAL_BATCH], y[i:i + EVAL_BATCH])
                xb, yb = xb.to(device), yb.to(device)           # no copy where they are on it (the trainer's)
                parts.append(self._eval_batch(model(xb).float(), self.target(xb, yb), model))
        finally:
            if switch:
                model.train(was_training)
        total = torch.stack(parts).sum(0).tolist() if len(parts) > 1 else parts[0].tolist()
        return self._eval_metrics(total, len(X))

    def _eval_batch(self, out, target, model) -> torch.Tensor:
        raise NotImplementedError

    def _eval_metrics(self, total: list, n: int) -> dict:
        raise NotImplementedError

    # ---------------------------------------------------------------- predictions on a grid
    pictured = True                 # 2-D and 1-D data: the live picture draws grid_values over the input space

    def grid_values(self, out: torch.Tensor) -> torch.Tensor:
        """What the live 2-D/1-D picture shows for model outputs out (N, ...): (N,)."""
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.name} · loss {self.loss_name}"


# Modules whose forward does not depend on train() / eval(): a network of these alone computes the
# same in either mode (exact types: a subclass may add a mode of its own)
MODE_FREE = (nn.Sequential, nn.Linear, nn.ReLU, nn.Sigmoid, nn.Tanh, nn.LeakyReLU, nn.GELU, nn.ELU, nn.SiLU,
             nn.Softmax, nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d, nn.Flatten, nn.Unflatten, nn.LayerNorm, nn.Identity,
             nn.Embedding)


def mode_free(model: nn.Module) -> bool:
    """Whether `model` computes the same in training and in eval mode (so evaluation need not switch)."""
    known = model.__dict__.get("_playground_mode_free")
    if known is None:
        known = all(type(m) in MODE_FREE for m in model.modules())
        model.__dict__["_playground_mode_free"] = known         # a module's layers do not change after build
    return known


class Classification(Task):
    name = "classification"
    train_keys = ("acc",)
    val_keys = ("acc",)
    headline, higher_better = "acc", True

    def __init__(self, config, data, loss):
        super().__init__(config, data, loss)
        c = data.num_classes
        if loss in ("bce", "mse") and c != 2:
            raise ConfigError(f"loss.name: {loss} trains one output for two classes, and '{data.name}' has {c} "
                              f"classes; use cross_entropy (or hinge)")
        if config.loss.label_smoothing and loss != "cross_entropy":
            raise ConfigError(f"loss.label_smoothing: only cross_entropy smooths labels; set it to 0 for {loss}")
        w = parse_class_weights(config.loss.class_weights)
        if w == "balanced":
            counts = torch.bincount(data.y_train, minlength=c).float()
            w = (counts.sum() / (c * counts.clamp(min=1))).tolist()
        if w is not None and len(w) != c:
            raise ConfigError(f"loss.class_weights: {len(w)} weights for {c} classes; give one per class "
                              f"({', '.join(data.class_names)}) or write balanced")
        self.weights = None if w is None else torch.tensor(w, dtype=torch.float32)

    def prepare(self, model, device):
        if self.weights is not None:
            self.weights = self.weights.to(device)

    def expected(self):
        return (1,) if self.loss_name in ("bce", "mse") else (self.data.num_classes,)

    def why(self):
        if self.loss_name in ("bce", "mse"):
            return f"the {self.loss_name} loss trains one output for two classes (P(class 1))"
        return f"the data set has {self.data.num_classes} classes (one score each)"

    def _losses(self, out, y, reduction):
        name, w = self.loss_name, self.weights
        if name == "cross_entropy":
            return F.cross_entropy(out, y, weight=w, label_smoothing=self.config.loss.label_smoothing,
                                   reduction=reduction)
        if name == "hinge":
            return F.multi_margin_loss(out, y, weight=w, reduction=reduction)
        t = y.to(out.dtype)
        if name == "bce":
            per = F.binary_cross_entropy_with_logits(out[:, 0], t, reduction="none")
        else:
            per = (out[:, 0] - t) ** 2
        if w is not None:
            per = per * w[y]
            if reduction == "mean":
                return per.sum() / w[y].sum()
        return per.mean() if reduction == "mean" else per.sum()

    def loss(self, out, target, model):
        return self._losses(out, target, "mean")

    def predict(self, out):
        if self.loss_name == "bce":
            return (out[:, 0] > 0).long()
        if self.loss_name == "mse":
            return (out[:, 0] > 0.5).long()
        return out.argmax(1)

    def probs(self, out):
        """(N, C) class probabilities of outputs out: softmax of the scores, or [1 - p, p] for one output."""
        if self.expected() == (1,):
            p = torch.sigmoid(out[:, 0]) if self.loss_name == "bce" else out[:, 0].clamp(0, 1)
            return torch.stack([1 - p, p], 1)
        return torch.softmax(out, 1)

    def step_sums(self, out, target, loss):
        return (self.predict(out.detach()) == target).sum()

    def train_metrics(self, sums, steps, samples):
        return {"acc": float(sums) / max(samples, 1)}

    def _weighted(self) -> bool:
        return self.weights is not None and self.loss_name != "hinge"     # multi_margin_loss divides by n

    def _eval_batch(self, out, target, model):
        parts = [self._losses(out, target, "sum"), (self.predict(out) == target).sum().float()]
        if self._weighted():                                        # the weights' sum divides the loss
            parts.append(self.weights[target].sum())
        return torch.stack(parts)

    def _eval_metrics(self, total, n):
        weight = total[2] if self._weighted() else float(n)
        return {"loss": total[0] / max(weight, 1e-12), "acc": total[1] / n}   # weighted as in training

    def grid_values(self, out):
        if self.loss_name == "bce":
            return torch.sigmoid(out[:, 0])
        if self.loss_name == "mse":
            return out[:, 0].clamp(0, 1)
        return torch.softmax(out, 1)[:, 1] if out.shape[1] > 1 else out[:, 0]


class Regression(Task):
    name = "regression"
    train_keys = ("mae",)
    val_keys = ("mae", "rmse", "r2")
    headline, higher_better = "r2", True

    def expected(self):
        return (len(self.data.target_names) or int(self.data.y_train.shape[1]),)

    def why(self):
        n = self.expected()[0]
        return f"the data set has {n} target{'s' if n > 1 else ''} to predict"

    def _loss(self, out, t, reduction):
        name = self.loss_name
        if name == "mse":
            return F.mse_loss(out, t, reduction=reduction)
        if name == "mae":
            return F.l1_loss(out, t, reduction=reduction)
        if name == "huber":
            return F.huber_loss(out, t, reduction=reduction, delta=self.config.loss.huber_delta)
        e = out - t                                  # log(cosh(e)) = e + softplus(-2e) - log 2, stable
        per = e + F.softplus(-2 * e) - math.log(2.0)
        return per.mean() if reduction == "mean" else per.sum()

    def loss(self, out, target, model):
        return self._loss(out, target, "mean")

    def step_sums(self, out, target, loss):
        return (out.detach() - target).abs().sum()

    def train_metrics(self, sums, steps, samples):
        return {"mae": float(sums) / max(samples * self.expected()[0], 1)}

    def _eval_batch(self, out, target, model):
        e = out - target
        return torch.stack([self._loss(out, target, "sum"), e.abs().sum(), (e * e).sum(),
                            target.sum(), (target * target).sum()])

    def _eval_metrics(self, total, n):
        loss, abs_e, sq_e, s, s2 = total
        k = n * self.expected()[0]
        sst = s2 - s * s / k                         # total sum of squares around the mean (all targets pooled)
        out = {"loss": loss / k, "mae": abs_e / k, "rmse": math.sqrt(sq_e / k)}
        if sst > 1e-12 * max(s2, 1.0):               # R² is undefined when every target is the same (one point)
            out["r2"] = 1 - sq_e / sst
        return out

    def grid_values(self, out):
        return out[:, 0]


class Reconstruction(Task):
    name = "reconstruction"
    pictured = False                # an output per input value: no one number to shade the plane or draw as a curve
    train_keys = ("recon",)
    val_keys = ("recon",)
    headline, higher_better = "recon", False

    def __init__(self, config, data, loss):
        super().__init__(config, data, loss)
        self.latents: list = []
        if loss == "bce":
            lo, hi = float(data.X_train.min()), float(data.X_train.max())
            if lo < 0 or hi > 1:
                raise ConfigError(f"loss.name: bce compares pixels in [0, 1], but '{data.name}' has values from "
                                  f"{lo:.3g} to {hi:.3g}; use mse")

    def prepare(self, model, device):
        from playground.models.blocks import Latent

        self.latents = [m for m in model.modules() if isinstance(m, Latent) and m.variational]
        if self.latents:
            self.train_keys, self.val_keys = ("recon", "kl"), ("recon", "kl")

    def expected(self):
        return tuple(self.data.input_shape)

    def check_output(self, rows):
        shape, want = tuple(rows[-1].out_shape), self.expected()
        if shape == want or shape == (math.prod(want),):
            last = next((r for r in reversed(rows) if r.type not in ("Unflatten", "Flatten")), rows[-1])
            if self.loss_name == "bce" and last.type != "Sigmoid":
                raise ShapeError(f"the bce reconstruction loss needs outputs in [0, 1]: end the network with a "
                                 f"Sigmoid layer (after layer {last.index}), or use mse")
            return
        n = math.prod(want)
        fix = (f"end with Linear(out_features={n})" + (f" (and Unflatten shape={'x'.join(map(str, want))} "
                                                        f"to draw it as an image)" if len(want) > 1 else "")
               if len(shape) == 1 else f"end with {shape_text(want)} (a ConvTranspose2d with "
                                       f"out_channels={want[0]}, or Flatten and Linear(out_features={n}))")
        raise ShapeError(f"the network ends with {shape_text(shape)}, but a reconstruction must match the input "
                         f"{shape_text(want)} ({n} values); {fix}")

    def target(self, xb, yb):
        return xb

    def _recon(self, out, x, reduction):
        x = x.reshape(out.shape)
        if self.loss_name == "bce":
            out = out.float().clamp(1e-7, 1 - 1e-7)
            per = F.binary_cross_entropy(out, x.float(), reduction="none")
        else:
            per = (out - x) ** 2
        per = per.flatten(1).mean(1)                 # (B,): mean over each sample's values
        return per.mean() if reduction == "mean" else per.sum()

    def _kl(self):
        return sum(m.kl for m in self.latents)

    def _kl_scale(self):
        """kl_weight / the values per sample: the reconstruction loss is a mean over each sample's values,
        the KL a sum over the code's dims, so the KL is divided by the values to be per value too; kl_weight
        1 is then the standard VAE (the negative ELBO per sample, BCE summed over the values + KL, / values)."""
        return self.config.loss.kl_weight / math.prod(self.expected())

    def loss(self, out, target, model):
        recon = self._recon(out, target, "mean")
        self._last_recon = recon
        if self.latents:
            return recon + self._kl_scale() * self._kl()
        return recon

    def step_sums(self, out, target, loss):
        if self.latents:
            return torch.stack([self._last_recon.detach(), self._kl().detach()])
        return self._last_recon.detach()

    def train_metrics(self, sums, steps, samples):
        if self.latents:
            recon, kl = sums.tolist()
            return {"recon": recon / max(steps, 1), "kl": kl / max(steps, 1)}
        return {"recon": float(sums) / max(steps, 1)}

    def _eval_batch(self, out, target, model):
        recon = self._recon(out, target, "sum")
        if not self.latents:
            return torch.stack([recon, recon])
        n = len(out)
        kl = sum(kl_closed(m.last_mean, m.last_logvar) for m in self.latents) * n
        return torch.stack([recon + self._kl_scale() * kl, recon, kl])

    def _eval_metrics(self, total, n):
        if not self.latents:
            return {"loss": total[0] / n, "recon": total[1] / n}
        return {"loss": total[0] / n, "recon": total[1] / n, "kl": total[2] / n}

    def describe(self):
        return (f"reconstruction · loss {self.loss_name}"
                + (f" + {self.config.loss.kl_weight:g} x KL / {math.prod(self.expected())}" if self.latents else ""))


def kl_closed(mean, logvar):
    """Batch mean of KL(N(mean, exp(logvar)) || N(0, I)), summed over the latent dimensions."""
    return (-0.5 * (1 + logvar - mean ** 2 - logvar.exp()).sum(1)).mean()


class Sequence(Task):
    name = "sequence"
    train_keys = ("token_acc",)
    val_keys = ("token_acc", "seq_acc")
    headline, higher_better = "token_acc", True

    def expected(self):
        c = self.data.num_classes
        return (self.data.input_shape[0], c) if self.data.per_position else (c,)

    def why(self):
        c = self.data.num_classes
        if self.data.per_position:
            return f"'{self.data.name}' predicts one of {c} classes at each of {self.data.input_shape[0]} positions"
        return f"'{self.data.name}' predicts one of {c} classes per sequence"

    def check_output(self, rows):
        shape, want = tuple(rows[-1].out_shape), self.expected()
        if shape == want:
            return
        last = rows[-1]
        if self.data.per_position and len(shape) == 2 and shape[0] == want[0]:
            fix = (f"set out_features={want[1]} on layer {last.index} (Linear)" if last.type == "Linear"
                   else f"add a final Linear with out_features={want[1]} (it acts at each position)")
        elif self.data.per_position:
            fix = ("keep the sequence to the end (no SequencePool or Flatten; RNNs with output=sequence) and "
                   f"finish with Linear(out_features={want[1]})")
        elif len(shape) == 2:
            fix = (f"pool the sequence first (SequencePool, or an RNN with output=last), then "
                   f"Linear(out_features={want[0]})")
        else:
            fix = end_fix(rows, want[0])
        raise ShapeError(f"the network ends with {shape_text(shape)}, but {self.why()}, so it must end with "
                         f"{shape_text(want)}; {fix}")

    def _flat(self, out, y):
        return (out.reshape(-1, out.shape[-1]), y.reshape(-1)) if out.dim() == 3 else (out, y)

    def loss(self, out, target, model):
        o, t = self._flat(out, target)
        return F.cross_entropy(o, t, ignore_index=IGNORE)

    def _sums(self, out, y):
        scored = y != IGNORE
        hit = (out.argmax(-1) == y) & scored
        if out.dim() == 3:                          # (B, L, C): tokens, and sequences right at every scored position
            seq = (hit | ~scored).all(1).sum()
            return torch.stack([hit.sum(), scored.sum(), seq]).float()
        n = hit.sum().float()
        return torch.stack([n, scored.sum().float(), n])

    def __init__(self, config, data, loss):
        super().__init__(config, data, loss)
        self.all_scored = bool((data.y_train != IGNORE).all())   # no masked positions: count hits only

    def step_sums(self, out, target, loss):
        if self.all_scored:                         # the per-step cost of a hand-written loop: argmax, ==, sum
            return (out.detach().argmax(-1) == target).sum()
        return self._sums(out.detach(), target)

    def train_metrics(self, sums, steps, samples):
        if self.all_scored:
            per = self.data.input_shape[0] if self.data.per_position else 1
            return {"token_acc": float(sums) / max(samples * per, 1)}
        hit, scored, _ = sums.tolist()
        return {"token_acc": hit / max(scored, 1)}

    def _eval_batch(self, out, target, model):
        o, t = self._flat(out, target)
        return torch.cat([F.cross_entropy(o, t, ignore_index=IGNORE, reduction="sum")[None], self._sums(out, target)])

    def _eval_metrics(self, total, n):
        loss, hit, scored, seq = total
        return {"loss": loss / max(scored, 1), "token_acc": hit / max(scored, 1), "seq_acc": seq / n}


TASKS = {"classification": Classification, "regression": Regression, "reconstruction": Reconstruction,
         "sequence": Sequence}
