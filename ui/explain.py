"""The Explain page's pieces: cached explanations of a snapshot, the method and option widgets, the
side-by-side maps, SHAP per class, maps over training, the trust checks and a table's SHAP plots."""
from __future__ import annotations

import time

import numpy as np
import streamlit as st
import torch

from playground.errors import PlaygroundError
from playground.inspect.explain import (
    ABOUT,
    BASELINES,
    FLAT,
    METHODS,
    TRUST,
    checks_for,
    explain,
    options,
    run_check,
    shap_summary,
)
from playground.train import REGISTRY
from playground.viz.explain import (
    beeswarm,
    deletion_chart,
    feature_bars,
    legend,
    limit_of,
    overlay,
    randomisation_chart,
    shap_bar,
    signed,
    waterfall,
)
from ui.scrubber import snapshot_model
from ui.starters import starters as starter_buttons

STARTERS = {"Shapes CNN (objects at known places)": "shapes_cnn.json", "MNIST small CNN": "mnist_cnn.yaml",
            "Two of ten (a table)": "two_of_ten_mlp.yaml", "Breast cancer (a table)": "breast_cancer_mlp.yaml",
            "Diabetes (a regression)": "diabetes_mlp.yaml"}
IMAGE_METHODS = list(METHODS)
TABLE_METHODS = ["deepshap", "shap", "ig", "saliency", "kernelshap"]
DEFAULT_METHODS = ["gradcam", "saliency", "ig", "shap"]
TILE = 196                                  # pixels per map
LOOK_FOR = (
    "- **Start at epoch 0.** The initial weights already give maps, and they look like *something*: an "
    "explanation is only as good as the network it explains. Scrub forward: Grad-CAM moves from scattered "
    "blobs to the object as the network learns.\n"
    "- **Colours are relative.** Each map is scaled to its own strongest value, so the same colour means "
    "different amounts in two pictures. Turn on *one scale for all epochs* to compare sizes.\n"
    "- **Grad-CAM is coarse.** It is computed on the chosen layer's grid (14x14 or 7x7 on MNIST) and stretched "
    "over the image; pick an earlier Conv2d layer (LayerCAM works best there) for finer, noisier maps.\n"
    "- **Saliency is speckled**; SmoothGrad averages it over noisy copies. **Integrated Gradients** is exact "
    "in one sense (its values add up to the score's change from the baseline, the gap shown beside it), "
    "but it leans on bright pixels: change the baseline and it changes.\n"
    "- **SHAP** answers: how much did each pixel (feature) move the score away from its average over real "
    "examples? Red pushes towards the class, blue away from it.\n"
    "- **Trust checks.** Re-initialise the network's layers and look again: a map that barely changes was "
    "showing you the input, not the network (Adebayo et al. 2018). On the shapes set we know where the "
    "object is, so we can count how often the map points at it.")


def starters(open_: bool) -> None:
    starter_buttons("Train a network to explain", "Each button trains one of the examples (examples/, also on "
                    "Build & Train) in a few seconds and shows it here. The shapes set knows where its objects are, "
                    "so the pointing game can check the maps; the two-of-ten table knows which features matter.",
                    STARTERS, "exp", open_)


def explainable(run) -> str | None:
    """Why the run cannot be explained here, or None."""
    if run.task.name == "regression" and run.data.kind == "table":
        return None
    if run.task.name != "classification":
        return (f"**{run.name}** is a {run.task.name} run on {run.data.kind}: explanations here are of a "
                f"classifier's class scores, or of a regression on a table.")
    if run.data.kind not in ("image", "table"):
        return (f"**{run.name}** learns from {run.data.kind}: explanations here are for images and tables (the "
                f"Attention page shows what a sequence model looks at).")
    return None


# ---- cached computations ----------------------------------------------------------------------------

def _x(custom):
    return None if custom is None else torch.from_numpy(custom)


@st.cache_data(max_entries=256, show_spinner=False)
def explained(run_id: str, epoch: int, step: int, method: str, sample: int, custom, target, opts: tuple):
    """(arrays, summary, milliseconds the computation took) of explain(); cached per snapshot and settings."""
    t0 = time.perf_counter()
    view = explain(snapshot_model(run_id, epoch, step), method, sample, x=_x(custom), target=target, **dict(opts))
    return view.arrays, view.summary, (time.perf_counter() - t0) * 1000


