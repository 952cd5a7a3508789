"""playground/data/augment.py: per-sample, seeded augmentation, checked against torchvision's functional
transforms; its config checks; the engine training with it (reproducible, resumable)."""
import pytest
import torch
import torchvision.transforms.v2.functional as TF
from torchvision.transforms import InterpolationMode

from playground.config import AUGMENTS, DataConfig, RunConfig
from playground.data import augment as A
from playground.data import load_dataset
from playground.errors import ConfigError, DataError
from playground.train import check
from playground.viz.augment import pairs_grid
from tests.unit.run_helper import Run

ALL = {"flip": 0.5, "rotate": 30, "crop": 0.3, "shift": 0.1, "jitter": 0.4, "noise": 0.1, "erase": 0.5}
TOL = dict(atol=1e-5, rtol=0)


@pytest.fixture(autouse=True)
def _restore_rng():
    state = torch.get_rng_state()
    yield
    torch.set_rng_state(state)


def batch(n=8, c=1, h=12, w=16, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------- identity and seeding
@pytest.mark.parametrize("spec", [{}, {"rotate": 0, "flip": 0.0}], ids=["empty", "zeros"])
def test_empty_or_zero_strength_is_the_identity(spec):
    x = batch()
    aug = A.Augment(spec, seed=0)
    assert not aug
    assert aug(x, 5) is x
    assert A.make_augment(spec, 0, load_dataset(DataConfig(name="digits"))) is None


def test_same_seed_and_step_give_the_same_batch_another_step_or_seed_another():
    x = batch()
    a = A.Augment(ALL, seed=3)
    torch.testing.assert_close(a(x, 7), A.Augment(ALL, seed=3)(x, 7), atol=0, rtol=0)
    assert not torch.equal(a(x, 7), a(x, 8))
    assert not torch.equal(a(x, 7), A.Augment(ALL, seed=4)(x, 7))


def test_the_global_rng_is_left_alone():
    before = torch.get_rng_state()
    A.Augment(ALL, seed=0)(batch(), 0)
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("name", ["rotate", "crop", "shift", "jitter", "noise"])
def test_each_sample_gets_its_own_parameters(name):
    x = batch(1).expand(8, -1, -1, -1).contiguous()                 # 8 copies of one image
    out = A.Augment({name: AUGMENTS[name][0] / 2}, seed=0)(x, 0)
    assert len({tuple(o.flatten().tolist()) for o in out}) == 8    # 8 different results


def test_flip_and_erase_are_per_sample_too():
    x = batch(64, h=8, w=8)
    flipped = A.Augment({"flip": 0.5}, seed=0)(x, 0)
    is_flipped = [torch.equal(f, o.flip(-1)) for f, o in zip(flipped, x)]
    assert 10 < sum(is_flipped) < 54 and all(f or torch.equal(a, o) for f, a, o in zip(is_flipped, flipped, x))
    erased = A.Augment({"erase": 0.5}, seed=0)(x, 0)
    hit = [(e == 0).any().item() for e in erased]
    assert 10 < sum(hit) < 54


# ----------------------------------------------------------------------------- against torchvision
def test_rotation_by_180_is_the_image_flipped_both_ways():
    x = torch.tensor([[[[1., 2., 3., 4.],
                        [5., 6., 7., 8.],
                        [9., 10., 11., 12.]]]])                     # (1, 1, 3, 4)
    expected = torch.tensor([[[[12., 11., 10., 9.],
                               [8., 7., 6., 5.],
                               [4., 3., 2., 1.]]]])
    torch.testing.assert_close(A.rotate(x, torch.tensor([180.0])), expected, **TOL)
    torch.testing.assert_close(A.rotate(x, torch.tensor([-180.0])), expected, **TOL)


def test_per_sample_rotation_matches_torchvision_rotate():
    x = batch(4, c=3)
    angles = [30.0, -75.0, 90.0, 5.0]
    ref = torch.stack([TF.rotate(x[i], a, interpolation=InterpolationMode.BILINEAR) for i, a in enumerate(angles)])
    torch.testing.assert_close(A.rotate(x, torch.tensor(angles)), ref, **TOL)


def test_shift_matches_torchvision_affine_translate():
    x = batch(2)
    tx, ty = torch.tensor([3.0, -2.0]), torch.tensor([-2.0, 1.0])
    ref = torch.stack([TF.affine(x[i], angle=0.0, translate=[int(tx[i]), int(ty[i])], scale=1.0, shear=[0.0, 0.0])
                       for i in range(2)])
    torch.testing.assert_close(A.warp(x, A.shift_matrices(tx, ty)), ref, **TOL)


def test_crop_matches_torchvision_resized_crop_inside_the_box():
    x = batch(1)
    top, left, h, w = 2, 3, 8, 10                                   # a box of the 12x16 image
    ref = TF.resized_crop(x, top, left, h, w, [12, 16], interpolation=InterpolationMode.BILINEAR, antialias=False)
    cx, cy = torch.tensor([left + w / 2 - 8]), torch.tensor([top + h / 2 - 6])      # box centre from the image's
    out = A.warp(x, A.crop_matrices(cx, cy, torch.tensor([float(w)]), torch.tensor([float(h)]), 12, 16))
    # at the box's edge torchvision repeats the edge pixel, we blend with the pixel outside it
    torch.testing.assert_close(out[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1], **TOL)


@pytest.mark.parametrize("name", ["brightness", "contrast", "saturation"])
def test_colour_adjustments_match_torchvision_per_image(name):
    x = batch(3, c=3)
    f = torch.tensor([0.3, 1.0, 1.8])
    ref = torch.stack([getattr(TF, f"adjust_{name}")(x[i], float(f[i])) for i in range(3)])
    torch.testing.assert_close(getattr(A, f"adjust_{name}")(x, f), ref, **TOL)


def test_contrast_of_grey_images_matches_torchvision():
    x = batch(2, c=1)
    ref = torch.stack([TF.adjust_contrast(x[i], 1.5) for i in range(2)])
    torch.testing.assert_close(A.adjust_contrast(x, torch.tensor([1.5, 1.5])), ref, **TOL)


@pytest.mark.parametrize("c", [1, 3])
def test_shapes_dtype_and_value_range_are_kept(c):
    x = batch(16, c=c)
    out = A.Augment({k: AUGMENTS[k][0] for k in AUGMENTS}, seed=0)(x, 0)    # everything at full strength
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.min() >= 0 and out.max() <= 1 and torch.isfinite(out).all()


def test_pair_keeps_noise_and_erasing_out_of_the_clean_batch():
    x = batch()
    clean, noisy = A.Augment({"rotate": 30, "noise": 0.2, "erase": 1.0}, seed=0).pair(x, 4)
    torch.testing.assert_close(clean, A.Augment({"rotate": 30}, seed=0)(x, 4), atol=0, rtol=0)
    assert not torch.equal(clean, noisy)
    same, same_too = A.Augment({"rotate": 30}, seed=0).pair(x, 4)
    assert same is same_too


# ----------------------------------------------------------------------------- config checks
def test_old_configs_without_augment_still_load():
    cfg = RunConfig.from_dict({"data": {"name": "digits"}, "layers": [{"type": "Linear", "out_features": 10}]})
    assert cfg.data.augment == {}
    assert DataConfig.from_dict({"augment": None}).augment == {}


@pytest.mark.parametrize("augment, message", [
    ({"rotation": 10}, "data.augment: unknown transform 'rotation'; pick from flip, rotate, crop, shift, jitter, "
                       "noise, erase"),
    ({"rotate": 270}, "data.augment.rotate: the largest rotation in degrees, either way must be from 0 to 180, "
                      "got 270"),
    ({"flip": -0.1}, "data.augment.flip: the probability of a horizontal flip must be from 0 to 1, got -0.1"),
    ({"noise": "lots"}, "data.augment.noise: expected a number (standard deviation of added Gaussian noise), got "
                        "'lots'; e.g. 0.5"),
    ({"erase": True}, "data.augment.erase: expected a number"),
    ({"noise": float("nan")}, "data.augment.noise: expected a number"),
    ("rotate", "data.augment: must be a mapping of transform to strength, got 'rotate'; e.g. {rotate: 15, flip: 0.5}"),
])
def test_bad_specs_name_the_field_the_value_and_the_fix(augment, message):
    with pytest.raises(ConfigError) as e:
        DataConfig.from_dict({"name": "mnist_subset", "augment": augment})
    assert str(e.value).startswith(message), str(e.value)


def test_augmenting_points_is_refused_by_name():
    cfg = RunConfig.from_dict({"data": {"name": "spiral", "augment": {"rotate": 10}},
                               "layers": [{"type": "Linear", "out_features": 2}]})
    with pytest.raises(DataError, match="data.augment: augmentation transforms images, and 'spiral' holds 2-D "
                                        "points; remove data.augment, or pick an image set"):
        check(cfg)
    with pytest.raises(ConfigError, match="data.augment: augmentation transforms images"):
        A.make_augment({"rotate": 10}, 0, load_dataset(DataConfig(name="spiral")))


def test_the_data_set_is_the_same_object_with_or_without_augmentation():
    assert load_dataset(DataConfig(name="digits", augment={"rotate": 10})) is load_dataset(DataConfig(name="digits"))


def test_the_standalone_script_writes_the_augmentation_out():
    """The script trains what the run trains, augmentation included (test_export_script.py runs such
    scripts and compares their numbers with the engine's)."""
    from playground.export.script import standalone_script

    cfg = RunConfig.from_dict({"data": {"name": "digits", "augment": {"rotate": 10, "flip": 0}},
                               "layers": [{"type": "Flatten"}, {"type": "Linear", "out_features": 10}]})
    text = standalone_script(cfg)
    assert "def augment(" in text and "rotate" in text
    compile(text, "train.py", "exec")


# ----------------------------------------------------------------------------- preview and picture
def test_preview_of_one_class_and_its_grid():
    data = load_dataset(DataConfig(name="digits"))
    orig, aug, labels = A.preview(data, {"rotate": 180}, seed=0, draw=1, n=16, label=6)
    assert orig.shape == aug.shape == (16, 1, 8, 8) and (labels == 6).all()
    grid = pairs_grid(orig.numpy(), aug.numpy(), cols=8, size=16)
    # 2 rows of 8 tiles; a tile is 2 pixels per image pixel: 8 + 1 (line) + 8 rows, 8 columns; 3-pixel gaps
    assert grid.shape == (2 * 17 * 2 + 3 * 3, 8 * 8 * 2 + 9 * 3, 3) and grid.dtype.name == "uint8"
    top = grid[3:3 + 16:2, 3:3 + 16:2, 0]                          # the first original, one pixel per pixel
    torch.testing.assert_close(torch.from_numpy(top).float(), (orig[0, 0] * 255).round(), atol=0, rtol=0)


# ----------------------------------------------------------------------------- the engine
CNN = [{"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
       {"type": "Flatten"}, {"type": "Linear", "out_features": 10}]


def engine_config(augment=None, epochs=2, **over) -> RunConfig:
    return RunConfig.from_dict({"data": {"name": "digits", "max_train": 256, "augment": augment or {}},
                                "layers": CNN, "batch_size": 32, "epochs": epochs, "seed": 0, "device": "cpu",
                                "threads": 1, **over})


def records(run: Run) -> list[dict]:
    return [{k: v for k, v in e.items() if k != "time_s"} for e in run.history.epochs]


def test_a_run_with_augmentation_is_reproducible_and_differs_from_one_without():
    torch.manual_seed(1)
    a = Run(engine_config(ALL))
    a.run()
    torch.manual_seed(2)                                            # the global RNG plays no part
    b = Run(engine_config(ALL))
    b.run()
    plain = Run(engine_config())
    plain.run()
    assert a.history.status == b.history.status == plain.history.status == "finished"
    assert records(a) == records(b)
    assert a.history.step_loss == b.history.step_loss
    assert records(a)[-1]["train_loss"] != records(plain)[-1]["train_loss"]
    assert records(a)[0]["val_loss"] != records(plain)[0]["val_loss"]


def test_a_resumed_run_draws_the_same_augmented_batches():
    from playground.train.history import History

    class Keep(History):                                            # keeps the checkpoints
        def add_checkpoint(self, ckpt):
            super().add_checkpoint(ckpt)
            self.ckpts = [*getattr(self, "ckpts", []), ckpt]

    straight = Run(engine_config(ALL, epochs=4))
    straight.run()
    first = Run(engine_config(ALL, epochs=2), history=Keep())
    first.run()
    resumed = Run(engine_config(ALL, epochs=4))
    resumed.prepare(checkpoint=first.history.ckpts[-1])
    resumed.run()
    assert [e["epoch"] for e in records(resumed)] == [3, 4]
    assert records(resumed) == records(straight)[-2:]


DENOISER = [{"type": "Flatten"}, {"type": "Linear", "out_features": 128}, {"type": "ReLU"},
            {"type": "Linear", "out_features": 784}, {"type": "Sigmoid"}, {"type": "Unflatten", "shape": "1x28x28"}]


def test_an_autoencoder_learns_to_remove_the_noise():
    """Reconstruction with noise (examples/mnist_denoising_autoencoder.yaml, made small): the input is
    the noisy batch, the target the clean one; once trained, the network's output for noisy validation
    digits is closer to the clean digits than the noisy digits themselves are, and than an untrained
    network's output is."""
    from playground.train.tasks import make_task

    cfg = RunConfig.from_dict({"data": {"name": "mnist_subset", "max_train": 2000, "augment": {"noise": 0.3}},
                               "task": "reconstruction", "loss": "mse", "layers": DENOISER,
                               "optim": {"name": "adam", "lr": 0.003}, "batch_size": 64, "epochs": 20, "seed": 0,
                               "device": "cpu", "threads": 1})
    untrained = Run(cfg)
    untrained.prepare()
    aug = A.make_augment(cfg.data.augment, cfg.seed, untrained.data)
    x = untrained.data.X_train[:4]
    clean, noisy = aug.pair(x, 0)
    assert torch.equal(make_task(cfg, untrained.data).target(clean, None), x)  # no transform but noise: x itself
    assert not torch.equal(noisy, x)

    run = Run(cfg)
    run.run()
    assert run.history.status == "finished", run.history.message
    clean = run.data.X_val[:500]
    # fresh noise of the same strength, from a seed the training never drew from
    noisy = A.make_augment(cfg.data.augment, 12345, run.data)(clean, 0)
    mse = lambda a: torch.mean((a - clean) ** 2).item()                        # noqa: E731
    with torch.no_grad():
        recon, before = mse(run.model.eval()(noisy)), mse(untrained.model.eval()(noisy))
    assert recon < 0.5 * mse(noisy), (recon, mse(noisy))                          # a clear margin
    assert recon < 0.5 * before, (recon, before)
