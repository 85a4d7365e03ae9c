"""Every kind of problem the engine can run, behind one protocol.

``KINDS`` maps a kind's id (the JSON ``problem.kind``) to its config class:

* ``surface``: a registered 2-D surface (:mod:`.surfaces`) with its parameters;
* ``formula``: a surface the user types, in the safe expression language;
* ``train``: a dataset, a model and a loss (:mod:`.datasets`, :mod:`.models`,
  :mod:`.losses`), trained in mini-batches;
* ``online``: a loss that changes every step, on a feasible set (:mod:`.online`).

Each config class implements :class:`~.base.ProblemConfig`; ``build()`` gives
the engine's :class:`~.base.Problem`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..params import ConfigError, lookup
from .base import Problem, ProblemConfig, Query
from .formula import FormulaProblem
from .online import OnlineBatch, OnlineProblem
from .surface import SurfaceProblem
from .training import ModelProblem, Task

KINDS: dict[str, type] = {cls.kind: cls for cls in (SurfaceProblem, FormulaProblem, Task, OnlineProblem)}


def from_dict(data: Any) -> ProblemConfig:
    """A problem config from parsed JSON; ConfigError names what is wrong.

    ``kind`` picks the class; a problem without one is a surface (files written
    before kinds existed).
    """
    if not isinstance(data, Mapping):
        raise ConfigError("'problem' must be an object like {\"kind\": \"surface\", \"surface\": \"rosenbrock\"}")
    cls = lookup(KINDS, data.get("kind", "surface"), "problem kind")
    return cls.from_dict(data)


def kind_of_query(query: Query, default: str) -> str:
    """Which kind a link describes: the one whose ``query_key`` it carries, else ``default``."""
    return next((kind for kind, cls in KINDS.items() if cls.query_key in query), default)


__all__ = ["KINDS", "FormulaProblem", "ModelProblem", "OnlineBatch", "OnlineProblem", "Problem", "ProblemConfig",
           "Query", "SurfaceProblem", "Task", "from_dict", "kind_of_query"]
