"""The run form's one mapping of widgets to config fields (ui.run_form.FIELDS): the untouched form
builds FORM_START, and every field goes from a config into its widgets and back unchanged."""
import pytest
from streamlit.testing.v1 import AppTest

from playground.config import RunConfig
from playground.models import layer_args_text, parse_layer_args
from ui.run_form import BATCHES, DECAYS, FIELDS, FORM, FORM_START, NOT_LOADED, SUGGESTED, config_dict, form_values

# A value other than FORM_START's for each field, and one its widget can hold (sliders have fixed steps).
OTHER = {
    ("data", "name"): "mnist_subset", ("data", "noise"): 0.35, ("data", "n_samples"): 1200,
    ("data", "val_fraction"): 0.3, ("data", "max_train"): 500, ("data", "data_dir"): "elsewhere",
    ("data", "download"): True, ("data", "standardize"): False, ("data", "function"): "step",
    ("data", "seq_len"): 12, ("data", "vocab"): 7, ("data", "augment"): {"rotate": 30.0, "flip": 0.25},
    ("data", "upload"): "0123456789abcdef", ("data", "target"): "size", ("data", "target_task"): "regression",
    ("data", "features"): ["width", "colour"], ("data", "missing"): "mean", ("data", "image_size"): 32,
    ("data", "colour"): True,
    ("optim", "name"): "nesterov", ("optim", "lr"): 0.0042, ("optim", "momentum"): 0.5,
    ("optim", "weight_decay"): 1e-3, ("schedule", "name"): "step", ("schedule", "gamma"): 0.25,
    ("schedule", "step_epochs"): 4, ("schedule", "warmup_epochs"): 2.5, ("batch_size",): 64, ("epochs",): 7,
    ("init",): "he", ("task",): "reconstruction", ("loss", "name"): "bce", ("loss", "label_smoothing"): 0.1,
    ("loss", "class_weights"): "1, 2", ("loss", "kl_weight"): 0.5, ("l1",): 1e-4, ("clip_norm",): 1.0,
    ("patience",): 3, ("amp",): True, ("seed",): 1234, ("device",): "cpu",
}


def at_path(d: dict, path: tuple):
    for part in path:
        d = d[part]
    return d


def with_values(values: dict) -> RunConfig:
    """FORM_START with the fields at these paths set to these values."""
    d = FORM_START.to_dict()
    for path, value in values.items():
        at_path(d, path[:-1])[path[-1]] = value
    return RunConfig.from_dict(d)


def test_every_field_has_a_test_value_unlike_the_start():
    assert sorted(f.path for f in FIELDS.values()) == sorted(OTHER)
    assert all(at_path(FORM_START.to_dict(), p) != v for p, v in OTHER.items())


def as_edited(specs: list[dict]) -> list[dict]:
    """Layers as the editor writes them back (its text spells out defaults, e.g. bias=True)."""
    return [parse_layer_args(spec["type"], layer_args_text(spec), i + 1) for i, spec in enumerate(specs)]


def test_the_untouched_form_builds_form_start(at):
    s = {k: at.session_state[k] for k in FORM}
    edited = [parse_layer_args(row["type"], row["args"], i + 1) for i, row in enumerate(at.session_state["layers"])]
    assert edited == as_edited(FORM_START.layers)
    assert RunConfig.from_dict({**config_dict(s), "layers": FORM_START.layers}) == FORM_START


def test_form_start_differs_from_runconfig_only_where_the_classroom_wants_it():
    default = RunConfig(layers=FORM_START.layers).to_dict()
    assert (default["batch_size"], default["epochs"], default["optim"]["lr"]) == (32, 20, 0.01)  # config files'
    assert FORM_START == RunConfig.from_dict({**default, "batch_size": 10, "epochs": 100,
                                              "optim": {**default["optim"], "lr": 0.03}})
    # the settings the form suggests for 2-D points, the start's kind of data, are the start's own
    assert {k: FORM[k] for k in SUGGESTED["points"]} == SUGGESTED["points"]


@pytest.mark.parametrize("path", sorted(OTHER), ids=".".join)
def test_a_field_goes_into_its_widgets_and_back(path):
    image = {("data", "name"): "mnist_subset"} if path == ("data", "augment") else {}   # augmentation: images only
    cfg = with_values({path: OTHER[path], **image})
    built = config_dict({**FORM, **form_values(cfg)})
    assert at_path(built, path) == OTHER[path]


def load_and_build():
    """An app script: apply_config (the loader of examples and uploads) puts the config in
    session_state["to_load"] into the widgets' state, and build_config builds the form's config."""
    import streamlit as st

    from playground.config import RunConfig
    from ui.run_form import apply_config, build_config, init_form

    init_form()
    apply_config(RunConfig.from_dict(st.session_state["to_load"]))
    st.session_state["built"] = build_config().to_dict()


def test_the_loader_fills_the_widgets_and_the_form_builds_the_same_config():
    cfg = with_values(OTHER)
    at = AppTest.from_function(load_and_build, default_timeout=30)
    at.session_state["to_load"] = cfg.to_dict()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    built = at.session_state["built"]
    for key, field in FIELDS.items():
        # this server's device and mixed precision stay as they were: FORM_START's here
        expected = FORM_START if key in NOT_LOADED else cfg
        assert at_path(built, field.path) == at_path(expected.to_dict(), field.path), key
    assert built["layers"] == as_edited(cfg.layers)


def test_a_config_value_between_slider_steps_takes_the_nearest_step():
    widgets = form_values(with_values({("batch_size",): 50, ("optim", "weight_decay"): 2e-3}))
    assert widgets["batch_size"] == 64 and widgets["batch_size"] in BATCHES
    assert widgets["weight_decay"] == 1e-3 and widgets["weight_decay"] in DECAYS
