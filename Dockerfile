# imagegate: one image for the api and the worker (docker-compose.yml picks the command).
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY worker ./worker
COPY common ./common
COPY imagegate ./imagegate
# Installed exactly as the README does it.
RUN pip install --no-cache-dir . \
    && useradd --system --no-create-home imagegate
USER imagegate

ENV HOST=0.0.0.0 PORT=8000 PYTHONUNBUFFERED=1
EXPOSE 8000
CMD ["imagegate", "api"]
