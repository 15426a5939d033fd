-- Auth: users, their sessions (rotating refresh tokens), the JWT signing keys, company
-- memberships with a tenant role, per-membership module grants and permissions, and the
-- permission catalog. Same conventions as 0001.

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    -- Access tokens carry it; bumped by logout and password change, which revokes every
    -- access token issued before.
    token_version  BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

-- One row per refresh token. A refresh marks its token used and issues the next of the same
-- family; a used token presented again revokes the whole family (reuse detection).
CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY,
    family_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id),
    token_hash  TEXT NOT NULL UNIQUE,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    revoked_at  BIGINT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

-- Ed25519 keys that sign access tokens. The newest unretired key signs; every key not yet
-- dropped verifies and is published in the JWKS.
CREATE TABLE signing_keys (
    kid           TEXT PRIMARY KEY,
    private_pkcs8 TEXT NOT NULL,
    public_key    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    retired_at    BIGINT,
    drop_after    BIGINT
);

CREATE TABLE memberships (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users(id),
    company_id      TEXT NOT NULL REFERENCES companies(id),
    role            TEXT NOT NULL CHECK (role IN ('TENANT_SUPERADMIN', 'ADMIN', 'MANAGER', 'USER')),
    -- Bumped with every change of the membership's role or grants.
    access_version  BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (user_id, company_id)
);
CREATE INDEX memberships_company ON memberships (company_id, user_id);

CREATE TABLE membership_modules (
    membership_id  TEXT NOT NULL REFERENCES memberships(id),
    module         TEXT NOT NULL REFERENCES modules(key),
    PRIMARY KEY (membership_id, module)
);

CREATE TABLE permissions (
    key          TEXT PRIMARY KEY,
    module       TEXT NOT NULL REFERENCES modules(key),
    description  TEXT NOT NULL
);

CREATE TABLE membership_permissions (
    membership_id  TEXT NOT NULL REFERENCES memberships(id),
    permission     TEXT NOT NULL REFERENCES permissions(key),
    PRIMARY KEY (membership_id, permission)
);

-- The permission catalog, `<module>.<resource>.<action>`. Later migrations add keys as
-- modules gain routes.
INSERT INTO permissions (key, module, description) VALUES
    ('promoter.events.read', 'promoter', 'See the company''s events'),
    ('promoter.events.manage', 'promoter', 'Create and change events'),
    ('venue.venues.read', 'venue', 'See the company''s venues and spaces'),
    ('venue.venues.manage', 'venue', 'Create and change venues and spaces'),
    ('artist.profiles.read', 'artist', 'See the company''s artist profiles'),
    ('artist.profiles.manage', 'artist', 'Create and change artist profiles'),
    ('vendor.profile.manage', 'vendor', 'Change the vendor profile'),
    ('finance.vendors.read', 'finance', 'See vendors'),
    ('finance.vendors.manage', 'finance', 'Create and change vendors'),
    ('finance.bills.read', 'finance', 'See bills'),
    ('finance.bills.create', 'finance', 'Create draft bills'),
    ('finance.bills.update', 'finance', 'Change draft bills and submit them'),
    ('finance.bills.approve', 'finance', 'Approve or reject submitted bills'),
    ('finance.bills.pay', 'finance', 'Mark approved bills paid'),
    ('finance.bills.void', 'finance', 'Void bills'),
    ('finance.income.read', 'finance', 'See income'),
    ('finance.income.create', 'finance', 'Record income'),
    ('finance.income.update', 'finance', 'Change recorded income'),
    ('finance.fx.read', 'finance', 'See exchange rates'),
    ('finance.fx.manage', 'finance', 'Set exchange rates'),
    ('finance.reports.read', 'finance', 'See profit and loss'),
    ('finance.audit.read', 'finance', 'See the finance audit log'),
    ('ai.predictions.read', 'ai', 'See forecasts and estimates'),
    ('touring.tours.read', 'touring', 'See tours'),
    ('touring.tours.manage', 'touring', 'Create and change tours'),
    ('venue_marketplace.listings.read', 'venue_marketplace', 'Search venue listings'),
    ('venue_marketplace.inquiries.manage', 'venue_marketplace', 'Send and answer booking inquiries');
