import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, os.cpu_count() or 1))


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
