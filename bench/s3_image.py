"""/image/{id} served from the bucket (IMAGE_STORE=s3) against a direct GET of the same
object (a presigned URL, so the same HTTP client makes both requests).

For bench/run.sh: `await s3_vs_direct(gateway_url, spec, image_id, key)` returns two rows
(requests per second and p50/p99 in ms); `python -m bench.s3_image` runs it on its own:
moto's S3 server, an api and a worker, one stored image.
"""

import asyncio
import statistics
import time
from datetime import timedelta

import httpx
from obstore import sign_async

from common.config.types import S3Spec
from common.store.s3 import bucket

REQUESTS = 400
CONCURRENCY = 8


async def _timed(client: httpx.AsyncClient, url: str, requests: int) -> dict[str, float]:
    gate = asyncio.Semaphore(CONCURRENCY)
    latencies: list[float] = []

    async def one() -> None:
        async with gate:
            started = time.perf_counter()
            answer = await client.get(url)
            answer.raise_for_status()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(requests)))
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": requests / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


async def s3_vs_direct(
    gateway_url: str, spec: S3Spec, image_id: str, key: str, requests: int = REQUESTS
) -> dict[str, dict[str, float]]:
    direct = await sign_async(bucket(spec), "GET", key, timedelta(minutes=15))
    async with httpx.AsyncClient(timeout=30) as client:
        await client.get(f"{gateway_url}/image/{image_id}.png")  # warm both paths
        await client.get(direct)
        return {
            "/image from S3": await _timed(client, f"{gateway_url}/image/{image_id}.png", requests),
            "direct S3 GET": await _timed(client, direct, requests),
        }


def measure() -> dict[str, dict[str, float]]:
    """moto's S3 server, an api and a worker on IMAGE_STORE=s3, one stored image: both rows."""
    from imagegate.redis_server import RedisProcess
    from tests.gateway import Gateway
    from tests.servers import S3Server

    with S3Server() as s3, RedisProcess() as redis:
        name = s3.create_bucket()
        gateway = Gateway(redis.url, s3.env(name)).start()
        try:
            chat = gateway.client().chat.completions.create(
                model="placeholder", messages=[{"role": "user", "content": "a bench kite"}]
            )
            url = chat.choices[0].message.content.split("](")[1].split(")")[0]
            image_id = url.rsplit("/", 1)[1].split(".")[0]
            spec = S3Spec(
                bucket=name,
                endpoint_url=s3.url,
                region="us-east-1",
                access_key_id="test",
                secret_access_key="test",
            )
            return asyncio.run(
                s3_vs_direct(gateway.url, spec, image_id, f"imagegate/{image_id}.png")
            )
        finally:
            gateway.stop()


def main() -> None:
    for label, row in measure().items():
        print(
            f"{label:15} {row['rps']:7.0f} req/s  p50 {row['p50_ms']:6.1f} ms  p99 {row['p99_ms']:6.1f} ms"
        )


if __name__ == "__main__":
    main()
