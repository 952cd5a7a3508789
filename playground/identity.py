"""Who is acting on a run: a browser (its secret token), the teacher, or the server's operator.

A browser's runs are stored under its token, a secret of 128 random bits that lives in its address
(?me=...) and is never shown to anyone else: other people see the display name its owner chose.
The teacher is whoever signs in with the server's teacher key (PLAYGROUND_TEACHER_KEY, or one made
when the server starts and printed in its terminal). Every action on a run (stop, resume, rename,
delete) is checked against a `Who` on the server (Registry), whatever the page showed; a caller
with no `Who` (the CLI, run by whoever has the server's shell) may do anything.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
from dataclasses import dataclass

TOKEN_BYTES = 16                                  # 128 bits: no one guesses another browser's token
TOKEN = re.compile(r"[A-Za-z0-9_-]{22,64}")       # 22 url-safe characters carry 132 bits
NAME_MAX = 40
TEACHER_KEY_ENV = "PLAYGROUND_TEACHER_KEY"
TEACHER_KEY_MIN = 12                              # a teacher key shorter than this is refused at start

_key_lock = threading.Lock()
_key: str | None = None


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def valid_token(text: str | None) -> bool:
    return bool(text) and TOKEN.fullmatch(text) is not None


@dataclass(frozen=True)
class Who:
    """A browser acting on the server: its token, and whether it signed in as the teacher."""
    token: str
    teacher: bool = False

    def may(self, owner: str | None) -> bool:
        """May this browser stop, resume, rename or delete a run stored under `owner`?"""
        return self.teacher or owner == self.token


def teacher_key() -> tuple[str, bool]:
    """The server's teacher key and whether it was generated here (not given in PLAYGROUND_TEACHER_KEY)."""
    global _key
    given = os.environ.get(TEACHER_KEY_ENV, "").strip()
    if given:
        if len(given) < TEACHER_KEY_MIN:
            raise ValueError(f"{TEACHER_KEY_ENV} is {len(given)} characters long: a teacher key needs at least "
                             f"{TEACHER_KEY_MIN} (students could guess a short one); unset it to have one made")
        return given, False
    with _key_lock:
        if _key is None:
            _key = secrets.token_urlsafe(TOKEN_BYTES)
        return _key, True


def is_teacher_key(text: str | None) -> bool:
    return bool(text) and hmac.compare_digest(text.encode(), teacher_key()[0].encode())


def clean_name(name: str) -> str:
    """A display name as stored: one line, trimmed, at most NAME_MAX characters."""
    return " ".join(str(name).split())[:NAME_MAX]


def public_name(owner: str | None, names: dict[str, str]) -> str:
    """What others see for a run's owner: the name they chose, else a label that reveals no part of
    the token (a hash of it), so one student's runs still read as one person's."""
    if owner in names and names[owner]:
        return names[owner]
    if not owner or owner == "cli":
        return "terminal (CLI)"
    if not valid_token(owner):
        return owner                              # a CLI --owner label, or a run stored before tokens were secrets
    return "anonymous " + hashlib.sha256(owner.encode()).hexdigest()[:4]
