"""The demo seeds a 五星支部 drive (five stars, each led by its own unit, a dozen shortfalls, some without a place)
and the 全城清洁 campaign with three activity days."""

from flask import current_app
from sqlalchemy import func, select

from models import CampaignActivity, Problem, ProblemList, User
from models.base import db
from tests.conftest import NOW
from workflow import audit, seed
from workflow.ledger import activities, campaign_report, lists


def test_the_demo_holds_the_drive_its_stars_and_the_cleaning_days(ctx):
    seed.seed_demo(now=NOW, timezone="Asia/Shanghai", storage=current_app.extensions["rectify_storage"])
    db.session.commit()
    boss = db.session.scalars(select(User).where(User.name == "王督办")).one()
    drive = db.session.scalars(select(ProblemList).where(ProblemList.name == "2026年度五星支部创建")).one()
    stars = lists.children_of(drive.id)
    assert [star.name for star in stars] == ["支部建设星", "党员管理星", "服务群众星", "平安法治星", "文明创建星"]
    assert len({star.lead_unit_id for star in stars}) == 4 and all(star.kind == "star" for star in stars)
    on_stars = db.session.scalars(select(Problem).where(lists.in_list([drive.id]))).all()
    assert len(on_stars) == 12
    assert sum(p.grid_id is None for p in on_stars) == 8  # 支部建设 / 制度建设 shortfalls name a unit
    assert {p.state for p in on_stars} == {"reported", "assigned", "rectifying", "closed"}
    whole = lists.progress(drive, NOW)
    assert whole["total"] == sum(lists.progress(star, NOW)["total"] for star in stars) == 14  # two on two stars
    cleaning = db.session.scalars(select(ProblemList).where(ProblemList.name == "全城清洁行动")).one()
    totals = activities.totals(actor=boss, list_id=cleaning.id)
    assert totals["totals"] == {"activities": 3, "participants": 123, "volunteers": 92, "reached": 410,
                                "materials": 700}
    assert db.session.scalar(select(func.count()).select_from(CampaignActivity)) == 3
    assert activities.photos_of([a.id for a in activities.activities_of(cleaning)]) != {}
    name, data = campaign_report.workbook(actor=boss, list_id=drive.id, now=NOW)
    assert name.endswith(".xlsx") and data[:2] == b"PK"
    assert audit.verify_chains().intact
