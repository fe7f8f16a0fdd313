"""Another chat-style image gateway: the prompt goes as the user message of `/chat/completions`.

The scripts imagegate replaces, and imagegate itself, answer with Markdown holding an image
link; others answer JSON with a URL or base64, or the image bytes themselves.
"""

from urllib.parse import urljoin

from common.prompt.size_tables import closest_ratio
from worker.providers.base import Upstream, UpstreamRequest, bearer, data_uri
from worker.providers.chat_answer import image_refs
from worker.upstream.download import download
from worker.upstream.failures import answer_failure, classify, is_html
from worker.upstream.http import decode_base64, post_json


def user_message(request: UpstreamRequest) -> str:
    """The prompt, with the ratio asked for in words those gateways parse (`ratio 16:9`):
    a chat body has no size field they agree on."""
    if not (request.width and request.height):
        return request.prompt
    ratio = closest_ratio(request.width / request.height)
    return request.prompt if ratio == "1:1" else f"{request.prompt}, ratio {ratio}"


def build_body(request: UpstreamRequest) -> dict:
    content: str | list[dict] = user_message(request)
    if request.images:  # an edit: the text first, then each image as an image_url part
        content = [
            {"type": "text", "text": content},
            *(
                {"type": "image_url", "image_url": {"url": data_uri(image)}}
                for image in request.images
            ),
        ]
    return {
        "model": request.model.upstream,
        "messages": [{"role": "user", "content": content}],
        "stream": False,
    }


async def generate(upstream: Upstream, request: UpstreamRequest) -> list[bytes]:
    url = upstream.endpoint()
    auth = bearer(upstream.key)
    response, body = await post_json(upstream.client, url, build_body(request), headers=auth)
    content_type = response.headers.get("content-type", "")
    if content_type.startswith("image/"):
        return [body]
    refs, text = image_refs(content_type, body)
    if not refs:
        # Such gateways report failures as the answer's text: its words say what went wrong.
        failed = is_html(body) or not text.strip()
        raise answer_failure(200, body) if failed else classify(200, text.strip()[:300])
    images = []
    for ref in refs[: request.n]:  # an answer may link more images than were asked for
        if ref.startswith(("http://", "https://", "/")):
            images.append(await download(upstream.client, urljoin(url, ref), url, auth))
        else:
            images.append(decode_base64(ref))
    return images
