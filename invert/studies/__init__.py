"""Studies: images × layers × priors × seeds (or units, or restorations) as one resumable job.

A spec (TOML) names the cells (`spec`). Each cell is a plain function of its settings (`runner.run_cell`, which
calls the operation's `run`), keyed by a hash of them, so a rerun skips the cells already done and a changed spec
runs only the new ones. A cell's files land in DIR/cells/KEY/ and one JSON line per finished cell in
DIR/manifest.jsonl (`manifest`), which is all the report needs.
"""
from __future__ import annotations

from ..operations import StudyError, expand_images
from .manifest import MANIFEST, SPEC_FILE, finished_cells, read_manifest, record_spec, spec_changes, unfinished
from .runner import run_cell, run_study, write_report
from .report import study_report, study_table
from .spec import KEYS, MAX_CELLS, Spec, cell_key, check_size, load_spec, spec_of

__all__ = ["KEYS", "MANIFEST", "MAX_CELLS", "SPEC_FILE", "Spec", "StudyError", "cell_key", "check_size",
           "expand_images", "finished_cells", "load_spec", "read_manifest", "record_spec",
           "run_cell", "run_study", "spec_changes", "spec_of", "study_report", "study_table", "unfinished",
           "write_report"]
