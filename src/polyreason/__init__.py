"""polyreason: teach small language models to reason, in any language."""

__version__ = "0.1.0"
