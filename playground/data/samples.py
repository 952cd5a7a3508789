"""Sample files of the project's own making, for a teacher to try "your own data" at once: a table of
fruit measurements (a text column, missing values, three classes) and a zip of generated shapes in
one folder per class. They ship in assets/ at the repository's top (`make_assets()` writes them);
Build & Train's *Try the sample* buttons upload them as a user would.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

ASSETS = Path(__file__).resolve().parents[2] / "assets"
FRUIT = "fruit.csv"
SHAPES_ZIP = "shapes.zip"
# per fruit: weight in g (mean, sd), diameter in cm (mean, sd), sweetness 1-10 (mean), colours seen
FRUITS = {"apple": ((150, 25), (7.5, 0.6), 6.5, ["red", "red", "green", "yellow"]),
          "orange": ((180, 30), (8.0, 0.7), 7.0, ["orange"]),
          "lemon": ((110, 20), (6.0, 0.5), 2.0, ["yellow", "yellow", "green"])}


def fruit_csv(n_per_class: int = 100, seed: int = 0) -> bytes:
    """n_per_class rows per fruit: weight_g, diameter_cm, colour (text), sweetness (about 3% missing),
    fruit (the target). Apples and oranges overlap in size: colour and sweetness tell them apart."""
    rng = np.random.RandomState(seed)
    rows = []
    for fruit, ((w, ws), (d, ds), sweet, colours) in FRUITS.items():
        for _ in range(n_per_class):
            sweetness = "" if rng.rand() < 0.03 else f"{np.clip(rng.normal(sweet, 1.2), 1, 10):.1f}"
            rows.append(f"{rng.normal(w, ws):.0f},{rng.normal(d, ds):.2f},{colours[rng.randint(len(colours))]},"
                        f"{sweetness},{fruit}")
    order = rng.permutation(len(rows))
    return ("weight_g,diameter_cm,colour,sweetness,fruit\n" + "".join(rows[i] + "\n" for i in order)).encode()


def shapes_zip(n: int = 160, seed: int = 0, size: int = 32) -> bytes:
    """n generated shapes (playground.data.images.make_shapes) as PNGs in shapes/<class>/, a zip whose
    bytes depend only on n, seed and size (fixed member dates)."""
    from PIL import Image

    from playground.data.images import SHAPES, make_shapes

    X, y, _ = make_shapes(n, seed, size)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for i, (img, label) in enumerate(zip(X, y)):
            png = io.BytesIO()
            Image.fromarray((img[0].numpy() * 255).round().astype(np.uint8), "L").save(png, "PNG")
            z.writestr(zipfile.ZipInfo(f"shapes/{SHAPES[int(label)]}/{i:03d}.png", (1980, 1, 1, 0, 0, 0)),
                       png.getvalue(), zipfile.ZIP_DEFLATED)
    return buf.getvalue()


MAKERS = {FRUIT: fruit_csv, SHAPES_ZIP: shapes_zip}


def sample(name: str) -> bytes:
    """A sample file's bytes: from assets/, or made again where the folder is missing (an installed copy)."""
    path = ASSETS / name
    return path.read_bytes() if path.is_file() else MAKERS[name]()


def make_assets(folder: Path = ASSETS) -> list[Path]:
    folder.mkdir(exist_ok=True)
    out = []
    for name, make in MAKERS.items():
        (folder / name).write_bytes(make())
        out.append(folder / name)
    return out
