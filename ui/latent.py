"""The Latent space page's pieces: cached views of a snapshot, background UMAP / t-SNE, the starter
buttons, and each panel's drawing."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from playground.inspect.latent import decode, grid_codes, interpolate, latent, pca_baseline, reconstruction_errors
from playground.projection import Projector, subsample
from playground.train import REGISTRY
from playground.viz.latent import (
    class_error_spec,
    loss_terms_spec,
    manifold_figure,
    padded_range,
    scatter_spec,
    thumbnails,
    tile,
)
from ui.charts import vega
from ui.scrubber import prefetch, snapshot_model
from ui.starters import starters as starter_buttons

STARTERS = {
    "The notes' autoencoder (784-128-64-2)": "mnist_autoencoder.yaml",
    "Variational (2-D)": "mnist_vae.yaml",
    "Convolutional (16-D)": "mnist_conv_autoencoder.yaml",
    "Denoising (2-D)": "mnist_denoising_autoencoder.yaml",
}
METHOD_NAMES = {"raw": "The code itself", "pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}
SHOW = {"space": "Code space", "decode": "Decode anywhere", "recon": "Reconstructions", "pca": "Against PCA",
        "vae": "Variational"}
GRID = 15                       # the manifold picture: GRID x GRID decoded codes
NEAR = 8                        # nearest neighbours shown for a clicked point
DECODED_PX = 196                # the width of one decoded or clicked image
LOOK_FOR = (
    "- **No labels were used.** The autoencoder only learnt to squeeze each image through the code and back; the "
    "colours are added afterwards. Digits that look alike (1 and 7, 4 and 9, 3, 5 and 8) end up near each other.\n"
    "- **Press Play** (or scrub) to watch the code space form: at epoch 0 the random encoder squashes everything "
    "into a blob, then classes pull apart.\n"
    "- **The 5-NN score** says how much of the label survives in the code: a classifier that only looks at the 5 "
    "nearest training codes. Against PCA (the best *linear* 2-D code), the autoencoder keeps more.\n"
    "- **Decode anywhere:** the decoder draws something for every point, also between the clusters: there it "
    "blends digits. In a plain autoencoder empty regions can decode to nonsense; a variational one is trained to "
    "keep the space around the prior N(0, I) meaningful, so samples from the prior look like digits.\n"
    "- **UMAP and t-SNE** only draw wide codes in 2-D. They keep neighbours, not distances: cluster sizes and the "
    "gaps between clusters mean little; PCA is a rotation and keeps straight lines straight.")


@st.cache_resource(show_spinner=False)
def projector() -> Projector:
    """The server's one background process for UMAP and t-SNE (see playground.inspect.project)."""
    return Projector()


def starters(open_: bool) -> None:
    starter_buttons("Train an autoencoder", "Each button trains one of the autoencoder examples on 5,000 MNIST digits "
                    "(examples/, also on Build & Train) and shows it here while it trains: the code space forms as "
                    "you watch.", STARTERS, "lat", open_)


def code_layer_choice(run) -> int | None:
    """The layer drawn: the Latent layer of an autoencoder (None), else a hidden layer the user picks."""
    types = [s["type"] for s in run.config.layers]
    if "Latent" in types:
        return None
    choices = list(range(1, len(types)))
    if not choices:
        return None
    default = next((i for i in reversed(choices) if types[i - 1] in ("ReLU", "Tanh", "Sigmoid", "GELU", "Flatten")),
                   choices[-1])
    if st.session_state.get("lat_layer") not in choices:
        st.session_state["lat_layer"] = default
    return st.selectbox("Hidden layer drawn as a code", choices, key="lat_layer",
                        format_func=lambda i: f"{i}: {types[i - 1]}",
                        help="A classifier has no code of its own: any hidden layer's output can be drawn the same "
                             "way (projected to 2-D). There is no decoder to go back with.")


# ---- cached views ---------------------------------------------------------------------------------
@st.cache_data(max_entries=64, show_spinner=False)
def view(run_id: str, epoch: int, step: int, layer: int | None) -> tuple[dict, dict]:
    """The validation codes of the snapshot, their PCA, the 5-NN score and reconstruction errors."""
    v = latent(snapshot_model(run_id, epoch, step), split="val", method="pca", layer=layer, compare=False)
    return v.arrays, v.summary


