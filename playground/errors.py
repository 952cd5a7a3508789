"""Errors a user can cause and fix. Each message names the item, the value and the fix."""


class PlaygroundError(Exception):
    """Base class: anything raised with this type is shown to the user as-is, no traceback."""


class ConfigError(PlaygroundError):
    """A config field has a bad value (unknown optimizer, negative learning rate, ...)."""


class ShapeError(PlaygroundError):
    """The network cannot run on the data: names the layer, the shapes and a fix."""


class DataError(PlaygroundError):
    """A data set cannot be loaded (offline, missing files, bad upload)."""


class DeviceError(PlaygroundError):
    """The requested device is not present on this machine."""
