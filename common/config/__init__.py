"""The settings: one frozen tree built once per process from the environment (and an optional
TOML file), and the table of upstream kinds."""

from common.config.types import EnhanceSpec, ModelSpec, ProviderSpec, Settings  # noqa: I001
from common.config.kinds import KINDS, Kind, model_spec
from common.config.load import ConfigError, load_settings

__all__ = [
    "KINDS",
    "ConfigError",
    "EnhanceSpec",
    "Kind",
    "ModelSpec",
    "ProviderSpec",
    "Settings",
    "load_settings",
    "model_spec",
]
