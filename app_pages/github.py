"""GitHub: stars over time for the chosen frameworks, with views, range and log scale in the URL."""

import streamlit as st

from analytics import github
from analytics.charts import ChartOptions, catalog
from app_pages import _common
from pulse import registry

st.title("GitHub stars")
st.markdown("Stars are a popularity signal, not usage. Gaps are real: the snapshot only has a repository while it ranks.")
con = _common.connection()
frameworks = _common.framework_filter()
bounds = github.date_bounds(con)
if bounds is None:
    st.info("No GitHub data yet. Run `pulse db init` or `pulse ingest github`.")
    st.stop()
start, end = _common.date_range_filter(*bounds)
view = _common.view_filter()
log = _common.log_filter()
options = ChartOptions(frameworks=frameworks, start=start, end=end, view=view, log=log, theme=_common.theme())
result = catalog()["github-stars"].builder(con, options)
_common.show_chart(result, key="github_stars")

st.subheader("Repositories now")
update = github.last_update(con)
if update:
    st.caption(github.describe_update(update))
cards = github.repo_cards(con, frameworks)
if cards.empty:
    st.info("No live GitHub counts yet: run `pulse ingest github` for forks, open issues, watchers and exact star history.")
for card in cards.to_dict("records"):
    name = registry.display_name(card["framework"])
    cols = st.columns(4)
    cols[0].metric(f"{name} stars", f"{card['stargazers']:,}", help="stargazers_count, GitHub REST API")
    cols[1].metric(f"{name} forks", f"{card['forks']:,}", help="forks_count, GitHub REST API")
    cols[2].metric(f"{name} open issues", f"{card['open_issues']:,}", help="open_issues_count: issues plus pull requests")
    cols[3].metric(f"{name} watchers", f"{card['watchers']:,}", help="subscribers_count (people watching the repository)")
    st.caption(github.describe_repo(card))

st.subheader("Where each star series comes from")
coverage = github.history_coverage(con, frameworks)
st.dataframe(
    coverage[["name", "source_label", "points", "first_date", "last_date", "retrieved_at"]] if not coverage.empty else coverage,
    hide_index=True, width="stretch", key="github_coverage",
    column_config={"name": "Framework", "source_label": "Source", "points": "Points", "first_date": "From", "last_date": "To", "retrieved_at": "Retrieved (UTC)"},
)
st.caption("The chart uses the best source per date: exact history, then the current count, then the sampled list, then the snapshot.")

st.subheader("Latest counts")
latest = github.latest_counts(con)
latest = latest[latest["framework"].isin(frameworks)]
st.dataframe(
    latest.assign(date=latest["date"].dt.date)[["framework", "value", "date", "source", "subject", "citation"]],
    hide_index=True, width="stretch",
    column_config={"value": st.column_config.NumberColumn("Stars", format="%,d"), "date": "As of", "subject": "Repository",
                   "citation": st.column_config.LinkColumn("Citation")},
    key="github_latest",
)
