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
the arithmetic is exactly torch's, in double precision) or a ``(runs, 1)``
float64 tensor when runs differ (an LR sweep, say). torch computes with its
hyperparameters in Python doubles and rounds a number to the tensor's dtype only
where it hands it to a kernel; so a per-run column stays float64 through that
arithmetic and meets a tensor through :func:`cast` (``add_``, ``addcmul_``,
``addcdiv_``, ``fill_``, ``mul_``, ``lerp_`` and ``div`` do it for you). Then a
float32 run in a sweep equals the same run alone and torch's float32 loop.
Booleans, ints and choices are the same for every run of a batch; the engine
groups runs by them.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import torch
from torch import Tensor

from ..params import ConfigError, HasParams, HParam

Scalar = float | Tensor
State = dict[str, Any]
Layout = tuple[tuple[int, ...], ...]
Branch = Callable[[Tensor], Any]  # an in-place update of one tensor, for where_

# Arguments of torch's optimizers that choose an implementation, not the maths.
_IMPLEMENTATION_ARGS = {"params", "foreach", "capturable", "differentiable", "fused"}


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


@dataclass(frozen=True, eq=False)  # registry entries: identity is equality
class OptimizerSpec(HasParams):
    """One registry entry: a torch optimizer and our batched version of it."""

    name: str
    torch_cls: type[torch.optim.Optimizer]
    init: Callable[[Tensor, Mapping[str, Any]], State]
    update: Callable[[Tensor, Tensor, State, Mapping[str, Any], int, Context], None]
    hparams: tuple[HParam, ...]
    summary: str
    rule: str
    state_keys: tuple[str, ...] = ()
    # At most how many times one step evaluates the loss and gradient (LBFGS's
    # inner iterations and line search): what a step costs, in gradients.
    evals_per_step: Callable[[Mapping[str, Any]], int] = lambda hp: 1
    # Whether update treats every coordinate alone (no norms, no matrices), so
    # that the flat batch equals torch's per-tensor loop exactly.
    elementwise: bool = True
    # The default hyperparameters a UI offers where torch's default is unhelpful
    # for a 2-D picture (SGD's lr=1e-3 barely moves on most surfaces).
    ui_defaults: Mapping[str, Any] = field(default_factory=dict)
    # Which of ``betas`` the update divides out as torch's bias correction 1 − βᵢᵗ (Adam's
    # both, NAdam's β₂ only: its first moment is corrected by the μ products instead).
    bias_corrected: tuple[int, ...] = ()

    noun = "hyperparameter"

    @property
    def params(self) -> tuple[HParam, ...]:  # type: ignore[override]
        return self.hparams

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
        return self.param(name)

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


# Widget metadata for arguments many optimizers share; ``meta`` overrides it.
COMMON_META: dict[str, dict[str, Any]] = {
    "lr": dict(low=1e-5, high=10.0, log=True, help="learning rate"),
    "eps": dict(low=1e-12, high=1.0, log=True, help="added to the denominator"),
    "weight_decay": dict(low=0.0, high=1.0, help="L2 penalty added to the gradient"),
    "maximize": dict(help="ascend instead of descend"),
}


def torch_hparams(cls: type, **meta: Mapping[str, Any]) -> tuple[HParam, ...]:
    """HParams read off a torch optimizer's signature, so names and defaults are torch's.

    ``meta`` adds widget ranges, choices and help text per name, on top of
    :data:`COMMON_META`.
    """
    out = []
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.name == "self" or p.name in _IMPLEMENTATION_ARGS or p.kind is p.VAR_KEYWORD:
            continue
        default, annotation = p.default, str(p.annotation)
        if isinstance(default, int) and not isinstance(default, bool) and "float" in annotation:
            default = float(default)  # torch writes ``weight_decay: float = 0``
        extra = {**COMMON_META.get(p.name, {}), **meta.get(p.name, {})}
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
    ``(runs, 1)`` float64 tensor on ``like``'s device. Structural values (bool,
    int, choice) must agree.
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
    # float64 whatever the runs' dtype: Python's doubles, as torch computes with them.
    return torch.tensor(values, dtype=torch.float64, device=like.device).unsqueeze(1)


@overload
def cast(value: Tensor, like: Tensor) -> Tensor: ...
@overload
def cast(value: float, like: Tensor) -> float: ...
def cast(value: Scalar, like: Tensor) -> Scalar:
    """``value`` as a kernel on ``like`` receives it: a Python number as it is (the
    kernel rounds it to ``like``'s dtype), a per-run float64 column rounded to
    ``like``'s dtype, as torch rounds the number it stands for."""
    if isinstance(value, Tensor) and value.dtype != like.dtype:
        return value.to(like.dtype)
    return value


# Float-or-tensor arithmetic. Torch's kernels take a Python number for
# ``alpha``/``value``, round it to the tensor's dtype and fuse it into a
# multiply-add; these forms give the very same rounding with a per-run tensor,
# so a run in a sweep equals the run alone.


