"""Builds the optional C accelerator; everything else is in pyproject.toml.

Without a working compiler the build goes on and wsproto installs pure-Python
(the accelerator is only ever an optimisation). Set WSPROTO_NO_EXTENSIONS=1 to
skip building it at all.
"""

import os

from setuptools import Extension, setup

ext_modules = []
if not os.environ.get("WSPROTO_NO_EXTENSIONS"):
    ext_modules.append(Extension("wsproto._speedups", ["src/wsproto/_speedups.c"], optional=True))

setup(ext_modules=ext_modules)
