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


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None, *, is_tensor):
    """torch's ``_cubic_interpolate`` on columns; Python's min/max become wheres
    with the same tie and NaN behaviour.

    torch holds a step length either as a Python float or as a 0-d tensor, and
    that changes one rounding: with a tensor ``x1 - x2``, ``3 * (f1 - f2) / (x1 - x2)``
    runs ``Tensor.__rtruediv__``, which is ``reciprocal() * other``, not a
    division. ``is_tensor`` flags (x1, x2, lo, hi) per run; returns the new
    point and its flag.
    """
    x1_t, x2_t, lo_t, hi_t = is_tensor
    forward = x1 <= x2
    if bounds is None:
        lo, hi = _pick(forward, x1, x2), _pick(forward, x2, x1)
        lo_t, hi_t = _pick(forward, x1_t, x2_t), _pick(forward, x2_t, x1_t)
    else:
        lo, hi = bounds
    num, den = 3 * (f1 - f2), x1 - x2
    d1 = g1 + g2 - _pick(x1_t | x2_t, den.reciprocal() * num, num / den)
    d2_square = d1**2 - g1 * g2
    d2 = d2_square.sqrt()  # NaN where negative; that branch is not taken there
    min_pos = _pick(
        forward,
        x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2)),
        x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2)),
    )
    take_lo = lo > min_pos
    clipped, clipped_t = _pick(take_lo, lo, min_pos), take_lo.logical_not() | lo_t
    take_hi = hi < clipped
    clipped, clipped_t = _pick(take_hi, hi, clipped), _pick(take_hi, hi_t, clipped_t)
    real = d2_square >= 0
    return _pick(real, clipped, (lo + hi) / 2.0), _pick(real, clipped_t, lo_t | hi_t)


class _Bracket:
    """Two-slot line-search brackets, one per run.

    A point is ``(t, f, g, gtd, t_is_tensor)``; each field is stored ``(runs, 2, ...)``.
    """

    def __init__(self, point):
        self.fields = [x.unsqueeze(1).repeat(1, 2, *([1] * (x.dim() - 1))) for x in point]

    def put(self, mask, slot, point):
        """Where ``mask``, write ``point`` into slot ``slot`` (a ``(runs, 1)`` 0/1)."""
        sel = mask & (torch.arange(2, device=slot.device) == slot)
        self.fields = [
            _pick(sel.view(*sel.shape, *([1] * (old.dim() - 2))), new.unsqueeze(1), old)
            for new, old in zip(point, self.fields)
        ]

    def get(self, slot):
        return tuple(
            x.gather(1, slot.view(-1, 1, *([1] * (x.dim() - 2))).expand(-1, 1, *x.shape[2:])).squeeze(1)
            for x in self.fields
        )

    def __getitem__(self, slot: int):
        return tuple(x[:, slot] for x in self.fields)

    def low(self):
        """torch's ``low_pos``: slot 0 unless slot 1 is strictly better (or NaN)."""
        f = self.fields[1]
        return (~(f[:, 0] <= f[:, 1])).long()


