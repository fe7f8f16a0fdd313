"""One adapter per kind of upstream API, all behind `Adapter` (worker.providers.base)."""

from worker.providers import a1111, chat, cloudflare, exacg, openai, placeholder, siliconflow
from worker.providers.base import Adapter

ADAPTERS: dict[str, Adapter] = {
    "openai": openai.generate,
    "siliconflow": siliconflow.generate,
    "cloudflare": cloudflare.generate,
    "exacg": exacg.generate,
    "a1111": a1111.generate,
    "chat": chat.generate,
    "placeholder": placeholder.generate,
}