@st.cache_data(max_entries=64, show_spinner=False)
def checked(run_id: str, epoch: int, step: int, method: str, check: str, opts: tuple) -> dict:
    """One trust check's result (see playground.inspect.explain.TRUST), cached."""
    return run_check(snapshot_model(run_id, epoch, step), method, check, 16, options(**dict(opts)))


@st.cache_data(max_entries=32, show_spinner=False)
def table_shap(run_id: str, epoch: int, step: int, target: int, method: str):
    view = shap_summary(snapshot_model(run_id, epoch, step), target, method)
    return view.arrays, view.summary


# ---- widgets ------------------------------------------------------------------------------------------

def target_choice(names: list[str]) -> int | None:
    """Which class to explain: the predicted one (None) or any class."""
    choices = [None] + list(range(len(names)))
    if st.session_state.get("exp_target") not in choices:              # another run, with fewer classes
        st.session_state.pop("exp_target", None)
    return st.selectbox("Explain the score of", choices, key="exp_target",
                        format_func=lambda c: "the predicted class" if c is None else names[c],
                        help="A map answers one question: what raised (or lowered) this class's score? Pick another "
                             "class to see the evidence the network weighed against it.")


def option_widgets(convs: list[int], image: bool) -> tuple:
    """The methods' settings, as a hashable tuple of (name, value) for the caches."""
    with st.expander("Settings of the methods", icon=":material/tune:"):
        c = st.columns(4)
        opts = {}
        if convs:
            opts["layer"] = c[0].selectbox("Grad-CAM layer (Conv2d)", convs, index=len(convs) - 1, key="exp_layer",
                                           format_func=lambda i: f"layer {i}" + (" (last)" if i == convs[-1] else ""),
                                           help="The maps the CAM methods weigh; the last is coarsest and most about "
                                                "the class, earlier ones are finer")
        choices = BASELINES if image else ("mean", "black", "noise")
        if st.session_state.get("exp_baseline") not in choices:              # from a run of the other kind
            st.session_state.pop("exp_baseline", None)
        opts["baseline"] = c[1].selectbox("Baseline (IG, occlusion, KernelShap)", choices, key="exp_baseline",
                                          help="What 'absent' means: black (the data's lowest value), a heavy blur of "
                                               "the input, uniform noise, or the mean of the training inputs (for a "
                                               "table, the average row)")
        opts["steps"] = int(c[2].select_slider("IG steps", [8, 16, 32, 64, 128, 256, 512], 32, key="exp_steps",
                                               help="Points on the path from the baseline; more points, smaller "
                                                    "completeness gap"))
        opts["noise"] = float(c[3].slider("SmoothGrad noise", 0.0, 0.5, 0.15, 0.05, key="exp_noise",
                                          help="Standard deviation of the noise, as a share of the data's value range "
                                               "(captum's default of 1.0 would drown inputs in [0, 1])"))
        if image:
            c = st.columns(4)
            opts["window"] = int(c[0].slider("Occlusion window", 2, 12, 4, key="exp_window"))
            opts["stride"] = int(c[1].slider("Occlusion stride", 1, 8, 2, key="exp_stride"))
            opts["cell"] = int(c[2].slider("KernelShap superpixel", 2, 8, 4, key="exp_cell",
                                           help="Side of a grid cell; each cell is one feature switched on or off"))
            opts["evals"] = int(c[3].select_slider("KernelShap evaluations", [64, 128, 256, 512, 1024], 256,
                                                   key="exp_evals"))
    return tuple(sorted(opts.items()))


# ---- drawing --------------------------------------------------------------------------------------------

def _badge(s: dict) -> str:
    c = s.get("completeness")
    if not c:
        return ""
    ok = c["relative"] < 0.05
    return (f":{'green' if ok else 'orange'}-badge[sum {c['sum']:.3f} vs {c['should_be']:.3f}, gap "
            f"{100 * c['relative']:.1f}%]")


