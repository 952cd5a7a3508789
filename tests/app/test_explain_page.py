"""The Explain page (AppTest, no browser): methods side by side, another class, bad settings, a table's
SHAP plots, runs it cannot explain, and the trust checks."""
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from playground.config import RunConfig, load_config
from playground.inspect.explain import FLAT, Options, options, run_check
from playground.models import preset_layers
from playground.train import REGISTRY
from playground.train.frozen import frozen_model
from tests.tokens import token

ERIN = token("erin12")

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


@pytest.fixture(scope="module")
def runs():
    out = {}
    for name, cfg in (("shapes", {**load_config(ROOT / "examples" / "shapes_cnn.json").to_dict(), "epochs": 2}),
                      ("table", load_config(ROOT / "examples" / "two_of_ten_mlp.yaml").to_dict()),
                      ("diabetes", load_config(ROOT / "examples" / "diabetes_mlp.yaml").to_dict()),
                      ("spiral", {"layers": preset_layers("MLP", "points", 2), "epochs": 1,
                                  "data": {"n_samples": 100}}),
                      ("mlp", {"layers": preset_layers("MLP", "image", 10), "epochs": 1,
                               "data": {"name": "digits", "max_train": 200}})):
        run = REGISTRY.start(RunConfig.from_dict({**cfg, "name": f"explain {name}", "device": "cpu"}), owner=ERIN)
        assert run.join(120) and run.history.status == "finished", run.history.message
        out[name] = run
    assert REGISTRY.flush()
    return out


def page(run_id: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["me"] = ERIN
    at.run()
    at.selectbox(key="run_id").set_value(run_id).run()
    at.switch_page("views/explain.py").run()
    assert not at.exception, at.exception
    return at


def titles(at) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("**")]


def test_methods_side_by_side_and_another_class(runs):
    at = page(runs["shapes"].id)
    assert at.multiselect(key="exp_methods").value == ["gradcam", "saliency", "ig", "shap"]
    images = at.get("image")
    assert len(images) == 4 + 1                           # four maps, and one row of the three epochs (0, 1, 2)
    shown = titles(at)
    assert any(t.startswith("**Integrated Gradients** :green-badge[sum") for t in shown), shown
    said = next(m.value for m in at.markdown if m.value.startswith("The network says"))
    at.selectbox(key="exp_target").set_value(0).run()  # explain "square", whatever was predicted
    assert not at.exception
    assert next(m.value for m in at.markdown if m.value.startswith("The network says")) == said
    at.multiselect(key="exp_methods").set_value(["layercam", "occlusion", "kernelshap"]).run()
    assert not at.exception
    assert any(t.startswith("**KernelShap (superpixels)** ") for t in titles(at))
    at.selectbox(key="exp_layer").set_value(1).run()   # the first Conv2d: a finer map
    assert not at.exception
    shown = len(at.get("image"))
    at.toggle(key="exp_classes").set_value(True).run()   # SHAP for each of the 4 classes, computed only when asked
    assert len(at.get("image")) == shown + 4 and not at.exception


def test_trust_checks_stream_their_results(runs):
    at = page(runs["shapes"].id)
    at.selectbox(key="exp_trust_method").set_value("gradcam").run()
    at.button(key="exp_trust").click().run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    for check in ("Completeness", "Model randomisation", "Pointing game", "Deletion and insertion"):
        assert f"**{check}**" in text, check
    assert "does not apply. Grad-CAM makes no claim" in text


def page_options(at) -> Options:
    """The methods' settings the page's widgets hold (what its trust checks run with)."""
    keys = {"layer": "exp_layer", "baseline": "exp_baseline", "steps": "exp_steps", "noise": "exp_noise",
            "window": "exp_window", "stride": "exp_stride", "cell": "exp_cell", "evals": "exp_evals"}
    return options(**{name: at.session_state[key] for name, key in keys.items()})


RANDOMISATION = re.compile(r"\*\*Model randomisation\*\* :(green|orange)-badge\[(passes|flagged)\]: with every layer "
                           r"re-initialised the map's rank correlation with the trained one is \*\*(-?[0-9.]+)\*\*")


