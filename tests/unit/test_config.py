"""playground/config.py: run configs round-trip through dicts and files; bad values are refused."""
import json
import re
from pathlib import Path

import pytest

from playground.config import DEVICES, INITS, OPTIMIZERS, DataConfig, OptimConfig, RunConfig, load_config, read_mapping
from playground.errors import ConfigError, PlaygroundError

ROOT = Path(__file__).resolve().parents[2]
MLP = [{"type": "Linear", "out_features": 8}, {"type": "ReLU"}, {"type": "Linear", "out_features": 2}]


def full_dict() -> dict:
    """A config dict with every field set away from its default."""
    return {
        "name": "my run",
        "data": {"name": "moons", "n_samples": 300, "noise": 0.2, "val_fraction": 0.25, "max_train": 100,
                 "data_dir": "somewhere", "download": True},
        "layers": MLP,
        "optim": {"name": "rmsprop", "lr": 0.003, "momentum": 0.5, "weight_decay": 1e-4, "beta1": 0.8,
                  "beta2": 0.99, "eps": 1e-6, "alpha": 0.9},
        "batch_size": 8, "epochs": 7, "init": "xavier", "seed": 42, "device": "cpu", "amp": True, "threads": 2,
    }


# ----------------------------------------------------------------------------- round trips
def test_from_dict_sets_every_field():
    cfg = RunConfig.from_dict(full_dict())
    assert cfg.name == "my run"
    assert cfg.data == DataConfig(name="moons", n_samples=300, noise=0.2, val_fraction=0.25, max_train=100,
                                  data_dir="somewhere", download=True)
    assert cfg.optim == OptimConfig(name="rmsprop", lr=0.003, momentum=0.5, weight_decay=1e-4, beta1=0.8,
                                    beta2=0.99, eps=1e-6, alpha=0.9)
    assert cfg.layers == MLP
    assert (cfg.batch_size, cfg.epochs, cfg.init, cfg.seed, cfg.device, cfg.amp, cfg.threads) == \
        (8, 7, "xavier", 42, "cpu", True, 2)


def test_to_dict_from_dict_round_trip():
    d = full_dict()
    cfg = RunConfig.from_dict(d)
    out = cfg.to_dict()
    for key, value in d.items():              # every value set comes back (new fields may be added)
        if isinstance(value, dict):
            assert {k: out[key][k] for k in value} == value, key
        else:
            assert out[key] == value, key
    assert RunConfig.from_dict(out) == cfg
    assert RunConfig.from_dict(out).to_dict() == out


def test_to_json_round_trip():
    cfg = RunConfig.from_dict(full_dict())
    assert RunConfig.from_dict(json.loads(cfg.to_json())) == cfg


def test_missing_fields_take_defaults():
    cfg = RunConfig.from_dict({"layers": MLP})
    assert cfg.data == DataConfig()
    assert cfg.optim == OptimConfig()
    assert (cfg.optim.name, cfg.optim.lr, cfg.batch_size, cfg.epochs, cfg.seed) == ("adam", 0.01, 32, 20, 0)
    assert (cfg.init, cfg.device, cfg.amp, cfg.threads) == ("default", "auto", False, 1)


def test_scalars_are_coerced_to_the_field_types():
    cfg = RunConfig.from_dict({"layers": MLP, "optim": {"lr": "1e-3", "weight_decay": 1}, "epochs": 3.0,
                               "seed": "5", "amp": "yes", "data": {"noise": 0, "download": "false"}})
    assert cfg.optim.lr == 0.001 and isinstance(cfg.optim.lr, float)
    assert cfg.optim.weight_decay == 1.0 and isinstance(cfg.optim.weight_decay, float)
    assert cfg.epochs == 3 and isinstance(cfg.epochs, int)
    assert cfg.seed == 5
    assert cfg.amp is True
    assert cfg.data.noise == 0.0 and isinstance(cfg.data.noise, float)
    assert cfg.data.download is False


