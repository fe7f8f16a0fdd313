"""Sizes a model does not take are met with the closest one it does, never refused."""

import pytest

from common.config.kinds import model_spec
from common.errors import InvalidRequest
from common.prompt.size_plan import check_size, plan_size


@pytest.mark.parametrize(
    ("kind", "upstream", "asked", "made"),
    [
        ("openai", "gpt-image-1", (512, 512), (1024, 1024)),  # Open WebUI's default size
        ("openai", "dall-e-3", (1024, 576), (1792, 1024)),
        ("a1111", "sdxl", (4096, 4096), (2048, 2048)),  # its largest side
        ("a1111", "sdxl", (4096, 2048), (2048, 1024)),  # the aspect kept
        ("cloudflare", "@cf/bytedance/stable-diffusion-xl-lightning", (128, 64), (512, 256)),
        ("placeholder", "placeholder", (768, 512), (768, 512)),  # taken as it is
    ],
)
def test_an_explicit_size_becomes_the_closest_the_model_takes(kind, upstream, asked, made):
    plan = plan_size(model_spec(kind, upstream, upstream), *asked, None)
    assert (plan.width, plan.height) == made
    assert bool(plan.notes) == (asked != made)


def test_an_aspect_too_extreme_for_the_bounds_is_clamped_within_them():
    model = model_spec("cloudflare", "sdxl", "@cf/stabilityai/stable-diffusion-xl-base-1.0")
    plan = plan_size(model, 4096, 64, None)
    assert (plan.width, plan.height) == (2048, 256)


@pytest.mark.parametrize("size", [(1001, 1000), (8192, 1024), (0, 8)])
def test_sizes_outside_the_general_limits_are_400_naming_the_param(size):
    with pytest.raises(InvalidRequest) as raised:
        check_size(*size, "size")
    assert raised.value.param == "size"
