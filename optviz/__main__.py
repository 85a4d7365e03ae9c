import os
import sys

from .cli import main


def _skip_dynamo_import() -> None:
    """Spare this process torch._dynamo's import: about 2.5 s of a 7 s ``run``.

    ``torch.optim.Optimizer.add_param_group`` is wrapped by ``torch._disable_dynamo``,
    which imports ``torch._dynamo`` on its first call only to mark the function as
    not to be compiled, and caches the result on the function. The command line
    never compiles, so it caches the function itself. Only ``python -m optviz``
    does this: ``import optviz`` leaves torch as it is.
    """
    import torch

    fn = getattr(torch.optim.Optimizer.add_param_group, "__wrapped__", None)
    if fn is not None and getattr(fn, "__dynamo_disable", None) is None:
        fn.__dynamo_disable = fn


def run() -> int:
    if sys.argv[1:2] != ["list"]:  # `list` imports no torch at all
        _skip_dynamo_import()
    try:
        code = main()
        sys.stdout.flush()  # a reader that left early (| head) fails here, inside the try
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    return code


sys.exit(run())
