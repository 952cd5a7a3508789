"""The Runs page's actions, clicked as a browser would (AppTest, no browser): what each one gives or
changes is checked against an independent reading of the store.

- Export: the Config download is the stored config; the Weights download, read by safetensors, is the
  frozen model's state at the epoch picked (not the latest); the PyTorch script compiles and trains this
  run to the stored numbers; the ONNX and TorchScript files, made by their buttons, run in onnxruntime
  and torch.jit and give the frozen model's outputs on a batch their own export check never saw.
- Rename: the new name in the table and the store. Delete for good: the run gone from both (and its
  folder), the other run kept.
- Edit a copy: Build & Train opens with the run's config in the form (its Config (JSON) download).
  Show in Build & Train: the page switches to that run.
- Train more: a finished run of 2 epochs trains 3 more; its first 2 epochs' records stay as they were,
  and its 5 epochs give the numbers of a run trained 5 epochs at once.

Every run is this AppTest's own (?me=); the owner column and permission messages are not asserted on.
"""
import io
import json
import warnings

import pytest
import torch

from playground.models import preset_layers
from playground.train import REGISTRY
from playground.train.frozen import frozen_model
from tests.app.conftest import open_page, record_media
from tests.trained import train_stored
from tests.unit.script_runner import run_script


def runs_page(who: str):
    """The Runs page as a browser sees it, and that browser's token (?me=): the owner of the runs a test
    trains. `who` names the browser; it is made long enough to pass as a token."""
    at = open_page("views/runs.py", f"runs-actions-{who}-{'0' * 22}")
    value = at.query_params["me"]
    return at, value[0] if isinstance(value, list) else value


def spiral(name: str, owner: str, epochs: int = 2, **extra):
    """A small finished spiral MLP of `owner`, stored."""
    return train_stored({"name": name, "layers": preset_layers("MLP", "points", 2), "epochs": epochs,
                         "data": {"n_samples": 100}, **extra}, owner=owner)


@pytest.fixture
def media(monkeypatch):
    return record_media(monkeypatch)


def download(at, media: dict, label: str) -> bytes:
    """The file the download button `label` gives (what a click in the browser would save)."""
    buttons = [el.proto for el in at.get("download_button") if el.proto.label == label]
    assert buttons, f"no download button '{label}': {[el.proto.label for el in at.get('download_button')]}"
    p = buttons[0]
    assert not p.disabled, f"download '{label}' is disabled"
    data = media[p.deferred_file_id if p.HasField("deferred_file_id") else p.url]
    data = data() if callable(data) else data
    data = data.encode() if isinstance(data, str) else data
    assert data, f"download '{label}' gives an empty file"
    return data


