"""Models by name: ``reprlab train ae`` looks ``ae`` up here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import ConfigError


@dataclass(frozen=True)
class ModelSpec:
    name: str
    cls: type
    description: str

    @property
    def config_cls(self) -> type:
        return self.cls.Config


MODELS: dict[str, ModelSpec] = {}


def register_model(name: str, description: str) -> Callable[[type], type]:
    def deco(cls: type) -> type:
        MODELS[name] = ModelSpec(name, cls, description)
        return cls

    return deco


def get_model_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(sorted(MODELS))}")
    return MODELS[name]
