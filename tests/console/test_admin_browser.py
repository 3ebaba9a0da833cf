"""The roster's admin pages in headless Chromium: an admin creates a grid and a point, moves a person to another
unit, is told when another desk saved first, retires a person and sees what moved; others are refused."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from models import Grid, Point, Problem, User
from models.base import db
from tests.console.conftest import screenshot
from tests.console.helpers import give_password
from tests.console.test_browser import labelled, settle, sign_in_with_the_keyboard, submit


def fresh(model, row_id: int, *names: str) -> tuple:
    """Columns of a row as the browser's requests left it; the read ends at once (on SQLite an open read
    would block the server's next write)."""
    db.session.commit()
    row = db.session.get(model, row_id)
    values = tuple(getattr(row, name) for name in names)
    db.session.commit()
    return values


def test_an_admin_creates_a_grid_and_a_point(live, browser, world):
    give_password(world, "admin")
    db.session.commit()
    driver = browser()
    sign_in_with_the_keyboard(driver, live, "admin")
    driver.find_element(By.ID, "nav-roster").click()
    driver.find_element(By.LINK_TEXT, "网格").click()
    driver.find_element(By.ID, "new-link").click()
    driver.find_element(By.ID, "f-name").send_keys("南关第一网格")
    Select(driver.find_element(By.ID, "f-unit_id")).select_by_visible_text("west")
    driver.find_element(By.ID, "f-code").send_keys("G-S1")
    labelled(driver)
    submit(driver, "submit-create")
    assert "已新增" in driver.find_element(By.CLASS_NAME, "flash").text
    grid_id = int(driver.current_url.rsplit("/", 1)[1])
    assert fresh(Grid, grid_id, "code") == ("G-S1",)

    driver.get(f"{live}/console/admin/points/new")
    driver.find_element(By.ID, "f-name").send_keys("南关路口")
    Select(driver.find_element(By.ID, "f-grid_id")).select_by_visible_text("南关第一网格 (G-S1)")
    driver.find_element(By.ID, "f-lat").send_keys("95")  # out of range: the API's schema says so
    driver.find_element(By.ID, "f-lng").send_keys("118.35")
    submit(driver, "submit-create")
    assert "纬度" in driver.find_element(By.ID, "error-lat").find_element(By.XPATH, "..").text
    field = driver.find_element(By.ID, "f-lat")
    field.clear()
    field.send_keys("35.05")
    submit(driver, "submit-create")
    point_id = int(driver.current_url.rsplit("/", 1)[1])
    assert fresh(Point, point_id, "grid_id", "lat", "lng") == (grid_id, 35.05, 118.35)
    screenshot(driver, "admin-point")


def test_a_person_moved_to_another_unit_and_a_stale_edit_refused_after_another_desk_saved(live, browser, world):
    give_password(world, "admin")
    give_password(world, "supervisor")
    handler_id, sanitation = world.users["handler2"].id, world.units["sanitation"].id
    db.session.commit()
    first, second = browser(), browser()
    sign_in_with_the_keyboard(first, live, "admin")
    sign_in_with_the_keyboard(second, live, "supervisor")
    for driver in (first, second):
        driver.get(f"{live}/console/admin/people/{handler_id}")

    Select(first.find_element(By.ID, "f-unit_id")).select_by_visible_text("sanitation")
    labelled(first)
    submit(first, "submit-edit")
    assert "已保存" in first.find_element(By.CLASS_NAME, "flash").text
    assert first.find_element(By.ID, "fact-unit_id").text == "sanitation"
    assert fresh(User, handler_id, "unit_id") == (sanitation,)
    screenshot(first, "admin-person")

    second.find_element(By.ID, "f-name").send_keys("（老）")
    submit(second, "submit-edit")
    assert "其他人已先操作" in second.find_element(By.ID, "form-error").text
    assert second.find_element(By.ID, "fact-unit_id").text == "sanitation"  # the person as they are now
    screenshot(second, "admin-stale")
    assert fresh(User, handler_id, "name") == ("handler2",)


def test_retiring_a_handler_shows_what_moved(live, browser, world):
    problem = world.report()
    world.act(problem, "assign", by="supervisor", unit_id=world.units["squad"].id,
              handler_id=world.users["handler"].id)
    pid, _ = settle(problem)
    give_password(world, "admin")
    handler_id = world.users["handler"].id
    db.session.commit()
    driver = browser()
    sign_in_with_the_keyboard(driver, live, "admin")
    driver.get(f"{live}/console/admin/people/{handler_id}")
    assert "在办问题退回单位待派" in driver.find_element(By.ID, "retire-moves").text  # said before, not after
    driver.find_element(By.ID, "active-reason").send_keys("调离")
    submit(driver, "submit-active")
    flash = driver.find_element(By.CLASS_NAME, "flash").text
    assert "已停用" in flash and f"#{pid}" in flash and "吊销令牌" in flash
    assert driver.find_element(By.ID, "fact-active").text == "已停用"
    screenshot(driver, "admin-retired")
    assert fresh(Problem, pid, "handler_id") == (None,)


def test_a_supervisor_is_refused_the_admin_only_pages(live, browser, world):
    give_password(world, "east_supervisor")
    db.session.commit()
    driver = browser()
    sign_in_with_the_keyboard(driver, live, "east_supervisor")
    driver.find_element(By.ID, "nav-roster").click()
    assert driver.find_elements(By.LINK_TEXT, "网格") == []  # no link to what they may not open
    driver.get(f"{live}/console/admin/grids")
    assert "您没有权限" in driver.find_element(By.CSS_SELECTOR, "p.error").text
    screenshot(driver, "admin-refused")


@pytest.mark.parametrize("path", ["/console/admin/people", "/console/admin/people/new", "/console/admin/grids",
                                  "/console/admin/points", "/console/admin/categories/new",
                                  "/console/admin/categories/1", "/console/admin/import"])
def test_every_admin_page_labels_its_inputs_and_reaches_its_main_by_keyboard(live, browser, world, path):
    give_password(world, "admin")
    db.session.commit()
    driver = browser()
    sign_in_with_the_keyboard(driver, live, "admin")
    driver.get(f"{live}{path}")
    labelled(driver)
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    skip = driver.switch_to.active_element
    assert skip.get_attribute("class") == "skip"
    skip.send_keys(Keys.ENTER)
    assert driver.switch_to.active_element.get_attribute("id") == "main"
    screenshot(driver, path.strip("/").replace("/", "-"))
