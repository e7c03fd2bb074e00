"""Keras layers of tfae: building blocks of the lecture's models."""

from tfae.layers.masked_dense import MaskedDense

__all__ = ["MaskedDense"]
