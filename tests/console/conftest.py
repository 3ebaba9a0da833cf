"""The console in a real browser: Debian's chromium and chromedriver against the app served on 127.0.0.1.

No browser is downloaded: when /usr/bin/chromium or /usr/bin/chromedriver is missing the browser tests skip,
and the run says so at its end. Screenshots go to instance/screenshots/ (not committed).
"""

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "instance" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_BINARY") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"


def browser_missing() -> str | None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    return f"no {' and no '.join(missing)} (apt-get install chromium chromium-driver fonts-noto-cjk)" \
        if missing else None


@pytest.fixture
def live(app):
    """The app served on an ephemeral 127.0.0.1 port for the length of one test."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def _driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000",
                     "--lang=zh-CN", "--disable-gpu"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})  # as a desk in the district
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture
def browser():
    """A headless Chromium (one per test; two where a test needs a second person at another desk)."""
    if (reason := browser_missing()) is not None:
        pytest.skip(f"browser tests need Debian's chromium: {reason}")
    drivers = []

    def start():
        drivers.append(_driver())
        drivers[-1].implicitly_wait(0)
        return drivers[-1]

    yield start
    for driver in drivers:
        driver.quit()


def screenshot(driver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def pytest_terminal_summary(terminalreporter):
    # Said by the process that prints the summary (with pytest-xdist the tests skip in the workers).
    if (reason := browser_missing()) is not None:
        terminalreporter.write_line(f"BROWSER TESTS SKIPPED: {reason}", yellow=True)
