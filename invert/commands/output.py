"""What a command leaves behind: an output folder created fresh (never over a user's files), and notes."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import UserError


def prepare_output_dir(path: str, overwrite: bool) -> Path:
    """Create `path` (or accept it empty); refuse a non-empty one unless `overwrite`, and unwritable ones."""
    if not path or not path.strip():
        raise UserError("--out is empty; give a folder for the results, e.g. --out runs/denoise")
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a folder; choose another path")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise UserError(f"output folder {out} already exists and is not empty; choose another --out or add --overwrite")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output folder {out}: {exc.strerror}; choose a writable --out") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UserError(f"output folder {out} is not writable; choose a writable --out")
    return out


def say(*lines: str) -> None:
    """Tell the user, on stderr, what was done for them (conversions, defaults, where results went)."""
    for line in lines:
        print(f"invert: {line}", file=sys.stderr)
