"""playground/data: offline data sets, splits, seeds, shapes' boxes, torchvision's missing files."""
import pytest
import torch

from playground.config import DataConfig
from playground.data import DATASETS, images, load_dataset, split, split_indices, toys
from playground.data.images import SHAPES, make_shapes
from playground.data.toys import TOYS, generate
from playground.errors import DataError, PlaygroundError

TOY_NAMES = ["circle", "xor", "gaussians", "spiral", "moons"]
# name -> (input shape, number of classes, total samples for the config below)
OFFLINE = {
    **{name: ((2,), 2, 200) for name in TOY_NAMES},
    "digits": ((1, 8, 8), 10, 1797),
    "mnist_subset": ((1, 28, 28), 10, 5000),
    "shapes": ((1, 32, 32), 4, 2000),
}


def cfg(name, **kw):
    return DataConfig(**{"name": name, "n_samples": 200, **kw})


def test_registry_lists_the_offline_and_torchvision_sets():
    assert set(TOY_NAMES) == set(TOYS)
    offline = {name for name, spec in DATASETS.items() if spec.offline}
    assert set(OFFLINE) <= offline                  # and the sets of other tasks: tests/unit/test_data_new.py
    assert {"mnist", "fashion_mnist", "cifar10"} <= set(DATASETS) - offline
    for name, spec in DATASETS.items():
        if name in OFFLINE or not spec.offline:
            assert spec.kind == ("points" if name in TOYS else "image") and spec.task == "classification"
        assert spec.title and spec.about


@pytest.mark.parametrize("name", list(OFFLINE))
def test_offline_set_loads_with_the_right_shapes_classes_and_dtypes(name):
    shape, classes, total = OFFLINE[name]
    d = load_dataset(cfg(name), seed=0)
    assert d.name == name and d.kind == DATASETS[name].kind
    assert d.input_shape == shape
    assert d.num_classes == classes == len(d.class_names)
    for X, y in ((d.X_train, d.y_train), (d.X_val, d.y_val)):
        assert X.dtype == torch.float32 and y.dtype == torch.int64
        assert X.shape[1:] == shape and X.shape[0] == y.shape[0]
        assert torch.isfinite(X).all()
        assert y.min() >= 0 and y.max() < classes
    assert len(d.X_train) + len(d.X_val) == total
    assert set(d.y_train.tolist()) == set(range(classes))     # every class appears in training


@pytest.mark.parametrize("name", ["digits", "mnist_subset", "shapes"])
def test_image_pixels_are_scaled_to_0_1(name):
    d = load_dataset(cfg(name, max_train=200), seed=0)
    assert d.X_train.min() >= 0 and d.X_train.max() <= 1
    assert d.X_train.max() > 0.6                                 # not all black


@pytest.mark.parametrize("name", TOY_NAMES)
def test_toy_points_are_centred_and_roughly_in_the_unit_square(name):
    d = load_dataset(cfg(name, noise=0.1), seed=0)
    X = torch.cat([d.X_train, d.X_val])
    assert X.abs().max() < 1.6
    torch.testing.assert_close(X.mean(0), torch.zeros(2), rtol=0, atol=0.25)


@pytest.mark.parametrize("name", TOY_NAMES)
def test_toys_have_two_balanced_classes(name):
    _, y = generate(name, 200, 0.1, seed=0)
    counts = torch.bincount(torch.from_numpy(y), minlength=2)
    assert counts.sum() == 200
    assert abs(int(counts[0]) - int(counts[1])) <= 30


def test_xor_labels_follow_the_quadrants_without_noise():
    X, y = generate("xor", 400, 0.0, seed=1)
    expected = (X[:, 0] * X[:, 1] < 0).astype(int)
    assert (y == expected).all()
    assert (abs(X) >= 0.05).all()          # the margin around the axes


