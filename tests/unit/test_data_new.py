"""playground/data: regression toys, curve fit, sklearn tables, token sequences."""

import numpy as np
import pytest
import torch

from playground.config import DataConfig
from playground.data import DATASETS, load_dataset
from playground.data.regression import BUMPS, FUNCTIONS, bumps
from playground.data.sequences import IGNORE, generate
from playground.errors import DataError

# name -> (kind, task)
NEW = {
    "reg_plane": ("points", "regression"), "reg_gauss": ("points", "regression"),
    "curve": ("curve", "regression"), "diabetes": ("table", "regression"),
    "breast_cancer": ("table", "classification"), "wine": ("table", "classification"),
    "reverse": ("tokens", "sequence"), "sort": ("tokens", "sequence"), "max": ("tokens", "sequence"),
    "induction": ("tokens", "sequence"), "histogram": ("tokens", "sequence"),
}
TOKENS = [name for name, (kind, _) in NEW.items() if kind == "tokens"]


def cfg(name, **kw):
    return DataConfig(**{"name": name, "n_samples": 200, **kw})


def fresh(name, seed=0, **kw):
    """Load without load_dataset's cache, to compare two independent loads."""
    return DATASETS[name].loader(cfg(name, **kw), seed)


def test_registry_names_kind_and_task_of_the_new_sets_and_keeps_the_old_ones_classification():
    for name, (kind, task) in NEW.items():
        spec = DATASETS[name]
        assert (spec.kind, spec.task, spec.offline) == (kind, task, True)
        assert spec.title and spec.about
    for name in ("spiral", "digits", "shapes", "mnist"):
        assert DATASETS[name].task == "classification"


@pytest.mark.parametrize("name", list(NEW))
def test_new_set_loads_with_its_kind_task_shapes_and_dtypes(name):
    kind, task = NEW[name]
    d = load_dataset(cfg(name), seed=0)
    assert (d.name, d.kind, d.task) == (name, kind, task)
    for X, y in ((d.X_train, d.y_train), (d.X_val, d.y_val)):
        assert X.shape[0] == y.shape[0] > 0
        if task == "regression":
            assert X.dtype == y.dtype == torch.float32 and y.shape[1:] == (1,)
            assert torch.isfinite(X).all() and torch.isfinite(y).all()
        elif task == "classification":
            assert X.dtype == torch.float32 and y.dtype == torch.int64 and y.dim() == 1
            assert y.min() >= 0 and y.max() < d.num_classes
        else:
            assert X.dtype == y.dtype == torch.int64 and X.shape[1:] == (8,)
            assert X.min() >= 0 and X.max() < d.vocab == 10
            scored = y[y != IGNORE]
            assert scored.min() >= 0 and scored.max() < d.num_classes
    if task == "regression":
        assert d.class_names == [] and len(d.target_names) == 1
    if name not in ("diabetes", "breast_cancer", "wine"):
        assert len(d.X_train) + len(d.X_val) == 200
    assert d.per_position == (name in ("reverse", "sort", "induction", "histogram"))


@pytest.mark.parametrize("name", [n for n in NEW if n not in ("diabetes", "breast_cancer", "wine")])
def test_generated_sets_are_deterministic_per_seed(name):
    a, b, c = fresh(name, seed=3), fresh(name, seed=3), fresh(name, seed=4)
    for key in ("X_train", "y_train", "X_val", "y_val"):
        torch.testing.assert_close(getattr(a, key), getattr(b, key), rtol=0, atol=0)
    assert not torch.equal(a.X_train, c.X_train)


def test_input_ranges_of_the_2d_and_curve_regression_sets():
    plane = fresh("reg_plane", noise=0.0)
    X, y = plane.X_train, plane.y_train
    assert X.shape[1:] == (2,) and X.abs().max() <= 1
    torch.testing.assert_close(y[:, 0], (X[:, 0] + X[:, 1]) / 2, rtol=0, atol=1e-6)
    curve = fresh("curve", noise=0.0)
    assert curve.X_train.shape[1:] == (1,) and curve.X_train.abs().max() <= 1
    assert curve.meta["function"] == "sine"


def test_reg_gauss_follows_tf_playground_cones_with_the_largest_magnitude_winning():
    centres = BUMPS[:, :2]
    np.testing.assert_allclose(bumps(centres), BUMPS[:, 2])                # +1 / -1 at each centre
    assert bumps(np.array([[1.0, 0.0], [-1.0, -1.0]])).tolist() == [0.0, 0.0]   # outside every cone
    between = centres[0] + [1 / 6, 0]                                     # half a radius from the first centre
    np.testing.assert_allclose(bumps(between[None]), [0.5])
    d = fresh("reg_gauss", noise=0.0)
    assert d.y_train.min() < -0.5 and d.y_train.max() > 0.5 and d.y_train.abs().max() <= 1
    np.testing.assert_allclose(d.y_train[:, 0].numpy(), bumps(d.X_train.double().numpy()), atol=1e-6)