def select(at, *ids: str):
    """Run the page (it lists the runs trained since it was opened), tick the Runs table's rows of these
    runs (the boxes on the left), and run it again."""
    at.run()
    table = at.dataframe[0]
    listed = table.value["id"].tolist()
    at.session_state[table.key] = {"selection": {"rows": [listed.index(i) for i in ids], "columns": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def click(at, label: str):
    """Click the button `label` (a browser cannot click a disabled one), and run the page."""
    button = next(b for b in at.button if b.label == label)
    assert not button.disabled, f"'{label}' is disabled"
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_popover(at, label: str) -> None:
    """The popover `label` is there and a browser can open it (what is in it is drawn either way)."""
    popovers = {b.proto.popover.label: b.proto.popover for b in at.get("popover")}
    assert label in popovers, f"no popover '{label}': {list(popovers)}"
    assert not popovers[label].disabled, f"the popover '{label}' is disabled"


def untimed(records: list[dict]) -> list[dict]:
    """Epoch records less their wall-clock time."""
    return [{k: v for k, v in r.items() if k != "time_s"} for r in records]


def table(at) -> dict:
    """{run id: row} of the Runs table as drawn."""
    return {r["id"]: r for r in at.dataframe[0].value.to_dict("records")}


def test_the_export_panel_gives_the_runs_config_weights_script_and_models(media):
    at, me = runs_page("export")
    run = spiral("export me", me, epochs=3)
    store = REGISTRY.store
    select(at, run.id)
    at.selectbox(key=f"exp_epoch_{run.id}").set_value(1).run()            # not the latest: epoch 1's weights
    assert not at.exception and at.selectbox(key=f"exp_epoch_{run.id}").value == 1

    config = json.loads(download(at, media, "Config"))
    assert config == store.get(run.id).config and config["name"] == "export me"

    from safetensors.torch import load as load_safetensors

    weights = load_safetensors(download(at, media, "Weights"))
    at_1, latest = frozen_model(store, run.id, epoch=1), frozen_model(store, run.id)
    assert at_1.epoch == 1 and latest.epoch == 3
    expected = at_1.model.state_dict()
    assert weights.keys() == expected.keys(), (sorted(weights), sorted(expected))
    for k, v in expected.items():
        assert torch.equal(weights[k], v), f"Weights: tensor {k} is not epoch 1's"
    assert not all(torch.equal(weights[k], v) for k, v in latest.model.state_dict().items()), \
        "Weights of epoch 1 equal the latest epoch's: the epoch picked is not what is exported"

    script = download(at, media, "PyTorch script").decode()
    compile(script, "train.py", "exec")
    *records, final = run_script(script)                   # it trains this run: the stored numbers
    stored = store.metrics(run.id)["epochs"]
    assert final["status"] == "finished" and len(records) == len(stored) == 3, (final, len(records))
    for got, want in zip(records, stored):
        assert got == {k: want[k] for k in got}, (got, want)

    x = at_1.data.X_train[:40]                              # (B, 2): not the validation rows the export checks on
    with torch.no_grad():
        want = at_1.model(x)                                # (B, 2)
    click(at, "Make ONNX")
    assert not [e.value for e in at.error], [e.value for e in at.error]
    import onnxruntime as ort

    session = ort.InferenceSession(download(at, media, "ONNX file"), providers=["CPUExecutionProvider"])
    got = torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])
    torch.testing.assert_close(got, want, atol=1e-4, rtol=0)

    click(at, "Make TorchScript")
    assert not [e.value for e in at.error], [e.value for e in at.error]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)                 # torch.jit is deprecated, still the format
        scripted = torch.jit.load(io.BytesIO(download(at, media, "TorchScript file")))
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), want, atol=1e-4, rtol=0)


def test_rename_shows_the_new_name_in_the_table_and_the_store():
    at, me = runs_page("rename")
    run = spiral("first name", me)
    select(at, run.id)
    at.text_input(key=f"name_{run.id}").set_value("second name").run()
    click(at, "Rename")
    assert table(at)[run.id]["name"] == "second name", table(at)[run.id]
    assert REGISTRY.store.get(run.id).name == "second name"
    assert at.header[0].value == "second name"


def test_delete_for_good_removes_the_run_and_keeps_the_other():
    at, me = runs_page("delete")
    keep, gone = spiral("keep me", me), spiral("delete me", me)
    folder = REGISTRY.store.run_dir(gone.id)
    assert folder.exists()
    select(at, gone.id)
    open_popover(at, "Delete")
    click(at, "Delete for good")
    assert list(table(at)) == [keep.id], table(at)
    assert REGISTRY.store.get(gone.id) is None and REGISTRY.get(gone.id) is None
    assert not folder.exists(), f"{folder} (its snapshots) is still on disk"
    assert REGISTRY.store.get(keep.id).name == "keep me" and REGISTRY.store.snapshots(keep.id)


EDITED = {"optim": {"name": "sgd", "lr": 0.1, "momentum": 0.5}, "batch_size": 16, "seed": 7,
          "data": {"name": "moons", "n_samples": 120, "noise": 0.2}}