@pytest.mark.parametrize("name, n, val_fraction, n_train, n_val", [
    ("spiral", 200, 0.2, 160, 40),
    ("moons", 200, 0.35, 130, 70),
    ("circle", 100, 0.1, 90, 10),
    ("xor", 230, 0.33, 154, 76),               # round(75.9) = 76: rounded, not truncated
    ("digits", None, 0.2, 1438, 359),          # round(1797 * 0.2) = 359
    ("digits", None, 0.5, 899, 898),           # round(898.5) = 898
    ("digits", None, 0.45, 988, 809),          # round(808.65) = 809
    ("mnist_subset", None, 0.3, 3500, 1500),
])
def test_split_sizes_follow_val_fraction(name, n, val_fraction, n_train, n_val):
    d = load_dataset(cfg(name, val_fraction=val_fraction, **({"n_samples": n} if n else {})), seed=0)
    assert (len(d.X_train), len(d.y_train), len(d.X_val), len(d.y_val)) == (n_train, n_train, n_val, n_val)


def test_max_train_caps_only_the_training_part():
    d = load_dataset(cfg("digits", max_train=100), seed=0)
    assert (len(d.X_train), len(d.X_val)) == (100, 359)
    d = load_dataset(cfg("shapes", max_train=50, val_fraction=0.1), seed=0)
    assert (len(d.X_train), len(d.X_val)) == (50, 200)
    assert len(d.meta["boxes_train"]) == 50 and len(d.meta["boxes_val"]) == 200
    # max_train has no effect on the 2-D toys, nor when it exceeds the training part
    assert len(load_dataset(cfg("spiral", max_train=10), seed=0).X_train) == 160
    assert len(load_dataset(cfg("digits", max_train=10_000), seed=0).X_train) == 1438


def test_split_indices_partition_the_samples():
    train, val = split_indices(50, 0.3, seed=4)
    assert (len(train), len(val)) == (35, 15)
    assert sorted(torch.cat([train, val]).tolist()) == list(range(50))
    train2, val2 = split_indices(50, 0.3, seed=4)
    assert torch.equal(train, train2) and torch.equal(val, val2)
    assert not torch.equal(val, split_indices(50, 0.3, seed=5)[1])
    assert len(split_indices(10, 0.01, seed=0)[1]) == 1      # at least one validation sample


def test_split_keeps_pairs_together():
    X = torch.arange(20, dtype=torch.float32).reshape(10, 2)
    y = torch.arange(10)
    Xtr, ytr, Xva, yva = split(X, y, 0.2, seed=0)
    assert (len(Xtr), len(Xva)) == (8, 2)
    torch.testing.assert_close(Xtr[:, 0], ytr.float() * 2, rtol=0, atol=0)
    torch.testing.assert_close(Xva[:, 1], yva.float() * 2 + 1, rtol=0, atol=0)


@pytest.mark.parametrize("name", list(OFFLINE))
def test_same_seed_gives_identical_data(name):
    a = load_dataset(cfg(name, max_train=300), seed=3)
    toys._load.cache_clear()                      # generate again rather than return the cached set
    images._shapes.cache_clear()
    b = load_dataset(cfg(name, max_train=300), seed=3)
    for t, u in ((a.X_train, b.X_train), (a.y_train, b.y_train), (a.X_val, b.X_val), (a.y_val, b.y_val)):
        assert torch.equal(t, u)


@pytest.mark.parametrize("name", list(OFFLINE))
def test_different_seed_gives_different_data(name):
    a = load_dataset(cfg(name, max_train=300), seed=0)
    b = load_dataset(cfg(name, max_train=300), seed=1)
    assert not torch.equal(a.X_train, b.X_train)
    assert not torch.equal(a.X_val, b.X_val)


@pytest.mark.parametrize("name", TOY_NAMES)
def test_toy_generation_is_deterministic_and_seed_dependent(name):
    X1, y1 = generate(name, 100, 0.2, seed=9)
    X2, y2 = generate(name, 100, 0.2, seed=9)
    X3, _ = generate(name, 100, 0.2, seed=10)
    assert (X1 == X2).all() and (y1 == y2).all()
    assert not (X1 == X3).all()


