-- Refunds: money given back for an order (all of it, some tickets, or an amount), tracked
-- until the provider completes them; the tickets they void; whether their inventory went
-- back on sale. status: requested (to be sent to the provider) → pending (the provider is
-- working on it) → succeeded | failed.

CREATE TABLE refunds (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    order_id        TEXT NOT NULL REFERENCES orders(id),
    amount          BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    status          TEXT NOT NULL,
    reason          TEXT,
    return_to_sale  BIGINT NOT NULL,
    provider        TEXT NOT NULL,
    -- The paid payment the money goes back to, and the provider's id of the refund.
    payment_id      TEXT,
    provider_ref    TEXT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    created_by_kind TEXT NOT NULL,
    created_by_id   TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    completed_at    BIGINT
);
CREATE INDEX refunds_order ON refunds (order_id);

ALTER TABLE tickets ADD COLUMN refund_id TEXT;
ALTER TABLE tickets ADD COLUMN inventory_released_at BIGINT;
