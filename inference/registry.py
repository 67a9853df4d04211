"""Name -> factory registries for pipeline components, with a per-process instance cache."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .errors import UnknownComponentError

T = TypeVar("T")


class Registry(Generic[T]):
    """Registers component factories by name; ``get`` builds each name once per process."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}
        self._descriptions: dict[str, str] = {}
        self._cache: dict[tuple, T] = {}
        self._lock = threading.Lock()

    def register(self, name: str, description: str = "") -> Callable[[Callable[..., T]], Callable[..., T]]:
        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._factories[name] = factory
            self._descriptions[name] = description or (factory.__doc__ or "").strip().split("\n")[0]
            return factory

        return decorator

    def names(self) -> list[str]:
        return sorted(self._factories)

    def describe(self) -> dict[str, str]:
        return {name: self._descriptions[name] for name in self.names()}

    def create(self, name: str, **kwargs: Any) -> T:
        """A new instance of ``name``; unknown names fail listing the known ones."""
        try:
            factory = self._factories[name]
        except KeyError:
            raise UnknownComponentError(
                f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}"
            ) from None
        return factory(**kwargs)

    def get(self, name: str, **kwargs: Any) -> T:
        """The process-wide shared instance of ``name`` built with ``kwargs``."""
        key = (name, tuple(sorted((k, repr(v)) for k, v in kwargs.items())))
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self.create(name, **kwargs)
            return self._cache[key]

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()
