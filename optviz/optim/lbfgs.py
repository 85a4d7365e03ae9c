"""L-BFGS, as ``torch.optim.LBFGS``: one engine step is one ``LBFGS.step(closure)``.

torch's step is full of per-run control flow: ``break``s, a list of past steps,
a line search with its own bracket. Here each of those is a mask over runs. A
run torch would have stopped stays where it is while the others go on, and
each loop turns until no run is left in it. Quantities torch keeps as Python
numbers (loss, t, gtd, ys, H_diag) are ``(runs, 1)`` columns, and the history
is a per-run ring buffer ``(runs, history_size, dims)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import OptimizerSpec, add_, cast, dot, torch_hparams


def _pick(mask: Tensor, new: Tensor, old: Tensor) -> Tensor:
    return torch.where(mask, new, old)


class _Num:
    """A per-run number as torch's LBFGS holds it: a Python float or a 0-d tensor.

    torch's line search mixes the two (the loss is ``float(closure())``, ``gtd`` a
    tensor, a step length either), and the kind decides the rounding: Python floats
    meet in doubles, anything that meets a tensor is rounded to the tensor's dtype
    first. ``v`` holds the value in float64 (exact either way), ``t`` flags the runs
    where it is a tensor of dtype ``dt``. In float64 both kinds round alike.
    """

    __slots__ = ("dt", "t", "v")

    def __init__(self, v: Tensor, t: Tensor, dt: torch.dtype):
        self.v, self.t, self.dt = v, t, dt

    @staticmethod
    def tensor(x: Tensor) -> _Num:
        """A tensor column of the params' dtype."""
        return _Num(x.double(), torch.ones(x.shape, dtype=torch.bool, device=x.device), x.dtype)

    def lift(self, x) -> _Num:
        if isinstance(x, _Num):
            return x
        return _Num(
            torch.as_tensor(x, dtype=torch.float64, device=self.v.device).expand_as(self.v),
            torch.zeros_like(self.t),
            self.dt,
        )

    def as_dtype(self) -> Tensor:
        """As a kernel receives it (an ``alpha``, a factor): rounded to the tensors' dtype."""
        return self.v.to(self.dt)

    def _apply(self, fn, a: _Num, b: _Num) -> _Num:
        t = a.t | b.t
        v = fn(a.v, b.v)
        if self.dt != torch.float64:
            v = _pick(t, fn(a.as_dtype(), b.as_dtype()).double(), v)
        return _Num(v, t, self.dt)

    def __add__(self, o):
        return self._apply(torch.add, self, self.lift(o))

    def __radd__(self, o):
        return self._apply(torch.add, self.lift(o), self)

    def __sub__(self, o):
        return self._apply(torch.sub, self, self.lift(o))

    def __rsub__(self, o):
        return self._apply(torch.sub, self.lift(o), self)

    def __mul__(self, o):
        return self._apply(torch.mul, self, self.lift(o))

    def __rmul__(self, o):
        return self._apply(torch.mul, self.lift(o), self)

    def __truediv__(self, o):
        o = self.lift(o)
        out = self._apply(torch.div, self, o)
        # A float over a tensor runs Tensor.__rtruediv__, which is reciprocal() * float.
        quirk = ~self.t & o.t
        out.v = _pick(quirk, (o.as_dtype().reciprocal() * self.as_dtype()).double(), out.v)
        return out

    def __rtruediv__(self, o):
        return self.lift(o) / self

    def __neg__(self):
        return _Num(-self.v, self.t, self.dt)

    def __abs__(self):
        return _Num(self.v.abs(), self.t, self.dt)

    def sqrt(self) -> _Num:
        v = self.v.sqrt()
        if self.dt != torch.float64:
            v = _pick(self.t, self.as_dtype().sqrt().double(), v)
        return _Num(v, self.t, self.dt)

    def square(self) -> _Num:
        return self * self  # torch's pow(x, 2) and Python's x ** 2 are both one rounding of x * x

    def _cmp(self, fn, o) -> Tensor:
        o = self.lift(o)
        t = self.t | o.t
        out = fn(self.v, o.v)
        if self.dt != torch.float64:
            out = _pick(t, fn(self.as_dtype(), o.as_dtype()), out)
        return out

    def __lt__(self, o):
        return self._cmp(torch.lt, o)

    def __le__(self, o):
        return self._cmp(torch.le, o)

    def __gt__(self, o):
        return self._cmp(torch.gt, o)

    def __ge__(self, o):
        return self._cmp(torch.ge, o)

    def pick(self, mask: Tensor, other: _Num) -> _Num:
        """This where ``mask``, else ``other``."""
        other = self.lift(other)
        return _Num(_pick(mask, self.v, other.v), _pick(mask, self.t, other.t), self.dt)


