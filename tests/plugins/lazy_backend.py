"""The NumPy test backend under another name, imported only when `lazy-test` is used."""

from numpy_backend import NumpyBackend


class LazyBackend(NumpyBackend):
    name = "lazy-test"
