"""Papers page: framework share of paper implementations (Papers with Code archive)."""

import streamlit as st

from analytics import formatting
from analytics import paperswithcode as pwc
from analytics.charts import ChartOptions
from app_pages import _conferences
from app_pages._common import connection, data_version, empty_state, framework_filter, show_chart, show_table, theme

st.title("Papers: which framework do implementations use?")
st.caption(
    "Each paper implementation (a code link) on Papers with Code, by the framework Papers with Code detected, per quarter "
    "of the paper's publication date. Papers with Code shut down in July 2025; this is its last data, from the "
    "pwc-archive datasets on the Hugging Face Hub."
)

con = connection()
_conferences.show(con)
if not pwc.has_data(con):
    empty_state("Papers with Code: framework share of paper implementations",
                "This page will chart each framework's share of paper implementations per quarter, the share of "
                "papers with code, and the most-linked repositories, from the Papers with Code archive (ends 2025-07).",
                "run `pulse ingest paperswithcode` (about 300 MB once from the Hugging Face Hub; `--from DIR` for files "
                "already downloaded).", ("pwc_",), key="papers_empty")
    st.stop()

frameworks = framework_filter(key="frameworks", label="Frameworks shown (the rest are grouped as Other)")
requested = st.query_params.get("variant")
if requested and requested not in pwc.VARIANTS:
    st.warning(f"Unknown variant '{requested}' in the link; choose one of {', '.join(pwc.VARIANTS)}.")
names = list(pwc.VARIANTS)
variant = st.sidebar.radio("Share of", names, index=names.index(requested) if requested in pwc.VARIANTS else 0,
                           format_func=lambda v: pwc.VARIANTS[v].removeprefix("share of "), key="papers_variant")
st.query_params["variant"] = variant


@st.cache_data(ttl=3600, show_spinner=False)
def _latest(_con, version, variant):
    return pwc.latest_shares(_con, variant)


latest, shares = _latest(con, data_version(), variant)
if latest is not None and not shares.empty:
    cols = st.columns(min(4, len(shares)) + 1)
    for col, row in zip(cols, shares.head(len(cols) - 1).itertuples(index=False)):
        col.metric(pwc.label(row.framework), formatting.percent(row.value),
                   help=f"{formatting.number(row.count)} of {formatting.number(row.base)} implementations")
    pwc_share = pwc.pooled_papers_with_code(con, latest, latest)
    if pwc_share:
        cols[-1].metric("Papers with code", formatting.percent(pwc_share[0]),
                        help=f"{formatting.number(pwc_share[1])} of {formatting.number(pwc_share[2])} papers")
    st.caption(f"{pwc.VARIANTS[variant].capitalize()} in {pwc.quarter_label(latest)}, the last full quarter of the archive. "
               f"Source: {pwc.SOURCE_LABEL}; as of {pwc.quarter_label(latest)} (archive end {pwc.archive_end(con)}).")

options = ChartOptions(frameworks=frameworks, theme=theme(), extra={"variant": variant})
show_chart(pwc.implementation_share_chart(con, options), key="papers_share", chart="pwc-implementation-share")
show_chart(pwc.papers_with_code_chart(con, ChartOptions(theme=theme())), key="papers_with_code", chart="pwc-papers-with-code")

st.subheader("Top repositories in a quarter")
quarters = pwc.quarters(con)
labels = [pwc.quarter_label(q) for q in quarters]
wanted = st.query_params.get("quarter")
if wanted and wanted not in labels:
    st.warning(f"No data for quarter '{wanted}' in the link; showing {labels[0]}.")
left, right = st.columns([1, 1])
default = labels.index(pwc.quarter_label(latest)) if latest is not None and pwc.quarter_label(latest) in labels else 0
chosen = left.selectbox("Quarter", labels, index=labels.index(wanted) if wanted in labels else default, key="papers_quarter")
official_only = right.toggle("Official implementations only", key="papers_official")
st.query_params["quarter"] = chosen
repos = pwc.top_repos(con, quarters[labels.index(chosen)], frameworks, limit=10, official_only=official_only)
if repos.empty:
    st.caption(f"No implementations of the chosen frameworks in {chosen}.")
for framework, group in repos.groupby("framework", sort=False):
    st.markdown(f"**{pwc.label(framework)}**: repositories linked to the most {chosen} papers")
    show_table(group.drop(columns="framework"), key=f"papers_top_{framework}")
st.caption(f"Source: {pwc.SOURCE_LABEL}, raw table pwc_links; as of archive end {pwc.archive_end(con)}. "
           "A repository counts once per paper it implements.")
