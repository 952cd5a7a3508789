"""Proves every example config still trains on the CPU, via the CLI, to exactly the recorded numbers and weights.
golden_examples.json was written by record_golden.py (shared code) at 0367852, the commit before the refactor.
Re-recorded at 0aa42ab, and only those entries: mnist_vae.yaml (the KL now joins the loss per value,
so kl_weight 1 is the standard VAE) and curve_underfit/goodfit/overfit.yaml (new configs that fit as they claim).
Added for issue 30, and only those entries: compare/anecdote.yaml and compare/close_rates.yaml (comparisons over
seeds: every seed's run recorded)."""
import json

import pytest

from tests.ray_cluster import in_ci
from tests.unit.record_golden import GOLDEN, example_names, train_and_collect

RECORDED = json.loads(GOLDEN.read_text())["examples"]


@pytest.mark.parametrize("name", sorted(set(example_names()) | set(RECORDED)))
def test_example_trains_to_the_recorded_numbers(name, tmp_path):
    if name not in RECORDED:                            # a new example: a skip here, a failure under CI
        message = (f"{name} has no recorded numbers in {GOLDEN.name}: record them at a commit whose numbers "
                   f"are the reference (python tests/unit/record_golden.py OUT.json, then merge it in)")
        if in_ci():
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    assert name in example_names(), f"{name} was recorded but is no longer in examples/"
    want = RECORDED[name]
    got = train_and_collect(name, tmp_path / "store")
    assert (got["epochs_run"], got["exit_code"], len(got["runs"])) == \
           (want["epochs_run"], want["exit_code"], len(want["runs"]))
    for i, (g, w) in enumerate(zip(got["runs"], want["runs"])):
        which = f"{name}, run {i} ({w['result'].get('name', 'the run')})"
        assert g.keys() == w.keys(), which
        for key in w:                                   # one part at a time: the failure names what differs
            assert g[key] == w[key], f"{which}: {key} differs from the recorded numbers"
    assert got == want
