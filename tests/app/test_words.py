"""Issue 25 items 8 and 9, the words a teacher found wrong in a browser, checked with AppTest: each
failed before its fix. The layout half (what a browser draws) is in tests/e2e/test_layout.py."""
import json
import re
import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from playground.config import load_config
from playground.data.uploads import limits
from playground.inspect.inputs import MAX_BYTES
from playground.models import preset_layers
from playground.train import REGISTRY
from tests.app.conftest import open_page, record_downloads
from tests.tokens import token
from tests.trained import train_stored
from ui.own_data import CONFIG_MB

ROOT = Path(__file__).resolve().parents[2]
OWNER = token("wendy25")


def example(name: str, **data) -> dict:
    cfg = load_config(ROOT / "examples" / name).to_dict()
    cfg["epochs"] = 1
    cfg["data"].update(data)
    return cfg


@pytest.fixture(scope="module")
def runs():
    return {"tokens": train_stored(example("transformer_reverse.yaml", n_samples=300), owner=OWNER),
            "shapes": train_stored(example("shapes_cnn.json", max_train=200), owner=OWNER),
            "classifier": train_stored({"name": "words classifier", "layers": preset_layers("MLP", "points", 2),
                                        "epochs": 1, "data": {"n_samples": 100}}, owner=OWNER)}


def showing(run, page: str) -> AppTest:
    at = open_page("views/build_train.py", OWNER)
    at.selectbox(key="run_id").set_value(run.id).run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def words(at: AppTest) -> str:
    """Every text the page shows, and its widgets' labels, in one string."""
    texts = [e.value for e in [*at.info, *at.caption, *at.markdown, *at.error, *at.success]]
    labels = [w.label for w in [*at.toggle, *at.radio, *at.selectbox, *at.get("file_uploader")]]
    return "\n".join(map(str, texts + labels))


def test_filters_calls_a_token_run_token_sequences(runs):
    """8a: a sequence run 'learns from 2-D points'."""
    text = words(showing(runs["tokens"], "views/filters.py"))
    assert "learns from token sequences" in text
    assert "2-D points" not in text


def test_drawing_on_a_shapes_run_asks_for_a_shape(runs):
    """8b: a shapes run asked to 'Draw a light digit ... as MNIST's digits are'."""
    at = showing(runs["shapes"], "views/filters.py")
    at.radio(key="filters_source").set_value("draw").run()
    assert not at.exception
    text = words(at)
    assert "Draw a light shape (square, disc, triangle or cross) on the dark square" in text
    assert "the canvas is empty: draw a shape on it" in text
    assert at.toggle(key="filters_centre_draw").label == "Crop to the shape and centre it"
    assert at.toggle(key="filters_centre_draw").value is False          # the training shapes are not centred
    drawing = "\n".join([*(c.value for c in at.caption), *(i.value for i in at.info), *(t.label for t in at.toggle)])
    assert not re.search(r"digit|MNIST", drawing), re.findall(r".*(?:digit|MNIST).*", drawing)


def test_latent_space_of_a_classifier_promises_no_reconstruction(runs):
    """8c: 'There is no decoder' above a scatter captioned 'click a point for its reconstruction'."""
    text = words(showing(runs["classifier"], "views/latent.py"))
    assert "There is no decoder" in text
    [caption] = [c for c in text.splitlines() if "validation examples, coloured and shaped by their label" in c]
    assert "reconstruction" not in caption and "Click a point for its nearest neighbours." in caption
    assert "Hover for the image" not in caption                          # 2-D points have no image either


