import importlib
from pathlib import Path

import pytest
import torch

from invert import priors
from invert.priors.base import Prior


BUILTIN = ["dip", "deep_decoder", "tv", "pixel", "fourier", "maco"]


def test_registry_lists_builtins():
    assert set(BUILTIN) <= set(priors.available())
    assert priors.available("deep*") == ["deep_decoder"]


def test_unknown_prior_names_close_ones():
    with pytest.raises(priors.UnknownPriorError, match="did you mean dip"):
        priors.create("dipp")


def test_unknown_preset_lists_presets():
    with pytest.raises(priors.UnknownPriorError, match="paper-denoise"):
        priors.create("dip", preset="paper-nonsense")


def test_new_prior_is_one_decorator():
    class Constant(Prior):
        def __init__(self, channels, size, level):
            super().__init__(channels, size)
            self.level = torch.nn.Parameter(torch.tensor(level))

        def render(self, input_noise_std, generator):
            return self.level.expand(1, self.channels, *self.size)

    @priors.register("constant_test", presets={"default": {"prior": {"level": 0.25}, "fit": {"steps": 3}}})
    def constant_test(channels, size, level=0.5):
        """A flat image."""
        return Constant(channels, size, level)

    try:
        p = priors.create("constant_test", size=(5, 7), channels=1)
        assert torch.allclose(p(), torch.full((1, 1, 5, 7), 0.25))
        assert p.fit_defaults == {"steps": 3}
    finally:
        priors.registry._REGISTRY.pop("constant_test")


@pytest.mark.parametrize("name", BUILTIN)
@pytest.mark.parametrize("channels", [1, 3])
def test_any_size_and_channels(name, channels):
    p = priors.create(name, channels=channels, size=(37, 53))
    x = p()
    assert x.shape == (1, channels, 37, 53)
    assert torch.isfinite(x).all()


@pytest.mark.parametrize("name", BUILTIN)
def test_same_seed_same_image_other_seed_other_image(name):
    a = priors.create(name, size=(24, 40), seed=3)()
    b = priors.create(name, size=(24, 40), seed=3)()
    c = priors.create(name, size=(24, 40), seed=4)()
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name", BUILTIN)
def test_gradients_reach_every_parameter(name):
    p = priors.create(name, size=(21, 34))
    (p() * torch.linspace(0, 1, 34)).mean().backward()  # an energy that is not flat in any direction
    for param_name, param in p.named_parameters():
        assert param.grad is not None and float(param.grad.abs().sum()) > 0, param_name


def test_generators_output_in_unit_range():
    for name in ("dip", "deep_decoder", "fourier", "maco"):
        x = priors.create(name, size=(33, 33))()
        assert 0 <= float(x.detach().min()) and float(x.detach().max()) <= 1


def test_paper_denoise_net_has_paper_size():
    with torch.device("meta"):
        n = priors.create("dip", preset="paper-denoise", size=(512, 512)).num_parameters()
    assert 2.1e6 < n < 2.3e6  # "about 2.2 M parameters"


def test_paper_presets_carry_paper_settings():
    assert priors.preset("dip", "paper-denoise")["fit"] == {"lr": 0.01, "steps": 3000, "reg_noise_std": 1 / 30, "ema": 0.99}
    assert priors.preset("dip", "paper-sr4")["fit"]["steps"] == 2000
    assert priors.preset("dip", "paper-sr8")["fit"]["reg_noise_std"] == 0.05
    inpaint = priors.preset("dip", "paper-inpaint")
    assert inpaint["prior"]["channels_skip"] == [128] * 5 and inpaint["prior"]["upsample"] == "nearest"
    assert inpaint["fit"]["steps"] == 6000


def test_deep_decoder_is_under_parameterized_and_counts_parameters():
    k, depth, c = 64, 6, 3
    p = priors.create("deep_decoder", size=(256, 256), channels=c, width=k, depth=depth)
    assert p.num_parameters() == depth * (k * k + 2 * k) + k * c  # 1×1 convs, norm scales/shifts, head
    assert p.num_parameters() < 256 * 256 * c
    assert p.net_input.shape == (1, k, 4, 4)


def test_dip_options_build():
    p = priors.create("dip", size=(20, 30), channels_down=[8, 8], channels_up=[8, 8], channels_skip=[0, 2],
                      upsample="nearest", downsample="avg", pad="zero", input_kind="meshgrid")
    assert p().shape == (1, 3, 20, 30)
    assert p.net_input.shape[1] == 2


def test_bad_dip_option_is_a_clear_error():
    """A setting error of the package's own (an InvertError, a ValueError) that names the argument at fault."""
    from invert.errors import SettingError

    with pytest.raises(SettingError, match="upsample must be 'bilinear' or 'nearest'") as caught:
        priors.create("dip", size=(16, 16), upsample="cubic")
    assert caught.value.setting == "upsample" and isinstance(caught.value, priors.PriorError)


def test_tv_prior_adds_its_regularizer():
    p = priors.create("tv", size=(8, 8), weight=2.0)
    flat = torch.full((1, 3, 8, 8), 0.5)
    assert float(p.regularizer()(flat)) == pytest.approx(2.0 * 1e-4, rel=1e-3)  # only eps inside (·)^β/2
    assert priors.create("pixel", size=(8, 8)).regularizer() is None