def _strong_wolfe(obj_func, x, t, t_t, d, f, g, gtd, run, max_ls, c1=1e-4, c2=0.9, tolerance_change=1e-9):
    """torch's ``_strong_wolfe`` for the runs in ``run``; ``max_ls`` is per run
    and ``t_t`` flags the runs whose first ``t`` torch holds as a tensor.

    Returns ``(f_new, g_new, t, ls_func_evals)``, meaningful where ``run``.
    """
    d_norm = d.abs().amax(1, keepdim=True)
    f_new, g_new = obj_func(x, t, d)
    evals = torch.ones_like(max_ls)
    gtd_new = dot(g_new, d)
    prev = (torch.zeros_like(t), f, g, gtd, torch.zeros_like(t_t))  # t_prev = 0, an int
    done = torch.zeros_like(run)
    ls_iter = torch.zeros_like(max_ls)
    br = _Bracket(prev)
    zero, one = torch.zeros_like(max_ls), torch.ones_like(max_ls)

    # Bracketing phase: widen the step until an interval holds a Wolfe point.
    searching = run & (ls_iter < max_ls)
    found = torch.zeros_like(run)
    while bool(searching.any()):
        new = (t, f_new, g_new, gtd_new, t_t)
        armijo_fails = (f_new > (f + c1 * t * gtd)) | ((ls_iter > 1) & (f_new >= prev[1]))
        wolfe = ~armijo_fails & (gtd_new.abs() <= -c2 * gtd)
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
        t_prev, tp_t = prev[0], prev[4]
        t_next, tn_t = _cubic_interpolate(
            t_prev, prev[1], prev[3], t, f_new, gtd_new,
            bounds=(t + 0.01 * (t - t_prev), t * 10),
            is_tensor=(tp_t, t_t, t_t | tp_t, t_t),
        )
        prev = tuple(_pick(searching, a, b) for a, b in zip(new, prev))
        t, t_t = _pick(searching, t_next, t), _pick(searching, tn_t, t_t)
        f_eval, g_eval = obj_func(x, t, d)
        f_new, g_new = _pick(searching, f_eval, f_new), _pick(searching, g_eval, g_new)
        gtd_new = _pick(searching, dot(g_eval, d), gtd_new)
        evals += searching
        ls_iter += searching
        searching &= ls_iter < max_ls

    # Out of evaluations without a bracket: torch brackets [0, t].
    exhausted = run & ~found & (ls_iter == max_ls)
    br.put(exhausted, zero, (torch.zeros_like(t), f, g, gtd, torch.zeros_like(t_t)))
    br.put(exhausted, one, (t, f_new, g_new, gtd_new, t_t))

    # Zoom phase: shrink the bracket until its low end satisfies strong Wolfe.
    insuf_progress = torch.zeros_like(run)
    low = br.low()
    zooming = run & ~done & (ls_iter < max_ls)
    while bool(zooming.any()):
        (b0, f0, _, gtd0, b0_t), (b1, f1, _, gtd1, b1_t) = br[0], br[1]
        zooming &= ~((b1 - b0).abs() * d_norm < tolerance_change)
        if not bool(zooming.any()):
            break
        t_new, tn_t = _cubic_interpolate(b0, f0, gtd0, b1, f1, gtd1, is_tensor=(b0_t, b1_t, None, None))
        b_max, b_min = _pick(b1 > b0, b1, b0), _pick(b1 < b0, b1, b0)
        eps = 0.1 * (b_max - b_min)
        to_max, to_min = b_max - t_new, t_new - b_min
        near_edge = _pick(to_min < to_max, to_min, to_max) < eps
        at_edge = insuf_progress | (t_new >= b_max) | (t_new <= b_min)
        move = near_edge & at_edge
        t_moved = _pick((t_new - b_max).abs() < (t_new - b_min).abs(), b_max - eps, b_min + eps)
        t_new, tn_t = _pick(move, t_moved, t_new), _pick(move, b0_t | b1_t, tn_t)
        insuf_progress = _pick(zooming, near_edge & ~at_edge, insuf_progress)
        t, t_t = _pick(zooming, t_new, t), _pick(zooming, tn_t, t_t)

        f_eval, g_eval = obj_func(x, t, d)
        f_new, g_new = _pick(zooming, f_eval, f_new), _pick(zooming, g_eval, g_new)
        gtd_new = _pick(zooming, dot(g_eval, d), gtd_new)
        evals += zooming
        ls_iter += zooming
        new = (t, f_new, g_new, gtd_new, t_t)

        high = 1 - low
        f_low = br.get(low)[1]
        worse = zooming & ((f_new > (f + c1 * t * gtd)) | (f_new >= f_low))
        better = zooming & ~worse
        br.put(worse, high, new)
        low = _pick(worse, br.low(), low)
        wolfe = better & (gtd_new.abs() <= -c2 * gtd)
        done |= wolfe
        old_low = br.get(low)
        shift = better & ~wolfe & (gtd_new * (br.get(high)[0] - old_low[0]) >= 0)
        br.put(shift, high, old_low)  # old low becomes the high end
        br.put(better, low, new)
        zooming &= ~done & (ls_iter < max_ls)

    t, f_new, g_new, _, _ = br.get(low)
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
        "prev_loss": params.new_zeros((runs, 1)),
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
    # LBFGS keeps its scalars in the params' dtype (torch's are 0-d tensors or
    # Python floats; in float64 the two agree, in float32 see LINE_SEARCH_FLOAT32).
    lr, max_iter = cast(hp["lr"], params), hp["max_iter"]
    max_eval = max_eval_of(hp)
    tolerance_grad, tolerance_change = cast(hp["tolerance_grad"], params), cast(hp["tolerance_change"], params)
    closure = ctx.closure

    def evaluate(x):
        loss, grad = closure(x)
        return loss.unsqueeze(1).to(x.dtype), grad

    def obj_func(x, t, d):
        return evaluate(add_(x.clone(), d, t))

    loss = ctx.loss.unsqueeze(1).to(params.dtype) if ctx.loss is not None else evaluate(params)[0]
    flat_grad = grads
    current_evals = torch.ones_like(state["func_evals"])
    state["func_evals"] += 1
    active = ~(flat_grad.abs().amax(1, keepdim=True) <= tolerance_grad)
    # A run gone non-finite has diverged for good (the engine shows NaN from
    # there on); torch would grind on in NaNs, we let it rest.
    active &= torch.isfinite(loss) & torch.isfinite(params).all(1, keepdim=True)

    d, t, H_diag = state["d"], state["t"], state["H_diag"]
    prev_flat_grad, prev_loss = state["prev_flat_grad"], state["prev_loss"]
    for n_iter in range(1, max_iter + 1):
        if not bool(active.any()):
            break
        state["n_iter"] += active
        first = active & (state["n_iter"] == 1)
        later = active & ~first

        # Direction: steepest descent on a run's first iteration ever, else L-BFGS.
        if bool(later.any()):
            y = flat_grad - prev_flat_grad
            s = d * t
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
        prev_loss = _pick(active, loss, prev_loss)

        # Step length: the first ever is scaled by the gradient's 1-norm.
        inv = 1.0 / flat_grad.abs().sum(1, keepdim=True)
        t_first = _pick(inv < 1.0, inv, 1.0) * lr
        t = _pick(first, t_first, _pick(active, torch.as_tensor(lr, dtype=t.dtype, device=t.device), t))
        t_is_tensor = first & (inv < 1.0)  # torch's min(1.0, tensor) picked the tensor

        gtd = dot(flat_grad, d)
        active &= ~(gtd > -tolerance_change)  # not a descent direction (any more)

        if hp["line_search_fn"] == "strong_wolfe":
            max_ls = max_eval - current_evals
            f_new, g_new, t_ls, ls_func_evals = _strong_wolfe(
                obj_func, params, t, t_is_tensor, d, loss, flat_grad, gtd, active, max_ls
            )
            loss, flat_grad = _pick(active, f_new, loss), _pick(active, g_new, flat_grad)
            t = _pick(active, t_ls, t)
            params.copy_(_pick(active, add_(params.clone(), d, t), params))
            opt_cond = flat_grad.abs().amax(1, keepdim=True) <= tolerance_grad
            ls_func_evals = _pick(active, ls_func_evals, 0)
        else:
            params.copy_(_pick(active, add_(params.clone(), d, t), params))
            ls_func_evals = torch.zeros_like(current_evals)
            if n_iter != max_iter:
                # torch skips this evaluation on the last iteration.
                f_new, g_new = evaluate(params)
                loss, flat_grad = _pick(active, f_new, loss), _pick(active, g_new, flat_grad)
                opt_cond = flat_grad.abs().amax(1, keepdim=True) <= tolerance_grad
                ls_func_evals = active.long()
        current_evals += ls_func_evals
        state["func_evals"] += ls_func_evals

        if n_iter == max_iter:
            break
        active &= ~(current_evals >= max_eval)
        active &= ~opt_cond
        active &= ~((d * t).abs().amax(1, keepdim=True) <= tolerance_change)  # lack of progress
        active &= ~((loss - prev_loss).abs() < tolerance_change)

    state.update(d=d, t=t, H_diag=H_diag, prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)


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
