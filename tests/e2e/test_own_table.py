"""A student brings a table of their own (issue 28): uploads a CSV the test makes (semicolons and
decimal commas, as a European spreadsheet saves it, with a text column and a missing value), reads the
data card, trains on it, and opens Explain: SHAP's bars carry the CSV's own column names. A file that
is not a table is refused with the reason, and the page goes on."""
from __future__ import annotations

import re

import numpy as np
import pytest

from tests.e2e.ui import go, idle, pick_data_set, rerun

pytestmark = pytest.mark.e2e


def european_csv(n: int = 300) -> bytes:
    rng = np.random.RandomState(7)
    lines = ["Breite;Höhe;Farbe;Größe"]
    for i in range(n):
        a, b = rng.randn(), rng.randn()
        a_text = "" if i == 5 else f"{a:.3f}".replace(".", ",")
        lines.append(f"{a_text};{b:.3f}".replace(".", ",") + f";{['rot', 'grün', 'blau'][i % 3]};"
                     f"{'groß' if a > 0 else 'klein'}")
    return ("\n".join(lines) + "\n").encode("latin-1")


def test_upload_a_table_read_its_card_train_and_see_shap_name_its_columns(page, shots, tmp_path):
    bad, good = tmp_path / "photo.csv", tmp_path / "messungen.csv"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    good.write_bytes(european_csv())
    pick_data_set(page, "Your own table")
    page.get_by_text("Upload a table to train on it").wait_for(timeout=30_000)
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text="Your table")
    rerun(page, lambda: uploader.locator('input[type="file"]').set_input_files(str(bad)), "the bad file read")
    page.get_by_text(re.compile(r"photo\.csv is not a text table \(it holds binary data")).wait_for(timeout=30_000)

    rerun(page, lambda: uploader.locator('input[type="file"]').set_input_files(str(good)), "the table read")
    page.get_by_text("Data card: look at your data first").wait_for(timeout=30_000)
    idle(page)                                        # the card's last lines come at the end of the run
    text = page.locator("body").inner_text()
    assert "messungen.csv · 300 rows · 4 columns" in text
    assert "read as Latin-1 text" in text and "numbers with decimal commas" in text, text[:3000]
    assert re.search(r"input 5 features · 2 classes · 239 train / 60 validation", text), "the split is not said"
    assert "1 row(s) with a missing input value dropped" in text
    assert "1 text column(s) one-hot encoded into 3 inputs (Farbe: 3)" in text
    assert "This network cannot train" not in text
    shots(page, "card")

    page.get_by_role("button", name="Start training").click()
    page.get_by_text(re.compile(r"^finished 30 epochs")).wait_for(timeout=90_000)
    idle(page)                                        # the headline numbers come with the run's last redraw
    said = re.search(r"validation accuracy\s*([\d.]+)%", page.locator("body").inner_text())
    assert said, "no validation accuracy on the page after training"
    acc = float(said.group(1))
    assert acc >= 90, f"validation accuracy {acc}% on a table whose first column decides the class"

    go(page, "Explain", page.get_by_text(re.compile(r"^Row 0")).first)
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=60_000)
    idle(page)
    labels = [t or "" for t in page.locator('[data-testid="stPlotlyChart"] svg text').all_text_contents()]
    for name in ("Breite", "Höhe", "Farbe=rot"):
        assert any(name in t for t in labels), f"no SHAP label {name!r} in {sorted(set(labels))[:30]}"
    shots(page, "shap")
