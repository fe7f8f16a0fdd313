"""What a prompt says besides the picture: flags and ratios, the size tables, the size plan
(common/prompt/size_plan.py, imported by its path: it needs the settings' ModelSpec), and
the Markdown neutralising of text that goes back to clients."""

from common.prompt.flags import ParsedPrompt, parse_prompt, read_ratio
from common.prompt.markup import neutralise, neutralise_block
from common.prompt.size_tables import RATIOS, Size, closest_ratio, parse_size

__all__ = [
    "RATIOS",
    "ParsedPrompt",
    "Size",
    "closest_ratio",
    "neutralise",
    "neutralise_block",
    "parse_prompt",
    "parse_size",
    "read_ratio",
]
