"""The `.env` file docker compose reads, read by every imagegate command too."""

import os
import re
from collections.abc import MutableMapping
from pathlib import Path

ENV_FILE_VARIABLE = "IMAGEGATE_ENV_FILE"
_LINE = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)")


def parse(text: str, where: str) -> tuple[dict[str, str], list[str]]:
    """`NAME=value` lines as docker compose reads them: blank lines and `#` comments skipped,
    `export ` allowed, values in single quotes taken as written, in double quotes with `\\n`
    escapes, unquoted ones up to a ` #` comment."""
    values, problems = {}, []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            problems.append(f"{where} line {number} is not NAME=value")
            continue
        name, raw = match.groups()
        if raw[:1] in ("'", '"') and raw.endswith(raw[0]) and len(raw) > 1:
            value = raw[1:-1]
            if raw[0] == '"':
                value = value.replace("\\n", "\n").replace('\\"', '"')
        else:
            value = re.split(r"\s+#", raw, maxsplit=1)[0].strip()
        values[name] = value
    return values, problems


def apply_env_file(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Fill `environ` (default: os.environ) from `./.env`, or the file IMAGEGATE_ENV_FILE
    names; a variable already set wins. Returns the problems found (a named file missing,
    a line that is not NAME=value)."""
    environ = os.environ if environ is None else environ
    named = environ.get(ENV_FILE_VARIABLE, "").strip()
    path = Path(named or ".env")
    if named and not path.exists():
        return [f"{ENV_FILE_VARIABLE} names {named!r}, which does not exist"]
    if not path.is_file():  # no ./.env, or IMAGEGATE_ENV_FILE=/dev/null to read none
        return []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return [f"{path} cannot be read ({type(exc).__name__})"]
    values, problems = parse(text, str(path))
    for name, value in values.items():
        environ.setdefault(name, value)
    return problems
