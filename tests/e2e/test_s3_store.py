"""IMAGE_STORE=s3 end to end: an api and a worker on different loopback addresses sharing only
Redis and a bucket (moto's S3 server on a third address)."""

import subprocess
import sys

import httpx
import openai
import pytest

from tests.e2e.test_chat_completions import image_urls


def ask(gateway, prompt: str = "a red kite") -> str:
    answer = gateway.client().chat.completions.create(
        model="placeholder", messages=[{"role": "user", "content": prompt}]
    )
    [url] = image_urls(answer.choices[0].message.content)
    return url


def test_images_live_in_the_bucket_and_image_streams_them(start_gateway, s3_server):
    bucket = s3_server.create_bucket()
    gateway = start_gateway(s3_server.env(bucket), host="127.0.0.2")
    url = ask(gateway)
    image_id = url.rsplit("/", 1)[1].split(".")[0]
    [key] = s3_server.objects(bucket)
    assert key == f"imagegate/{image_id}.png"
    stored = s3_server.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    served = httpx.get(url)
    assert served.status_code == 200 and served.content == stored
    assert served.headers["content-type"] == "image/png"
    assert served.headers["etag"] == f'"{image_id}"'
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == "default-src 'none'; sandbox"
    max_age = int(served.headers["cache-control"].removeprefix("public, max-age="))
    assert 1700 < max_age <= 1800
    assert httpx.get(url, headers={"If-None-Match": f'"{image_id}"'}).status_code == 304
    # Deleted behind imagegate's back: a 404, never a 500.
    s3_server.delete(bucket, key)
    gone = httpx.get(url)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


def test_presign_redirects_and_public_base_url_links_directly(start_gateway, s3_server):
    bucket = s3_server.create_bucket()
    gateway = start_gateway(s3_server.env(bucket, S3_PRESIGN="true"))
    url = ask(gateway)
    redirect = httpx.get(url)
    assert redirect.status_code == 302
    assert redirect.headers["location"].startswith(f"{s3_server.url}/{bucket}/imagegate/")
    assert httpx.get(url, follow_redirects=True).content.startswith(b"\x89PNG")

    cdn = "https://cdn.example/images"
    linked = start_gateway(s3_server.env(bucket, S3_PUBLIC_BASE_URL=cdn, S3_PREFIX="cdn/"))
    direct = ask(linked)
    assert direct.startswith(f"{cdn}/cdn/") and direct.endswith(".png")
    image_id = direct.rsplit("/", 1)[1].split(".")[0]
    assert httpx.get(f"{linked.url}/image/{image_id}.png").status_code == 200  # still served


def test_a_bucket_that_fails_fails_the_job_cleanly(start_gateway, s3_server):
    bucket = s3_server.create_bucket()
    gateway = start_gateway(s3_server.env(bucket))
    ask(gateway)
    client = s3_server.client()
    for key in s3_server.objects(bucket):
        client.delete_object(Bucket=bucket, Key=key)
    client.delete_bucket(Bucket=bucket)
    with pytest.raises(openai.APIStatusError) as caught:
        ask(gateway, "a blue kite")
    assert caught.value.status_code == 502
    assert caught.value.body["code"] == "storage_unavailable"


def test_a_missing_bucket_stops_check_config_and_the_api_at_start(s3_server, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **s3_server.env("not-there")}
    for command in (["check-config"], ["api", "--port", "9"]):
        done = subprocess.run(
            [sys.executable, "-m", "imagegate", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 2, (command, done.returncode, done.stdout, done.stderr)
        assert "S3_BUCKET 'not-there'" in done.stderr and "does not exist" in done.stderr
        assert "Traceback" not in done.stderr and "test" not in done.stderr.split("problem")[1]


def test_check_config_shows_the_store_never_the_credentials(s3_server, tmp_path):
    bucket = s3_server.create_bucket()
    secret = "s3cr3t-value"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        **s3_server.env(bucket, S3_ACCESS_KEY_ID="AKIDEXAMPLE", S3_SECRET_ACCESS_KEY=secret),
    }
    done = subprocess.run(
        [sys.executable, "-m", "imagegate", "check-config"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert f"s3 bucket {bucket!r} at 127.0.0.3:{s3_server.port}" in done.stdout
    assert secret not in done.stdout + done.stderr and "AKIDEXAMPLE" not in done.stdout
