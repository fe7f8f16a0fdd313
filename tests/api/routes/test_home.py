"""GET /: the welcome page and the static files it loads, served without a gateway key."""

import ast
import html
import json
import re
import shlex

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.routes.home import content_security_policy, render_page
from common.config.load import load_settings

KEY = "ig-secret-key"
ENV = {
    "GATEWAY_API_KEY": KEY,
    "IMAGE_GEN_MODEL_1": "flux-dev,<b>bold</b>,it's",
    "IMAGE_GEN_API_BASE_1": "https://upstream.invalid/v1",
    "IMAGE_GEN_API_KEY_1": "sk-upstream",
    "IMAGE_GEN_KIND_1": "openai",
    "DEFAULT_MODEL": "it's",
    "ENHANCE_OPENAI_API_KEY": "sk-llm",
}


@pytest.fixture(scope="module")
async def client(redis_server):
    # One app for the module: each app's start and stop costs a Redis subscription.
    async with AsyncTestClient(
        create_app(load_settings({**ENV, "REDIS_URL": redis_server.url}))
    ) as client:
        yield client


def snippet(page: str, name: str) -> str:
    """The text a visitor copies: the snippet without its markup, the key slot filled in."""
    block = re.search(rf'<pre id="snippet-{name}"[^>]*>(.*?)</pre>', page, re.S).group(1)
    return html.unescape(re.sub(r"<[^>]+>", "", block)).replace("YOUR_KEY", KEY)


async def test_the_page_needs_no_key_and_lists_the_models_escaped(client):
    response = await client.get("/")
    page = response.text
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "<code>flux-dev</code>" in page and "<code>&lt;b&gt;bold&lt;/b&gt;</code>" in page
    assert "<b>bold</b>" not in page
    assert (
        KEY not in page
        and "sk-upstream" not in page
        and "upstream.invalid" not in page
        and "sk-llm" not in page
    )
    assert '<input id="enhance" name="enhance" type="checkbox" checked>' in page
    assert 'href="/schema"' in page and 'href="/health"' in page
    assert '<code id="base-url" class="value">http://testserver.local/v1</code>' in page


async def test_the_page_runs_only_its_own_files(client):
    response = await client.get("/")
    page = response.text
    assert response.headers["content-security-policy"].startswith(
        "default-src 'self'; img-src 'self' blob:;"
    )
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    # Inline scripts, inline styles and other origins would all be blocked by that policy.
    assert re.findall(r"<script[^>]*>", page) == [
        '<script type="module" src="/static/playground.js">',
        '<script type="module" src="/static/history.js">',
    ]
    assert "<style" not in page and " style=" not in page
    assert all(url.startswith("/") for url in re.findall(r'(?:src|href)="([^"]*)"', page))


async def test_the_snippets_run_as_shown_whatever_the_model_is_called(client):
    page = (await client.get("/")).text
    python = ast.parse(snippet(page, "python"))
    literals = {
        node.arg: node.value.value
        for node in ast.walk(python)
        if isinstance(node, ast.keyword) and isinstance(node.value, ast.Constant)
    }
    assert literals == {"base_url": "http://testserver.local/v1", "api_key": KEY, "model": "it's"}
    curl = shlex.split(snippet(page, "curl").replace("\\\n", " "))
    assert curl[:2] == ["curl", "http://testserver.local/v1/chat/completions"]
    assert f"Authorization: Bearer {KEY}" in curl
    assert json.loads(curl[curl.index("-d") + 1])["model"] == "it's"


async def test_the_scripts_and_styles_are_served_with_their_types(client):
    for name, media_type in (
        ("playground.js", "text/javascript"),
        ("sse.js", "text/javascript"),
        ("style.css", "text/css"),
    ):
        response = await client.get(f"/static/{name}")
        assert response.status_code == 200 and response.headers["content-type"].startswith(
            media_type
        )
        assert response.headers["cache-control"] == "no-cache"


def test_a_public_base_url_is_advertised_and_allowed_as_an_image_source():
    settings = load_settings({**ENV, "PUBLIC_BASE_URL": "https://img.example.com/"})
    assert ">https://img.example.com/v1</code>" in render_page(settings, settings.public_base_url)
    assert "img-src 'self' blob: https://img.example.com;" in content_security_policy(settings)
