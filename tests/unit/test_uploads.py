"""Your own table (issue 28): a CSV/TSV read safely into a set, a message naming the line and the fix
for each way a file can be wrong (every offending file is made here), the user's choices (target,
task, inputs, missing values) applied with what was done said in words, sets kept once per content,
deletion refused while runs use a set, and a run trained on an uploaded table like on a shipped one."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from playground.config import DataConfig, RunConfig
from playground.data import load_dataset, uploads
from playground.data.uploads import delete_set, list_sets, read_images, read_table, save_set, set_record, table_set
from playground.errors import DataError
from playground.store import Store
from playground.train.registry import Registry
from tests.unit.own_files import pets, png, zip_of


def csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def rows(n: int, seed: int = 0) -> list[str]:
    """n rows of a small table: two measurements, a colour (text) and a label decided by the first."""
    rng = np.random.RandomState(seed)
    out = []
    for i in range(n):
        a, b = rng.randn(), rng.randn()
        out.append(f"{a:.4f},{b:.4f},{['red', 'green', 'blue'][i % 3]},{'big' if a > 0 else 'small'}")
    return out


TABLE = csv("width,height,colour,size", *rows(200))


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("raw, message", [
    (b"", r"^t\.csv is empty: upload a table with a header row"),
    (b"   \n\n", r"^t\.csv is empty"),
    (b"PK\x03\x04\x14\x00\x00\x00binary", r"^t\.csv is not a text table \(it holds binary data"),
    (b"a,b\x00,c\n1,2,3\n", r"^t\.csv is not a text table"),
    (csv("a,b,c"), r"^t\.csv has a header row but no rows of values$"),
    (csv("only", "1", "2"), r"^t\.csv has one column \('only'\): a table needs input columns and a target"),
    (csv("a,b,a", "1,2,3"), r"^t\.csv: the header names 'a' more than once; give every column its own name$"),
    (csv("a,b,c", "1,2,3", "4,5", "6,7,8"), r"^t\.csv, line 3: 2 values, but the header has 3 names \(values are "
                                            r"separated by commas; a value that holds one must be in double quotes\)$"),
])
def test_a_file_that_is_not_a_table_gets_a_message_naming_what_is_wrong(raw, message):
    with pytest.raises(DataError, match=message):
        read_table(raw, "t.csv")


def test_ragged_rows_are_counted_by_the_files_own_line_numbers_past_blank_lines():
    with pytest.raises(DataError, match=r"^t\.csv, line 5: 4 values"):
        read_table(b"a,b,c\n1,2,3\n\n4,5,6\n7,8,9,10\n", "t.csv")


def test_numbers_are_read_in_the_forms_people_write_them():
    t = read_table("name;price;weight\nAnn;1.234,5;0,5\nBo;12,25;1,75\nCé;3;2\n".encode("latin-1"), "shop.csv")
    assert [c.name for c in t.columns] == ["name", "price", "weight"]
    np.testing.assert_array_equal(t.column("price").values, [1234.5, 12.25, 3.0])
    np.testing.assert_array_equal(t.column("weight").values, [0.5, 1.75, 2.0])
    assert list(t.column("name").values) == ["Ann", "Bo", "Cé"]
    assert "read as Latin-1 text (it is not UTF-8)" in t.notes
    assert "'price': numbers with decimal commas" in t.notes and "values separated by semicolons" in t.notes

    t = read_table(b'city,people\nA,"1,204,000"\nB,"56,300"\nC,"900"\n', "c.csv")
    np.testing.assert_array_equal(t.column("people").values, [1204000, 56300, 900])
    assert "'people': numbers with thousands separators" in t.notes

    t = read_table(b"a\tb\n1\tinf\n2\t\n3\tNaN\n4\t-5\n", "t.tsv")
    b = t.column("b")
    assert b.numeric and b.missing == 3 and b.values[3] == -5
    assert "'b': 1 infinite value read as missing" in t.notes


def test_choices_make_the_set_and_say_what_they_did():
    raw = csv("width,height,colour,size", "1,2,red,big", "NA,3,blue,small", "2,,green,big", "4,5,red,",
              *rows(40, seed=1))
    t = read_table(raw, "t.csv")
    assert t.propose_task("size") == "classification" and t.propose_task("width") == "regression"
    s = table_set(t, "size")
    assert s.task == "classification" and s.class_names == ["big", "small"]
    assert s.feature_names == ["width", "height", "colour=blue", "colour=green", "colour=red"]
    assert s.X.shape == (41, 5) and s.y.shape == (41,)
    assert s.notes == ["1 row(s) without a target value dropped", "2 row(s) with a missing input value dropped",
                       "1 text column(s) one-hot encoded into 3 inputs (colour: 3)"]
    np.testing.assert_array_equal(s.X[0], [1, 2, 0, 0, 1])

    s = table_set(t, "size", missing="mean", features=["width", "height"])
    assert s.feature_names == ["width", "height"] and s.X.shape == (43, 2) and np.isnan(s.X).sum() == 2
    assert "2 missing input value(s) filled with their column's training mean" in s.notes

    s = table_set(t, "height", task="regression", features=["width"])
    assert s.task == "regression" and s.class_names == [] and s.y.dtype == np.float32


@pytest.mark.parametrize("target, kw, message", [
    ("", {}, r"^data\.target: say which column of t\.csv to predict \(one of a, b, one, word\)$"),
    ("nope", {}, r"^data\.target: no column 'nope' in t\.csv; its columns are a, b, one, word$"),
    ("one", {}, r"^data\.target: 'one' has one value \('7'\) in every row: there is nothing to tell apart"),
    ("word", {"task": "regression"}, r"^data\.target_task: regression needs numbers, and 'word' holds text"),
    ("a", {"features": ["zzz"]}, r"^data\.features: no column 'zzz' in t\.csv$"),
    ("a", {"missing": "guess"}, r"^data\.missing: 'drop'"),
])
def test_a_bad_choice_gets_a_message(target, kw, message):
    t = read_table(csv("a,b,one,word", *[f"{i},{i % 3},7,w{i % 2}" for i in range(30)]), "t.csv")
    with pytest.raises(DataError, match=message):
        table_set(t, target, **kw)


def test_an_identifier_column_and_too_many_classes_are_refused_with_the_way_out(monkeypatch):
    t = read_table(csv("id,x,y", *[f"user{i},{i},{i % 2}" for i in range(80)]), "t.csv")
    with pytest.raises(DataError, match=r"the text column 'id' has 80 different values .*untick it"):
        table_set(t, "y")
    assert table_set(t, "y", features=["x"]).feature_names == ["x"]
    monkeypatch.setenv("PLAYGROUND_MAX_CLASSES", "5")
    with pytest.raises(DataError, match=r"'id' has 80 different values, more classes than 5 \(PLAYGROUND_MAX_"
                                        r"CLASSES\); if they are measurements, predict them as numbers"):
        table_set(t, "id")


def test_limits_name_their_setting(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MAX_ROWS", "10")
    with pytest.raises(DataError, match=r"has 200 rows; at most 10 \(PLAYGROUND_MAX_ROWS\)"):
        read_table(TABLE, "t.csv")
    monkeypatch.setenv("PLAYGROUND_MAX_COLUMNS", "3")
    with pytest.raises(DataError, match=r"has 4 columns; at most 3 \(PLAYGROUND_MAX_COLUMNS\)"):
        read_table(TABLE, "t.csv")
    monkeypatch.setenv("PLAYGROUND_UPLOAD_MB", "0")
    with pytest.raises(DataError, match=r"uploads may be 0 MB at most \(PLAYGROUND_UPLOAD_MB\)"):
        read_table(TABLE, "t.csv")


def test_a_set_is_kept_once_per_content_and_deleted_only_when_no_run_uses_it(home, monkeypatch):
    a = save_set(TABLE, "../../etc/sizes.csv", "ana")
    b = save_set(TABLE, "copy.csv", "ben")                     # the same bytes: the same set, two owners
    assert a["id"] == b["id"] and set_record(a["id"])["owners"] == ["ana", "ben"]
    assert a["filename"] == "sizes.csv", "a path in the file name was kept"
    assert [m["id"] for m in list_sets("ana")] == [a["id"]] and list_sets("eve") == []
    with pytest.raises(DataError, match=r"is used by 1 run\(s\): my run; delete them first$"):
        delete_set(a["id"], ["my run"], "ana")
    assert not delete_set(a["id"], [], "ana") and set_record(a["id"])["owners"] == ["ben"]
    assert delete_set(a["id"], [], "ben")
    with pytest.raises(DataError, match=r"no uploaded set '.*' on this server"):
        set_record(a["id"])
    with pytest.raises(DataError, match=r"is not a data set id"):
        set_record("../../etc")
    monkeypatch.setenv("PLAYGROUND_MAX_DATA_MB", "0")
    with pytest.raises(DataError, match=r"PLAYGROUND_MAX_DATA_MB"):
        save_set(TABLE + b"1,2,red,big\n", "t.csv", "ana")


def test_a_path_is_the_command_lines_only(tmp_path, monkeypatch):
    f = tmp_path / "t.csv"
    f.write_bytes(TABLE)
    cfg = DataConfig.from_dict({"name": "csv", "path": str(f), "target": "size"})
    with pytest.raises(DataError, match=r"^data\.path: a file on the server is read from the command line only"):
        load_dataset(cfg, 0)
    monkeypatch.setattr(uploads, "ALLOW_PATHS", True)
    data = load_dataset(cfg, 0)
    assert data.class_names == ["big", "small"] and data.meta["source"] == "t.csv"


def test_a_run_trains_on_an_uploaded_table_with_train_only_statistics(home):
    sid = save_set(csv("width,height,colour,size", "NA,0.5,red,big", *rows(300, seed=2)), "sizes.csv", "ana")["id"]
    cfg = RunConfig.from_dict({"data": {"name": "upload", "upload": sid, "target": "size", "missing": "mean"},
                               "layers": [{"type": "Linear", "out_features": 16}, {"type": "ReLU"},
                                          {"type": "Linear", "out_features": 2}],
                               "epochs": 30, "batch_size": 32, "optim": {"lr": 0.01}, "seed": 0, "device": "cpu"})
    data = load_dataset(cfg.data, cfg.seed)
    assert data.task == "classification" and data.input_shape == (5,)
    assert data.meta["feature_names"] == ["width", "height", "colour=blue", "colour=green", "colour=red"]
    assert not torch.isnan(data.X_train).any() and not torch.isnan(data.X_val).any()
    torch.testing.assert_close(data.X_train.mean(0), torch.zeros(5), atol=1e-5, rtol=0)   # standardised on train
    reg = Registry(max_active=1, processes=False, store=Store(home))
    run = reg.start(cfg)
    assert run.join(120) and run.history.status == "finished", run.history.message
    assert run.history.epochs[-1]["val_acc"] >= 0.9, run.history.epochs[-1]


def test_the_command_line_adds_lists_trains_on_and_deletes_a_set(home, tmp_path, capsys):
    from playground.__main__ import main

    f = tmp_path / "sizes.csv"
    f.write_bytes(csv("width,height,colour,size", *rows(120)))
    assert main(["data", "add", str(f), "--target", "size", "--features", "width,colour"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["filename"] == "sizes.csv" and [c["column"] for c in out["columns"]] == ["width", "height", "colour",
                                                                                        "size"]
    assert out["card"]["classes"] == {"big": int(sum(r.endswith("big") for r in rows(120))),
                                      "small": int(sum(r.endswith("small") for r in rows(120)))}
    assert out["config"]["data"] == {"name": "upload", "upload": out["id"], "target": "size",
                                     "target_task": "classification", "features": ["width", "colour"],
                                     "missing": "drop"}
    assert main(["data", "list"]) == 0 and out["id"] in capsys.readouterr().out
    cfg = tmp_path / "run.json"
    cfg.write_text(json.dumps({**out["config"], "layers": [{"type": "Linear", "out_features": 2}], "epochs": 2,
                               "name": "on my table"}))
    assert main(["train", str(cfg)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["status"] == "finished"
    assert main(["data", "delete", out["id"]]) == 2
    err = capsys.readouterr().err
    assert "is used by 1 run(s)" in err and "(on my table); delete them first" in err, err
    assert set_record(out["id"])["id"] == out["id"], "a set a run uses was deleted"
    assert main(["data", "add", str(tmp_path / "nope.csv")]) == 2
    assert capsys.readouterr().err.strip() == f"error: no file '{tmp_path / 'nope.csv'}'"


# ----------------------------------------------------------------------------------------- images
def test_a_zip_of_class_folders_is_read_in_memory_and_what_it_skips_is_named():
    s = read_images(pets(), "pets.zip", size=24)
    assert s.class_names == ["cats", "dogs"] and s.X.shape == (14, 1, 24, 24) and s.X.dtype == np.float32
    assert np.bincount(s.y).tolist() == [6, 8]
    assert 0 <= s.X.min() and s.X.max() <= 1
    assert sorted(s.skipped) == ["pets/cats/link.png: a symbolic link", "pets/dogs/broken.png: cannot be decoded",
                                 "pets/dogs/notes.txt: not an image (PNG, JPEG, BMP, GIF, WebP)",
                                 "pets/loose.png: not inside a class folder",
                                 "pets/more.zip: an archive inside the archive"]
    assert any("image sizes and" in n and "resized to 24x24 grey" in n for n in s.notes)
    gif = s.X[np.flatnonzero(s.y == 1)].reshape(8, -1).max(1)
    assert gif.max() > 0.95, "the GIF's first (white) frame was not the one read"
    colour = read_images(pets(), "pets.zip", size=16, colour=True)
    assert colour.X.shape == (14, 3, 16, 16)
    red = colour.X[0].mean((1, 2))
    assert red[0] > 0.8 and red[2] < 0.2, red


def test_a_name_that_climbs_out_of_the_archive_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    raw = zip_of({"a/x.png": png((1, 1, 1)), "b/y.png": png((2, 2, 2)), "../../escaped.png": png((3, 3, 3)),
                  "/abs/evil.png": png((4, 4, 4))})
    s = read_images(raw, "evil.zip")
    assert s.class_names == ["a", "b"]
    assert sorted(s.skipped) == ["../../escaped.png: a path that leaves the archive",
                                 "abs/evil.png: a path that leaves the archive"]
    assert list(tmp_path.rglob("*")) == [] and not (tmp_path.parent / "escaped.png").exists()


@pytest.mark.parametrize("raw, message", [
    (b"not a zip at all", r"^x\.zip is not a zip archive: put one folder per class"),
    (zip_of({"only/a.png": png((1, 1, 1)), "only/b.png": png((2, 2, 2))}),
     r"^x\.zip: every image is in one class folder \('only'\): a classifier needs two or more"),
    (zip_of({"a/readme.txt": b"hi", "b/x.png": b"garbage"}), r"^x\.zip: no image could be read \(2 file\(s\) skipped"),
])
def test_a_zip_that_makes_no_set_says_why(raw, message):
    with pytest.raises(DataError, match=message):
        read_images(raw, "x.zip")


def test_a_zip_bomb_is_refused_before_it_is_inflated(monkeypatch):
    bomb = zip_of({"a/x.png": png((1, 1, 1)), "b/huge.png": b"\0" * (8 * 2**20)})
    with pytest.raises(DataError, match=r"'b/huge\.png' would inflate [\d,]+ times \(to 8 MB\): refused, as a zip "
                                        r"bomb would be"):
        read_images(bomb, "bomb.zip")
    monkeypatch.setenv("PLAYGROUND_MAX_UNZIPPED_MB", "1")
    with pytest.raises(DataError, match=r"would unpack to 8 MB; at most 1 MB \(PLAYGROUND_MAX_UNZIPPED_MB\)"):
        read_images(bomb, "bomb.zip")
    monkeypatch.setenv("PLAYGROUND_MAX_IMAGES", "3")
    with pytest.raises(DataError, match=r"holds \d+ files; at most 3 images \(PLAYGROUND_MAX_IMAGES\)"):
        read_images(pets(), "pets.zip")
    monkeypatch.setenv("PLAYGROUND_MAX_PIXELS", "100")
    s = read_images(zip_of({"a/x.png": png((1, 1, 1), size=(4, 4)), "b/y.png": png((1, 1, 1), size=(4, 4)),
                            "b/big.png": png((1, 1, 1), size=(40, 40))}), "px.zip")
    assert "b/big.png: too many pixels" in s.skipped


def test_a_run_trains_on_uploaded_images(home):
    sid = save_set(pets(), "pets.zip", "ana", kind="images")["id"]
    cfg = RunConfig.from_dict({"data": {"name": "upload_images", "upload": sid, "image_size": 16},
                               "layers": [{"type": "Conv2d", "out_channels": 4, "kernel_size": 3}, {"type": "ReLU"},
                                          {"type": "Flatten"}, {"type": "Linear", "out_features": 2}],
                               "epochs": 3, "batch_size": 4, "seed": 0, "device": "cpu"})
    data = load_dataset(cfg.data, cfg.seed)
    assert data.kind == "image" and data.input_shape == (1, 16, 16) and data.class_names == ["cats", "dogs"]
    with pytest.raises(DataError, match=r"holds images: pick 'Your own images'"):
        load_dataset(DataConfig.from_dict({"name": "upload", "upload": sid, "target": "x"}), 0)
    reg = Registry(max_active=1, processes=False, store=Store(home))
    run = reg.start(cfg)
    assert run.join(120) and run.history.status == "finished", run.history.message


def test_drawn_points_are_kept_as_a_small_csv_and_train_with_a_boundary(home):
    from playground.data.uploads import points_csv, read_points

    pts = [[-0.5 + 0.01 * i, 0.1 * (i % 5), 0] for i in range(6)] + [[0.5, -0.3 + 0.1 * i, 1] for i in range(6)]
    raw = points_csv(pts)
    assert raw.splitlines()[:2] == [b"x,y,class", b"-0.5000,0.0000,0"]
    X, y = read_points(raw)
    assert X.shape == (12, 2) and y.tolist() == [0] * 6 + [1] * 6
    with pytest.raises(DataError, match=r"9 point\(s\) of 2 class\(es\); draw at least 10 points of both classes"):
        read_points(points_csv(pts[:3] + pts[6:12]))
    with pytest.raises(DataError, match=r"10 point\(s\) of 1 class\(es\)"):
        read_points(points_csv([[0.1 * i, 0, 1] for i in range(10)]))
    sid = save_set(raw, "drawn points (12)", "ana", kind="points")["id"]
    cfg = RunConfig.from_dict({"data": {"name": "drawn", "upload": sid}, "layers": [
        {"type": "Linear", "out_features": 8}, {"type": "ReLU"}, {"type": "Linear", "out_features": 2}],
        "epochs": 50, "batch_size": 4, "optim": {"lr": 0.03}, "seed": 0, "device": "cpu"})
    data = load_dataset(cfg.data, 0)
    assert data.kind == "points" and data.class_names == ["orange", "blue"] and len(data.X_train) == 10
    reg = Registry(max_active=1, processes=False, store=Store(home))
    run = reg.start(cfg)
    assert run.join(60) and run.history.status == "finished", run.history.message
    assert run.history.boundary is not None, "no decision boundary for drawn points"


def test_numbers_as_classes_are_named_as_written():
    raw = csv("x,grade", *[f"{i},{[1, 2.5, 3][i % 3]}" for i in range(30)])
    ts = table_set(read_table(raw, "g.csv"), "grade", "classification")
    assert ts.class_names == ["1", "2.5", "3"]                  # not np.float64(2.5)
