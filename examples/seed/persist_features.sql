-- persist_features (sql_task on the embedded DuckDB warehouse): check the session features
-- that build_features wrote and publish them as the :run_date partition of
-- seed.session_features, the feature table. The last statement returns the partition, so
-- the task value row_count is the number of feature rows (train checks it).
--
-- Parameters (strings): features (the Parquet file, from build_features' task values),
-- run_date, run_id.

CREATE SCHEMA IF NOT EXISTS seed;

-- The feature table's contract: a column that is missing, misnamed, or null fails the
-- INSERT below (and with it the task: nothing is committed).
CREATE TABLE IF NOT EXISTS seed.session_features (
    run_date         DATE NOT NULL,
    run_id           BIGINT NOT NULL,
    session_id       BIGINT NOT NULL,
    user_id          BIGINT NOT NULL,
    start            TIMESTAMPTZ NOT NULL,
    device           VARCHAR NOT NULL,
    campaign         VARCHAR NOT NULL,
    clicks           BIGINT NOT NULL,
    distinct_pages   BIGINT NOT NULL,
    product_views    BIGINT NOT NULL,
    reached_cart     BIGINT NOT NULL,
    dwell_total      DOUBLE NOT NULL,
    dwell_mean       DOUBLE NOT NULL,
    dwell_max        DOUBLE NOT NULL,
    duration_seconds DOUBLE NOT NULL,
    hour             BIGINT NOT NULL,
    user_sessions    BIGINT NOT NULL,
    converted        BOOLEAN NOT NULL
);

-- One row per session, and some of each class to learn from; error() fails the task.
SELECT CASE
    WHEN count(*) = 0 THEN error('persist_features: the feature file is empty')
    WHEN count(DISTINCT session_id) <> count(*)
        THEN error('persist_features: session_id is not unique')
    WHEN count(DISTINCT converted) < 2
        THEN error('persist_features: the label converted has a single value')
    ELSE count(*)
END AS checked_rows
FROM read_parquet(:features);

DELETE FROM seed.session_features WHERE run_date = CAST(:run_date AS DATE);

INSERT INTO seed.session_features
SELECT
    CAST(:run_date AS DATE), CAST(:run_id AS BIGINT),
    session_id, user_id, start, device, campaign, clicks, distinct_pages, product_views,
    reached_cart, dwell_total, dwell_mean, dwell_max, duration_seconds, hour,
    user_sessions, converted
FROM read_parquet(:features);

SELECT * EXCLUDE (run_date, run_id)
FROM seed.session_features
WHERE run_date = CAST(:run_date AS DATE)
ORDER BY session_id;
