"""Building blocks shared by the batched optimizers.

Every optimizer here is a pair of functions over a *batch of runs*:

* ``init(params, hp) -> state``: ``params`` has shape ``(runs, dims)``; the state
  is a plain ``dict`` of tensors named after torch's own state keys
  (``momentum_buffer``, ``exp_avg``, ...).
* ``update(params, grads, state, hp, step, ctx) -> None``: one optimizer step for
  every run at once. Like ``torch.optim._functional`` it works in place on
  ``params`` and on the state tensors, because allocating a new batch every step
  would dominate the cost of small problems.

A hyperparameter in ``hp`` is a Python ``float`` when every run shares it (then
the arithmetic is exactly torch's, in double precision) or a ``(runs, 1)`` tensor
when runs differ (an LR sweep, say). Booleans, ints and choices are the same for
every run of a batch; the engine groups runs by them.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

Scalar = float | Tensor
State = dict[str, Any]
Layout = tuple[tuple[int, ...], ...]

# Arguments of torch's optimizers that choose an implementation, not the maths.
_IMPLEMENTATION_ARGS = {"params", "foreach", "capturable", "differentiable", "fused"}


class ConfigError(ValueError):
    """A configuration a user gave cannot be run; the message says why."""


@dataclass(frozen=True)
class Context:
    """What an update may need besides params and grads.

    ``closure(params) -> (loss, grads)`` evaluates the problem at other points
    (LBFGS's inner iterations); ``loss`` is the ``(runs,)`` loss at ``params``,
    which LBFGS needs as its first closure value; ``layout`` gives the shapes
    that the flat ``dims`` axis packs, for optimizers that treat matrices as
    matrices.
    """

    layout: Layout
    closure: Callable[[Tensor], tuple[Tensor, Tensor]] | None = None
    loss: Tensor | None = None


@dataclass(frozen=True)
class HParam:
    """One hyperparameter, with torch's name and default.

    ``kind`` is one of ``float``, ``int``, ``bool``, ``choice`` (a str or None
    from ``choices``) or ``floats`` (a tuple of ``length`` floats, such as
    ``betas``). ``low``/``high``/``log`` describe a sensible range for a widget,
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
        if self.kind == "int":
            if self.default is None and (value is None or str(value).strip().lower() in ("none", "null", "")):
                return None
            if isinstance(value, bool):
                raise ValueError(value)
            number = float(value)
            if not number.is_integer():
                raise ValueError(value)
            return int(number)
        if self.kind == "float":
            return _finite(value)
        if self.kind == "choice":
            if value is None or str(value).strip().lower() in ("none", "null", ""):
                value = None
            for choice in self.choices:
                if value == choice:
                    return choice
            raise ValueError(value)
        if self.kind == "floats":
            parts = value.split(",") if isinstance(value, str) else list(value)
            if len(parts) != self.length:
                raise ValueError(value)
            return tuple(
                None if (p is None or str(p).strip().lower() in ("none", "null")) else _finite(p)
                for p in parts
            )
        raise AssertionError(self.kind)

    def describe(self) -> str:
        if self.kind == "floats":
            return f"{self.length} comma-separated numbers"
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return {"float": "a number", "int": "a whole number", "bool": "true or false"}[self.kind]


def _finite(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(value)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


@dataclass(frozen=True)
class OptimizerSpec:
    """One registry entry: a torch optimizer and our batched version of it."""

    name: str
    torch_cls: type[torch.optim.Optimizer]
    init: Callable[[Tensor, Mapping[str, Any]], State]
    update: Callable[[Tensor, Tensor, State, Mapping[str, Any], int, Context], None]
    hparams: tuple[HParam, ...]
    summary: str
    rule: str
    state_keys: tuple[str, ...] = ()
    # Hyperparameter overrides that the truth test runs against torch.
    variants: tuple[Mapping[str, Any], ...] = ({},)
    test_lr: float = 1e-3
    # Whether update treats every coordinate alone (no norms, no matrices), so
    # that the flat batch equals torch's per-tensor loop exactly.
    elementwise: bool = True
    # The default hyperparameters a UI offers where torch's default is unhelpful
    # for a 2-D picture (SGD's lr=1e-3 barely moves on most surfaces).
    ui_defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def defaults(self) -> dict[str, Any]:
        return {h.name: h.default for h in self.hparams}

    @property
    def momentum_key(self) -> str | None:
        """Which hyperparameter a cycling schedule (OneCycleLR, CyclicLR) drives."""
        names = {h.name for h in self.hparams}
        if "momentum" in names:
            return "momentum"
        if "betas" in names:
            return "betas"
        return None

    def hparam(self, name: str) -> HParam:
        for h in self.hparams:
            if h.name == name:
                return h
        known = ", ".join(h.name for h in self.hparams)
        raise ConfigError(f"{self.name} has no hyperparameter {name!r}; it has: {known}")

    def resolve(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Torch's defaults with ``overrides`` applied and coerced."""
        hp = self.defaults
        for name, value in (overrides or {}).items():
            hp[name] = self.hparam(name).parse(value)
        return hp

    def validate(self, hp: Mapping[str, Any], layout: Layout) -> None:
        """Raise ConfigError with torch's own message if torch would refuse ``hp``.

        Building the torch optimizer on placeholder tensors of the problem's
        shapes reuses torch's checks word for word, including the ones that
        depend on the problem (Muon refuses anything but matrices).
        """
        placeholders = [torch.zeros(shape, requires_grad=True) for shape in layout]
        try:
            self.torch_cls(placeholders, **hp)
        except (ValueError, TypeError, RuntimeError) as exc:
            raise ConfigError(f"{self.name}: {exc}") from None


def torch_hparams(cls: type, **meta: Mapping[str, Any]) -> tuple[HParam, ...]:
    """HParams read off a torch optimizer's signature, so names and defaults are torch's.

    ``meta`` adds widget ranges, choices and help text per name.
    """
    out = []
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.name == "self" or p.name in _IMPLEMENTATION_ARGS or p.kind is p.VAR_KEYWORD:
            continue
        default, annotation = p.default, str(p.annotation)
        if isinstance(default, int) and not isinstance(default, bool) and "float" in annotation:
            default = float(default)  # torch writes ``weight_decay: float = 0``
        extra = dict(meta.get(p.name, {}))
        kind = extra.pop("kind", None) or _kind_of(default, annotation)
        if kind == "floats":
            extra.setdefault("length", len(default))
        out.append(HParam(p.name, default, kind, **extra))
    unknown = set(meta) - {h.name for h in out}
    if unknown:
        raise AssertionError(f"{cls.__name__} has no arguments {sorted(unknown)}")
    return tuple(out)


def _kind_of(default: Any, annotation: str) -> str:
    if default is None and "int" in annotation:
        return "int"  # LBFGS's ``max_eval: int | None``
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, tuple):
        return "floats"
    return "choice"


def batch_hparams(
    hparams: Sequence[HParam], per_run: Sequence[Mapping[str, Any]], like: Tensor
) -> dict[str, Any]:
    """Merge the runs' hyperparameters into one ``hp`` for a batched update.

    A value all runs share stays a Python number; one that differs becomes a
    ``(runs, 1)`` tensor. Structural values (bool, int, choice) must agree.
    """
    hp: dict[str, Any] = {}
    for h in hparams:
        values = [run[h.name] for run in per_run]
        if h.kind == "floats":
            hp[h.name] = tuple(
                _merge([v[i] for v in values], like) for i in range(h.length)
            )
        elif h.batchable:
            hp[h.name] = _merge(values, like)
        else:
            if any(v != values[0] for v in values):
                raise AssertionError(f"runs of one batch differ in {h.name}")
            hp[h.name] = values[0]
    return hp


def _merge(values: Sequence[Any], like: Tensor) -> Any:
    first = values[0]
    if all(v == first for v in values):
        return first
    return torch.tensor(values, dtype=like.dtype, device=like.device).unsqueeze(1)


# Float-or-tensor arithmetic. Torch's kernels take a Python number for
# ``alpha``/``value`` and fuse it into a multiply-add; these forms give the very
# same rounding with a per-run tensor, so a run in a sweep equals the run alone.


def add_(x: Tensor, y: Tensor, alpha: Scalar = 1.0) -> Tensor:
    if isinstance(alpha, Tensor):
        return x.addcmul_(y, alpha)
    return x.add_(y, alpha=alpha)


def addcmul_(x: Tensor, a: Tensor, b: Tensor, value: Scalar = 1.0) -> Tensor:
    if isinstance(value, Tensor):
        return x.addcmul_(a * value, b)
    return x.addcmul_(a, b, value=value)


def addcdiv_(x: Tensor, a: Tensor, b: Tensor, value: Scalar = 1.0) -> Tensor:
    if isinstance(value, Tensor):
        return x.addcdiv_(a * value, b)
    return x.addcdiv_(a, b, value=value)


def smax(a: Scalar, b: Scalar) -> Scalar:
    """Python's ``max(a, b)`` (``a`` unless ``b > a``) where either may be a tensor.

    ``torch.where`` keeps a Python float in double precision, as torch's own
    ``max(float, .item())`` arithmetic does (``torch.as_tensor`` would round it
    to float32).
    """
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return torch.where(torch.as_tensor(b > a), b, a)
    return max(a, b)


def smin(a: Scalar, b: Scalar) -> Scalar:
    """Python's ``min(a, b)`` (``a`` unless ``b < a``) where either may be a tensor."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return torch.where(torch.as_tensor(b < a), b, a)
    return min(a, b)


def views(x: Tensor, layout: Layout) -> list[Tensor]:
    """Views ``(runs, *shape)`` of a flat ``(runs, dims)`` batch, one per tensor
    in ``layout``; writing into a view writes into ``x``."""
    out, offset = [], 0
    for shape in layout:
        n = math.prod(shape)
        out.append(x[:, offset : offset + n].view(x.shape[0], *shape))
        offset += n
    return out


def dot(a: Tensor, b: Tensor) -> Tensor:
    """Per-run dot product of ``(runs, dims)`` batches, as a ``(runs, 1)`` column.

    A row sum rounds a run the same whatever the batch size; it equals
    ``torch.dot`` bit for bit on 2 coordinates, while BLAS's ``dot`` sums longer
    vectors in its own order.
    """
    return (a * b).sum(1, keepdim=True)


def decayed_grad(grad: Tensor, param: Tensor, hp: Mapping[str, Any]) -> Tensor:
    """``maximize`` and coupled (L2) weight decay, as every torch optimizer applies them."""
    if hp.get("maximize"):
        grad = -grad
    weight_decay = hp.get("weight_decay", 0.0)
    if isinstance(weight_decay, Tensor) or weight_decay != 0:
        grad = add_(grad.clone(), param, weight_decay)
    return grad
