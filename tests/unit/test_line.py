"""When the class presses Start together: past the server's training slots a Start waits in line (its
run "queued", with its place), trains as soon as a slot is free, and the line is fair (the teacher
first, then whoever has the fewest runs training); each student may have a few Starts waiting, no more.
"""
from __future__ import annotations

import threading

import pytest

from playground.config import RunConfig
from playground.errors import PlaygroundError
from playground.identity import Who
from playground.lessons import Lesson
from playground.store import Store
from playground.train.registry import Registry
from tests.tokens import token
from tests.waits import wait_for

MLP = [{"type": "Linear", "out_features": 8}, {"type": "ReLU"}, {"type": "Linear", "out_features": 2}]
ANA, BEN = Who(token("ana")), Who(token("ben"))
TEACHER = Who(token("teacher"), teacher=True)


def config(epochs: int = 100_000, seed: int = 0) -> RunConfig:
    """A run that trains until it is stopped (by default)."""
    return RunConfig.from_dict({"data": {"name": "moons", "n_samples": 100}, "layers": MLP, "batch_size": 20,
                                "epochs": epochs, "seed": seed, "device": "cpu", "threads": 1})


@pytest.fixture
def reg(tmp_path):
    r = Registry(max_active=1, processes=False, store=Store(tmp_path), waiting_per_owner=2)
    yield r
    r.stop_all(wait=10)


def place(run) -> str:
    return run.history.message.split(": ")[1].split(" in line")[0]


def trains(run) -> None:
    wait_for(lambda: run.training and run.history.progress["step"] > 0, 30, f"run {run.id} training")


def test_a_start_past_the_slots_waits_in_line_fairly_and_trains_when_a_slot_is_free(reg):
    a1 = reg.start(config(seed=1), owner=ANA)
    trains(a1)
    a2 = reg.start(config(seed=2), owner=ANA)
    b1 = reg.start(config(seed=3), owner=BEN)
    for run in (a2, b1):
        assert run.alive and run.waiting and not run.training and run.history.status == "queued"
        assert run.history.progress["step"] == 0
    # Ben had nothing training or waiting, Ana had a1: Ben's first run goes before Ana's second
    assert (place(b1), place(a2)) == ("1 of 2", "2 of 2")
    assert [(p, r.id) for p, r, _ in reg.line()] == [(1, b1.id), (2, a2.id)]
    assert a2.history.message == ("waiting for a training slot: 2 of 2 in line (this server trains 1 runs at "
                                  "once; it starts as soon as one ends)")
    assert reg.flush() and reg.store.get(b1.id).status == "queued"     # stored, as any run: it shows on Runs
    b2 = reg.start(config(seed=4), owner=BEN)
    with pytest.raises(PlaygroundError, match=r"^you have 2 Starts waiting in line already \(the server trains 1 "
                                              r"runs at once, and all 1 slots are busy\): wait until one starts, "
                                              r"or stop one, before starting another$"):
        reg.start(config(seed=5), owner=BEN)
    t1 = reg.start(config(seed=6), owner=TEACHER)                      # the teacher's Start goes first
    assert [r.id for _, r, _ in reg.line()] == [t1.id, b1.id, a2.id, b2.id]
    assert place(b2) == "4 of 4"
    assert not a2.join(0.2), "join() returned while the run waited in line"

    reg.stop(t1.id, who=TEACHER)                                     # leaves the line, never trains
    assert t1.history.status == "stopped" and not t1.alive and t1.history.progress["step"] == 0
    assert "left the line" in t1.history.message
    assert [r.id for _, r, _ in reg.line()] == [b1.id, a2.id, b2.id] and place(b1) == "1 of 3"
    with pytest.raises(PlaygroundError, match="only its owner or the teacher can stop it"):
        reg.stop(b1.id, who=ANA)                                     # another student cannot take it out
    assert b1.waiting

    reg.stop(a1.id, who=ANA)                                         # a slot frees: the first in line trains
    trains(b1)
    assert a1.join(10) and a1.history.status == "stopped"
    # a2 and b2 were each their student's second run when pressed: a2 came first
    assert [r.id for _, r, _ in reg.line()] == [a2.id, b2.id] and place(a2) == "1 of 2"
    reg.stop(b1.id)
    trains(a2)
    assert reg.flush() and reg.store.get(t1.id).status == "stopped"


