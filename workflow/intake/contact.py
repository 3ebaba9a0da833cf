"""The reporter's contact on an outside report: checked on the way in, masked on the way out.

Only supervisors and admins see it whole; everyone else (officers, handlers, the hotline account, Open311
clients) sees at most a masked form, and Open311 answers leave it out entirely.
"""

import re
import unicodedata

from models import User
from models.enums import Role
from workflow.errors import Invalid

SEES_CONTACT = frozenset({Role.SUPERVISOR, Role.ADMIN})
FIELDS = ("contact_name", "contact_phone", "contact_email")
PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{2,38}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
LIMITS = {"contact_name": 100, "contact_phone": 40, "contact_email": 254}


def clean_text(value: str | None, *, name: str, max_len: int, multiline: bool = False) -> str | None:
    """Trimmed text without control characters (line breaks allowed where `multiline`), at most `max_len`."""
    if value is None:
        return None
    if _has_controls(value, "\n\r\t" if multiline else ""):
        raise Invalid(f"{name} contains control characters", errors={name: ["control characters are not allowed"]})
    value = value.strip()
    if len(value) > max_len:
        raise Invalid(f"{name} is longer than {max_len} characters", errors={name: [f"at most {max_len} characters"]})
    return value or None


BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _has_controls(value: str, allowed: str) -> bool:
    """C0 and C1 controls (but `allowed`), lone surrogates, and bidirectional overrides."""
    return any((unicodedata.category(c) in ("Cc", "Cs") and c not in allowed) or c in BIDI_CONTROLS for c in value)


def check_contact(contact: dict) -> dict:
    """The contact fields given, cleaned; 422 for a phone or email that is not one."""
    cleaned = {name: clean_text(contact.get(name), name=name, max_len=LIMITS[name]) for name in FIELDS}
    if cleaned["contact_phone"] and not PHONE.match(cleaned["contact_phone"]):
        raise Invalid("not a phone number", errors={"contact_phone": ["digits, spaces, +, - and brackets"]})
    if cleaned["contact_email"] and not EMAIL.match(cleaned["contact_email"]):
        raise Invalid("not an email address", errors={"contact_email": ["not an email address"]})
    return cleaned


def contact_for(viewer: User, problem) -> dict | None:
    """The contact as `viewer` may see it: whole for supervisors and admins, masked for everyone else."""
    values = {name: getattr(problem, name) for name in FIELDS}
    if not any(values.values()):
        return None
    whole = viewer.role in SEES_CONTACT
    return {"name": values["contact_name"] if whole else mask_name(values["contact_name"]),
            "phone": values["contact_phone"] if whole else mask_phone(values["contact_phone"]),
            "email": values["contact_email"] if whole else mask_email(values["contact_email"]),
            "masked": not whole}


def mask_name(name: str | None) -> str | None:
    """张三丰 → 张**; Jane Doe → J*******."""
    return None if not name else name[0] + "*" * (len(name) - 1)


def mask_phone(phone: str | None) -> str | None:
    """13812345678 → *******5678: the last four digits at most."""
    if not phone:
        return None
    digits = [c for c in phone if c.isdigit()]
    return "*" * max(len(digits) - 4, 0) + "".join(digits[-4:]) if len(digits) > 4 else "*" * len(digits)


def mask_email(email: str | None) -> str | None:
    """jane@example.org → j***@***.org."""
    if not email:
        return None
    local, _, domain = email.partition("@")
    return f"{local[0]}***@***.{domain.rsplit('.', 1)[-1]}"