def test_upload_labels_state_the_limit_the_widgets_enforce(runs):
    """8d: 'up to 10 MB' in a label over a widget that says 'Limit 200MB per file'. The server's own limit
    is the biggest widget's (your own table's), and no widget allows more than the server takes."""
    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    assert server == limits()["UPLOAD_MB"] >= MAX_BYTES // 2**20
    at = open_page("views/build_train.py", OWNER)
    at.selectbox(key="data_name").set_value("upload").run()
    sizes = []
    for box in at.get("file_uploader"):
        assert f"up to {box.proto.max_upload_size_mb} MB" in box.label, (box.label, box.proto.max_upload_size_mb)
        sizes.append(box.proto.max_upload_size_mb)
    assert sorted(sizes) == [CONFIG_MB, server], sizes
    at = showing(runs["shapes"], "views/filters.py")
    at.radio(key="filters_source").set_value("upload").run()
    box = at.get("file_uploader")[0]
    assert f"up to {box.proto.max_upload_size_mb} MB" in box.label, (box.label, box.proto.max_upload_size_mb)


@pytest.mark.parametrize("name, text, said", [
    ("run.json", '{"epochs": 3,}', "'run.json' is not valid JSON: Expecting property name enclosed in double "
                                   "quotes at line 1, column 14"),
    ("run.json", '{"epochs": 3,\n "optim": {"lr": 0.1}\n "seed": 1}', "'run.json' is not valid JSON: Expecting ',' "
                                                                      "delimiter at line 3, column 2"),
    ("run.yaml", "epochs: 3\n  seed: [1", "'run.yaml' is not valid YAML: "),
])
def test_a_config_files_syntax_error_is_told_in_its_own_language(name, text, said):
    """8e: a JSON file's syntax error came in the YAML parser's words ('while parsing a flow mapping')."""
    at = open_page("views/build_train.py", OWNER)
    at.get("file_uploader")[0].set_value((name, text.encode(), "application/json")).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith(said), errors
    if name.endswith(".json"):
        assert "flow mapping" not in errors[0] and "YAML" not in errors[0]


def test_the_preset_box_says_a_loaded_network_is_no_preset():
    """9g: the Preset box still said 'Small CNN' after a transformer config was loaded."""
    at = open_page("views/build_train.py", token("pia25"))
    at.selectbox(key="preset").set_value("Small CNN").run()
    at.selectbox(key="example").set_value("tiny transformer · reverse").run()
    next(b for b in at.button if b.label == "Load example").click().run()
    assert not at.exception
    assert at.selectbox(key="preset").value is None
    assert "loaded config" in at.selectbox(key="preset").proto.placeholder
    assert next(b for b in at.button if b.label == "Load preset").disabled
    again = open_page("views/build_train.py", token("pia25"))      # a new session of the same browser: its draft
    assert again.selectbox(key="preset").value is None
    at.selectbox(key="example").set_value("spiral MLP").run()          # this one is the MLP preset, exactly
    next(b for b in at.button if b.label == "Load example").click().run()
    assert at.selectbox(key="preset").value == "MLP"


def test_the_config_download_and_the_sidebar_carry_a_renamed_runs_name(monkeypatch):
    """9f: after a rename, Build & Train's 'Config (JSON)' still had the run's first name."""
    files = record_downloads(monkeypatch)
    at = open_page("views/build_train.py", token("rene25"))
    at.number_input(key="epochs").set_value(1).run()
    next(b for b in at.button if b.label == "Start training").click().run()
    run = REGISTRY.get(at.session_state["run_id"])
    assert run.join(60) and REGISTRY.flush()
    REGISTRY.rename(run.id, "my renamed spiral", who=token("rene25"))
    files.clear()
    at.run()
    assert not at.exception
    assert json.loads(files["run.json"])["name"] == "my renamed spiral"
    assert f"{run.id} · my renamed spiral" in at.selectbox(key="run_id").options        # the sidebar too
    at.number_input(key="epochs").set_value(2).run()                 # another config: not that run's any more
    assert json.loads(files["run.json"])["name"] == ""


def test_the_live_panels_smoothing_slider_has_a_label(runs):
    """9e: an unlabelled slider under the live panel (its label was collapsed)."""
    at = showing(runs["classifier"], "views/build_train.py")
    slider = at.slider(key="smoothing")
    assert slider.label == "Smoothing of the step loss"
    assert slider.proto.label_visibility.value == slider.proto.label_visibility.VISIBLE
