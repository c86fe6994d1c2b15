"""The one thing pyproject.toml cannot say: its ``packages`` is either a list or a find
directive, and find cannot rename a directory. The packages are all found here: every
``transient`` package of the tree, and the built-in backends of ``backends/``, which install as
``transient_backends`` (package-dir in pyproject.toml) so that nothing called ``backends``
lands in site-packages. Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

BACKENDS = "transient_backends"

setup(
    packages=[
        *find_packages(include=["transient", "transient.*"]),
        BACKENDS,
        *(BACKENDS + "." + name for name in find_packages("backends")),
    ]
)
