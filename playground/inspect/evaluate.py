"""Evaluation of a classifier at one snapshot: confusion matrix, per-class precision / recall / F1,
balanced accuracy, MCC, the most confidently wrong examples, and for two classes ROC and
precision-recall curves. Every metric is scikit-learn's; this module only feeds it predictions.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from playground.config import EVAL_BATCH
from playground.errors import PlaygroundError

SPLITS = ("val", "train")


@dataclass
class View:
    """What an inspector returns: arrays (what the page draws; an .npz from the CLI) and a summary
    of plain numbers and strings (JSON from the CLI)."""
    arrays: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)


@torch.no_grad()
def predict(frozen, split: str = "val") -> tuple[np.ndarray, np.ndarray]:
    """(probs (N, C) float32, y_true (N,) int64) of the frozen model on the split, in eval mode."""
    if split not in SPLITS:
        raise PlaygroundError(f"split: '{split}' is not one of {', '.join(SPLITS)}")
    data, model, task = frozen.data, frozen.model, frozen.task
    if task is not None and task.name != "classification":
        raise PlaygroundError(f"this view evaluates classifiers, and this run is a {task.name} run; its metrics "
                              f"per epoch are on the Runs page and in the run's training curves")
    X, y = (data.X_val, data.y_val) if split == "val" else (data.X_train, data.y_train)
    device = next(model.parameters()).device
    model.eval()
    to_probs = task.probs if task is not None else (lambda out: torch.softmax(out, 1))
    probs = [to_probs(model(X[i:i + EVAL_BATCH].to(device)).float()).cpu()   # (B, C)
             for i in range(0, len(X), EVAL_BATCH)]
    return torch.cat(probs).numpy(), y.numpy().astype(np.int64)


def evaluate(frozen, split: str = "val", worst: int = 16) -> View:
    """The evaluation of `frozen` on `split`. Arrays: class_names, y_true, y_pred, probs (N, C), confusion (C, C)
    with rows = true class, precision / recall / f1 / support (C,), worst (indices of the `worst`
    most confidently wrong examples, most confident first), and for two classes roc_fpr, roc_tpr,
    roc_thresholds, pr_precision, pr_recall, pr_thresholds (class 1 is the positive class)."""
    from sklearn import metrics as m

    probs, y_true = predict(frozen, split)
    if not np.isfinite(probs).all():
        raise PlaygroundError(f"the network's outputs at epoch {frozen.epoch} are not finite numbers (NaN or inf): "
                              f"the run diverged by then; pick an earlier epoch")
    classes = np.arange(probs.shape[1])
    y_pred = probs.argmax(1)
    confusion = m.confusion_matrix(y_true, y_pred, labels=classes)
    precision, recall, f1, support = m.precision_recall_fscore_support(y_true, y_pred, labels=classes,
                                                                       zero_division=0)
    conf = probs[np.arange(len(y_pred)), y_pred]                       # confidence of the prediction
    wrong = np.flatnonzero(y_pred != y_true)
    worst_idx = wrong[np.argsort(-conf[wrong], kind="stable")][:worst]
    arrays = {"class_names": np.array([str(c) for c in frozen.data.class_names]), "y_true": y_true, "y_pred": y_pred,
              "probs": probs, "confusion": confusion,
              "precision": precision, "recall": recall, "f1": f1, "support": support, "worst": worst_idx}
    averages = {}
    for avg in ("macro", "weighted"):
        p, r, f, _ = m.precision_recall_fscore_support(y_true, y_pred, labels=classes, average=avg, zero_division=0)
        averages[avg] = {"precision": float(p), "recall": float(r), "f1": float(f)}
    summary = {"epoch": frozen.epoch, "step": frozen.step, "partial": frozen.partial, "split": split,
               "n": int(len(y_true)), "class_names": [str(c) for c in frozen.data.class_names],
               "accuracy": float(m.accuracy_score(y_true, y_pred)),
               "balanced_accuracy": _balanced_accuracy(y_true, y_pred),
               "mcc": float(m.matthews_corrcoef(y_true, y_pred)), **averages,
               "wrong": int(len(wrong))}
    if len(classes) == 2:
        p1 = probs[:, 1]
        both = len(np.unique(y_true)) == 2                             # ROC needs both classes present
        if both:
            fpr, tpr, roc_t = m.roc_curve(y_true, p1)
            pr_p, pr_r, pr_t = m.precision_recall_curve(y_true, p1)
            arrays.update(roc_fpr=fpr, roc_tpr=tpr, roc_thresholds=np.minimum(roc_t, 1.0),
                          pr_precision=pr_p, pr_recall=pr_r, pr_thresholds=pr_t)
            summary.update(roc_auc=float(m.roc_auc_score(y_true, p1)),
                           average_precision=float(m.average_precision_score(y_true, p1)))
    return View(arrays, summary)


def _balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """scikit-learn's balanced accuracy: the mean recall over the classes present in y_true (its
    warning about a predicted class that never occurs is expected early in training)."""
    import warnings

    from sklearn.metrics import balanced_accuracy_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return float(balanced_accuracy_score(y_true, y_pred))


def at_threshold(y_true: np.ndarray, p1: np.ndarray, threshold: float) -> dict:
    """Two classes: predict class 1 where P(class 1) >= threshold. The confusion matrix (rows = true
    class) and the point it puts on the ROC (fpr, tpr) and precision-recall (recall, precision) curves."""
    from sklearn import metrics as m

    pred = (p1 >= threshold).astype(np.int64)
    cm = m.confusion_matrix(y_true, pred, labels=[0, 1])
    (tn, fp), (fn, tp) = cm
    return {"threshold": float(threshold), "confusion": cm,
            "tpr": tp / (tp + fn) if tp + fn else 0.0, "fpr": fp / (fp + tn) if fp + tn else 0.0,
            "precision": tp / (tp + fp) if tp + fp else 1.0, "recall": tp / (tp + fn) if tp + fn else 0.0,
            "accuracy": (tp + tn) / max(len(y_true), 1)}
