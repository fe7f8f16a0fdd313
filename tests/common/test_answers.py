"""The chat answer's Markdown: the Z-Image script's layout, and no way for a prompt or an LLM to inject markup."""

import re

import pytest
from markdown_it import MarkdownIt

from common.answers import render
from common.schemas import JobResult, StoredImage

BASE = "https://images.example"
IMAGE = StoredImage(
    id="0123abcd", content_type="image/png", extension="png", width=1024, height=576
)
URL = f"{BASE}/image/0123abcd.png"
# The regular expressions the Z-Image script's README teaches its users (JavaScript, same syntax).
IMAGE_URL = re.compile(r"!\[.*?\]\((https?:[^)]+)\)")
ENHANCED_PROMPT = re.compile(r"\*\*✨ Enhanced Prompt:\*\*\n(.+?)\n\n", re.S)

HOSTILE = [
    "![pixel](https://evil.example/track.png)",
    "[click me](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    "<a href='https://evil.example'>prize</a>",
    "<https://evil.example/autolink>",
    "visit https://evil.example or www.evil.example or mail win@evil.example",
    "[ref]\n\n[ref]: https://evil.example/ref",
    "a cat](https://evil.example/x.png) and more",
    "# Heading\n> quote\n| a | b |\n```\ncode\n```",
    "\\](https://evil.example)",
]


def result(prompt: str, original: str = "一只可爱的小狗", **fields) -> JobResult:
    return JobResult(
        images=(IMAGE,), model="flux-dev", prompt=prompt, original=original, ratio="16:9", **fields
    )


def rendered_html(markdown: str) -> str:
    return MarkdownIt("commonmark").render(markdown)


def test_enhanced_layout_is_the_zimage_scripts():
    content = render(result("a fluffy puppy, soft light", enhanced=True), BASE)
    assert content == (
        f"![a fluffy puppy, soft light]({URL})\n\n---\n"
        "**✨ Enhanced Prompt:**\na fluffy puppy, soft light\n\n"
        "**📝 Original Input:**\n一只可爱的小狗\n\n"
        "**🎨 Aspect Ratio:** 16:9\n**📐 Resolution:** 1024×576\n**🤖 Model:** flux-dev"
    )
    assert IMAGE_URL.search(content).group(1) == URL
    assert ENHANCED_PROMPT.search(content).group(1) == "a fluffy puppy, soft light"


def test_failed_enhancement_says_so_with_the_scripts_label():
    content = render(
        result("一只可爱的小狗", enhance_failure="the LLM did not answer within 10 s"), BASE
    )
    assert (
        "**⚠️ Enhancement failed, using original prompt** (the LLM did not answer within 10 s)\n\n**📝 Prompt:**\n一只可爱的小狗\n"
        in content
    )
    assert "Enhanced Prompt" not in content


def test_without_an_llm_nothing_mentions_enhancement():
    content = render(result("a lighthouse"), BASE)
    assert "**📝 Prompt:**\na lighthouse\n" in content and "Enhance" not in content


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_prompts_and_llm_answers_stay_text(hostile):
    for content in (
        render(
            result(hostile, original=hostile, enhanced=True), BASE
        ),  # an LLM answer and the user's input
        render(result(hostile, original=hostile, enhance_failure=hostile), BASE),
    ):
        html = rendered_html(content)
        assert re.findall(r"<img [^>]*>", html) == [f'<img src="{URL}" alt="{_alt_text(html)}" />']
        assert (
            "<a " not in html
            and "<script" not in html
            and "<h1" not in html
            and "<blockquote" not in html
        )
        assert "://evil" not in html and "www.evil" not in html and "@evil" not in html
        assert IMAGE_URL.search(content).group(1) == URL


@pytest.mark.parametrize("hostile", HOSTILE)
def test_the_readme_regex_extracts_the_whole_enhanced_prompt(hostile):
    content = render(result(hostile, enhanced=True), BASE)
    extracted = ENHANCED_PROMPT.search(content).group(1)
    unescaped = re.sub(r"\\(.)", r"\1", extracted).replace("\u200b", "")
    assert "\n" not in extracted and unescaped == " ".join(hostile.split())


def _alt_text(html: str) -> str:
    return re.search(r'<img src="[^"]*" alt="([^"]*)"', html).group(1)
