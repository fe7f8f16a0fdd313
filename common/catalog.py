"""What imagegate knows about upstream models: size rules, batch sizes, seeds, step defaults."""

from typing import Any

from common.config_types import ModelSpec

_DALL_E_2 = ((256, 256), (512, 512), (1024, 1024))
_DALL_E_3 = ((1024, 1024), (1792, 1024), (1024, 1792))
_GPT_IMAGE = ((1024, 1024), (1536, 1024), (1024, 1536))

# (kind, upstream id prefix, traits): the first row whose kind and prefix match wins, so
# specific rows come before a kind's catch-all row (prefix "").
_TRAITS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("openai", "dall-e-2", {"fixed_sizes": _DALL_E_2, "seeds": False, "batch": 4, "prompt_limit": 1000}),
    ("openai", "dall-e-3", {"fixed_sizes": _DALL_E_3, "seeds": False, "batch": 1}),
    ("openai", "gpt-image", {"fixed_sizes": _GPT_IMAGE, "seeds": False, "batch": 4}),
    ("openai", "", {"seeds": False, "batch": 4}),
    ("placeholder", "", {"batch": 4}),
)


def model_spec(kind: str, name: str, upstream: str, **overrides: Any) -> ModelSpec:
    """The ModelSpec for `upstream` served by a provider of `kind`, with configured overrides."""
    traits = next((t for k, prefix, t in _TRAITS if k == kind and upstream.startswith(prefix)), {})
    return ModelSpec(name=name, upstream=upstream, **{**traits, **overrides})
