"""Proves every example config still trains on the CPU, via the CLI, to exactly the recorded numbers and weights.
golden_examples.json was written by record_golden.py (shared code) at 0367852, the commit before the refactor.
Re-recorded at 0aa42ab, and only those entries: mnist_vae.yaml (the KL now joins the loss per value,
so kl_weight 1 is the standard VAE) and curve_underfit/goodfit/overfit.yaml (new configs that fit as they claim).
Added for issue 30, and only those entries: compare/anecdote.yaml and compare/close_rates.yaml (comparisons over
seeds: every seed's run recorded).

A machine whose float kernels differ (tests/unit/record_golden.py's float_fingerprint: AVX-512 rather than
AVX2, say) trains the examples to numbers a last bit away, so "machines" holds, by fingerprint, what the
examples trained to on such a machine at a commit that passed against the reference in CI (455917c for
AVX512/8683be1d1740b443: 43 of 45 examples differ), where it differs from the reference. An example that
a machine's set lacks is compared with the reference's numbers.
To add a machine: python tests/unit/record_golden.py OUT.json there, at such a commit, and merge what
differs from "examples" into "machines" under OUT's "fingerprint"."""
import json

import pytest

from tests.ray_cluster import in_ci
from tests.unit.record_golden import GOLDEN, example_names, float_fingerprint, train_and_collect

GOLDEN_FILE = json.loads(GOLDEN.read_text())
FINGERPRINT = float_fingerprint()
MACHINE = GOLDEN_FILE.get("machines", {}).get(FINGERPRINT, {"examples": {}})
RECORDED = {**GOLDEN_FILE["examples"], **MACHINE["examples"]}


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
        which = (f"{name}, run {i} ({w['result'].get('name', 'the run')}), against the numbers recorded "
                 + (f"on a machine like this one ({FINGERPRINT})" if name in MACHINE["examples"] else
                    f"at {GOLDEN_FILE['recorded_at_commit']} (this machine: {FINGERPRINT})"))
        assert g.keys() == w.keys(), which
        for key in w:                                   # one part at a time: the failure names what differs
            assert g[key] == w[key], f"{which}: {key} differs from the recorded numbers"
    assert got == want
