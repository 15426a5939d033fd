-- Loyalty points: a program per organization, lots of earned points (each with its expiry
-- and what is left of it), and an append-only ledger of every movement.

CREATE TABLE points_programs (
    organization_id TEXT PRIMARY KEY REFERENCES organizations(id),
    earn_per        BIGINT NOT NULL,
    point_value     BIGINT NOT NULL,
    expiry_days     BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE points_lots (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    buyer_id        TEXT NOT NULL REFERENCES buyers(id),
    points          BIGINT NOT NULL,
    remaining       BIGINT NOT NULL,
    expires_at      BIGINT,
    source_id       TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX points_lots_buyer ON points_lots (buyer_id, expires_at);

CREATE TABLE points_ledger (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    buyer_id        TEXT NOT NULL REFERENCES buyers(id),
    delta           BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    reference_id    TEXT,
    note            TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX points_ledger_buyer ON points_ledger (buyer_id, id);

ALTER TABLE carts ADD COLUMN points BIGINT NOT NULL DEFAULT 0;
