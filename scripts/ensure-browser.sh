#!/usr/bin/env bash
# Make a Chromium available for the browser tests (tests/e2e): Debian's package where we can
# install it, else Playwright's own download (works on an online laptop). Never fails the build:
# the e2e tests themselves say what is missing (and fail under CI=true).
set -u
for b in /usr/bin/chromium /usr/bin/chromium-browser "${PLAYWRIGHT_CHROMIUM:-}"; do
  [ -n "$b" ] && [ -x "$b" ] && exit 0
done
if ls ~/.cache/ms-playwright/chromium*/ >/dev/null 2>&1; then exit 0; fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing Debian's chromium for the browser tests..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    && exit 0
fi
echo "trying Playwright's own Chromium download..."
.venv/bin/python -m playwright install chromium >/dev/null 2>&1 && exit 0
echo "no Chromium found: browser tests will report it (install Debian's 'chromium' package)." >&2
exit 0