def test_dip_carries_total_variation_when_asked():
    flat = torch.full((1, 3, 8, 8), 0.5)
    ramp = torch.linspace(0, 1, 8).expand(1, 3, 8, 8)
    p = priors.create("dip", preset="fast", size=(8, 8), tv_weight=0.5)
    assert float(p.regularizer()(ramp)) > float(p.regularizer()(flat))
    assert priors.create("dip", preset="fast", size=(8, 8)).regularizer() is None
    assert priors.create("dip", preset="denoise", size=(8, 8)).regularizer() is not None
    assert priors.preset_for("dip", "denoise") == "denoise" and priors.preset_for("dip", "sr") == "fast"
    with pytest.raises(ValueError, match="tv_weight"):
        priors.create("dip", size=(8, 8), tv_weight=-1.0)


def test_deep_decoder_depth_adapts_to_small_images():
    assert priors.create("deep_decoder", size=(512, 512)).net_input.shape[-2:] == (8, 8)  # 6 layers
    small = priors.create("deep_decoder", size=(32, 48))
    assert min(small.net_input.shape[-2:]) >= 4
    assert float(small().detach().std()) > 0  # not a flat image


def test_fourier_prior_scales_its_spectrum_by_one_over_frequency():
    p = priors.create("fourier", size=(32, 48))
    assert p.spectrum.shape == (1, 3, 32, 25) and p.spectrum.is_complex()
    assert float(p.scale[0, 1]) == pytest.approx(48.0) and float(p.scale[0, 24]) == pytest.approx(2.0)
    assert float(p.scale[0, 0]) == pytest.approx(48.0)  # the DC term capped at 1 / max(H, W)


def test_maco_optimizes_the_phase_of_a_natural_magnitude(tmp_path, monkeypatch):
    monkeypatch.setenv("INVERT_CACHE", str(tmp_path))
    priors.maco.natural_spectrum.cache_clear()
    p = priors.create("maco", size=(40, 56))
    assert [n for n, _ in p.named_parameters()] == ["phase"]
    assert (tmp_path / "maco_spectrum_v1_40x56.pt").is_file()  # cached for the next run
    magnitude = p.magnitude[0, 0]
    # natural photos: amplitude falls with frequency, roughly as 1/f
    low, high = float(magnitude[1:3, 1:3].mean()), float(magnitude[16:20, 20:24].mean())
    assert low > 5 * high
    # the image's own spectrum keeps that magnitude wherever the optimizer moves the phase
    with torch.no_grad():
        p.phase.add_(torch.randn_like(p.phase))
    logits = torch.logit(p().detach().clamp(1e-6, 1 - 1e-6))
    spectrum = torch.fft.rfft2(priors.color.decorrelate(logits)).abs()[0]
    # (columns 0 and W/2 must be Hermitian-symmetric: irfft2 drops what is not, so they are left out)
    ratio = spectrum[:, :, 1:-1] / p.magnitude[0, :, :, 1:-1]
    assert float(ratio.std() / ratio.mean()) < 1e-3


TOY_PRIOR = '''
import torch

from .base import Prior
from .registry import register


class Flat(Prior):
    def __init__(self, channels, size):
        super().__init__(channels, size)
        self.level = torch.nn.Parameter(torch.tensor(0.5))

    def render(self, input_noise_std, generator):
        return self.level.expand(1, self.channels, *self.size)


@register("toy", presets={"default": {"prior": {}, "fit": {"steps": 3}}})
def toy(channels, size):
    """A flat grey image."""
    return Flat(channels, size)
'''


def test_a_new_prior_is_one_file(tmp_path, monkeypatch):
    """A copy of the package with one more file: the package registers it and the command line knows its name,
    with nothing else edited."""
    import shutil
    import sys

    from invert import defaults

    folder = tmp_path / "priors_copy"
    shutil.copytree(Path(priors.__file__).parent, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "toy.py").write_text(TOY_PRIOR)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        copy = importlib.import_module("priors_copy")
        assert copy.available() == sorted([*priors.available(), "toy"])
        assert list(defaults.prior_names_in(folder)) == copy.available()
        assert copy.create("toy", size=(4, 4)).fit_defaults == {"steps": 3}
    finally:
        for name in [m for m in sys.modules if m == "priors_copy" or m.startswith("priors_copy.")]:
            del sys.modules[name]


def test_the_names_are_read_however_the_decorator_is_spelt(tmp_path):
    from invert import defaults

    (tmp_path / "several.py").write_text(
        '@register("first", presets={})\ndef a(): ...\n\n@priors.register(name="second")\ndef b(): ...\n\n'
        '@register()\ndef third(): ...\n\n@functools.cache\ndef not_a_prior(): ...\n')
    assert defaults.prior_names_in(tmp_path) == ("first", "second", "third")


def test_a_factory_must_build_a_prior():
    @priors.register("not_a_prior_test")
    def not_a_prior_test(channels, size):
        """A plain module."""
        return torch.nn.Conv2d(channels, channels, 1)

    try:
        with pytest.raises(priors.PriorError, match="returned a Conv2d, not a priors.Prior"):
            priors.create("not_a_prior_test")
    finally:
        priors.registry._REGISTRY.pop("not_a_prior_test")


def test_a_default_preset_must_be_among_the_presets():
    with pytest.raises(priors.PriorSettingError, match="default_preset 'fast' is not among"):
        priors.register("bad_preset_test", presets={"default": {}}, default_preset="fast")(lambda channels, size: None)
