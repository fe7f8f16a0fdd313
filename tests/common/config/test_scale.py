"""IMAGE_STORE, the S3_* variables and Redis through Sentinel, as the configuration reads them."""

import pytest

from common.config.load import ConfigError, load_settings


def problems(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    return str(caught.value)


def test_s3_settings_are_read_with_their_defaults():
    settings = load_settings({"IMAGE_STORE": "S3", "S3_BUCKET": "pics", "IMAGE_EXPIRATION": "0"})
    assert settings.s3.bucket == "pics" and settings.s3.prefix == "imagegate/"
    assert settings.s3.presign is False and settings.s3.access_key_id is None
    assert settings.image_expiration == 0 and settings.records_ttl == 86400
    assert load_settings({}).s3 is None


def test_s3_mistakes_are_named_together():
    text = problems(
        {
            "IMAGE_STORE": "s3",
            "S3_ACCESS_KEY_ID": "AKID",
            "S3_ENDPOINT_URL": "minio:9000",
            "S3_PUBLIC_BASE_URL": "ftp://cdn",
        }
    )
    assert "needs S3_BUCKET" in text and "go together" in text
    assert "S3_ENDPOINT_URL must be an http(s) URL" in text and "S3_PUBLIC_BASE_URL" in text
    assert "IMAGE_STORE must be redis or s3" in problems({"IMAGE_STORE": "disk"})


def test_keeping_images_for_good_is_refused_with_the_redis_store():
    assert "IMAGE_EXPIRATION=0" in problems({"IMAGE_EXPIRATION": "0"})


def test_sentinels_are_parsed_and_exclude_redis_url():
    settings = load_settings(
        {"REDIS_SENTINELS": "10.0.0.1:26379, [::1]:26380", "REDIS_SENTINEL_PASSWORD": "sp"}
    )
    assert settings.sentinel.sentinels == (("10.0.0.1", 26379), ("::1", 26380))
    assert settings.sentinel.master == "mymaster" and settings.sentinel.password == "sp"
    text = problems({"REDIS_SENTINELS": "a:1,b", "REDIS_URL": "redis://x:6379/0"})
    assert "REDIS_URL and REDIS_SENTINELS are both set" in text and "got 'b'" in text


def test_redis_password_fills_a_url_without_one():
    env = {"REDIS_URL": "redis://cache:6379/2", "REDIS_PASSWORD": "p@ss word"}
    assert load_settings(env).redis_url == "redis://:p%40ss%20word@cache:6379/2"
    own = {"REDIS_URL": "redis://u:own@cache:6379/0", "REDIS_PASSWORD": "other"}
    assert load_settings(own).redis_url == "redis://u:own@cache:6379/0"
