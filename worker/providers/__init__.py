"""One adapter per kind of upstream API, all behind `Adapter` (worker/providers/base.py).

common/config/kinds.py names each kind's adapter module; ADAPTERS maps a kind to that
module's `generate`.
"""

from common.config.kinds import KINDS
from worker.providers import a1111, chat, cloudflare, exacg, openai, placeholder, siliconflow
from worker.providers.base import Adapter, Upstream, UpstreamRequest

MODULES = {
    module.__name__.rpartition(".")[2]: module
    for module in (a1111, chat, cloudflare, exacg, openai, placeholder, siliconflow)
}
ADAPTERS: dict[str, Adapter] = {
    name: MODULES[kind.adapter].generate for name, kind in KINDS.items()
}

__all__ = ["ADAPTERS", "Adapter", "Upstream", "UpstreamRequest"]
