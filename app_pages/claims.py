"""Claims: every claim in the ledger beside what the data says, grouped by the article that made it."""

import pandas as pd
import streamlit as st

from analytics import claims
from app_pages import _common

STATUS_ICON = {
    claims.SUPPORTED: ":material/check_circle:",
    claims.PARTLY: ":material/adjust:",
    claims.CONTRADICTED: ":material/cancel:",
    claims.OUTDATED: ":material/history:",
    claims.NOT_CHECKABLE: ":material/help:",
}

st.title("Claims vs data")
st.markdown("Each figure an article quotes, beside what the stored data says: the verdict, the figure it rests on and its "
            "date, today's figure, and the rule applied. The rules, in words: docs/claims.md in the project.")


@st.cache_data(ttl=600, show_spinner="Checking the claims against the stored data...")
def check_all(version) -> pd.DataFrame:
    """Every verdict; recomputed only when the database file changes (version) or after 10 minutes."""
    return claims.check_all(_common.connection())


verdicts = check_all(_common.data_version())

counts = verdicts["status"].value_counts()
cols = st.columns(len(STATUS_ICON))
for col, status in zip(cols, STATUS_ICON, strict=True):
    col.metric(status.capitalize(), int(counts.get(status, 0)))

status_filter = st.multiselect("Show", list(STATUS_ICON), default=list(STATUS_ICON), key="claims_status")
shown = verdicts[verdicts["status"].isin(status_filter)]
theme = _common.theme()


def _given(value) -> bool:
    return isinstance(value, str) and value.strip() != "" and value.strip() != "not given"


# One group per article: its title where the ledger gives one, else the source as the ledger names it.
articles = [t if _given(t) else s for t, s in zip(shown.get("article_title", shown["source"]), shown["source"], strict=True)]
for article, group in shown.assign(article=articles).groupby("article", sort=False):
    first = group.iloc[0]
    source = first["source"]
    st.subheader(article)
    url = first.get("article_url")
    st.caption(f"Claimed by: {source} · author: {first.get('article_author') if _given(first.get('article_author')) else 'not given'}"
               f" · date: {first.get('article_date') if _given(first.get('article_date')) else 'not given'}"
               f" · address: {f'[{url}]({url})' if _given(url) else 'not given'}")
    for row in group.to_dict("records"):
        with st.container(border=True):
            text, chart = st.columns([3, 2])
            text.markdown(f"{STATUS_ICON.get(row['status'], '')} **{row['status'].capitalize()}** · _{row['claim']}_")
            quoted = row.get("claimed") or "none (a claim in words)"
            text.caption(f"Quoted figure: {quoted} · claim id `{row['id']}`")
            if row.get("measured"):
                line = f"**Data:** {row['measured']}"
                if row.get("measured_at"):
                    line += f" (as of {row['measured_at']})"
                text.markdown(line)
            if row.get("today"):
                text.markdown(f"**Today:** {row['today']} (as of {row['today_at']})")
            if row.get("explanation") and row["status"] != claims.NOT_CHECKABLE:
                text.markdown(row["explanation"])
            if row.get("basis"):
                text.caption(f"Checked with: {row['basis']}")
            if row.get("page"):
                text.markdown(f"[See the evidence on its page]({row['page']})")
            figure = claims.evidence_figure(row, theme)
            if figure is not None:
                chart.plotly_chart(figure, key=f"claim_{row['id']}", config={"displayModeBar": False})