@st.cache_data(max_entries=8, show_spinner=False)
def baseline(run_id: str, dims: int) -> dict:
    """PCA of the run's training images to `dims` dimensions (the notes' comparison); one per run."""
    frozen = snapshot_model(run_id, *_first(run_id))
    return pca_baseline(frozen.data, dims, knn=True)


def _first(run_id: str) -> tuple[int, int]:
    s = REGISTRY.store.snapshots(run_id)[0]
    return s.epoch, s.step


@st.cache_data(max_entries=4, show_spinner=False)
def thumbs(run_id: str) -> list[str]:
    return thumbnails(snapshot_model(run_id, *_first(run_id)).data.X_val.numpy())


@st.cache_data(max_entries=32, show_spinner=False)
def reconstructions(run_id: str, epoch: int, step: int) -> np.ndarray:
    return reconstruction_errors(snapshot_model(run_id, epoch, step), "val")[1]


@st.cache_data(max_entries=64, show_spinner=False)
def decoded(run_id: str, epoch: int, step: int, codes: tuple) -> np.ndarray:
    """The decoder's output for codes, a tuple of tuples (hashable: the cache's key)."""
    return decode(snapshot_model(run_id, epoch, step), np.array(codes, np.float32))


@st.cache_data(max_entries=32, show_spinner=False)
def strip(run_id: str, epoch: int, step: int, a: int, b: int, steps: int) -> np.ndarray:
    return interpolate(snapshot_model(run_id, epoch, step), a, b, steps).arrays["images"]


def background(run_id: str, epoch: int, step: int, layer, method: str, codes: np.ndarray):
    """(the Future of the projection (N, 2), the indices it covers): UMAP / t-SNE from the
    projector, cached there by run, snapshot, layer and method."""
    idx = subsample(len(codes))
    return projector().submit((run_id, epoch, step, layer, method), codes[idx], method), idx


def wait_for(fut_ready) -> None:
    """Poll every half second until fut_ready() is true, then redraw the page."""
    @st.fragment(run_every=0.5)
    def poll():
        if fut_ready():
            st.rerun()
    poll()


# ---- panels ---------------------------------------------------------------------------------------
def scores(s: dict, base: dict | None) -> None:
    cols = st.columns(4)
    if "knn" in s:
        cols[0].metric("5-NN accuracy of the code", f"{s['knn']:.1%}",
                       help="A 5-nearest-neighbour classifier fitted on the training set's codes, scored on the "
                            "validation codes: how much of the label the code keeps (training never saw a label)")
    if base is not None and "knn" in base:
        cols[1].metric(f"PCA to {base['dims']}-D, same test", f"{base['knn']:.1%}",
                       delta=f"{(s['knn'] - base['knn']) * 100:+.1f} points for the network", delta_color="off",
                       help="The same classifier on a PCA of the images to as many dimensions as the code: the best "
                            "linear code of that size")
    if "mse" in s:
        cols[2].metric("Reconstruction error", f"{s['mse']:.4f}",
                       help="Mean squared error per pixel between each validation image and its reconstruction "
                            "(MSE whatever loss the run trains with, so it compares with PCA's)")
    if base is not None:
        cols[3].metric(f"PCA's, from {base['dims']}-D", f"{float(base['errors_val'].mean()):.4f}",
                       help="The same error when the images are rebuilt from their PCA projection")


def axes_of(method: str, s: dict) -> tuple[str, str]:
    if method == "raw":
        return ("z1", "z2") if s["dims"] >= 2 else ("z1", "")
    if method == "pca":
        ex = s.get("explained", [0, 0])
        return f"PC1 of the code ({ex[0]:.0%} of its variance)", f"PC2 ({ex[1]:.0%})"
    return f"{METHOD_NAMES[method]} 1", f"{METHOD_NAMES[method]} 2"