def maps_row(run_id: str, snap, methods: list[str], sample: int, custom, target, opts: tuple) -> dict:
    """The chosen methods side by side on one input: each map over the input, its name, what it shows,
    its completeness and how long it took. Returns the last summary (or {})."""
    cols, last = st.columns(max(len(methods), 1)), {}
    for col, method in zip(cols, methods):
        with col:
            try:
                a, s, ms = explained(run_id, snap.epoch, snap.step, method, sample, custom, target, opts)
            except PlaygroundError as e:
                st.markdown(f"**{METHODS[method]}**")
                st.warning(str(e), icon=":material/info:")
                continue
            last = s
            if a["map"].ndim == 1:                          # a table: one value per feature
                st.plotly_chart(feature_bars(a["map"], s["features"], a["input"], 10, axis="effect on the " + (
                    "prediction" if s.get("task") == "regression" else "class's score")), key=f"exp_bars_{method}")
            else:
                st.image(overlay(a["input"], a["map"], signed(method), size=TILE), width=TILE,
                         alt=f"{METHODS[method]} map over the input for the class {s.get('target_name', '')}: "
                             + ("red raises the score, blue lowers it" if signed(method) else
                                "brighter regions raise the score"))
            st.markdown(f"**{METHODS[method]}** {_badge(s)}")
            colours = legend(signed(method))
            st.caption(f"{ABOUT[method]}. " + (f"{colours[0].upper()}{colours[1:]}. " if a["map"].ndim > 1 else "")
                       + f"{ms:.0f} ms")
    return last


def class_panels(run_id: str, snap, sample: int, custom, opts: tuple, names: list[str]) -> None:
    """GradientShap for every class on one input, one shared red/blue scale, as shap's image plot."""
    got = [explained(run_id, snap.epoch, snap.step, "shap", sample, custom, k, opts) for k in range(len(names))]
    limit = max(limit_of(a["map"], True) for a, _, _ in got)
    probs = got[0][0]["probs"]
    cols = st.columns(min(len(names), 10))
    for k, (a, s, _) in enumerate(got):
        with cols[k % len(cols)]:
            st.image(overlay(a["input"], a["map"], True, limit, size=120), width=120,
                     alt=f"GradientShap map for the class {names[k]} (p = {probs[k]:.2f}), red for, blue against")
            st.caption(f"**{names[k]}** · p = {probs[k]:.2f}")
    st.caption("One colour scale for every class: red pixels raise that class's score, blue lower it. The classes "
               "the network rejects show mostly blue where the object is.")


def over_training_strip(run_id: str, method: str, sample: int, custom, target, opts: tuple, shared: bool) -> None:
    """The input's map at every snapshot, in a row: the network learning where to look."""
    snaps = REGISTRY.store.snapshots(run_id)
    by_epoch = {s.epoch: s for s in snaps}
    try:
        got = [explained(run_id, s.epoch, s.step, method, sample, custom, target, opts) for s in by_epoch.values()]
    except PlaygroundError as e:
        st.warning(str(e), icon=":material/info:")
        return
    if target is None:
        st.caption("Each epoch explains its own predicted class; pick a class above to follow one class.")
    limit = max(limit_of(a["map"], signed(method)) for a, _, _ in got) if shared else None
    images = [overlay(a["input"], a["map"], signed(method), limit, size=112) for a, _, _ in got]
    captions = [f"epoch {e}: {s['target_name']} p={a['probs'][s['target']]:.2f}" for e, (a, s, _) in zip(by_epoch, got)]
    per_row = 8
    for i in range(0, len(images), per_row):
        st.image(images[i:i + per_row], caption=captions[i:i + per_row], width=112,
                 alt=[f"{METHODS[method]} map at {c}" for c in captions[i:i + per_row]])
    st.caption("One colour scale across all epochs: sizes compare." if shared else
               "Each map scaled to its own strongest value: colours are relative within a picture, so a faint "
               "early map looks as strong as a sure late one. Turn on one scale to compare.")


def trust_panel(run_id: str, snap, method: str, opts: tuple) -> None:
    """The checks on method, each drawn as it finishes."""
    checks = checks_for(snapshot_model(run_id, snap.epoch, snap.step))
    with st.status(f"Checking {METHODS[method]}...", expanded=True) as status:
        for name in checks:
            t0 = time.perf_counter()
            try:
                r = checked(run_id, snap.epoch, snap.step, method, name, opts)
            except PlaygroundError as e:
                st.warning(str(e), icon=":material/info:")
                status.update(label=f"{METHODS[method]} cannot be checked on this run", state="error", expanded=True)
                return
            _check_result(name, r, time.perf_counter() - t0)
        status.update(label=f"Trust checks of {METHODS[method]} at epoch {snap.epoch}", state="complete",
                      expanded=True)


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else (":green-badge[passes]" if ok else ":orange-badge[flagged]")


