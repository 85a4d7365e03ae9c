"""The parameter schema every registry shares: optimizers, schedules, problems.

An :class:`HParam` names one setting with torch's name, its default, its kind
and a sensible widget range. Text from a link, the CLI or a JSON file goes
through :meth:`HParam.parse`, never through ``eval``. :func:`resolve_params`
fills in defaults and names the owner in every error; :class:`ConfigError` is
the one exception whose message is meant for the user.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class ConfigError(ValueError):
    """A configuration a user gave cannot be run; the message says why."""


@dataclass(frozen=True)
class HParam:
    """One hyperparameter, with torch's name and default.

    ``kind`` is one of ``float``, ``int``, ``bool``, ``choice`` (a str or None
    from ``choices``), ``floats`` (a tuple of ``length`` floats, such as
    ``betas``), ``ints`` (a tuple of any number of ints, such as MultiStepLR's
    ``milestones``) or ``text`` (a literal, for optimizers we know only by
    signature). A ``float``, ``int`` or ``ints`` whose default is None also
    accepts None. ``low``/``high``/``log`` describe a sensible range for a widget,
    not a validity bound: validity is torch's own constructor's business.
    """

    name: str
    default: Any
    kind: str
    help: str = ""
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    length: int = 0
    per_run: bool = True

    @property
    def batchable(self) -> bool:
        """Whether runs in one batch may each have their own value."""
        return self.per_run and self.kind in ("float", "floats")

    def parse(self, value: Any) -> Any:
        """Coerce a value given as text (CLI, URL) or JSON to this kind."""
        try:
            return self._parse(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{self.name}: cannot read {value!r} as {self.describe()}") from exc

    def _parse(self, value: Any) -> Any:
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if self.default is None and self.kind in ("int", "float", "ints") and _is_none(value):
            return None
        if self.kind == "int":
            return whole(value)
        if self.kind == "float":
            return finite(value)
        if self.kind == "ints":
            parts = value.split(",") if isinstance(value, str) else list(value)
            return tuple(whole(p) for p in parts if str(p).strip())
        if self.kind == "choice":
            if _is_none(value):
                value = None
            for choice in self.choices:
                if value == choice:
                    return choice
            raise ValueError(value)
        if self.kind == "text":
            return _literal(value)
        if self.kind == "floats":
            parts = value.split(",") if isinstance(value, str) else list(value)
            if len(parts) != self.length:
                raise ValueError(value)
            return tuple(
                None if (p is None or str(p).strip().lower() in ("none", "null")) else finite(p)
                for p in parts
            )
        raise AssertionError(self.kind)

    def describe(self) -> str:
        if self.kind == "floats":
            return f"{self.length} comma-separated numbers"
        if self.kind == "ints":
            return "comma-separated whole numbers"
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return {"float": "a number", "int": "a whole number", "bool": "true or false", "text": "a value"}[self.kind]


def _literal(value: Any) -> Any:
    """A number, bool, None, tuple of numbers or plain string, read without eval."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    lowered = text.lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    if "," in text:
        return tuple(_literal(part) for part in text.strip("()[]").split(","))
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _is_none(value: Any) -> bool:
    return value is None or str(value).strip().lower() in ("none", "null", "")


def whole(value: Any, low: int | None = None, high: int | None = None) -> int:
    """A whole number given as ``12``, ``12.0`` or ``"12"``, within ``[low, high]`` (ValueError if not)."""
    if isinstance(value, bool):
        raise ValueError(value)
    number = value if isinstance(value, int) else float(value)
    if not float(number).is_integer():
        raise ValueError(value)
    number = int(number)
    if (low is not None and number < low) or (high is not None and number > high):
        raise ValueError(value)
    return number


def finite(value: Any) -> float:
    """A finite float (ValueError for NaN, infinity or anything that is not a number)."""
    if isinstance(value, bool):
        raise ValueError(value)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def find(params: Sequence[HParam], name: str, owner: str, noun: str) -> HParam:
    """The parameter called ``name``, or a ConfigError listing the ones there are."""
    for p in params:
        if p.name == name:
            return p
    known = ", ".join(p.name for p in params) or "none"
    raise ConfigError(f"{owner} has no {noun} {name!r}; it has: {known}")


def resolve_params(
    params: Sequence[HParam], overrides: Mapping[str, Any] | None, owner: str, noun: str
) -> dict[str, Any]:
    """Defaults with ``overrides`` applied and parsed; errors name ``owner``."""
    values = {p.name: p.default for p in params}
    for name, value in (overrides or {}).items():
        try:
            values[name] = find(params, name, owner, noun).parse(value)
        except ConfigError as exc:
            message = str(exc)
            raise ConfigError(message if message.startswith(owner) else f"{owner}: {message}") from None
    return values


def lookup(registry: Mapping[str, Any], key: str, noun: str) -> Any:
    """``registry[key]``, or a ConfigError listing the choices."""
    try:
        return registry[key]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown {noun} {key!r}; choose one of: {', '.join(registry)}") from None



def freeze(mapping: Mapping[str, Any] | Sequence | None) -> tuple[tuple[str, Any], ...]:
    """A mapping as sorted ``(key, value)`` pairs, lists as tuples: hashable, compared by value."""
    items = mapping.items() if isinstance(mapping, Mapping) else (mapping or ())
    return tuple(sorted((str(k), tuple(v) if isinstance(v, list) else v) for k, v in items))


class HasParams:
    """A registry entry with ``params``: its defaults and validated values.

    ``check(values)`` may return why a combination is unusable (``None``: fine).
    """

    name: str
    params: tuple[HParam, ...] = ()
    noun = "parameter"

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def param(self, name: str) -> HParam:
        return find(self.params, name, self.name, self.noun)

    def check(self, values: Mapping[str, Any]) -> str | None:
        return None

    def resolve(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The defaults with ``overrides`` applied and parsed; a ConfigError names what is wrong."""
        values = resolve_params(self.params, overrides, self.name, self.noun)
        problem = self.check(values)
        if problem:
            raise ConfigError(f"{self.name}: {problem}")
        return values