def take_click(chart_key: str) -> tuple[str | None, object]:
    """What the last click on the scatter chose, once per click: ("point", index), ("spot", (x, y))
    or (None, None). Kept under lat_pick until the next click."""
    event = st.session_state.get(chart_key) or {}
    sel = event.get("selection") or {}
    pick = None
    for name, fields in (("point", ("index",)), ("spot", ("sx", "sy"))):
        got = sel.get(name) or []
        # a click on another layer's mark leaves an entry without this selection's fields
        if got and isinstance(got[0], dict) and all(got[0].get(f) is not None for f in fields):
            value = int(got[0]["index"]) if name == "point" else (float(got[0]["sx"]), float(got[0]["sy"]))
            if (name, value) != st.session_state.get(f"_lat_seen_{name}"):
                st.session_state[f"_lat_seen_{name}"] = (name, value)
                pick = (name, value)
    if pick is not None:
        st.session_state["lat_pick"] = pick
        if pick[0] == "spot":
            st.session_state["lat_z1"], st.session_state["lat_z2"] = pick[1]
        else:
            st.session_state["lat_example"] = pick[1]      # the number box shows the clicked point
    return st.session_state.get("lat_pick", (None, None))


def example_box(n: int) -> None:
    """The keyboard's way to the point panel: a number box for the example, kept equal to the last click."""
    s = st.session_state
    if s.get("lat_example") is not None and not 0 <= s["lat_example"] < n:
        s["lat_example"] = None                             # another run's index
    st.number_input(f"Example (0 to {n - 1})", 0, n - 1, value=None, key="lat_example", on_change=_example_typed,
                    placeholder="type a number, or click a point", help="The example whose reconstruction and "
                    "nearest neighbours are shown; a click on a point sets it too")


def _example_typed() -> None:
    value = st.session_state.get("lat_example")
    st.session_state["lat_pick"] = ("point", int(value)) if value is not None else (None, None)


def to_code(xy, method: str, a: dict) -> np.ndarray:
    """A point of the drawing back to a code: itself (raw), or the point of the PCA plane (the other
    directions at the codes' mean)."""
    xy = np.asarray(xy, np.float32)
    if method == "raw":
        return xy[:a["codes"].shape[1]]
    return a["mean"] + xy @ a["components"]


def images_row(images, captions, cols: int = 8) -> None:
    columns = st.columns(cols)
    for k, (img, cap) in enumerate(zip(images, captions)):
        columns[k % cols].image(tile(img[None], 1), caption=cap, width="stretch", alt=f"image: {cap}")


def neighbours_of(codes: np.ndarray, i: int, k: int = NEAR) -> np.ndarray:
    d = np.linalg.norm(codes - codes[i], axis=1)
    d[i] = np.inf
    return np.argsort(d, kind="stable")[:k]


def point_panel(run_id, snap, a, s, i: int, X: np.ndarray, names: list[str], can_decode: bool) -> None:
    near = neighbours_of(a["codes"], i)
    st.markdown(f"**Example {i}** · label {names[a['labels'][i]] if names else a['labels'][i]} · code "
                f"({', '.join(f'{v:.2f}' for v in a['codes'][i][:4])}{', …' if a['codes'].shape[1] > 4 else ''})")
    label = [names[a["labels"][j]] if names else str(a["labels"][j]) for j in near]
    if X.ndim != 4:                                 # points or a table's rows: their values, not a picture
        rows = X[[i, *near]].reshape(len(near) + 1, -1)
        frame = pd.DataFrame(rows[:, :8], columns=[f"x{k + 1}" for k in range(min(rows.shape[1], 8))])
        frame.insert(0, "example", [f"{i} (chosen)", *map(str, near)])
        frame.insert(1, "label", [names[a["labels"][i]] if names else str(a["labels"][i]), *label])
        st.caption(f"The example and its {NEAR} nearest neighbours in code space (ringed in the scatter), by their "
                   f"inputs" + (" (the first 8)" if rows.shape[1] > 8 else "") + ":")
        st.dataframe(frame, hide_index=True)
        return
    left, right = st.columns(2)
    left.image(tile(X[i][None], 1), caption="input", width=DECODED_PX, alt=f"validation example {i}, the input")
    if can_decode:
        rec = reconstructions(run_id, snap.epoch, snap.step)[i]
        right.image(tile(rec[None], 1), caption=f"reconstruction (error {a['errors'][i]:.4f})", width=DECODED_PX,
                    alt=f"the network's reconstruction of example {i}, error {a['errors'][i]:.4f}")
    st.caption(f"Its {NEAR} nearest neighbours in code space (ringed in the scatter):")
    images_row([X[j] for j in near], label, cols=4)


