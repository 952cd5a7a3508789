"""Build & Train's Augmentation expander: a checkbox and a strength per transform, and a preview."""
from __future__ import annotations

import streamlit as st

from playground.config import AUGMENTS
from playground.errors import PlaygroundError
from ui.state import keep

# name: (label, default strength when ticked, slider step); the largest strength is AUGMENTS'
CONTROLS = {
    "flip": ("Horizontal flip (probability)", 0.5, 0.05),
    "rotate": ("Rotation (up to ± degrees)", 15.0, 5.0),
    "crop": ("Random resized crop (share of the area cut, up to)", 0.2, 0.05),
    "shift": ("Shift (share of the size, up to)", 0.1, 0.02),
    "jitter": ("Colour jitter (brightness and contrast ±)", 0.3, 0.05),
    "noise": ("Gaussian noise (std)", 0.1, 0.02),
    "erase": ("Random erasing (probability)", 0.5, 0.05),
}
# The form's keys: a tick and a strength per transform (drafts and configs keep them with the rest).
AUG_FORM = {**{f"aug_on_{k}": False for k in CONTROLS}, **{f"aug_{k}": float(v[1]) for k, v in CONTROLS.items()}}
PREVIEW = "Preview an augmented batch"
TRAP = "The 6 → 9 trap"

LOOK_FOR = (
    "**What to look for.** Augmentation shows the network a new version of each image every time it sees it, "
    "so it cannot memorise the pixels; it learns what stays the same. That only helps when the transform keeps "
    "the label, and that depends on the data:\n"
    "- **A 6 turned upside down is a 9.** Press *The 6 → 9 trap*, or tick Rotation, set it to 180 and preview "
    "class 6: half of the \"6\"s now look like 9s but keep the label 6, so the network is taught to call some 9s "
    "a 6. A few degrees (10-15) imitate real handwriting; 180 destroys the label.\n"
    "- **Flipping digits breaks them, flipping cats does not.** A mirrored 2 or 7 is no digit, while a cat "
    "looking left is still a cat: horizontal flips suit photos (CIFAR-10), not digits.\n"
    "- **Strong noise, erasing or crops can remove what the class is.** Preview before training: if you cannot "
    "name the class of an augmented image, neither can the network.\n"
    "- **Expect** a lower training accuracy and a smaller gap to validation: augmentation is regularisation. "
    "Validation images, and every inspection view, are never augmented.")


def augment_spec(s=None) -> dict:
    """{transform: strength} of the ticked transforms with a strength above 0."""
    s = st.session_state if s is None else s
    return {k: float(s[f"aug_{k}"]) for k in CONTROLS if s.get(f"aug_on_{k}") and s.get(f"aug_{k}", 0) > 0}


def augment_form(spec: dict) -> dict:
    """The form's values for a config's augment spec (a transform not in it is unticked)."""
    out = {f"aug_on_{k}": bool(spec.get(k)) for k in CONTROLS}
    out.update({f"aug_{k}": float(v) for k, v in spec.items() if v and k in CONTROLS})
    return out


def _trap(six: int | None) -> None:
    s = st.session_state
    s.update(aug_on_rotate=True, aug_rotate=180.0, aug_on_flip=False, aug_class=six, aug_show=True)
    s.aug_draw += 1


def _preview() -> None:
    st.session_state.aug_show = True
    st.session_state.aug_draw += 1


def augment_panel(data, seed: int) -> None:
    """The expander for an image data set: controls, the trap, and the preview of an augmented batch."""
    from playground.data.augment import preview, value_range
    from playground.viz.augment import pairs_grid

    keep({"aug_class": None, "aug_draw": 0, "aug_show": False})
    s = st.session_state
    classes = [None, *range(data.num_classes)]
    if s.aug_class not in classes:
        s.aug_class = None
    spec = augment_spec()
    # One label whatever is ticked: a label that changes makes a new expander, which opens closed, so
    # ticking a transform or pressing Preview would fold the panel away under the user's hand.
    with st.expander("Augmentation", icon=":material/transform:"):
        st.caption("Random transforms of every training batch, drawn anew for each image at each step and seeded "
                   "by the run's seed, so a run repeats exactly. Validation images are never augmented.")
        cols = st.columns(2)
        for i, (name, (label, _, step)) in enumerate(CONTROLS.items()):
            with cols[i % 2]:
                on = st.checkbox(label, key=f"aug_on_{name}", help=AUGMENTS[name][1])
                st.slider(label, 0.0, float(AUGMENTS[name][0]), step=float(step), key=f"aug_{name}",
                          disabled=not on, label_visibility="collapsed")
        a, b, c = st.columns([2, 2, 2], vertical_alignment="bottom")
        a.selectbox("Show class", classes, key="aug_class",
                    format_func=lambda k: "any class" if k is None else data.class_names[k])
        b.button(PREVIEW, on_click=_preview, icon=":material/grid_view:", width="stretch")
        six = data.class_names.index("6") if "6" in data.class_names else None
        c.button(TRAP, on_click=_trap, args=(six,), width="stretch",
                 help="rotation up to 180°, flips off, and a preview of class 6 (on digits)")
        if s.aug_show:
            try:
                orig, aug, _ = preview(data, spec, seed, s.aug_draw, 16, s.aug_class)
            except PlaygroundError as e:
                st.error(str(e))
            else:
                if not spec:
                    st.info("No transform is ticked: each image below equals its original. Tick one to see it.")
                lo, hi = value_range(data.X_train)
                st.image(pairs_grid(orig.numpy(), aug.numpy(), lo=lo, hi=hi),
                         caption="each pair: the training image on top, augmented below (press Preview again for "
                                 "another batch)", output_format="PNG",
                         alt=f"{len(orig)} training images, each above its augmented copy")
        st.markdown(LOOK_FOR)
    st.caption("Augmentation: " + (", ".join(f"{k} {v:g}" for k, v in spec.items()) if spec else "off"))
