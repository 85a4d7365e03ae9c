"""What every problem kind provides: the engine's view and the config's.

Two protocols:

* :class:`Problem` is what the engine steps: a batched loss over flat
  ``(runs, dims)`` parameter vectors, a default start and a divergence bound.
* :class:`ProblemConfig` is the frozen, hashable description a user picks (a
  surface with its parameters, a dataset with a model and a loss, ...). It
  reads and writes JSON and link parameters, builds its :class:`Problem`, and
  names its default length. Adding a kind of problem is one module in this
  package that implements it, and one line in :data:`optviz.problems.KINDS`.

:class:`Query` is the one reader of link parameters: it never raises, and each
field it cannot read keeps its default and adds a warning.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from torch import Tensor

from ..params import ConfigError, HParam, finite

Layout = tuple[tuple[int, ...], ...]
T = TypeVar("T")


@runtime_checkable
class Problem(Protocol):
    """What the engine optimizes: a batched loss over flat parameter vectors.

    Optional methods the engine uses where a problem has them:
    ``loss_and_grad(params, step) -> (loss, grad) | None`` (a hand-written
    gradient), ``project(params)`` (in place, onto a feasible set, after each
    update), ``reference(dtype) -> (tensors, loss_at)`` (the plain torch
    form the tests' oracle loop steps) and ``for_rows(order) -> Problem`` (a problem
    with a part per run, such as ``OnlineBatch``, given the batch's row order: run
    ``order[i]`` of the configs sits in row ``i``).
    """

    # Read-only members: a problem may hold them as fields, properties or class constants.
    @property
    def layout(self) -> Layout:
        """The shapes that a flat parameter vector packs."""
        ...

    @property
    def start(self) -> tuple[float, ...]:
        """The default start point."""
        ...

    @property
    def divergence_bound(self) -> float:
        """|param| beyond this counts as diverged."""
        ...

    def loss(self, params: Tensor, step: int) -> Tensor:
        """``(runs, dims) -> (runs,)``; ``step`` picks the mini-batch or time, if any."""
        ...


@runtime_checkable
class ProblemConfig(Protocol):
    """A frozen problem description: one kind of problem, with its settings."""

    kind: ClassVar[str]  # "surface", "train", ...: the JSON ``problem.kind``
    query_key: ClassVar[str]  # the link parameter that names a problem of this kind
    start_size: ClassVar[int | None]  # coordinates of a start point, where the kind fixes it
    own_length: ClassVar[bool]  # the problem decides how many steps a run takes (a training's epochs)
    title: ClassVar[str]  # what the kind is called in a message

    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], /) -> ProblemConfig: ...

    def to_query(self) -> dict[str, str]: ...

    @classmethod
    def from_query(cls, query: Query, default: Any, /) -> ProblemConfig: ...

    def build(self) -> Problem: ...

    @property
    def default_steps(self) -> int:
        """How many steps a run takes unless told otherwise."""
        ...


def dims(layout: Layout) -> int:
    return sum(math.prod(s) for s in layout)


# -- text forms of values (links, the CLI, tables) ------------------------------------


def number_text(x: float) -> str:
    """A float in at most 10 significant digits: short, and it reads back the same in a link."""
    return f"{x:.10g}"


def value_text(v: Any) -> str:
    """A hyperparameter value as a link writes it: ``true``, ``0.9``, ``0.9,0.999``, ``none``."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return number_text(v)
    if isinstance(v, tuple | list):
        return ",".join(value_text(x) for x in v)
    return "none" if v is None else str(v)


def pairs_text(values: Mapping[str, Any], defaults: Mapping[str, Any], sep: str = ";") -> str:
    """``key:value`` pairs that differ from ``defaults``, sorted, joined by ``sep``."""
    return sep.join(f"{k}:{value_text(v)}" for k, v in sorted(values.items()) if v != defaults.get(k))


def point(text: str, size: int | None = 2) -> tuple[float, ...]:
    """``-1.5,2`` as finite numbers; ``size`` None takes 1 to 16 of them."""
    parts = str(text).split(",")
    if (size is not None and len(parts) != size) or not 1 <= len(parts) <= 16:
        raise ValueError(text)
    return tuple(finite(p) for p in parts)


def boolean(text: str) -> bool:
    lowered = str(text).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


class Query:
    """Link parameters (``key -> str | list[str]``) read with warnings instead of errors."""

    def __init__(self, params: Mapping[str, Any], warnings: list[str] | None = None):
        self.params = params
        self.warnings = [] if warnings is None else warnings

    def __contains__(self, key: str) -> bool:
        return key in self.params

    def one(self, key: str) -> str | None:
        """The last value of ``key`` (a link may repeat it), or None."""
        value = self.params.get(key)
        if isinstance(value, list | tuple):
            value = value[-1] if value else None
        return None if value is None else str(value)

    def many(self, key: str) -> list[str] | None:
        value = self.params.get(key)
        if value is None:
            return None
        return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]

    def read(self, key: str, default: T, parse: Callable[[str], T], what: str = "") -> T:
        """``parse`` of the value of ``key``; a missing or unreadable value gives ``default``."""
        text = self.one(key)
        if text is None:
            return default
        try:
            return parse(text)
        except (TypeError, ValueError, OverflowError, ConfigError):
            self.warn(f"{key}={text!r} is not {what or 'valid'}; using {value_text(default)}")
            return default

    def choice(self, key: str, default: str, choices: Sequence[str], noun: str) -> str:
        text = self.one(key)
        if text is None:
            return default
        if text not in choices:
            self.warn(f"unknown {noun} {text!r}; showing {default}")
            return default
        return text

    def pairs(self, key: str, params: Sequence[HParam], resolve: Callable[[dict], dict], what: str,
              sep: str = ";") -> dict[str, Any]:
        """``key:value`` pairs of registry parameters; each bad pair is left out with a warning."""
        out: dict[str, Any] = {}
        for item in filter(None, (self.one(key) or "").split(sep)):
            name, colon, value = item.partition(":")
            try:
                if not colon:
                    raise ConfigError(f"{item!r} is not name:value")
                out[name] = resolve({name: value})[name]
            except ConfigError as exc:
                self.warn(f"{what} parameter ignored: {exc}")
        return out

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def typed(mapping: Mapping[str, Any], key: str, kinds: type | tuple[type, ...], default: Any, where: str) -> Any:
    """``mapping[key]`` (or ``default``) if it has one of ``kinds``; a bool is not a number."""
    value = mapping.get(key, default)
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        raise ConfigError(f"'{where}.{key}' has the wrong type: {value!r}")
    return value


def known_fields(data: Mapping[str, Any], fields: Sequence[str], where: str) -> None:
    unknown = set(data) - set(fields)
    if unknown:
        raise ConfigError(f"'{where}' has unknown fields: {', '.join(sorted(unknown))}")
