"""The welcome page's playground in headless Chromium, against real gateway processes."""

import base64
import json
import os
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.test_chat_completions import openai_env
from tests.fakes.llm import THOUGHT, enhanced, start_llm
from tests.gateway import GATEWAY_KEY, Served
from worker.render.png import solid_png

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The arrow form matters: a string expression would need eval, which the page's CSP forbids.
IMAGE_SHOWN = (
    "() => { const img = document.querySelector('#result:not([hidden]) #image');"
    " return Boolean(img && img.complete && img.naturalWidth > 0); }"
)
PROMPT = "a red fox <img src=x onerror=alert(1)> in the **snow**"


@pytest.fixture(scope="module")
def serve():
    """`imagegate serve` with no configuration, as a newcomer starts it: its url and printed key."""
    served = Served({"PATH": os.environ.get("PATH", "")})
    try:
        yield served.url, served.key
    finally:
        served.stop()


@pytest.fixture(scope="module")
def llm():
    server, _ = start_llm(valid_keys=("sk-llm-good",))
    with server:
        yield server


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser):
    """A fresh browser profile; the test fails if a script throws or the CSP blocks anything."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda message: "Content Security Policy" in message.text and problems.append(message.text),
    )
    yield page
    context.close()
    assert problems == []


def generate(page: Page, prompt: str) -> None:
    page.get_by_label("Prompt", exact=True).fill(prompt)
    page.get_by_role("button", name="Generate").click()


def test_a_prompt_becomes_an_image_in_the_browser(serve, page: Page):
    url, key = serve
    page.goto(f"{url}/")
    page.get_by_label("Gateway key").fill(key)
    expect(page.locator("#model option")).to_have_text(["placeholder"])
    page.get_by_label("Model").select_option("placeholder")
    page.get_by_text("16:9", exact=True).click()
    with page.expect_request("**/v1/chat/completions") as sent:
        generate(page, PROMPT)
    page.wait_for_function(IMAGE_SHOWN, timeout=30_000)

    body = json.loads(sent.value.post_data)
    # With no enhancement LLM configured the switch is off and says why.
    assert body["stream"] is True and body["enhance"] is False and body["model"] == "placeholder"
    expect(page.get_by_label("Enhance the prompt")).to_be_disabled()
    assert body["messages"] == [{"role": "user", "content": f"{PROMPT} ratio 16:9"}]
    expect(page.locator("#status")).to_contain_text("Done")
    expect(page.locator("#reasoning-text")).to_contain_text("Queued")
    expect(page.locator("#reasoning-text")).to_contain_text("Generating an image with placeholder")
    # The prompt comes back as text: the tag in it is shown, never parsed into the page.
    expect(page.locator("#prompt-text")).to_contain_text(PROMPT)
    assert page.locator("#result img").count() == 1
    expect(page.locator("#facts")).to_contain_text("Model")
    image_src = page.locator("#image").get_attribute("src")
    assert image_src.startswith(f"{url}/image/")
    expect(page.get_by_role("link", name="Download")).to_have_attribute("href", image_src)

    generate(page, "a lighthouse in a storm")
    page.wait_for_function(
        f"() => document.querySelector('#image').src !== {json.dumps(image_src)}"
    )
    page.wait_for_function(IMAGE_SHOWN)
    thumbnails = page.locator("#recent-strip button")
    expect(thumbnails).to_have_count(2)
    expect(thumbnails.nth(0)).to_have_attribute("aria-current", "true")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "playground.png", full_page=True)
    thumbnails.nth(1).click()  # the older one comes back into view
    expect(page.locator("#image")).to_have_attribute("src", image_src)
    expect(page.locator("#prompt-text")).to_contain_text(PROMPT)
    page.wait_for_function(IMAGE_SHOWN)


def test_a_bad_key_is_explained_in_words_and_clears_the_last_image(serve, page: Page):
    url, key = serve
    page.goto(f"{url}/#key={key}")
    generate(page, "a red fox")
    page.wait_for_function(IMAGE_SHOWN, timeout=30_000)
    page.get_by_label("Gateway key").fill("not-the-key")
    generate(page, "a red fox")
    expect(page.get_by_role("alert")).to_contain_text("The gateway did not accept this key")
    expect(page.locator("#result")).to_be_hidden()  # the fox before is not this answer
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "playground-bad-key.png", full_page=True)


def test_a_missing_key_is_explained_in_words(serve, page: Page):
    url, _ = serve
    page.goto(f"{url}/")
    generate(page, "a red fox")
    expect(page.get_by_role("alert")).to_contain_text("This gateway needs a key")
    expect(page.get_by_role("alert")).to_contain_text("imagegate serve")


def test_the_model_list_is_in_the_page_before_any_script_runs(serve, browser: Browser):
    url, _ = serve
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{url}/")
        expect(page.locator("#model option")).to_have_text(["placeholder"])
    finally:
        context.close()


def test_the_printed_link_hands_over_the_key_and_leaves_the_address_bar(serve, page: Page):
    url, key = serve
    page.goto(f"{url}/#key={key}")
    expect(page.get_by_label("Gateway key")).to_have_value(key)
    assert page.url == f"{url}/"
    assert page.evaluate("() => localStorage.getItem('imagegate.key')") == key
    page.reload()
    expect(page.get_by_label("Gateway key")).to_have_value(key)
    expect(page.locator("#model option")).to_have_text(["placeholder"])


def test_the_snippet_copies_with_the_base_url_and_key(serve, page: Page):
    url, key = serve
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"{url}/#key={key}")
    page.get_by_role("tab", name="curl").click()
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.startswith(f"curl {url}/v1/chat/completions")
    assert f"Authorization: Bearer {key}" in copied and '"model": "placeholder"' in copied


def test_an_upstream_failure_shows_its_message(start_gateway, openai_upstream, page: Page):
    server, _ = openai_upstream
    gateway = start_gateway(openai_env(server.url, keys="sk-upstream-500"))
    page.goto(f"{gateway.url}/#key={GATEWAY_KEY}")
    expect(page.locator("#model option")).to_have_text(["flux-dev", "dall-e-3"])
    generate(page, "a red fox")
    expect(page.get_by_role("alert")).to_contain_text("image-gen-1")
    # The failure came inside the stream, after its progress, as an error chunk.
    expect(page.locator("#reasoning-text")).to_contain_text("Queued")
    expect(page.locator("#status")).to_have_text("Failed")
    expect(page.locator("#result")).to_be_hidden()


def test_a_model_list_arriving_late_leaves_the_failure_shown(
    start_gateway, openai_upstream, page: Page
):
    """The page refreshes its model list in the background; an answer that lands after a
    failed generation must not wipe that failure's message."""
    server, _ = openai_upstream
    gateway = start_gateway(openai_env(server.url, keys="sk-upstream-500"))
    held = []
    page.route("**/v1/models", lambda route: held.append(route))
    with page.expect_request("**/v1/models"):  # asked for, and held unanswered
        page.goto(f"{gateway.url}/#key={GATEWAY_KEY}")
    generate(page, "a red fox")
    expect(page.get_by_role("alert")).to_contain_text("image-gen-1")
    late = {"object": "list", "data": [{"id": "flux-dev"}, {"id": "late-model"}]}
    for route in held:
        route.fulfill(json=late)
    expect(page.locator("#model option")).to_have_text(["flux-dev", "late-model"])
    expect(page.get_by_role("alert")).to_contain_text("image-gen-1")


