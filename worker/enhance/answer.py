"""Reading an enhancement LLM's answer: `<think>` split off, then the prompt and ratio from JSON or plain text."""

import json
import re

from common.errors import UpstreamFailed
from common.prompt.flags import read_ratio


class ThinkSplitter:
    """Splits content into reasoning (inside `<think>…</think>`) and answer, piece by piece: a
    tag cut in two by the stream is held back until the next piece completes it."""

    def __init__(self) -> None:
        self._inside = False
        self._held = ""

    def feed(self, text: str) -> tuple[str, str]:
        text, self._held = self._held + text, ""
        parts: dict[bool, list[str]] = {True: [], False: []}
        while text:
            tag = "</think>" if self._inside else "<think>"
            index = text.find(tag)
            if index >= 0:
                parts[self._inside].append(text[:index])
                text, self._inside = text[index + len(tag) :], not self._inside
                continue
            held = next((n for n in range(len(tag) - 1, 0, -1) if text.endswith(tag[:n])), 0)
            parts[self._inside].append(text[: len(text) - held])
            self._held = text[len(text) - held :]
            break
        return "".join(parts[True]), "".join(parts[False])

    def close(self) -> tuple[str, str]:
        held, self._held = self._held, ""
        return (held, "") if self._inside else ("", held)


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S | re.I)
_LABEL = re.compile(r"^(?:enhanced\s+)?prompt\s*[:：]\s*", re.I)


def parse_answer(text: str, limit: int) -> tuple[str, str | None]:
    """The prompt and the suggested ratio in an LLM's answer: the JSON object we asked for (bare,
    fenced, or with text around it), or else plain text taken as the prompt."""
    fenced = _FENCE.search(text)
    body = (fenced.group(1) if fenced else text).strip()
    start, end = body.find("{"), body.rfind("}")
    data = _json_object(body[start : end + 1]) if 0 <= start < end else None
    if data is not None:
        prompt, ratio = data.get("prompt"), data.get("aspect_ratio")
        if not isinstance(prompt, str) or not prompt.strip():
            raise UpstreamFailed("the LLM's JSON answer holds no prompt")
        return _one_paragraph(prompt, limit), read_ratio(ratio) if isinstance(ratio, str) else None
    if body.startswith(("{", "[")):
        raise UpstreamFailed("the LLM answered with broken JSON")
    prompt = _one_paragraph(_LABEL.sub("", body).strip("\"'“”"), limit)
    if not prompt:
        raise UpstreamFailed("the LLM answered with nothing")
    return prompt, None


def _json_object(text: str) -> dict | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _one_paragraph(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters at a word's end when it is longer."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit + 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut[:limit]).strip()
