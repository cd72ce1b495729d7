"""Pure star-history functions: week validation, assembly, cumulative series, page sampling."""

from __future__ import annotations

import datetime as dt

import pytest

from ingest.github_history import (
    HistoryRejected, assemble, cumulative_daily, parse_page, parse_starred_page, sample_pages, sampled_points,
)
from ingest.github_http import last_page
from tests.github_fake import synthetic_weeks

SUNDAY = int(dt.datetime(2025, 6, 1, tzinfo=dt.UTC).timestamp())  # 2025-06-01 is a Sunday
WEEK = 7 * 86400


def week(ts, days=(1, 0, 2, 0, 0, 0, 3), total=None):
    return {"week": ts, "days": list(days), "total": sum(days) if total is None else total}


@pytest.mark.parametrize("item, message", [
    (week(SUNDAY, (1, 2, 3, 4, 5, 6)), "6 days instead of 7"),
    (week(SUNDAY, total=7), "days sum to 6 but total says 7"),
    (week(SUNDAY + 3600), "does not start at midnight"),
    (week(SUNDAY, (1, 2, 3, 4, 5, 6, -1)), "not a non-negative integer"),
    ({"week": "2025-06-01", "days": [0] * 7, "total": 0}, "not a unix timestamp"),
    ([1, 2], "is not an object"),
])
def test_bad_weeks_are_rejected_with_the_page_and_week(item, message):
    with pytest.raises(HistoryRejected, match=message) as info:
        parse_page([item], 3)
    assert "page 3" in str(info.value)


def test_pages_must_be_newest_first_and_not_overlap():
    with pytest.raises(HistoryRejected, match="newest first"):
        parse_page([week(SUNDAY), week(SUNDAY + WEEK)], 1)
    p1 = parse_page([week(SUNDAY + WEEK), week(SUNDAY)], 1)
    p2 = parse_page([week(SUNDAY)], 2)
    with pytest.raises(HistoryRejected, match="overlaps page 1"):
        assemble({1: p1, 2: p2}, 2)
    with pytest.raises(HistoryRejected, match=r"pages \[2\] are missing"):
        assemble({1: p1}, 2)
    with pytest.raises(HistoryRejected, match="page 1 of 2 is empty"):
        assemble({1: [], 2: p2}, 2)
    assert [w.start for w in assemble({1: p1}, 1)] == [dt.date(2025, 6, 1), dt.date(2025, 6, 8)]


def test_cumulative_daily_runs_from_first_star_to_today_and_pins_the_last_point():
    weeks = parse_page([week(SUNDAY + WEEK, (0, 5, 0, 0, 0, 0, 0)), week(SUNDAY, (0, 0, 2, 0, 0, 0, 1))], 1)
    points, delta = cumulative_daily(list(reversed(weeks)), stargazers_count=10, today=dt.date(2025, 6, 12))
    assert points[0] == (dt.date(2025, 6, 3), 2)
    assert dict(points)[dt.date(2025, 6, 7)] == 3
    assert dict(points)[dt.date(2025, 6, 9)] == 8
    assert points[-1] == (dt.date(2025, 6, 12), 10)  # pinned: 8 counted, 10 reported
    assert delta == 2 and len(points) == 10


def test_future_days_of_the_current_week_are_dropped():
    weeks = parse_page(list(reversed(synthetic_weeks(dt.date(2025, 6, 1), dt.date(2025, 6, 14)))), 1)
    points, delta = cumulative_daily(list(reversed(weeks)), stargazers_count=999, today=dt.date(2025, 6, 10))
    assert points[-1] == (dt.date(2025, 6, 10), 999)
    assert max(d for d, _ in points) == dt.date(2025, 6, 10)


def test_sample_pages_evenly_spaced_including_first_and_last():
    assert sample_pages(10, 15) == list(range(1, 11))
    chosen = sample_pages(400, 15)
    assert chosen[0] == 1 and chosen[-1] == 400 and len(chosen) == 15
    gaps = {b - a for a, b in zip(chosen, chosen[1:])}
    assert max(gaps) - min(gaps) <= 1


def test_sampled_points_and_starred_at_validation():
    stamps = parse_starred_page([{"starred_at": "2020-01-01T10:00:00Z", "user": {}}, {"starred_at": "2020-01-03T10:00:00Z"}], 5)
    points = sampled_points({5: stamps}, per_page=100, stargazers_count=700, today=dt.date(2026, 1, 1))
    assert points == [(dt.date(2020, 1, 1), 401), (dt.date(2020, 1, 3), 402), (dt.date(2026, 1, 1), 700)]
    with pytest.raises(HistoryRejected, match="starred_at"):
        parse_starred_page([{"login": "x"}], 2)


