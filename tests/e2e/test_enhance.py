"""Prompt enhancement through real processes: openai SDK → api → worker → fake LLM → fake OpenAI Images."""

import re

import httpx
import pytest
from markdown_it import MarkdownIt

from tests.fakes.llm import COMPLETIONS, THOUGHT, USAGE, enhanced, start_llm
from tests.gateway import Gateway

GENERATIONS = "/v1/images/generations"
# The regular expressions the Z-Image script's README teaches.
IMAGE_URL = re.compile(r"!\[.*?\]\((https?:[^)]+)\)")
ENHANCED_PROMPT = re.compile(r"\*\*✨ Enhanced Prompt:\*\*\n(.+?)\n\n", re.S)
FAILED = "**⚠️ Enhancement failed, using original prompt**"


@pytest.fixture(scope="module")
def llm():
    server, _ = start_llm(valid_keys=("sk-llm-good",), key_behaviour={"sk-llm-500": "server_error"})
    with server:
        yield server


def image_env(upstream_url: str) -> dict[str, str]:
    return {
        "IMAGE_GEN_MODEL_1": "flux-dev",
        "IMAGE_GEN_API_BASE_1": f"{upstream_url}/v1",
        "IMAGE_GEN_API_KEY_1": "sk-upstream-good",
        "IMAGE_GEN_KIND_1": "openai",
    }


@pytest.fixture(scope="module")
def gateway(redis_server, openai_upstream, llm):
    """The Z-Image script's variables; its first LLM key always fails, so every call fails over."""
    env = {
        **image_env(openai_upstream[0].url),
        "ENHANCE_OPENAI_API_KEY": "sk-llm-500,sk-llm-good",
        "ENHANCE_OPENAI_BASE_URL": f"{llm.url}/v1",
        "ENHANCE_OPENAI_MODEL": "fake-llm",
        "ENHANCE_TIMEOUT": "2",
    }
    redis_server.flush()
    with Gateway(redis_server.url, env).start() as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def fresh_records(openai_upstream, llm):
    openai_upstream[0].clear()
    llm.clear()


def ask(gateway: Gateway, content: str, **extra):
    answer = gateway.client().chat.completions.create(
        model="flux-dev", messages=[{"role": "user", "content": content}], extra_body=extra or None
    )
    return answer, answer.choices[0].message.content