def spot_xy(xr, yr) -> tuple[float, float]:
    """The spot the two sliders hold, inside the drawing's ranges. Streamlit forgets a widget's value
    when a run does not draw it (another *Show*), so a missing value comes back from the last click."""
    pick = st.session_state.get("lat_pick") or (None, None)
    for k, (key, (lo, hi)) in enumerate((("lat_z1", xr), ("lat_z2", yr))):
        v = st.session_state.get(key)
        if v is None and pick[0] == "spot":
            v = pick[1][k]
        if v is None or not lo < v < hi:                    # new range (another epoch, another drawing): its centre
            v = (lo + hi) / 2
        st.session_state[key] = float(v)
    return st.session_state["lat_z1"], st.session_state["lat_z2"]


def spot_panel(run_id, snap, a, method: str, xr, yr) -> None:
    """Decode the clicked spot, or the one the two sliders set."""
    spot_xy(xr, yr)
    z1 = st.slider("x (first axis)", float(xr[0]), float(xr[1]), key="lat_z1", format="%.2f")
    z2 = st.slider("y (second axis)", float(yr[0]), float(yr[1]), key="lat_z2", format="%.2f")
    z = to_code((z1, z2), method, a)
    img = decoded(run_id, snap.epoch, snap.step, (tuple(float(v) for v in z),))[0]
    st.image(tile(img[None], 1), width=DECODED_PX, alt=f"the decoder's output for the point ({z1:.2f}, {z2:.2f})",
             caption=f"the decoder's output at ({z1:.2f}, {z2:.2f})" + (
                 "" if method == "raw" else f": the code {np.array2string(z[:4], precision=2)} on the PCA plane"))


def space_panel(run_id, snap, a, s, method: str, can_decode: bool, X, names) -> tuple | None:
    """The scatter and, beside it, the clicked point (its reconstruction and neighbours) or spot."""
    proj = a["codes"] if method == "raw" else a["projection"]
    idx = None
    if method in ("umap", "tsne"):
        fut, idx = background(run_id, snap.epoch, snap.step, s["layer"], method, a["codes"])
        if not fut.done():
            warming = projector().warming
            st.info(f"{METHOD_NAMES[method]} is being computed in the background"
                    + (" (its first use on this server also compiles it: about 20 s)" if warming and method == "umap"
                       else "") + ". PCA is shown meanwhile.", icon=":material/hourglass_top:")
            wait_for(fut.done)
            method, proj, idx = "pca", a["projection"], None
        else:
            proj = fut.result()
    if proj.shape[1] == 1:
        proj = np.c_[proj, np.zeros(len(proj), np.float32)]
    labels = a["labels"] if idx is None else a["labels"][idx]
    rows = np.arange(len(proj)) if idx is None else idx
    show_thumbs = X.ndim == 4
    click_space = can_decode and method in ("raw", "pca") and s["dims"] >= 2
    chart_key = f"lat_scatter_{method}"
    kind, value = take_click(chart_key)
    chosen = value if kind == "point" and value is not None and value < len(a["codes"]) else None
    local = {int(r): k for k, r in enumerate(rows)}
    near = neighbours_of(a["codes"], chosen) if chosen is not None else []
    spread = None
    if "logvar" in a and method == "raw" and st.session_state.get("lat_spread"):
        spread = np.exp(0.5 * a["logvar"][:, :2])
    xr, yr = padded_range(proj[:, 0]), padded_range(proj[:, 1])
    images = thumbs(run_id) if show_thumbs else None      # once: each cached call copies all 1,000
    left, right = st.columns([2, 1])
    with left:
        spec = scatter_spec(proj, labels, names, axes_of(method, s),
                            thumbs=[images[r] for r in rows] if show_thumbs else None,
                            chosen=local.get(chosen) if chosen is not None else None,
                            neighbours=[local[j] for j in near if j in local],
                            spot=spot_xy(xr, yr) if click_space and kind == "spot" else None,
                            clickable_space=click_space, spread=spread)
        st.vega_lite_chart(spec, on_select="rerun", selection_mode=["point", "spot"] if click_space else ["point"],
                           key=chart_key, width="stretch")
        clicks = ["click a point for its reconstruction and neighbours" if can_decode    # a classifier has no
                  else "click a point for its nearest neighbours"]                      # decoder: no reconstruction
        clicks += ["click an empty spot to decode it"] if click_space else []
        said = "; ".join((["hover for the image"] if show_thumbs else []) + clicks)
        st.caption(f"{len(proj):,} validation examples, coloured and shaped by their label (training never "
                   f"saw a label). {said[0].upper()}{said[1:]}.")
    with right:
        example_box(len(a["codes"]))
        if kind == "spot" and click_space:
            spot_panel(run_id, snap, a, method, xr, yr)
        elif chosen is not None:
            point_panel(run_id, snap, a, s, chosen, X, names, can_decode)
        elif click_space:
            st.caption("Click a point, or an empty spot (or move the sliders) to see what the decoder draws there.")
            spot_panel(run_id, snap, a, method, xr, yr)
        else:
            st.caption("Click a point to see its nearest neighbours in code space.")
    return method, proj, xr, yr


