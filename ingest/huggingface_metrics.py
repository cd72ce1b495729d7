"""Hub metrics from per-model rows, shared by the API path (table hf_models) and the bulk path.

One DuckDB scan groups the models into a small table (creation month x set of registry tags
[x library_name]); every metric is then plain pandas over that table. Definitions are in
docs/sources/huggingface.md:

- hf_models: models carrying any of a framework's Hub tags, cumulative by creation month.
- hf_models_new: the same models counted per creation month.
- hf_model_share: a framework's share of the models that carry any framework tag.
- hf_tf_keras_models_also_pytorch: share of models tagged tf or keras that also carry pytorch.
- hf_models, framework pytorch, variant `pytorch-loadable`: models that are PyTorch-loadable
  (LOADABLE below) whatever their weight tags; variant `pytorch-tag-or-loadable`: models that
  carry `pytorch` or are PyTorch-loadable. Variant '' stays the `pytorch` tag count.
- hf_tf_keras_models_also_pytorch, variant `pytorch-tag-or-loadable`: share of models tagged tf
  or keras that carry `pytorch` or are PyTorch-loadable (variant '': the `pytorch` tag only).
- hf_models_total (bulk only): every model in the file, cumulative by creation month.
- hf_models_by_library (bulk only, when library_name exists): models per library_name.

Repositories created before 2022-03-02 all report createdAt 2022-03-02T23:29:04Z; they are
one labelled bucket (variant PLACEHOLDER_VARIANT of hf_models_new, dated 2022-03-02), never
counted as models created in March 2022.
"""

from __future__ import annotations

import calendar
import datetime as dt

import duckdb
import pandas as pd

from pulse import registry

PLACEHOLDER_DATE = dt.date(2022, 3, 2)
PLACEHOLDER_US = 1_646_263_744_000_000  # 2022-03-02T23:29:04Z in epoch microseconds
PLACEHOLDER_VARIANT = "created_before_2022_03_02"
PLACEHOLDER_LABEL = "created before 2022-03-02"
SHARE_VARIANTS = {
    "default-frameworks": "among models tagged with a default framework's tag (PyTorch, TensorFlow, JAX, Keras)",
    "all-registry": "among models tagged with any registry framework's tag",
}
TOP_LIBRARIES = 12

# PyTorch-loadable: a `transformers` model with `safetensors` weights and no TF/Flax-only
# weights, i.e. not tagged tf, jax or flax unless it is also tagged pytorch. The Hub's tags do
# not say which framework wrote a safetensors file, so a model with TF/Flax weights, safetensors
# and no pytorch tag is left out (counted in the detail as `tf_flax_with_safetensors`).
LOADABLE_NEEDS = ("transformers", "safetensors")
TF_FLAX_TAGS = ("tf", "jax", "flax")
LOADABLE = "pytorch-loadable"
TAG_OR_LOADABLE = "pytorch-tag-or-loadable"
# Tags kept per model beyond the registry's: what the PyTorch-loadable test reads.
EXTRA_TAGS = ("safetensors", "transformers", "pytorch", "tf", "jax", "flax")


def hub_tags(framework_ids: list[str] | None = None) -> dict[str, list[str]]:
    """framework id -> its Hub tags, for frameworks that have any."""
    chosen = framework_ids or registry.ids()
    return {f: list(registry.get(f).hf_tags) for f in chosen if registry.get(f).hf_tags}


def all_tags() -> list[str]:
    """Every registry Hub tag, in registry order, then EXTRA_TAGS (bit i of a mask = tag i)."""
    seen: list[str] = []
    for tags in hub_tags().values():
        seen.extend(t for t in tags if t not in seen)
    seen.extend(t for t in EXTRA_TAGS if t not in seen)
    return seen


def is_pytorch_loadable(tags) -> bool:
    """One model's tags -> PyTorch-loadable? (the same test as loadable_masks, for one model)."""
    tags = set(tags)
    return set(LOADABLE_NEEDS) <= tags and ("pytorch" in tags or not tags & set(TF_FLAX_TAGS))


def loadable_masks(masks, bits: list[str]):
    """Boolean array: which tag masks are PyTorch-loadable (LOADABLE_NEEDS, and no TF/Flax-only weights)."""
    import numpy as np

    masks = np.asarray(masks, dtype="int64")
    need = mask_of(list(LOADABLE_NEEDS), bits)
    pytorch = mask_of(["pytorch"], bits)
    tf_flax = mask_of(list(TF_FLAX_TAGS), bits)
    return ((masks & need) == need) & (((masks & pytorch) != 0) | ((masks & tf_flax) == 0))


def mask_of(tags: list[str], bits: list[str]) -> int:
    return sum(1 << bits.index(t) for t in tags if t in bits)


