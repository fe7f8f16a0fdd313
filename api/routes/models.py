"""GET /v1/models and /v1/models/{id}: the configured image models (ids may contain `/`)."""

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath

from api.auth import require_gateway_key
from api.openai.wire import Model, ModelList
from common.config.types import Settings
from common.errors import NotFound


def _models(settings: Settings) -> list[Model]:
    return [
        Model(
            id=model.name,
            owned_by=provider.name,
            # New API's convention, which Cherry Studio's painting page filters models by.
            supported_endpoint_types=["image-generation", *(["image-edit"] if model.edits else [])],
        )
        for provider in settings.providers
        for model in provider.models
    ]


@get(["/v1/models", "/models"], guards=[require_gateway_key])
async def list_models(settings: NamedDependency[Settings]) -> ModelList:
    return ModelList(data=_models(settings))


@get(["/v1/models/{model_id:path}", "/models/{model_id:path}"], guards=[require_gateway_key])
async def get_model(model_id: FromPath[str], settings: NamedDependency[Settings]) -> Model:
    model_id = model_id.lstrip("/")
    for model in _models(settings):
        if model.id == model_id:
            return model
    raise NotFound(f"the model {model_id!r} does not exist", param="model", code="model_not_found")
