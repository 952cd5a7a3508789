"""Layer specs -> nn.Module, with shape inference, parameter counts and presets."""
from playground.models.build import LayerRow, build_model, summarize, summarize_partial
from playground.models.layers import LAYERS, layer_args_text, parse_layer_args
from playground.models.presets import PRESETS, preset_layers

__all__ = ["LAYERS", "LayerRow", "PRESETS", "build_model", "layer_args_text", "parse_layer_args",
           "preset_layers", "summarize", "summarize_partial"]
