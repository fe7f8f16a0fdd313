"""The worker process: arq's loop (loop.py, pickup.py), the `generate` job (generate.py), the
key failover loop (failover.py), prompt enhancement, and one adapter per upstream kind
(worker/settings.py create_worker builds it)."""
