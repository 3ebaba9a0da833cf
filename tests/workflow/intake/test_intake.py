"""Outside reports: placing them by coordinates, one problem per hotline ticket, sources, contact, links;
callbacks (回访) and reopening after an unsatisfied one."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models import Problem
from models.base import db
from tests.conftest import NOW
from workflow.errors import Conflict, Forbidden, Invalid, InvalidTransition, OutsideArea
from workflow.intake import contact, links, locate
from workflow.problems import actions, reporting
from workflow.roster import edits

# A square around the east market (lng, lat), closed.
EAST_SQUARE = {"type": "Polygon", "coordinates": [[[118.35, 35.06], [118.36, 35.06], [118.36, 35.07],
                                                    [118.35, 35.07], [118.35, 35.06]]]}
FAR_AWAY = (36.0, 119.0)


def hotline(world, *, ref="12345-0001", lat=35.0621, lng=118.3561, **fields):
    problem, created = reporting.report_problem(
        actor=world.users["hotline"], now=NOW, category_code="hawker", title="有人占道卖菜", lat=lat, lng=lng,
        address="东关路口", external_ref=ref, **fields)
    db.session.commit()
    return problem, created


def test_a_report_inside_a_grid_boundary_lands_in_that_grid_even_when_another_grids_point_is_nearer(world):
    west = world.grids["west"]
    edits.set_grid_boundary(actor=world.users["admin"], now=NOW, grid_id=west.id, expected_version=west.version,
                            boundary=EAST_SQUARE)
    db.session.commit()
    problem, _ = hotline(world, lat=35.0622, lng=118.3562)  # 15 m from the east market point
    assert problem.grid_id == west.id


def test_a_hole_in_a_boundary_is_outside_it():
    square = {"type": "Polygon", "coordinates": [EAST_SQUARE["coordinates"][0],
                                                 [[118.354, 35.064], [118.356, 35.064], [118.356, 35.066],
                                                  [118.354, 35.066], [118.354, 35.064]]]}
    assert locate.inside(square, 35.061, 118.351)
    assert not locate.inside(square, 35.065, 118.355)


def test_without_a_boundary_the_nearest_point_within_500_m_places_the_report(world):
    problem, _ = hotline(world, lat=35.0621 + 0.004, lng=118.3561)  # ~445 m north of the market
    assert problem.grid_id == world.grids["east"].id and problem.point_id is None


def test_a_report_outside_every_grid_and_far_from_every_point_is_refused(world):
    with pytest.raises(OutsideArea) as refused:
        hotline(world, lat=35.0621 + 0.005, lng=118.3561)  # ~556 m
    assert refused.value.status == 422 and set(refused.value.errors) == {"lat", "lng"}
    assert db.session.scalar(select(func.count()).select_from(Problem)) == 0


def test_the_nearest_distance_is_a_setting(world):
    problem, _ = reporting.report_problem(actor=world.users["hotline"], now=NOW, category_code="hawker",
                                          title="t", lat=35.0621 + 0.005, lng=118.3561, address="a",
                                          external_ref="R1", nearest_m=1000)
    assert problem.grid_id == world.grids["east"].id


@pytest.mark.parametrize("boundary", [
    {"type": "Point", "coordinates": [118.3, 35.0]},
    {"type": "Polygon", "coordinates": [[[118.35, 35.06], [118.36, 35.06], [118.36, 35.07]]]},  # not closed
    {"type": "Polygon", "coordinates": [[[118.35, 35.06], [118.36, 35.06], [200, 35.07], [118.35, 35.06]]]},
    {"type": "Polygon", "coordinates": "x"},
    {"type": "MultiPolygon", "coordinates": []},
])
def test_a_boundary_that_is_not_a_polygon_of_closed_rings_is_refused(world, boundary):
    with pytest.raises(Invalid) as refused:
        edits.set_grid_boundary(actor=world.users["admin"], now=NOW, grid_id=world.grids["east"].id,
                                expected_version=world.grids["east"].version, boundary=boundary)
    assert "boundary" in refused.value.errors


def test_a_hotline_ticket_posted_twice_makes_one_problem(world):
    first, created = hotline(world, ref="12345-7788")
    again, created_again = hotline(world, ref="12345-7788", description="the same call, resent")
    assert (created, created_again, again.id) == (True, False, first.id)
    assert db.session.scalar(select(func.count()).select_from(Problem)) == 1


def test_the_same_reference_from_another_source_is_another_problem(world):
    first, _ = hotline(world, ref="X-1")
    other, created = reporting.report_problem(
        actor=world.users["supervisor"], now=NOW, category_code="hawker", title="媒体曝光", source="media",
        point_id=world.points["market"].id, external_ref="X-1")
    assert created and other.id != first.id and other.source == "media"


def test_a_hotline_report_needs_its_ticket_number(world):
    with pytest.raises(Invalid) as refused:
        hotline(world, ref=None)
    assert "external_ref" in refused.value.errors


@pytest.mark.parametrize(("by", "source", "allowed"), [
    ("officer", None, "officer"), ("officer", "hotline", None), ("officer", "public", None),
    ("supervisor", "hotline", "hotline"), ("supervisor", "media", "media"), ("supervisor", "public", "public"),
    ("hotline", "public", None), ("handler", None, Forbidden), ("admin", None, Forbidden),
])
def test_each_role_reports_only_from_its_own_sources(world, by, source, allowed):
    fields = {"source": source} if source else {}
    if source in ("hotline", "public", "media"):
        fields["external_ref"] = "E-1"
    call = lambda: reporting.report_problem(actor=world.users[by], now=NOW, category_code="hawker",  # noqa: E731
                                            title="t", point_id=world.points["market"].id, **fields)
    if allowed is Forbidden:
        with pytest.raises(Forbidden):
            call()
    elif allowed is None:
        with pytest.raises(Invalid):
            call()
    else:
        assert call()[0].source == allowed


def test_an_officer_report_cannot_carry_an_outside_contact(world):
    with pytest.raises(Invalid):
        reporting.report_problem(actor=world.users["officer"], now=NOW, category_code="hawker", title="t",
                                 point_id=world.points["market"].id, contact={"contact_phone": "13812345678"})


def test_a_patrol_finding_is_counted_as_patrol_and_an_officer_report_as_officer(world):
    assert world.report().source == "officer"


def test_contact_is_whole_for_supervisors_and_admins_and_masked_for_everyone_else(world):
    problem, _ = hotline(world, contact={"contact_name": "张三丰", "contact_phone": "138-1234-5678",
                                         "contact_email": "zhang@example.org"})
    whole = contact.contact_for(world.users["supervisor"], problem)
    assert whole == {"name": "张三丰", "phone": "138-1234-5678", "email": "zhang@example.org", "masked": False}
    for role in ("officer", "handler", "hotline"):
        assert contact.contact_for(world.users[role], problem) == {
            "name": "张**", "phone": "*******5678", "email": "z***@***.org", "masked": True}


@pytest.mark.parametrize(("fields", "field"), [
    ({"contact_phone": "call me maybe"}, "contact_phone"),
    ({"contact_email": "not-an-email"}, "contact_email"),
    ({"contact_name": "bell\x07"}, "contact_name"),
    ({"contact_name": "rtl\u202eevil"}, "contact_name"),
    ({"contact_name": "x" * 101}, "contact_name"),
])
def test_a_contact_that_is_not_one_is_refused(fields, field):
    with pytest.raises(Invalid) as refused:
        contact.check_contact(fields)
    assert field in refused.value.errors


@pytest.mark.parametrize("url", [
    "http://10.1.2.3/a.jpg", "http://127.0.0.1/", "http://[::1]/", "http://169.254.169.254/latest/meta-data",
    "http://2130706433/", "http://0x7f.1/", "http://localhost/", "http://printer.local/", "http://intranet/",
    "file:///etc/passwd", "javascript:alert(1)", "http://user:pw@example.com/", "http://example.com/a b",
    "http://[::ffff:192.168.0.1]/", "http://100.64.0.1/", "http://0.0.0.0/",
])
def test_a_link_towards_a_private_or_local_address_is_refused(url):
    with pytest.raises(Invalid) as refused:
        links.check_link(url)
    assert "media_url" in refused.value.errors


def test_a_public_link_is_stored_as_given(world):
    problem, _ = hotline(world, media_url="https://img.example.com/p/1.jpg")
    assert problem.media_url == "https://img.example.com/p/1.jpg"


# --- intake: assign or cancel with a reason --------------------------------------------------------

def test_refusing_an_outside_report_names_a_reason_code(world):
    problem, _ = hotline(world)
    with pytest.raises(Invalid) as refused:
        world.act(problem, "cancel", by="supervisor", reason="not a problem")
    assert "reason_code" in refused.value.errors
    db.session.rollback()
    cancelled = world.act(problem, "cancel", by="supervisor", reason="not a problem", reason_code="invalid")
    assert cancelled.state == "cancelled"


def test_a_duplicate_reason_goes_with_duplicate_of(world):
    original, _ = hotline(world, ref="A")
    problem, _ = hotline(world, ref="B")
    with pytest.raises(Invalid):
        world.act(problem, "cancel", by="supervisor", reason="dup", reason_code="duplicate")
    db.session.rollback()
    with pytest.raises(Invalid):
        world.act(problem, "cancel", by="supervisor", reason="dup", reason_code="invalid", duplicate_of=original.id)
    db.session.rollback()
    done = world.act(problem, "cancel", by="supervisor", reason="dup", reason_code="duplicate",
                     duplicate_of=original.id)
    assert done.duplicate_of == original.id


# --- callbacks and reopening -----------------------------------------------------------------------

def closed_ticket(world):
    problem, _ = hotline(world)
    return world.walk(problem, ("assign", "supervisor", {"unit_id": world.units["squad"].id}),
                      ("accept", "handler", {}), ("submit", "handler", {"note": "cleared"}),
                      ("verify", "officer", {"note": "ok"}), ("close", "supervisor", {}))


def test_the_hotline_records_a_callback_and_it_stays_on_the_row_and_the_trail(world):
    problem = closed_ticket(world)
    later = NOW + timedelta(days=1)
    done = world.act(problem, "callback", by="hotline", at=later, satisfaction="satisfied", note="好")
    assert (done.state, done.callback_satisfaction, done.callback_at) == ("closed", "satisfied", later)


def test_an_officers_own_report_has_nobody_to_call_back(world):
    problem = world.to_state("closed")
    with pytest.raises(Conflict):
        world.act(problem, "callback", by="supervisor", satisfaction="satisfied")


def test_an_unknown_satisfaction_is_refused(world):
    problem = closed_ticket(world)
    with pytest.raises(Invalid):
        world.act(problem, "callback", by="supervisor", satisfaction="thrilled")


def test_an_unsatisfied_callback_lets_a_supervisor_reopen_counted_as_rework_with_fresh_clocks(world):
    problem = closed_ticket(world)
    problem = world.act(problem, "callback", by="hotline", at=NOW + timedelta(days=2), satisfaction="unsatisfied")
    at = NOW + timedelta(days=3)
    reopened = world.act(problem, "reopen", by="supervisor", at=at, reason="摊位又回来了")
    assert (reopened.state, reopened.rework_count, reopened.closed_at) == ("rectifying", 1, None)
    assert reopened.stage == "rectify" and reopened.stage_due_at == at + timedelta(minutes=600)
    assert reopened.due_at == at + timedelta(minutes=2880)
    assert reopened.callback_satisfaction is None  # the next closing wants a new callback


def test_a_satisfied_case_cannot_be_reopened(world):
    problem = world.act(closed_ticket(world), "callback", by="hotline", satisfaction="basically_satisfied")
    with pytest.raises(Conflict):
        world.act(problem, "reopen", by="supervisor", reason="why not")
    assert "reopen" not in actions.allowed_actions(problem, world.users["supervisor"], NOW)


def test_reopening_is_possible_for_30_days_after_closing_only(world):
    problem = world.act(closed_ticket(world), "callback", by="hotline", satisfaction="unsatisfied")
    closed_at = problem.closed_at
    with pytest.raises(Conflict):
        world.act(problem, "reopen", by="supervisor", at=closed_at + timedelta(days=30, seconds=1), reason="late")
    db.session.rollback()
    assert world.act(problem, "reopen", by="supervisor", at=closed_at + timedelta(days=30), reason="ok").state \
        == "rectifying"


def test_only_a_supervisor_reopens(world):
    problem = world.act(closed_ticket(world), "callback", by="hotline", satisfaction="unsatisfied")
    for role in ("hotline", "officer", "handler", "admin"):
        with pytest.raises(Forbidden):
            world.act(problem, "reopen", by=role, reason="x")
        db.session.rollback()


def test_reopen_is_the_only_way_back_from_closed(world):
    from workflow.problems.lifecycle import TRANSITIONS

    leaving_closed = {a.value for a, r in TRANSITIONS.items() if "closed" in r.frm and r.to not in (None, "closed")}
    assert leaving_closed == {"reopen"}
    problem = world.to_state("closed")
    with pytest.raises(InvalidTransition):
        world.act(problem, "send_back", by="supervisor", reason="x")