def decode_panel(run_id, snap, a, s, method: str, X, names) -> None:
    m = method if method in ("raw", "pca") and s["dims"] >= 2 else "pca"
    proj = a["codes"] if m == "raw" else a["projection"]
    xr, yr = padded_range(proj[:, 0]), padded_range(proj[:, 1])
    grid = grid_codes(xr, yr, GRID)
    codes = grid if m == "raw" else a["mean"] + grid @ a["components"]
    images = decoded(run_id, snap.epoch, snap.step, tuple(map(tuple, codes.astype(float))))
    st.caption(f"The decoder's output on a {GRID} x {GRID} grid over the range the codes cover "
               + ("(the code itself)" if m == "raw" else "(the plane of the codes' first two principal "
                                                        "components; the other directions at their mean)")
               + ": the \"manifold\" of digits the decoder has learnt. Compare with the scatter: each region draws "
                 "the digit whose codes sit there.")
    st.plotly_chart(manifold_figure(images, GRID, xr, yr, axes_of(m, s)), width="stretch", key="lat_manifold")
    st.header("Interpolate between two inputs", divider="gray")
    n = len(a["codes"])
    first = {int(c): int(np.flatnonzero(a["labels"] == c)[0]) for c in np.unique(a["labels"])}
    c1, c2, c3 = st.columns(3)
    ia = int(c1.number_input(f"From example (0 to {n - 1})", 0, n - 1, first.get(1, 0), key="lat_a"))
    ib = int(c2.number_input(f"To example (0 to {n - 1})", 0, n - 1, first.get(7, min(1, n - 1)), key="lat_b"))
    steps = int(c3.slider("Steps", 3, 16, 10, key="lat_steps"))
    images = strip(run_id, snap.epoch, snap.step, ia, ib, steps)
    st.image(tile(np.concatenate([X[ia][None], images, X[ib][None]]), steps + 2), width="stretch",
             alt=f"{steps + 2} images in a row: example {ia}, {steps} decoded steps between the codes, example {ib}",
             caption=f"Left and right: the inputs ({names[a['labels'][ia]] if names else ia} and "
                     f"{names[a['labels'][ib]] if names else ib}); between them the decoder's output along the "
                     f"straight line from one code to the other ({steps} steps, ends included).")


def recon_panel(run_id, snap, a, s, X, names, base) -> None:
    rec = reconstructions(run_id, snap.epoch, snap.step)
    labels = a["labels"]
    first = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)][:10]
    st.caption("One validation example of each class: the input (top), the network's reconstruction (middle) and "
               "PCA's from as many dimensions as the code (bottom).")
    rows = [X[first], rec[first]] + ([base["recon_val"][first]] if base is not None else [])
    st.image(tile(np.concatenate(rows), len(first)), width="stretch",
             alt=f"{len(rows)} rows of {len(first)} images: inputs, reconstructions"
                 + (", PCA's reconstructions" if len(rows) > 2 else ""))
    worst = np.argsort(-a["errors"], kind="stable")[:10]
    st.caption("The 10 worst-reconstructed validation images (top) and their reconstructions; the error under each: "
               + ", ".join(f"{names[labels[i]] if names else i}: {a['errors'][i]:.3f}" for i in worst))
    st.image(tile(np.concatenate([X[worst], rec[worst]]), len(worst)), width="stretch",
             alt=f"the {len(worst)} worst-reconstructed images (top row) and their reconstructions (bottom row)")
    if "class_errors" in a:
        pca_cls = None
        if base is not None:
            pca_cls = np.array([base["errors_val"][labels == c].mean() if (labels == c).any() else np.nan
                                for c in range(len(names))])
        st.caption("Reconstruction error per class (MSE per pixel), the network's and PCA's")
        vega(class_error_spec(names, a["class_errors"], pca_cls))


