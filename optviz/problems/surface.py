"""A registered 2-D surface with its parameters: the problem and its config in one.

In a link: ``surface=rosenbrock&sp=a:1,b:10`` (parameters that differ from the
defaults). In JSON: ``{"kind": "surface", "surface": "rosenbrock", "params": {...}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from ..params import ConfigError, freeze
from . import surfaces
from .base import Layout, Query, pairs_text, typed


@dataclass(frozen=True)
class SurfaceProblem:
    """A registered 2-D surface with its parameters (validated, defaults filled in)."""

    surface: str = "rosenbrock"
    params: Any = ()

    kind: ClassVar[str] = "surface"
    query_key: ClassVar[str] = "surface"  # the link parameter that names this kind
    start_size: ClassVar[int | None] = 2  # coordinates of a start point (None: the model decides)
    own_length: ClassVar[bool] = False
    title: ClassVar[str] = "surface"
    default_steps: ClassVar[int] = 500
    layout: ClassVar[Layout] = ((2,),)
    coordinates: ClassVar[tuple[str, ...]] = ("x", "y")

    def __post_init__(self):
        spec = surfaces.get(self.surface)
        object.__setattr__(self, "params", freeze(spec.resolve(dict(freeze(self.params)))))

    @property
    def spec(self) -> surfaces.Surface:
        return surfaces.get(self.surface)

    @property
    def values(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def name(self) -> str:
        return self.spec.name

    # What a 2-D view asks of a surface, the same for a typed formula (problems.formula).
    @property
    def latex(self) -> str:
        return self.spec.latex

    @property
    def teaches(self) -> str:
        return self.spec.teaches

    @property
    def domain(self) -> tuple[tuple[float, float], tuple[float, float]]:
        return self.spec.domain

    @property
    def levels(self) -> str:
        return self.spec.levels

    @property
    def critical_points(self) -> tuple[surfaces.Point, ...]:
        return self.spec.critical_points

    @property
    def start(self) -> tuple[float, ...]:
        return self.spec.start

    @property
    def divergence_bound(self) -> float:
        # Far outside the picture: a run out there will not come back in view.
        return 1e3 * max(abs(v) for lim in self.spec.domain for v in lim)

    def minima(self) -> list[surfaces.Minimum]:
        return self.spec.minima(**self.values)

    def known_minimum(self) -> float | None:
        """The lowest known value of the loss (f*), or None."""
        minima = self.minima()
        return min(m[2] for m in minima) if minima else None

    def curvatures(self) -> tuple[float, float] | None:
        """``(L, mu)``, the Hessian's extreme eigenvalues where they are constant, else None."""
        c = self.spec.curvatures
        return None if c is None else c(**self.values)

    # -- the engine's Problem ------------------------------------------------------

    def build(self) -> SurfaceProblem:
        return self

    def loss(self, params: Tensor, step: int = 0) -> Tensor:
        return self.spec(params, **self.values)

    def loss_and_grad(self, params: Tensor, step: int = 0) -> tuple[Tensor, Tensor] | None:
        """The surface's hand-written value and gradient, or None to use autograd."""
        spec = self.spec
        if spec.value_and_grad is None:
            return None
        f, gx, gy = spec.value_and_grad(params[:, 0], params[:, 1], **self.values)
        return f, torch.stack((gx, gy), 1)

    # -- JSON and links ---------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "surface": self.surface, "params": self.values}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SurfaceProblem:
        surface = typed(data, "surface", str, "rosenbrock", "problem")
        surfaces.get(surface)
        params = typed(data, "params", Mapping, {}, "problem")
        return cls(surface, params)

    def to_query(self) -> dict[str, str]:
        out = {"surface": self.surface}
        if sp := pairs_text(self.values, self.spec.defaults, sep=","):
            out["sp"] = sp
        return out

    @classmethod
    def from_query(cls, query: Query, default: SurfaceProblem | None = None) -> SurfaceProblem:
        default = default if isinstance(default, SurfaceProblem) else cls()
        surface = query.choice("surface", default.surface, list(surfaces.SURFACES), "surface")
        spec = surfaces.get(surface)
        params = default.values if surface == default.surface else {}
        params.update(query.pairs("sp", spec.params, spec.resolve, "surface", sep=","))
        try:
            return cls(surface, params)
        except ConfigError as exc:
            query.warn(f"surface parameters ignored: {exc}")
            return cls(surface)
