"""The bulk reader against a real redis-server: big values, nils, errors, auth, TLS, outages."""

import asyncio
import datetime
import ipaddress
import os
import subprocess
import time

import pytest
import redis as sync_redis
from redis.asyncio import ConnectionPool
from redis.exceptions import ConnectionError, ResponseError, TimeoutError

from common.store.bulk_reader import CLIENT_NAME, BulkReader
from imagegate.redis_server import RedisProcess, free_port, stop_process

pytestmark = pytest.mark.asyncio


def reader_of(url: str, **options) -> BulkReader:
    """A reader set up as the main client's pool for `url` is (api/app.py)."""
    return BulkReader(ConnectionPool.from_url(url), **options)


def reader_connections(client: sync_redis.Redis) -> list[dict]:
    return [c for c in client.client_list() if c["name"] == CLIENT_NAME]


@pytest.fixture
def server(redis_server):
    redis_server.flush()
    return redis_server


async def test_big_values_small_values_and_nils(server):
    client = sync_redis.Redis(port=server.port)
    big = os.urandom(3 * 1024 * 1024 + 7)
    client.set("big", big)
    client.hset("image", mapping={"meta": b"\x81\xa1a\x01", "data": big})
    reader = reader_of(server.url)
    assert bytes(await reader.execute("GET", "big")) == big
    meta, data = await reader.execute("HMGET", "image", "meta", "data")
    assert bytes(meta) == b"\x81\xa1a\x01" and bytes(data) == big
    assert await reader.execute("GET", "missing") is None
    assert await reader.execute("HMGET", "missing", "meta", "data") == [None, None]
    assert await reader.execute("PING") == "PONG" and await reader.execute("DBSIZE") == 2
    await reader.close()


async def test_an_error_reply_raises_and_the_connection_stays_usable(server):
    client = sync_redis.Redis(port=server.port)
    client.set("text", "x")
    reader = reader_of(server.url, size=1)
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await reader.execute("HMGET", "text", "data")
    assert bytes(await reader.execute("GET", "text")) == b"x"
    [connection] = reader_connections(client)
    assert connection["cmd"] == "get"  # the one connection served both
    await reader.close()


async def test_concurrent_requests_share_a_small_pool(server):
    client = sync_redis.Redis(port=server.port)
    values = {f"key-{n}": os.urandom(50_000 + n) for n in range(40)}
    client.mset(values)
    reader = reader_of(server.url, size=3)
    replies = await asyncio.gather(*(reader.execute("GET", key) for key in values))
    assert [bytes(reply) for reply in replies] == list(values.values())
    await reader.close()


async def test_the_url_password_and_database_are_used():
    with RedisProcess() as server:
        client = sync_redis.Redis(port=server.port)
        client.config_set("requirepass", "s3cret")
        sync_redis.Redis(port=server.port, password="s3cret", db=3).set("here", "db3")
        reader = reader_of(f"redis://:s3cret@127.0.0.1:{server.port}/3")
        assert bytes(await reader.execute("GET", "here")) == b"db3"
        await reader.close()
        with pytest.raises(ConnectionError):
            await reader_of(f"redis://:wrong@127.0.0.1:{server.port}/3").execute("GET", "here")


async def test_an_outage_is_a_connection_error_and_then_it_reconnects():
    server = RedisProcess().start()
    try:
        sync_redis.Redis(port=server.port).set("k", "v")
        reader = reader_of(server.url)
        assert bytes(await reader.execute("GET", "k")) == b"v"
        server.kill()
        with pytest.raises(ConnectionError):
            await reader.execute("GET", "k")
        server.start()
        sync_redis.Redis(port=server.port).set("k", "back")
        assert bytes(await reader.execute("GET", "k")) == b"back"
        await reader.close()
    finally:
        server.stop()


async def test_a_value_cut_off_midway_is_a_connection_error_never_its_part():
    """The buffer a value lands in is not zeroed first: only a whole value may be handed over."""

    async def cut_off(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"imagegate-image-reader\r\n")  # CLIENT SETNAME
        writer.write(b"+OK\r\n")
        await reader.readuntil(b"$1\r\nk\r\n")  # GET k
        writer.write(b"$1000000\r\n" + b"v" * 300_000)  # 30 % of the value, then gone
        await writer.drain()
        writer.close()

    fake = await asyncio.start_server(cut_off, "127.0.0.1", 0)
    port = fake.sockets[0].getsockname()[1]
    reader = reader_of(f"redis://127.0.0.1:{port}")
    try:
        with pytest.raises(ConnectionError):
            await reader.execute("GET", "k")
    finally:
        await reader.close()
        fake.close()
        await fake.wait_closed()


async def test_a_cancelled_request_closes_its_connection(server):
    client = sync_redis.Redis(port=server.port)
    reader = reader_of(server.url, timeout=30)
    request = asyncio.create_task(reader.execute("BLPOP", "nothing", 0))
    async with asyncio.timeout(5):
        while not any(c["cmd"] == "blpop" for c in reader_connections(client)):
            await asyncio.sleep(0.01)
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    async with asyncio.timeout(5):  # Redis drops the client once the reader closed it
        while reader_connections(client):
            await asyncio.sleep(0.01)
    await reader.close()


async def test_a_slow_reply_is_a_timeout_error(server):
    reader = reader_of(server.url, timeout=0.2)
    with pytest.raises(TimeoutError):
        await reader.execute("BLPOP", "nothing", 0)
    await reader.close()


def self_signed(folder) -> tuple[str, str]:
    """A certificate for 127.0.0.1 that is its own CA, and its key: their paths."""
    from cryptography import x509  # moto's dependency
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


async def test_tls_is_set_up_as_the_main_client_sets_it_up(tmp_path):
    cert, key = self_signed(tmp_path)
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1"]
        + ["--tls-cert-file", cert, "--tls-key-file", key, "--tls-auth-clients", "no"]
        + ["--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    try:
        url = f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={cert}"
        client = sync_redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.set("k", "over TLS")
                break
            except sync_redis.ConnectionError:
                time.sleep(0.05)
        reader = reader_of(url)  # the CA the URL names, as redis-py trusts it
        assert bytes(await reader.execute("GET", "k")) == b"over TLS"
        await reader.close()
        with pytest.raises(ConnectionError):  # the system's CAs do not know this certificate
            await reader_of(f"rediss://127.0.0.1:{port}/0").execute("GET", "k")
    finally:
        stop_process(process)