@pytest.mark.parametrize("field, value, expected", [
    ("epochs", 2.5, "epochs: expected int, got 2.5"),
    ("batch_size", "many", "batch_size: expected int, got 'many'"),
])
def test_uncoercible_values_are_refused_with_the_field(field, value, expected):
    with pytest.raises(ConfigError, match=expected):
        RunConfig.from_dict({"layers": MLP, field: value})


def test_uncoercible_nested_value_names_the_nested_field():
    with pytest.raises(ConfigError, match=r"optim\.lr: expected float, got 'fast'"):
        RunConfig.from_dict({"layers": MLP, "optim": {"lr": "fast"}})


# ----------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("d, field", [
    ({"learning_rate": 0.1}, "learning_rate"),
    ({"data": {"nmae": "spiral"}}, "nmae"),
    ({"optim": {"lr": 0.1, "betas": [0.9, 0.99]}}, "betas"),
])
def test_unknown_keys_are_refused_with_the_field_name(d, field):
    with pytest.raises(ConfigError, match=f"unknown field\\(s\\) {field}") as e:
        RunConfig.from_dict({"layers": MLP, **d})
    assert "known fields:" in str(e.value)


def test_unknown_nested_key_says_where_it_is():
    with pytest.raises(ConfigError, match=r"^data: unknown field\(s\) nmae"):
        RunConfig.from_dict({"layers": MLP, "data": {"nmae": "spiral"}})
    with pytest.raises(ConfigError, match=r"^optim: unknown field\(s\) momentun"):
        RunConfig.from_dict({"layers": MLP, "optim": {"momentun": 0.9}})


def test_bad_optimizer_name_lists_the_choices():
    with pytest.raises(ConfigError, match="optim.name: unknown optimizer 'adma'") as e:
        RunConfig.from_dict({"layers": MLP, "optim": {"name": "adma"}})
    for name in OPTIMIZERS:
        assert name in str(e.value)


@pytest.mark.parametrize("lr", [0, 0.0, -0.1, "-1e-3"])
def test_learning_rate_must_be_positive(lr):
    with pytest.raises(ConfigError, match="optim.lr: the learning rate must be above 0"):
        RunConfig.from_dict({"layers": MLP, "optim": {"lr": lr}})


