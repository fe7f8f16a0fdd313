"""What imagegate asks the enhancement LLM: one short system prompt, written for today's image models."""

from common.prompt.size_tables import RATIOS

SYSTEM_PROMPT = """\
You turn a short idea into a prompt for a text-to-image model (FLUX, SDXL, Qwen-Image, Z-Image).
Write one paragraph of comma-separated English phrases, at most 50 words: the main subject and \
what it does first, then setting, composition, lighting, colours, style or medium, and mood. Be \
concrete and visual; keep every detail the idea gives and add only what suits it. Translate the \
idea into English, but copy any text in quotes ("…", '…', “…”, 「…」) exactly as written, in its \
own language, and say where it appears (a sign reading "…"). No lists, no line breaks, no \
negative phrasing, no explanations.
Answer with only this JSON object: {"prompt": "<the prompt>", "aspect_ratio": "<W:H>" or null}"""


def system_prompt(custom: str | None, fixed_ratio: str | None) -> str:
    """`custom` (ENHANCE_SYSTEM_PROMPT) as given; else ours, told whether it may choose the ratio."""
    if custom:
        return custom
    if fixed_ratio:
        return f"{SYSTEM_PROMPT}\nThe aspect ratio is fixed at {fixed_ratio}: compose for it and answer aspect_ratio null."
    return f"{SYSTEM_PROMPT}\nChoose aspect_ratio to suit the picture, one of {', '.join(RATIOS)}."
