"""playground/surfaces.py and playground/viz/surface.py: the optimizer race on 2-D surfaces.

The race must be torch.optim's own steps: each optimizer is checked against a hand-written loop
that calls the torch.optim class directly, with a hand-written Rosenbrock function.
"""
import math

import numpy as np
import pytest
import torch

from playground.config import OptimConfig
from playground.errors import ConfigError
from playground.surfaces import (
    ESCAPE,
    RACERS,
    SURFACES,
    Surface,
    default_config,
    grid,
    label_configs,
    make_surface,
    race,
)
from playground.viz.surface import MAX_FRAMES, loss_figure, race_figure

# non-default hyperparameters everywhere, so a setting that make_optimizer drops shows up as a mismatch
CONFIGS = {
    "sgd": OptimConfig(name="sgd", lr=1e-3, weight_decay=0.01),
    "momentum": OptimConfig(name="momentum", lr=5e-4, momentum=0.8),
    "nesterov": OptimConfig(name="nesterov", lr=5e-4, momentum=0.7),
    "rmsprop": OptimConfig(name="rmsprop", lr=0.01, alpha=0.9, eps=0.1),
    "adam": OptimConfig(name="adam", lr=0.05, beta1=0.8, beta2=0.99, eps=0.01),
    "adamw": OptimConfig(name="adamw", lr=0.05, beta1=0.8, beta2=0.99, weight_decay=0.3),
    "adagrad": OptimConfig(name="adagrad", lr=0.3, eps=1.0),
}
HAND = {
    "sgd": lambda p: torch.optim.SGD([p], lr=1e-3, weight_decay=0.01),
    "momentum": lambda p: torch.optim.SGD([p], lr=5e-4, momentum=0.8),
    "nesterov": lambda p: torch.optim.SGD([p], lr=5e-4, momentum=0.7, nesterov=True),
    "rmsprop": lambda p: torch.optim.RMSprop([p], lr=0.01, alpha=0.9, eps=0.1),
    "adam": lambda p: torch.optim.Adam([p], lr=0.05, betas=(0.8, 0.99), eps=0.01),
    "adamw": lambda p: torch.optim.AdamW([p], lr=0.05, betas=(0.8, 0.99), weight_decay=0.3),
    "adagrad": lambda p: torch.optim.Adagrad([p], lr=0.3, eps=1.0),
}
START, STEPS = (-1.2, 1.0), 60


def close(actual, expected, atol=1e-10, rtol=1e-10):
    torch.testing.assert_close(torch.as_tensor(np.asarray(actual, dtype=float)),
                               torch.as_tensor(np.asarray(expected, dtype=float)), atol=atol, rtol=rtol)