def _max(a: _Num, b: _Num) -> _Num:
    """Python's ``max(a, b)``: ``a`` unless ``b > a`` (NaN keeps ``a``)."""
    return b.pick(b > a, a)


def _min(a: _Num, b: _Num) -> _Num:
    return b.pick(b < a, a)


def _cubic_interpolate(x1: _Num, f1: _Num, g1: _Num, x2: _Num, f2: _Num, g2: _Num, bounds=None) -> _Num:
    """torch's ``_cubic_interpolate`` on columns, with its Python floats and tensors."""
    if bounds is None:
        forward = x1 <= x2
        lo, hi = x1.pick(forward, x2), x2.pick(forward, x1)
    else:
        lo, hi = bounds
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1.square() - g1 * g2
    d2 = d2_square.sqrt()  # NaN where negative; that branch is not taken there
    forward = x1 <= x2
    min_pos = (x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))).pick(
        forward, x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    )
    real = d2_square >= 0
    return _min(_max(min_pos, lo), hi).pick(real, (lo + hi) / 2.0)


class _Bracket:
    """Two-slot line-search brackets, one per run.

    A point is ``(t, f, g, gtd)``: ``t`` a :class:`_Num`, ``f`` a Python float
    (torch's ``float(loss)``), ``gtd`` a tensor; stored as ``(runs, 2, ...)`` fields.
    """

    def __init__(self, point, dt):
        self.dt = dt
        self.fields = [x.unsqueeze(1).repeat(1, 2, *([1] * (x.dim() - 1))) for x in self._flat(point)]

    @staticmethod
    def _flat(point):
        t, f, g, gtd = point
        return (t.v, t.t, f.v, g, gtd.v)

    def _point(self, fields):
        tv, tt, fv, g, gv = fields
        return (
            _Num(tv, tt, self.dt),
            _Num(fv, torch.zeros_like(tt), self.dt),
            g,
            _Num(gv, torch.ones_like(tt), self.dt),
        )

    def put(self, mask, slot, point):
        """Where ``mask``, write ``point`` into slot ``slot`` (a ``(runs, 1)`` 0/1)."""
        sel = mask & (torch.arange(2, device=slot.device) == slot)
        self.fields = [
            _pick(sel.view(*sel.shape, *([1] * (old.dim() - 2))), new.unsqueeze(1), old)
            for new, old in zip(self._flat(point), self.fields)
        ]

    def get(self, slot):
        return self._point(
            x.gather(1, slot.view(-1, 1, *([1] * (x.dim() - 2))).expand(-1, 1, *x.shape[2:])).squeeze(1)
            for x in self.fields
        )

    def __getitem__(self, slot: int):
        return self._point(x[:, slot] for x in self.fields)

    def low(self):
        """torch's ``low_pos``: slot 0 unless slot 1 is strictly better (or NaN)."""
        f = self.fields[2]  # Python floats: compared as doubles
        return (~(f[:, 0] <= f[:, 1])).long()


