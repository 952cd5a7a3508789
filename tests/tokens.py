"""Browser tokens for tests: the app takes a ?me= token only if it is long enough to be a secret
(22 url-safe characters, 128 bits when random) and replaces a shorter one, so a test's readable name
is padded to that length."""


def token(name: str) -> str:
    return name if len(name) >= 22 else name + "-" * (22 - len(name))
