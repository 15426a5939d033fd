-- Kisum's venues and artists that events reference, as last read from Kisum (owner:
-- kisum), and the artists and hosts an event shows (owner: catalog). A snapshot is `fresh` (read
-- from Kisum), `pending` (Kisum did not answer when the event was saved) or `missing` (Kisum
-- no longer knows the id); the refresh job claims rows through `next_attempt_at`.

CREATE TABLE kisum_snapshots (
    -- `venue:<kisum id>` or `artist:<kisum id>`.
    id                TEXT PRIMARY KEY,
    kind              TEXT NOT NULL CHECK (kind IN ('venue', 'artist')),
    kisum_id          TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('fresh', 'pending', 'missing')),
    snapshot_json     TEXT,
    kisum_updated_at  TEXT,
    fetched_at        BIGINT,
    attempts          BIGINT NOT NULL,
    next_attempt_at   BIGINT NOT NULL,
    created_at        BIGINT NOT NULL
);
CREATE INDEX kisum_snapshots_due ON kisum_snapshots (next_attempt_at);

ALTER TABLE events ADD COLUMN artists_json TEXT NOT NULL DEFAULT '[]';
-- The promoters or partners presenting the event, with their share of attribution.
ALTER TABLE events ADD COLUMN hosts_json TEXT NOT NULL DEFAULT '[]';
