"""Build & Train controls that no other test drives, checked through the page (AppTest, no browser)
against a reference the page does not compute:

- the LR finder shows the rate playground.train.lr_finder.find_lr suggests for the same config and
  seed (a call of our own), and "Use lr = ..." puts it on the learning-rate slider;
- a schedule picked on the form shapes the started run's per-epoch learning rates as the schedule's
  formula, worked out here by hand;
- the "Config (JSON)" download holds exactly the config Start trains;
- a config file uploaded through "Load a config file" sets the form to the file's values (read here
  with yaml), and a broken one is an error on the page that leaves the form as it was;
- the sidebar's device and the mixed-precision switch reach the started run's config. This machine
  has no GPU and the engine refuses mixed precision off CUDA (check_device), so the switch is checked
  as the page offers it: on while CUDA is offered and chosen, off and disabled once the device is the
  CPU, and the CPU run trains.
"""
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from playground.config import RunConfig
from playground.models import parse_layer_args, preset_layers
from playground.train import REGISTRY
from playground.train.lr_finder import find_lr
from tests.app.conftest import open_page, record_downloads

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PAGE = "views/build_train.py"


def button(at: AppTest, label: str):
    matches = [b for b in at.button if b.label == label]
    assert len(matches) == 1, (label, [b.label for b in at.button])
    return matches[0]


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def the_error(at: AppTest) -> str:
    """The one error the page shows."""
    shown = errors(at)
    assert len(shown) == 1, f"expected one error on the page, it shows {shown}"
    return shown[0]


def start_and_finish(at: AppTest):
    """Click Start; the run it started, trained to its end and written to the store."""
    button(at, "Start training").click().run()
    assert not at.exception, at.exception
    assert errors(at) == [], errors(at)
    run = REGISTRY.get(at.session_state["run_id"])
    try:
        assert run.join(60), "the run did not end within 60 s"
    finally:
        run.stop()
    assert run.history.status == "finished", run.history.message
    assert REGISTRY.flush()
    return run


@pytest.fixture
def downloads(monkeypatch) -> dict:
    return record_downloads(monkeypatch)


# ---------------------------------------------------------------------------------------- LR finder
def test_the_lr_finder_shows_find_lrs_suggestion_and_use_puts_it_on_the_slider():
    at = open_page(PAGE, "lara31")
    at.number_input(key="seed").set_value(11)
    at.selectbox(key="optim").set_value("momentum").run()
    button(at, "Run the range test").click().run()
    assert not at.exception, at.exception
    assert errors(at) == [], errors(at)

    # the same run, written out here: the spiral MLP at the form's starting settings, seed 11, SGD + momentum
    reference = find_lr(RunConfig.from_dict({"layers": preset_layers("MLP", "points", 2), "seed": 11,
                                             "optim": {"name": "momentum", "lr": 0.03}, "batch_size": 10}))
    suggestion = reference["suggestion"]
    assert suggestion is not None, "find_lr made no suggestion for the spiral MLP: pick another test config"
    shown = at.session_state["lrf"]
    np.testing.assert_allclose(shown["lr"], reference["lr"], rtol=0, atol=0, err_msg="the swept rates differ")
    np.testing.assert_allclose(shown["loss"], reference["loss"], rtol=1e-6,
                               err_msg="the page's range test trained another run than find_lr(config)")
    said = [m.value for m in at.markdown if m.value.startswith("Suggested learning rate")]
    assert len(said) == 1, [m.value for m in at.markdown]
    assert re.match(r"Suggested learning rate \*\*([^*]+)\*\*", said[0])[1] == f"{suggestion:.2g}", \
        (said[0], suggestion)

    assert at.select_slider(key="lr").value != float(f"{suggestion:.2g}"), "the slider is at the suggestion already"
    button(at, f"Use lr = {suggestion:.2g}").click().run()
    assert not at.exception, at.exception
    assert at.select_slider(key="lr").value == pytest.approx(float(f"{suggestion:.2g}"), rel=1e-12), \
        "'Use lr' did not put the suggestion on the learning-rate slider"


