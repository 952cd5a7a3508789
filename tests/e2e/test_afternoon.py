"""What a teacher found in one afternoon of clicking, walked again in the browser (items 1-6 of the
list; their AppTest checks are in tests/app/test_afternoon.py). The runs are trained straight into
the server's store, as the CLI would (python -m playground train), so each walk starts at the page
where the defect was."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from playground.config import RunConfig, load_config
from playground.models import preset_layers
from tests.e2e.harness import open_page
from tests.e2e.ui import go, idle, rerun
from tests.tokens import token

pytestmark = pytest.mark.e2e
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def train_into(server, owner: str, config: dict):
    """Train `config` to its end into the server's store, owned by browser `owner`."""
    from playground.store import Store
    from playground.train.registry import Registry

    reg = Registry(max_active=1, processes=False, store=Store(server.home))
    run = reg.start(RunConfig.from_dict(config), owner=token(owner))
    assert run.join(180) and run.history.status == "finished", run.history.message
    assert reg.flush()
    return run


def example(name: str, **changes) -> dict:
    cfg = load_config(EXAMPLES / name).to_dict()
    for key, value in changes.items():
        if isinstance(value, dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    return cfg


@pytest.fixture
def student(browser, app_url):
    """student(token): a browser context of its own on the app as ?me=token; JS errors fail the test."""
    opened = []

    def open_as(name: str):
        pg, ctx, errors = open_page(browser, f"{app_url}/?me={token(name)}")
        opened.append((ctx, errors))
        return pg
    yield open_as
    for ctx, errors in opened:
        ctx.close()
        assert not errors, f"JavaScript errors in the page: {errors}"


def show(page, view: str) -> None:
    page.locator('[data-testid="stButtonGroup"]').get_by_role("radio", name=view).click()


def no_exception(page) -> None:
    idle(page)                                  # the last run has drawn all it will draw
    boxes = page.locator('[data-testid="stException"]')
    assert boxes.count() == 0, boxes.first.inner_text()


def test_a_short_typed_sequence_draws_a_square_heatmap(server, student, shots):
    """Item 5: "3 3 5 1" (4 of up to 8 tokens) drew the heatmap squashed to a sliver."""
    train_into(server, token("ariel01"), example("transformer_reverse.yaml", epochs=2, data={"n_samples": 600}))
    page = student("ariel01")
    go(page, "Attention", page.get_by_text("The numbers behind one weight"))
    box = page.get_by_role("textbox", name=re.compile(r"type one: up to 8 tokens"))
    rerun(page, lambda: (box.fill("3 3 5 1"), box.press("Enter")), "4 tokens typed")   # watched from the fill on
    no_exception(page)
    page.get_by_text(re.compile(r"^Query position \(row, 0 to 3\)")).wait_for()      # drawn for the typed 4
    chart = page.locator('[data-testid="stVegaLiteChart"]').filter(
        has=page.locator('[aria-label^="key: where it reads from"]')).first
    shots(page, "typed-4-tokens")
    box = chart.locator("canvas, svg").first.bounding_box()
    assert 0.6 < box["width"] / box["height"] < 1.8, box                  # square-ish, not a wide strip
    # and each of the 4 x 4 cells is a real square, not squeezed by the axes, the title and the legend
    cell = chart.locator('[aria-label^="key: where it reads from: 1; query: who reads: 2;"]').first.bounding_box()
    assert cell["width"] >= 30 and cell["height"] >= 30 and abs(cell["width"] - cell["height"]) < 3, cell
    assert page.get_by_text(re.compile(r"^Query position \(row, 0 to 3\)")).count() == 1


def test_latent_space_survives_a_spot_click_and_a_show_switch(server, student, shots):
    """Item 1: click an empty spot in Code space, Show -> Against PCA -> Code space: a TypeError box."""
    from tests.e2e.test_latent import find_on_chart

    train_into(server, token("lucas02"), example("mnist_autoencoder.yaml", epochs=2, data={"max_train": 500}))
    page = student("lucas02")
    go(page, "Latent space", page.get_by_text("5-NN accuracy of the code"))
    page.locator('[data-testid="stVegaLiteChart"] canvas').first.wait_for()
    idle(page)
    page.mouse.click(*find_on_chart(page, point=False))
    page.get_by_text("Click a point, or an empty spot").wait_for(state="detached")     # the click arrived
    page.get_by_text(re.compile(r"^the decoder's output at \(")).wait_for()
    spot = page.get_by_text(re.compile(r"^the decoder's output at \(")).inner_text()
    shots(page, "spot-clicked")
    rerun(page, lambda: show(page, "Against PCA"), "Show: Against PCA")
    no_exception(page)
    show(page, "Code space")
    page.get_by_text(re.compile(r"^the decoder's output at \(")).wait_for()
    no_exception(page)
    assert page.get_by_text(re.compile(r"^the decoder's output at \(")).inner_text() == spot    # the same spot
    shots(page, "back-to-code-space")
    # UMAP of the same code: drawn once its background fit (and, on a new server, its compile) is done.
    # Waiting here also keeps that compile from running under the next test's training (test_latent's).
    show(page, "UMAP")
    page.get_by_text(re.compile(r"^UMAP is being computed in the background")).wait_for(state="detached",
                                                                                          timeout=180_000)
    page.get_by_text("UMAP 1").first.wait_for(timeout=30_000)
    no_exception(page)


def test_delete_for_good_deletes_one_run_and_offers_no_other(server, student, shots):
    """Item 2: after 'Delete for good' the popover stayed open on the next run's name."""
    from tests.e2e.test_runs import select_row

    for name in ("keep me", "delete me"):
        train_into(server, token("dana03"), {"name": name, "layers": preset_layers("MLP", "points", 2), "epochs": 1,
                                      "data": {"n_samples": 100}})
    page = student("dana03")
    go(page, "Runs", page.get_by_text("Every run kept on this server"))
    page.locator('[data-testid="stDataFrame"] [role="gridcell"]').first.wait_for(state="attached")
    select_row(page, 0)                                   # the newest: "delete me"
    page.get_by_role("heading", name="delete me").wait_for()
    page.get_by_role("button", name="Delete").click()
    page.get_by_text("Delete delete me, its curves").wait_for()
    shots(page, "popover-open")
    page.get_by_role("button", name="Delete for good").click()
    page.get_by_text("Select one or more rows").wait_for()
    idle(page)
    page.locator('[data-testid="stDataFrame"] [role="gridcell"]').first.wait_for(state="attached")   # redrawn
    shots(page, "after-delete")
    assert page.get_by_role("button", name="Delete for good").count() == 0
    assert page.get_by_text(re.compile(r"^Delete keep me")).count() == 0
    rows = page.locator('[data-testid="stDataFrame"] [role="row"]').all()[1:]
    assert [r.locator('[role="gridcell"]').all_inner_texts()[0] for r in rows] == ["keep me"]


def test_the_pytorch_script_of_a_sequence_run_downloads(server, student, shots):
    """Item 3: 'PyTorch script' of a reverse transformer downloaded nothing, said nothing."""
    run = train_into(server, token("sami04"), example("transformer_reverse.yaml", epochs=1, data={"n_samples": 300}))
    page = student("sami04")
    go(page, "Runs", page.get_by_text("Every run kept on this server"))
    page.locator('[data-testid="stDataFrame"] [role="gridcell"]').first.wait_for(state="attached")
    from tests.e2e.test_runs import select_row

    select_row(page, 0)
    button = page.get_by_role("button", name="PyTorch script")
    button.wait_for()
    shots(page, "export-panel")
    with page.expect_download(timeout=30_000) as got:
        button.click()
    path = got.value.path()
    text = Path(path).read_text()
    assert got.value.suggested_filename == f"train_{run.id}.py"
    compile(text, "train.py", "exec")
    assert "import torch" in text and not re.search(r"^\s*(from|import) playground", text, re.M)   # stands alone


def test_the_vanishing_gradients_lesson_shows_both_runs(server, student, shots):
    """Item 4: the lesson trained both runs but left 'Compare with' on 'nothing'."""
    train_into(server, token("vera05"), {"name": "earlier", "layers": preset_layers("MLP", "points", 2), "epochs": 1,
                                  "data": {"n_samples": 100}})
    page = student("vera05")
    go(page, "Layer statistics", page.get_by_role("button", name=re.compile("Vanishing gradients")))
    page.get_by_role("combobox", name="Compare with").wait_for()          # drawn for the earlier run: "nothing"
    page.get_by_role("button", name=re.compile("Vanishing gradients")).click()
    shown = page.get_by_role("combobox", name="Run shown")
    deadline = time.time() + 60                  # the lesson's run shown (whether or not it has statistics yet)
    while "deep sigmoid net" not in shown.input_value():
        assert time.time() < deadline, f"the lesson's run is not shown: {shown.input_value()}"
        page.wait_for_timeout(250)
    combo = page.get_by_role("combobox", name="Compare with")
    deadline = time.time() + 90                  # its workers start, its first records come, the page draws them
    while not (combo.count() and page.get_by_text("Gradient norm, first / last layer").count()):
        assert time.time() < deadline, "the lesson's runs never showed their statistics"
        page.wait_for_timeout(250)
    idle(page)
    shots(page, "lesson")
    assert "deep ReLU" in combo.input_value(), combo.input_value()


@pytest.mark.parametrize("typed", ["0", "1000000"])
def test_epochs_typed_out_of_range_start_nothing(server, student, shots, typed):
    """Item 6: Epochs 0 or 1,000,000 turned the field red, and Start trained the previous value."""
    page = student(f"eve{typed[:2]}06")
    box = page.get_by_role("spinbutton", name="Epochs", exact=True)
    box.fill(typed)
    box.press("Enter")
    page.get_by_text(re.compile(r"epochs: must be")).wait_for()
    shots(page, f"epochs-{typed}")
    assert page.get_by_role("button", name="Start training").is_disabled()
    progress = page.locator('[data-testid="stProgress"]')                   # nothing trains: the panel is empty
    assert progress.count() == 1 and progress.inner_text().startswith("No run yet"), progress.all_inner_texts()
