"""The base-URL rule of SPEC §3, shared by every adapter."""

import pytest

from common.config.types import ProviderSpec
from worker.providers.base import Upstream, endpoint_url
from worker.providers.cloudflare import run_url


@pytest.mark.parametrize(
    ("base", "path", "url"),
    [
        (
            "https://api.siliconflow.cn",
            "/v1/images/generations",
            "https://api.siliconflow.cn/v1/images/generations",
        ),
        (
            "https://api.siliconflow.cn/v1/",
            "/v1/images/generations",
            "https://api.siliconflow.cn/v1/images/generations",
        ),
        (
            "https://gw.example.com/v1/images/generations",
            "/v1/images/generations",
            "https://gw.example.com/v1/images/generations",
        ),
        (
            "https://gw.example.com/custom/draw",
            "/v1/chat/completions",
            "https://gw.example.com/custom/draw",
        ),
        (
            "https://sd.exacg.cc",
            "/api/v1/generate_image",
            "https://sd.exacg.cc/api/v1/generate_image",
        ),
        (
            "https://sd.exacg.cc/api/v1",
            "/api/v1/generate_image",
            "https://sd.exacg.cc/api/v1/generate_image",
        ),
        ("http://gpu:7860/sdapi/v1", "/sdapi/v1/txt2img", "http://gpu:7860/sdapi/v1/txt2img"),
    ],
)
def test_a_base_url_is_used_as_given_unless_it_stops_at_an_api_root(base, path, url):
    assert endpoint_url(base, path) == url


@pytest.mark.parametrize(
    ("base", "key", "url", "token"),
    [
        (
            "https://api.cloudflare.com/client/v4",
            "tok",
            "https://api.cloudflare.com/client/v4/accounts/acc/ai/run/@cf/m",
            "tok",
        ),
        (
            "https://api.cloudflare.com/client/v4",
            "other:tok2",
            "https://api.cloudflare.com/client/v4/accounts/other/ai/run/@cf/m",
            "tok2",
        ),
        (
            "https://gw.example.com/accounts/acc/ai/run/",
            "tok",
            "https://gw.example.com/accounts/acc/ai/run/@cf/m",
            "tok",
        ),
    ],
)
def test_workers_ai_run_urls(base, key, url, token):
    spec = ProviderSpec(name="cf", kind="cloudflare", base_url=base, options={"account_id": "acc"})
    assert run_url(Upstream(None, spec, key), "@cf/m") == (url, token)


@pytest.mark.parametrize(
    ("base", "path", "url"),
    [
        ("https://host/sd", "/api/v1/generate_image", "https://host/sd/api/v1/generate_image"),
        ("https://host/sd/", "/sdapi/v1/txt2img", "https://host/sd/sdapi/v1/txt2img"),
        ("http://gpu:7860", "/sdapi/v1/txt2img", "http://gpu:7860/sdapi/v1/txt2img"),
        ("https://host/sd/sdapi/v1", "/sdapi/v1/txt2img", "https://host/sd/sdapi/v1/txt2img"),
        (
            "https://host/sd/api/v1/generate_image",
            "/api/v1/generate_image",
            "https://host/sd/api/v1/generate_image",
        ),
    ],
)
def test_a_server_root_behind_a_path_prefix_gets_its_endpoint(base, path, url):
    assert endpoint_url(base, path, server_root=True) == url


@pytest.mark.parametrize(
    ("kind", "path"), [("a1111", "/sd/sdapi/v1/txt2img"), ("exacg", "/sd/api/v1/generate_image")]
)
def test_server_root_kinds_keep_a_reverse_proxys_prefix(kind, path):
    spec = ProviderSpec(name="p", kind=kind, base_url="https://host/sd")
    assert Upstream(None, spec, None).endpoint() == "https://host" + path
