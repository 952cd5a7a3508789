"""Explain's plane of two inputs for a table run: pick two inputs, see what the network predicts over
them with every other input held at its training mean, and how far that slice can be trusted."""
from __future__ import annotations

import numpy as np
import streamlit as st

from playground.inspect.plane import feature_names, plane
from playground.viz.curves import class_colours, plane_image
from ui.scrubber import from_snapshot, snapshot_model


@st.cache_data(max_entries=32, show_spinner=False)
def plane_view(run_id: str, epoch: int, step: int, x: int, y: int, split: str):
    view = plane(snapshot_model(run_id, epoch, step), x + 1, y + 1, split)
    return view.arrays, view.summary


def _legend(arrays: dict) -> str:
    if "cls" not in arrays:
        lo, hi = float(np.min(arrays["pred"])), float(np.max(arrays["pred"]))
        return f"Shade: the prediction, from orange (low, {lo:.3g}) through grey to blue (high, {hi:.3g})."
    colours = class_colours(len(arrays["class_names"])).astype(int)
    swatch = " ".join(f"<span style='color:rgb({r},{g},{b})'>■</span> {name}"
                      for (r, g, b), name in zip(colours, arrays["class_names"]))
    return "Colour: the predicted class, paler where the network is less sure: " + swatch


def plane_panel(run_id: str, snap, data) -> None:
    """Two inputs (the two first by default), the plane image, its legend and what it leaves out."""
    names = feature_names(data)
    if len(names) < 3:
        return                          # two inputs: the live boundary on Build & Train is the whole picture
    st.header("Two inputs, the others held at their mean", divider="gray")
    c1, c2, c3 = st.columns([2, 2, 1])
    x = c1.selectbox("Across (x)", range(len(names)), index=0, key="plane_x", format_func=lambda k: names[k])
    y = c2.selectbox("Up (y)", range(len(names)), index=1, key="plane_y", format_func=lambda k: names[k])
    split = c3.segmented_control("Rows", ["val", "train"], default="val", key="plane_split", required=True,
                                 format_func={"val": "validation", "train": "training"}.get)
    if x == y:
        st.warning("Pick two different inputs.", icon=":material/swap_horiz:")
        return
    a, s = from_snapshot(plane_view, run_id, snap.epoch, snap.step, int(x), int(y), split)
    left, right = st.columns([1, 1.2])
    with left:
        task = "class" if "cls" in a else "prediction"
        st.image(plane_image(a), width=360, alt=f"the network's {task} over {names[x]} and {names[y]}, with "
                                                  f"{s['n']} rows as dots; it agrees with the whole rows on "
                                                  f"{s['agreement']:.0%}",
                 caption=f"{names[x]} across ({a['xs'][0]:.3g} to {a['xs'][-1]:.3g}), {names[y]} up "
                         f"({a['ys'][0]:.3g} to {a['ys'][-1]:.3g}): the network's {task} over the plane; dots: "
                         f"the {s['n']} {'validation' if split == 'val' else 'training'} rows in their own "
                         f"{'class' if task == 'class' else 'target'}'s colour")
    with right:
        st.markdown(_legend(a), unsafe_allow_html=True)
        agree = s["agreement"]
        st.markdown(f"**A slice, not the whole network.** With the other {s['inputs'] - 2} inputs at their mean, "
                    f"the plane gives the network's own answer for **{agree:.0%}** of these rows "
                    + ("(the class it predicts from the whole row)." if "cls" in a else
                       "(within a tenth of the targets' spread).")
                    + (" The inputs held fixed matter a lot here: read the picture as a slice." if agree < 0.75
                       else ""))
        held = s["held_at_mean"]
        shown = ", ".join(f"{k} = {v:g}" for k, v in list(held.items())[:8]) + (" …" if len(held) > 8 else "")
        st.caption(f"Held at their training mean: {shown}. A one-hot text input at its mean is a mix of its "
                   f"values, not any one of them.")
