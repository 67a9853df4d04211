"""Domain exceptions of the inference library; messages are meant for end users."""

from __future__ import annotations


class InferenceError(Exception):
    """Base class for errors raised by the inference library."""


class ImageError(InferenceError):
    """An image cannot be read: empty, corrupt, truncated, too large or not an image."""


class WeightsError(InferenceError):
    """Shipped weights are missing, damaged or do not match their model card."""


class UnknownComponentError(InferenceError, KeyError):
    """A registry was asked for a name it does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])