@pytest.fixture(scope="module")
def readme_shapes():
    """The run the README's numbers are about: examples/shapes_cnn.json as it is (4 epochs)."""
    run = REGISTRY.start(RunConfig.from_dict({**load_config(ROOT / "examples" / "shapes_cnn.json").to_dict(),
                                              "name": "explain shapes (README)", "device": "cpu"}), owner=ERIN)
    assert run.join(120) and run.history.status == "finished", run.history.message
    assert REGISTRY.flush()
    return run


@pytest.mark.parametrize("method, verdict", [("ig", "flagged"), ("gradcam", "passes")])
def test_the_randomisation_check_flags_integrated_gradients_and_passes_grad_cam(readme_shapes, method, verdict):
    """The README, on examples/shapes_cnn.json: IG's maps stay rank-correlated above 0.5 once every layer is
    re-initialised (they follow bright pixels) and are flagged; Grad-CAM's fall and pass. The page's verdict
    and number are the inspect module's own (run_check on the frozen snapshot, with the page's settings)."""
    at = page(readme_shapes.id)
    at.selectbox(key="exp_trust_method").set_value(method).run()
    at.button(key="exp_trust").click().run()
    assert not at.exception, at.exception
    [line] = [m.value for m in at.markdown if m.value.startswith("**Model randomisation**")]
    found = RANDOMISATION.match(line)
    assert found, line
    colour, shown, final = found.groups()
    ref = run_check(frozen_model(REGISTRY.store, readme_shapes.id), method, "randomisation", 16, page_options(at))
    assert ref["ok"] is (verdict == "passes") and (ref["final"] < FLAT) is ref["ok"]
    assert (shown, colour) == (verdict, "green" if verdict == "passes" else "orange")
    assert final == f"{ref['final']:.2f}"
    assert len(ref["stages"]) == 4                                 # two Conv2d, the BatchNorm and the Linear


def test_a_table_gets_shaps_plots(runs):
    at = page(runs["table"].id)
    assert len(at.get("image")) == 1                       # a table: SHAP's plots, and the plane of two inputs
    assert any("the plane gives the network's own answer for" in m.value for m in at.markdown)
    at.selectbox(key="plane_y").set_value(0).run()
    assert any(w.value == "Pick two different inputs." for w in at.warning) and not at.get("image")
    at.selectbox(key="plane_y").set_value(2).run()
    assert not at.exception and len(at.get("image")) == 1
    assert any(m.value.startswith("**Row 0**") for m in at.markdown)
    at.number_input(key="exp_table_row").set_value(5).run()
    assert any(m.value.startswith("**Row 5**") for m in at.markdown)
    at.multiselect(key="exp_methods").set_value(["deepshap", "ig"]).run()
    assert not at.exception
    assert any(t.startswith("**DeepLiftShap** :green-badge[sum") for t in titles(at))


def test_runs_it_cannot_explain_say_why(runs):
    at = page(runs["spiral"].id)
    assert any("learns from points" in i.value for i in at.info)
    at = page(runs["mlp"].id)                            # images without a Conv2d: no CAM methods by default
    assert "gradcam" not in at.multiselect(key="exp_methods").value
    at.multiselect(key="exp_methods").set_value(["gradcam", "saliency"]).run()
    assert not at.exception, at.exception
    assert len([w for w in at.warning if "no Conv2d layer" in w.value]) == 1
    at.selectbox(key="exp_over_method").set_value("gradcam").run()
    assert not at.exception, at.exception                # the map, the strip over training: a message each
    assert len([w for w in at.warning if "no Conv2d layer" in w.value]) == 2
    at.selectbox(key="exp_trust_method").set_value("gradcam").run()
    at.button(key="exp_trust").click().run()
    assert not at.exception, at.exception
    assert len([w for w in at.warning if "no Conv2d layer" in w.value]) == 3


def test_a_regression_on_a_table_is_explained_in_its_own_units(runs):
    at = page(runs["diabetes"].id)
    assert not at.exception
    assert any(m.value.startswith("The network predicts **") and "for progression" in m.value for m in at.markdown)
    assert any("in the target's own units" in c.value for c in at.caption)
    assert at.selectbox(key="exp_table_target").options == ["progression"]
