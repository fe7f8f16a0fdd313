"""Fetching images that upstreams answer with as URLs, without letting a URL reach inside our network."""

from urllib.parse import urljoin

import httpx

from common.net import origin, public_or_unresolved
from worker.upstream.bodies import read_capped
from worker.upstream.failures import Reason, UpstreamFailure, transport_errors

MAX_REDIRECTS = 3


async def check_target(url: str, trusted: tuple[str, str, int | None]) -> None:
    """Refuse non-http(s) URLs and hosts that resolve to private, loopback or link-local addresses,
    unless the URL has the provider's own configured origin, scheme, host and port alike
    (self-hosted upstreams live there; another port of that host may be anything)."""
    target = origin(url)
    scheme, host, port = target
    if scheme not in ("http", "https") or not host:
        raise UpstreamFailure(
            Reason.UNUSABLE, "the upstream answered with an image URL that is not http(s)"
        )
    if target == trusted:
        return
    public = await public_or_unresolved(host, port)
    if public is None:
        raise UpstreamFailure(
            Reason.UNAVAILABLE, "the image host of the upstream's answer does not resolve"
        )
    if not public:
        raise UpstreamFailure(
            Reason.UNUSABLE, "the upstream's image URL points to a private address; refused"
        )


async def download(
    client: httpx.AsyncClient, url: str, provider_url: str, auth: dict[str, str]
) -> bytes:
    """The bytes at `url`, following at most 3 redirects, each checked again; `auth` headers
    go only to the provider's own origin."""
    provider_origin = origin(provider_url)
    for _ in range(MAX_REDIRECTS + 1):
        await check_target(url, provider_origin)
        headers = auth if origin(url) == provider_origin else {}
        with transport_errors():
            async with client.stream(
                "GET", url, headers=headers, follow_redirects=False
            ) as response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code != 200:
                    raise UpstreamFailure(
                        Reason.UNAVAILABLE,
                        f"downloading the image failed with HTTP {response.status_code}",
                        status=response.status_code,
                    )
                return await read_capped(response)
    raise UpstreamFailure(
        Reason.UNUSABLE, f"the image URL redirected more than {MAX_REDIRECTS} times"
    )
