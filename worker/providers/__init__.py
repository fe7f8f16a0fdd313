"""One adapter per kind of upstream API, all behind `Adapter` (worker.providers.base)."""

from worker.providers import openai, placeholder
from worker.providers.base import Adapter

ADAPTERS: dict[str, Adapter] = {
    "openai": openai.generate,
    "placeholder": placeholder.generate,
}
