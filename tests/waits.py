"""Waiting on a condition a test can see (never on the clock alone)."""
import time


def wait_for(cond, timeout: float = 60.0, what: str = "condition") -> None:
    """Poll cond() every 50 ms until it is true; AssertionError naming `what` after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
