-- Promoter events (base module `promoter`): what a promoter company plans, with its tiers,
-- and the state of its publication into the company's Nextkt organization (Mode A).
--
-- `revision` grows with every change; `published_revision` is the one Nextkt last took in
-- full, so "up to date" is `published_revision = revision`. A publish run claims the row
-- (`publish_status = 'publishing'` with a lease), remembers each Nextkt id as soon as it is
-- known, and ends `published` or `failed` (with the reason, and a retry time when retrying
-- may help). `nextkt_create_request` keeps the exact body of a create whose answer was not
-- seen yet, so its retry repeats it under the same Idempotency-Key.

CREATE TABLE promoter_events (
    id                     TEXT PRIMARY KEY,
    company_id             TEXT NOT NULL REFERENCES companies(id),
    title                  TEXT NOT NULL,
    description            TEXT NOT NULL,
    starts_at              BIGINT NOT NULL,
    ends_at                BIGINT NOT NULL,
    timezone               TEXT NOT NULL,
    currency               TEXT NOT NULL,
    venue_id               TEXT NOT NULL REFERENCES venues(id),
    artist_ids_json        TEXT NOT NULL,
    revision               BIGINT NOT NULL,
    nextkt_event_id        TEXT,
    nextkt_create_request  TEXT,
    publish_status         TEXT NOT NULL
        CHECK (publish_status IN ('unpublished', 'publishing', 'published', 'failed')),
    published_revision     BIGINT,
    publish_attempts       BIGINT NOT NULL,
    publish_error          TEXT,
    publish_retry_at       BIGINT,
    publish_lease_until    BIGINT,
    published_at           BIGINT,
    created_by             TEXT NOT NULL,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
);

CREATE INDEX promoter_events_company ON promoter_events (company_id, id);
CREATE INDEX promoter_events_retry ON promoter_events (publish_status, publish_retry_at);

CREATE TABLE promoter_event_tiers (
    id                     TEXT PRIMARY KEY,
    event_id               TEXT NOT NULL REFERENCES promoter_events(id),
    name                   TEXT NOT NULL,
    price                  BIGINT NOT NULL,
    capacity               BIGINT NOT NULL,
    sort_order             BIGINT NOT NULL,
    nextkt_ticket_type_id  TEXT,
    nextkt_create_request  TEXT,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    UNIQUE (event_id, name)
);
