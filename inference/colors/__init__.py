"""Colour vocabulary, palette, dominant colours and KD-tree naming."""

from .dominant import DominantColor, dominant_colors
from .naming import ColorNamer, NamedColor, PaletteColor, default_palette
from .space import delta_e_2000, hex_to_rgb, lab_to_rgb, rgb_to_hex, rgb_to_lab
from .vocabulary import ColorEntry, ColorVocabulary, default_vocabulary, normalise

__all__ = [
    "ColorEntry", "ColorNamer", "ColorVocabulary", "DominantColor", "NamedColor",
    "PaletteColor", "default_palette", "default_vocabulary", "delta_e_2000",
    "dominant_colors", "hex_to_rgb", "lab_to_rgb", "normalise", "rgb_to_hex", "rgb_to_lab",
]
