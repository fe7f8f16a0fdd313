"""What the api and the worker share: settings (config/), Redis (store/), prompt reading
(prompt/), the error tree (errors.py) and the job payloads and events (schemas.py)."""
