"""The HTTP process: the OpenAI-compatible routes, auth, errors, and the jobs they start
(api/app.py create_app builds it)."""
