import numpy as np
import pytest
import timm
import torch
from PIL import Image
from skimage import data

from invert import zoo


@pytest.fixture(scope="module")
def lite0():
    return zoo.load(zoo.DEFAULT_MODEL)


def classify(loaded, array):
    x = loaded.prepare_image(Image.fromarray(array))
    with torch.no_grad():
        return int(loaded.model(loaded.preprocess(x)).argmax())


def test_default_model_is_a_real_imagenet_classifier_offline(lite0):
    assert 281 <= classify(lite0, data.chelsea()) <= 285  # a domestic cat class
    assert classify(lite0, data.coffee()) == 967  # espresso
    assert lite0.input_size == (3, 224, 224)
    assert not any(p.requires_grad for p in lite0.model.parameters())
    assert not lite0.model.training


def test_preprocess_is_the_models_normalization(lite0):
    x = torch.full((1, 3, 4, 4), 0.75)
    assert torch.allclose(lite0.preprocess(x), torch.full_like(x, 0.5))  # mean = std = 0.5 for Lite


def test_layers_lists_every_module_with_shapes(lite0):
    infos = {i.name: i for i in zoo.layers(lite0.model, lite0.input_size)}
    assert len(infos) == len([n for n, _ in lite0.model.named_modules() if n])
    assert infos["blocks.1"].output_shape == (24, 56, 56)
    assert infos["classifier"].output_shape == (1000,)
    assert zoo.default_layers(lite0.model, lite0.input_size)[-1] == "classifier"


def test_feature_extractor_stops_after_the_deepest_layer(lite0):
    ran = []
    handle = lite0.model.conv_head.register_forward_hook(lambda *a: ran.append(True))
    try:
        with zoo.FeatureExtractor(lite0.model, ["blocks.1", "blocks.0"]) as fx:
            feats = fx(torch.zeros(1, 3, 224, 224))
    finally:
        handle.remove()
    assert feats["blocks.1"].shape == (1, 24, 56, 56) and feats["blocks.0"].shape == (1, 16, 112, 112)
    assert not ran


def test_norm_statistics_tell_a_photo_from_noise(lite0):
    photo = lite0.prepare_image(Image.fromarray(data.coffee()))
    noise = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    norms = zoo.NormStatistics(lite0.model)
    try:
        distances = []
        for x in (photo, noise):
            with torch.no_grad(), norms.recording():
                lite0.model(lite0.preprocess(x))
            distances.append(float(norms.distance()))
        lite0.model(lite0.preprocess(photo))  # outside recording() the hooks record nothing
        unchanged = float(norms.distance())
    finally:
        norms.remove()
    assert 0 < distances[0] < 0.8 * distances[1] and unchanged == distances[1]
    with pytest.raises(zoo.ZooError, match="no BatchNorm"):
        zoo.NormStatistics(torch.nn.Conv2d(3, 3, 1))


def test_unknown_layer_names_close_ones(lite0):
    with pytest.raises(zoo.ZooError, match=r"did you mean.*blocks.*invert\.zoo\.layers\(model, input_size\)"):
        zoo.FeatureExtractor(lite0.model, ["blokcs.1"])  # in Python's words: the library knows no command line


def test_layer_never_reached_is_an_error():
    class WithSpare(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.spare = torch.nn.Conv2d(3, 4, 1), torch.nn.Conv2d(4, 4, 1)

        def forward(self, x):
            return self.used(x)

    with pytest.raises(zoo.ZooError, match="never reaches"):
        zoo.FeatureExtractor(WithSpare(), ["spare"])(torch.zeros(1, 3, 8, 8))


def test_unknown_model_names_close_ones():
    with pytest.raises(zoo.ZooError, match="resnet50"):
        zoo.load("resnt50")
    with pytest.raises(zoo.ZooError, match="tv:vgg16"):
        zoo.load("tv:vgg61")


def test_offline_without_weights_is_a_clear_error():
    with pytest.raises(zoo.ZooError, match="give a local checkpoint file as weights") as error:
        zoo.load("resnet18")
    assert error.value.setting == "weights"  # the CLI says --weights


def test_a_damaged_or_unwritable_weights_cache_costs_only_time(tmp_path, monkeypatch):
    from invert.zoo import efficientnet_lite

    monkeypatch.setenv("INVERT_CACHE", str(tmp_path))
    reference = efficientnet_lite.load_lite(0).state_dict()
    cached = next(tmp_path.glob("*.pth"))
    cached.write_bytes(b"damaged")
    assert efficientnet_lite.load_lite(0).state_dict()["conv_stem.weight"].equal(reference["conv_stem.weight"])
    assert cached.stat().st_size > 1000  # converted and cached again
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("INVERT_CACHE", str(blocker / "cache"))  # a cache folder that cannot be made
    assert efficientnet_lite.load_lite(0).state_dict()["conv_stem.weight"].equal(reference["conv_stem.weight"])


def test_local_weights_file(tmp_path):
    reference = timm.create_model("resnet18", pretrained=False)
    path = tmp_path / "r18.pth"
    torch.save(reference.state_dict(), path)
    loaded = zoo.load("resnet18", weights=str(path))
    assert torch.equal(loaded.model.fc.weight, reference.fc.weight)
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(zoo.ZooError, match="cannot read weights"):
        zoo.load("resnet18", weights=str(bad))
    with pytest.raises(zoo.ZooError, match="not found"):
        zoo.load("resnet18", weights=str(tmp_path / "missing.pth"))
    with pytest.raises(zoo.ZooError, match="does not fit"):
        zoo.load("resnet34", weights=str(path))


def test_torchvision_models_by_name_with_their_preprocessing():
    loaded = zoo.load("tv:resnet18", pretrained=False)
    assert loaded.name == "tv:resnet18" and loaded.input_size == (3, 224, 224)
    assert np.allclose(loaded.mean, (0.485, 0.456, 0.406))


def test_any_module_from_python():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(8, 5))
    loaded = zoo.load(net)
    assert loaded.input_size == (3, 224, 224)
    assert [i.name for i in zoo.layers(loaded.model, loaded.input_size)] == ["0", "1", "2", "3", "4"]


def test_class_names_read_without_timm_equal_timm_s_own():
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    for index in (0, 130, 282, 517, 999):
        assert zoo.class_name(index) == info.index_to_description(index).split(",")[0].strip()


def test_class_names_come_from_timms_offline_label_data():
    assert zoo.class_name(282) == "tiger cat" and zoo.class_name(130) == "flamingo"
    assert zoo.class_name(1000) is None and zoo.class_name(None) is None
    assert zoo.class_index("flamingo") == 130 and zoo.class_index(" Tiger  Cat ") == 282
    assert zoo.class_index("Carassius auratus") == 1  # any lemma of the class
    assert zoo.class_index("967") == 967
    with pytest.raises(zoo.ZooError, match="134 .*; 517 "):
        zoo.class_index("crane")


def test_only_imagenet_models_name_their_classes():
    loaded = zoo.load(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 224 * 224, 10)), pretrained=False)
    assert loaded.class_name(3) is None
    assert zoo.load("efficientnet_lite0").class_name(282) == "tiger cat"