def _strong_wolfe(obj_func, x, t: _Num, d, f: _Num, g, gtd: _Num, run, max_ls, c1=1e-4, c2=0.9, tolerance_change=1e-9):
    """torch's ``_strong_wolfe`` for the runs in ``run``; ``max_ls`` is per run.

    Returns ``(f_new, g_new, t, ls_func_evals)``, meaningful where ``run``.
    """
    d_norm = _Num.tensor(d.abs().amax(1, keepdim=True))
    f_new, g_new = obj_func(x, t, d)
    evals = torch.ones_like(max_ls)
    gtd_new = _Num.tensor(dot(g_new, d))
    zero_t = t.lift(0.0)  # t_prev = 0, an int
    prev = (zero_t, f, g, gtd)
    done = torch.zeros_like(run)
    ls_iter = torch.zeros_like(max_ls)
    br = _Bracket(prev, t.dt)
    zero, one = torch.zeros_like(max_ls), torch.ones_like(max_ls)

    # Bracketing phase: widen the step until an interval holds a Wolfe point.
    searching = run & (ls_iter < max_ls)
    found = torch.zeros_like(run)
    while bool(searching.any()):
        new = (t, f_new, g_new, gtd_new)
        armijo_fails = (f_new > (f + c1 * t * gtd)) | ((ls_iter > 1) & (f_new >= prev[1]))
        wolfe = ~armijo_fails & (abs(gtd_new) <= -c2 * gtd)
        pair = searching & (armijo_fails | (~wolfe & (gtd_new >= 0)))
        single = searching & wolfe
        br.put(pair, zero, prev)
        br.put(pair, one, new)
        br.put(single, zero, new)
        br.put(single, one, new)  # a one-point bracket: both slots alike
        done |= single
        found |= pair | single
        searching &= ~(pair | single)
        if not bool(searching.any()):
            break
        t_prev = prev[0]
        t_next = _cubic_interpolate(
            t_prev, prev[1], prev[3], t, f_new, gtd_new, bounds=(t + 0.01 * (t - t_prev), t * 10)
        )
        prev = (
            t.pick(searching, prev[0]),
            f_new.pick(searching, prev[1]),
            _pick(searching, g_new, prev[2]),
            gtd_new.pick(searching, prev[3]),
        )
        t = t_next.pick(searching, t)
        f_eval, g_eval = obj_func(x, t, d)
        f_new, g_new = f_eval.pick(searching, f_new), _pick(searching, g_eval, g_new)
        gtd_new = _Num.tensor(dot(g_eval, d)).pick(searching, gtd_new)
        evals += searching
        ls_iter += searching
        searching &= ls_iter < max_ls

    # Out of evaluations without a bracket: torch brackets [0, t].
    exhausted = run & ~found & (ls_iter == max_ls)
    br.put(exhausted, zero, (zero_t, f, g, gtd))
    br.put(exhausted, one, (t, f_new, g_new, gtd_new))

    # Zoom phase: shrink the bracket until its low end satisfies strong Wolfe.
    insuf_progress = torch.zeros_like(run)
    low = br.low()
    zooming = run & ~done & (ls_iter < max_ls)
    while bool(zooming.any()):
        (b0, f0, _, gtd0), (b1, f1, _, gtd1) = br[0], br[1]
        zooming &= ~(abs(b1 - b0) * d_norm < tolerance_change)
        if not bool(zooming.any()):
            break
        t_new = _cubic_interpolate(b0, f0, gtd0, b1, f1, gtd1)
        b_max, b_min = _max(b0, b1), _min(b0, b1)
        eps = 0.1 * (b_max - b_min)
        near_edge = _min(b_max - t_new, t_new - b_min) < eps
        at_edge = insuf_progress | (t_new >= b_max) | (t_new <= b_min)
        move = near_edge & at_edge
        t_moved = (b_max - eps).pick(abs(t_new - b_max) < abs(t_new - b_min), b_min + eps)
        t_new = t_moved.pick(move, t_new)
        insuf_progress = _pick(zooming, near_edge & ~at_edge, insuf_progress)
        t = t_new.pick(zooming, t)

        f_eval, g_eval = obj_func(x, t, d)
        f_new, g_new = f_eval.pick(zooming, f_new), _pick(zooming, g_eval, g_new)
        gtd_new = _Num.tensor(dot(g_eval, d)).pick(zooming, gtd_new)
        evals += zooming
        ls_iter += zooming
        new = (t, f_new, g_new, gtd_new)

        high = 1 - low
        f_low = br.get(low)[1]
        worse = zooming & ((f_new > (f + c1 * t * gtd)) | (f_new >= f_low))
        better = zooming & ~worse
        br.put(worse, high, new)
        low = _pick(worse, br.low(), low)
        wolfe = better & (abs(gtd_new) <= -c2 * gtd)
        done |= wolfe
        old_low = br.get(low)
        shift = better & ~wolfe & (gtd_new * (br.get(high)[0] - old_low[0]) >= 0)
        br.put(shift, high, old_low)  # old low becomes the high end
        br.put(better, low, new)
        zooming &= ~done & (ls_iter < max_ls)

    t, f_new, g_new, _ = br.get(low)
    return f_new, g_new, t, evals


