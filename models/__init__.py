"""Every model, re-exported so `from models import Problem` works and Alembic sees all tables."""

from models.activity import CampaignActivity
from models.admin import AdminEvent, AdminTrail
from models.base import Base, UTCDateTime, db, utcnow
from models.calendar import CalendarDay, CalendarVersion, WorkPeriod
from models.category import Category
from models.escalation import EscalationFiring, EscalationRule, Notification, Webhook, WebhookDelivery
from models.inspection import (
    CampaignScope,
    Inspection,
    InspectionFinding,
    InspectionPhoto,
    InspectionTask,
    InspectionTemplate,
    ItemExpiry,
    Reinspection,
)
from models.intake import Open311Key
from models.lists import ProblemList, problem_list_items
from models.order import OrderCounter, RectificationOrder
from models.org import ApiToken, Grid, Point, Unit, User, user_grids
from models.party import LadderStep, Party, PartyEvent, PartyTag
from models.patrol import ChecklistOutcome, PatrolCheckin, PatrolPlan, PatrolRound
from models.problem import Attachment, CodeCounter, OpenProblemCount, Problem, ProblemEvent, StageSpan
from models.report import UnitReport
from models.support import IdempotencyRecord, JobRun, OutboxMessage, SchedulerLease

__all__ = [
    "ApiToken", "Attachment", "Base", "CalendarDay", "CalendarVersion", "Category", "CodeCounter", "Grid",
    "IdempotencyRecord", "OpenProblemCount",
    "ChecklistOutcome", "JobRun", "OutboxMessage", "PatrolCheckin", "PatrolPlan", "PatrolRound", "Point", "Problem",
    "ProblemEvent", "SchedulerLease", "StageSpan", "Unit", "EscalationFiring", "EscalationRule", "Notification",
    "Webhook",
    "WebhookDelivery", "ProblemList", "problem_list_items", "UnitReport",
    "UTCDateTime", "User", "Open311Key", "WorkPeriod", "db", "user_grids", "utcnow",
    # the gas-safety ledger: parties, inspections, orders to rectify, the enforcement ladder
    "CampaignScope", "Inspection", "InspectionFinding", "InspectionPhoto", "InspectionTask", "InspectionTemplate",
    "ItemExpiry", "LadderStep", "OrderCounter", "Party", "PartyEvent", "PartyTag", "RectificationOrder",
    "Reinspection",
    # campaigns: activity days
    "CampaignActivity",
    # the admin trail
    "AdminEvent", "AdminTrail",
]