def test_noise_changes_the_points():
    clean = load_dataset(cfg("spiral", noise=0.0), seed=0)
    noisy = load_dataset(cfg("spiral", noise=0.5), seed=0)
    assert torch.equal(clean.y_train, noisy.y_train)
    assert not torch.equal(clean.X_train, noisy.X_train)


def test_unknown_data_set_lists_the_names():
    with pytest.raises(DataError, match="data.name: unknown data set 'imagenet'; pick one of circle, xor"):
        load_dataset(cfg("imagenet"))


# ----------------------------------------------------------------------------- shapes
def _check_boxes(X, y, boxes):
    assert boxes.dtype == torch.int64 and boxes.shape == (len(X), 4)
    size = X.shape[-1]
    for img, label, (r0, c0, r1, c1) in zip(X[:, 0], y, boxes.tolist()):
        assert 0 <= r0 < r1 <= size and 0 <= c0 < c1 <= size
        assert 8 <= r1 - r0 == c1 - c0 <= 14                       # square box, side 8..14
        bright = img > 0.5                                          # object pixels are >= 0.7, noise < 0.15
        inside = torch.zeros_like(bright)
        inside[r0:r1, c0:c1] = True
        assert bright.any(), "no object drawn"
        assert not (bright & ~inside).any(), "object pixels outside the box"
        rows, cols = bright.nonzero(as_tuple=True)                  # and the box is tight around the object
        assert (rows.min(), cols.min(), rows.max() + 1, cols.max() + 1) == (r0, c0, r1, c1)
        if label == 0:                                              # a filled square fills its box
            assert bright[r0:r1, c0:c1].all()


def test_shapes_boxes_contain_the_bright_pixels_of_the_object():
    d = load_dataset(cfg("shapes"), seed=0)
    _check_boxes(d.X_train[:300], d.y_train[:300], d.meta["boxes_train"][:300])
    _check_boxes(d.X_val[:100], d.y_val[:100], d.meta["boxes_val"][:100])


def test_make_shapes_draws_every_shape_with_faint_noise():
    X, y, boxes = make_shapes(80, seed=5)
    assert X.shape == (80, 1, 32, 32) and X.dtype == torch.float32
    assert set(y.tolist()) == set(range(len(SHAPES)))
    _check_boxes(X, y, boxes)
    outside = torch.ones_like(X[:, 0], dtype=torch.bool)
    for i, (r0, c0, r1, c1) in enumerate(boxes.tolist()):
        outside[i, r0:r1, c0:c1] = False
    assert X[:, 0][outside].max() < 0.15                        # background is faint noise only


def test_make_shapes_is_deterministic():
    a, b = make_shapes(20, seed=1), make_shapes(20, seed=1)
    for t, u in zip(a, b):
        assert torch.equal(t, u)
    assert not torch.equal(a[0], make_shapes(20, seed=2)[0])


def test_shapes_split_keeps_boxes_with_their_images():
    d = load_dataset(cfg("shapes", val_fraction=0.2), seed=2)
    X, y, boxes = make_shapes(2000, seed=2)
    train, val = split_indices(2000, 0.2, seed=2)
    assert torch.equal(d.X_train, X[train]) and torch.equal(d.y_val, y[val])
    assert torch.equal(d.meta["boxes_train"], boxes[train]) and torch.equal(d.meta["boxes_val"], boxes[val])
    assert d.class_names == SHAPES


# ----------------------------------------------------------------------------- torchvision sets
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
def test_torchvision_set_without_files_is_a_data_error(tmp_path, name):
    with pytest.raises(DataError) as e:
        load_dataset(DataConfig(name=name, data_dir=str(tmp_path), download=False), seed=0)
    msg = str(e.value)
    assert str(tmp_path.resolve()) in msg                  # names the folder it looked in
    assert "switch on 'download'" in msg                   # and how to get the files
    assert "mnist_subset" in msg                           # and the offline alternative
    assert isinstance(e.value, PlaygroundError)
    assert list(tmp_path.iterdir()) == []                  # download=False fetches nothing
