"""Build & Train's Augmentation expander (AppTest, no browser): shown for images only, the preview,
the 6 -> 9 trap, and the settings going into the run config."""
from ui.augment import PREVIEW, TRAP, augment_form, augment_spec


def button(at, label):
    matches = [b for b in at.button if label in b.label]
    assert len(matches) == 1, [b.label for b in at.button]
    return matches[0]


def images(at) -> list:
    return list(at.get("image"))


def preview_shown(at) -> bool:
    return any("augmented below" in i.caption for e in images(at) for i in e.proto.imgs)


def test_augmentation_is_offered_for_images_only(at):
    assert not any("Augmentation" in e.label for e in at.expander)            # spiral: points
    at.selectbox(key="data_name").set_value("mnist_subset").run()
    assert not at.exception
    assert [e.label for e in at.expander if "Augmentation" in e.label] == ["Augmentation"]
    assert any(c.value == "Augmentation: off" for c in at.caption)


def test_rotation_preview_and_config(at):
    at.selectbox(key="data_name").set_value("mnist_subset").run()
    before = len(images(at))
    at.checkbox(key="aug_on_rotate").check().run()
    assert at.session_state["aug_rotate"] == 15.0
    button(at, PREVIEW).click().run()
    assert not at.exception, [e.value for e in at.exception]
    # the label stays the same (a new label would make a new, folded expander under the user's hand)
    assert [e.label for e in at.expander if "Augmentation" in e.label] == ["Augmentation"]
    assert any(c.value == "Augmentation: rotate 15" for c in at.caption)
    shown = images(at)
    assert len(shown) == before + 1
    assert preview_shown(at)
    assert not any("No transform is ticked" in i.value for i in at.info)
    at.slider(key="aug_rotate").set_value(30.0).run()
    assert augment_spec({k: at.session_state[k] for k in ("aug_on_rotate", "aug_rotate")}) == {"rotate": 30.0}


def test_an_example_with_augmentation_fills_the_expander(at):
    at.selectbox(key="example").set_value("MNIST CNN with augmentation").run()
    button(at, "Load example").click().run()
    assert not at.exception, [e.value for e in at.exception]
    s = at.session_state
    assert s["data_name"] == "mnist_subset"
    assert (s["aug_on_rotate"], s["aug_rotate"], s["aug_on_shift"], s["aug_on_flip"]) == (True, 10.0, True, False)
    assert any(c.value == "Augmentation: rotate 10, shift 0.1, noise 0.05" for c in at.caption)


def test_form_values_and_specs_round_trip():
    spec = {"rotate": 180.0, "noise": 0.05}
    form = augment_form(spec)
    assert form["aug_on_rotate"] and form["aug_on_noise"] and not form["aug_on_flip"]
    assert augment_spec(form) == spec
    assert augment_spec({**form, "aug_noise": 0.0}) == {"rotate": 180.0}      # strength 0 is off


def test_the_six_to_nine_trap_in_one_click(at):
    at.selectbox(key="data_name").set_value("mnist_subset").run()
    button(at, TRAP).click().run()
    assert not at.exception, [e.value for e in at.exception]
    s = at.session_state
    assert s["aug_on_rotate"] and s["aug_rotate"] == 180.0 and s["aug_class"] == 6
    assert at.selectbox(key="aug_class").value == 6
    assert any("A 6 turned upside down is a 9" in m.value for m in at.markdown)
    assert preview_shown(at)
