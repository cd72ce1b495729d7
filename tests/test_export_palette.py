"""The registry palette: colour-blind safe where it matters, distinct everywhere, used by every chart."""

from __future__ import annotations

import pytest

from analytics import charts, palette
from analytics.charts import ChartOptions
from pulse import db, registry


def test_ciede2000_matches_published_test_data():
    # Sharma, Wu & Dalal (2005), pairs 1 and 4.
    assert palette.ciede2000((50, 2.6772, -79.7751), (50, 0, -82.7485)) == pytest.approx(2.0425, abs=1e-4)
    assert palette.ciede2000((50, -1.3802, -84.2814), (50, 0, -82.7485)) == pytest.approx(1.0, abs=1e-4)


def test_simulation_confuses_red_and_green_for_deutans():
    # A check that cannot fail would prove nothing: classic red/green must collapse.
    assert palette.distance("#FF0000", "#00FF00") > 50
    assert palette.distance("#CC0000", "#6B8E23", "deuteranopia") < palette.MIN_DISTANCE


def test_default_frameworks_are_okabe_ito_and_cvd_safe():
    defaults = {f: registry.get(f).color for f in registry.default_ids()}
    okabe = {c.upper() for c in palette.OKABE_ITO.values()}
    assert {c.upper() for c in defaults.values()} <= okabe
    okabe_frameworks = {f: c for f, c in registry.color_map().items() if c.upper() in okabe}
    assert len(okabe_frameworks) >= len(defaults)
    assert palette.check(okabe_frameworks) == []


def test_every_registry_colour_is_distinct_in_normal_vision():
    colours = registry.color_map()
    assert len({c.upper() for c in colours.values()}) == len(colours)
    normal = [pair for pair in palette.check(colours) if pair[2] == "normal"]
    assert normal == []


def test_colours_stand_out_on_light_and_dark_backgrounds():
    for fid, colour in registry.color_map().items():
        for background in ("#FFFFFF", "#111111"):  # plotly_white / plotly_dark paper
            assert palette.distance(colour, background) > 20, (fid, background)


def test_catalogue_charts_use_registry_colours(snapshot_db):
    con = db.open_read(snapshot_db)
    try:
        names = {registry.display_name(f): f for f in registry.ids()}
        checked = 0
        for name, spec in charts.catalog().items():
            result = spec.builder(con, ChartOptions(frameworks=registry.ids()))
            for trace in result.figure.data:
                fid = names.get(trace.name)
                line = getattr(getattr(trace, "line", None), "color", None)
                if fid and line:
                    assert line.upper() == registry.get(fid).color.upper(), (name, trace.name)
                    checked += 1
        assert checked >= 4  # github-stars alone draws one line per framework with data
    finally:
        con.close()
