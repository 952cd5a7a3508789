"""Latent space: an autoencoder's code of every validation image (or a classifier's hidden layer),
at any epoch and while it trains; decode any point; reconstructions; the notes' comparison with PCA;
a variational autoencoder's loss terms and prior samples."""
import streamlit as st

from ui import latent as ui
from ui.scrubber import HEAVY_GAP, follow, from_snapshot, scrubbed, snapshot_model
from ui.sidebar import require_run, shown_run

st.title("Latent space")
st.caption("The run shown in the sidebar, at any epoch: each validation image encoded by that epoch's weight "
           "snapshot, and drawn where its code puts it.")
run = shown_run()
ui.starters(open_=run is None or not ui.has_latent(run))
run = require_run("No run yet: press a button above, or train an example with a Latent layer on **Build & Train**.",
                  run=run)
run_id = run.id
autoencoder = ui.has_latent(run)
if not autoencoder and run.task.name != "classification":
    st.info(f"**{run.name}** has no Latent layer and is not a classifier, so it has no code to draw. Press a button "
            f"above, or pick an autoencoder run in the sidebar.")
    st.stop()
ui.projector().warm()                 # UMAP compiles in the background process once per server, off this page's path
if not autoencoder:
    st.caption(f":material/info: **{run.name}** is a classifier: it has no code of its own, so a hidden layer's "
               f"outputs are drawn instead, projected to 2-D. There is no decoder to draw a point back with.")
layer = ui.code_layer_choice(run)


@st.fragment
def snapshot_views():
    """Everything that depends on the epoch: a scrub reruns this, not the whole app."""
    snap = scrubbed(run_id, run.name)
    if snap is None:
        return
    a, s = from_snapshot(ui.view, run_id, snap.epoch, snap.step, layer)
    data = snapshot_model(run_id, snap.epoch, snap.step).data
    names = [str(c) for c in data.class_names] if s.get("class_names") else []
    X = data.X_val.numpy()
    base = ui.baseline(run_id, s["dims"]) if autoencoder else None
    ui.scores(s, base)
    methods = (["raw"] if s["dims"] <= 2 else []) + ["pca", "umap", "tsne"]
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    if st.session_state.get("lat_method") not in methods:
        st.session_state["lat_method"] = methods[0]
    method = c1.segmented_control(
        f"Draw the {s['dims']}-D code" + (" as" if s["dims"] <= 2 else " projected by"), methods, key="lat_method",
        format_func=ui.METHOD_NAMES.get, required=True,
        help="The code itself when it has 2 values or fewer; otherwise PCA (instant), UMAP or t-SNE (seconds, in the "
             "background: PCA shows until they are ready; each is kept per epoch)")
    if "logvar" in a and method == "raw":
        c2.toggle("Show each code's spread", key="lat_spread", help="±1 standard deviation of each code's "
                  "distribution (the encoder's log-variance), per axis")
    shows = ["space"] + (["decode", "recon", "pca"] if autoencoder else []) + (["vae"] if "logvar" in a else [])
    if st.session_state.get("lat_show") not in shows:
        st.session_state["lat_show"] = "space"
    shown = st.segmented_control("Show", shows, key="lat_show", format_func=ui.SHOW.get, required=True)
    if shown == "space":
        ui.space_panel(run_id, snap, a, s, method, autoencoder, X, names)
    elif shown == "decode":
        ui.decode_panel(run_id, snap, a, s, method, X, names)
    elif shown == "recon":
        ui.recon_panel(run_id, snap, a, s, X, names, base)
    elif shown == "pca":
        ui.pca_panel(run_id, snap, a, s, base, names)
    else:
        ui.vae_panel(run_id, snap, a, s, names)
    ui.warm_neighbours(run_id, snap, layer)


snapshot_views()
with st.expander("What to look for", icon=":material/school:"):
    st.markdown(ui.LOOK_FOR)
follow(run_id, gap=HEAVY_GAP)