def _check_result(name: str, r: dict, seconds: float) -> None:
    title = {"completeness": "Completeness", "randomisation": "Model randomisation", "pointing": "Pointing game",
             "deletion": "Deletion and insertion"}[name]
    if not r.get("applies", True):
        st.markdown(f"**{title}**: does not apply. {r['why']}.")
        return
    if name == "completeness":
        st.markdown(f"**{title}** {_verdict(r['ok'])}: over {r['images']} images the attributions miss the score's "
                    f"change by {100 * r['mean_relative_gap']:.2f}% on average (at most "
                    f"{100 * r['max_relative_gap']:.2f}%).")
    elif name == "randomisation":
        st.markdown(f"**{title}** {_verdict(r['ok'])}: with every layer re-initialised the map's rank correlation "
                    f"with the trained one is **{r['final']:.2f}**"
                    + (" : it no longer shows what the network learned." if r["ok"] else
                       f" (above {FLAT}): the map depends more on the input than on the weights."))
        st.plotly_chart(randomisation_chart(r["stages"], FLAT), key=f"exp_rand_{id(r)}")
    elif name == "pointing":
        ok = r["hit_rate"] >= 2 * r["random"]
        st.markdown(f"**{title}** {_verdict(ok)}: the map's peak is on the object (±{r['tolerance']} px) in "
                    f"**{100 * r['hit_rate']:.0f}%** of {r['images']} images ({100 * r['hit_rate_exact']:.0f}% exactly "
                    f"on it); a map peaking anywhere would score {100 * r['random']:.0f}%.")
    else:
        a = r["auc"]
        st.markdown(f"**{title}** {_verdict(r['ok'])}: removing pixels in the map's order leaves an area of "
                    f"**{a['deletion']:.2f}** (random order {a['deletion_random']:.2f}; lower is better); inserting "
                    f"them into a blurred copy gives **{a['insertion']:.2f}** (random {a['insertion_random']:.2f}; "
                    f"higher is better).")
        st.plotly_chart(deletion_chart(np.asarray(r["fractions"]), r["curves"]), key=f"exp_del_{id(r)}")
    st.caption(f"{TRUST[name][0].upper()}{TRUST[name][1:]}. {seconds:.1f} s")


def table_panels(run_id: str, snap, names: list[str], reg: bool) -> None:
    """A table's SHAP: one prediction's waterfall, and the beeswarm and bar over the validation set."""
    c1, c2, c3 = st.columns([2, 2, 1])
    default = 1 if len(names) == 2 and not reg else 0
    if st.session_state.get("exp_table_target") not in range(len(names)):
        st.session_state.pop("exp_table_target", None)
    target = c1.selectbox("SHAP for the output" if reg else "SHAP for the class", list(range(len(names))),
                          index=default, key="exp_table_target", format_func=lambda k: names[k])
    method = c2.segmented_control("Computed by", ["deepshap", "shap"], default="deepshap", key="exp_table_method",
                                  format_func=METHODS.get, required=True,
                                  help="DeepLiftShap adds up exactly to f(x) - E[f]; GradientShap estimates the same "
                                       "values from random points between each row and the background")
    a, s = table_shap(run_id, snap.epoch, snap.step, target, method)
    top = c3.number_input("Features shown", 3, len(s["feature_names"]), min(10, len(s["feature_names"])),
                          key="exp_table_top")
    n = s["rows"]
    row = int(st.number_input(f"Validation row (0 to {n - 1})", 0, n - 1, 0, key="exp_table_row"))
    f = st.columns(2)
    with f[0]:
        st.markdown(f"**Row {row}**: why its score for **{s['target_name']}** is {a['fx'][row]:.3f}, starting from "
                    f"the average {s['expected']:.3f}")
        st.plotly_chart(waterfall(a["values"][row], s["feature_names"], a["features"][row], s["expected"],
                                  float(a["fx"][row]), int(top),
                                  "the prediction" if reg else "the class's score (logit)"),
                        key="exp_waterfall")
    with f[1]:
        st.markdown(f"**Every validation row** ({n}): the features ranked by their average effect")
        st.plotly_chart(shap_bar(a["mean_abs"], s["feature_names"], int(top)), key="exp_bar")
    what = "prediction" if reg else "class's score"
    st.plotly_chart(beeswarm(a["values"], a["features"], s["feature_names"], int(top),
                             axis=f"SHAP value (effect on the {what})"), key="exp_beeswarm")
    st.caption(("Scores are the prediction, in the target's own units. " if reg else
                "Scores are logits (before the softmax). ") + "Each row's values add up to f(x) - E[f] (largest gap "
               f"here {s['max_gap']:.2g}). Feature values as the network sees them (standardised when the run "
               f"standardises). E[f] is the average score over {options().background} background rows "
               f"drawn across the classes.")