def add_(x: Tensor, y: Tensor, alpha: Scalar = 1.0) -> Tensor:
    if isinstance(alpha, Tensor):
        return x.addcmul_(y, cast(alpha, x))
    return x.add_(y, alpha=alpha)


def addcmul_(x: Tensor, a: Tensor, b: Tensor, value: Scalar = 1.0) -> Tensor:
    if isinstance(value, Tensor):
        return x.addcmul_(a * cast(value, x), b)
    return x.addcmul_(a, b, value=value)


def addcdiv_(x: Tensor, a: Tensor, b: Tensor, value: Scalar = 1.0) -> Tensor:
    if isinstance(value, Tensor):
        return x.addcdiv_(a * cast(value, x), b)
    return x.addcdiv_(a, b, value=value)


def mul_(x: Tensor, value: Scalar) -> Tensor:
    """``x.mul_(value)`` for a float or a per-run column."""
    return x.mul_(cast(value, x))


def lerp_(x: Tensor, end: Tensor, weight: Scalar) -> Tensor:
    """``x.lerp_(end, weight)`` for a float or a per-run column."""
    return x.lerp_(end, cast(weight, x))


def div(x: Tensor, value: Scalar) -> Tensor:
    """``x / value``: torch divides by the number rounded to ``x``'s dtype."""
    return x / cast(value, x)


def _tensors(a: Scalar, b: Scalar) -> tuple[Tensor, Tensor]:
    # A float joins a tensor in the tensor's dtype: ``torch.as_tensor(1e-6)``
    # alone would be float32 and round it.
    like = a if isinstance(a, Tensor) else b
    return (
        torch.as_tensor(a, dtype=like.dtype, device=like.device),
        torch.as_tensor(b, dtype=like.dtype, device=like.device),
    )


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


def sdiv(a: Scalar, b: Scalar) -> Scalar:
    """``a / b`` rounded once, as Python divides floats.

    torch evaluates ``number / tensor`` as ``tensor.reciprocal() * number``,
    which rounds twice; a tensor numerator gives a true division.
    """
    if isinstance(b, Tensor) and not isinstance(a, Tensor):
        return torch.full_like(b, a).div_(b)
    return a / b


def spow(base: Scalar, exp: Scalar) -> Scalar:
    """``base ** exp`` as Python rounds it (C's ``pow``), for floats or tensors.

    torch's CPU pow can be an ulp off C's: its vectorized loop uses Sleef, and
    a number exponent of 3 becomes ``x*x*x``. Two strided tensor operands take
    the scalar loop, which calls ``std::pow`` (tests/test_scalars.py holds it
    to Python's results).
    """
    if not isinstance(base, Tensor) and not isinstance(exp, Tensor):
        return base**exp
    pair = torch.stack(torch.broadcast_tensors(*_tensors(base, exp)), dim=-1)
    return torch.pow(pair[..., 0], pair[..., 1])


def fill_(x: Tensor, value: Scalar) -> Tensor:
    """``x.fill_(value)`` for a float or a per-run ``(runs, 1)`` tensor."""
    return x.copy_(value) if isinstance(value, Tensor) else x.fill_(value)  # copy_ rounds once, as fill_


def where_(x: Tensor, cond: bool | Tensor, if_true: Branch, if_false: Branch) -> Tensor:
    """A per-run ``if``: apply ``if_true`` or ``if_false`` to ``x`` in place.

    ``cond`` is a bool (the branch torch takes) or, when it depends on per-run
    hyperparameters, a ``(runs, 1)`` bool tensor: then both branches run on
    copies and each run keeps its own, so it rounds as it would alone.
    """
    if not isinstance(cond, Tensor):
        (if_true if cond else if_false)(x)
        return x
    return x.copy_(torch.where(cond, if_true(x.clone()), if_false(x.clone())))


def scalar_state(params: Tensor, value: Scalar) -> Tensor:
    """A per-run scalar that torch keeps as a 0-d tensor (NAdam's ``mu_product``,
    ASGD's ``eta``), as ``(runs, 1)`` in torch's dtype for it (``_get_scalar_dtype``:
    float32 unless the default dtype is float64), so it rounds as torch's does."""
    dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
    return fill_(params.new_empty((params.shape[0], 1), dtype=dtype), value)


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


def decayed_grad(grad: Tensor, param: Tensor, hp: Mapping[str, Any], decoupled: bool = False) -> Tensor:
    """``maximize`` and weight decay, as every torch optimizer applies them.

    Coupled (L2) decay adds ``weight_decay * param`` to the gradient; decoupled
    decay (AdamW) shrinks ``param`` in place by ``1 - lr * weight_decay``.
    A zero decay, per run or not, leaves both unchanged exactly.
    """
    if hp.get("maximize"):
        grad = -grad
    weight_decay = hp.get("weight_decay", 0.0)
    if isinstance(weight_decay, Tensor) or weight_decay != 0:
        if decoupled:
            mul_(param, 1 - hp["lr"] * weight_decay)
        else:
            grad = add_(grad.clone(), param, weight_decay)
    return grad