def test_a_race_waits_for_all_its_slots_and_its_variants_start_together(tmp_path):
    reg = Registry(max_active=2, processes=False, store=Store(tmp_path), waiting_per_owner=2)
    try:
        long = reg.start(config(), owner=ANA)
        gid = reg.start_group([config(epochs=3, seed=s) for s in (1, 2)], owner=BEN)
        race = reg.group(gid)
        assert [r.history.status for r in race] == ["queued", "queued"]
        assert [p for p, _, _ in reg.line()] == [1, 1], "a race's variants share one place in line"
        wait_for(lambda: long.history.progress["step"] > 0, 30, "the long run's first point")
        assert all(r.waiting for r in race), "a race started with one slot of the two it needs"
        with pytest.raises(PlaygroundError, match=r"^3 variants need 3 training slots at once, but this server "
                                                  r"trains at most 2 runs at once \(PLAYGROUND_MAX_RUNS\); race at "
                                                  r"most 2 variants$"):
            reg.start_group([config(epochs=1, seed=s) for s in (1, 2, 3)], owner=BEN)
        reg.stop(long.id)
        for r in race:
            assert r.join(60) and r.history.status == "finished"
        assert reg.line() == []
    finally:
        reg.stop_all(wait=10)


def test_no_line_refuses_past_the_slots_and_shutdown_ends_the_waiting_runs(tmp_path):
    plain = Registry(max_active=1, processes=False, store=Store(tmp_path / "a"))    # waiting_per_owner=0: the CLI
    try:
        plain.start(config(), owner=ANA)
        with pytest.raises(PlaygroundError, match=r"^1 runs are already training \(the limit is 1\)"):
            plain.start(config(seed=1), owner=BEN)
    finally:
        plain.stop_all(wait=10)

    reg = Registry(max_active=1, processes=False, store=Store(tmp_path / "b"), waiting_per_owner=2)
    first = reg.start(config(), owner=ANA)
    waiting = reg.start(config(seed=1), owner=BEN)
    reg.shutdown(grace=5)
    assert first.history.status == "interrupted"
    assert waiting.history.status == "stopped" and not waiting.alive
    assert waiting.history.message.startswith("not trained: the server was shut down while it waited in line")
    assert Store(tmp_path / "b").get(waiting.id).status == "stopped"


def test_a_lessons_runs_per_student_hold_when_a_student_presses_start_twice_at_once(tmp_path):
    reg = Registry(max_active=4, processes=False, store=Store(tmp_path), waiting_per_owner=2)
    lesson = Lesson.from_dict({"title": "One try", "config": config(epochs=2).to_dict(), "max_runs": 1}, "one_try")
    results, gate = [], threading.Barrier(4)

    def press(seed):
        gate.wait()
        try:
            results.append(reg.start(config(epochs=2, seed=seed), owner=ANA, lesson=lesson))
        except PlaygroundError as e:
            results.append(e)
    threads = [threading.Thread(target=press, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        started = [r for r in results if not isinstance(r, Exception)]
        assert len(results) == 4 and len(started) == 1, results
        assert all("1 run" in str(e) for e in results if isinstance(e, Exception)), results
    finally:
        reg.stop_all(wait=10)


def test_a_race_over_seeds_is_one_start_and_the_others_first_runs_go_before_its_later_seeds(tmp_path):
    """start_series: 3 seeds' races of 2 variants on 2 slots; the first races, the other two wait in line
    past the owner's cap of 1 waiting Start (a series is one Start); another student's first run, started
    after, goes before them, and trains as soon as the first race ends. Where the registry keeps no line,
    a series that does not fit is refused before any of it starts."""
    from playground.seeds import seed_configs

    pair = [RunConfig.from_dict({**config().to_dict(), "name": n}) for n in ("a", "b")]
    reg = Registry(max_active=2, processes=False, store=Store(tmp_path / "a"), waiting_per_owner=1)
    try:
        gids = reg.start_series(seed_configs(pair, 3), owner=ANA)
        races = [reg.group(g) for g in gids]
        expected = [[f"a · seed {s}", f"b · seed {s}"] for s in range(3)]
        assert [sorted(r.name for r in race) for race in races] == expected
        for run in races[0]:
            trains(run)
        assert all(r.waiting for race in races[1:] for r in race)
        b1 = reg.start(config(seed=9), owner=BEN)
        assert b1.waiting and place(b1) == "1 of 3", [(p, r.name) for p, r, _ in reg.line()]
        for run in races[0]:
            reg.stop(run.id)
        trains(b1)
        assert all(r.waiting for race in races[1:] for r in race)      # a race waits for all its slots
    finally:
        reg.stop_all(wait=10)
    plain = Registry(max_active=2, processes=False, store=Store(tmp_path / "b"))          # no line: the CLI's own
    with pytest.raises(PlaygroundError, match="need 6 training slots"):
        plain.start_series(seed_configs(pair, 3), owner=ANA)
    assert not plain.store.list()
