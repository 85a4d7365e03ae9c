import os
import sys

from .cli import main


def run() -> int:
    try:
        code = main()
        sys.stdout.flush()  # a reader that left early (| head) fails here, inside the try
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    return code


sys.exit(run())
