"""The OpenAI wire format: request and answer Structs (wire.py), the chat answer in Markdown
(chat_answer.py, markdown.py), and Server-Sent Events framing (sse.py)."""

from api.openai.wire import ChatCompletionRequest, ErrorBody, ImageGenerationRequest

__all__ = ["ChatCompletionRequest", "ErrorBody", "ImageGenerationRequest"]
