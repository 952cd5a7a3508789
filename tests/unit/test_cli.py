"""playground/__main__.py: `python -m playground train|check|datasets`, as a user runs it.

Each `python -m playground` process spends ~3 s importing torch and friends, so the module starts
all of its subprocesses at once (as many in parallel as there are CPUs) and each test waits for its
own. A few extra cases call main() in-process, where the imports are already paid for.
"""
import json
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from playground.__main__ import main
from playground.config import load_config
from tests.unit.run_helper import Run
from tests.unit.script_runner import run_script

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p.name for p in (ROOT / "examples").iterdir() if p.suffix in (".yaml", ".yml", ".json"))
RESULT_KEYS = {"status", "epochs", "train_loss", "val_loss", "val_accuracy", "samples_per_s"}
CONV_ON_SPIRAL = """\
data: {name: spiral, n_samples: 200}
layers:
  - {type: Conv2d, out_channels: 8}
  - {type: Flatten}
  - {type: Linear, out_features: 2}
"""


def run_cli(*args, timeout=240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "playground", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """cli(key) -> the finished subprocess of that command; all of them start together."""
    bad = tmp_path_factory.mktemp("cli") / "conv_on_spiral.yaml"
    bad.write_text(CONV_ON_SPIRAL)
    commands = {
        "train xor": ("train", "examples/xor_tanh.yaml"),
        "check mnist": ("check", "examples/mnist_cnn.yaml"),
        "check bad": ("check", bad),
        "train missing": ("train", "examples/no_such_file.yaml"),
        # every example for one epoch; xor_tanh trains in full above (its 30 epochs take ~0.1 s)
        **{f"example {name}": ("train", f"examples/{name}", "--epochs", "1")
           for name in EXAMPLES if name != "xor_tanh.yaml"},
    }
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {key: pool.submit(run_cli, *args) for key, args in commands.items()}
        yield lambda key: futures[key].result()


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def test_examples_are_found():
    assert {"xor_tanh.yaml", "mnist_cnn.yaml", "spiral_mlp.yaml"} <= set(EXAMPLES)


def test_train_prints_progress_then_a_json_result(cli):
    p = cli("train xor")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert lines[0].startswith("training xor tanh on ")
    assert "320 samples, 30 epochs, batch 16" in lines[0]
    epoch_lines = [line for line in lines if line.startswith("epoch ")]
    assert len(epoch_lines) == 30 and epoch_lines[-1].startswith("epoch  30/30  train loss ")
    result = last_json(p.stdout)
    assert RESULT_KEYS <= set(result)
    assert result["status"] == "finished" and result["epochs"] == 30
    assert result["val_accuracy"] > 0.9                      # one Tanh layer of 4 solves XOR
    assert result["val_loss"] < 0.5 and result["samples_per_s"] > 0
    assert "Traceback" not in p.stderr


def test_check_prints_the_table_and_the_parameter_total(cli):
    p = cli("check mnist")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert lines[0].split()[:12] == ["data:", "mnist_subset", "input", "1x28x28", "(CxHxW)", "10", "classes",
                                "4000", "train", "/", "1000", "validation"]
    rows = [line.split() for line in lines[2:-1]]
    assert [r[0] for r in rows] == [str(i) for i in range(1, 9)]
    assert [r[1] for r in rows] == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear"]
    assert [r[-1] for r in rows] == ["80", "0", "0", "1,168", "0", "0", "0", "7,850"]
    assert rows[6][-3:-1] == ["784", "features"]
    assert lines[-1] == "total parameters: 9,098"


def test_check_of_an_impossible_network_is_a_one_line_error(cli):
    p = cli("check bad")
    assert p.returncode == 2
    assert p.stdout == ""
    err = p.stderr.strip().splitlines()
    assert len(err) == 1, p.stderr
    assert err[0].startswith("error: layer 1 (Conv2d): expects an image")
    assert "the data are 2-D points" in err[0]
    assert "Traceback" not in p.stderr


def test_train_on_a_missing_file_exits_2_without_a_traceback(cli):
    p = cli("train missing")
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert p.stderr.strip() == ("error: config file 'examples/no_such_file.yaml' not found; "
                                "give the path of a .json or .yaml file (see examples/)")
    result = last_json(p.stdout)
    assert result["status"] == "failed" and "not found" in result["message"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_trains(cli, name):
    p = cli("train xor" if name == "xor_tanh.yaml" else f"example {name}")
    epochs = load_config(ROOT / "examples" / name).epochs if name == "xor_tanh.yaml" else 1
    assert p.returncode == 0, p.stderr
    result = last_json(p.stdout)
    assert result["status"] == "finished", result
    assert result["epochs"] == epochs
    assert result["train_loss"] > 0 and math.isfinite(result["val_loss"])
    headline = {"classification": "val_accuracy", "regression": "val_mae", "reconstruction": "val_recon",
                "sequence": "val_token_accuracy"}[result["task"]]
    assert result[headline] >= 0 and (headline == "val_mae" or headline == "val_recon" or result[headline] <= 1)
    assert any(line.startswith(f"epoch {epochs:>3}/{epochs}  train loss") for line in p.stdout.splitlines())


# ----------------------------------------------------------------------------- in-process
def test_overrides_and_the_result_match_the_engine(capsys):
    code = main(["train", str(ROOT / "examples/xor_tanh.yaml"), "--epochs", "2", "--seed", "3", "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0
    result = last_json(out)
    assert result["epochs"] == 2 and result["steps"] == 40           # 320 samples / batch 16 = 20 per epoch
    cfg = load_config(ROOT / "examples/xor_tanh.yaml")
    cfg.epochs, cfg.seed, cfg.device = 2, 3, "cpu"
    expected = Run(cfg).run()
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
        assert result[key] == expected[key], key                     # same seed: the same numbers


def test_a_diverging_run_exits_1_and_says_why(tmp_path, capsys):
    path = tmp_path / "hot.json"
    path.write_text(json.dumps({
        "data": {"name": "spiral", "n_samples": 200},
        "layers": [{"type": "Linear", "out_features": 16}, {"type": "ReLU"}, {"type": "Linear", "out_features": 2}],
        "optim": {"name": "sgd", "lr": 1000}, "epochs": 3, "device": "cpu"}))
    assert main(["train", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("Diverged: the training loss reached")
    assert "learning rate 1000" in captured.err
    result = last_json(captured.out)
    assert result["status"] == "diverged" and result["diverged_at"] >= 2


def test_a_bad_value_is_an_error_with_the_field(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("layers: [{type: Linear, out_features: 2}]\noptim: {name: adam, lr: 0}\n")
    assert main(["check", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: optim.lr: the learning rate must be above 0")
    assert main(["train", str(path)]) == 2
    assert last_json(capsys.readouterr().out)["status"] == "failed"


def test_invalid_yaml_is_an_error_not_a_traceback(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("layers: [{type: Linear\n")
    assert main(["check", str(path)]) == 2
    assert "is not valid YAML" in capsys.readouterr().err


def test_datasets_lists_every_data_set(capsys):
    from playground.data import DATASETS

    assert main(["datasets"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(DATASETS)
    assert lines[0].split()[1:4] == ["points", "classification", "offline"]
    assert [line.split()[3] for line in lines if line.startswith("mnist ")] == ["files/online"]
    assert [line.split()[1:3] for line in lines if line.startswith("reverse ")] == [["tokens", "sequence"]]


def test_a_command_is_required(capsys):
    with pytest.raises(SystemExit) as e:
        main([])
    assert e.value.code == 2


# ----------------------------------------------------------------------------- the run store from the CLI
def test_train_stores_its_run_and_runs_lists_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "store"))
    assert main(["train", str(ROOT / "examples/xor_tanh.yaml"), "--epochs", "3", "--owner", "abc123"]) == 0
    out = capsys.readouterr().out
    result = last_json(out)
    assert f"(run {result['run_id']}, stored in {tmp_path / 'store'})" in out.splitlines()[0]
    assert main(["runs", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == result["run_id"] and row["owner"] == "abc123" and row["status"] == "finished"
    assert row["epochs"] == 3 and row["data"] == "xor" and row["final_val_acc"] == result["val_accuracy"]
    assert main(["runs"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["id", "status", "epochs"]
    assert table[1].split()[:3] == [result["run_id"], "finished", "3/3"]


def test_a_run_that_ended_before_the_cli_followed_it_still_prints_its_epochs(tmp_path, capsys, monkeypatch):
    # a short run can end before the CLI follows it (notes_one_weight, one step, did in CI): its epochs still print
    from playground.__main__ import _follow, _registry

    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "store"))
    cfg = load_config(ROOT / "examples/xor_tanh.yaml")
    cfg.epochs = 2
    reg = _registry()
    run = reg.start(cfg)
    run.join(60)
    assert not run.alive and len(run.history.epochs) == 2
    result = _follow(reg, run, 2)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in lines] == ["1/2", "2/2"] and result["status"] == "finished"


def test_resume_trains_more_and_export_writes_every_format(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "store"))
    assert main(["train", str(ROOT / "examples/xor_tanh.yaml"), "--epochs", "2"]) == 0
    rid = last_json(capsys.readouterr().out)["run_id"]
    assert main(["resume", rid[:4], "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(f"resuming xor tanh (run {rid}) after epoch 2, to epoch 4")
    assert [line.split()[1] for line in out.splitlines() if line.startswith("epoch ")] == ["3/4", "4/4"]
    assert last_json(out)["epochs"] == 4
    assert main(["resume", rid]) == 2
    assert "has finished its 4 epochs" in capsys.readouterr().err
    for fmt, name in (("safetensors", "w.safetensors"), ("onnx", "m.onnx"), ("torchscript", "m.pt"),
                      ("script", "train.py")):
        assert main(["export", rid, "--format", fmt, "--out", str(tmp_path / name)]) == 0, fmt
        info = last_json(capsys.readouterr().out)
        assert info["format"] == fmt and (tmp_path / name).stat().st_size == info["bytes"] > 0
    exports_read_back_as_the_frozen_model(tmp_path, rid)
    assert main(["export", "nope", "--format", "onnx", "--out", str(tmp_path / "x.onnx")]) == 2
    assert capsys.readouterr().err.startswith("error: no stored run matches 'nope'")


def exports_read_back_as_the_frozen_model(folder: Path, rid: str) -> None:
    """Each file written by `export`, loaded back by its own reader, against the stored run's model."""
    import onnxruntime
    import torch
    from safetensors.torch import load_file

    from playground.store import Store
    from playground.train.frozen import frozen_model

    store = Store(folder / "store")
    frozen = frozen_model(store, rid)
    assert frozen.epoch == 4
    state = frozen.model.state_dict()
    tensors = load_file(folder / "w.safetensors")
    assert tensors.keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(tensors[key], value), key
    x = frozen.data.X_val[:4]                                          # (4, 2) validation inputs
    with torch.no_grad():
        expected = frozen.model(x)
        scripted = torch.jit.load(str(folder / "m.pt"))(x)
    torch.testing.assert_close(scripted, expected, atol=1e-6, rtol=1e-5)
    session = onnxruntime.InferenceSession(str(folder / "m.onnx"), providers=["CPUExecutionProvider"])
    onnx_out = torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])
    torch.testing.assert_close(onnx_out, expected, atol=1e-5, rtol=1e-4)
    # the PyTorch script compiles and, run here (exec'd: no second torch import), trains the run's 4 epochs
    # to the stored run's numbers (the resume after epoch 2 is exact)
    *records, final = run_script((folder / "train.py").read_text(encoding="utf-8"))
    assert final["status"] == "finished" and final["epochs"] == 4
    stored = store.get(rid)
    assert records[-1]["val_loss"] == stored.final_val_loss and records[-1]["val_acc"] == stored.final_val_acc


def test_a_negative_seed_and_a_giant_layer_are_one_line_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "store"))
    assert main(["train", str(ROOT / "examples/xor_tanh.yaml"), "--seed", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: seed: must be from 0 to 2,147,483,647") and "Traceback" not in err
    giant = tmp_path / "giant.yaml"
    giant.write_text("data: {name: spiral}\nlayers:\n  - {type: Linear, out_features: 200000}\n"
                     "  - {type: Linear, out_features: 200000}\n  - {type: Linear, out_features: 2}\n")
    assert main(["train", str(giant)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "layer 2 (Linear, 200,000 x 200,000" in err[0]
    assert main(["runs", "--json"]) == 0 and capsys.readouterr().out == ""   # refused runs leave nothing behind