def test_edit_a_copy_puts_the_runs_config_into_build_and_train(media):
    layers = [{"type": "Linear", "out_features": 12}, {"type": "Tanh"}, {"type": "Linear", "out_features": 2}]
    at, me = runs_page("copy")
    run = train_stored({"name": "to copy", "layers": layers, "epochs": 3, **EDITED}, owner=me)
    select(at, run.id)
    click(at, "Edit a copy")
    assert at.title[0].value == "Build & Train"
    assert (at.selectbox(key="optim").value, at.number_input(key="epochs").value) == ("sgd", 3)
    form = json.loads(download(at, media, "Config (JSON)"))        # the config the form would train
    stored = REGISTRY.store.get(run.id).config
    assert stored["layers"] == layers
    assert form["layers"] == [{**spec, "bias": True} if spec["type"] == "Linear" else spec for spec in layers]
    for key in ("optim", "epochs", "data", "batch_size", "seed", "schedule", "loss", "init"):
        assert form[key] == stored[key], f"{key}: the form has {form[key]}, the run {stored[key]}"


def test_show_in_build_and_train_switches_to_that_run():
    at, me = runs_page("show")
    older, newer = spiral("older", me, epochs=1), spiral("newer", me, epochs=2)
    at.session_state["run_id"] = newer.id                          # the sidebar shows the newer one
    select(at, older.id)
    click(at, "Show in Build & Train")
    assert at.title[0].value == "Build & Train"
    assert at.selectbox(key="run_id").value == older.id
    shown = [bar.proto.text for bar in at.get("progress")]              # the live panel's bar names its run
    assert any(t.startswith("**older** · epoch 1/1") for t in shown), shown


def test_train_more_continues_a_finished_run():
    at, me = runs_page("more")
    run = spiral("more please", me, epochs=2)
    before = REGISTRY.store.metrics(run.id)["epochs"]
    assert [e["epoch"] for e in before] == [1, 2]
    select(at, run.id)
    open_popover(at, "Train more")
    at.number_input(key=f"more_{run.id}").set_value(3).run()
    click(at, "Train them")
    live = REGISTRY.get(run.id)
    assert live.join(60) and live.history.status == "finished", live.history.message
    assert REGISTRY.flush()
    at.run()
    assert table(at)[run.id]["epochs"] == "5/5" and table(at)[run.id]["status"] == "finished", table(at)[run.id]
    after = REGISTRY.store.metrics(run.id)["epochs"]
    assert [e["epoch"] for e in after] == [1, 2, 3, 4, 5]
    assert after[:2] == before, "training more changed the records of the epochs it had already trained"
    straight = spiral("five at once", me, epochs=5)                # the numbers of a run that never stopped
    assert untimed(after) == untimed(REGISTRY.store.metrics(straight.id)["epochs"])


def test_two_runs_selected_show_what_differs_between_them():
    """Two runs ticked: their configs' differences (a changed setting, an added layer, the seed) and their final
    metrics side by side; one run ticked: no such table, and a word on how to get it."""
    at, me = runs_page("diff")
    a = spiral("plain", me)
    layers = preset_layers("MLP", "points", 2)
    b = spiral("dropout", me, optim={"name": "sgd", "lr": 0.1}, seed=3,
               layers=layers[:2] + [{"type": "Dropout", "p": 0.2}] + layers[2:])
    select(at, a.id, b.id)
    assert any(h.value == "What differs" for h in at.header)
    diff, finals = at.table[0].value, at.table[1].value
    assert diff.loc["optim.name", "plain"] == "adam" and diff.loc["optim.name", "dropout"] == "sgd"
    assert diff.loc["seed", "dropout"] == "3" and diff.loc["layer 3 (new)", "dropout"] == "Dropout(p=0.2)"
    assert diff.loc["layer 3 (new)", "plain"] == "–" and diff.loc["layer 3 (new)", ""] == "+"
    assert "layer 4" not in diff.index                     # the layers after the new one are matched, not changed
    last = b.history.epochs[-1]
    assert finals.loc["final validation accuracy", "dropout"] == f"{last['val_acc']:.4g}"
    assert finals.loc["epochs", "plain"] == "2"
    select(at, a.id)
    assert not any(h.value == "What differs" for h in at.header)
    assert any("Select exactly two runs" in c.value for c in at.caption)
