"""Build a blind whole-document set (bench/docs, bench/docs-heldout, ...) from its ``src/`` folder.

Reuses the sample builder (``samples/build.py``) unchanged; only its source and output folders are
redirected. Usage::

    python bench/build_docs.py bench/docs             # build every source in bench/docs/src/
    python bench/build_docs.py bench/docs ja-sow      # only sources whose name contains "ja-sow"
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_builder(folder: Path):
    spec = importlib.util.spec_from_file_location("samples_build", ROOT / "samples" / "build.py")
    assert spec and spec.loader
    builder = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = builder  # dataclasses look the module up by name
    spec.loader.exec_module(builder)
    builder.SRC = folder / "src"
    builder.OUT = folder
    builder.HERE = folder  # main() prints paths relative to HERE.parent
    return builder


if __name__ == "__main__":
    if len(sys.argv) < 2 or not (Path(sys.argv[1]) / "src").is_dir():
        sys.exit("usage: python bench/build_docs.py FOLDER [NAME-FILTER...]  (FOLDER has a src/)")
    sys.exit(load_builder(Path(sys.argv[1]).resolve()).main(sys.argv[2:]))
