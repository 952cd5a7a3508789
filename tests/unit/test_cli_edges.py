"""playground/__main__.py: inputs a teacher can mistype. Each is refused with one line that names the
value and the fix, exit code 2, no traceback, and never quietly answered with something else (another
epoch, a NaN image). In-process: main() is what `python -m playground` runs."""
import pytest

from playground.__main__ import _epoch, _epochs_text, _glue_lists, main
from playground.errors import PlaygroundError
from playground.store import Snapshot, default_store
from tests.trained import train_stored


@pytest.fixture(scope="module")
def mlp():
    """12 epochs of a small spiral MLP: a snapshot at every epoch, 0 to 12."""
    return train_stored({"name": "edges mlp", "data": {"name": "spiral", "n_samples": 200}, "epochs": 12,
                         "layers": [{"type": "Linear", "out_features": 8}, {"type": "ReLU"},
                                    {"type": "Linear", "out_features": 2}]})


@pytest.fixture(scope="module")
def ae():
    """A 2-D code autoencoder of the 8x8 digits, 2 epochs (snapshots 0, 1, 2)."""
    return train_stored({"name": "edges ae", "data": {"name": "digits"}, "task": "reconstruction", "loss": "mse",
                         "epochs": 2, "layers": [{"type": "Flatten"}, {"type": "Linear", "out_features": 2},
                                                 {"type": "Latent"}, {"type": "Linear", "out_features": 64},
                                                 {"type": "Unflatten", "shape": "1x8x8"}]})


def refused(capsys, argv: list) -> str:
    """The one error line main() prints for argv (it must exit 2 and print nothing to stdout)."""
    assert main([str(a) for a in argv]) == 2, argv
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert captured.out == "" and len(err) == 1 and "Traceback" not in captured.err, captured
    assert err[0].startswith("error: ")
    return err[0]


# ----------------------------------------------------------------------------- decode --z
@pytest.mark.parametrize("z, bad", [("nan,1", "nan"), ("inf,1", "inf"), ("-inf,1", "-inf"), ("1e400,0", "inf"),
                                    ("nan,-inf", "-inf, nan")])
def test_a_code_that_is_not_finite_is_refused(ae, capsys, z, bad):
    err = refused(capsys, ["inspect", ae.id, "decode", "--z", z])
    assert err == (f"error: z: {bad} {'is not a finite number' if ',' not in bad else 'are not finite numbers'}; "
                   f"give 2 finite numbers, one per code dimension, e.g. --z \"0,0\"")


def test_a_code_may_start_with_a_minus_sign(ae, capsys):
    # argparse alone reads "-0.5,1" as an option of its own ("--z: expected one argument")
    assert main(["inspect", ae.id, "decode", "--z", "-0.5,1", "--json"]) == 0
    assert '"z": [-0.5, 1.0]' in capsys.readouterr().out


def test_only_list_values_that_start_with_a_minus_sign_are_glued_to_their_option():
    assert _glue_lists(["inspect", "r", "attention", "--tokens", "-1 2", "--z", "-inf,1", "--epoch", "-2"]) == \
        ["inspect", "r", "attention", "--tokens=-1 2", "--z=-inf,1", "--epoch", "-2"]
    assert _glue_lists(["--z", "--json"]) == ["--z", "--json"]             # a missing value stays argparse's error


# ----------------------------------------------------------------------------- --epoch
@pytest.mark.parametrize("argv", [["inspect", "{run}", "evaluate"], ["inspect", "{run}", "activations"],
                                  ["inspect", "{run}", "stats"], ["inspect", "{run}", "latent"],
                                  ["export", "{run}", "--format", "safetensors", "--out", "{tmp}/w.safetensors"],
                                  ["export", "{run}", "--format", "onnx", "--out", "{tmp}/m.onnx"]])
@pytest.mark.parametrize("epoch", [-5, 13, 999999])
def test_an_epoch_without_a_snapshot_is_refused_with_the_epochs_that_have_one(mlp, capsys, tmp_path, argv, epoch):
    argv = [a.format(run=mlp.id, tmp=tmp_path) for a in argv]
    err = refused(capsys, [*argv, "--epoch", epoch])
    why = "is negative: epochs count from 0, the initial weights" if epoch < 0 else "has no snapshot"
    assert err == (f"error: --epoch: {epoch} {why}; run {mlp.id} (edges mlp) has snapshots at epochs "
                   f"{', '.join(map(str, range(13)))}; pick one of them, or leave --epoch out for the latest (12)")
    assert not list(tmp_path.iterdir())                                 # nothing exported


