-- Core: the commercial catalog (modules, packages, addon products), companies, their base
-- subscription and addons, the per-company entitlement version, its history, and the event
-- outbox that carries every change to consumers.
--
-- Conventions (as in Nextkt): ids are TEXT, instants are BIGINT milliseconds since the Unix
-- epoch (UTC), booleans are BIGINT 0/1, JSON is TEXT. The same file runs on SQLite and
-- PostgreSQL.

CREATE TABLE modules (
    key          TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('base', 'addon')),
    description  TEXT NOT NULL,
    sort_order   BIGINT NOT NULL
);

-- A package is the base commercial bundle: it gives the company its persona (audience) and
-- its base module.
CREATE TABLE packages (
    key            TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    audience       TEXT NOT NULL CHECK (audience IN ('promoter', 'venue', 'artist', 'vendor')),
    base_module    TEXT NOT NULL REFERENCES modules(key),
    trial_enabled  BIGINT NOT NULL,
    trial_days     BIGINT NOT NULL,
    active         BIGINT NOT NULL,
    sort_order     BIGINT NOT NULL
);

-- An addon product turns on one addon module for the audiences it accepts.
CREATE TABLE addons (
    key             TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    module          TEXT NOT NULL REFERENCES modules(key),
    audiences_json  TEXT NOT NULL,
    trial_enabled   BIGINT NOT NULL,
    trial_days      BIGINT NOT NULL,
    active          BIGINT NOT NULL,
    sort_order      BIGINT NOT NULL
);

CREATE TABLE companies (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    currency    TEXT NOT NULL,
    -- Lifetime: set by the first trial row, never cleared.
    had_trial   BIGINT NOT NULL,
    source      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX companies_by_created ON companies (created_at, id);

-- One row per base subscription the company has had. At most one is live: the partial
-- unique index makes a second live row fail in the database, whoever races to write it.
CREATE TABLE company_subscriptions (
    id               TEXT PRIMARY KEY,
    company_id       TEXT NOT NULL REFERENCES companies(id),
    package          TEXT NOT NULL REFERENCES packages(key),
    status           TEXT NOT NULL CHECK (status IN ('trial', 'active', 'past_due', 'canceled', 'expired')),
    trial_ends_at    BIGINT,
    past_due_since   BIGINT,
    -- When the "trial ends in 3 days" notice went out (once per trial).
    trial_notice_at  BIGINT,
    started_at       BIGINT NOT NULL,
    ended_at         BIGINT,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX company_subscriptions_one_live ON company_subscriptions (company_id)
    WHERE status IN ('trial', 'active', 'past_due');
CREATE INDEX company_subscriptions_by_company ON company_subscriptions (company_id, started_at);
CREATE INDEX company_subscriptions_due ON company_subscriptions (status, trial_ends_at);

-- One row per company and addon; its status moves, the row stays.
CREATE TABLE company_addons (
    company_id       TEXT NOT NULL REFERENCES companies(id),
    addon            TEXT NOT NULL REFERENCES addons(key),
    status           TEXT NOT NULL CHECK (status IN ('trial', 'active', 'past_due', 'canceled', 'expired')),
    trial_ends_at    BIGINT,
    past_due_since   BIGINT,
    trial_notice_at  BIGINT,
    started_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (company_id, addon)
);
CREATE INDEX company_addons_due ON company_addons (status, trial_ends_at);

-- Bumped in the same transaction as every change of what the company owns; access caches
-- are keyed by it.
CREATE TABLE company_entitlement_versions (
    company_id  TEXT PRIMARY KEY REFERENCES companies(id),
    version     BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE entitlement_history (
    id           TEXT PRIMARY KEY,
    company_id   TEXT NOT NULL REFERENCES companies(id),
    change_type  TEXT NOT NULL,
    before_json  TEXT NOT NULL,
    after_json   TEXT NOT NULL,
    actor        TEXT NOT NULL,
    source       TEXT NOT NULL CHECK (source IN ('checkout', 'admin', 'system')),
    version      BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX entitlement_history_by_company ON entitlement_history (company_id, version);

-- Events for consumers, written in the transaction of the change they describe. Read in
-- order of `seq` from GET /internal/events. `seq` comes from the one counter row, taken
-- under its row lock, so sequence order is commit order: a reader that has seen seq N
-- never later finds a smaller one appear.
CREATE TABLE outbox_counter (
    id   BIGINT PRIMARY KEY,
    seq  BIGINT NOT NULL
);
INSERT INTO outbox_counter (id, seq) VALUES (1, 0);

CREATE TABLE outbox_events (
    seq           BIGINT PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    topic         TEXT NOT NULL,
    company_id    TEXT,
    payload_json  TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

-- The catalog. Ticketing is not a module: it is Nextkt, a separate platform.
INSERT INTO modules (key, name, kind, description, sort_order) VALUES
    ('promoter', 'Promoters', 'base', 'Events, calendar, artist offers and venue bookings', 10),
    ('venue', 'Venue Management', 'base', 'Venues and spaces, availability, bookings and deals', 20),
    ('artist', 'Artist Relations', 'base', 'Roster, availability, offers received and deals', 30),
    ('vendor', 'Vendors', 'base', 'Vendor directory and vendor-side workflows', 40),
    ('finance', 'Finance', 'addon', 'Bills, income, vendors, exchange rates, profit and loss', 110),
    ('ai', 'AI', 'addon', 'Forecasts, price suggestions and market-value estimates on real sales', 120),
    ('touring', 'Touring', 'addon', 'Tours, routing, itineraries and budgets', 130),
    ('venue_marketplace', 'Venue Marketplace', 'addon', 'Venue listings, search, inquiries and holds', 140);

INSERT INTO packages (key, name, audience, base_module, trial_enabled, trial_days, active, sort_order) VALUES
    ('basic_promoter', 'Basic Promoter', 'promoter', 'promoter', 1, 14, 1, 10),
    ('basic_venue', 'Basic Venue', 'venue', 'venue', 1, 14, 1, 20),
    ('basic_artist', 'Basic Artist', 'artist', 'artist', 1, 14, 1, 30),
    ('basic_vendor', 'Basic Vendor', 'vendor', 'vendor', 0, 0, 1, 40);

INSERT INTO addons (key, name, module, audiences_json, trial_enabled, trial_days, active, sort_order) VALUES
    ('finance', 'Finance Module', 'finance', '["promoter","venue","artist","vendor"]', 1, 14, 1, 10),
    ('ai', 'AI Module', 'ai', '["promoter","venue","artist"]', 1, 14, 1, 20),
    ('touring', 'Touring Module', 'touring', '["promoter","artist"]', 1, 14, 1, 30),
    ('venue_marketplace', 'Venue Marketplace Module', 'venue_marketplace', '["promoter","artist"]', 0, 0, 1, 40);
