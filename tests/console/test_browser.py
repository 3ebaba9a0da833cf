"""The console driven in headless Chromium: sign in with the keyboard, see red, dispatch, compare photos, close,
and a stale form refused after another desk acted. Every page is checked for labels and screenshotted."""

from datetime import timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from models import Problem
from models.base import db
from tests.api.test_evidence import photo, upload
from tests.console.conftest import screenshot
from tests.console.helpers import PASSWORD, give_password

UNLABELLED = """return Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.name || e.id);"""
BROKEN_IMAGES = "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length;"


def sign_in_with_the_keyboard(driver, live: str, login: str):
    driver.get(f"{live}/console/login")
    active = driver.switch_to.active_element
    assert active.get_attribute("id") == "login"  # the form takes the focus: no mouse needed
    active.send_keys(login, Keys.TAB)
    driver.switch_to.active_element.send_keys(PASSWORD, Keys.ENTER)
    # Wait for the dashboard: on a loaded machine the sign-in's answer may come after the next read.
    WebDriverWait(driver, 10).until(expected_conditions.url_contains("/console/dashboard"))
    assert driver.current_url.endswith("/console/dashboard"), driver.current_url


def labelled(driver) -> None:
    assert driver.execute_script(UNLABELLED) == [], f"inputs without a label on {driver.current_url}"


def settle(problem: Problem) -> tuple[int, str]:
    """The id and code, then end the test's transaction: on SQLite an open read would block the server's writes."""
    ids = problem.id, problem.code
    db.session.commit()
    return ids


def submit(driver, name: str) -> None:
    """Press a form's button and wait until the answer's page replaced this one (else a read may find the
    old page's elements)."""
    button = driver.find_element(By.NAME, name)
    button.click()
    WebDriverWait(driver, 10).until(expected_conditions.staleness_of(button))


def fresh(problem_id: int) -> Problem:
    db.session.commit()  # a new transaction: see what the browser's requests wrote
    return db.session.get(Problem, problem_id)


def test_a_supervisor_sees_red_dispatches_compares_photos_and_closes(app, live, browser, world, client):
    give_password(world, "supervisor")
    pid, code = settle(world.report())
    later = world.now + timedelta(days=3)
    app.config["TEST_NOW"] = later  # past its dispatch limit: red
    driver = browser()
    sign_in_with_the_keyboard(driver, live, "supervisor")

    red = driver.find_element(By.ID, "tile-red")
    assert red.text.split()[0] == "1" and "超期" in red.text  # the light has a word, not colour alone
    waiting = driver.find_element(By.ID, "waiting-table").text
    assert code in waiting and "超期" in waiting
    labelled(driver)
    screenshot(driver, "dashboard")

    driver.find_element(By.LINK_TEXT, code).click()
    Select(driver.find_element(By.ID, "assign-unit_id")).select_by_visible_text("squad")
    Select(driver.find_element(By.ID, "assign-handler_id")).select_by_index(1)
    labelled(driver)
    submit(driver, "submit-assign")
    assert "已完成" in driver.find_element(By.CLASS_NAME, "flash").text
    assert driver.find_element(By.ID, "state").text == "已派遣"
    assert fresh(pid).unit_id == world.units["squad"].id

    # The handler's phone: accept, the before and after photos, submit; the officer verifies on site.
    world.act(fresh(pid), "accept", by="handler", at=later)
    assert upload(client, world, pid, photo(), kind="before", by="handler").status_code == 201
    assert upload(client, world, pid, photo(size=(96, 64)), kind="after").status_code == 201
    world.act(fresh(pid), "submit", by="handler", at=later, note="摊位已清理")
    world.act(fresh(pid), "verify", by="officer", at=later, note="现场核查")

    driver.get(f"{live}/console/problems/{pid}")
    before = driver.find_elements(By.CSS_SELECTOR, "#photos-before img")
    after = driver.find_elements(By.CSS_SELECTOR, "#photos-after img")
    assert len(before) == 1 and len(after) == 1
    assert driver.execute_script(BROKEN_IMAGES) == 0  # both photos load (same-origin signed URLs, CSP 'self')
    assert after[0].location["y"] == before[0].location["y"]  # side by side
    assert "摊位已清理" in driver.find_element(By.ID, "trail").text
    labelled(driver)
    screenshot(driver, "problem")

    submit(driver, "submit-close")
    assert driver.find_element(By.ID, "state").text == "已结案"
    assert fresh(pid).state == "closed"


def test_a_stale_form_is_refused_after_another_desk_acted(app, live, browser, world):
    give_password(world, "supervisor")
    give_password(world, "east_supervisor")
    pid, _ = settle(world.report())
    first, second = browser(), browser()
    sign_in_with_the_keyboard(first, live, "supervisor")
    sign_in_with_the_keyboard(second, live, "east_supervisor")
    for driver in (first, second):
        driver.get(f"{live}/console/problems/{pid}")
        Select(driver.find_element(By.ID, "assign-unit_id")).select_by_visible_text("squad")

    submit(first, "submit-assign")
    assert first.find_element(By.ID, "state").text == "已派遣"
    submit(second, "submit-assign")
    assert "其他人已先操作" in second.find_element(By.ID, "form-error").text
    assert second.find_element(By.ID, "state").text == "已派遣"  # the page shows the problem as it is now
    screenshot(second, "stale")
    assert fresh(pid).version == 2


@pytest.mark.parametrize("path", ["/console/problems", "/console/dispatch", "/console/patrols",
                                  "/console/statistics", "/console/map"])
def test_every_page_labels_its_inputs_and_reaches_its_main_by_keyboard(live, browser, world, path):
    world.report()
    give_password(world, "supervisor")
    driver = browser()
    sign_in_with_the_keyboard(driver, live, "supervisor")
    driver.get(f"{live}{path}")
    labelled(driver)
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    skip = driver.switch_to.active_element
    assert skip.get_attribute("class") == "skip"  # the first stop is "skip to content"
    skip.send_keys(Keys.ENTER)
    assert driver.switch_to.active_element.get_attribute("id") == "main"
    screenshot(driver, path.strip("/").replace("/", "-"))