def init(params, hp):
    runs, dims = params.shape
    size = hp["history_size"]
    count = torch.zeros((runs, 1), dtype=torch.int64, device=params.device)
    return {
        "func_evals": count.clone(),
        "n_iter": count.clone(),
        "d": torch.zeros_like(params),
        "t": params.new_zeros((runs, 1)),
        # Ring buffer: entry i (oldest first) of a run lives at (head + i) % size.
        "old_dirs": params.new_zeros((runs, size, dims)),
        "old_stps": params.new_zeros((runs, size, dims)),
        "ro": params.new_zeros((runs, size)),
        "num_old": count.clone(),
        "head": count.clone(),
        "H_diag": params.new_ones((runs, 1)),
        "prev_flat_grad": torch.zeros_like(params),
        "prev_loss": params.new_zeros((runs, 1), dtype=torch.float64),  # a Python float in torch
    }


def _remember(state, mask, y, s, ys):
    """torch's ``old_dirs.append(y)`` (dropping the oldest when full), where ``mask``."""
    size = state["ro"].shape[1]
    if size == 0 or not bool(mask.any()):
        return
    num, head = state["num_old"], state["head"]
    rows = mask.squeeze(1).nonzero().squeeze(1)
    slot = ((head + num) % size).squeeze(1)[rows]
    state["old_dirs"][rows, slot] = y[rows]
    state["old_stps"][rows, slot] = s[rows]
    state["ro"][rows, slot] = (1.0 / ys)[rows, 0]
    full = num == size
    state["head"] = _pick(mask & full, (head + 1) % size, head)
    state["num_old"] = _pick(mask & ~full, num + 1, num)


def _direction(state, flat_grad):
    """The two-loop recursion: minus the inverse-Hessian estimate times the gradient.

    Entries past a run's ``num_old`` are zeros and leave ``q`` and ``r`` as they
    are, so every run can loop to the longest history.
    """
    longest = int(state["num_old"].max())
    q = flat_grad.neg()
    if longest == 0:
        return q.mul_(state["H_diag"])
    dirs, stps, ro = state["old_dirs"], state["old_stps"], state["ro"]
    if bool(state["head"].any()):
        # Some ring has wrapped: copy each run's history out oldest first.
        size = ro.shape[1]
        order = (state["head"] + torch.arange(size, device=ro.device)) % size
        dirs = dirs.gather(1, order.unsqueeze(2).expand_as(dirs))
        stps = stps.gather(1, order.unsqueeze(2).expand_as(stps))
        ro = ro.gather(1, order)
    dirs, stps = dirs[:, :longest].unbind(1), stps[:, :longest].unbind(1)
    ro = ro[:, :longest].unsqueeze(2).unbind(1)
    al = [None] * longest
    for i in range(longest - 1, -1, -1):
        al[i] = dot(stps[i], q) * ro[i]
        q.addcmul_(dirs[i], al[i], value=-1.0)  # torch: q.add_(old_dirs[i], alpha=-al[i])
    r = torch.mul(q, state["H_diag"])
    for i in range(longest):
        be_i = dot(dirs[i], r) * ro[i]
        r.addcmul_(stps[i], al[i] - be_i)
    return r


