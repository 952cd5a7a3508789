"""The task part of a standalone script: the loss, and the metrics of training and validation, written
out for the run's one task and loss as playground/train/tasks.py computes them (the same float32
sums, divided the same way), so the script prints the engine's numbers.

    classification  cross-entropy (label smoothing, class weights), hinge, or one output (bce, mse)
    regression      mse, mae, huber, log-cosh; MAE, RMSE, R²
    reconstruction  mse or bce against the input, + KL_WEIGHT x KL / VALUES for variational Latent layers
    sequence        cross-entropy per position (or per sequence); token and sequence accuracy
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from string import Template

from playground.config import RunConfig, parse_class_weights
from playground.export.script_model import shape_text
from playground.train import tasks
from playground.train.tasks import Task

MEAN = "mean over the batch"
EVAL = '''
@torch.no_grad()
def evaluate(model, X, y, device$param):
    """{"loss", $keys} of the model on X, y in eval mode, in batches of EVAL_BATCH: each batch's
    sums (float32) added up, then divided, as the playground does."""
    model.eval()
    parts = []
    for i in range(0, len(X), EVAL_BATCH):
        out = model(X[i:i + EVAL_BATCH].to(device)).float()            # $shape
        parts.append(eval_sums(out, $target[i:i + EVAL_BATCH].to(device)$arg))
    model.train()
    return eval_metrics(torch.stack(parts).sum(0).tolist(), len(X))
'''


@dataclass
class TaskCode:
    """What the script's task section holds, and the lines of main() that use it."""
    functions: list[str]                        # loss, metrics, evaluate (source, in order)
    loss: list[tuple]                           # loop lines (code, comment) from `out` to `loss` (a mean)
    sums: tuple                                 # the loop line (code, comment) adding the step's metric sums
    output: str                                 # what the network's output is (Net's last shape comment)
    consts: list = field(default_factory=list)  # (NAME, value, comment)
    setup: list[str] = field(default_factory=list)   # lines of main() once the model is built
    extra: str = ""                             # the argument evaluate() and the loss take besides (out, y)
    target: str = "yb"                          # the loop's target of the batch


def task_code(cfg: RunConfig, task: Task, layers: list[dict]) -> TaskCode:
    code = {"classification": _classification, "regression": _regression, "reconstruction": _reconstruction,
            "sequence": _sequence}[task.name](cfg, task, layers)
    keys = ", ".join(f'"{k}"' for k in task.val_keys) + (', "kl"' if task.name == "reconstruction" and code.extra
                                                           else "")
    code.functions.append(Template(EVAL).substitute(
        param=f", {code.extra}" if code.extra else "", keys=keys, shape=shape_text(layers[-1]["out"]),
        target="X" if task.name == "reconstruction" else "y", arg=f", {code.extra}" if code.extra else ""))
    return code


def _fn(text: str, **subs) -> str:
    return Template(text).substitute(**subs).strip("\n")


# ----------------------------------------------------------------------------- classification
CE = '''
def loss_fn(out, y$param, reduction="mean"):
    """$what of the class scores out (B, C) against the labels y (B,)$doc."""
    return $call
'''
ONE_OUTPUT = '''
def loss_fn(out, y$param, reduction="mean"):
    """$what of the one output per sample against the labels y (B,) in {0, 1}$doc."""
    t = y.to(out.dtype)
    per = $per                                        # (B,)$weighted
    return per.mean() if reduction == "mean" else per.sum()
'''
WEIGHTED = '''
    per = per * class_weights[y]
    if reduction == "mean":
        return per.sum() / class_weights[y].sum()                       # the weighted mean'''
PREDICT = '''
def predict(out):
    """The predicted class of each sample: (B, $c) -> (B,)$doc."""
    return $expr
'''
CLASSIFICATION = '''
def train_metrics(sums, steps, samples):
    """The epoch's training metrics from the step sums (correct predictions)."""
    return {"acc": float(sums) / samples}


def eval_sums(out, y$param):
    """One validation batch's (summed loss, correct predictions, summed sample weights)."""
    weight = $weight
    return torch.stack([loss_fn(out, y$arg, reduction="sum"), (predict(out) == y).sum().float(), weight.to(out.device)])


def eval_metrics(total, n):
    loss, correct, weight = total
    return {"loss": loss / max(weight, 1e-12), "acc": correct / n}             # the loss weighted as in training
'''


