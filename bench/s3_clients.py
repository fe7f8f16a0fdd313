"""Upload and streamed-download cost of two async S3 clients (obstore, aiobotocore) against
moto's S3 server: wall time and this process's CPU per operation, at concurrency 1 and 16."""

import asyncio
import os
import subprocess
import sys
import time

from imagegate.redis_server import free_port

SIZE = 1_500_000
ROUNDS = 60
BUCKET = "bench"


async def _obstore(url: str):
    from obstore.store import S3Store

    store = S3Store(
        BUCKET,
        endpoint=url,
        region="us-east-1",
        access_key_id="a",
        secret_access_key="b",
        client_options={"allow_http": True},
    )

    async def put(key: str, data: bytes) -> None:
        await store.put_async(key, data)

    async def get(key: str) -> int:
        got = await store.get_async(key)
        return sum([len(chunk) async for chunk in got.stream(min_chunk_size=256 * 1024)])

    return put, get, None


async def _aiobotocore(url: str):
    from aiobotocore.session import get_session

    context = get_session().create_client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="a",
        aws_secret_access_key="b",
    )
    client = await context.__aenter__()

    async def put(key: str, data: bytes) -> None:
        await client.put_object(Bucket=BUCKET, Key=key, Body=data)

    async def get(key: str) -> int:
        answer = await client.get_object(Bucket=BUCKET, Key=key)
        total = 0
        async with answer["Body"] as body:
            async for chunk in body.iter_chunks(256 * 1024):
                total += len(chunk)
        return total

    return put, get, context


async def measure(name: str, url: str, concurrency: int) -> str:
    put, get, context = await (_obstore if name == "obstore" else _aiobotocore)(url)
    data = os.urandom(SIZE)
    keys = [f"{name}/{concurrency}/{n}" for n in range(ROUNDS)]
    lines = []
    for label, op in (("upload", lambda k: put(k, data)), ("download", get)):
        gate = asyncio.Semaphore(concurrency)

        async def one(key, op=op, gate=gate):
            async with gate:
                await op(key)

        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one(key) for key in keys))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        lines.append(
            f"{name:12} c={concurrency:<3} {label:9} {wall / ROUNDS * 1000:6.1f} ms wall/op"
            f"  {cpu / ROUNDS * 1000:6.2f} ms client CPU/op"
        )
    if context is not None:
        await context.__aexit__(None, None, None)
    return "\n".join(lines)


def main() -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(100):
            try:
                httpx.put(f"{url}/{BUCKET}")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        for name in ("obstore", "aiobotocore"):
            for concurrency in (1, 16):
                print(asyncio.run(measure(name, url, concurrency)), flush=True)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
