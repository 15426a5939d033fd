-- Pricing: platform fee overrides (per partner, per organization), the fee payer per event,
-- an organization's tax rate, discount codes, and the cart's chosen discount.

ALTER TABLE partners ADD COLUMN fee_json TEXT;
ALTER TABLE organizations ADD COLUMN fee_json TEXT;
ALTER TABLE organizations ADD COLUMN tax_bps BIGINT NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN fee_payer TEXT NOT NULL DEFAULT 'buyer';

CREATE TABLE discounts (
    id                   TEXT PRIMARY KEY,
    organization_id      TEXT NOT NULL REFERENCES organizations(id),
    code                 TEXT NOT NULL,
    code_key             TEXT NOT NULL,
    kind                 TEXT NOT NULL,
    value                BIGINT NOT NULL,
    currency             TEXT,
    event_ids_json       TEXT NOT NULL,
    ticket_type_ids_json TEXT NOT NULL,
    starts_at            BIGINT,
    ends_at              BIGINT,
    max_uses             BIGINT,
    max_uses_per_buyer   BIGINT,
    min_quantity         BIGINT NOT NULL,
    uses                 BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    disabled_at          BIGINT
);
CREATE UNIQUE INDEX discounts_code ON discounts (organization_id, code_key);

ALTER TABLE carts ADD COLUMN discount_id TEXT;
