"""Latent spaces: what a snapshot's encoder makes of the data, what its decoder makes of any code,
and the same comparison with PCA that the course notes make.

The code of an autoencoder is the output of its `Latent` layer (for a variational one, the mean: in
eval mode the layer passes the mean on, so decoding the code of an input gives exactly its
reconstruction). A classifier has no code, but any hidden layer's output can be drawn the same way
("as a projection"); it has no decoder.

A code wider than 3 numbers is projected to 2-D for drawing: PCA at once, UMAP or t-SNE on request
(seconds: see playground.inspect.project for running them off the page's path).
"""
from __future__ import annotations

import numpy as np
import torch

from playground.errors import PlaygroundError
from playground.inspect.evaluate import View
from playground.inspect.inputs import split_arrays
from playground.models.blocks import Latent

BATCH = 1024
METHODS = ("raw", "pca", "umap", "tsne")
NEIGHBOURS = 5                  # the k of the k-nearest-neighbour score of a code


def latent_index(model) -> int | None:
    """0-based index of the model's (first) Latent layer, or None."""
    return next((i for i, m in enumerate(model) if isinstance(m, Latent)), None)


def code_layers(frozen) -> list[int]:
    """1-based numbers of the layers whose output can be drawn as a code: the Latent layer of an
    autoencoder, else every layer but the last (the output)."""
    i = latent_index(frozen.model)
    return [i + 1] if i is not None else list(range(1, len(frozen.model)))


def _check_layer(frozen, layer: int | None) -> int:
    i = latent_index(frozen.model)
    if layer is None:
        if i is not None:
            return i + 1
        if len(frozen.model) < 2:
            raise PlaygroundError("this network has a single layer, so it has no hidden layer to draw as a code; "
                                  "add layers, or train an autoencoder (the MNIST autoencoder preset)")
        return len(frozen.model) - 1
    ok = range(1, len(frozen.model) + 1)
    if layer not in ok:
        raise PlaygroundError(f"layer: {layer} is not a layer of this network; its layers are 1 to {len(frozen.model)}")
    return layer


def _device(model):
    return next(model.parameters()).device


@torch.no_grad()
def encode(frozen, split: str = "val", layer: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(codes (N, k) float32, logvar (N, k) or None) of the split's inputs: layer `layer`'s output
    (default: the Latent layer, else the last hidden layer), flattened; for a variational Latent layer
    the means and log-variances."""
    layer = _check_layer(frozen, layer)
    X, _ = split_arrays(frozen, split)
    model = frozen.model.eval()
    head, last = model[:layer], model[layer - 1]
    codes, logvars = [], []
    for i in range(0, len(X), BATCH):
        h = head(X[i:i + BATCH].to(_device(model)))
        codes.append(h.flatten(1).float().cpu())
        if isinstance(last, Latent) and last.variational:
            logvars.append(last.last_logvar.float().cpu())
    codes = torch.cat(codes).numpy()
    if not np.isfinite(codes).all():
        raise PlaygroundError(f"the codes at epoch {frozen.epoch} are not finite numbers (NaN or inf): the run "
                              f"diverged by then; pick an earlier epoch")
    return codes, (torch.cat(logvars).numpy() if logvars else None)


def _decoder(frozen):
    i = latent_index(frozen.model)
    if i is None:
        raise PlaygroundError("this network has no Latent layer, so there is no decoder to draw a code with; "
                              "train an autoencoder (the MNIST autoencoder preset has a 2-D code)")
    return frozen.model.eval()[i + 1:]


def code_size(frozen) -> int:
    """The number of values in the Latent layer's code."""
    i = latent_index(frozen.model)
    if i is None:
        raise PlaygroundError("this network has no Latent layer")
    shape = tuple(frozen.data.X_train.shape[1:])
    with torch.no_grad():
        return int(frozen.model.eval()[:i + 1](torch.zeros((1, *shape), device=_device(frozen.model))).shape[1])


@torch.no_grad()
def decode(frozen, z) -> np.ndarray:
    """The decoder's output for codes z ((k,) or (B, k)): (B, *output shape) float32."""
    dec = _decoder(frozen)
    k = code_size(frozen)
    z = torch.as_tensor(np.asarray(z, dtype=np.float32))
    z = z[None] if z.dim() == 1 else z
    if z.dim() != 2 or z.shape[1] != k:
        raise PlaygroundError(f"z: {z.shape[-1]} numbers do not make a code of this network, which has {k}; give "
                              f"{k} numbers, e.g. --z \"{','.join(['0'] * k)}\"")
    bad = sorted({str(float(v)) for v in z[~torch.isfinite(z)]})
    if bad:
        what = "is not a finite number" if len(bad) == 1 else "are not finite numbers"
        raise PlaygroundError(f"z: {', '.join(bad)} {what}; give {k} finite numbers, one per code dimension, "
                              f"e.g. --z \"{','.join(['0'] * k)}\"")
    return dec(z.to(_device(frozen.model))).float().cpu().numpy()


def decode_view(frozen, z=None) -> View:
    """`inspect RUN decode --z "x,y"`: arrays z (k,), image (the decoder's output for z)."""
    if z is None:
        k = code_size(frozen)
        raise PlaygroundError(f"decode needs a code: --z with {k} numbers, e.g. --z \"{','.join(['0'] * k)}\"")
    out = decode(frozen, z)[0]
    return View({"z": np.asarray(z, np.float32), "image": out},
                {"epoch": frozen.epoch, "step": frozen.step, "partial": frozen.partial,
                 "z": [float(v) for v in np.ravel(z)], "shape": list(out.shape),
                 "min": float(out.min()), "max": float(out.max())})


def grid_codes(x_range: tuple[float, float], y_range: tuple[float, float], n: int) -> np.ndarray:
    """(n*n, 2) codes on an n x n grid over the ranges, row by row from the top (largest y) down,
    so that the decoded images tile as the scatter shows them."""
    xs = np.linspace(*x_range, n, dtype=np.float32)
    ys = np.linspace(*y_range, n, dtype=np.float32)[::-1]
    return np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)


