"""What the api and the worker share in Redis: the client, every key (keys.py), job events,
idempotency, metrics, arq's internals (arq_compat.py), and the image store (images.py)."""

from common.store import keys, metrics
from common.store.events import EventHub, EventLog
from common.store.idempotency import Claim
from common.store.redis import DEFAULT_URL, connect, subscription

__all__ = [
    "DEFAULT_URL",
    "Claim",
    "EventHub",
    "EventLog",
    "connect",
    "keys",
    "metrics",
    "subscription",
]
