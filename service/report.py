"""`aza-cds report`: override analytics per rule, from the audit trail and the feedback linked to its cards."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select

from service.errors import ToolError
from service.store.models import audit, audit_cards, feedback

SINCE = re.compile(r"^(\d+)([hdw])$")


class ReportError(ToolError, ValueError):
    pass


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """'30d', '12h' or '6w' before now."""
    match = SINCE.match(text.strip())
    if not match:
        raise ReportError(f"--since takes a number and h, d or w (like 30d), not {text!r}")
    amount, unit = int(match.group(1)), match.group(2)
    hours = {"h": 1, "d": 24, "w": 168}[unit] * amount
    return (now or datetime.now(UTC)) - timedelta(hours=hours)


def override_report(engine: Engine, since: datetime) -> list[dict]:
    """Per rule: cards shown, cards accepted, cards overridden, override rate (overridden / shown), top reasons."""
    recent = audit_cards.join(audit, audit.c.id == audit_cards.c.audit_id)
    with engine.connect() as connection:
        shown: dict[str, int] = dict(connection.execute(
            select(audit_cards.c.rule_id, func.count()).select_from(recent).where(audit.c.at >= since)
            .group_by(audit_cards.c.rule_id)
        ).all())  # fmt: skip
        with_feedback = recent.join(feedback, feedback.c.card_uuid == audit_cards.c.card_uuid)
        outcomes = connection.execute(
            select(audit_cards.c.rule_id, feedback.c.outcome, func.count(func.distinct(feedback.c.card_uuid)))
            .select_from(with_feedback).where(audit.c.at >= since)
            .group_by(audit_cards.c.rule_id, feedback.c.outcome)
        ).all()  # fmt: skip
        reason = func.coalesce(feedback.c.override_display, feedback.c.override_code)
        reasons = connection.execute(
            select(audit_cards.c.rule_id, reason, func.count()).select_from(with_feedback)
            .where(audit.c.at >= since, feedback.c.outcome == "overridden", feedback.c.override_code.is_not(None))
            .group_by(audit_cards.c.rule_id, reason).order_by(func.count().desc())
        ).all()  # fmt: skip
    counts = {rule: {"shown": count, "accepted": 0, "overridden": 0} for rule, count in shown.items()}
    for rule, outcome, count in outcomes:
        counts[rule][outcome] = count
    top: dict[str, list[dict]] = {rule: [] for rule in shown}
    for rule, text, count in reasons:
        if len(top[rule]) < 3:
            top[rule].append({"reason": text, "count": count})
    rows = [
        {"rule": rule, **tally, "top_reasons": top[rule],
         "override_rate": round(tally["overridden"] / tally["shown"], 3) if tally["shown"] else 0.0}
        for rule, tally in counts.items()
    ]  # fmt: skip
    return sorted(rows, key=lambda row: (-row["override_rate"], row["rule"]))


def as_table(rows: list[dict]) -> str:
    lines = [f"{'rule':10} {'shown':>6} {'accepted':>8} {'overridden':>10} {'override rate':>13}  top override reasons"]
    for row in rows:
        reasons = "; ".join(f"{r['reason']} ({r['count']})" for r in row["top_reasons"])
        lines.append(
            f"{row['rule']:10} {row['shown']:6} {row['accepted']:8} {row['overridden']:10} "
            f"{row['override_rate']:13.0%}  {reasons}"
        )
    return "\n".join(lines)


def plot(rows: list[dict], path: Path, since: datetime) -> None:
    """A horizontal bar chart of override rates, noisiest rule on top, labelled with the counts behind each bar."""
    try:
        import matplotlib
    except ImportError:
        raise ReportError("--plot needs matplotlib: install aza-cds[plot] (pip install 'aza-cds[plot]')") from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = list(reversed(rows))
    height = max(2.5, 0.45 * len(ordered) + 1.5)
    figure, axes = plt.subplots(figsize=(8, height))
    bars = axes.barh([row["rule"] for row in ordered], [row["override_rate"] * 100 for row in ordered], color="#c0504d")
    for bar, row in zip(bars, ordered, strict=True):
        axes.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2,
                  f"{row['overridden']} of {row['shown']}", va="center", fontsize=9)  # fmt: skip
    axes.set_xlim(0, 110)
    axes.set_xlabel("cards overridden (% of cards shown)")
    axes.set_title(f"aza-cds override rates by rule since {since.date()}")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