def test_noise_is_added_to_the_regression_target():
    clean, noisy = fresh("reg_plane", noise=0.0), fresh("reg_plane", noise=1.0)
    resid = noisy.y_train[:, 0] - (noisy.X_train[:, 0] + noisy.X_train[:, 1]) / 2
    assert 0.35 < resid.std() < 0.65                                      # noise * 0.5 * N(0, 1)
    assert (clean.y_train[:, 0] - (clean.X_train.sum(1)) / 2).abs().max() < 1e-6


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_curve_targets_are_the_chosen_function_without_noise(function):
    d = fresh("curve", noise=0.0, function=function)
    x = d.X_train[:, 0].double().numpy()
    np.testing.assert_allclose(d.y_train[:, 0].numpy(), FUNCTIONS[function][1](x), atol=1e-6)
    assert d.meta["function"] == function


def test_curve_refuses_an_unknown_function_naming_the_choices():
    with pytest.raises(DataError, match=r"data\.function: unknown function 'tan'.*sine, cubic, step, abs, bump"):
        fresh("curve", function="tan")


def test_sine_curve_values():
    x = np.array([-1.0, -0.75, 0.0, 0.25, 1.0])
    np.testing.assert_allclose(FUNCTIONS["sine"][1](x), [0, 1, 0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(FUNCTIONS["cubic"][1](x), [-1, 0.5625, 0, -0.6875, 1], atol=1e-12)


# ----------------------------------------------------------------------------- tables
@pytest.mark.parametrize("name,n,features,classes", [
    ("breast_cancer", 569, 30, ["malignant", "benign"]),
    ("wine", 178, 13, ["class_0", "class_1", "class_2"]),
])
def test_tables_have_sklearn_sizes_feature_names_and_class_names(name, n, features, classes):
    d = load_dataset(cfg(name), seed=0)
    assert len(d.X_train) + len(d.X_val) == n and d.input_shape == (features,)
    assert d.class_names == classes and len(d.meta["feature_names"]) == features
    assert set(d.y_train.tolist()) == set(range(len(classes)))


@pytest.mark.parametrize("name", ["breast_cancer", "wine", "diabetes"])
def test_standardisation_uses_training_statistics_only(name):
    raw = load_dataset(cfg(name, standardize=False), seed=1)
    d = load_dataset(cfg(name), seed=1)
    mean, std = raw.X_train.mean(0), raw.X_train.std(0, unbiased=False)
    torch.testing.assert_close(d.meta["x_mean"], mean, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(d.meta["x_std"], std, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(d.X_train.mean(0), torch.zeros_like(mean), rtol=0, atol=1e-4)
    torch.testing.assert_close(d.X_train.std(0, unbiased=False), torch.ones_like(std), rtol=0, atol=1e-4)
    torch.testing.assert_close(d.X_val, (raw.X_val - mean) / std, rtol=1e-4, atol=1e-4)
    assert (d.X_val.mean(0).abs() > 1e-3).any()                            # not re-centred on validation
    assert "x_mean" not in raw.meta and "x_std" not in raw.meta


def test_unstandardised_breast_cancer_keeps_raw_values_in_the_thousands():
    d = load_dataset(cfg("breast_cancer", standardize=False), seed=0)
    assert d.X_train.max() > 1000 and d.X_train.min() >= 0
    worst_area = d.meta["feature_names"].index("worst area")
    assert d.X_train[:, worst_area].max() > 1000


def test_diabetes_target_is_scaled_with_training_statistics_kept_in_meta():
    d = load_dataset(cfg("diabetes"), seed=0)
    assert len(d.X_train) + len(d.X_val) == 442 and d.input_shape == (10,)
    assert d.target_names == ["progression"] and d.meta["feature_names"][:3] == ["age", "sex", "bmi"]
    torch.testing.assert_close(d.y_train.mean(), torch.tensor(0.0), rtol=0, atol=1e-5)
    torch.testing.assert_close(d.y_train.std(unbiased=False), torch.tensor(1.0), rtol=0, atol=1e-5)
    score = d.y_train * d.meta["y_std"] + d.meta["y_mean"]                # back in score units
    assert 25 <= score.min() and score.max() <= 346 + 1e-3
    raw = load_dataset(cfg("diabetes", standardize=False), seed=0)
    assert raw.X_train[:, 0].max() > 50                                    # age in years
    torch.testing.assert_close(raw.y_train, d.y_train, rtol=0, atol=0)     # target scaled either way


# ----------------------------------------------------------------------------- token sequences
def test_reverse_sort_and_histogram_targets_match_numpy():
    for name, target in [("reverse", lambda X: X[:, ::-1]), ("sort", lambda X: np.sort(X, 1)),
                         ("histogram", lambda X: (X[:, :, None] == X[:, None, :]).sum(-1))]:
        d = load_dataset(cfg(name), seed=0)
        for X, y in ((d.X_train, d.y_train), (d.X_val, d.y_val)):
            np.testing.assert_array_equal(y.numpy(), target(X.numpy()))
    d = load_dataset(cfg("histogram"), seed=0)
    assert d.class_names == [str(c) for c in range(9)] and d.y_train.max() <= 8 and d.y_train.min() >= 1


def test_max_is_unique_and_max_pos_points_at_it():
    d = load_dataset(cfg("max", n_samples=500), seed=0)
    assert d.y_train.shape == (len(d.X_train),) and d.class_names == [str(t) for t in range(10)]
    for X, y, pos in ((d.X_train, d.y_train, d.meta["max_pos_train"]), (d.X_val, d.y_val, d.meta["max_pos_val"])):
        assert pos.dtype == torch.int64 and pos.shape == y.shape
        torch.testing.assert_close(y, X.max(1).values, rtol=0, atol=0)
        assert ((X == y[:, None]).sum(1) == 1).all()                      # the max occurs once
        torch.testing.assert_close(X[torch.arange(len(X)), pos], y, rtol=0, atol=0)
    assert set(d.y_train.tolist()) == set(range(1, 10))                    # every possible max appears


def test_induction_targets_are_the_next_token_where_scored():
    d = load_dataset(cfg("induction", n_samples=500, seq_len=12), seed=0)
    for X, y, period in ((d.X_train, d.y_train, d.meta["period_train"]), (d.X_val, d.y_val, d.meta["period_val"])):
        assert period.min() >= 2 and period.max() <= 6
        for i in range(len(X)):
            p, x, t = int(period[i]), X[i], y[i]
            assert len(set(x[:p].tolist())) == p                            # the segment's tokens are distinct
            torch.testing.assert_close(x, x[torch.arange(12) % p], rtol=0, atol=0)
            assert (t[:p] == IGNORE).all()
            torch.testing.assert_close(t[p:-1], x[p + 1:], rtol=0, atol=0)  # the next token
            assert t[-1] == x[12 % p]                                       # the next token after the end
            for pos in range(p, 12):                                        # the current token occurred before
                earlier = int((x[:pos] == x[pos]).nonzero()[-1])
                assert t[pos] == x[earlier + 1]
    assert set(d.meta["period_train"].tolist()) == {2, 3, 4, 5, 6}


def test_induction_needs_room_for_two_periods():
    with pytest.raises(DataError, match=r"seq_len >= 4, got 3"):
        fresh("induction", seq_len=3)
    d = fresh("induction", seq_len=4, vocab=2)
    assert (d.meta["period_train"] == 2).all()


def test_token_sets_follow_seq_len_and_vocab():
    for name in TOKENS:
        d = fresh(name, seq_len=16, vocab=50)
        assert d.X_train.shape[1] == 16 and d.vocab == 50 and d.X_train.max() < 50
        assert d.num_classes == (17 if name == "histogram" else 50)


def test_generating_4000_sequences_of_8_takes_milliseconds(monkeypatch):
    """Milliseconds (~2 ms for 4,000 x 8, measured) because generation is vectorised: a fixed number of
    draws from the generator, whatever the number of sequences, and no loop per sequence. Counted here
    rather than timed, which a loaded CI machine cannot do reliably."""
    calls = []

    class Counting(np.random.RandomState):
        def randint(self, *args, **kwargs):
            calls.append("randint")
            return super().randint(*args, **kwargs)

        def rand(self, *args, **kwargs):
            calls.append("rand")
            return super().rand(*args, **kwargs)

    for name in TOKENS:
        plain = generate(name, 4000, 8, 10, 1)
        with monkeypatch.context() as m:
            m.setattr(np.random, "RandomState", Counting)
            draws = []
            for n in (40, 4000):
                calls.clear()
                out = generate(name, n, 8, 10, 1)
                draws.append(list(calls))
        assert draws[0] == draws[1] and 1 <= len(draws[1]) <= 3, (name, draws)
        for got, want in zip(out[:2], plain[:2], strict=True):             # the counting changed nothing
            assert np.array_equal(got, want), name


def test_max_train_caps_the_training_split():
    for name in ("reverse", "wine", "reg_plane"):
        d = fresh(name, max_train=50)
        assert len(d.X_train) == 50
