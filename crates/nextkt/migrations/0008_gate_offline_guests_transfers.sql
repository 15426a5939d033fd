-- Offline scanning, revoked codes, ticket transfers and guest lists.

-- Scans uploaded from a device's offline queue: when the device scanned, what it answered
-- the guest at the time, and when the server heard of it.
ALTER TABLE scans ADD COLUMN offline BIGINT NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN device_result TEXT;
ALTER TABLE scans ADD COLUMN received_at BIGINT;
CREATE INDEX scans_ticket ON scans (ticket_id);

-- Someone a device let in offline whom the server refuses: kind 'already_used' (two people
-- on one ticket), 'revoked', 'unknown', ... Kept for the operator, never dropped.
CREATE TABLE scan_conflicts (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    list_id         TEXT NOT NULL,
    ticket_id       TEXT,
    scan_id         TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX scan_conflicts_event ON scan_conflicts (event_id, created_at);

-- Codes that no longer admit anyone (a transferred ticket's old code, a voided ticket's).
-- Keyed by the code's lookup hash, the same hash the offline bundle publishes.
CREATE TABLE revoked_codes (
    code_hash       TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    ticket_id       TEXT NOT NULL,
    reason          TEXT NOT NULL,
    revoked_at      BIGINT NOT NULL
);
CREATE INDEX revoked_codes_event ON revoked_codes (event_id);

-- Bumped with every revocation (transfer, refund) of an organization's tickets, so a shared
-- offline bundle is rebuilt by every process as soon as it would admit a revoked code.
CREATE TABLE gate_versions (
    organization_id TEXT PRIMARY KEY,
    version         BIGINT NOT NULL
);

-- Every change of a ticket's holder.
CREATE TABLE ticket_transfers (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    ticket_id       TEXT NOT NULL REFERENCES tickets(id),
    from_name       TEXT NOT NULL,
    from_email      TEXT NOT NULL,
    to_name         TEXT NOT NULL,
    to_email        TEXT NOT NULL,
    old_code_hash   TEXT NOT NULL,
    by_kind         TEXT NOT NULL,
    by_id           TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX ticket_transfers_ticket ON ticket_transfers (ticket_id, created_at);

-- Whether buyers may transfer their tickets, and until how long before the start.
ALTER TABLE events ADD COLUMN buyer_transfers BIGINT NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN transfer_cutoff_seconds BIGINT NOT NULL DEFAULT 0;

-- Complimentary tickets and guest-list orders: kind 'sale' or 'complimentary'.
ALTER TABLE orders ADD COLUMN kind TEXT NOT NULL DEFAULT 'sale';

-- Guest-list entries: a named guest with complimentary tickets (an order of kind
-- 'complimentary' whose tickets counted against the ticket type's capacity).
CREATE TABLE guests (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    event_id        TEXT NOT NULL REFERENCES events(id),
    name            TEXT NOT NULL,
    email           TEXT NOT NULL,
    ticket_type_id  TEXT NOT NULL,
    quantity        BIGINT NOT NULL,
    note            TEXT NOT NULL,
    order_id        TEXT NOT NULL REFERENCES orders(id),
    source          TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX guests_event ON guests (event_id, created_at);

-- What the attendee search matches: holder name and email, lower-cased by the application
-- (the same on both databases; SQLite's LOWER folds ASCII only). Tickets issued before this
-- column existed are filled in by the application after migrating, once (noted in
-- data_fixes, so later starts do not scan the tickets again).
ALTER TABLE tickets ADD COLUMN holder_search TEXT NOT NULL DEFAULT '';
CREATE TABLE data_fixes (
    name    TEXT PRIMARY KEY,
    done_at BIGINT NOT NULL
);
CREATE INDEX tickets_event_holder ON tickets (event_id, holder_email);

-- Set when a ticket has moved to a new holder: the order's buyer no longer sees its code.
ALTER TABLE tickets ADD COLUMN transferred_at BIGINT;