def aggregate(con: duckdb.DuckDBPyConnection, relation: str, params: list, created_us: str, tags: str,
              library: str | None, bits: list[str]) -> pd.DataFrame:
    """Group models by (creation month, placeholder, tag mask[, library]) in one DuckDB scan.

    `relation`, `created_us` (creation time as UTC epoch microseconds: no time-zone work per
    row), `tags` and `library` are SQL fragments chosen in code (never user text); tag values
    go in as parameters. Returns rows of kind 'month' (month, placeholder, mask, n, latest)
    and, with `library`, of kind 'library' (mask, library, n), rolled up in pandas from the
    one grouped result (one hash aggregate instead of two).
    """
    mask = " + ".join(f"(CASE WHEN list_contains(tags, ?) THEN {1 << i} ELSE 0 END)" for i in range(len(bits))) or "0"
    lib = library or "CAST(NULL AS VARCHAR)"
    sql = f"""
        SELECT month, placeholder, mask, library, count(*) AS n, max(us) AS latest_us
        FROM (
            SELECT CAST(date_trunc('month', make_timestamp(us)) AS DATE) AS month,
                   us // 1000000 = {PLACEHOLDER_US // 1_000_000} AS placeholder, {mask} AS mask, library, us
            FROM (SELECT {created_us} AS us, {tags} AS tags, {lib} AS library FROM {relation})
        )
        GROUP BY ALL
    """
    grouped = con.execute(sql, bits + params).df()
    grouped["n"] = grouped["n"].astype("int64")
    grouped["mask"] = grouped["mask"].astype("int64")
    keys = ["month", "placeholder", "mask"]
    months = grouped.groupby(keys, dropna=False, as_index=False).agg(n=("n", "sum"), latest_us=("latest_us", "max"))
    months["latest"] = pd.to_datetime(months["latest_us"], unit="us")
    months = months.drop(columns="latest_us").assign(kind="month", library=None)
    if not library:
        return months
    libs = grouped.groupby(["mask", "library"], dropna=False, as_index=False)["n"].sum().assign(kind="library", month=None, placeholder=None)
    return pd.concat([months, libs], ignore_index=True)


def month_end(month: dt.date) -> dt.date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def _cumulative(counts: pd.DataFrame, placeholder: int, as_of: dt.date) -> pd.DataFrame:
    """Per-month counts (month, n) -> cumulative points: the placeholder bucket on 2022-03-02,
    then each month's end (the as-of date for the last, unfinished month)."""
    rows: list[tuple[dt.date, float]] = []
    months = sorted(m for m in counts["month"] if m <= as_of)
    start = months[0] if months else None
    if placeholder:
        start = min(start or PLACEHOLDER_DATE.replace(day=1), PLACEHOLDER_DATE.replace(day=1))
    if start is None:
        return pd.DataFrame(rows, columns=["date", "value"])
    by_month = dict(zip(counts["month"], counts["n"], strict=True))
    total = 0
    if placeholder:
        total += placeholder
        rows.append((PLACEHOLDER_DATE, float(total)))
    month, last = start, as_of.replace(day=1)
    while month <= last:
        total += int(by_month.get(month, 0))
        end = min(month_end(month), as_of)
        if not (placeholder and end < PLACEHOLDER_DATE):
            rows.append((end, float(total)))
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return pd.DataFrame(rows, columns=["date", "value"])


def _month_rows(agg: pd.DataFrame) -> pd.DataFrame:
    """The 'month' rows with a boolean placeholder flag and python dates (computed once per table)."""
    cached = agg.attrs.get("_month_rows")
    if cached is not None:
        return cached
    rows = agg[agg["kind"] == "month"]
    ph = rows["placeholder"].fillna(False).astype(bool).to_numpy()
    out = pd.DataFrame({"month": pd.to_datetime(rows["month"]).dt.date.to_numpy(), "ph": ph,
                        "dated": ~ph & rows["month"].notna().to_numpy(), "mask": rows["mask"].to_numpy(), "n": rows["n"].to_numpy()})
    agg.attrs["_month_rows"] = out
    return out


def _monthly(agg: pd.DataFrame, select_mask: int, need_mask: int = 0) -> tuple[pd.DataFrame, int]:
    """Per-month counts of models whose mask meets `select_mask` (and all of `need_mask`)."""
    rows = _month_rows(agg)
    keep = (rows["mask"].to_numpy() & select_mask) != 0
    if need_mask:
        keep &= (rows["mask"].to_numpy() & need_mask) == need_mask
    rows = rows[keep]
    placeholder = int(rows.loc[rows["ph"], "n"].sum())
    counts = rows[rows["dated"]].groupby("month", as_index=False)["n"].sum()
    return counts, placeholder