# ---------------------------------------------------------------------------------------- schedules
# The rate recorded at the end of epoch e of E (160 training samples, batch 10: 16 steps per epoch),
# base rate 0.1. step: x gamma every step_epochs epochs; cosine: annealed to 0 over the run.
SCHEDULES = {
    "step": ({"sched_gamma": 0.25, "sched_step": 2}, lambda e, E: 0.1 * 0.25 ** (e // 2)),
    "cosine": ({}, lambda e, E: 0.1 * (1 + math.cos(math.pi * e / E)) / 2),
}


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
def test_a_schedule_picked_on_the_form_sets_the_runs_learning_rate_per_epoch(schedule):
    knobs, formula = SCHEDULES[schedule]
    at = open_page(PAGE, "sami31")
    at.slider(key="n_samples").set_value(200)
    at.number_input(key="epochs").set_value(5)
    at.select_slider(key="lr").set_value(0.1)
    at.selectbox(key="schedule").set_value(schedule).run()
    for key, value in knobs.items():                 # the schedule's own knobs are drawn once it is picked
        (at.slider if key == "sched_gamma" else at.number_input)(key=key).set_value(value)
    at.run()
    run = start_and_finish(at)
    assert run.config.schedule.name == schedule
    recorded = [record["lr"] for record in run.history.epochs]
    assert recorded == pytest.approx([formula(e, 5) for e in range(1, 6)], rel=1e-6, abs=1e-12), \
        f"{schedule}: the run's per-epoch learning rates do not follow the schedule"


# ------------------------------------------------------------------------------------ config download
def test_the_config_download_is_exactly_what_start_trains(downloads):
    at = open_page(PAGE, "dina31")
    at.number_input(key="seed").set_value(5)
    at.number_input(key="epochs").set_value(2)
    at.slider(key="n_samples").set_value(100)
    at.selectbox(key="optim").set_value("rmsprop")
    at.select_slider(key="batch_size").set_value(16)
    at.selectbox(key="schedule").set_value("exponential").run()
    hidden = at.session_state["layers"][0]["id"]
    at.text_input(key=f"largs_{hidden}").input("out_features=12, bias=True").run()
    assert errors(at) == [], errors(at)
    offered = json.loads(downloads["run.json"])
    # the edits, as written into the file
    assert (offered["seed"], offered["epochs"], offered["batch_size"], offered["data"]["n_samples"]) == (5, 2, 16, 100)
    assert (offered["optim"]["name"], offered["schedule"]["name"]) == ("rmsprop", "exponential")
    assert offered["layers"][0] == {"type": "Linear", "out_features": 12, "bias": True}

    run = start_and_finish(at)
    assert RunConfig.from_dict(offered) == run.config, "the downloaded config is not the one Start trained"


# -------------------------------------------------------------------------------------- config upload
def form_view(at: AppTest) -> dict:
    """What the form holds, in config terms, for the fields a config file sets."""
    s = at.session_state
    return {"data": s["data_name"], "optim": s["optim"], "lr": s["lr"], "epochs": s["epochs"],
            "batch_size": s["batch_size"],
            "layers": [parse_layer_args(row["type"], row["args"], i + 1) for i, row in enumerate(s["layers"])]}


def upload(at: AppTest, name: str, text: str) -> None:
    at.file_uploader(key="config_upload").upload(name, text.encode(), "application/yaml").run()
    assert not at.exception, at.exception


def test_an_uploaded_config_file_sets_the_form_and_a_broken_one_leaves_it():
    at = open_page(PAGE, "ulla31")
    at.selectbox(key="optim").set_value("sgd").run()            # the file says adam: the upload must set it
    before = form_view(at)

    text = (EXAMPLES / "digits_mlp.yaml").read_text()
    assert "lr: 0.003" in text
    upload(at, "typo.yaml", text.replace("lr: 0.003", "lr: -1"))      # all of the example, but one bad value
    said = the_error(at)
    assert said.startswith("'typo.yaml' is not a run config") and "optim.lr" in said, said
    assert form_view(at) == before, "a refused file changed the form"

    upload(at, "digits_mlp.yaml", text)
    assert errors(at) == [], errors(at)
    want = yaml.safe_load(text)
    got = form_view(at)
    assert (got["data"], got["optim"], got["lr"], got["epochs"], got["batch_size"]) == \
        (want["data"]["name"], want["optim"]["name"], want["optim"]["lr"], want["epochs"], want["batch_size"])
    assert [layer["type"] for layer in got["layers"]] == [layer["type"] for layer in want["layers"]]
    for i, (row, layer) in enumerate(zip(got["layers"], want["layers"])):
        assert layer.items() <= row.items(), f"layer {i + 1}: the file says {layer}, the editor holds {row}"
    assert not button(at, "Start training").disabled

    loaded = form_view(at)
    upload(at, "cut.yaml", "epochs: 3\n  seed: [1")                    # not YAML at all
    assert the_error(at).startswith("'cut.yaml' is not valid YAML"), the_error(at)
    assert form_view(at) == loaded, "a file that cannot be read changed the form"


def test_a_config_past_a_sliders_range_loads_at_its_end_and_says_so():
    """The CLI trains noise 0.6 and 75% validation; the page's sliders stop at 0.5 and 50%: the form holds
    those, says what it moved, and draws (no exception box)."""
    at = open_page(PAGE, "ulla32")
    upload(at, "wide.yaml", "name: wide\ndata: {name: spiral, n_samples: 60, noise: 0.6, val_fraction: 0.75}\n"
                            "layers: [{type: Linear, out_features: 8}, {type: ReLU}, "
                            "{type: Linear, out_features: 2}]\n")
    assert not at.exception, [e.value for e in at.exception]
    assert errors(at) == [], errors(at)
    assert (at.session_state["noise"], at.session_state["val_pct"], at.session_state["n_samples"]) == (0.5, 50, 100)
    note = " ".join(w.value for w in at.warning)
    assert "noise 0.6 → 0.5" in note and "val_pct 75 → 50" in note and "n_samples 60 → 100" in note, note


# --------------------------------------------------------------------------------- device and AMP
def test_the_device_and_mixed_precision_reach_the_run(monkeypatch, downloads):
    # a server with a GPU offers cuda in the sidebar, and mixed precision with it
    monkeypatch.setattr(REGISTRY.executor, "devices", lambda: ["cpu", "cuda"])
    at = open_page(PAGE, "amos31")
    at.number_input(key="epochs").set_value(2)
    at.slider(key="n_samples").set_value(100)
    at.selectbox(key="device").set_value("cuda").run()
    assert not at.toggle(key="amp").disabled, "mixed precision is off limits though CUDA is chosen"
    at.toggle(key="amp").set_value(True).run()
    offered = json.loads(downloads["run.json"])
    assert (offered["device"], offered["amp"]) == ("cuda", True)

    # this machine has no CUDA: Start is refused with the reason, not an exception
    button(at, "Start training").click().run()
    assert not at.exception, at.exception
    assert any("device 'cuda' is not available" in e for e in errors(at)), errors(at)

    # the CPU: the switch goes off (the engine refuses mixed precision off CUDA) and the run trains there
    at.selectbox(key="device").set_value("cpu").run()
    assert at.toggle(key="amp").disabled and at.toggle(key="amp").value is False
    run = start_and_finish(at)
    assert (run.config.device, run.config.amp) == ("cpu", False)
    assert len(run.history.epochs) == 2