def interpolate(frozen, a: int, b: int, steps: int = 10, split: str = "val") -> View:
    """The straight line from input a's code to input b's, decoded at `steps` points (ends included).
    Arrays: t (steps,), codes (steps, k), images (steps, ...), ends (2, ...) the two inputs."""
    X, _ = split_arrays(frozen, split)
    for name, i in (("a", a), ("b", b)):
        if not 0 <= i < len(X):
            raise PlaygroundError(f"{name}: {i} is outside the {split} split, which has {len(X)} examples "
                                  f"(0 to {len(X) - 1})")
    if steps < 2:
        raise PlaygroundError(f"steps: {steps} is too few; an interpolation needs 2 or more")
    i = latent_index(frozen.model)
    if i is None:
        _decoder(frozen)
    with torch.no_grad():
        ends = frozen.model.eval()[:i + 1](X[[a, b]].to(_device(frozen.model))).float().cpu().numpy()
    t = np.linspace(0, 1, steps, dtype=np.float32)
    codes = (1 - t)[:, None] * ends[0] + t[:, None] * ends[1]
    return View({"t": t, "codes": codes, "images": decode(frozen, codes), "ends": X[[a, b]].numpy()},
                {"epoch": frozen.epoch, "a": a, "b": b, "steps": steps, "split": split})


@torch.no_grad()
def reconstruction_errors(frozen, split: str = "val") -> tuple[np.ndarray, np.ndarray]:
    """(errors (N,), reconstructions (N, ...)): each input's mean squared error per value between
    input and output (MSE, whatever loss the run trained with: one scale for every run and for PCA)."""
    X, _ = split_arrays(frozen, split)
    model = frozen.model.eval()
    out = torch.cat([model(X[i:i + BATCH].to(_device(model))).float().cpu() for i in range(0, len(X), BATCH)])
    if out.shape != X.shape:
        raise PlaygroundError("this network's output is not shaped like its input, so it reconstructs nothing; the "
                              "reconstruction views need an autoencoder")
    return (out - X).pow(2).flatten(1).mean(1).numpy(), out.numpy()


def knn_score(train_codes: np.ndarray, y_train: np.ndarray, val_codes: np.ndarray, y_val: np.ndarray,
              k: int = NEIGHBOURS) -> float:
    """Accuracy on the validation codes of a k-nearest-neighbour classifier fitted on the training
    codes: how much of the label a code keeps, though training never saw a label."""
    from sklearn.neighbors import KNeighborsClassifier

    return float(KNeighborsClassifier(k).fit(train_codes, y_train).score(val_codes, y_val))


def pca_baseline(data, dims: int, knn: bool = True) -> dict:
    """PCA of the flattened training inputs to `dims` dimensions, the notes' comparison: projections
    of both splits, the validation reconstructions and their per-value MSE, the k-NN score of the
    projection, and every eigenvalue of the training inputs' covariance (the discarded ones, past
    `dims`, sum to the training reconstructions' squared error per input: the honest PCA error)."""
    from sklearn.decomposition import PCA

    Xtr = data.X_train.flatten(1).numpy().astype(np.float64)
    Xva = data.X_val.flatten(1).numpy().astype(np.float64)
    dims = max(1, min(dims, Xtr.shape[1], len(Xtr)))
    pca = PCA(svd_solver="covariance_eigh").fit(Xtr)            # every component: the eigenvalues come with it
    eig = pca.explained_variance_ * (len(Xtr) - 1) / len(Xtr)    # of the covariance with 1/n, the MSE's own
    comp, mean = pca.components_[:dims], pca.mean_
    ztr, zva = (Xtr - mean) @ comp.T, (Xva - mean) @ comp.T
    rec_tr, rec_va = ztr @ comp + mean, zva @ comp + mean
    return {"dims": dims, "train": ztr.astype(np.float32), "val": zva.astype(np.float32),
            "recon_val": rec_va.reshape(data.X_val.shape).astype(np.float32),
            "errors_val": ((rec_va - Xva) ** 2).mean(1).astype(np.float32),
            "mse_train": float(((rec_tr - Xtr) ** 2).mean()), "eigenvalues": eig,
            "discarded": float(eig[dims:].sum()), "values": int(Xtr.shape[1]),
            "explained": float(pca.explained_variance_ratio_[:dims].sum()),
            **({"knn": knn_score(ztr, data.y_train.numpy(), zva, data.y_val.numpy())} if knn else {})}


