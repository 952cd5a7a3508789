"""The standalone script of a run on your own data (issue 28): it reads the user's own file (a table, a
zip of class folders) by path, or holds the drawn points, and trains on the very same tensors as the
engine; on the CPU its epoch records equal the engine's to the last digit."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from playground.config import RunConfig
from playground.data import load_dataset, uploads
from playground.data.uploads import points_csv, save_set
from playground.errors import DataError
from playground.export.script import standalone_script
from tests.unit.own_files import pets, png, zip_of
from tests.unit.run_helper import Run
from tests.unit.script_runner import imported_modules, run_script

MLP = [{"type": "Linear", "out_features": 8}, {"type": "ReLU"}, {"type": "Linear", "out_features": 3}]
ENGINE_ONLY = ("time_s", "samples", "step")         # epoch-record keys the script does not print


def european_table(n: int = 90) -> bytes:
    """Latin-1, semicolons, decimal commas and thousands dots, a text input, a few missing cells, and
    a target of whole numbers (classes 1, 2, 3) with one row missing it."""
    rng = np.random.RandomState(1)
    lines = ["Breite;Höhe;Farbe;Gewicht;Klasse"]
    for i in range(n):
        a, b = rng.randn(), rng.randn()
        weight = f"{int(rng.randint(900, 3000)):,}".replace(",", ".") + "," + str(rng.randint(0, 10))
        colour = ["rot", "grün", "blau"][i % 3] if i % 17 else "NA"
        height = f"{b:.3f}".replace(".", ",") if i % 13 else ""
        label = "" if i == 5 else str(1 + (a > 0) + (b > 0.5))
        lines.append(f"{a:.4f}".replace(".", ",") + f";{height};{colour};{weight};{label}")
    return ("\n".join(lines) + "\n").encode("latin-1")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "store"))
    monkeypatch.chdir(tmp_path)                     # the script reads DATA_FILE from where it runs
    return tmp_path


def config(data: dict, layers=MLP, **over) -> RunConfig:
    d = {"data": data, "layers": layers, "optim": {"name": "adam", "lr": 0.01}, "batch_size": 16, "epochs": 3,
         "seed": 4, "device": "cpu", "threads": 1, **over}
    return RunConfig.from_dict(d)


def same_tensors(cfg: RunConfig, src: str) -> None:
    space = {"__name__": "train"}
    exec(compile(src, "train.py", "exec"), space)
    got = space["load_data"]()
    d = load_dataset(cfg.data, cfg.seed)
    for g, want in zip(got, (d.X_train, d.y_train, d.X_val, d.y_val), strict=True):
        assert g.dtype == want.dtype and g.shape == want.shape and torch.equal(g, want)


def engine_records(cfg: RunConfig) -> list[dict]:
    run = Run(cfg)
    assert run.run()["status"] == "finished"
    return [{k: v for k, v in e.items() if k not in ENGINE_ONLY} for e in run.history.epochs]


STDLIB = {"argparse", "csv", "hashlib", "io", "json", "math", "pathlib", "re", "sys", "zipfile"}


@pytest.mark.parametrize("choices", [
    {"missing": "drop", "standardize": True},
    {"missing": "mean", "standardize": False, "max_train": 40},
    {"missing": "mean", "standardize": True, "features": ["Breite", "Farbe", "Gewicht"], "val_fraction": 0.3},
])
def test_a_tables_script_reads_the_csv_itself_into_the_engines_tensors(home, choices):
    raw = european_table()
    sid = save_set(raw, "Messungen.csv", "ana")["id"]
    (home / "Messungen.csv").write_bytes(raw)
    cfg = config({"name": "upload", "upload": sid, "target": "Klasse", **choices})
    src = standalone_script(cfg)
    assert "DATA_FILE = 'Messungen.csv'" in src and f"SET_ID = '{sid}'" in src
    assert "DELIMITER = ';'" in src and "('Gewicht', 'decimal commas', [])" in src
    assert "('Farbe', 'text', ['blau', 'grün', 'rot'])" in src and "CLASSES = ['1', '2', '3']" in src
    assert imported_modules(src) <= STDLIB | {"numpy", "torch"}
    same_tensors(cfg, src)


def test_a_tables_script_trains_to_the_engines_numbers_and_warns_of_another_file(home, capsys):
    raw = european_table()
    sid = save_set(raw, "Messungen.csv", "ana")["id"]
    (home / "Messungen.csv").write_bytes(raw)
    cfg = config({"name": "upload", "upload": sid, "target": "Klasse", "missing": "mean"})
    src = standalone_script(cfg)
    records = run_script(src)
    assert records[:-1] == engine_records(cfg)              # every float with ==
    assert "warning" not in capsys.readouterr().err
    (home / "Messungen.csv").write_bytes(raw.replace(b"0,", b"1,", 3))
    run_script(src)
    assert "warning: Messungen.csv is not the file the playground trained on" in capsys.readouterr().err


def test_a_regression_tables_script_predicts_the_number(home):
    rng = np.random.RandomState(0)
    rows = [f"{x:.3f},{z:.3f},{3 * x - z + 0.1 * rng.randn():.4f}" for x, z in rng.randn(60, 2)]
    raw = ("x,z,price\n" + "\n".join(rows) + "\n").encode()
    sid = save_set(raw, "prices.csv", None)["id"]
    (home / "prices.csv").write_bytes(raw)
    layers = [{"type": "Linear", "out_features": 4}, {"type": "Tanh"}, {"type": "Linear", "out_features": 1}]
    cfg = config({"name": "upload", "upload": sid, "target": "price"}, layers=layers)
    src = standalone_script(cfg)
    assert "CLASSES" not in src and "TARGET_HOW = 'number'" in src
    same_tensors(cfg, src)


def test_a_csv_on_this_machine_is_read_by_its_path(home, monkeypatch):
    raw = european_table()
    path = home / "data files" / "m.csv"
    path.parent.mkdir()
    path.write_bytes(raw)
    monkeypatch.setattr(uploads, "ALLOW_PATHS", True)
    cfg = config({"name": "csv", "path": str(path), "target": "Klasse"})
    src = standalone_script(cfg)
    assert f"DATA_FILE = {str(path)!r}" in src
    same_tensors(cfg, src)


@pytest.mark.parametrize("colour", [False, True])
def test_an_image_zips_script_decodes_the_same_images(home, colour):
    raw = pets()
    sid = save_set(raw, "pets.zip", "ana", kind="images")["id"]
    (home / "pets.zip").write_bytes(raw)
    layers = [{"type": "Conv2d", "out_channels": 4, "kernel_size": 3}, {"type": "ReLU"}, {"type": "Flatten"},
              {"type": "Linear", "out_features": 2}]
    cfg = config({"name": "upload_images", "upload": sid, "image_size": 12, "colour": colour, "val_fraction": 0.25},
                 layers=layers, batch_size=4)
    src = standalone_script(cfg)
    assert "CLASSES = ['cats', 'dogs']" in src and "from PIL import Image, ImageOps" in src
    assert "pip install torch numpy pillow" in src
    assert imported_modules(src) <= STDLIB | {"numpy", "torch", "PIL"}
    same_tensors(cfg, src)
    if not colour:
        assert run_script(src)[:-1] == engine_records(cfg)


def test_a_drawn_sets_script_holds_its_points(home):
    pts = [[-0.5 + 0.01 * i, 0.1 * (i % 5), 0] for i in range(8)] + [[0.5, -0.3 + 0.1 * i, 1] for i in range(8)]
    sid = save_set(points_csv(pts), "drawn points", "ana", kind="points")["id"]
    layers = [{"type": "Linear", "out_features": 4}, {"type": "Tanh"}, {"type": "Linear", "out_features": 2}]
    cfg = config({"name": "drawn", "upload": sid}, layers=layers)
    src = standalone_script(cfg)
    assert "POINTS = [[-0.5, 0.0, 0]," in src and "N_SAMPLES" not in src and "DATA_FILE" not in src
    same_tensors(cfg, src)


def test_a_script_of_a_deleted_set_says_so(home):
    sid = save_set(zip_of({"a/x.png": png((1, 1, 1)), "b/y.png": png((9, 9, 9))}), "ab.zip", "ana", kind="images")["id"]
    uploads.delete_set(sid, [])
    with pytest.raises(DataError, match=r"no uploaded set '[0-9a-f]{16}' on this server"):
        standalone_script(config({"name": "upload_images", "upload": sid}))


def test_a_folder_of_class_folders_trains_from_the_command_line_and_its_script_reads_it(home, monkeypatch):
    import zipfile

    folder = home / "my pets"
    with zipfile.ZipFile(__import__("io").BytesIO(pets())) as z:
        for info in z.infolist():
            if info.filename.startswith("pets/") and not (info.external_attr >> 16) & 0o170000 == 0o120000:
                target = folder / info.filename[len("pets/"):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(z.read(info))
    (folder / "cats" / "link.png").symlink_to(folder / "cats" / "c0.png")
    cfg = config({"name": "folder", "path": str(folder), "image_size": 12},
                 layers=[{"type": "Flatten"}, {"type": "Linear", "out_features": 2}])
    with pytest.raises(DataError, match=r"^data\.path: a folder on the server is read from the command line only"):
        load_dataset(cfg.data, cfg.seed)
    monkeypatch.setattr(uploads, "ALLOW_PATHS", True)
    data = load_dataset(cfg.data, cfg.seed)
    assert data.class_names == ["cats", "dogs"] and data.input_shape == (1, 12, 12)
    skipped = data.meta["skipped"]
    assert "cats/link.png: a symbolic link" in skipped and "loose.png: not inside a class folder" in skipped
    assert "dogs/notes.txt: not an image (PNG, JPEG, BMP, GIF, WebP)" in skipped
    src = standalone_script(cfg)
    assert f"DATA_DIR = {str(folder.resolve())!r}" in src and "import os" in src
    same_tensors(cfg, src)
    (folder / "dogs" / "new.png").write_bytes(png((1, 2, 250)))
    assert len(load_dataset(cfg.data, cfg.seed).y_train) + len(load_dataset(cfg.data, cfg.seed).y_val) \
        == len(data.y_train) + len(data.y_val) + 1, "a changed folder was not read again"


def test_a_run_on_a_kept_table_resumes_exactly_races_and_exports_from_the_command_line(home, capsys):
    """data add, then a config naming the set: trained in two halves (stopped, resumed) it ends with the
    numbers of a straight run; a comparison races two learning rates on it; its script trains the same."""
    import json

    import yaml

    from playground.__main__ import main
    from playground.data.samples import FRUIT, sample

    (home / FRUIT).write_bytes(sample(FRUIT))
    assert main(["data", "add", str(home / FRUIT), "--target", "fruit"]) == 0
    added = json.loads(capsys.readouterr().out)
    data = added["config"]["data"]
    assert data["name"] == "upload" and data["upload"] == added["id"] and added["card"]["rows"] == 290
    base = {"data": data, "layers": [{"type": "Linear", "out_features": 8}, {"type": "ReLU"},
                                     {"type": "Linear", "out_features": 3}],
            "optim": {"name": "adam", "lr": 0.01}, "batch_size": 32, "seed": 2, "device": "cpu", "threads": 1}
    (home / "fruit.yaml").write_text(yaml.safe_dump({**base, "name": "fruit", "epochs": 4}))

    def last(out: str) -> dict:
        return json.loads(out.strip().splitlines()[-1])

    assert main(["train", str(home / "fruit.yaml")]) == 0
    straight = last(capsys.readouterr().out)
    assert main(["train", str(home / "fruit.yaml"), "--epochs", "2"]) == 0
    half = last(capsys.readouterr().out)["run_id"]
    assert main(["resume", half, "--epochs", "2"]) == 0
    resumed = last(capsys.readouterr().out)
    assert resumed["epochs"] == 4
    for key in ("train_loss", "val_loss", "val_accuracy"):
        assert resumed[key] == straight[key], key                    # to the last digit

    (home / "race.yaml").write_text(yaml.safe_dump({"title": "fruit lr", "base": {**base, "epochs": 2},
                                                    "variants": [{"name": "lr 0.01"},
                                                                 {"name": "lr 0.1", "optim": {"lr": 0.1}}]}))
    assert main(["compare", str(home / "race.yaml")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()[-2:]]
    assert [v["name"] for v in lines] == ["lr 0.01", "lr 0.1"] and all(v["status"] == "finished" for v in lines)

    assert main(["export", straight["run_id"], "--format", "script", "--out", str(home / "train.py")]) == 0
    capsys.readouterr()
    records = run_script((home / "train.py").read_text())
    assert records[-2]["val_loss"] == straight["val_loss"]


def test_data_add_takes_a_name_and_an_autoencoder_trains_on_your_images_and_draws_its_codes(home, capsys):
    import json

    from playground.__main__ import main
    from playground.inspect import latent
    from playground.store import default_store
    from playground.train.frozen import frozen_model
    from tests.trained import train_stored

    (home / "p.zip").write_bytes(pets())
    assert main(["data", "add", str(home / "p.zip"), "--name", "my pets", "--size", "16"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["filename"] == "my pets.zip" and uploads.list_sets()[0]["filename"] == "my pets.zip"
    layers = [{"type": "Flatten"}, {"type": "Linear", "out_features": 16}, {"type": "ReLU"},
              {"type": "Linear", "out_features": 2}, {"type": "Latent"}, {"type": "Linear", "out_features": 256},
              {"type": "Sigmoid"}, {"type": "Unflatten", "shape": "1x16x16"}]
    run = train_stored({"name": "pets autoencoder", "data": added["config"]["data"], "task": "reconstruction",
                        "loss": "mse", "layers": layers, "epochs": 2, "batch_size": 4})
    view = latent(frozen_model(default_store(), run.id))
    assert view.arrays["codes"].shape == (len(view.arrays["labels"]), 2) and set(view.arrays["labels"]) <= {0, 1}
