"""A student brings a zip of images (issue 28): uploads one the test makes (generated shapes in four class
folders, a note and a broken file among them), reads the card, trains the small CNN on it, looks at one
of the uploaded images on Filters and at Grad-CAM on Explain. Then the server is killed and started
again: the set is still offered, the run still listed, and Evaluate names the folders' classes.

Its own server and store: the restart must not disturb the other browser tests."""
from __future__ import annotations

import io
import re
import time
import zipfile

import pytest

from playground.data.samples import shapes_zip
from tests.e2e.harness import Server, open_page
from tests.e2e.ui import go, idle, pick_data_set, rerun, selected, set_number, token

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("own-images-store"), name="streamlit-own-images")
    srv.start()
    yield srv
    srv.stop()


def class_zip() -> bytes:
    """1,000 generated shapes as PNGs in shapes/<class>/, plus what a real zip holds besides images."""
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(shapes_zip(1000, 3, 32))) as src, zipfile.ZipFile(buf, "w") as out:
        for info in src.infolist():
            out.writestr(info.filename, src.read(info))
        out.writestr("shapes/disc/notes.txt", "drawn by the test")
        out.writestr("shapes/square/broken.png", b"\x89PNG not really")
    return buf.getvalue()


def test_upload_a_zip_train_a_cnn_look_inside_and_find_it_after_a_restart(own_server, browser, shots, tmp_path):
    archive = tmp_path / "my shapes.zip"
    archive.write_bytes(class_zip())
    page, ctx, errors = open_page(browser, own_server.url)
    try:
        pick_data_set(page, "Your own images")
        page.get_by_text("Upload a zip of images to train on them").wait_for(timeout=30_000)
        uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text="Your images")
        rerun(page, lambda: uploader.locator('input[type="file"]').set_input_files(str(archive)), "the zip read")
        page.get_by_text("Data card: look at your data first").wait_for(timeout=60_000)
        idle(page)
        text = page.locator("body").inner_text()
        assert "shapes/disc/notes.txt: not an image" in text and "shapes/square/broken.png: cannot be decoded" in text
        card = page.locator('[data-testid="stExpander"]').filter(has_text="Data card")
        assert card.locator('[data-testid="stImage"] img').count() >= 4 * 5, "not a row of samples per class"
        for name in ("cross", "disc", "square", "triangle"):
            assert card.get_by_text(re.compile(rf"^{name} \(\d+\)$")).count() == 1, f"no row of class {name}"
        shots(page, "card")

        set_number(page, "Epochs", 10)
        page.get_by_role("button", name="Start training").click()
        page.get_by_text(re.compile(r"^finished 10 epochs")).wait_for(timeout=120_000)
        acc = float(re.search(r"validation accuracy\s*([\d.]+)%", page.locator("body").inner_text()).group(1))
        assert acc > 60, f"validation accuracy {acc}% on four shapes (chance: 25%)"

        go(page, "Filters & feature maps", page.get_by_text("Validation example (0 to", exact=False))
        page.locator('[data-testid="stImage"] img').first.wait_for(timeout=60_000)
        idle(page)
        body = page.locator("body").inner_text()
        assert re.search(r"\b(cross|disc|square|triangle)\b", body), "the uploaded image's class is not named"
        shots(page, "filters")

        go(page, "Explain", page.get_by_text("The network says"))
        page.get_by_text("Grad-CAM", exact=True).first.wait_for(timeout=60_000)
        page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stImage\"] img').length >= 4",
                               timeout=60_000)
        said = page.get_by_text(re.compile(r"The network says (cross|disc|square|triangle) with p = ")).first
        said.wait_for(timeout=30_000)
        shots(page, "explain")
        me = token(page)
        run_name = "my shapes.zip"

        own_server.kill()                                   # as a crash: nothing is flushed on the way out
        time.sleep(1)
        own_server.start()
        page.goto(f"{own_server.url}/?me={me}")
        page.get_by_role("button", name="Start training").wait_for(timeout=60_000)
        go(page, "Runs", page.get_by_role("heading", name="Runs").first)
        page.locator("[role=gridcell]", has_text=run_name).first.wait_for(state="attached")
        go(page, "Evaluate", page.get_by_text("Confusion matrix", exact=False).first)
        idle(page)
        body = page.locator("body").inner_text()
        assert all(name in body for name in ("cross", "disc", "square", "triangle")), body[:2000]
        go(page, "Build & Train", page.get_by_role("button", name="Start training"))
        if not selected(page, "Data set").startswith("Your own images"):      # the form may show the last run's
            pick_data_set(page, "Your own images")
        page.get_by_text("800 train / 200 validation").first.wait_for(timeout=30_000)   # the set, read again
        page.get_by_text("Data card: look at your data first").wait_for(timeout=30_000)
        shots(page, "after-restart")
    finally:
        ctx.close()
    assert not errors, f"JavaScript errors in the page: {errors}"
