"""Typed reading of environment variables that collects every problem instead of stopping."""

import difflib
from collections.abc import Mapping
from typing import overload
from urllib.parse import urlsplit

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_SECRET_WORDS = ("KEY", "TOKEN", "PASSWORD", "SECRET")


def shown(name: str, value: str) -> str:
    """How a problem quotes the value it got: never a secret, nor a URL carrying credentials."""
    if any(word in name for word in _SECRET_WORDS):
        return "(a secret, not shown)"
    try:
        credentials = "@" in urlsplit(value).netloc
    except ValueError:
        credentials = False
    return "(a URL with credentials, not shown)" if credentials else repr(value)


class EnvReader:
    """Reads variables by name; `problems` lists what was wrong, `names_read` what was set."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._env = environ
        self.problems: list[str] = []
        self.names_read: set[str] = set()
        self.names_asked: set[str] = set()  # set or not: what look-alike warnings compare with

    def has(self, name: str) -> bool:
        self.names_asked.add(name)
        return bool(self._env.get(name, "").strip())

    def names(self, prefix: str) -> list[str]:
        """The set variables whose name starts with `prefix`."""
        return sorted(
            name for name in self._env if name.startswith(prefix) and self._env[name].strip()
        )

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def bad(self, name: str, must: str) -> None:
        """A problem naming `name`, what it must be, and the value it got (unless secret)."""
        self.problem(f"{name} must be {must} (got {shown(name, self._env.get(name, '').strip())})")

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        """One of `choices`, case-insensitive; returned lower-case."""
        value = (self.text(name) or "").lower()
        if not value:
            return default
        if value not in choices:
            self.bad(name, "one of " + ", ".join(choices))
            return default
        return value

    @overload
    def text(self, name: str, default: str) -> str: ...

    @overload
    def text(self, name: str, default: None = None) -> str | None: ...

    def text(self, name: str, default: str | None = None) -> str | None:
        self.names_asked.add(name)
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
        self.bad(name, "true or false")
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
            self.bad(name, "an integer" if kind is int else "a number")
            return default
        if (low is not None and parsed < low) or (high is not None and parsed > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            self.bad(name, bounds)
            return default
        return parsed

    def lookalikes(self) -> list[tuple[str, str]]:
        """(variable, the one it resembles) for each variable set that nothing asked for but
        that is one typo away from a name that was: `IMAGE_GEN_KIND1`, `IMAGE_GEN_MODLE_1`."""
        asked = sorted(self.names_asked)
        pairs = []
        for name in sorted(self._env):
            if name in self.names_asked or not self._env.get(name, "").strip():
                continue
            if match := difflib.get_close_matches(name, asked, n=1, cutoff=0.85):
                pairs.append((name, match[0]))
        return pairs
