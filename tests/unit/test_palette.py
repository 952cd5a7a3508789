"""Colours everyone can tell apart (issue 32): every categorical palette the figures use keeps its colours
apart as seen with full deuteranopia and protanopia (Machado et al. 2009), and colour is never the only
cue: the latent scatter has a shape per class, Compare a dash per variant, the race a dash per optimizer.

Threshold: a CIEDE2000 distance of 10 between the closest two colours. About 2 is a just-noticeable
difference side by side; 10 tells two small marks apart at a glance. The old palettes fell to 1.2-1.4."""
from __future__ import annotations

import numpy as np
import pytest

from playground.viz import palette
from playground.viz.board import REFERENCE_COLOR, STUDENTS
from playground.viz.compare import PALETTE
from playground.viz.palette import CLASSES, LINES, closest_pair, delta_e, lab, rgb, simulate
from playground.viz.surface import COLORS, DASH, SYMBOL

APART = 10.0
SEEN = ("normal", "deuteranopia", "protanopia")


def test_ciede2000_matches_sharma_wu_dalals_published_pairs():
    pairs = [((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
             ((50.0, -1.3802, -84.2814), (50.0, 0.0, -82.7485), 1.0000),
             ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
             ((22.7233, 20.0904, -46.694), (23.0331, 14.973, -42.5619), 2.0373)]
    for a, b, want in pairs:
        assert float(delta_e(np.array(a), np.array(b))) == pytest.approx(want, abs=1e-4)


def test_the_simulation_keeps_grey_grey_and_merges_red_with_green_for_deuteranopes():
    grey = rgb(["#777777"])
    assert np.allclose(simulate(grey, "deuteranopia"), grey, atol=0.01)
    red_green = lab(simulate(rgb(["#d62728", "#2ca02c"]), "deuteranopia"))
    assert float(delta_e(red_green[0], red_green[1])) < 12 < float(delta_e(*lab(rgb(["#d62728", "#2ca02c"]))))


@pytest.mark.parametrize("name, colours", [("classes", CLASSES), ("lines", LINES), ("compare", PALETTE),
                                           ("race", list(COLORS.values())),
                                           ("board with the teacher", STUDENTS + [REFERENCE_COLOR])])
@pytest.mark.parametrize("seen", SEEN)
def test_every_palette_stays_apart_with_each_deficiency(name, colours, seen):
    d, pair = closest_pair(colours, seen)
    assert d >= APART, f"{name} palette, {seen}: {pair} are {d:.1f} apart (need {APART})"


def test_the_old_palettes_fail_the_same_check():
    tableau10 = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d",
                 "#bab0ac"]
    assert closest_pair(tableau10, "deuteranopia")[0] < 2 and closest_pair(tableau10, "protanopia")[0] < 2


def test_colour_is_never_the_only_cue():
    from playground.viz.compare import compare_chart
    from playground.viz.latent import scatter_spec

    assert len(set(DASH[k] for k in ("SGD", "SGD + momentum", "RMSprop", "Adam"))) == 4     # the default racers
    assert len(set(SYMBOL.values())) == len(SYMBOL)
    assert len(palette.SHAPES) >= len(CLASSES) and len(set(map(str, palette.DASHES))) == len(palette.DASHES)
    spec = scatter_spec(np.zeros((4, 2)), np.array([0, 1, 2, 3]), ["a", "b", "c", "d"], ("x", "y"))
    points = next(layer for layer in spec["layer"] if layer["data"]["name"] == "points")
    assert points["encoding"]["shape"]["scale"]["range"] == palette.SHAPES[:4]
    snap = {"status": "finished", "step_x": [1, 2], "step_loss": [1.0, 0.5], "epochs": [], "diverged_at": None}
    chart = compare_chart([("a", snap, 1), ("b", snap, 1)], "train_loss_step", "step")
    assert chart["layer"][0]["encoding"]["strokeDash"]["scale"]["range"] == palette.DASHES[:2]
