"""Your own table on the pages (issue 28): a set the browser uploaded is offered again, its columns,
choices and data card are drawn, Start trains on it, a change of target refits the network's outputs,
and the inspection views read it: Evaluate with its class names, Explain's SHAP bars with its column
names. Another browser does not see the set in its list."""
import json

import numpy as np

from playground.data.uploads import save_set
from playground.train import REGISTRY
from tests.app.conftest import open_page
from tests.tokens import token
from tests.waits import wait_for

OWNER = "own-table-ana"


def table(n: int = 240, seed: int = 3) -> bytes:
    """Two measurements, a text colour, a class decided by the first ('big' or 'small'), and a number."""
    rng = np.random.RandomState(seed)
    lines = ["width,height,colour,size,mass"]
    for i in range(n):
        a, b = rng.randn(), rng.randn()
        lines.append(f"{a:.4f},{b:.4f},{['red', 'green', 'blue'][i % 3]},{'big' if a > 0 else 'small'},"
                     f"{2 * a + b:.4f}")
    return ("\n".join(lines) + "\n").encode()


def test_an_uploaded_table_is_chosen_shown_trained_and_inspected():
    sid = save_set(table(), "shapes-of-things.csv", token(OWNER))["id"]
    at = open_page(None, OWNER)
    at.selectbox(key="data_name").set_value("upload").run()
    assert any("Upload a table to train on it" in i.value for i in at.info)
    at.selectbox(key="my_set").set_value(sid).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="target").value == "mass", "the last column is not the proposed target"
    at.selectbox(key="target").set_value("size").run()
    assert at.session_state["layers"][-1]["args"] == "out_features=2, bias=True", "outputs not fitted to 2 classes"
    captions = " ".join(c.value for c in at.caption)
    assert "**shapes-of-things.csv** · 240 rows · 5 columns" in captions
    assert "input **6 features** · **2** classes · 192 train / 48 validation" in captions
    assert "1 text column(s) one-hot encoded into 3 inputs (colour: 3)" in captions
    card = next(e for e in at.expander if e.label.startswith("Data card"))
    inputs = card.dataframe[0].value["input"].tolist()
    assert inputs == ["width", "height", "colour=blue", "colour=green", "colour=red", "mass"]

    at.multiselect(key="features_pick").set_value(["width", "height", "colour"]).run()   # mass gives it away
    assert at.session_state["features"] == ["width", "height", "colour"]
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.error, [e.value for e in at.error]
    run = REGISTRY.get(at.session_state["run_id"])
    assert run.config.data.upload == sid and run.config.data.features == ["width", "height", "colour"]
    assert run.name.startswith("shapes-of-things.csv → size · ")
    assert run.join(120) and run.history.status == "finished", run.history.message
    assert run.history.epochs[-1]["val_acc"] >= 0.9
    assert REGISTRY.flush()

    ev = open_page("views/evaluate.py", OWNER)
    assert not ev.exception
    text = json.dumps([c.proto.spec for c in ev.get("vega_lite_chart")]) + " ".join(m.value for m in ev.markdown)
    assert "big" in text and "small" in text, "Evaluate does not name the table's classes"

    ex = open_page("views/explain.py", OWNER)
    assert not ex.exception, [e.value for e in ex.exception]
    bars = " ".join(c.proto.spec for c in ex.get("plotly_chart"))
    for name in ("width", "height", "colour=red"):
        assert name in bars, f"SHAP's plots do not name the column {name}"

    other = open_page(None, "own-table-ben")
    other.selectbox(key="data_name").set_value("upload").run()
    mine = [s for s in other.selectbox if s.key == "my_set"]
    assert not any("shapes-of-things.csv" in o for s in mine for o in s.options), "another browser's upload is offered"
    wait_for(lambda: not run.alive, 10, "the run's end")


def test_uploaded_images_are_chosen_carded_trained_and_seen_in_filters_and_explain():
    from tests.unit.test_uploads import pets

    sid = save_set(pets(), "pets.zip", token(OWNER), kind="images")["id"]
    at = open_page(None, OWNER)
    at.selectbox(key="data_name").set_value("upload_images").run()
    at.selectbox(key="my_set").set_value(sid).run()
    at.select_slider(key="image_size").set_value(16).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    captions = " ".join(c.value for c in at.caption)
    assert "input **1x16x16 (CxHxW)** · **2** classes · 11 train / 3 validation" in captions
    assert "Skipped: " in captions and "pets/dogs/broken.png: cannot be decoded" in captions
    card = next(e for e in at.expander if e.label.startswith("Data card"))
    assert len(card.get("image")) == 2 and {c.value for c in card.caption} >= {"**cats** (6)", "**dogs** (8)"}
    at.number_input(key="epochs").set_value(3).run()
    next(b for b in at.button if b.label == "Start training").click().run()
    run = REGISTRY.get(at.session_state["run_id"])
    assert run.config.data.name == "upload_images" and run.name.startswith("pets.zip · adam")
    assert run.join(120) and run.history.status == "finished", run.history.message
    assert REGISTRY.flush()
    for view in ("views/filters.py", "views/explain.py"):
        page = open_page(view, OWNER)
        assert not page.exception, (view, [e.value for e in page.exception])
        assert page.get("image"), f"{view} drew no image of the uploaded set"


def test_the_sample_table_and_zip_are_one_click_away():
    at = open_page(None, "own-table-sample")
    at.selectbox(key="data_name").set_value("upload").run()
    at.button(key="try_sample").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="target").value == "fruit"
    assert "**fruit.csv** · 300 rows · 5 columns" in " ".join(c.value for c in at.caption)
    assert at.session_state["layers"][-1]["args"] == "out_features=3, bias=True", "outputs not fitted to 3 fruit"
    at.selectbox(key="data_name").set_value("upload_images").run()
    at.button(key="try_sample").click().run()
    assert not at.exception, [e.value for e in at.exception]
    card = next(e for e in at.expander if e.label.startswith("Data card"))
    assert len(card.get("image")) == 4, "not a row of samples per class"
