"""A party's trail: every event appended in order and sealed into the party's hash chain (workflow/audit.py)."""

from datetime import datetime

from models import Party, PartyEvent, User
from models.enums import PartyAction
from workflow import audit

KEEP = object()  # "the party's step as it is now"


def record(party: Party, actor: User | None, now: datetime, action: PartyAction, *, fields: dict | None = None,
           note: str | None = None, from_step=KEEP, to_step=KEEP) -> PartyEvent:
    """Append one event to the party's trail (`actor` None: the scheduler); steps default to the current one."""
    # The UPDATE takes the party's row lock: concurrent appends queue, and seal_event reads the predecessor
    # its previous holder committed (see audit.seal_event).
    seq = audit.next_seq(party, audit.PARTIES)
    event = PartyEvent(
        party_id=party.id, seq=seq, action=action.value, note=note, fields=fields or {}, at=now,
        from_step=party.ladder_step if from_step is KEEP else from_step,
        to_step=party.ladder_step if to_step is KEEP else to_step,
        actor_id=actor.id if actor else None, actor_name=actor.name if actor else None,
        actor_role=actor.role if actor else None)
    return audit.insert_sealed(event, audit.PARTIES)