def update(params, grads, state, hp, step, ctx):
    # The scalars follow torch's kinds (see _Num): the loss a Python float, lr and the
    # tolerances Python floats, gtd, ys and H_diag tensors, t either.
    dt = params.dtype
    max_iter, max_eval = hp["max_iter"], max_eval_of(hp)
    tolerance_grad, tolerance_change = cast(hp["tolerance_grad"], params), cast(hp["tolerance_change"], params)
    closure = ctx.closure
    lr = _Num.tensor(params.new_zeros((params.shape[0], 1))).lift(hp["lr"])

    def evaluate(x):
        loss, grad = closure(x)
        return _Num(loss.unsqueeze(1).double(), torch.zeros_like(lr.t), dt), grad

    def obj_func(x, t, d):
        return evaluate(add_(x.clone(), d, t.as_dtype()))

    loss = (
        _Num(ctx.loss.unsqueeze(1).double(), torch.zeros_like(lr.t), dt)
        if ctx.loss is not None
        else evaluate(params)[0]
    )
    flat_grad = grads
    current_evals = torch.ones_like(state["func_evals"])
    state["func_evals"] += 1
    active = ~(flat_grad.abs().amax(1, keepdim=True) <= tolerance_grad)
    # A run gone non-finite has diverged for good (the engine shows NaN from
    # there on); torch would grind on in NaNs, we let it rest.
    active &= torch.isfinite(loss.v) & torch.isfinite(params).all(1, keepdim=True)

    d, H_diag = state["d"], state["H_diag"]
    t = _Num.tensor(state["t"])  # only d * t reads it, where either kind rounds alike
    prev_flat_grad = state["prev_flat_grad"]
    prev_loss = _Num(state["prev_loss"], torch.zeros_like(lr.t), dt)
    for n_iter in range(1, max_iter + 1):
        if not bool(active.any()):
            break
        state["n_iter"] += active
        first = active & (state["n_iter"] == 1)
        later = active & ~first

        # Direction: steepest descent on a run's first iteration ever, else L-BFGS.
        if bool(later.any()):
            y = flat_grad - prev_flat_grad
            s = d * t.as_dtype()
            ys = dot(y, s)
            store = later & (ys > 1e-10)
            _remember(state, store, y, s, ys)
            H_diag = _pick(store, ys / dot(y, y), H_diag)
            d = _pick(later, _direction({**state, "H_diag": H_diag}, flat_grad), d)
        if bool(first.any()):
            d = _pick(first, flat_grad.neg(), d)
            H_diag = _pick(first, 1.0, H_diag)
            state["num_old"] = _pick(first, 0, state["num_old"])
            state["head"] = _pick(first, 0, state["head"])
        prev_flat_grad = _pick(active, flat_grad, prev_flat_grad)
        prev_loss = loss.pick(active, prev_loss)

        # Step length: the first ever is min(1, 1 / |g|_1) * lr, later iterations lr.
        t_first = _min(lr.lift(1.0), 1.0 / _Num.tensor(flat_grad.abs().sum(1, keepdim=True))) * lr
        t = t_first.pick(first, lr.pick(active, t))

        gtd = _Num.tensor(dot(flat_grad, d))
        active &= ~(gtd > -tolerance_change)  # not a descent direction (any more)

        if hp["line_search_fn"] == "strong_wolfe":
            max_ls = max_eval - current_evals
            f_new, g_new, t_ls, ls_func_evals = _strong_wolfe(
                obj_func, params, t, d, loss, flat_grad, gtd, active, max_ls
            )
            loss, flat_grad = f_new.pick(active, loss), _pick(active, g_new, flat_grad)
            t = t_ls.pick(active, t)
            params.copy_(_pick(active, add_(params.clone(), d, t.as_dtype()), params))
            opt_cond = flat_grad.abs().amax(1, keepdim=True) <= tolerance_grad
            ls_func_evals = _pick(active, ls_func_evals, 0)
        else:
            params.copy_(_pick(active, add_(params.clone(), d, t.as_dtype()), params))
            ls_func_evals = torch.zeros_like(current_evals)
            if n_iter != max_iter:
                # torch skips this evaluation on the last iteration.
                f_new, g_new = evaluate(params)
                loss, flat_grad = f_new.pick(active, loss), _pick(active, g_new, flat_grad)
                opt_cond = flat_grad.abs().amax(1, keepdim=True) <= tolerance_grad
                ls_func_evals = active.long()
        current_evals += ls_func_evals
        state["func_evals"] += ls_func_evals

        if n_iter == max_iter:
            break
        active &= ~(current_evals >= max_eval)
        active &= ~opt_cond
        active &= ~((d * t.as_dtype()).abs().amax(1, keepdim=True) <= tolerance_change)  # lack of progress
        active &= ~(abs(loss - prev_loss) < hp["tolerance_change"])  # Python floats: in doubles

    state.update(d=d, t=t.as_dtype(), H_diag=H_diag, prev_flat_grad=prev_flat_grad, prev_loss=prev_loss.v)


