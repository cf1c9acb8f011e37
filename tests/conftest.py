import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from invert import threads  # noqa: E402  (imports no torch)

threads.prepare()  # before torch loads: OpenMP's idle threads spin briefly, as the command line has them

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

# the command line's policy: as many threads as the cores other processes leave free (beside another job, one)
threads.set_threads(None)


@pytest.fixture
def photo() -> torch.Tensor:
    """A 64×64 crop of a natural photo (scikit-image's astronaut), 1×3×H×W in [0, 1]."""
    from skimage import data

    a = data.astronaut()[40:104, 200:264].astype(np.float32) / 255
    return torch.from_numpy(a.copy()).permute(2, 0, 1)[None]


@pytest.fixture
def photo_file(tmp_path, photo) -> str:
    from invert.images import save_image

    path = tmp_path / "photo.png"
    save_image(photo, path)
    return str(path)


@pytest.fixture
def run_cli(capsys):
    """Runs the command line in this process: (exit code, what it printed as .out and .err); a refusal while
    parsing (argparse's SystemExit) counts as its exit code."""
    from invert import cli

    def run(*argv: str):
        try:
            code = cli.main(list(argv))
        except SystemExit as exit_info:
            code = exit_info.code
        return code, capsys.readouterr()

    return run
