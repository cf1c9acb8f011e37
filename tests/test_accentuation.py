"""Feature accentuation (invert/accentuation.py): the prior starts at the photo, a few steps raise the unit above
the photo's activation, and a photo of the wrong shape is refused under the setting's public name."""
import pytest
import torch
from PIL import Image
from skimage import data

from invert import priors, zoo
from invert.accentuation import PHOTO_EPS, Seeded, accentuate, photo_distance
from invert.errors import SettingError
from invert.objectives import PixelPenalty, channel
from invert.preimages import Judges
from invert.priors.color import decorrelate

UNIT = channel("blocks.5", 3)


@pytest.fixture(scope="module")
def lite0():
    return zoo.load("efficientnet_lite0")


@pytest.fixture(scope="module")
def coffee(lite0):
    return lite0.prepare_image(Image.fromarray(data.coffee()))


@pytest.mark.parametrize("name", ["fourier", "dip"])
def test_the_seeded_prior_renders_the_photo_at_step_0(name, coffee):
    torch.manual_seed(0)
    prior = priors.create(name, channels=3, size=(224, 224), preset="maximize" if name == "dip" else None, seed=0)
    with torch.no_grad():
        start = Seeded(prior, coffee)()
    assert (start - coffee).abs().max() <= PHOTO_EPS + 1e-5  # only the clamp away from 0 and 1 differs


def test_a_few_steps_raise_the_unit_above_the_photo_and_stay_close_to_it(lite0, coffee):
    hooks = sum(len(m._forward_hooks) for m in lite0.model.modules())
    image, record, fit = accentuate(Judges(lite0), UNIT, coffee, steps=4, seed=0)
    assert image.shape == coffee.shape and fit.steps_run == 4
    assert {"activation", "photo_activation", "ssim_to_photo", "weight", "prior", "top1"} <= set(record)
    assert record["prior"] == "fourier"
    assert record["activation"] > record["photo_activation"]
    assert record["ssim_to_photo"] > 0.5
    assert sum(len(m._forward_hooks) for m in lite0.model.modules()) == hooks  # no hook left on the model


def test_the_closeness_term_composes_with_the_unit_by_the_algebra(coffee):
    goal = UNIT + 10 * photo_distance(coffee)
    weights = dict((repr(term), weight) for weight, term in goal.weighted_terms())
    assert weights == {"blocks.5:3": 1.0, "photo_distance": 10.0}
    assert isinstance(goal.terms()[1], PixelPenalty)
    assert float(photo_distance(coffee)({}, coffee)) == 0.0


@pytest.mark.parametrize("bad", [torch.rand(1, 3, 64, 64), torch.rand(3, 224, 224), torch.rand(1, 3, 224, 224) * 2])
def test_a_photo_of_the_wrong_shape_or_range_is_refused_naming_from_image(lite0, bad):
    with pytest.raises(SettingError, match="from_image") as refused:
        accentuate(Judges(lite0), UNIT, bad, steps=1)
    assert refused.value.setting == "from_image"


def test_for_the_fourier_prior_the_seeded_start_is_horamas_spectrum_of_the_photo(coffee):
    """Horama sets the spectrum to the photo's (its preconditioner inverted); Seeded offsets the pre-sigmoid
    output instead. The Fourier prior is linear before its sigmoid, so both take the same Adam steps."""
    seeded = Seeded(priors.create("fourier", channels=3, size=(224, 224), seed=0), coffee)
    horama = priors.create("fourier", channels=3, size=(224, 224), seed=1)
    with torch.no_grad():
        logits = decorrelate(torch.logit(coffee.clamp(PHOTO_EPS, 1 - PHOTO_EPS))) * horama.MAGIC
        horama.spectrum.copy_(torch.fft.rfft2(logits, norm="ortho") / horama.scale)
    target = torch.rand_like(coffee)
    for prior in (seeded, horama):
        adam = torch.optim.Adam(prior.parameters(), lr=0.05)
        for _ in range(10):
            adam.zero_grad()
            (prior() - target).pow(2).mean().backward()
            adam.step()
    with torch.no_grad():
        assert (seeded() - coffee).abs().mean() > 0.05  # it moved
        assert torch.allclose(seeded(), horama(), atol=1e-4)
