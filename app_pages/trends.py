"""Trends page: Google search interest over time and its share among the chosen frameworks."""

import hashlib

import streamlit as st

from analytics import trends
from analytics.charts import ChartOptions, catalog
from app_pages._common import (connection, data_version, date_range_filter, db_path, empty_state, framework_filter, log_filter,
                                show_chart, show_table, theme)
from ingest import trends_csv, trends_store
from pulse import config, registry
from pulse.errors import PulseError

st.title("Google Trends: search interest")
st.caption("How often each framework is searched on Google, relative to the others in the same request. "
           "Fetched with `pulse ingest trends`, or imported from a CSV downloaded from trends.google.com.")

if "trends_message" in st.session_state:
    st.success(st.session_state.pop("trends_message"))


@st.cache_data(ttl=600, show_spinner=False)
def stored_requests(_con, version):
    return trends.requests_frame(_con)


@st.cache_data(ttl=600, show_spinner=False, max_entries=32, hash_funcs={ChartOptions: repr})
def chart_result(_con, version, name, options):
    return catalog()[name].builder(_con, options)


con = connection()
requests = stored_requests(con, data_version())
frameworks = framework_filter()

if requests.empty:
    # The same comparison the CLI asks for (default frameworks, worldwide, 5 years), on the Trends website.
    terms = [registry.get(f).trends[0] for f in registry.default_ids() if registry.get(f).trends]
    empty_state("Google Trends: search interest", "This page will chart how often each framework is searched on Google, "
                "and its share of the searches, for one request (region and window).",
                "run `pulse ingest trends`; if Google refuses scripted requests, open the comparison on the Trends "
                "website, download *Interest over time* (CSV) and import it below.", ("trends_", "google_trends"),
                link=("Open the comparison on Google Trends", trends_store.explore_url(terms, "", "today 5-y")), key="trends_empty")
else:
    keys = requests["key"].tolist()
    shown = st.session_state.pop("trends_show", None)  # the request just imported: draw it, not the one shown before
    if shown in keys:
        st.query_params["trends_request"] = shown
        st.session_state["trends_request_pick"] = shown
    linked = st.query_params.get("trends_request")
    default = trends.pick_request(requests, frameworks, linked)["key"]
    if linked and linked not in keys:
        st.warning("The request named in the link is not stored; showing the closest one.")
    key = st.sidebar.selectbox("Trends request", keys, index=keys.index(default),
                               format_func=dict(zip(requests["key"], requests["label"], strict=True)).get, key="trends_request_pick")
    st.query_params["trends_request"] = key
    request = requests[requests["key"] == key].iloc[0]
    st.sidebar.caption(request["label"])  # the box cuts long request names; the full name under it
    start, end = date_range_filter(request["first_date"].date(), request["last_date"].date(), key="trends_range")
    extra = {"trends_request": key}
    others = list(request["others"])
    if others:
        names = dict(zip(others, trends.other_names(con, request, others), strict=True))
        if st.session_state.get("trends_terms_for") != key:  # another request: its own terms, not the last one's pick
            st.session_state.pop("trends_terms_pick", None)
            st.session_state["trends_terms_for"] = key
        linked_terms = st.query_params.get("trends_terms")
        # Terms carried over from another request (the link, or the request shown before): none of them here
        # would leave the charts empty, so this request's own terms are drawn instead.
        default_terms = [t for t in (linked_terms.split("|") if linked_terms else others) if t in others] or others
        extra["trends_terms"] = st.sidebar.multiselect("Other search terms in this request", others, default=default_terms,
                                                       format_func=names.get, key="trends_terms_pick")
        st.query_params["trends_terms"] = "|".join(extra["trends_terms"])
    options = ChartOptions(frameworks=frameworks, start=start, end=end, log=log_filter("trends_log"), theme=theme(),
                           extra=extra)
    st.info(f"**Relative values.** Request: {request['geo']}, timeframe '{request['timeframe']}', "
            f"{len(request['frameworks'])} frameworks"
            + (f" and {len(others)} other search terms" if others else "")
            + f", retrieved {request['as_of']} "
            f"({trends.SOURCE_LABELS.get(request['source'], request['source'])}). 100 = the highest point of any term in this "
            "request; numbers from different requests are on different scales and are never mixed here.")
    for name in ("trends-interest", "trends-share"):
        show_chart(chart_result(con, data_version(), name, options), key=name.replace("-", "_"), chart=name,
                   empty={"fill": "Choose frameworks that this request holds, or another stored request."})

if not requests.empty:
    with st.expander(f"Stored Google Trends requests ({len(requests)})"):
        show_table(requests.assign(frameworks=requests["frameworks"].map(lambda ids: ", ".join(registry.display_name(f) for f in ids))),
                   {"label": "Request", "first_date": "From", "last_date": "To", "points": "Points", "frameworks": "Frameworks",
                    "others": "Other search terms", "variant": "Variant"}, key="trends_requests")

with st.expander("Import a CSV downloaded from Google Trends", expanded=requests.empty):
    st.markdown("On trends.google.com (in any interface language), compare up to 5 framework names, then use the "
                "download button on the *Interest over time* chart. Terms and region are read from the file's header.")
    keep_unknown = st.checkbox("Keep terms that match no framework", key="trends_keep_unknown",
                               help="Store search terms such as 'deep learning' under their own name and draw them beside the "
                                    "frameworks (the command line's --keep-unknown).")
    geo = st.text_input("Region code, only for a file that names none", key="trends_geo", placeholder="e.g. US, BR or world",
                        help="An ISO 3166 code (the command line's --geo). Leave empty: the region is read from the file.")
    uploads = st.file_uploader("Trends CSV (multiTimeline.csv)", type=["csv"], accept_multiple_files=True, key="trends_upload")
    if uploads:
        files = [(u.name, u.getvalue()) for u in uploads]
        digest = hashlib.sha256(b"".join(hashlib.sha256(d).digest() for _, d in files)
                                + f"{keep_unknown}|{geo.strip()}".encode()).hexdigest()
        if st.session_state.get("trends_imported") != digest:
            try:
                parsed = [trends_csv.parse(name, data, keep_unknown=keep_unknown, geo=geo.strip() or None) for name, data in files]
                run = trends_csv.store_parsed(db_path(), parsed)
            except PulseError as exc:
                st.error(config.redact(str(exc)))
            else:
                st.session_state["trends_imported"] = digest
                described = "; ".join(
                    f"{f['file']}: {f['rows']} points for {', '.join(f['frameworks'] + [repr(t) for t in f['unknown']])} "
                    f"({f['geo_name']}, {f['geo']})" for f in run.detail["files"])
                st.session_state["trends_message"] = f"Imported {run.rows} Google Trends points. {described}"
                st.session_state["trends_show"] = f"{trends_csv.NAME}:{run.detail['files'][-1]['variant']}"
                st.rerun()
