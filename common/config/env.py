"""Typed reading of environment variables that collects every problem instead of stopping."""

from collections.abc import Mapping

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class EnvReader:
    """Reads variables by name; `problems` lists what was wrong, `names_read` what was set."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._env = environ
        self.problems: list[str] = []
        self.names_read: set[str] = set()

    def has(self, name: str) -> bool:
        return bool(self._env.get(name, "").strip())

    def names(self, prefix: str) -> list[str]:
        """The set variables whose name starts with `prefix`."""
        return sorted(name for name in self._env if name.startswith(prefix) and self.has(name))

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self._env.get(name, "").strip()
        if not value:
            return default
        self.names_read.add(name)
        return value

    def items(self, name: str) -> tuple[str, ...]:
        """A comma-separated list, blanks dropped."""
        value = self.text(name) or ""
        return tuple(item.strip() for item in value.split(",") if item.strip())

    def flag(self, name: str, default: bool) -> bool:
        value = self.text(name)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        self.problem(f"{name} must be true or false")
        return default

    def integer(
        self, name: str, default: int, *, low: int | None = None, high: int | None = None
    ) -> int:
        return int(self._number(name, default, int, low, high))

    def number(
        self, name: str, default: float, *, low: float | None = None, high: float | None = None
    ) -> float:
        return self._number(name, default, float, low, high)

    def _number(self, name, default, kind, low, high):
        value = self.text(name)
        if value is None:
            return default
        try:
            parsed = kind(value)
        except ValueError:
            self.problem(f"{name} must be {'an integer' if kind is int else 'a number'}")
            return default
        if (low is not None and parsed < low) or (high is not None and parsed > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            self.problem(f"{name} must be {bounds}")
            return default
        return parsed
