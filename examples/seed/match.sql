-- match (sql_task on the embedded DuckDB warehouse): dedupe the clicks, drop bot traffic
-- and attribute each order to the clicks it followed.
--
-- A click converts when the same user orders within :window_minutes after it (the first
-- such order: an ASOF join). The result replaces the :run_date partition of
-- seed.matched_clicks. The last statement returns this run's matched clicks, so the task
-- value row_count is the number of matched clicks and `podium runs output` previews them.
--
-- Parameters (strings): clicks, orders (Parquet files, from the ingest tasks' task values),
-- run_date, run_id, window_minutes.

CREATE SCHEMA IF NOT EXISTS seed;

CREATE TABLE IF NOT EXISTS seed.matched_clicks (
    run_date      DATE NOT NULL,
    run_id        BIGINT NOT NULL,
    click_id      BIGINT NOT NULL,
    user_id       BIGINT NOT NULL,
    session_id    BIGINT NOT NULL,
    ts            TIMESTAMPTZ NOT NULL,
    page          VARCHAR NOT NULL,
    device        VARCHAR NOT NULL,
    campaign      VARCHAR NOT NULL,
    dwell_seconds DOUBLE NOT NULL,
    order_id      BIGINT,
    order_ts      TIMESTAMPTZ,
    amount        DOUBLE,
    converted     BOOLEAN NOT NULL
);

-- Idempotent: a retry, a repair or a rerun of the same day replaces that day.
DELETE FROM seed.matched_clicks WHERE run_date = CAST(:run_date AS DATE);

INSERT INTO seed.matched_clicks
WITH human_clicks AS (
    -- At-least-once delivery repeats some events: keep one of each click_id.
    SELECT * EXCLUDE (user_agent)
    FROM read_parquet(:clicks)
    WHERE NOT contains(lower(user_agent), 'bot')
    QUALIFY row_number() OVER (PARTITION BY click_id ORDER BY ts) = 1
),
orders AS (
    SELECT order_id, user_id, ts AS order_ts, amount FROM read_parquet(:orders)
),
nearest AS (
    -- For each click, the user's first order at or after it (if any).
    SELECT c.*, o.order_id, o.order_ts, o.amount
    FROM human_clicks AS c
    ASOF LEFT JOIN orders AS o ON c.user_id = o.user_id AND o.order_ts >= c.ts
),
within AS (
    SELECT *, order_ts <= ts + to_minutes(CAST(:window_minutes AS BIGINT)) AS hit
    FROM nearest
)
SELECT
    CAST(:run_date AS DATE), CAST(:run_id AS BIGINT),
    click_id, user_id, session_id, ts, page, device, campaign, dwell_seconds,
    CASE WHEN hit THEN order_id END,
    CASE WHEN hit THEN order_ts END,
    CASE WHEN hit THEN amount END,
    coalesce(hit, false)
FROM within;

SELECT click_id, user_id, session_id, ts, page, order_id, converted
FROM seed.matched_clicks
WHERE run_date = CAST(:run_date AS DATE)
ORDER BY click_id;
