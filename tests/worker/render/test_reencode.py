"""Re-encoding serves the output format and compression an upstream cannot."""

import io

import pytest
from PIL import Image

from common.config.kinds import model_spec
from common.schemas import ImageOptions
from tests.fakes.payloads import encoded
from worker.render.reencode import reencode, target_format
from worker.upstream.sniff import sniff

GPT_IMAGE = model_spec("openai", "gpt-image-1", "gpt-image-1")
FLUX = model_spec("openai", "flux-dev", "flux-dev")


@pytest.mark.parametrize("target", ["webp", "jpeg", "png"])
def test_the_bytes_become_the_asked_format_at_the_same_size(target):
    source = encoded(96, 64, (10, 120, 200), "png" if target != "png" else "webp", False)
    data, info = reencode(source, target, None)
    assert info == sniff(data) and (info.width, info.height) == (96, 64)
    assert {"webp": "webp", "jpeg": "jpg", "png": "png"}[target] == info.extension


def test_transparent_pixels_land_on_white_in_a_jpeg_and_stay_clear_in_a_webp():
    source = encoded(64, 64, (200, 0, 0), "png", True)
    jpeg, _ = reencode(source, "jpeg", None)
    assert Image.open(io.BytesIO(jpeg)).convert("RGB").getpixel((5, 5)) >= (250, 250, 250)
    webp, _ = reencode(source, "webp", None)
    assert Image.open(io.BytesIO(webp)).convert("RGBA").getpixel((5, 5))[3] == 0


def test_a_lower_compression_level_makes_a_smaller_file():
    image = Image.effect_noise((256, 256), 80).convert("RGB")
    out = io.BytesIO()
    image.save(out, "PNG")
    small, _ = reencode(out.getvalue(), "jpeg", 10)
    large, _ = reencode(out.getvalue(), "jpeg", 95)
    assert len(small) < len(large)


@pytest.mark.parametrize(
    ("made", "options", "model", "target"),
    [
        ("png", ImageOptions(), FLUX, None),  # nothing asked: the upstream's own format
        ("png", ImageOptions(output_format="png"), FLUX, None),
        ("png", ImageOptions(output_format="webp"), FLUX, "webp"),
        ("webp", ImageOptions(output_format="webp"), GPT_IMAGE, None),
        ("jpeg", ImageOptions(output_format="jpeg", output_compression=50), FLUX, "jpeg"),
        ("jpeg", ImageOptions(output_format="jpeg", output_compression=50), GPT_IMAGE, None),
        ("png", ImageOptions(output_compression=50), FLUX, None),  # png takes no level
    ],
)
def test_only_what_the_upstream_did_not_honour_is_re_encoded(made, options, model, target):
    info = sniff(encoded(16, 16, (1, 2, 3), made, False))
    assert target_format(info, options, model) == target