def hand_loop(name: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The reference: torch.optim.<Class> on one (2,) parameter, Rosenbrock written out by hand."""
    p = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    opt = HAND[name](p)
    xy, loss = [p.detach().clone()], []
    for _ in range(steps):
        opt.zero_grad()
        f = (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2
        f.backward()
        loss.append(f.item())
        opt.step()
        xy.append(p.detach().clone())
    x, y = xy[-1]
    loss.append(float((1 - x) ** 2 + 100 * (y - x ** 2) ** 2))
    return torch.stack(xy).numpy(), np.array(loss)


@pytest.fixture(scope="module")
def rosenbrock_race():
    # all seven in one lockstep race: each one's path must not depend on the others
    return race(SURFACES["rosenbrock"], CONFIGS, START, STEPS)


# ----------------------------------------------------------------------------- torch.optim
@pytest.mark.parametrize("name", list(CONFIGS))
def test_race_matches_torch_optims_own_steps(rosenbrock_race, name):
    r = rosenbrock_race[name]
    xy, loss = hand_loop(name, STEPS)
    assert r["diverged"] is None
    assert r["xy"].shape == (STEPS + 1, 2) and r["loss"].shape == (STEPS + 1,)
    close(r["xy"], xy)
    close(r["loss"], loss)
    assert np.abs(r["xy"][-1] - START).max() > 0.01        # it did move: the comparison is not of two starts


def test_a_race_of_one_equals_the_same_optimizer_in_a_crowd(rosenbrock_race):
    alone = race(SURFACES["rosenbrock"], {"adam": CONFIGS["adam"]}, START, STEPS)["adam"]
    close(alone["xy"], rosenbrock_race["adam"]["xy"], atol=0, rtol=0)


# ----------------------------------------------------------------------------- the teaching claims
def quad_race(condition=50.0, steps=100, names=RACERS):
    s = make_surface("quadratic", condition)
    return race(s, {n: default_config(s, n) for n in names}, s.start, steps)


def sign_changes(v: np.ndarray) -> int:
    s = np.sign(v)
    return int((s[1:] != s[:-1]).sum())


def test_sgd_zigzags_across_the_narrow_valley_and_adam_does_not():
    r = quad_race()
    # SGD at lr 1.8 on curvature 1 across the valley: y <- (1 - 1.8) y = -0.8 y, a sign flip every step
    assert sign_changes(r["sgd"]["xy"][:21, 1]) == 20
    close(r["sgd"]["xy"][1:21, 1] / r["sgd"]["xy"][:20, 1], np.full(20, -0.8), atol=1e-12)
    assert sign_changes(r["adam"]["xy"][:21, 1]) <= 1
    assert sign_changes(r["rmsprop"]["xy"][:21, 1]) == 0


def test_adam_scales_each_axis_and_sgd_follows_the_gradient():
    s = make_surface("quadratic", 50.0)
    r = quad_race()
    (x0, y0) = s.start
    # SGD's first step is -lr * grad: 50 times more sensitive across the valley than along it
    d_sgd = np.abs(r["sgd"]["xy"][1] - r["sgd"]["xy"][0])
    close(d_sgd, [1.8 * abs(x0) / 50, 1.8 * abs(y0)])
    # Adam's first step is lr * sign(grad) in each coordinate (bias-corrected m / sqrt(v) = +-1): a diagonal
    d_adam = np.abs(r["adam"]["xy"][1] - r["adam"]["xy"][0])
    close(d_adam, [0.3, 0.3], atol=1e-6)


def test_momentum_overshoots_the_minimum_then_the_swings_shrink():
    y = quad_race(steps=100)["momentum"]["xy"][:, 1]
    assert sign_changes(y) >= 5                              # it swings across the valley floor ...
    assert sign_changes(y[:21]) < 10                         # ... in smooth arcs, not a per-step zig-zag
    amp = [np.abs(y[a:a + 25]).max() for a in (0, 25, 50, 75)]
    assert all(a > 2 * b for a, b in zip(amp, amp[1:])), amp  # ... each quarter less than half the last


def test_a_larger_condition_number_slows_sgd_but_not_rmsprop():
    easy, hard = quad_race(condition=5), quad_race(condition=500)
    assert hard["sgd"]["loss"][-1] > 100 * easy["sgd"]["loss"][-1]
    assert hard["rmsprop"]["loss"][-1] <= easy["rmsprop"]["loss"][-1]


def test_on_the_saddle_sgd_waits_and_adam_turns_off_at_once():
    s = SURFACES["saddle"]
    r = race(s, {n: default_config(s, n) for n in ("sgd", "adam")}, s.start, s.steps)
    near = {n: int((np.linalg.norm(r[n]["xy"], axis=1) < 0.15).sum()) for n in r}
    assert near["sgd"] >= 10 and near["adam"] == 0
    # SGD's loss sits on the plateau f(0, 0) = 1/8 while it waits
    assert np.sum(np.abs(r["sgd"]["loss"] - 1 / 8) < 0.01) >= 10
    assert np.abs(r["sgd"]["xy"][-1]).tolist() == pytest.approx([0, 1], abs=1e-3)


# ----------------------------------------------------------------------------- the surfaces
ALL = {**{f"quadratic-{c:g}": make_surface("quadratic", c) for c in (1.0, 50.0, 1000.0)},
       **{n: s for n, s in SURFACES.items() if n != "quadratic"}}


@pytest.mark.parametrize("surface", ALL.values(), ids=list(ALL))
def test_minima_are_stationary_points_with_positive_curvature(surface):
    (x0, x1), (y0, y1) = surface.x_range, surface.y_range
    assert x0 <= surface.start[0] <= x1 and y0 <= surface.start[1] <= y1
    for m in surface.minima:
        assert x0 <= m[0] <= x1 and y0 <= m[1] <= y1
        p = torch.tensor(m, dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(surface.fn(p), p)
        assert g.abs().max() < 1e-4, (m, g)
        h = torch.autograd.functional.hessian(surface.fn, p.detach())             # (2, 2)
        assert torch.linalg.eigvalsh(h).min() > 0, (m, h)
    assert surface.fmin == pytest.approx(0.0, abs=1e-9)      # every surface here has f* = 0


def test_the_saddle_is_a_stationary_point_that_is_not_a_minimum():
    s = SURFACES["saddle"]
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(s.fn(p), p)
    assert g.abs().max() == 0
    eig = torch.linalg.eigvalsh(torch.autograd.functional.hessian(s.fn, p.detach()))
    close(eig, [-0.5, 2.0], atol=1e-12)


def test_himmelblau_has_four_minima_of_equal_depth():
    s = SURFACES["multi_minima"]
    values = [float(s.fn(torch.tensor(m, dtype=torch.float64))) for m in s.minima]
    assert len(values) == 4 and max(values) < 1e-9


def test_the_condition_number_is_the_ratio_of_the_curvatures():
    s = make_surface("quadratic", 37.0)
    h = torch.autograd.functional.hessian(s.fn, torch.tensor([0.3, -0.2], dtype=torch.float64))
    eig = torch.linalg.eigvalsh(h)
    assert float(eig.max() / eig.min()) == pytest.approx(37.0)
    assert float(eig.max()) == pytest.approx(1.0)     # the steep direction keeps curvature 1


def test_grid_shapes_and_orientation():
    s = make_surface("rosenbrock")
    xs, ys, Z = grid(s, 31)
    assert xs.shape == (31,) and ys.shape == (31,) and Z.shape == (31, 31)
    assert (xs[0], xs[-1], ys[0], ys[-1]) == (*s.x_range, *s.y_range)
    for i, j in ((0, 0), (3, 17), (30, 5)):           # Z[i, j] = f(xs[j], ys[i]), Plotly's convention
        assert Z[i, j] == pytest.approx((1 - xs[j]) ** 2 + 100 * (ys[i] - xs[j] ** 2) ** 2)


# ----------------------------------------------------------------------------- divergence and bad input
def test_a_diverging_run_is_marked_and_keeps_its_finite_points():
    s = make_surface("quadratic", 50.0)
    r = race(s, {"SGD": OptimConfig(name="sgd", lr=10.0), "Adam": OptimConfig(name="adam", lr=0.3)}, s.start, 100)
    sgd = r["SGD"]
    # y <- (1 - 10) y: |y| grows 9x a step and leaves the box (the plot range widened ESCAPE times)
    box = (s.y_range[1] - s.y_range[0]) / 2 * ESCAPE
    k = math.ceil(math.log(box / abs(s.start[1]), 9))
    assert sgd["diverged"] == k
    assert sgd["xy"].shape == (k, 2) and sgd["loss"].shape == (k,)
    assert np.isfinite(sgd["xy"]).all() and np.isfinite(sgd["loss"]).all()
    assert np.abs(sgd["xy"][:, 1]).max() <= box
    close(sgd["xy"][1:, 1] / sgd["xy"][:-1, 1], np.full(k - 1, -9.0))
    # the others run on to the end
    assert r["Adam"]["diverged"] is None and r["Adam"]["xy"].shape == (101, 2)


def test_a_nan_gradient_counts_as_diverged():
    s = Surface(name="sqrt", title="sqrt", fn=lambda xy: torch.sqrt(xy[..., 0]) + xy[..., 1] ** 2,
                x_range=(-2.0, 2.0), y_range=(-2.0, 2.0), start=(1.0, 0.0), minima=[(0.0, 0.0)], about="")
    r = race(s, {"SGD": OptimConfig(name="sgd", lr=5.0)}, s.start, 10)["SGD"]
    # step 1: x = 1 - 5 * 0.5 = -1.5 (finite); step 2: the gradient of sqrt(-1.5) is NaN
    assert r["diverged"] == 2
    close(r["xy"], [[1.0, 0.0], [-1.5, 0.0]])


@pytest.mark.parametrize("cfg, words", [
    (OptimConfig(name="sgd", lr=0.0), "learning rate must be above 0, got 0"),
    (OptimConfig(name="adam", lr=-1.0), "learning rate must be above 0, got -1"),
    (OptimConfig(name="adam", lr=float("nan")), "learning rate must be above 0"),
    (OptimConfig(name="nesterov", lr=0.1, momentum=0.0), "momentum must be between 0 and 1"),
    (OptimConfig(name="lion", lr=0.1), "unknown optimizer 'lion'"),
])
def test_bad_settings_are_refused_with_the_item_and_the_value(cfg, words):
    with pytest.raises(ConfigError, match="my run: .*" + words.replace("(", r"\(")):
        race(SURFACES["saddle"], {"my run": cfg}, (0.5, 0.5), 10)


def test_bad_race_settings_are_refused():
    s = SURFACES["saddle"]
    ok = {"SGD": OptimConfig(name="sgd", lr=0.1)}
    with pytest.raises(ConfigError, match="steps: must be between 1"):
        race(s, ok, s.start, 0)
    with pytest.raises(ConfigError, match=r"start \(5, 0\) is outside the plot of Saddle"):
        race(s, ok, (5.0, 0.0), 10)
    with pytest.raises(ConfigError, match="surface 'bowl' is unknown"):
        make_surface("bowl")
    with pytest.raises(ConfigError, match="condition number must be 1 or more, got 0.5"):
        make_surface("quadratic", 0.5)


def test_labels_follow_the_optimizer_names():
    labels = list(label_configs([OptimConfig(name="adam"), OptimConfig(name="sgd"), OptimConfig(name="adam")]))
    assert labels == ["Adam", "SGD", "Adam (2)"]


# ----------------------------------------------------------------------------- figures
def test_race_figure_draws_each_path_up_to_the_step_and_animates_the_rest():
    s = make_surface("quadratic", 50.0)
    results = race(s, {"SGD": OptimConfig(name="sgd", lr=10.0), "Adam": OptimConfig(name="adam", lr=0.3)},
                   s.start, 300)
    fig = race_figure(grid(s, 40), results, step=17, minima=s.minima, revision="quadratic")
    names = [t.name for t in fig.data]
    assert names[0] == "surface" and names[-2:] == ["start", "minimum"]
    d = results["SGD"]["diverged"]
    assert f"SGD · diverged at step {d}" in names and "Adam" in names
    adam_path, adam_head = fig.data[3], fig.data[4]
    assert len(adam_path.x) == 18 and list(adam_head.x) == pytest.approx([results["Adam"]["xy"][17, 0]])
    sgd_path = fig.data[1]                               # diverged before step 17: drawn to its last point
    assert len(sgd_path.x) == d and fig.data[2].marker.symbol == "x"
    assert fig.layout.uirevision == "quadratic"
    frames = fig.frames
    assert 2 <= len(frames) <= MAX_FRAMES + 1
    assert frames[0].name == "0" and frames[-1].name == "300"
    assert list(frames[-1].traces) == [1, 2, 3, 4]
    assert len(frames[-1].data[2].x) == 301 and len(frames[0].data[2].x) == 1
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == ["▶ Play", "❚❚ Pause"]
    slider = fig.layout.sliders[0]
    assert slider.steps[slider.active].label == min((f.name for f in frames), key=lambda n: abs(int(n) - 17))
    static = race_figure(grid(s, 40), results, step=17, animate=False)
    assert not static.frames and not static.layout.sliders and [t.name for t in static.data][-1] == "start"


def test_loss_figure_marks_the_step_on_a_log_axis():
    s = SURFACES["saddle"]
    results = race(s, {n: default_config(s, n) for n in RACERS}, s.start, 50)
    fig = loss_figure(results, step=20)
    assert fig.layout.yaxis.type == "log"
    lines = [t for t in fig.data if t.mode == "lines"]
    assert [t.name for t in lines] == list(results)
    assert all(len(t.y) == 51 for t in lines)
    dots = [t for t in fig.data if t.mode == "markers"]
    assert [float(t.y[0]) for t in dots] == pytest.approx([r["loss"][20] for r in results.values()])
    assert [sh.x0 for sh in fig.layout.shapes] == [20]
