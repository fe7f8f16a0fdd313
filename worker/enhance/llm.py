"""Prompt enhancement (SPEC §2.2.4): one LLM call, its reasoning relayed live; any failure keeps the user's prompt."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx
import msgspec

from common.config.types import EnhanceSpec, ModelSpec
from common.prompt.markup import neutralise, neutralise_block
from common.prompt.size_plan import describe_ratio
from common.schemas import GenerateJob, LlmTokens, Reasoning
from common.store.events import EventLog
from worker.enhance.answer import EnhanceFailed, ThinkSplitter, parse_answer
from worker.enhance.prompts import system_prompt
from worker.failover import Notify
from worker.providers.base import bearer, endpoint_url
from worker.services import Services
from worker.upstream.http import UpstreamFailure, read_capped, transport_errors

log = logging.getLogger("imagegate.enhance")

MAX_ANSWER = 1024 * 1024  # an answer of ~50 words, with reasoning, is far smaller
RELAY_EVERY = 0.2  # seconds: reasoning goes out in pieces this often, not one event per token


class Enhancement(NamedTuple):
    prompt: str  # what goes upstream: the LLM's, or the user's on failure
    ratio: str | None = None  # the LLM's suggestion; used only when the user gave none
    enhanced: bool = False
    usage: LlmTokens = LlmTokens()
    failure: str | None = None  # why a configured LLM could not enhance (for the answer)


async def enhance_prompt(
    services: Services, job: GenerateJob, model: ModelSpec, notify: Notify
) -> Enhancement:
    """The prompt to send upstream, enhanced when an LLM is configured and the user did not opt out."""
    spec: EnhanceSpec | None = services.settings.enhance
    if spec is None or not job.enhance:
        return Enhancement(job.prompt)
    await notify(f"✨ Enhancing the prompt with {neutralise(spec.model)}")
    relay = ReasoningRelay(services.events, job.id, live=job.stream)
    try:
        async with asyncio.timeout(spec.timeout):
            answer, usage = await _ask_each_key(services.http, spec, request_body(spec, job), relay)
        prompt, ratio = parse_answer(answer, model.prompt_limit)
    except TimeoutError:
        failure = f"the LLM did not answer within {spec.timeout:g} s"
    except EnhanceFailed as exc:
        failure = exc.message
    else:
        await relay.close()
        await notify(f"✨ Enhanced prompt: {neutralise(prompt)}")
        return Enhancement(prompt, ratio, enhanced=True, usage=usage)
    await relay.close()
    log.warning(
        "prompt enhancement failed; using the prompt as written",
        extra={"job_id": job.id, "reason": failure},
    )
    await notify(f"⚠️ Enhancement failed ({failure}): using the prompt as written")
    return Enhancement(job.prompt, failure=failure)


def request_body(spec: EnhanceSpec, job: GenerateJob) -> dict[str, Any]:
    fixed = job.ratio or (
        describe_ratio(job.width, job.height) if job.width and job.height else None
    )
    body: dict[str, Any] = {
        "model": spec.model,
        "messages": [
            {"role": "system", "content": system_prompt(spec.system_prompt, fixed)},
            {"role": "user", "content": job.prompt},
        ],
        "stream": job.stream,
    }
    if job.stream:
        body["stream_options"] = {"include_usage": True}
    if spec.mode == "plain":  # reasoning models refuse or ignore sampling settings
        body["temperature"] = 0.7
    return body


async def _ask_each_key(
    client: httpx.AsyncClient, spec: EnhanceSpec, body: dict, relay: "ReasoningRelay"
) -> tuple[str, LlmTokens]:
    """The first answer any key gets, keys tried in the order configured."""
    failures: list[EnhanceFailed] = []
    for key in spec.keys or (None,):
        try:
            return await _ask(client, spec, key, body, relay)
        except EnhanceFailed as failure:
            failures.append(failure)
    if len(failures) == 1:
        raise failures[0]
    raise EnhanceFailed(f"all {len(failures)} LLM keys failed; the last: {failures[-1].message}")


async def _ask(
    client: httpx.AsyncClient,
    spec: EnhanceSpec,
    key: str | None,
    body: dict,
    relay: "ReasoningRelay",
) -> tuple[str, LlmTokens]:
    url = endpoint_url(spec.base_url, "/v1/chat/completions")
    headers = bearer(key)
    collector = _Collector(relay)
    with _llm_errors():
        async with client.stream("POST", url, json=body, headers=headers) as response:
            if response.status_code != 200:
                raise EnhanceFailed(f"the LLM answered HTTP {response.status_code}")
            # A server may ignore `stream: true` and answer with one JSON body: both are read.
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                await _read_stream(response, collector)
            else:
                await collector.add(_decode(await read_capped(response, MAX_ANSWER)))
    return await collector.answer(), collector.usage


@contextlib.contextmanager
def _llm_errors() -> Iterator[None]:
    try:
        with transport_errors():
            yield
    except UpstreamFailure as failure:
        raise EnhanceFailed(f"could not reach the LLM ({failure.reason.value})") from failure


async def _read_stream(response: httpx.Response, collector: "_Collector") -> None:
    size = 0
    async for line in response.aiter_lines():
        size += len(line)
        if size > MAX_ANSWER:
            raise EnhanceFailed("the LLM's answer is too long")
        if not line.startswith("data:"):
            continue  # comments, event names, blank lines
        data = line[5:].strip()
        if data == "[DONE]":
            break
        await collector.add(_decode(data.encode()))


class _Text(msgspec.Struct):
    content: str | None = None
    reasoning_content: str | None = None


class _Choice(msgspec.Struct):
    message: _Text | None = None
    delta: _Text | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Completion(msgspec.Struct):
    """A chat completion or one chunk of a streamed one: only what enhancement reads."""

    choices: list[_Choice] = []
    usage: _Usage | None = None
    error: Any = None


_completion = msgspec.json.Decoder(_Completion).decode


def _decode(data: bytes) -> _Completion:
    try:
        completion = _completion(data)
    except msgspec.DecodeError as exc:
        raise EnhanceFailed(
            "the LLM answered with something that is not a chat completion"
        ) from exc
    if completion.error:
        raise EnhanceFailed("the LLM reported an error")
    return completion


class _Collector:
    """One attempt's answer as it comes: reasoning relayed, `<think>` split off, usage kept."""

    def __init__(self, relay: "ReasoningRelay") -> None:
        self._relay = relay
        self._splitter = ThinkSplitter()
        self._said: list[str] = []
        self.usage = LlmTokens()

    async def add(self, completion: _Completion) -> None:
        if completion.usage is not None:
            self.usage = LlmTokens(
                prompt_tokens=completion.usage.prompt_tokens,
                completion_tokens=completion.usage.completion_tokens,
            )
        text = next(
            (c.delta or c.message for c in completion.choices[:1] if c.delta or c.message), None
        )
        if text is None:
            return
        await self._relay.add(text.reasoning_content or "")
        thought, said = self._splitter.feed(text.content or "")
        await self._relay.add(thought)
        self._said.append(said)

    async def answer(self) -> str:
        thought, said = self._splitter.close()
        await self._relay.add(thought)
        return "".join([*self._said, said])


class ReasoningRelay:
    """The LLM's reasoning to a watching client as Reasoning events, a few per second, made inert."""

    def __init__(self, events: EventLog, job_id: str, *, live: bool) -> None:
        self._events, self._job_id, self._live = events, job_id, live
        self._pending: list[str] = []
        self._sent_at = 0.0
        self._open_line = False  # the last text sent did not end its line

    async def add(self, text: str) -> None:
        if self._live and text:
            self._pending.append(text)
            if time.monotonic() - self._sent_at >= RELAY_EVERY:
                await self._send()

    async def close(self) -> None:
        await self._send()
        if self._open_line:  # the progress lines that follow start on their own line
            await self._events.append(self._job_id, Reasoning("\n"))
            self._open_line = False

    async def _send(self) -> None:
        text, self._pending, self._sent_at = "".join(self._pending), [], time.monotonic()
        if text:
            self._open_line = not text.endswith("\n")
            await self._events.append(self._job_id, Reasoning(neutralise_block(text)))
