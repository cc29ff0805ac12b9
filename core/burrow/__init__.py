"""Burrow: a polyglot chatops robot engine with one-shot extension children."""

__version__ = "0.1.0"

__all__ = ["__version__"]