@pytest.mark.parametrize("d, message", [
    ({"init": "glorot"}, "init: unknown initialisation 'glorot'"),
    ({"device": "tpu"}, "device: unknown device 'tpu'"),
    ({"batch_size": 0}, "batch_size: must be at least 1"),
    ({"epochs": 0}, "epochs: must be at least 1"),
    ({"threads": 0}, "threads: must be at least 1"),
    ({"optim": {"weight_decay": -0.1}}, "optim.weight_decay: must be 0 or more"),
    ({"data": {"val_fraction": 1.0}}, "data.val_fraction: must be between 0 and 1"),
    ({"data": {"val_fraction": 0}}, "data.val_fraction: must be between 0 and 1"),
    ({"data": {"noise": 1.5}}, "data.noise: must be between 0 and 1"),
    ({"data": {"n_samples": 10}}, "data.n_samples: need at least 20 points"),
    ({"data": {"max_train": -1}}, "data.max_train: must be 0"),
    ({"layers": []}, "layers: the network is empty"),
    ({"layers": [{"out_features": 3}]}, "layers: must be a list of mappings, each with a 'type'"),
    ({"layers": "Linear"}, "layers: must be a list of mappings"),
])
def test_bad_values_are_refused_with_the_field(d, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        RunConfig.from_dict({"layers": MLP, **d})


def test_choices_in_messages_match_the_constants():
    with pytest.raises(ConfigError) as e:
        RunConfig.from_dict({"layers": MLP, "init": "zeros"})
    assert ", ".join(INITS) in str(e.value)
    with pytest.raises(ConfigError) as e:
        RunConfig.from_dict({"layers": MLP, "device": "xpu"})
    assert ", ".join(DEVICES) in str(e.value)


@pytest.mark.parametrize("d", [[1, 2], "spiral", None, 3])
def test_a_config_must_be_a_mapping(d):
    with pytest.raises(ConfigError, match="a run config must be a mapping"):
        RunConfig.from_dict(d)


def test_nested_sections_must_be_mappings():
    with pytest.raises(ConfigError, match="data: must be a mapping of fields, got 'spiral'"):
        RunConfig.from_dict({"layers": MLP, "data": "spiral"})


def test_data_config_from_dict_validates():
    assert DataConfig.from_dict({"name": "xor", "n_samples": 40}) == DataConfig(name="xor", n_samples=40)
    assert DataConfig.from_dict(None) == DataConfig()
    with pytest.raises(ConfigError, match="data.val_fraction"):
        DataConfig.from_dict({"val_fraction": 2})
    with pytest.raises(ConfigError, match=r"data: unknown field\(s\) flavour"):
        DataConfig.from_dict({"flavour": "red"})


def test_config_errors_are_playground_errors():
    # The CLI and the page show PlaygroundErrors without a traceback: ConfigError must be one.
    assert issubclass(ConfigError, PlaygroundError)


# ----------------------------------------------------------------------------- files
YAML_TEXT = """\
# a comment
name: from yaml
data: {name: xor, n_samples: 100, noise: 0.05}
layers:
  - {type: Linear, out_features: 4}
  - {type: Tanh}
  - {type: Linear, out_features: 2}
optim: {name: momentum, lr: 0.1, momentum: 0.8}
epochs: 5
seed: 3
"""


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".YAML"])
def test_load_yaml_file(tmp_path, suffix):
    path = tmp_path / f"run{suffix}"
    path.write_text(YAML_TEXT)
    cfg = load_config(path)
    assert cfg.name == "from yaml"
    assert cfg.data == DataConfig(name="xor", n_samples=100, noise=0.05)
    assert cfg.layers == [{"type": "Linear", "out_features": 4}, {"type": "Tanh"},
                          {"type": "Linear", "out_features": 2}]
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.momentum) == ("momentum", 0.1, 0.8)
    assert (cfg.epochs, cfg.seed) == (5, 3)


def test_load_json_file(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(full_dict()))
    assert load_config(path) == RunConfig.from_dict(full_dict())


def test_saved_json_loads_back(tmp_path):
    cfg = RunConfig.from_dict(full_dict())
    path = tmp_path / "saved.json"
    path.write_text(cfg.to_json())
    assert load_config(str(path)) == cfg


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_a_folder_is_not_a_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        read_mapping(tmp_path)


@pytest.mark.parametrize("name, text, kind", [
    ("bad.yaml", "data: {name: spiral\nlayers: [", "YAML"),
    ("bad.yml", "a: b: c", "YML"),
    ("bad.json", '{"layers": [}', "JSON"),
    ("bad.json", "", "JSON"),
])
def test_invalid_file_is_a_config_error(tmp_path, name, text, kind):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError, match=f"is not valid {kind}"):
        load_config(path)


def test_valid_file_with_bad_content_names_the_field(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("layers: [{type: Linear, out_features: 2}]\noptim: {name: adam, lr: -1}\n")
    with pytest.raises(ConfigError, match="optim.lr"):
        load_config(path)


EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if p.suffix in (".yaml", ".yml", ".json"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_file_is_a_valid_config(path):
    cfg = load_config(path)
    assert cfg.layers and cfg.name


@pytest.mark.parametrize("optim, expected", [
    ({"name": "nesterov", "momentum": 0}, "Nesterov needs a momentum above 0"),
    ({"momentum": 1.0}, "optim.momentum: must be from 0 up to"),
    ({"beta1": 1.0}, "optim.beta1/beta2"),
    ({"beta2": -0.1}, "optim.beta1/beta2"),
    ({"eps": 0}, "optim.eps: must be above 0"),
    ({"alpha": 1.5}, "optim.alpha"),
])
def test_optimizer_settings_torch_would_refuse_are_refused_first(optim, expected):
    with pytest.raises(ConfigError, match=expected):
        RunConfig.from_dict({"layers": MLP, "optim": optim})
