"""The chat adapter against a fake chat-style image gateway: every answer shape, and its failures."""

from functools import partial

import pytest

from tests.fakes.adapter_calls import AdapterTarget, call, failure, image_request
from tests.fakes.chat_gateway import COMPLETIONS, start_chat_gateway
from worker.upstream.failures import Reason
from worker.upstream.sniff import sniff

KEY = "sk-chat-gateway"


FAKE = AdapterTarget("chat", partial(start_chat_gateway, valid_keys=[KEY]), path="/v1")


async def test_the_prompt_goes_as_the_user_message_with_the_ratio(spec, upstream):
    server, fake = upstream
    [image] = await call(spec, image_request("chat", "flux-chat", width=1024, height=576), KEY)
    assert image == fake.produced[-1] and (sniff(image).width, sniff(image).height) == (1024, 576)
    assert server.json_bodies(COMPLETIONS) == [
        {
            "model": "flux-chat",
            "messages": [{"role": "user", "content": "a red fox in snow, ratio 16:9"}],
            "stream": False,
        }
    ]


async def test_a_square_image_needs_no_ratio_words(spec, upstream):
    server, _ = upstream
    await call(spec, image_request("chat", "flux-chat", width=1024, height=1024), KEY)
    assert server.json_bodies(COMPLETIONS)[0]["messages"][0]["content"] == "a red fox in snow"


@pytest.mark.parametrize("answer", ["", "__data_url__", "__json_b64__", "__raw__", "__sse__"])
async def test_every_answer_shape_gives_the_image(spec, upstream, answer):
    _, fake = upstream
    [image] = await call(
        spec, image_request("chat", "zimage-chat", f"a fox {answer}", width=512, height=512), KEY
    )
    assert image == fake.produced[-1]


@pytest.mark.parametrize(
    ("key", "prompt", "model", "reason"),
    [
        (KEY, "a fox __refusal__", "flux-chat", Reason.PROMPT),  # a refusal in words, HTTP 200
        ("sk-wrong", "a fox", "flux-chat", Reason.KEY),
        (KEY, "a fox __rate_limited__", "flux-chat", Reason.RATE),
        (KEY, "a fox", "no-such-model", Reason.CONFIG),
    ],
)
async def test_failures_map(spec, key, prompt, model, reason):
    found = await failure(spec, image_request("chat", model, prompt, width=512, height=512), key)
    assert found.reason is reason and found.message
    if reason is Reason.RATE:
        assert found.retry_after == 5
