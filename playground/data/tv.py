"""torchvision's MNIST, Fashion-MNIST and CIFAR-10: from a data folder, or downloaded when asked."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from playground.errors import DataError

SETS = {
    "mnist": ("MNIST (torchvision)", "70,000 handwritten digits, 28x28 grey; needs files or internet"),
    "fashion_mnist": ("Fashion-MNIST (torchvision)", "70,000 clothing images, 28x28 grey; needs files or internet"),
    "cifar10": ("CIFAR-10 (torchvision)", "60,000 colour photos, 32x32, 10 classes; needs files or internet"),
}
CLASSES = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}


@functools.lru_cache(maxsize=3)
def _arrays(name: str, root: str, download: bool):
    import torchvision.datasets as tvd

    klass = getattr(tvd, CLASSES[name])
    try:
        train = klass(root, train=True, download=download)
        test = klass(root, train=False, download=download)
    except RuntimeError:               # torchvision: "Dataset not found. You can use download=True ..."
        hint = ("switch on 'download' (needs internet)" if not download else
                "this machine looks offline: copy the files into that folder from a machine that is online")
        raise DataError(f"{CLASSES[name]} is not in '{Path(root).resolve()}': {hint}. "
                        f"The offline sets (mnist_subset, digits, shapes) need no files.") from None
    except OSError as e:               # URLError and socket errors are OSErrors
        raise DataError(f"downloading {CLASSES[name]} into '{Path(root).resolve()}' failed "
                        f"({e.__class__.__name__}: {e}); this machine looks offline. Copy the files into that "
                        f"folder, or use mnist_subset, which ships offline.") from None
    X = np.concatenate([np.asarray(train.data), np.asarray(test.data)])
    y = np.concatenate([np.asarray(train.targets), np.asarray(test.targets)])
    X = torch.from_numpy(X.astype(np.float32) / 255.0)
    X = X.permute(0, 3, 1, 2) if X.ndim == 4 else X.unsqueeze(1)        # (N, C, H, W)
    return X.contiguous(), torch.from_numpy(y.astype(np.int64)), list(train.classes)


def loader(name: str):
    def load(cfg, seed: int):
        from playground.data import Dataset, split

        X, y, classes = _arrays(name, cfg.data_dir, bool(cfg.download))
        Xtr, ytr, Xva, yva = split(X, y, cfg.val_fraction, seed, cfg.max_train)
        return Dataset(name, "image", Xtr, ytr, Xva, yva, classes)
    return load
