"""Parties (经营主体): credit codes checked by their GB 32100 check character, contacts masked to those who may
not see them, edits compared and set on the version, every change on a hash-chained trail."""

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from models import PartyEvent
from models.base import db
from tests.conftest import NOW
from tests.gas import build_gas, passing, valid_code
from workflow import audit
from workflow.errors import Conflict, Forbidden, Invalid, NotFound, PreconditionRequired, Stale
from workflow.inspections import credit_code, parties


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000802100433B", "91310000775785552L",
                                  valid_code("N2371302MA3C12345")])
def test_published_and_letter_led_credit_codes_are_valid(code):
    assert credit_code.flaw(code) is None


@pytest.mark.parametrize(("code", "says"), [
    ("91350100M000100Y44", "check character"),  # one digit off at the end
    ("91350100M000100Y4", "18 characters"),
    ("91350100M0001O0Y43", "do not use 'O'"),  # the letter O for a zero
    ("91A50100M000100Y43", "administrative division"),
])
def test_a_wrong_credit_code_says_what_is_wrong(code, says):
    assert says in credit_code.flaw(code)


def test_every_single_character_typo_is_caught_by_the_check_character():
    code = "91350100M000100Y43"
    for place in range(17):
        for char in credit_code.ALPHABET:
            typo = code[:place] + char + code[place + 1:]
            if typo != code and typo[2:8].isdigit():
                assert credit_code.flaw(typo) is not None, typo


@pytest.fixture
def gas(world):
    return build_gas(world, count=2)


def test_a_party_needs_a_valid_credit_code_except_a_stall(world, gas):
    supervisor, market = world.users["east_supervisor"], world.points["market"].id
    with pytest.raises(Invalid) as wrong:
        parties.create_party(actor=supervisor, now=NOW, name="错码餐馆", kind="restaurant", point_id=market,
                             credit_code="91350100M000100Y44")
    assert list(wrong.value.errors) == ["credit_code"]
    with pytest.raises(Invalid):
        parties.create_party(actor=supervisor, now=NOW, name="无码餐馆", kind="restaurant", point_id=market)
    stall = parties.create_party(actor=supervisor, now=NOW, name="煎饼摊", kind="stall", point_id=market)
    assert stall.credit_code is None
    spaced = parties.create_party(actor=supervisor, now=NOW, name="小写", kind="shop", point_id=market,
                                  credit_code=" 91350100m000100y43 ")
    assert spaced.credit_code == "91350100M000100Y43"


def test_a_credit_code_belongs_to_one_party(world, gas):
    with pytest.raises(Conflict) as taken:
        parties.create_party(actor=world.users["east_supervisor"], now=NOW, name="重复", kind="shop",
                             point_id=world.points["market"].id, credit_code=gas.restaurants[0].credit_code)
    assert "credit_code" in taken.value.errors


def test_only_supervisors_of_the_area_and_admins_register_parties(world, gas):
    for who in ("officer", "handler", "west_supervisor"):
        with pytest.raises(Forbidden):
            parties.create_party(actor=world.users[who], now=NOW, name="某店", kind="stall",
                                 point_id=world.points["market"].id)
    assert parties.create_party(actor=world.users["admin"], now=NOW, name="某店", kind="stall",
                                point_id=world.points["market"].id).grid_id == world.grids["east"].id


def shown(world, who: str, party) -> dict:
    db.session.expire_all()
    return parties.contact(parties.get_party(actor=world.users[who], party_id=party.id))


def test_the_contact_is_masked_but_for_the_supervisors_and_the_officer_who_inspected(world, gas):
    party = gas.restaurants[0]
    assert shown(world, "east_supervisor", party)["contact_phone"] == "13800000001"
    assert shown(world, "supervisor", party)["contact_phone"] == "13800000001"
    for who in ("officer", "officer2", "admin"):
        assert shown(world, who, party) == {"contact_name": "王**", "contact_phone": "138****0001",
                                             "contact_masked": True}
    gas.inspect(party, passing(), by="officer2")
    assert shown(world, "officer2", party)["contact_phone"] == "13800000001"
    assert shown(world, "officer", party)["contact_masked"] is True


def test_an_unmarked_party_renders_masked():
    party = parties.Party(contact_name="李四", contact_phone="021-5555123")
    assert parties.contact(party) == {"contact_name": "李*", "contact_phone": "021****5123", "contact_masked": True}
    assert parties.mask_phone("5555123") == "*****23"


def test_who_sees_a_party(world, gas):
    party = gas.restaurants[0]
    for who in ("admin", "supervisor", "east_supervisor", "officer"):
        assert parties.get_party(actor=world.users[who], party_id=party.id).id == party.id
    for who in ("west_supervisor", "west_officer", "handler"):
        with pytest.raises(NotFound):
            parties.get_party(actor=world.users[who], party_id=party.id)


def test_an_edit_needs_the_current_version_and_the_trail_says_what_changed_never_the_contact(world, gas):
    party, supervisor = gas.restaurants[0], world.users["east_supervisor"]
    with pytest.raises(PreconditionRequired):
        parties.edit_party(actor=supervisor, now=NOW, party_id=party.id, expected_version=None, status="closed")
    parties.edit_party(actor=supervisor, now=NOW, party_id=party.id, expected_version=1,
                       contact_phone="13999999999", tags=["bottled_gas", "night_market"])
    db.session.commit()
    with pytest.raises(Stale):
        parties.edit_party(actor=supervisor, now=NOW, party_id=party.id, expected_version=1, status="closed")
    event = db.session.scalars(select(PartyEvent).where(PartyEvent.party_id == party.id)
                               .order_by(PartyEvent.seq.desc())).first()
    assert event.action == "edit" and event.fields == {"contact_phone": "changed",
                                                       "tags": ["bottled_gas", "night_market"]}
    assert party.version == 2 and party.tags == ["bottled_gas", "night_market"]


def test_a_party_trail_is_a_hash_chain_that_verify_checks(world, gas, runner):
    party = gas.restaurants[0]
    gas.inspect(party, passing(hose_type="rubber"))
    verdict = audit.verify_chains(party_id=party.id)
    assert verdict.intact and verdict.party_events == 4  # register, inspect, step_up, order
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and result.output.endswith("; 2 parties, 5 party events\n"), result.output
    party_id, other_id = party.id, gas.restaurants[1].id
    db.session.commit()
    with db.engine.begin() as conn:  # behind the application's back (PostgreSQL's trigger skipped)
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("UPDATE party_events SET note = '补记' WHERE party_id = :p AND seq = 2"), {"p": party_id})
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1
    assert broken.output == f"BROKEN: party {party_id} event seq 2: edited (its content does not match its hash)\n"
    assert runner.invoke(args=["audit", "verify", "--party", str(other_id)]).exit_code == 0
    assert runner.invoke(args=["audit", "verify", "--party", str(party_id)]).exit_code == 1


def test_party_events_are_append_only_on_postgresql(world, gas):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the trigger is PostgreSQL's")
    db.session.commit()
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM party_events"))