def _monthly_where(agg: pd.DataFrame, keep) -> tuple[pd.DataFrame, int]:
    """Per-month counts of the month rows where `keep(mask array)` is true, and the placeholder bucket."""
    rows = _month_rows(agg)
    rows = rows[keep(rows["mask"].to_numpy())]
    placeholder = int(rows.loc[rows["ph"], "n"].sum())
    counts = rows[rows["dated"]].groupby("month", as_index=False)["n"].sum()
    return counts, placeholder


def loadable_metrics(agg: pd.DataFrame, bits: list[str], as_of: dt.date) -> pd.DataFrame:
    """hf_models (framework pytorch) variants pytorch-loadable and pytorch-tag-or-loadable, cumulative,
    and hf_tf_keras_models_also_pytorch variant pytorch-tag-or-loadable."""
    pytorch = mask_of(["pytorch"], bits)
    out = []
    for variant, keep in ((LOADABLE, lambda m: loadable_masks(m, bits)),
                          (TAG_OR_LOADABLE, lambda m: ((m & pytorch) != 0) | loadable_masks(m, bits))):
        frame = _cumulative(*_monthly_where(agg, keep), as_of)
        out.append(frame.assign(framework="pytorch", metric="hf_models", variant=variant))
    tf_keras = mask_of(list(registry.get("tensorflow").hf_tags) + list(registry.get("keras").hf_tags), bits)
    if tf_keras:
        denominator = _cumulative(*_monthly_where(agg, lambda m: (m & tf_keras) != 0), as_of).set_index("date")["value"]
        numerator = _cumulative(*_monthly_where(
            agg, lambda m: ((m & tf_keras) != 0) & (((m & pytorch) != 0) | loadable_masks(m, bits))), as_of).set_index("date")["value"]
        numerator = numerator.reindex(denominator.index).ffill().fillna(0)
        share = (numerator / denominator).dropna()
        out.append(share.rename("value").reset_index().assign(
            framework="pytorch", metric="hf_tf_keras_models_also_pytorch", variant=TAG_OR_LOADABLE).merge(
            pd.DataFrame({"date": denominator.index, "tf_keras": denominator.values, "also_pytorch": numerator.values}),
            on="date", how="left"))
    return _concat(out)


LOADABLE_DEFINITION = ("PyTorch-loadable: tagged transformers and safetensors, and not tagged tf, jax or flax unless also "
                       "tagged pytorch (safetensors written by TF/Flax cannot be told apart by tags, so those are left out)")


def describe_loadable(frame: pd.DataFrame, uncertain: int) -> pd.DataFrame:
    """Add the definition (and the left-out count) to the detail of the loadable variants' rows."""
    frame = frame.copy()
    extra = {"definition": LOADABLE_DEFINITION, "tf_flax_with_safetensors": uncertain}
    mine = frame["variant"].isin([LOADABLE, TAG_OR_LOADABLE])
    frame["detail"] = [{**d, **extra} if m else d for d, m in zip(frame["detail"], mine, strict=True)]
    subjects = {LOADABLE: "PyTorch-loadable: tags transformers + safetensors, no TF/Flax-only weights",
                TAG_OR_LOADABLE: "tag pytorch, or PyTorch-loadable (transformers + safetensors, no TF/Flax-only weights)"}
    if "subject" in frame.columns:
        frame.loc[mine, "subject"] = frame.loc[mine, "variant"].map(subjects)
    return frame


def uncertain_count(agg: pd.DataFrame, bits: list[str]) -> int:
    """Models with transformers + safetensors and TF/Flax weights but no pytorch tag (left out of loadable)."""
    need = mask_of(list(LOADABLE_NEEDS), bits)
    pytorch, tf_flax = mask_of(["pytorch"], bits), mask_of(list(TF_FLAX_TAGS), bits)
    counts, placeholder = _monthly_where(agg, lambda m: ((m & need) == need) & ((m & pytorch) == 0) & ((m & tf_flax) != 0))
    return int(counts["n"].sum()) + placeholder


def framework_metrics(agg: pd.DataFrame, bits: list[str], frameworks: dict[str, dt.date]) -> pd.DataFrame:
    """hf_models and hf_models_new per framework; `frameworks` maps id -> as-of date."""
    out = []
    for fid, as_of in frameworks.items():
        fmask = mask_of(list(registry.get(fid).hf_tags), bits)
        if not fmask:
            continue
        counts, placeholder = _monthly(agg, fmask)
        cumulative = _cumulative(counts, placeholder, as_of)
        out.append(cumulative.assign(framework=fid, metric="hf_models", variant=""))
        new = counts[counts["month"] <= as_of].rename(columns={"month": "date", "n": "value"})
        out.append(new.assign(framework=fid, metric="hf_models_new", variant=""))
        if placeholder:
            out.append(pd.DataFrame([{"date": PLACEHOLDER_DATE, "value": float(placeholder), "framework": fid,
                                      "metric": "hf_models_new", "variant": PLACEHOLDER_VARIANT}]))
    return _concat(out)


