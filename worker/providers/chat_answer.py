"""Finding the images in another gateway's chat answer: Markdown, JSON urls or base64, SSE chunks."""

import json
import re
from typing import Any

# ![alt](url) or ![alt](<url> "title"); data: URLs hold no spaces or parentheses either.
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_DIRECT_FIELDS = ("url", "image_url", "image", "b64_json")


def image_refs(content_type: str, body: bytes) -> tuple[list[str], str]:
    """The images (http(s) or `data:` URLs, or bare base64) an answer holds, and its text."""
    text = body.decode(errors="replace")
    if content_type.startswith("text/event-stream"):
        text = _stream_content(text)
    elif content_type.startswith("application/json") or text.lstrip().startswith("{"):
        try:
            return _json_refs(json.loads(text))
        except ValueError:
            pass
    return _MARKDOWN_IMAGE.findall(text), text


def _json_refs(answer: Any) -> tuple[list[str], str]:
    if not isinstance(answer, dict):
        return [], ""
    refs = [str(answer[name]) for name in _DIRECT_FIELDS if isinstance(answer.get(name), str)]
    for item in answer.get("data") or []:  # the Images API's shape
        if isinstance(item, dict):
            refs += [item[name] for name in ("url", "b64_json") if isinstance(item.get(name), str)]
    message = _first_message(answer)
    content = _content_text(message.get("content"))
    refs += _MARKDOWN_IMAGE.findall(content)
    # Gateways in front of image-making chat models (OpenRouter and others) add `images`.
    refs += [
        part["image_url"]["url"] for part in message.get("images") or [] if _is_image_part(part)
    ]
    return refs, content


def _first_message(answer: dict) -> dict:
    choices = answer.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    message = first.get("message") if isinstance(first, dict) else None
    return message if isinstance(message, dict) else {}


def _content_text(content: Any) -> str:
    if isinstance(content, list):  # content parts: text, and image_url parts made Markdown
        return " ".join(
            f"![image]({part['image_url']['url']})"
            if _is_image_part(part)
            else str(part.get("text") or "")
            for part in content
            if isinstance(part, dict)
        )
    return content if isinstance(content, str) else ""


def _is_image_part(part: Any) -> bool:
    return (
        isinstance(part, dict)
        and isinstance(part.get("image_url"), dict)
        and isinstance(part["image_url"].get("url"), str)
    )


def _stream_content(text: str) -> str:
    """The `delta.content` of every chunk of an SSE answer, joined."""
    pieces = []
    for line in text.splitlines():
        data = line.removeprefix("data:").strip() if line.startswith("data:") else ""
        if not data or data == "[DONE]":
            continue
        try:
            choices = json.loads(data).get("choices") or [{}]
        except (ValueError, AttributeError):
            continue
        pieces.append(_content_text((choices[0].get("delta") or {}).get("content")))
    return "".join(pieces)