def test_an_epoch_with_a_snapshot_is_the_one_used(mlp, capsys, tmp_path):
    assert main(["inspect", mlp.id, "evaluate", "--epoch", "0", "--json"]) == 0
    assert '"epoch": 0,' in capsys.readouterr().out
    assert main(["export", mlp.id, "--format", "safetensors", "--out", str(tmp_path / "w.safetensors"),
                 "--epoch", "7"]) == 0
    assert '"epoch": 7,' in capsys.readouterr().out


def test_options_that_take_no_epoch_refuse_one(mlp, capsys, tmp_path):
    err = refused(capsys, ["export", mlp.id, "--format", "script", "--out", tmp_path / "train.py", "--epoch", 3])
    assert err.startswith("error: --epoch: the script format writes the program that trains run ")
    assert "has no epoch (3); leave --epoch out" in err
    err = refused(capsys, ["inspect", mlp.id, "explain", "--over-training", "--epoch", 3])
    assert err.startswith("error: --epoch: --over-training explains the input at every snapshot, so it takes no "
                          "epoch (3); leave --epoch out")


class _Snapshots:
    """A store that holds only snapshot rows, at the given epochs."""
    def __init__(self, epochs):
        self.epochs = epochs

    def snapshots(self, run_id):
        return [Snapshot(e, e * 10, False, f"epoch-{e:05d}.safetensors", 1) for e in self.epochs]


class _Row:
    id, name = "abc12345", "long run"


def test_a_long_run_lists_its_first_and_last_snapshots_and_the_two_nearest():
    epochs = [0, 1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 32, 40, 50, 64, 80, 100]
    assert _epochs_text(epochs) == "0, 1, 2, 3, 4, 5, ..., 32, 40, 50, 64, 80, 100 (19 in all)"
    assert _epochs_text([0, 1, 2, 5, 10]) == "0, 1, 2, 5, 10"
    with pytest.raises(PlaygroundError) as e:
        _epoch(_Snapshots(epochs), _Row, 18)
    assert str(e.value) == ("--epoch: 18 has no snapshot; run abc12345 (long run) has snapshots at epochs 0, 1, 2, 3, "
                            "4, 5, ..., 32, 40, 50, 64, 80, 100 (19 in all) (the nearest are 16 and 20); pick one of "
                            "them, or leave --epoch out for the latest (100)")
    assert _epoch(_Snapshots(epochs), _Row, 16) == 16 and _epoch(_Snapshots(epochs), _Row, None) is None


# ----------------------------------------------------------------------------- other numbers and run ids
@pytest.mark.parametrize("images", [0, -3])
def test_trust_needs_at_least_one_image(mlp, capsys, images):
    err = refused(capsys, ["inspect", mlp.id, "trust", "--images", images])
    assert err == (f"error: --images: {images} is too few; the trust checks need 1 or more validation images, "
                   f"e.g. --images 16")


@pytest.mark.parametrize("ref", ["", " ", "%", "_", "_" * 8])
def test_a_blank_or_pattern_run_id_names_no_run(mlp, capsys, ref):
    # the store's lookup matches by SQL LIKE: "%" and "_" alone would pick a run at random
    err = refused(capsys, ["inspect", ref, "evaluate"])
    assert err == (f"error: no stored run matches '{ref}'; give a run's id, a unique start of it or its exact "
                   f"name (list them with: python -m playground runs)")


def test_a_run_named_with_an_underscore_is_still_found(capsys):
    run = train_stored({"name": "my_run 1", "data": {"name": "xor"}, "epochs": 1,
                        "layers": [{"type": "Linear", "out_features": 2}]})
    assert main(["inspect", "my_run 1", "evaluate", "--json"]) == 0
    assert f'"run_id": "{run.id}"' in capsys.readouterr().out
    default_store().delete(run.id)


@pytest.mark.parametrize("argv, message", [
    (["activations", "--sample", -1], "sample: -1 is outside the val split, which has 40 examples (0 to 39)"),
    (["activations", "--sample", 40], "sample: 40 is outside the val split, which has 40 examples (0 to 39)"),
    (["top", "--layer", 1, "--k", 0], "k: 0 examples is too few; ask for 1 or more"),
    (["top", "--layer", 1, "--channel", -1], "channel: -1 is outside layer 1's output, which has 8 units (0 to 7)"),
    (["latent", "--layer", 0], "layer: 0 is not a layer of this network; its layers are 1 to 3"),
    (["stats", "--layer", -1], "layer: -1 is not a layer of this network; it has layers 1 to 3"),
])
def test_indices_outside_the_run_are_refused(mlp, capsys, argv, message):
    assert refused(capsys, ["inspect", mlp.id, *argv]).startswith(f"error: {message}")