def test_an_enhanced_prompt_and_the_llms_reasoning_are_shown(start_gateway, llm, page: Page):
    env = {
        "ENHANCE_OPENAI_API_KEY": "sk-llm-good",
        "ENHANCE_OPENAI_BASE_URL": f"{llm.url}/v1",
        "ENHANCE_OPENAI_MODEL": "fake-llm",
    }
    gateway = start_gateway(env)
    page.goto(f"{gateway.url}/#key={GATEWAY_KEY}")
    expect(page.get_by_label("Enhance the prompt")).to_be_checked()
    generate(page, "a fox in the snow __reasoning__")
    page.wait_for_function(IMAGE_SHOWN, timeout=30_000)
    expect(page.locator("#prompt-label")).to_have_text("Enhanced prompt")
    expect(page.locator("#prompt-text")).to_have_text(enhanced("a fox in the snow"))
    expect(page.locator("#reasoning-text")).to_contain_text(THOUGHT)

    generate(page, "a quiet pond __llm500__")
    expect(page.locator("#notes")).to_contain_text("Enhancement failed, using original prompt (")
    expect(page.locator("#prompt-label")).to_have_text("Prompt")
    expect(page.locator("#prompt-text")).to_have_text("a quiet pond __llm500__")


def test_the_history_shows_the_keys_background_jobs_with_their_images(serve, page: Page):
    url, key = serve
    headers = {"Authorization": f"Bearer {key}", "Prefer": "respond-async"}
    job = httpx.post(
        f"{url}/v1/images/generations", json={"prompt": "a kite over dunes"}, headers=headers
    ).json()
    deadline = time.monotonic() + 20
    while job["status"] != "succeeded" and time.monotonic() < deadline:
        time.sleep(0.1)
        job = httpx.get(job["urls"]["self"], headers=headers).json()
    page.goto(f"{url}/#key={key}")
    entry = page.locator("#history-list li").first
    expect(entry).to_contain_text("succeeded")
    expect(entry.locator("img")).to_have_attribute("src", job["result"]["data"][0]["url"])
    page.wait_for_function(
        "() => { const img = document.querySelector('#history-list img');"
        " return Boolean(img && img.complete && img.naturalWidth > 0); }"
    )


def test_an_uploaded_image_is_edited_through_the_chat_route(serve, page: Page):
    url, key = serve
    page.goto(f"{url}/#key={key}")
    expect(page.locator("#model option")).to_have_text(["placeholder"])
    source = solid_png(96, 64, (200, 30, 30))
    page.get_by_label("Image to edit").set_input_files(
        {"name": "room.png", "mimeType": "image/png", "buffer": source}
    )
    expect(page.locator("#edit-preview")).to_be_visible()
    page.get_by_label("Prompt", exact=True).fill("make it night")
    with page.expect_request("**/v1/chat/completions") as sent:
        page.get_by_role("button", name="Edit", exact=True).click()
    page.wait_for_function(IMAGE_SHOWN, timeout=30_000)
    [message] = json.loads(sent.value.post_data)["messages"]
    text, image = message["content"]
    assert text == {"type": "text", "text": "make it night"}
    assert image["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(source).decode()
    # The edit keeps the input's size: the placeholder drew its label over it.
    size = page.evaluate(
        "() => [document.querySelector('#image').naturalWidth, document.querySelector('#image').naturalHeight]"
    )
    assert size == [96, 64]
    page.get_by_role("button", name="Remove the image").click()
    expect(page.get_by_role("button", name="Generate")).to_be_visible()