def _classification(cfg: RunConfig, task: Task, layers: list[dict]) -> TaskCode:
    name, c = task.loss_name, task.expected()[0]
    w = parse_class_weights(cfg.loss.class_weights)
    consts, setup = [], []
    if w == "balanced":
        consts.append(("NUM_CLASSES", task.data.num_classes, "classes of the data set"))
        setup = ["    # balanced class weights: n / (classes x count) over the training labels",
                 "    counts = torch.bincount(y_train, minlength=NUM_CLASSES).float()",
                 "    class_weights = (counts.sum() / (NUM_CLASSES * counts.clamp(min=1))).to(device)"]
    elif w is not None:
        setup = [f"    class_weights = torch.tensor({[float(v) for v in w]!r}, dtype=torch.float32).to(device)"]
    extra = "class_weights" if w is not None else ""
    param, arg = (", class_weights", ", class_weights") if extra else ("", "")
    doc = ", each sample weighted by its class's weight" if extra else ""
    if name in ("cross_entropy", "hinge"):
        smoothing = cfg.loss.label_smoothing
        if smoothing:
            consts.append(("LABEL_SMOOTHING", float(smoothing), "share of the target spread over the other classes"))
        fn = "F.cross_entropy" if name == "cross_entropy" else "F.multi_margin_loss"
        args = ["out", "y"] + (["weight=class_weights"] if extra else []) + \
            (["label_smoothing=LABEL_SMOOTHING"] if smoothing else []) + ["reduction=reduction"]
        what = "Cross-entropy (softmax)" if name == "cross_entropy" else "Multi-class hinge loss"
        loss = _fn(CE, param=param, what=what, doc=doc + (", labels smoothed" if smoothing else ""),
                   call=f"{fn}({', '.join(args)})")
        predict = _fn(PREDICT, c=c, doc="", expr="out.argmax(1)")
        output = "one score (logit) per class"
    else:
        per = ('F.binary_cross_entropy_with_logits(out[:, 0], t, reduction="none")' if name == "bce"
               else "(out[:, 0] - t) ** 2")
        what = "Binary cross-entropy (the output is a logit)" if name == "bce" else \
            "Squared error (the output is P(class 1))"
        loss = _fn(ONE_OUTPUT, param=param, what=what, doc=doc, per=per, weighted=WEIGHTED if extra else "")
        predict = _fn(PREDICT, c=1, doc=": class 1 where " + ("the logit is above 0" if name == "bce" else
                                                               "P(class 1) is above 1/2"),
                      expr="(out[:, 0] > 0).long()" if name == "bce" else "(out[:, 0] > 0.5).long()")
        output = "a logit for P(class 1)" if name == "bce" else "P(class 1)"
    weighted = extra and name != "hinge"                 # multi_margin_loss's sum is not divided by weights
    rest = _fn(CLASSIFICATION, param=param, arg=arg,
               weight="class_weights[y].sum()" if weighted else "torch.tensor(float(len(y)))")
    return TaskCode([loss, predict, rest], [(f"loss = loss_fn(out, yb{arg})", MEAN)],
                    ("sums = sums + (predict(out.detach()) == yb).sum()", "correct predictions"),
                    output, consts, setup, extra)


# ----------------------------------------------------------------------------- regression
REGRESSION_LOSS = {
    "mse": ("Mean squared error", "return F.mse_loss(out, y, reduction=reduction)"),
    "mae": ("Mean absolute error", "return F.l1_loss(out, y, reduction=reduction)"),
    "huber": ("Huber loss", "return F.huber_loss(out, y, reduction=reduction, delta=HUBER_DELTA)"),
    "logcosh": ("Log-cosh loss", "e = out - y                                    # log(cosh(e)) = e + "
                                 "softplus(-2e) - log 2, stable\n"
                                 "    per = e + F.softplus(-2 * e) - math.log(2.0)\n"
                                 '    return per.mean() if reduction == "mean" else per.sum()'),
}
REGRESSION = '''
def loss_fn(out, y, reduction="mean"):
    """$what of the predictions out (B, $t) against the targets y (B, $t)."""
    $body


def train_metrics(sums, steps, samples):
    """The epoch's training metrics from the step sums (absolute errors)."""
    return {"mae": float(sums) / $k}


def eval_sums(out, y):
    """One validation batch's (summed loss, |error|, error², target, target²)."""
    e = out - y
    return torch.stack([loss_fn(out, y, reduction="sum"), e.abs().sum(), (e * e).sum(), y.sum(), (y * y).sum()])


def eval_metrics(total, n):
    loss, abs_e, sq_e, s, s2 = total
    k = $k_n
    sst = s2 - s * s / k                         # total sum of squares around the mean (all targets pooled)
    out = {"loss": loss / k, "mae": abs_e / k, "rmse": math.sqrt(sq_e / k)}
    if sst > 1e-12 * max(s2, 1.0):               # R² is undefined when every target is the same (one point)
        out["r2"] = 1 - sq_e / sst
    return out
'''


