"""Build the blind held-out whole-document set from ``bench/docs-heldout/src/``.

Outputs go to ``bench/docs-heldout/``.

Reuses the sample builder (``samples/build.py``) unchanged; only its source and output
folders are redirected. Usage::

    python bench/docs-heldout/build.py            # build everything
    python bench/docs-heldout/build.py ja-poc     # only sources whose name contains "ja-poc"
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

_spec = importlib.util.spec_from_file_location("samples_build", ROOT / "samples" / "build.py")
assert _spec and _spec.loader
samples_build = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = samples_build  # dataclasses look the module up by name
_spec.loader.exec_module(samples_build)

samples_build.SRC = HERE / "src"
samples_build.OUT = HERE
samples_build.HERE = HERE  # main() prints paths relative to HERE.parent

if __name__ == "__main__":
    sys.exit(samples_build.main(sys.argv[1:]))
