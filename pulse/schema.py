"""The database schema, in one place: numbered migrations applied once each, in order.

Numbers are spaced so that each part of the project owns a range (core 1-9, github 10-19,
trends 20-29, paperswithcode 30-39, huggingface 40-49, probe 50-59, runner 60-69,
export 70-79). `schema_version` records every applied number, so applying is idempotent.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "core tables: observations, ingest_runs, claims",
        [
            """
            CREATE TABLE IF NOT EXISTS observations (
                source       VARCHAR   NOT NULL,  -- where the number came from: snapshot, github, trends, ...
                framework    VARCHAR   NOT NULL,  -- registry id (or the source's own name when unmapped)
                metric       VARCHAR   NOT NULL,  -- see docs/metrics.md
                variant      VARCHAR   NOT NULL DEFAULT '',  -- e.g. share base, geo/timeframe; '' when none
                date         DATE      NOT NULL,
                value        DOUBLE    NOT NULL,
                subject      VARCHAR,             -- what was measured: repo, search term, tag
                retrieved_at TIMESTAMP NOT NULL,
                run_id       VARCHAR,
                citation     VARCHAR,             -- URL or reference a user can follow
                raw_file     VARCHAR,             -- raw response/file kept for replay
                detail       VARCHAR,             -- JSON text with source-specific provenance
                PRIMARY KEY (source, framework, metric, variant, date)
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS ingest_runs (
                run_id      VARCHAR PRIMARY KEY,
                source      VARCHAR   NOT NULL,
                started_at  TIMESTAMP NOT NULL,
                finished_at TIMESTAMP,
                status      VARCHAR   NOT NULL,  -- running, ok, partial, failed
                rows        INTEGER,
                requests    INTEGER,
                error       VARCHAR,
                detail      VARCHAR               -- JSON text
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS claims (
                id          VARCHAR PRIMARY KEY,
                claim       VARCHAR NOT NULL,
                source      VARCHAR NOT NULL,
                source_date VARCHAR,
                metric      VARCHAR,
                subject     VARCHAR,
                value       DOUBLE,
                unit        VARCHAR,
                kind        VARCHAR,
                note        VARCHAR
            )
            """,
        ],
    ),
    (
        10,
        "github: repository metadata and the ETag cache for conditional requests",
        [
            """
            CREATE TABLE IF NOT EXISTS github_repos (
                framework      VARCHAR PRIMARY KEY,  -- registry id
                requested      VARCHAR NOT NULL,     -- owner/repo as the registry lists it
                full_name      VARCHAR NOT NULL,     -- owner/repo GitHub answered as (after renames)
                renamed_from   VARCHAR,              -- JSON list of former names seen (registry, redirects)
                html_url       VARCHAR,
                created_at     TIMESTAMP,
                pushed_at      TIMESTAMP,
                stargazers     BIGINT,
                forks          BIGINT,
                open_issues    BIGINT,               -- open_issues_count: issues AND pull requests
                watchers       BIGINT,               -- subscribers_count (watchers_count is stars)
                history_source VARCHAR,              -- github_history, github_sampled or NULL
                history_etag   VARCHAR,              -- ETag of history page 1 when the stored history was built
                history_weeks  INTEGER,
                history_delta  BIGINT,               -- stargazers_count minus the history's own sum
                history_note   VARCHAR,              -- why the history was not refreshed, when it was not
                retrieved_at   TIMESTAMP NOT NULL,
                run_id         VARCHAR,
                raw_file       VARCHAR
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS github_etags (
                url        VARCHAR PRIMARY KEY,  -- request URL (no credentials: the token is a header)
                etag       VARCHAR NOT NULL,
                raw_file   VARCHAR NOT NULL,     -- envelope holding the body this ETag names
                link       VARCHAR,              -- the Link header that came with it
                fetched_at TIMESTAMP NOT NULL
            )
            """,
        ],
    ),
    (
        40,
        "huggingface: per-model rows for exact recounts, and per-tag crawl cursors for resume",
        [
            # Lean on purpose (every write copies the database): id, creation time and only
            # the registry's Hub tags the model carries, not its full tag list; and no PRIMARY
            # KEY: its index would be about 4/5 of the file (measured: 62 vs 12 MiB for 1M
            # models). ingest/huggingface.save_models keeps ids unique (delete, then insert).
            """
            CREATE TABLE IF NOT EXISTS hf_models (
                id         VARCHAR   NOT NULL,   -- "owner/name" on the Hub, unique
                created_at TIMESTAMP NOT NULL,   -- UTC; 2022-03-02 23:29:04 = placeholder for older repos
                tags       VARCHAR[] NOT NULL,   -- the registry hf_tags it carries, sorted
                seen_at    TIMESTAMP NOT NULL    -- last crawl page that listed it
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS hf_crawl (
                tag          VARCHAR PRIMARY KEY,
                status       VARCHAR   NOT NULL,  -- in_progress, complete
                next_url     VARCHAR,             -- page to fetch next (cursor); NULL when complete
                started_at   TIMESTAMP NOT NULL,
                updated_at   TIMESTAMP NOT NULL,
                completed_at TIMESTAMP,
                pages        INTEGER   NOT NULL DEFAULT 0,
                models       INTEGER   NOT NULL DEFAULT 0,
                skipped      INTEGER   NOT NULL DEFAULT 0,  -- malformed entries left out
                run_ids      VARCHAR                         -- runs that fetched this crawl's pages
            )
            """,
        ],
    ),
    (
        50,
        "probe: probe_runs and probe_cases (training-speed probe results)",
        [
            """
            CREATE TABLE IF NOT EXISTS probe_runs (
                run_id          VARCHAR PRIMARY KEY,  -- the probe's own run id (in the result file)
                started_at      TIMESTAMP NOT NULL,   -- UTC
                finished_at     TIMESTAMP,
                status          VARCHAR   NOT NULL,   -- complete (incomplete files are not loaded)
                config_name     VARCHAR   NOT NULL,   -- cpu or gpu preset
                devices         VARCHAR   NOT NULL,   -- cpu, cuda or cpu,cuda
                device_name     VARCHAR,              -- GPU name when CUDA ran, else the CPU model
                host            VARCHAR,
                budget_s        DOUBLE,
                elapsed_s       DOUBLE,
                tf32            BOOLEAN,
                params_total    BIGINT,
                params_matmul   BIGINT,
                flops_per_step  DOUBLE,
                tokens_per_step INTEGER,
                environment     VARCHAR,              -- JSON text: versions, CPU, GPU, driver, threads
                config          VARCHAR,              -- JSON text: model and training config
                raw_file        VARCHAR,              -- the result file as kept under PULSE_RAW_DIR
                ingest_run_id   VARCHAR,
                retrieved_at    TIMESTAMP NOT NULL
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS probe_cases (
                run_id               VARCHAR NOT NULL,
                framework            VARCHAR NOT NULL,  -- pytorch, tensorflow, jax
                mode                 VARCHAR NOT NULL,  -- eager, compiled
                precision            VARCHAR NOT NULL,  -- fp32, bf16
                device               VARCHAR NOT NULL,  -- cpu, cuda
                device_name          VARCHAR,
                status               VARCHAR NOT NULL,  -- ok, skipped, failed
                reason               VARCHAR,
                compiler             VARCHAR,
                framework_version    VARCHAR,
                step_ms_median       DOUBLE,
                step_ms_q1           DOUBLE,
                step_ms_q3           DOUBLE,
                timed_steps          INTEGER,
                tokens_per_s         DOUBLE,
                achieved_tflops      DOUBLE,
                mfu                  DOUBLE,
                peak_tflops          DOUBLE,
                peak_source          VARCHAR,
                peak_estimated       BOOLEAN,
                compile_s            DOUBLE,
                time_to_first_step_s DOUBLE,
                peak_memory_bytes    BIGINT,
                loss_first           DOUBLE,
                loss_last            DOUBLE,
                PRIMARY KEY (run_id, framework, mode, precision, device)
            )
            """,
        ],
    ),
]

# paperswithcode (30-39): lean raw tables for drill-down. Abstracts, authors, tasks,
# methods and PDF/abstract URLs are left in the parquet files: they are most of the archive's
# bytes and every write session copies the whole database file.
PAPERSWITHCODE_DDL = [
    """
    CREATE TABLE IF NOT EXISTS pwc_papers (
        paper_url  VARCHAR NOT NULL,  -- the archive's key, e.g. https://paperswithcode.com/paper/...
        arxiv_id   VARCHAR,
        title      VARCHAR,
        date       DATE,              -- publication date as the archive gives it (NULL when absent or unparseable)
        proceeding VARCHAR
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS pwc_links (
        paper_url           VARCHAR NOT NULL,
        repo_url            VARCHAR,
        is_official         BOOLEAN,
        mentioned_in_paper  BOOLEAN,
        mentioned_in_github BOOLEAN,
        framework_raw       VARCHAR,  -- the archive's `framework` value, lower-cased
        framework           VARCHAR,  -- registry id, else the raw value; 'none' = no framework
        paper_date          DATE      -- joined from pwc_papers on paper_url (NULL when unmatched)
    )
    """,
]


# claims (2): the ledger's claim specification (docs/claims.md) and the article's citation.
MIGRATIONS.append((2, "claims: specification columns (versus, comparison, basis, period, tolerance) and article citation", [
    f"ALTER TABLE claims ADD COLUMN IF NOT EXISTS {column} VARCHAR"
    for column in ("versus", "comparison", "basis", "period", "tolerance", "article_title", "article_author", "article_date", "article_url")
]))
MIGRATIONS.append((30, "paperswithcode: pwc_papers, pwc_links (lean raw tables)", PAPERSWITHCODE_DDL))

SCHEMA_VERSION_DDL = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    name       VARCHAR NOT NULL,
    applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp
)
"""


def latest_version() -> int:
    return max(number for number, _, _ in MIGRATIONS)


def pending(applied: set[int]) -> list[tuple[int, str, list[str]]]:
    return [m for m in sorted(MIGRATIONS) if m[0] not in applied]