def _regression(cfg: RunConfig, task: Task, layers: list[dict]) -> TaskCode:
    t = task.expected()[0]
    what, body = REGRESSION_LOSS[task.loss_name]
    consts = [("HUBER_DELTA", float(cfg.loss.huber_delta), "where the loss turns from quadratic to linear")] \
        if task.loss_name == "huber" else []
    fns = _fn(REGRESSION, what=what, t=t, body=body, k="samples" if t == 1 else f"(samples * {t})",
              k_n="n" if t == 1 else f"n * {t}")
    return TaskCode([fns], [("loss = loss_fn(out, yb)", MEAN)],
                    ("sums = sums + (out.detach() - yb).abs().sum()", "absolute errors"),
                    "the prediction" if t == 1 else "the predictions", consts)


# ----------------------------------------------------------------------------- reconstruction
RECON = '''
def reconstruction_loss(out, x, reduction="mean"):
    """Per sample the mean over its values of $what, then the batch's mean (or sum)."""
    x = x.reshape(out.shape)$body
    per = per.flatten(1).mean(1)                 # (B,): mean over each sample's values
    return per.mean() if reduction == "mean" else per.sum()
'''
RECON_BODY = {
    "mse": "\n    per = (out - x) ** 2",
    "bce": ("\n    out = out.float().clamp(1e-7, 1 - 1e-7)"
            '\n    per = F.binary_cross_entropy(out, x.float(), reduction="none")'),
}
PLAIN = '''
def train_metrics(sums, steps, samples):
    """The epoch's training metrics from the step sums (the reconstruction loss)."""
    return {"recon": float(sums) / steps}


def eval_sums(out, x):
    """One validation batch's (summed loss, summed reconstruction loss): the same here."""
    recon = reconstruction_loss(out, x, reduction="sum")
    return torch.stack([recon, recon])


def eval_metrics(total, n):
    return {"loss": total[0] / n, "recon": total[1] / n}
'''
VARIATIONAL = '''
def train_metrics(sums, steps, samples):
    """The epoch's training metrics from the step sums (reconstruction loss, KL)."""
    recon, kl = sums.tolist()
    return {"recon": recon / steps, "kl": kl / steps}


def eval_sums(out, x, latents):
    """One validation batch's (summed loss, reconstruction loss, KL). In eval a Latent passes its mean on;
    the KL (per sample, summed over the code's dims) is that of the distribution it was given, in closed
    form; the loss adds it per value, as in training."""
    recon = reconstruction_loss(out, x, reduction="sum")
    kl = sum(kl_closed(m.last_mean, m.last_logvar) for m in latents) * len(out)
    return torch.stack([recon + KL_WEIGHT / VALUES * kl, recon, kl])


def eval_metrics(total, n):
    return {"loss": total[0] / n, "recon": total[1] / n, "kl": total[2] / n}
'''