def pca_panel(run_id, snap, a, s, base, names) -> None:
    if base is None:
        st.info("The comparison with PCA is for autoencoders: it rebuilds the images from as many numbers as the code.")
        return
    left, right = st.columns(2)
    code2 = a["codes"] if s["dims"] <= 2 else a["projection"]
    with left:
        vega(scatter_spec(code2 if code2.shape[1] > 1 else np.c_[code2, np.zeros(len(code2))], a["labels"], names,
                          axes_of("raw" if s["dims"] <= 2 else "pca", s), height=380,
                          title=f"The network's {s['dims']}-D code · 5-NN {s.get('knn', float('nan')):.1%}"))
    with right:
        pv = base["val"] if base["val"].shape[1] > 1 else np.c_[base["val"], np.zeros(len(base["val"]))]
        if pv.shape[1] > 2:
            pv = pv[:, :2]
        vega(scatter_spec(pv, a["labels"], names, ("PC1 of the images", "PC2"), height=380,
                          title=f"PCA of the images to {base['dims']}-D · 5-NN {base.get('knn', float('nan')):.1%}"))
    eig = base["eigenvalues"]
    table = pd.DataFrame([
        {"": "reconstruction MSE per pixel (validation)", "network": s["mse"],
         "PCA": float(base["errors_val"].mean())},
        {"": "5-NN accuracy of the code", "network": s.get("knn"), "PCA": base.get("knn")},
    ])
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.4f") for c in ("network", "PCA")})
    st.caption(f"Why PCA's error is honest: PCA keeps the {base['dims']} directions of largest variance, so each "
               f"training image loses exactly the variance along the other {base['values'] - base['dims']}. Its "
               f"squared error per image, {base['mse_train'] * base['values']:.2f}, equals the sum of the discarded "
               f"eigenvalues of the pixels' covariance, {float(eig[base['dims']:].sum()):.2f} (the kept ones "
               f"explain {base['explained']:.1%} of the variance). The network's code is not linear, which is how it "
               f"can do better with as few numbers.")


def vae_panel(run_id, snap, a, s, names) -> None:
    epochs = REGISTRY.store.metrics(run_id).get("epochs", [])
    st.caption("The two terms of the loss per epoch: the reconstruction loss per pixel (how well the decoder "
               "rebuilds the input) and the KL divergence of each code's distribution from the prior N(0, I), in "
               "nats per image; the loss adds kl_weight × KL / the pixels per image, so kl_weight 1 is the standard "
               "VAE. KL pulls the codes together around 0; reconstruction pushes them apart.")
    vega(loss_terms_spec(epochs))
    k = a["codes"].shape[1]
    seed = int(st.number_input("Seed of the samples", 0, 10_000, 0, key="lat_prior_seed"))
    z = np.random.default_rng(seed).standard_normal((16, k)).astype(np.float32)
    images = decoded(run_id, snap.epoch, snap.step, tuple(map(tuple, z.astype(float))))
    st.image(tile(images, 8), width="stretch", alt="16 images decoded from random codes, in 2 rows of 8",
             caption="16 codes drawn from the prior N(0, I) and decoded: a variational autoencoder is trained so that "
                     "these look like digits.")
    spread = np.exp(0.5 * a["logvar"]).mean(0)
    st.caption("The encoder gives each input a mean and a spread (standard deviation) per dimension; the scatter "
               "shows the means. Average spread per dimension at this epoch: "
               + ", ".join(f"z{j + 1} {v:.3f}" for j, v in enumerate(spread[:4]))
               + ". Switch on *Show each code's spread* above the scatter (Code space) to draw them.")


def has_latent(run) -> bool:
    return any(spec["type"] == "Latent" for spec in run.config.layers)


def warm_neighbours(run_id, snap, layer) -> None:
    prefetch(run_id, snap, lambda n: view(run_id, n.epoch, n.step, layer))

