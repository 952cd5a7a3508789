"""Run an exported standalone PyTorch script in this process: exec'd (no second torch import), its main()
called with no arguments, what it prints read back as JSON lines (one per epoch, then the status line)."""
from __future__ import annotations

import ast
import contextlib
import io
import json
import sys

import pytest


def run_script(src: str) -> list[dict]:
    space = {"__name__": "train"}
    exec(compile(src, "train.py", "exec"), space)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", ["train.py"])
        space["main"]()
    return [json.loads(line) for line in out.getvalue().splitlines()]


def imported_modules(src: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module.split(".")[0])
    return names
