"""Write assets/: the sample table (fruit.csv) and zip of images (shapes.zip) a teacher can try at once.
They are the project's own generators' output (playground/data/samples.py): run this after changing them.

    .venv/bin/python scripts/make_assets.py
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playground.data.samples import make_assets  # noqa: E402

if __name__ == "__main__":
    for path in make_assets():
        print(f"{path}: {path.stat().st_size:,} bytes")
