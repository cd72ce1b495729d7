"""GitHub: stars over time for the chosen frameworks, with views, range and log scale in the URL."""

import streamlit as st

from analytics import formatting, github
from analytics.charts import ChartOptions, catalog
from app_pages import _common
from pulse import registry

st.title("GitHub stars")
st.markdown("Stars are a popularity signal, not usage. Gaps are real: the snapshot only has a repository while it ranks.")
con = _common.connection()
frameworks = _common.framework_filter()
bounds = github.date_bounds(con)
if bounds is None:
    _common.empty_state("GitHub stars over time", "This page will chart each framework's GitHub stars over time, with forks, "
                        "open issues and watchers.", "Run `pulse db init` (the embedded snapshot) or `pulse ingest github`.",
                        ("github_",))
    st.stop()
start, end = _common.date_range_filter(*bounds)
view = _common.view_filter()
log = _common.log_filter()
options = ChartOptions(frameworks=frameworks, start=start, end=end, view=view, log=log, theme=_common.theme())
result = catalog()["github-stars"].builder(con, options)
_common.show_chart(result, key="github_stars", empty={"fill": "Choose other frameworks or a wider date range."})

st.subheader("Repositories now")
update = github.last_update(con)
if update:
    st.caption(github.describe_update(update))
cards = github.repo_cards(con, frameworks)
if cards.empty:
    _common.empty_state("Repositories now", "Current forks, open issues, watchers and exact daily star history per repository.",
                        "Run `pulse ingest github` (60 requests/hour without a token; set `GITHUB_TOKEN` for 5,000).")
for card in cards.to_dict("records"):
    name = registry.display_name(card["framework"])
    cols = st.columns(4)
    cols[0].metric(f"{name} stars", formatting.number(card["stargazers"]), help="stargazers_count, GitHub REST API")
    cols[1].metric(f"{name} forks", formatting.number(card["forks"]), help="forks_count, GitHub REST API")
    cols[2].metric(f"{name} open issues", formatting.number(card["open_issues"]), help="open_issues_count: issues plus pull requests")
    cols[3].metric(f"{name} watchers", formatting.number(card["watchers"]), help="subscribers_count (people watching the repository)")
    st.caption(github.describe_repo(card))

st.subheader("Where each star series comes from")
coverage = github.history_coverage(con, frameworks)
_common.show_table(coverage, {"name": "Framework", "source_label": "Source", "points": "Points", "first_date": "From",
                               "last_date": "To", "retrieved_at": "Retrieved (UTC)"}, key="github_coverage")
st.caption("The chart uses the best source per date: exact history, then the current count, then the sampled list, then the snapshot.")

st.subheader("Latest counts")
latest = github.latest_counts(con)
latest = latest[latest["framework"].isin(frameworks)]
_common.show_table(
    latest.assign(name=latest["framework"].map(registry.display_name), source=latest["source"].map(lambda s: github.SOURCE_LABELS.get(s, s))),
    {"name": "Framework", "value": "Stars", "date": "As of", "source": "Source", "subject": "Repository", "citation": "Citation"},
    key="github_latest",
)
