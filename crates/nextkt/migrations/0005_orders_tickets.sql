-- Orders, payments, provider events (webhook idempotency), tickets and the events' signing
-- keys.

CREATE TABLE orders (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id),
    event_id         TEXT NOT NULL REFERENCES events(id),
    cart_id          TEXT NOT NULL UNIQUE REFERENCES carts(id),
    buyer_id         TEXT,
    email            TEXT NOT NULL,
    name             TEXT NOT NULL,
    locale           TEXT NOT NULL,
    status           TEXT NOT NULL,
    currency         TEXT NOT NULL,
    subtotal         BIGINT NOT NULL,
    discount         BIGINT NOT NULL,
    discount_id      TEXT,
    points_used      BIGINT NOT NULL,
    points_value     BIGINT NOT NULL,
    tax              BIGINT NOT NULL,
    fee              BIGINT NOT NULL,
    fee_absorbed     BIGINT NOT NULL,
    total            BIGINT NOT NULL,
    fee_payer        TEXT NOT NULL,
    payment_deadline BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    paid_at          BIGINT
);
CREATE INDEX orders_org ON orders (organization_id, id);
CREATE INDEX orders_buyer ON orders (buyer_id, id);
CREATE INDEX orders_pending ON orders (status, payment_deadline);

CREATE TABLE order_lines (
    id             TEXT PRIMARY KEY,
    order_id       TEXT NOT NULL REFERENCES orders(id),
    ticket_type_id TEXT NOT NULL,
    name           TEXT NOT NULL,
    quantity       BIGINT NOT NULL,
    unit_price     BIGINT NOT NULL,
    discount       BIGINT NOT NULL,
    points_value   BIGINT NOT NULL,
    tax            BIGINT NOT NULL,
    fee_per_ticket BIGINT NOT NULL,
    fee            BIGINT NOT NULL,
    total          BIGINT NOT NULL
);
CREATE INDEX order_lines_order ON order_lines (order_id);

-- status: pending, paid, failed, expired
CREATE TABLE payments (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    order_id        TEXT NOT NULL REFERENCES orders(id),
    provider        TEXT NOT NULL,
    provider_ref    TEXT NOT NULL,
    status          TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    redirect_url    TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    paid_at         BIGINT
);
CREATE UNIQUE INDEX payments_provider_ref ON payments (provider, provider_ref);
CREATE INDEX payments_order ON payments (order_id);

-- Every provider callback, recorded once: a repeat is recognised and changes nothing.
CREATE TABLE provider_events (
    provider     TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    payment_id   TEXT,
    kind         TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (provider, event_id)
);

CREATE TABLE event_signing_keys (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    event_id        TEXT NOT NULL REFERENCES events(id),
    public_key      TEXT NOT NULL,
    secret_key      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    retired_at      BIGINT
);
CREATE INDEX event_signing_keys_event ON event_signing_keys (event_id, created_at);

-- status: valid, void
CREATE TABLE tickets (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    event_id        TEXT NOT NULL REFERENCES events(id),
    order_id        TEXT NOT NULL REFERENCES orders(id),
    ticket_type_id  TEXT NOT NULL,
    seat_id         TEXT,
    code            TEXT NOT NULL UNIQUE,
    holder_name     TEXT NOT NULL,
    holder_email    TEXT NOT NULL,
    key_id          TEXT NOT NULL,
    qr_payload      TEXT NOT NULL,
    status          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    voided_at       BIGINT
);
CREATE INDEX tickets_order ON tickets (order_id);
CREATE INDEX tickets_event ON tickets (event_id, ticket_type_id, status);

-- Platform-wide secrets made once (e.g. the simulated provider's callback token), shared by
-- every process through the database.
CREATE TABLE platform_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The holds an order was placed for.
ALTER TABLE holds ADD COLUMN order_id TEXT;
CREATE INDEX holds_order ON holds (order_id);