def share_metrics(agg: pd.DataFrame, bits: list[str], base: list[str], variant: str, as_of: dt.date) -> pd.DataFrame:
    """hf_model_share: each base framework's cumulative count over the base's, month by month."""
    base_mask = 0
    for fid in base:
        base_mask |= mask_of(list(registry.get(fid).hf_tags), bits)
    if not base_mask:
        return _concat([])
    denominator = _cumulative(*_monthly(agg, base_mask), as_of).set_index("date")["value"]
    out = []
    for fid in base:
        fmask = mask_of(list(registry.get(fid).hf_tags), bits)
        if not fmask:
            continue
        numerator = _cumulative(*_monthly(agg, fmask), as_of).set_index("date")["value"]
        share = (numerator.reindex(denominator.index).ffill().fillna(0) / denominator).dropna()
        out.append(share.rename("value").reset_index().assign(framework=fid, metric="hf_model_share", variant=variant))
    return _concat(out)


def also_pytorch_metric(agg: pd.DataFrame, bits: list[str], as_of: dt.date) -> pd.DataFrame:
    """hf_tf_keras_models_also_pytorch (framework 'pytorch'): cumulative, month by month."""
    tf_keras = mask_of(list(registry.get("tensorflow").hf_tags) + list(registry.get("keras").hf_tags), bits)
    pytorch = mask_of(list(registry.get("pytorch").hf_tags), bits)
    if not tf_keras or not pytorch:
        return _concat([])
    denominator = _cumulative(*_monthly(agg, tf_keras), as_of).set_index("date")["value"]
    numerator = _cumulative(*_monthly(agg, tf_keras, need_mask=pytorch), as_of).set_index("date")["value"]
    share = (numerator.reindex(denominator.index).ffill().fillna(0) / denominator).dropna()
    frame = share.rename("value").reset_index().assign(framework="pytorch", metric="hf_tf_keras_models_also_pytorch", variant="")
    counts = pd.DataFrame({"date": denominator.index, "tf_keras": denominator.values,
                           "also_pytorch": numerator.reindex(denominator.index).ffill().fillna(0).values})
    return frame.merge(counts, on="date", how="left")


def total_metric(agg: pd.DataFrame, as_of: dt.date, rows_total: int) -> pd.DataFrame:
    """hf_models_total (framework 'all'): every model, cumulative by month; the as-of point is
    the file's row count (models without a creation date included)."""
    rows = _month_rows(agg)
    placeholder = int(rows.loc[rows["ph"], "n"].sum())
    counts = rows[rows["dated"]].groupby("month", as_index=False)["n"].sum()
    frame = _cumulative(counts, placeholder, as_of)
    frame = frame[frame["date"] != as_of]
    frame = pd.concat([frame, pd.DataFrame([{"date": as_of, "value": float(rows_total)}])], ignore_index=True)
    return frame.assign(framework="all", metric="hf_models_total", variant="")


def library_metrics(agg: pd.DataFrame, bits: list[str], frameworks: list[str], as_of: dt.date) -> pd.DataFrame:
    """hf_models_by_library: per framework (and 'all'), models per library_name at the as-of date
    (the TOP_LIBRARIES largest by name, the rest as '(other)', a missing name as '(none)')."""
    libs = agg[agg["kind"] == "library"].copy()
    if libs.empty:
        return _concat([])
    libs["library"] = libs["library"].fillna("(none)").replace("", "(none)")
    out = []
    for fid in ["all", *frameworks]:
        if fid == "all":
            rows = libs
        else:
            fmask = mask_of(list(registry.get(fid).hf_tags), bits)
            rows = libs[(libs["mask"] & fmask) != 0]
        counts = rows.groupby("library")["n"].sum().sort_values(ascending=False)
        if counts.empty:
            continue
        top = counts.head(TOP_LIBRARIES)
        if len(counts) > TOP_LIBRARIES:
            top = pd.concat([top, pd.Series({"(other)": counts.iloc[TOP_LIBRARIES:].sum()})])
        out.append(pd.DataFrame({"variant": top.index, "value": top.values.astype(float)}).assign(
            date=as_of, framework=fid, metric="hf_models_by_library"))
    return _concat(out)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=["date", "value", "framework", "metric", "variant"])
    return pd.concat(frames, ignore_index=True)
