"""Starting networks. Sized to the data: the last Linear gets out_features = number of classes."""
from __future__ import annotations

PRESETS = {
    "MLP": "two hidden layers of 16 with ReLU (TensorFlow Playground style)",
    "Deep MLP": "four hidden layers of 32 with ReLU",
    "Small CNN": "two Conv2d+ReLU+MaxPool blocks and a Linear head (images)",
    "Logistic regression": "a single Linear layer: a straight decision boundary",
}


def preset_layers(name: str, kind: str, num_classes: int) -> list:
    """Layer specs of preset name for data of kind ("points"/"image") with num_classes classes."""
    flat = [{"type": "Flatten"}] if kind == "image" else []
    if name == "MLP":
        width = 16 if kind == "points" else 64
        return flat + [{"type": "Linear", "out_features": width}, {"type": "ReLU"},
                       {"type": "Linear", "out_features": width}, {"type": "ReLU"},
                       {"type": "Linear", "out_features": num_classes}]
    if name == "Deep MLP":
        hidden = []
        for _ in range(4):
            hidden += [{"type": "Linear", "out_features": 32}, {"type": "ReLU"}]
        return flat + hidden + [{"type": "Linear", "out_features": num_classes}]
    if name == "Small CNN":
        return [{"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
                {"type": "MaxPool2d", "kernel_size": 2},
                {"type": "Conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
                {"type": "MaxPool2d", "kernel_size": 2},
                {"type": "Flatten"}, {"type": "Linear", "out_features": num_classes}]
    if name == "Logistic regression":
        return flat + [{"type": "Linear", "out_features": num_classes}]
    raise KeyError(f"unknown preset '{name}'; pick one of {', '.join(PRESETS)}")
