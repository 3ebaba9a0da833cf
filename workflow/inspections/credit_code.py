"""The unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters, the last a check character.

Characters 1-2 name the registering authority and the kind of body (digits or letters: 91 a company, 92 an
individual business, N2 a rural collective), 3-8 the administrative division (digits), 9-17 the body's code,
18 the check character: with the alphabet below (31 characters, no I, O, S, V, Z) and the weights 3^i mod 31,
the check value is 31 - (Σ value × weight mod 31), 31 written as 0.
"""

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
LENGTH = 18


def normalize(code: str) -> str:
    """Upper case without spaces, as printed on a business licence."""
    return "".join(code.split()).upper()


def check_character(body: str) -> str:
    """The check character for the first 17 characters."""
    total = sum(ALPHABET.index(char) * weight for char, weight in zip(body, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def flaw(code: str) -> str | None:
    """Why a normalized code is not a valid credit code, or None when it is."""
    if len(code) != LENGTH:
        return f"a credit code has {LENGTH} characters, this one {len(code)}"
    strange = sorted({char for char in code if char not in ALPHABET})
    if strange:
        return f"credit codes do not use {''.join(strange)!r} (no I, O, S, V, Z)"
    if not code[2:8].isdigit():
        return "characters 3-8 (the administrative division) must be digits"
    if code[-1] != check_character(code[:-1]):
        return "the check character (the 18th) does not match: a character was mistyped"
    return None