def test_last_page_from_link_header():
    link = '<https://api.github.com/repositories/1/stargazers/history?per_page=30&page=2>; rel="next", ' \
           '<https://api.github.com/repositories/1/stargazers/history?per_page=30&page=17>; rel="last"'
    assert last_page(link) == 17
    assert last_page(None) is None and last_page('<https://x/?page=2>; rel="next"') is None


def test_history_is_checked_by_dates_not_by_page_size():
    full = parse_page([week(SUNDAY + (2 - i) * WEEK) for i in range(3)], 1)
    short = parse_page([week(SUNDAY - WEEK)], 2)  # a short page is fine when the dates run on
    last = parse_page([week(SUNDAY - 2 * WEEK), week(SUNDAY - 3 * WEEK)], 3)
    assert [w.start for w in assemble({1: full, 2: short, 3: last}, 3)] == \
        [dt.date(2025, 6, 1) + dt.timedelta(weeks=k) for k in range(-3, 3)]
    gap = parse_page([week(SUNDAY - 5 * WEEK)], 2)
    with pytest.raises(HistoryRejected, match="between pages 1 and 2: 4 week\\(s\\) missing between 2025-04-27 and 2025-06-01"):
        assemble({1: full, 2: gap}, 2)
    with pytest.raises(HistoryRejected, match="page 1: 1 week\\(s\\) missing"):
        parse_page([week(SUNDAY + 2 * WEEK), week(SUNDAY)], 1)
    with pytest.raises(HistoryRejected, match="not whole weeks apart"):
        parse_page([week(SUNDAY + 8 * 86400), week(SUNDAY)], 1)


@pytest.mark.parametrize("newest_offset_days, message", [
    (20, "recent weeks are missing"),
    (-9, "after today"),
])
def test_the_newest_week_must_be_the_current_one(newest_offset_days, message):
    weeks = parse_page([week(SUNDAY), week(SUNDAY - WEEK)], 1)
    with pytest.raises(HistoryRejected, match=message):
        assemble({1: weeks}, 1, today=dt.date(2025, 6, 1) + dt.timedelta(days=newest_offset_days))
    assert len(assemble({1: weeks}, 1, today=dt.date(2025, 6, 7))) == 2


def test_weeks_before_github_existed_are_rejected():
    with pytest.raises(HistoryRejected, match="predates GitHub"):
        parse_page([week(0)], 1)


def test_source_module_interface_for_the_runner():
    import importlib
    import inspect

    from ingest import SOURCES

    module = importlib.import_module(SOURCES["github"])
    assert module.NAME == "github" and module.DESCRIPTION and module.CADENCE == dt.timedelta(days=1)
    params = inspect.signature(module.run).parameters
    assert list(params)[0] == "db_path"
    assert all(p.default is not inspect.Parameter.empty for name, p in params.items() if name != "db_path")


def test_any_json_gives_weeks_or_a_rejection_never_a_crash():
    """Fuzz: whatever JSON a server sends as a history page, parsing either validates or refuses it."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers(min_value=-2 ** 70, max_value=2 ** 70) | st.floats() | st.text(max_size=5)
    json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=8) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                               max_leaves=30)
    weeks = st.fixed_dictionaries({
        "week": st.integers(min_value=-10, max_value=2 ** 40) | st.sampled_from([SUNDAY, SUNDAY - WEEK, SUNDAY + WEEK]) | json_values,
        "days": st.lists(st.integers(min_value=-2, max_value=10 ** 6), min_size=6, max_size=8) | json_values,
        "total": st.integers(min_value=-1, max_value=10 ** 7) | json_values,
    })
    pages = st.lists(weeks | json_values, max_size=6) | json_values

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(pages, pages)
    def check(page1, page2):
        try:
            parsed = {1: parse_page(page1, 1), 2: parse_page(page2, 2)}
            result = assemble(parsed, 2, today=dt.date(2025, 6, 10))
        except HistoryRejected as exc:
            assert str(exc).startswith("Star history")
            return
        assert all(b.start - a.start == dt.timedelta(days=7) for a, b in zip(result, result[1:]))
        assert all(len(w.days) == 7 and sum(w.days) == w.total and min(w.days) >= 0 for w in result)

    check()