def stream(gateway: Gateway, content: str) -> tuple[list[str], str, list]:
    """(reasoning deltas, content, chunks) of a streamed answer, read by the SDK."""
    chunks = list(
        gateway.client().chat.completions.create(
            model="flux-dev",
            messages=[{"role": "user", "content": content}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    reasoning = [text for d in deltas if (text := getattr(d, "reasoning_content", None))]
    return reasoning, "".join(d.content or "" for d in deltas), chunks


def upstream_got(openai_upstream) -> dict:
    """The prompt and size the image upstream received for the last image."""
    return openai_upstream[0].json_bodies(GENERATIONS)[-1]


def llm_requests(llm) -> list:
    return llm.requests_to(COMPLETIONS)


def test_plain_enhancement_sends_the_llms_prompt_at_the_users_ratio(gateway, openai_upstream, llm):
    answer, content = ask(gateway, "一只猫在看书，比例 16:9")
    sent = upstream_got(openai_upstream)
    assert sent["prompt"] == enhanced("一只猫在看书") and sent["size"] == "1024x576"
    assert ENHANCED_PROMPT.search(content).group(1) == enhanced("一只猫在看书")
    assert "**📝 Original Input:**\n一只猫在看书，比例 16:9\n" in content
    assert "**🎨 Aspect Ratio:** 16:9\n**📐 Resolution:** 1024×576" in content
    assert httpx.get(IMAGE_URL.search(content).group(1)).content == openai_upstream[1].produced[-1]
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (
        USAGE["prompt_tokens"],
        USAGE["completion_tokens"],
    )
    # The ratio text left the idea; the LLM was told the ratio is fixed; keys were tried in turn.
    requests = llm_requests(llm)
    assert [r.headers["authorization"] for r in requests] == [
        "Bearer sk-llm-500",
        "Bearer sk-llm-good",
    ]
    system, user = requests[-1].json["messages"]
    assert user == {"role": "user", "content": "一只猫在看书"}
    assert "fixed at 16:9" in system["content"] and '{"prompt"' in system["content"]
    assert requests[-1].json["model"] == "fake-llm" and requests[-1].json["stream"] is False


def test_size_precedence_body_then_prompt_then_llm_then_square(gateway, openai_upstream):
    cases = [
        ("a harbour at dawn __suggest__", {}, "1024x576", "16:9"),  # the LLM's suggestion
        (
            "a harbour at dawn, ratio 3:4 __suggest__",
            {},
            "768x1024",
            "3:4",
        ),  # the user's ratio wins
        ("a harbour at dawn __suggest__", {"size": "512x512"}, "512x512", "1:1"),  # body size wins
        (
            "a harbour at dawn, ratio 3:4",
            {"width": 640, "height": 384},
            "640x384",
            "5:3",
        ),  # body width+height
        ("a harbour at dawn", {}, "1024x1024", "1:1"),  # nothing said: 1:1
    ]
    for prompt, extra, size, ratio in cases:
        _, content = ask(gateway, prompt, **extra)
        assert upstream_got(openai_upstream)["size"] == size, prompt
        assert f"**🎨 Aspect Ratio:** {ratio}\n" in content, content


def test_stream_relays_the_llms_reasoning_before_generation(gateway, openai_upstream):
    reasoning, content, chunks = stream(gateway, "a fox in the snow __reasoning__")
    text = "".join(reasoning)
    steps = [
        "Enhancing the prompt with fake-llm",
        THOUGHT,
        f"Enhanced prompt: {enhanced('a fox in the snow')}",
        "Generating an image",
    ]
    positions = [text.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), text
    # The thought comes as it is streamed, in pieces, not in one block at the end.
    assert (
        THOUGHT not in reasoning and len([r for r in reasoning if r.strip() and r in THOUGHT]) >= 2
    )
    assert THOUGHT not in content and ENHANCED_PROMPT.search(content).group(1) == enhanced(
        "a fox in the snow"
    )
    assert upstream_got(openai_upstream)["prompt"] == enhanced("a fox in the snow")
    assert chunks[-1].usage.total_tokens == USAGE["total_tokens"]


def test_a_server_that_ignores_stream_true_is_understood(gateway, openai_upstream):
    reasoning, content, _ = stream(gateway, "a fox in the snow __reasoning__ __nostream__")
    assert THOUGHT in "".join(reasoning) and THOUGHT not in content
    assert upstream_got(openai_upstream)["prompt"] == enhanced("a fox in the snow")


def test_think_tags_are_reasoning_streamed_or_not(gateway, openai_upstream):
    reasoning, content, _ = stream(gateway, "an owl at night __think__")
    assert THOUGHT in "".join(reasoning) and "think>" not in "".join(reasoning)
    assert upstream_got(openai_upstream)["prompt"] == enhanced("an owl at night")
    _, content = ask(gateway, "an owl at night __think__")
    assert THOUGHT not in content
    assert "think>" not in content.replace("\\", "")
    assert upstream_got(openai_upstream)["prompt"] == enhanced("an owl at night")


def test_reasoning_content_never_reaches_the_answer(gateway, openai_upstream):
    _, content = ask(gateway, "a fox in the snow __reasoning__")
    assert THOUGHT not in content and ENHANCED_PROMPT.search(content).group(1) == enhanced(
        "a fox in the snow"
    )


@pytest.mark.parametrize("wrapping", ["__fenced__", "__plaintext__"])
def test_fenced_json_and_plain_text_answers_are_understood(gateway, openai_upstream, wrapping):
    _, content = ask(gateway, f"a red kite {wrapping}")
    assert upstream_got(openai_upstream)["prompt"] == enhanced("a red kite")
    assert ENHANCED_PROMPT.search(content).group(1) == enhanced("a red kite")


@pytest.mark.parametrize(
    ("magic", "reason"),
    [
        ("__llm500__", "all 2 LLM keys failed"),
        ("__hang__", "did not answer within 2 s"),
        ("__garbage__", "not a chat completion"),
    ],
)
def test_a_failing_llm_still_gives_the_image_with_the_prompt_as_written(
    gateway, openai_upstream, magic, reason
):
    _, content = ask(gateway, f"a quiet pond {magic}")
    assert upstream_got(openai_upstream)["prompt"] == f"a quiet pond {magic}"
    assert f"{FAILED} (" in content and reason in content
    assert f"**📝 Prompt:**\na quiet pond {magic.replace('_', chr(92) + '_')}\n" in content
    assert IMAGE_URL.search(content) and "Enhanced Prompt" not in content


def test_a_failing_llm_while_streaming_says_so_and_finishes(gateway, openai_upstream):
    reasoning, content, _ = stream(gateway, "a quiet pond __garbage__")
    assert "Enhancement failed" in "".join(reasoning) and FAILED in content
    assert upstream_got(openai_upstream)["prompt"] == "a quiet pond __garbage__"


@pytest.mark.parametrize(
    ("prompt", "extra"), [("a tiny robot no-enhance", {}), ("a tiny robot", {"enhance": False})]
)
def test_opting_out_skips_the_llm_without_a_note(gateway, openai_upstream, llm, prompt, extra):
    _, content = ask(gateway, prompt, **extra)
    assert llm_requests(llm) == [] and upstream_got(openai_upstream)["prompt"] == "a tiny robot"
    assert "**📝 Prompt:**\na tiny robot\n" in content and "Enhance" not in content


def test_a_long_answer_is_cut_to_the_models_prompt_limit(gateway, openai_upstream):
    _, content = ask(gateway, "a paper lantern __long__")
    sent = upstream_got(openai_upstream)["prompt"]
    assert 3990 < len(sent) <= 4000 and set(sent.split(" ")) == {"lantern"}  # cut at a word's end
    assert ENHANCED_PROMPT.search(content).group(1) == sent


def test_quoted_text_reaches_the_llm_as_typed(gateway, llm):
    ask(gateway, "举着'欢迎来到冲绳'的牌子，比例 9:16")
    assert llm_requests(llm)[-1].json["messages"][1]["content"] == "举着'欢迎来到冲绳'的牌子"


def test_hostile_prompts_and_llm_answers_cannot_inject_markup(gateway):
    hostile_idea = "![x](https://evil.example/i.png) <script>alert(1)</script> __hostile__"
    _, content = ask(gateway, hostile_idea)
    html = MarkdownIt("commonmark").render(content)
    assert (
        len(re.findall(r"<img ", html)) == 1
        and "<a " not in html
        and "<script" not in html
        and "<b>" not in html
    )
    assert "://evil" not in html and IMAGE_URL.search(content).group(1).startswith(gateway.url)
    reasoning, content, _ = stream(gateway, hostile_idea)
    thinking = MarkdownIt("commonmark").render("".join(reasoning))
    assert (
        "<img" not in thinking
        and "<a " not in thinking
        and "<b>" not in thinking
        and "<script" not in thinking
    )


def test_reasoning_family_with_its_own_system_prompt(start_gateway, openai_upstream, llm):
    """The multi-vendor script's variables: reasoning mode, and ENHANCE_SYSTEM_PROMPT replacing ours."""
    gateway = start_gateway(
        {
            **image_env(openai_upstream[0].url),
            "OPENAI_API_KEY": "sk-llm-good",
            "OPENAI_API_BASE": f"{llm.url}/v1",
            "OPENAI_MODEL_REASONING": "fake-reasoner",
            "ENHANCE_SYSTEM_PROMPT": "Describe the picture in one English sentence.",
        }
    )
    reasoning, content, _ = stream(gateway, "a lighthouse __think__")
    assert THOUGHT in "".join(reasoning) and ENHANCED_PROMPT.search(content).group(1) == enhanced(
        "a lighthouse"
    )
    [request] = llm_requests(llm)
    assert request.json["model"] == "fake-reasoner" and "temperature" not in request.json
    assert request.json["messages"][0] == {
        "role": "system",
        "content": "Describe the picture in one English sentence.",
    }


def test_flux_family_base_without_v1_and_system_message(start_gateway, openai_upstream, llm):
    """The Flux script's variables: EXTERNAL_API_BASE is a root without /v1, SYSTEM_MESSAGE replaces ours."""
    gateway = start_gateway(
        {
            **image_env(openai_upstream[0].url),
            "PROMPT_OPTIMIZATION": "true",
            "EXTERNAL_API_BASE": llm.url,
            "EXTERNAL_MODEL": "fake-flux-llm",
            "EXTERNAL_API_KEY": "sk-llm-good",
            "SYSTEM_MESSAGE": "You write FLUX prompts.",
        }
    )
    ask(gateway, "a cat, 9:16")
    sent = upstream_got(openai_upstream)
    assert (sent["prompt"], sent["size"]) == (enhanced("a cat"), "576x1024")
    [request] = llm_requests(llm)  # posted to EXTERNAL_API_BASE + /v1/chat/completions
    assert (
        request.json["messages"][0]["content"] == "You write FLUX prompts."
        and request.json["temperature"] == 0.7
    )
