"""Labels for people of the codes this package speaks (Chinese first, English second)."""

LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "party_kind": {"restaurant": ("餐饮店", "Restaurant"), "shop": ("商铺", "Shop"), "stall": ("摊点", "Stall"),
                   "market_booth": ("市场摊位", "Market booth"), "other": ("其他", "Other")},
    "party_status": {"operating": ("在营", "Operating"), "closed": ("已关停", "Closed"),
                     "moved": ("已迁离", "Moved")},
    "outcome": {"pass": ("合格", "Pass"), "rectify": ("需整改", "Rectify")},
    "check": {"pass": ("合格", "Pass"), "fail": ("不合格", "Fail"), "na": ("不适用", "Not applicable")},
    "order_state": {"open": ("整改中", "Open"), "complied": ("复查合格", "Complied"),
                    "failed": ("复查不合格", "Failed")},
    "task_kind": {"reinspection": ("逾期复查", "Re-inspection"), "recheck": ("到期复检", "Expiry re-check")},
    "party_action": {"register": ("登记", "Register"), "edit": ("修改", "Edit"), "inspect": ("检查", "Inspect"),
                     "order": ("责令限期整改", "Order to rectify"), "step_up": ("升级", "Step up"),
                     "step_down": ("降级", "Step down"), "propose": ("建议升级", "Step proposed"),
                     "dismiss": ("驳回升级建议", "Proposal dismissed")},
}


def label(vocabulary: str, code: str | None, lang: str = "zh") -> str | None:
    """The label of `code` in a vocabulary, in Chinese unless `lang` is "en" (None for None)."""
    if code is None:
        return None
    zh, en = LABELS[vocabulary].get(code, (code, code))
    return en if lang == "en" else zh
