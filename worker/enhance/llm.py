"""Prompt enhancement: one LLM call, its reasoning relayed live; any failure keeps the user's prompt.

The LLM's keys go through the failover loop (worker/failover.py) in turn, its call through
worker/upstream/http.py's open_json, its failures are UpstreamFailure then UpstreamFailed."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx
import msgspec

from common.config.types import EnhanceSpec, ModelSpec, ProviderSpec
from common.errors import ImagegateError, UpstreamFailed
from common.prompt.markup import neutralise, neutralise_block
from common.prompt.size_plan import describe_ratio
from common.schemas import GenerateJob, LlmTokens, Reasoning
from common.store.events import EventLog
from worker.enhance.answer import ThinkSplitter, parse_answer
from worker.enhance.prompts import system_prompt
from worker.failover import KeyOrder, Notify
from worker.providers.base import Upstream, bearer
from worker.services import Services
from worker.upstream.bodies import BodyTooLarge, capped_lines, read_capped
from worker.upstream.failures import Reason, UpstreamFailure
from worker.upstream.http import open_json

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
    body = request_body(spec, job)

    async def ask(upstream: Upstream) -> tuple[str, LlmTokens]:
        return await _ask(upstream, body, relay)

    try:
        async with asyncio.timeout(spec.timeout):
            answer, usage = await services.failover.each_key(
                llm_provider(spec), ask, _unannounced, order=KeyOrder.IN_TURN, exhausted=_all_failed
            )
        prompt, ratio = parse_answer(answer, model.prompt_limit)
    except TimeoutError:
        failure = f"the LLM did not answer within {spec.timeout:g} s"
    except ImagegateError as exc:
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


def llm_provider(spec: EnhanceSpec) -> ProviderSpec:
    """The LLM as the failover loop sees a provider: an OpenAI-compatible /chat/completions."""
    return ProviderSpec(
        name="the LLM", kind="chat", base_url=spec.base_url, keys=spec.keys, timeout=spec.timeout
    )


async def _unannounced(text: str) -> None:
    """The LLM's failovers are not shown: its outcome is (enhanced, or why not)."""


def _all_failed(provider: ProviderSpec, failures: list[UpstreamFailure]) -> ImagegateError:
    if len(failures) == 1:
        return UpstreamFailed(failures[0].message)
    return UpstreamFailed(f"all {len(failures)} LLM keys failed; the last: {failures[-1].message}")


async def _ask(upstream: Upstream, body: dict, relay: "ReasoningRelay") -> tuple[str, LlmTokens]:
    collector = _Collector(relay)
    with _in_llm_words():
        async with open_json(
            upstream.client, upstream.endpoint(), body, headers=bearer(upstream.key)
        ) as response:
            # A server may ignore `stream: true` and answer with one JSON body: both are read.
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                await _read_stream(response, collector)
            else:
                await collector.add(_decode(await read_capped(response, MAX_ANSWER)))
    return await collector.answer(), collector.usage


@contextlib.contextmanager
def _in_llm_words() -> Iterator[None]:
    """Nothing the LLM sent reaches the answer: only its HTTP status, or that it was unreachable."""
    try:
        yield
    except BodyTooLarge:
        raise _too_long() from None
    except UpstreamFailure as failure:
        if failure.status is not None:
            message = f"the LLM answered HTTP {failure.status}"
        elif isinstance(failure.__cause__, httpx.TransportError | OSError):
            message = f"could not reach the LLM ({failure.reason.value})"
        else:
            raise
        raise UpstreamFailure(
            failure.reason, message, status=failure.status, retry_after=failure.retry_after
        ) from failure


def _too_long() -> UpstreamFailure:
    return UpstreamFailure(Reason.UNUSABLE, "the LLM's answer is too long")


async def _read_stream(response: httpx.Response, collector: "_Collector") -> None:
    size = 0
    async for line in capped_lines(response, MAX_ANSWER):
        size += len(line)
        if size > MAX_ANSWER:
            raise _too_long()
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
    except msgspec.DecodeError:
        # Garbage, like a 5xx: another key may get a real answer.
        raise UpstreamFailure(
            Reason.UNAVAILABLE, "the LLM answered with something that is not a chat completion"
        ) from None
    if completion.error:
        raise UpstreamFailure(Reason.UNAVAILABLE, "the LLM reported an error")
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
