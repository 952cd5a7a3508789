"""The sample files in assets/ (issue 28): what the project's generators make, byte for byte for the table
and image for image for the zip, and each a set the playground reads without a note of trouble."""
from __future__ import annotations

import numpy as np

from playground.data import uploads
from playground.data.samples import ASSETS, FRUIT, SHAPES_ZIP, fruit_csv, sample, shapes_zip


def test_the_shipped_samples_are_the_generators_output():
    assert (ASSETS / FRUIT).read_bytes() == fruit_csv(), "assets/fruit.csv is stale: run scripts/make_assets.py"
    shipped, made = (uploads.read_images(raw, SHAPES_ZIP, size=32) for raw in ((ASSETS / SHAPES_ZIP).read_bytes(),
                                                                               shapes_zip()))
    assert shipped.class_names == made.class_names and np.array_equal(shipped.y, made.y)
    assert np.array_equal(shipped.X, made.X), "assets/shapes.zip is stale: run scripts/make_assets.py"
    assert shapes_zip() == shapes_zip(), "the zip's bytes depend on the time it was made"


def test_the_fruit_table_teaches_a_text_column_missing_values_and_three_classes():
    ts = uploads.table_set(uploads.read_table(sample(FRUIT), FRUIT), "fruit")
    card = uploads.card(ts)
    assert ts.task == "classification" and ts.class_names == ["apple", "lemon", "orange"]
    assert card["rows"] == 290 and "imbalance" not in card and card["duplicates"] == 0
    assert "10 row(s) with a missing input value dropped" in card["notes"]
    assert ts.feature_names == ["weight_g", "diameter_cm", "colour=green", "colour=orange", "colour=red",
                                "colour=yellow", "sweetness"]


def test_the_shapes_zip_reads_every_image_into_four_classes():
    s = uploads.read_images(sample(SHAPES_ZIP), SHAPES_ZIP, size=28)
    assert s.class_names == ["cross", "disc", "square", "triangle"] and s.X.shape == (160, 1, 28, 28)
    assert s.skipped == [] and s.notes == []
