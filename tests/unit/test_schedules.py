"""Learning-rate schedules, stepped once per optimizer step."""
from __future__ import annotations

import pytest
import torch

from playground.config import ScheduleConfig
from playground.train.optim import make_scheduler


def lrs(name: str, optimizer=torch.optim.SGD, steps_per_epoch=10, epochs=4, **kw) -> list[float]:
    opt = optimizer([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = make_scheduler(ScheduleConfig(name=name, **kw), opt, steps_per_epoch, epochs)
    out = []
    for _ in range(steps_per_epoch * epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched is not None:
            sched.step()
    return out


def test_constant_is_none_and_flat():
    assert set(lrs("constant")) == {0.1}


def test_step_decays_every_step_epochs():
    got = lrs("step", step_epochs=2, gamma=0.5)
    assert got[19] == pytest.approx(0.1) and got[20] == pytest.approx(0.05) and got[-1] == pytest.approx(0.05)


def test_exponential_gamma_is_per_epoch():
    got = lrs("exponential", gamma=0.5)
    assert got[10] == pytest.approx(0.05) and got[20] == pytest.approx(0.025)


def test_cosine_falls_to_near_zero():
    got = lrs("cosine")
    assert got[0] == pytest.approx(0.1) and got[20] == pytest.approx(0.05, rel=0.05) and got[-1] < 0.001


def test_onecycle_peaks_at_the_learning_rate_and_works_without_momentum():
    for optimizer in (torch.optim.SGD, torch.optim.Adagrad, torch.optim.Adam):
        got = lrs("onecycle", optimizer=optimizer)
        assert max(got) == pytest.approx(0.1, rel=1e-3) and got[0] < 0.01 and got[-1] < 1e-4


def test_warmup_rises_linearly_from_one_percent():
    got = lrs("warmup", warmup_epochs=1.0)
    assert got[0] == pytest.approx(0.001) and got[5] == pytest.approx(0.001 + 0.099 * 0.5)
    assert got[10:] == pytest.approx([0.1] * 30)
