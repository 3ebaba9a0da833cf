"""The console's words, Chinese first; codes (states, actions, roles, lights) use the API's labels."""

from flask import request, session

from console.admin_text import ADMIN_WORDS
from models.enums import label

WORDS: dict[str, tuple[str, str]] = {
    "app": ("整改台账", "Rectify"),
    "dashboard": ("工作台", "Dashboard"),
    "problems": ("问题台账", "Problem ledger"),
    "dispatch": ("派遣", "Dispatch"),
    "patrols": ("巡查", "Patrols"),
    "statistics": ("统计", "Statistics"),
    "map": ("地图", "Map"),
    "login": ("登录名", "Login"),
    "password": ("密码", "Password"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "bad_login": ("登录名或密码错误。", "Wrong login or password."),
    "throttled": ("失败次数过多，请稍后再试。", "Too many failed attempts; try again later."),
    "idle": ("长时间未操作，已自动退出，请重新登录。", "You were signed out after a while idle; sign in again."),
    "signed_out": ("已退出。", "Signed out."),
    "csrf": ("表单已失效，请刷新页面后重试。", "The form expired; reload the page and try again."),
    "change_password": ("修改密码", "Change password"),
    "must_change": ("管理员设置的临时密码须先修改。", "Choose your own password before you go on."),
    "current_password": ("当前密码", "Current password"),
    "new_password": ("新密码（至少 10 位）", "New password (at least 10 characters)"),
    "confirm": ("再次输入新密码", "New password again"),
    "mismatch": ("两次输入的新密码不一致。", "The two new passwords differ."),
    "password_changed": ("密码已修改。", "Password changed."),
    "save": ("保存", "Save"),
    "open": ("在办", "Open"),
    "by_light": ("按亮灯", "By light"),
    "by_state": ("按状态", "By state"),
    "no_light": ("无时限", "No clock"),
    "waiting": ("待我处理", "Waiting for me"),
    "nothing_waiting": ("没有待处理的问题。", "Nothing waits for you."),
    "rounds_today": ("今日巡查", "Today's rounds"),
    "no_rounds": ("今日没有巡查。", "No rounds today."),
    "code": ("编号", "Code"),
    "title": ("问题", "Problem"),
    "category": ("类别", "Category"),
    "state": ("状态", "State"),
    "light": ("亮灯", "Light"),
    "severity": ("程度", "Severity"),
    "reported_at": ("上报时间", "Reported"),
    "due": ("阶段时限", "Stage due"),
    "due_whole": ("办结时限", "Case due"),
    "unit": ("责任单位", "Responsible unit"),
    "handler": ("处置人员", "Handler"),
    "address": ("地址", "Address"),
    "description": ("描述", "Description"),
    "search": ("查询", "Search"),
    "keyword": ("关键词", "Keyword"),
    "any": ("全部", "Any"),
    "overdue_only": ("只看超期", "Overdue only"),
    "next_page": ("下一页", "Next page"),
    "export": ("导出", "Export"),
    "trail": ("处理记录", "Trail"),
    "photos": ("照片", "Photos"),
    "no_photos": ("没有照片。", "No photos."),
    "actions": ("操作", "Actions"),
    "no_actions": ("您现在不能对此问题操作。", "You cannot act on this problem now."),
    "stale": ("其他人已先操作，请查看最新情况后再提交。",
              "Someone acted first: look at the problem as it is now, then try again."),
    "done": ("已完成：", "Done: "),
    "note": ("说明", "Note"),
    "reason": ("理由", "Reason"),
    "text": ("内容", "Text"),
    "until": ("延期至", "Until"),
    "duplicate_of": ("重复问题编号（ID）", "Duplicate of (id)"),
    "unit_id": ("责任单位", "Responsible unit"),
    "handler_id": ("处置人员（可选）", "Handler (optional)"),
    "none": ("不指定", "None"),
    "location": ("位置", "Location"),
    "no_location": ("没有坐标。", "No coordinates."),
    "flags": ("照片提示", "Photo flags"),
    "taken_at": ("拍摄时间", "Taken"),
    "nothing_to_dispatch": ("没有待派遣的问题。", "Nothing waits for dispatch."),
    "plans": ("巡查计划", "Patrol plans"),
    "rounds_week": ("本周巡查", "Rounds this week"),
    "window": ("时段", "Window"),
    "officers": ("巡查员", "Officers"),
    "visited": ("已到点位", "Points visited"),
    "paused": ("已暂停", "Paused"),
    "coverage": ("覆盖情况", "Coverage"),
    "summary": ("问题汇总（本月）", "Problems this month"),
    "evaluation": ("综合评价（本月）", "Evaluation this month"),
    "unit_reports": ("单位日报、周报", "Unit reports"),
    "download": ("下载", "Download"),
    "n_reported": ("上报数", "Reported"),
    "n_closed": ("办结数", "Closed"),
    "n_overdue": ("超期数", "Overdue"),
    "score": ("得分", "Score"),
    "rank": ("排名", "Rank"),
    "points": ("点位", "Points"),
    "hot_points": ("问题多发点位", "Hot points"),
    "problems_count": ("问题数", "Problems"),
    "forbidden": ("您没有权限查看此页面。", "You may not open this page."),
    "not_found": ("没有找到，或您无权查看。", "Not found, or not yours to see."),
    "error": ("出错了", "Something went wrong"),
    "back": ("返回", "Back"),
    "language": ("English", "中文"),
    "skip": ("跳到正文", "Skip to content"),
} | ADMIN_WORDS


def lang() -> str:
    """The session's choice, else the browser's Accept-Language; Chinese first."""
    chosen = session.get("lang")
    if chosen in ("zh", "en"):
        return chosen
    return "en" if request.accept_languages.best_match(["zh", "en"], default="zh") == "en" else "zh"


def t(key: str) -> str:
    """A console word in the page's language; a domain code (state, action, role…) by the API's label."""
    if key in WORDS:
        zh, en = WORDS[key]
        return en if lang() == "en" else zh
    return label(key, lang())
