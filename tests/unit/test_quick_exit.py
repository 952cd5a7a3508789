"""quick_exit: the interpreter's last collections are skipped at exit, after every other exit handler,
and the exit keeps its code and its buffered output."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = textwrap.dedent("""
    import atexit, gc, sys
    # registered first: runs last, after quick_exit's handler and the one registered after it
    atexit.register(lambda: print("frozen at the end:", gc.get_freeze_count() > 0))
    from playground import quick_exit
    before = atexit._ncallbacks()
    quick_exit.skip_final_collections()
    quick_exit.skip_final_collections()
    print("handlers added:", atexit._ncallbacks() - before)   # once per process, however often it is asked
    atexit.register(lambda: print("frozen before the later handlers:", gc.get_freeze_count() > 0))
    print("buffered, not flushed", end="")
    sys.exit(3)
""")


def test_objects_are_frozen_after_the_handlers_registered_later_and_the_exit_keeps_its_code_and_output():
    out = subprocess.run([sys.executable, "-c", PROGRAM], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 3, out.stderr
    assert out.stdout == ("handlers added: 1\nbuffered, not flushed" "frozen before the later handlers: False\n"
                          "frozen at the end: True\n"), out.stdout
