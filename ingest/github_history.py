"""Pure functions for GitHub star histories: validate weeks, build cumulative series, sample pages.

The exact history (`/stargazers/history`, SOURCES.md) is a newest-first list of weeks
`{"week": <unix start, UTC>, "days": [7 ints], "total": sum}` over pages. It is validated by
its dates, not by an assumed page size: consecutive weeks exactly 7 days apart across every
page (no gap, no overlap), the newest one the current week, none before GitHub existed, and
each week's total equal to the sum of its days (so the running total never decreases). Any
defect anywhere means the history is rejected whole: a partial history must never look complete.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pulse.errors import SourceError

DAY = 86_400
WEEK = 7 * DAY
EARLIEST = dt.date(2007, 10, 1)  # GitHub opened in 2008; a week before this is not a real one


class HistoryRejected(SourceError):
    """A history page or the assembled history failed validation."""


@dataclass(frozen=True)
class Week:
    start: dt.date
    days: tuple[int, ...]
    total: int


def parse_week(item: object, page: int, index: int) -> Week:
    where = f"page {page}, item {index + 1}"
    if not isinstance(item, dict):
        raise HistoryRejected(f"Star history {where} is not an object.")
    week, days, total = item.get("week"), item.get("days"), item.get("total")
    if not isinstance(week, int) or isinstance(week, bool) or not 0 <= week < 253_402_300_800:  # < year 10000
        raise HistoryRejected(f"Star history {where}: 'week' is not a unix timestamp ({repr(week)[:40]}).")
    start = dt.datetime.fromtimestamp(week, dt.UTC)
    where = f"page {page}, week of {start:%Y-%m-%d}"
    if week % DAY:
        raise HistoryRejected(f"Star history {where}: the week does not start at midnight UTC.")
    if start.date() < EARLIEST:
        raise HistoryRejected(f"Star history {where}: the week predates GitHub.")
    if not isinstance(days, list) or len(days) != 7:
        count = len(days) if isinstance(days, list) else "no"
        raise HistoryRejected(f"Star history {where}: {count} days instead of 7.")
    if any(not isinstance(d, int) or isinstance(d, bool) or d < 0 for d in days):
        raise HistoryRejected(f"Star history {where}: a day count is not a non-negative integer.")
    if not isinstance(total, int) or isinstance(total, bool) or sum(days) != total:
        raise HistoryRejected(f"Star history {where}: days sum to {sum(days)} but total says {repr(total)[:40]}.")
    return Week(start.date(), tuple(days), total)


def parse_page(data: object, page: int) -> list[Week]:
    """Validate one page (newest first); raise HistoryRejected naming the page and week."""
    if not isinstance(data, list):
        raise HistoryRejected(f"Star history page {page} is not a JSON array.")
    weeks = [parse_week(item, page, i) for i, item in enumerate(data)]
    for newer, older in zip(weeks, weeks[1:]):
        if older.start >= newer.start:
            raise HistoryRejected(f"Star history page {page}: weeks are not newest first ({newer.start} then {older.start}).")
        _check_consecutive(newer, older, f"page {page}")
    return weeks


def _check_consecutive(newer: Week, older: Week, where: str) -> None:
    gap = (newer.start - older.start).days
    if gap == 7:
        return
    if gap % 7:
        raise HistoryRejected(f"Star history {where}: weeks of {older.start} and {newer.start} are not whole weeks apart.")
    raise HistoryRejected(f"Star history {where}: {gap // 7 - 1} week(s) missing between {older.start} and {newer.start}.")


def assemble(pages: dict[int, list[Week]], last: int, today: dt.date | None = None) -> list[Week]:
    """All pages 1..last joined, oldest first; raise HistoryRejected on any gap, overlap or missing page.

    Checked by dates alone (pages may hold any number of weeks): consecutive weeks 7 days apart
    across page boundaries, and with `today`, the newest week is the current one.
    """
    missing = [p for p in range(1, last + 1) if p not in pages]
    if missing:
        raise HistoryRejected(f"Star history pages {missing} are missing of {last}.")
    weeks: list[Week] = []
    for page in range(1, last + 1):
        if not pages[page] and page != last:
            raise HistoryRejected(f"Star history page {page} of {last} is empty.")
        if weeks and pages[page]:
            if pages[page][0].start >= weeks[-1].start:
                raise HistoryRejected(
                    f"Star history page {page} overlaps page {page - 1} (the history moved while it was read); run again."
                )
            _check_consecutive(weeks[-1], pages[page][0], f"between pages {page - 1} and {page}")
        weeks.extend(pages[page])
    if weeks and today is not None:
        newest = weeks[0].start
        if newest > today + dt.timedelta(days=1):
            raise HistoryRejected(f"Star history's newest week starts {newest}, after today ({today}).")
        if newest <= today - dt.timedelta(days=14):
            raise HistoryRejected(f"Star history ends with the week of {newest}, but today is {today}: recent weeks are missing.")
    weeks.reverse()
    return weeks


def cumulative_daily(weeks: list[Week], stargazers_count: int, today: dt.date) -> tuple[list[tuple[dt.date, int]], int]:
    """Daily cumulative stars from the first starred day to today; last point = stargazers_count.

    Weeks the API leaves out count as zero. Returns (points, delta) where delta is
    stargazers_count minus the history's own sum (stars not attributed to a day).
    """
    by_day: dict[dt.date, int] = {}
    for week in weeks:
        for offset, count in enumerate(week.days):
            day = week.start + dt.timedelta(days=offset)
            if day <= today:
                by_day[day] = by_day.get(day, 0) + count
    total = sum(by_day.values())
    delta = stargazers_count - total
    starred = [d for d, n in by_day.items() if n]
    if not starred:
        return [(today, stargazers_count)], delta
    points, running, day = [], 0, min(starred)
    while day <= today:
        running += by_day.get(day, 0)
        points.append((day, running))
        day += dt.timedelta(days=1)
    points[-1] = (today, stargazers_count)
    return points, delta


# --- The sampled fallback (stargazer list with starred_at) -----------------------------------

def sample_pages(last: int, budget: int) -> list[int]:
    """Evenly spaced page numbers 1..last (all of them when last <= budget), like star-history.com."""
    if last <= budget:
        return list(range(1, last + 1))
    step = (last - 1) / (budget - 1)
    return sorted({1 + round(i * step) for i in range(budget)})


def parse_starred_page(data: object, page: int) -> list[dt.datetime]:
    if not isinstance(data, list):
        raise HistoryRejected(f"Stargazer list page {page} is not a JSON array.")
    stamps = []
    for i, item in enumerate(data):
        text = item.get("starred_at") if isinstance(item, dict) else None
        try:
            stamps.append(dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")))
        except ValueError:
            raise HistoryRejected(
                f"Stargazer list page {page}, item {i + 1} has no starred_at (was it asked with Accept: application/vnd.github.star+json?)."
            ) from None
    return stamps


def sampled_points(pages: dict[int, list[dt.datetime]], per_page: int, stargazers_count: int, today: dt.date) -> list[tuple[dt.date, int]]:
    """(date, stars so far) at the first star of each sampled page, then today = stargazers_count."""
    by_day: dict[dt.date, int] = {}
    for page, stamps in pages.items():
        if stamps:
            day = stamps[0].astimezone(dt.UTC).date()
            by_day[day] = max(by_day.get(day, 0), (page - 1) * per_page + 1)
            day = stamps[-1].astimezone(dt.UTC).date()
            by_day[day] = max(by_day.get(day, 0), (page - 1) * per_page + len(stamps))
    by_day = {d: n for d, n in by_day.items() if d < today}
    by_day[today] = stargazers_count
    return sorted(by_day.items())
