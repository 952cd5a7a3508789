"""Compare page under AppTest, and the variant table's round trip."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from playground.train import REGISTRY
from ui.compare import PRESETS, frame_to_variants, variants_to_frame

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_the_table_round_trips_every_preset(name):
    variants = PRESETS[name]["variants"]
    assert frame_to_variants(variants_to_frame(variants)) == variants


def test_empty_cells_are_left_to_the_base():
    v = [{"name": "a", "optim": {"name": "adam", "beta1": 0.8, "eps": 1e-6}}, {"name": "b", "batchnorm": True}]
    df = variants_to_frame(v)
    assert frame_to_variants(df) == v
    df.loc[1, "name"] = None
    assert frame_to_variants(df)[1]["name"] == "variant 2"


def test_compare_page_runs_a_preset_to_the_end():
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("views/compare.py").run()
    assert not at.exception
    button = next(b for b in at.button if b.label.startswith("Learning rate too low"))
    button.click().run()
    assert not at.exception and not at.error
    runs = REGISTRY.group(at.session_state.cmp_group)
    assert [r.name for r in runs] == ["lr 0.001 (too low)", "lr 0.1 (about right)", "lr 20 (too high)"]
    for r in runs:
        assert r.join(120)
    at.run()
    assert not at.exception
    table = at.table[0].value
    assert list(table["status"]) == ["finished", "finished", "diverged"]


def test_a_bad_variant_is_refused_with_its_name():
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("views/compare.py").run()
    at.session_state.cmp_base = {**at.session_state.cmp_base, "batch_size": 0}
    next(b for b in at.button if b.label == "Race").click().run()
    assert not at.exception
    assert any("batch_size" in e.value for e in at.error)


def test_a_race_over_seeds_draws_its_bands_and_the_paired_verdict():
    """The 'two close learning rates' preset: 2 variants x 5 seeds (10 runs: the server trains 6 at once, the
    other seeds' races wait in line as one Start); the finals table gives each variant's mean ± std over the
    seeds, and the verdict pairs them by seed."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("views/compare.py").run()
    next(b for b in at.button if b.label.startswith("Two close learning rates")).click().run()
    assert not at.exception and not at.error
    assert at.session_state.cmp_seeds == 5 and len(at.session_state.cmp_groups) == 5
    runs = [r for gid in at.session_state.cmp_groups for r in REGISTRY.group(gid)]
    assert sorted(r.name for r in runs) == sorted(f"lr {lr} · seed {s}" for lr in ("0.05", "0.08") for s in range(5))
    for r in runs:
        assert r.join(180)
    at.run()
    assert not at.exception
    table = at.table[0].value
    assert list(table.index) == ["lr 0.05", "lr 0.08"] and list(table["seeds done"]) == ["5 of 5", "5 of 5"]
    assert all(" ± " in v for v in table["final validation accuracy"])
    assert table["vs lr 0.05"].iloc[0] == "reference"
    assert table["steps to loss 0.5"].str.match(r"^[\d,]+( \(\d of 5 reached it\))?$").all(), table["steps to loss 0.5"]
    assert table["vs lr 0.05"].iloc[1].startswith("no clear difference")
    words = " ".join(m.value for m in at.markdown)
    assert "lr 0.08 against lr 0.05: no clear difference at 5 seeds" in words and "crosses 0" in words
    assert "**lr 0.08**: `optim.lr: 0.1 → 0.08`" in words                 # what each variant changes from the base
    # judged against the other variant, the first one is the one with a verdict
    at.selectbox(key="cmp_ref").set_value("lr 0.08").run()
    assert at.table[0].value["vs lr 0.08"].iloc[0].startswith("no clear difference")
    # each seed's own curve, and the other band
    at.toggle(key="cmp_each").set_value(True).run()
    at.radio(key="cmp_band").set_value("std").run()
    assert not at.exception
