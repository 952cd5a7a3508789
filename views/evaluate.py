"""Evaluate: how the run shown classifies, at any snapshot: confusion, per-class metrics, ROC/PR, worst mistakes."""
import streamlit as st

from ui.evaluate import confusion, evaluation, gallery, headline, per_class, threshold_views
from ui.scrubber import HEAVY_GAP, epoch_scrubber, follow, from_snapshot, no_snapshot, snapshot_model
from ui.sidebar import require_run

st.title("Evaluate")
st.caption("How the run shown in the sidebar classifies, at any epoch: computed from that epoch's weight snapshot.")
run = require_run("No run to evaluate yet: train one on **Build & Train** (or pick one in the sidebar).")
run_id = run.id
top, side = st.columns([3, 1], vertical_alignment="bottom")
with top:
    snap = epoch_scrubber(run_id)
with side:
    split = st.segmented_control("Data", ["val", "train"], default="val", key="eval_split", required=True,
                                 format_func={"val": "validation", "train": "training"}.get)
if snap is None:
    st.info(no_snapshot(run.name))
    follow(run_id)                                          # redrawn when the first snapshot is written
    st.stop()
if run.alive:
    st.caption(f":material/sync: The run is still training: the page follows its newest epoch (at most one "
               f"redraw every {HEAVY_GAP:g} s) until you move the slider.")
arrays, s = from_snapshot(evaluation, run_id, snap.epoch, snap.step, split)
headline(s)

cm, caption = arrays["confusion"], "Confusion matrix: rows are the true class, columns the predicted one"
if "roc_auc" in s:                                          # two classes, both present: a threshold to choose
    at = threshold_views(arrays, s)
    cm = at["confusion"]
    caption = f"Confusion matrix at threshold {at['threshold']:.2f} (accuracy {at['accuracy']:.1%})"
left, right = st.columns([1.1, 1])
with left:
    st.caption(caption + "; the diagonal is right")
    confusion(cm, s["class_names"], key="eval_norm")
with right:
    st.caption("Per class: precision = right among those predicted as the class; recall = found among those "
               "truly in it; F1 = their harmonic mean; support = examples of the class")
    per_class(arrays, s)
st.header("Most confidently wrong", divider="gray")
st.caption("The misclassified examples the model was surest about, surest first: often a mislabelled example, "
           "an ambiguous one, or a pattern the network learnt wrong.")
gallery(arrays, s, snapshot_model(run_id, snap.epoch, snap.step).data, split)
with st.expander("What to look for", icon=":material/school:"):
    st.markdown(
        "- **Scrub the epochs.** Early on the confusion matrix is a few full columns (the network answers one "
        "or two classes for everything); the diagonal fills in as it learns.\n"
        "- **Accuracy hides unbalanced classes.** If 90% of the examples are one class, answering it always "
        "gives 90% accuracy but a balanced accuracy of 50% (two classes) and an MCC of 0.\n"
        "- **Which classes are confused with which** is read off the largest cells outside the diagonal: "
        "on digits, 4 and 9, 3 and 5, 7 and 1.\n"
        "- **Two classes: the threshold is a choice.** Lowering it finds more of class 1 (recall up) at the "
        "price of more false alarms (precision down). The ROC curve shows every threshold at once; its area "
        "is the chance that a random example of class 1 gets a higher score than a random one of class 0.\n"
        "- **Training vs validation:** much better on the training split than on validation means overfitting.")
follow(run_id, gap=HEAVY_GAP)
