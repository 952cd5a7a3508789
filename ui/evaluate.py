"""The Evaluate page's pieces: the cached evaluation of a snapshot, and how each part is drawn."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from playground.inspect import at_threshold, evaluate
from playground.viz.evaluate import class_table, confusion_chart, confusion_words, pr_chart, roc_chart
from playground.viz.filters import figure_strip, input_image
from ui.charts import vega
from ui.scrubber import snapshot_model

GALLERY = 16


@st.cache_data(max_entries=32, show_spinner=False)
def evaluation(run_id: str, epoch: int, step: int, split: str) -> tuple[dict, dict]:
    """(arrays, summary) of the run's snapshot at epoch (see snapshot_model for step)."""
    view = evaluate(snapshot_model(run_id, epoch, step), split=split, worst=GALLERY)
    return view.arrays, view.summary


def headline(s: dict) -> None:
    a, b, c, d = st.columns(4)
    a.metric("Accuracy", f"{s['accuracy']:.1%}", help="Share of the examples whose most likely class is the true one")
    b.metric("Balanced accuracy", f"{s['balanced_accuracy']:.1%}",
             help="The mean of the per-class recalls: a model that always answers the largest class scores "
                  "1/classes here, however large that class is")
    c.metric("Macro F1", f"{s['macro']['f1']:.3f}", help="The plain mean of the per-class F1 scores")
    d.metric("MCC", f"{s['mcc']:.3f}", help="Matthews correlation coefficient: 1 perfect, 0 no better than chance, "
                                            "-1 always wrong; fair to unbalanced classes")


def per_class(arrays: dict, s: dict) -> None:
    table = class_table(s["class_names"], arrays["precision"], arrays["recall"], arrays["f1"], arrays["support"])
    avg = pd.DataFrame([{"class": f"{k} avg", "precision": s[k]["precision"], "recall": s[k]["recall"],
                         "F1": s[k]["f1"], "support": int(np.sum(arrays["support"]))} for k in ("macro", "weighted")])
    st.dataframe(pd.concat([table, avg], ignore_index=True), hide_index=True, width="stretch", height="content",
                 column_config={c: st.column_config.NumberColumn(format="%.3f") for c in ("precision", "recall", "F1")})


def confusion(cm: np.ndarray, names: list, key: str) -> None:
    normalize = st.toggle("Share of each true class", key=key,
                          help="Off: counts. On: each row divided by its total, so rows read as recall per class")
    vega(confusion_chart(cm, names, normalize), words=confusion_words(cm, [str(n) for n in names]))


def threshold_views(arrays: dict, s: dict) -> dict:
    """Two classes: the threshold slider, the confusion matrix at it, and its point on ROC and PR."""
    t = st.slider("Threshold: predict class 1 when P(class 1) is at least", 0.0, 1.0, 0.5, 0.01, key="eval_threshold")
    at = at_threshold(arrays["y_true"], arrays["probs"][:, 1], t)
    left, right = st.columns(2)
    with left:
        st.caption(f"ROC curve · area under it {s['roc_auc']:.3f} · the dot: threshold {t:.2f} "
                   f"(true positive rate {at['tpr']:.2f}, false positive rate {at['fpr']:.2f})")
        vega(roc_chart(arrays["roc_fpr"], arrays["roc_tpr"], arrays["roc_thresholds"], (at["fpr"], at["tpr"])))
    with right:
        st.caption(f"Precision-recall curve · average precision {s['average_precision']:.3f} · the dot: "
                   f"precision {at['precision']:.2f}, recall {at['recall']:.2f}")
        vega(pr_chart(arrays["pr_precision"], arrays["pr_recall"], arrays["pr_thresholds"],
                      (at["recall"], at["precision"])))
    return at


def gallery(arrays: dict, s: dict, data, split: str) -> None:
    idx = arrays["worst"]
    if not len(idx):
        st.success("No example of this split is misclassified at this epoch.")
        return
    names = s["class_names"]
    X = (data.X_val if split == "val" else data.X_train).numpy()
    conf = arrays["probs"][idx, arrays["y_pred"][idx]]
    captions = [f"true {names[arrays['y_true'][i]]} → {names[arrays['y_pred'][i]]} ({c:.0%})"
                for i, c in zip(idx, conf)]
    if data.kind == "image":                    # one block of HTML, not 16 pictures drawn one by one
        st.html(figure_strip([input_image(X[i], 112) for i in idx], captions,
                             [f"example {i}: {cap}" for i, cap in zip(idx, captions)], width=112))
    else:
        st.dataframe(pd.DataFrame({"x1": X[idx, 0], "x2": X[idx, 1], "true": [names[v] for v in arrays["y_true"][idx]],
                                   "predicted": [names[v] for v in arrays["y_pred"][idx]], "confidence": conf}),
                     hide_index=True, width="stretch",
                     column_config={"confidence": st.column_config.ProgressColumn(min_value=0, max_value=1,
                                                                                  format="percent")})