def project_pca(codes: np.ndarray) -> dict:
    """A 2-D PCA of codes: projection (N, 2), components (2, k), mean (k,), explained (2,). Signs
    fixed (each component's largest loading positive) so that a scrubbed animation does not flip."""
    from sklearn.decomposition import PCA

    n = min(2, codes.shape[1])
    pca = PCA(n).fit(codes)
    comp = pca.components_ * np.sign(pca.components_[np.arange(n), np.abs(pca.components_).argmax(1)])[:, None]
    proj = (codes - pca.mean_) @ comp.T
    if n == 1:
        proj, comp = np.c_[proj, np.zeros(len(codes))], np.r_[comp, np.zeros_like(comp)]
    return {"projection": proj.astype(np.float32), "components": comp.astype(np.float32),
            "mean": pca.mean_.astype(np.float32),
            "explained": np.r_[pca.explained_variance_ratio_, np.zeros(2 - n)].astype(np.float32)}


def project(codes: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """(N, 2) codes drawn in 2-D: raw (the first two values), pca, umap or tsne (seeded)."""
    if method not in METHODS:
        raise PlaygroundError(f"method: '{method}' is not one of {', '.join(METHODS)}")
    if method == "raw":
        if codes.shape[1] > 3:
            raise PlaygroundError(f"method: raw draws codes of at most 3 values, and these have {codes.shape[1]}; "
                                  f"use pca, umap or tsne")
        return codes if codes.shape[1] > 1 else np.c_[codes, np.zeros(len(codes), np.float32)]
    if method == "pca":
        return project_pca(codes)["projection"]
    from playground.projection import fit
    return fit(codes, method, seed)


def latent(frozen, split: str = "val", method: str | None = None, layer: int | None = None, seed: int = 0,
           compare: bool = True) -> View:
    """The split encoded, drawn in 2-D. Arrays: codes (N, k), labels (N,), projection (N, 2) (raw:
    the code itself when k <= 3, so (N, 3) for k = 3), and for an autoencoder errors (N,) (per-value
    MSE of each reconstruction), class_errors (C,); for a variational one logvar (N, k); for pca the
    projection's components (2, k) and mean (k,). The default method is raw for codes of 3 values or
    fewer, else pca. Summary: dims, method, knn (the 5-NN score of the codes, fitted on the
    training codes, scored on the validation codes) and, with compare and a Latent layer, the PCA
    baseline at the same dims: its knn, its and the autoencoder's validation MSE."""
    layer = _check_layer(frozen, layer)
    codes, logvar = encode(frozen, split, layer)
    k = codes.shape[1]
    method = method or ("raw" if k <= 3 else "pca")
    _, y = split_arrays(frozen, split)
    labels = y.numpy()
    arrays = {"codes": codes, "labels": labels}
    summary = {"epoch": frozen.epoch, "step": frozen.step, "partial": frozen.partial, "split": split,
               "layer": layer, "dims": k, "method": method, "n": int(len(codes)),
               "kind": ("variational autoencoder" if logvar is not None else
                        "autoencoder" if latent_index(frozen.model) is not None else "hidden layer")}
    if method == "pca":
        p = project_pca(codes)
        arrays.update(projection=p["projection"], components=p["components"], mean=p["mean"])
        summary["explained"] = [float(v) for v in p["explained"]]
    else:
        arrays["projection"] = project(codes, method, seed)
    if logvar is not None:
        arrays["logvar"] = logvar
    classes = labels.ndim == 1 and labels.dtype.kind in "iu"
    if classes:
        val_codes = codes if split == "val" else encode(frozen, "val", layer)[0]
        summary["knn"] = knn_score(encode(frozen, "train", layer)[0], frozen.data.y_train.numpy(), val_codes,
                                   frozen.data.y_val.numpy())
        summary["class_names"] = [str(c) for c in frozen.data.class_names]
    if latent_index(frozen.model) is not None:
        errors, _ = reconstruction_errors(frozen, split)
        arrays["errors"] = errors
        summary["mse"] = float(errors.mean())
        if classes:
            C = len(frozen.data.class_names)
            arrays["class_errors"] = np.array([errors[labels == c].mean() if (labels == c).any() else np.nan
                                               for c in range(C)], np.float32)
        if compare:
            base = pca_baseline(frozen.data, k, knn=classes)
            summary["pca"] = {"dims": base["dims"], "mse_val": float(base["errors_val"].mean()),
                              "mse_train": base["mse_train"], "explained": base["explained"],
                              **({"knn": base["knn"]} if classes else {})}
    return View(arrays, summary)
