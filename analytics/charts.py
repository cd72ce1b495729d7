"""The chart catalogue: every chart the app shows, built by one function used by pages AND export.

A chart builder takes a read connection and ChartOptions and returns a ChartResult: the
plotly figure, exactly the plotted data, and its provenance (sources, as-of date, transform).
Modules that define charts are listed in CHART_MODULES and register with @chart(...).
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from pulse import registry

CHART_MODULES: list[str] = ["analytics.github", "analytics.overview", "analytics.trends", "analytics.paperswithcode", "analytics.huggingface", "analytics.probe", "analytics.conferences", "analytics.adoption"]

EMPTY_ANNOTATION = "pulse-empty"
# Plotly templates per dashboard theme; the page background shows through (transparent paper)
# so a chart reads the same as the page around it, light or dark.
TEMPLATES = {"light": "plotly_white", "dark": "plotly_dark"}

VIEWS = {
    "absolute": "absolute",
    "share": "share of the chosen total",
    "indexed": "indexed to 100 at the range start",
    "aligned": "aligned by time since first data point",
    "monthly": "added per month",
}


@dataclass
class ChartOptions:
    frameworks: list[str] = field(default_factory=registry.default_ids)
    start: dt.date | None = None
    end: dt.date | None = None
    view: str = "absolute"
    log: bool = False
    theme: str = "light"
    extra: dict = field(default_factory=dict)

    def transform_label(self) -> str:
        parts = [VIEWS.get(self.view, self.view)]
        if self.log:
            parts.append("log scale")
        return ", ".join(parts)


@dataclass
class ChartResult:
    figure: go.Figure
    data: pd.DataFrame
    title: str
    sources: list[str]
    as_of: str
    transform: str = "absolute"
    notes: list[str] = field(default_factory=list)
    subtitle: str = ""  # what this build shows beyond the chart's name (device, variant, estimated peak...)

    def provenance_lines(self) -> list[str]:
        lines = [f"Source: {'; '.join(self.sources) or 'none'}", f"As of: {self.as_of}", f"Transform: {self.transform}"]
        return lines + self.notes

    @property
    def has_data(self) -> bool:
        """False when nothing is plotted: pages show an empty-state card and reports list it instead."""
        return not self.data.empty

    @property
    def empty_message(self) -> str:
        """Why nothing is plotted, as the builder said it (its empty figure's message)."""
        for annotation in self.figure.layout.annotations or ():
            if annotation.name == EMPTY_ANNOTATION:
                return annotation.text or ""
        return "No data for these options."


@dataclass(frozen=True)
class ChartSpec:
    name: str
    title: str
    page: str
    builder: Callable[[duckdb.DuckDBPyConnection, ChartOptions], ChartResult]


CHARTS: dict[str, ChartSpec] = {}


def chart(name: str, title: str, page: str):
    """Register a chart builder under a stable name (used in URLs and `pulse export`).

    The catalogue title is the chart's one name: on its page, in `pulse export --list`, in the
    report and on the figure itself, whatever title the builder drew.
    """

    def decorate(func):
        @functools.wraps(func)
        def build(con: duckdb.DuckDBPyConnection, options: ChartOptions) -> ChartResult:
            result = func(con, options)
            if result.title and not result.subtitle:
                result.subtitle = _detail(result.title, title)
            result.title = title
            # Title and subtitle at the top of the image, the legend between them and the plot.
            result.figure.update_layout(title={"text": title, "subtitle": {"text": result.subtitle}, "yref": "container",
                                               "y": 0.98, "yanchor": "top"})
            if result.subtitle and result.has_data:
                top = result.figure.layout.margin.t
                result.figure.update_layout(margin_t=max(top or 0, 120))
            return result

        CHARTS[name] = ChartSpec(name, title, page, build)
        return build

    return decorate


def _detail(built: str, name: str) -> str:
    """What a builder's own title adds to the chart's name ('' when nothing)."""
    if built.lower() in name.lower():
        return ""
    if built.lower().startswith(name.lower()):
        return built[len(name):].strip(" :,-()")
    return built


def catalog() -> dict[str, ChartSpec]:
    for module in CHART_MODULES:
        importlib.import_module(module)
    return CHARTS


def template(theme: str) -> str:
    return TEMPLATES["dark"] if theme == "dark" else TEMPLATES["light"]


def apply_template(fig: go.Figure, theme: str) -> go.Figure:
    """Set the theme's plotly template without re-validating it (22 ms -> 6 ms a figure).

    The templates are plotly's own, already valid objects; plotly sets its default template the
    same way (BaseFigure._initialize_layout_template).
    """
    layout = fig.layout
    layout._validate = False
    try:
        layout.template = pio.templates[template(theme)]
    finally:
        layout._validate = fig._validate
    return fig


def style(fig: go.Figure, title: str, options: ChartOptions, y_title: str = "") -> go.Figure:
    """Common layout: theme, title, legend, hover, log axis."""
    apply_template(fig, options.theme)
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        hovermode="closest",
        margin={"l": 60, "r": 20, "t": 80, "b": 50},
        yaxis_title=y_title,
    )
    if options.log:
        fig.update_yaxes(type="log")
        log_ticks(fig)
    return fig


def log_ticks(fig: go.Figure) -> go.Figure:
    """Label a log y axis with full values on a 1-2-5 grid ('200k', not plotly's bare '2')."""
    values = []
    for trace in fig.data:
        ys = getattr(trace, "y", None)
        if ys is None:
            continue
        values.extend(float(v) for v in ys if v is not None and not (isinstance(v, float) and math.isnan(v)) and float(v) > 0)
    if not values:
        return fig
    low, high = min(values), max(values)
    grid = [(step, step * 10.0 ** exponent)
            for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1) for step in (1, 2, 5)]
    ticks = [t for _, t in grid if low / 2 <= t <= high * 2]
    if len(ticks) > 12:  # many decades: powers of ten only
        ticks = [t for step, t in grid if step == 1 and low / 10 <= t <= high * 10]
    from analytics import formatting

    fig.update_yaxes(tickmode="array", tickvals=ticks, ticktext=[formatting.compact(t) for t in ticks])
    return fig


def color(framework: str) -> str:
    return registry.color_map().get(framework, "#999999")


def empty_figure(message: str, options: ChartOptions) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", name=EMPTY_ANNOTATION)
    apply_template(fig, options.theme)
    fig.update_layout(xaxis={"visible": False}, yaxis={"visible": False})
    return fig


def as_of(dates: pd.Series) -> str:
    if dates.empty:
        return "no data"
    return str(pd.to_datetime(dates).max().date())