def max_eval_of(hp) -> int:
    """torch's ``max_eval``: as given, else ``max_iter * 5 // 4``."""
    return hp["max_eval"] if hp["max_eval"] is not None else hp["max_iter"] * 5 // 4


SPEC = OptimizerSpec(
    name="LBFGS",
    torch_cls=torch.optim.LBFGS,
    init=init,
    update=update,
    hparams=torch_hparams(
        torch.optim.LBFGS,
        lr=dict(low=1e-4, high=10.0, log=True, help="step length (the line search's first trial)"),
        max_iter=dict(low=1, high=100, help="inner iterations per step"),
        max_eval=dict(low=1, high=200, help="function evaluations per step (default max_iter * 5/4)"),
        tolerance_grad=dict(low=1e-12, high=1e-1, log=True, help="stop when max |gradient| is below this"),
        tolerance_change=dict(low=1e-12, high=1e-1, log=True, help="stop when loss or step change less"),
        history_size=dict(low=1, high=200, help="past steps kept for the curvature estimate"),
        line_search_fn=dict(choices=(None, "strong_wolfe"), help="fixed step (None) or strong Wolfe line search"),
    ),
    summary="Limited-memory BFGS: a quasi-Newton direction from recent steps, up to max_iter per step.",
    rule=r"""
\begin{aligned}
d_k &\leftarrow -H_k\,\nabla f(\theta_k)\quad(H_k\text{ from the last } m \text{ pairs } s_i, y_i) \\
\theta_{k+1} &\leftarrow \theta_k + t_k\, d_k\quad(t_k = \gamma \text{ or strong Wolfe}) \\
s_k &= \theta_{k+1}-\theta_k,\ \ y_k = \nabla f(\theta_{k+1})-\nabla f(\theta_k)
\end{aligned}""",
    state_keys=("d", "prev_flat_grad"),
    elementwise=False,
    # torch counts the first closure call too: a step never evaluates more than max_eval times.
    evals_per_step=lambda hp: max(1, max_eval_of(hp)),
    # One quasi-Newton move per frame instead of up to 20, made safe at lr=1 by
    # the line search; torch's max_eval would be 1 * 5 // 4 = 1, which leaves
    # the search no trial beyond lr and can stall a run for good.
    ui_defaults={"lr": 1.0, "max_iter": 1, "max_eval": 10, "line_search_fn": "strong_wolfe"},
)