def _reconstruction(cfg: RunConfig, task: Task, layers: list[dict]) -> TaskCode:
    name = task.loss_name
    what = "(out - x)²" if name == "mse" else "the binary cross-entropy (out and x in [0, 1])"
    loss = _fn(RECON, what=what, body=RECON_BODY[name])
    target = "xt" if any(cfg.data.augment.values()) else "xb"
    latents = [layer["attr"] for layer in layers if layer["type"] == "Latent" and layer["args"]["variational"]]
    output = "the reconstruction of the input"
    if not latents:
        return TaskCode([loss, PLAIN.strip("\n")], [(f"loss = reconstruction_loss(out, {target})", MEAN)],
                        ("sums = sums + loss", "the reconstruction loss"),
                        output, target=target)
    consts = [("KL_WEIGHT", float(cfg.loss.kl_weight), "weight of the KL term in the loss (beta)"),
              ("VALUES", math.prod(task.expected()), "values per sample: the KL joins the loss per value")]
    code = f"    latents = [{', '.join(f'model.{a}' for a in latents)}]"
    setup = [f"{code:<57}# the variational Latent layers: their KL joins the loss"]
    kl_code = inspect.getsource(tasks.kl_closed).strip("\n")     # the engine's own KL function, by its source
    return TaskCode([loss, kl_code, VARIATIONAL.strip("\n")],
                    [(f"recon = reconstruction_loss(out, {target})", MEAN),
                     ("kl = sum(m.kl for m in latents)", "KL(q(z|x) || N(0, I)), a batch mean"),
                     ("loss = recon + KL_WEIGHT / VALUES * kl", "both per value: the negative ELBO / VALUES")],
                    ("sums = sums + torch.stack([recon.detach(), kl.detach()])", "reconstruction loss, KL"),
                    output, consts, setup, "latents", target)


# ----------------------------------------------------------------------------- sequence
SEQUENCE = '''
def loss_fn(out, y, reduction="mean"):
    """Cross-entropy of the scores out $out against the targets y $y$where."""
    return F.cross_entropy($args, ignore_index=IGNORE, reduction=reduction)
'''
PER_POSITION_SUMS = '''
def scored_sums(out, y):
    """(right tokens, scored tokens, sequences right at every scored position) of a batch, as floats."""
    scored = y != IGNORE
    hit = (out.argmax(-1) == y) & scored
    seq = (hit | ~scored).all(1).sum()
    return torch.stack([hit.sum(), scored.sum(), seq]).float()
'''
PER_SEQUENCE_SUMS = '''
def scored_sums(out, y):
    """(right answers, scored sequences, right answers) of a batch, as floats."""
    scored = y != IGNORE
    n = ((out.argmax(-1) == y) & scored).sum().float()
    return torch.stack([n, scored.sum().float(), n])
'''
SEQUENCE_METRICS = '''
def train_metrics(sums, steps, samples):
    """The epoch's training metrics from the step sums ($what)."""
    $body


def eval_sums(out, y):
    """One validation batch's (summed loss, right tokens, scored tokens, right sequences)."""
    return torch.cat([loss_fn(out, y, reduction="sum")[None], scored_sums(out, y)])


def eval_metrics(total, n):
    loss, hit, scored, seq = total
    return {"loss": loss / max(scored, 1), "token_acc": hit / max(scored, 1), "seq_acc": seq / n}
'''


def _sequence(cfg: RunConfig, task: Task, layers: list[dict]) -> TaskCode:
    data = task.data
    per_position = data.per_position
    length, c = data.input_shape[0], data.num_classes
    all_scored = cfg.data.name != "induction"            # only induction leaves positions unscored
    loss = _fn(SEQUENCE, out=f"(B, {length}, {c})" if per_position else f"(B, {c})",
               y=f"(B, {length})" if per_position else "(B,)",
               where=", every position counted (those marked IGNORE are not)" if per_position else "",
               args="out.reshape(-1, out.shape[-1]), y.reshape(-1)" if per_position else "out, y")
    if all_scored:
        body = f"return {{\"token_acc\": float(sums) / {f'(samples * {length})' if per_position else 'samples'}}}"
        what = "right tokens"
        sums = ("sums = sums + (out.detach().argmax(-1) == yb).sum()", "right tokens")
    else:
        body = 'hit, scored, _ = sums.tolist()\n    return {"token_acc": hit / max(scored, 1)}'
        what = "right and scored tokens, right sequences"
        sums = ("sums = sums + scored_sums(out.detach(), yb)", "right, scored tokens; right sequences")
    metrics = _fn(SEQUENCE_METRICS, what=what, body=body)
    output = f"scores for {c} classes at each position" if per_position else f"scores for {c} classes"
    return TaskCode([loss, (PER_POSITION_SUMS if per_position else PER_SEQUENCE_SUMS).strip("\n"), metrics],
                    [("loss = loss_fn(out, yb)", MEAN)], sums, output)
