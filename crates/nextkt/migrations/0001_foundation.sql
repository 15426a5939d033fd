-- Foundation: tenancy, operator and buyer identities, sessions, keys, audit, idempotency, outbox.
-- Written in the SQL that both SQLite and PostgreSQL accept: ids are TEXT (UUIDv7 or a
-- partner-chosen id), instants are BIGINT milliseconds since the Unix epoch (UTC), flags are
-- nullable instants (revoked_at, suspended_at) rather than booleans.

CREATE TABLE partners (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    key_prefix    TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);

CREATE TABLE organizations (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    currency      TEXT NOT NULL,
    timezone      TEXT NOT NULL,
    locale        TEXT NOT NULL,
    support_email TEXT,
    website       TEXT,
    partner_id    TEXT REFERENCES partners(id),
    external_ref  TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    suspended_at  BIGINT
);
CREATE UNIQUE INDEX organizations_partner_ref ON organizations (partner_id, external_ref);

CREATE TABLE operators (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE memberships (
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    operator_id     TEXT NOT NULL REFERENCES operators(id),
    role            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (organization_id, operator_id)
);
CREATE INDEX memberships_operator ON memberships (operator_id);

CREATE TABLE buyers (
    id                TEXT PRIMARY KEY,
    organization_id   TEXT NOT NULL REFERENCES organizations(id),
    email             TEXT NOT NULL,
    name              TEXT NOT NULL,
    password_hash     TEXT NOT NULL,
    email_verified_at BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE UNIQUE INDEX buyers_org_email ON buyers (organization_id, email);

-- Access and refresh tokens of operators and buyers. A refresh creates the next row of the
-- same family and marks the old one rotated; presenting a rotated refresh token again revokes
-- the whole family (token theft detection).
CREATE TABLE sessions (
    id                 TEXT PRIMARY KEY,
    family_id          TEXT NOT NULL,
    subject_kind       TEXT NOT NULL,
    subject_id         TEXT NOT NULL,
    organization_id    TEXT,
    access_hash        TEXT NOT NULL UNIQUE,
    access_expires_at  BIGINT NOT NULL,
    refresh_hash       TEXT NOT NULL UNIQUE,
    refresh_expires_at BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    rotated_at         BIGINT,
    revoked_at         BIGINT
);
CREATE INDEX sessions_family ON sessions (family_id);
CREATE INDEX sessions_subject ON sessions (subject_kind, subject_id);

-- Single-use tokens sent by email (operator invitations, buyer password resets).
CREATE TABLE one_time_tokens (
    token_hash      TEXT PRIMARY KEY,
    purpose         TEXT NOT NULL,
    subject_id      TEXT NOT NULL,
    organization_id TEXT,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT,
    created_at      BIGINT NOT NULL
);

-- Organization API keys: kind 'admin' (operator API with a role) or 'storefront'
-- (the organization's consumer API); mode 'live' or 'test'.
CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    kind            TEXT NOT NULL,
    mode            TEXT NOT NULL,
    name            TEXT NOT NULL,
    prefix          TEXT NOT NULL,
    secret_hash     TEXT NOT NULL UNIQUE,
    role            TEXT,
    created_by_kind TEXT NOT NULL,
    created_by_id   TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT,
    last_used_at    BIGINT,
    revoked_at      BIGINT
);
CREATE INDEX api_keys_org ON api_keys (organization_id, id);

CREATE TABLE audit_log (
    id              TEXT PRIMARY KEY,
    organization_id TEXT,
    actor_kind      TEXT NOT NULL,
    actor_id        TEXT NOT NULL,
    action          TEXT NOT NULL,
    target_kind     TEXT NOT NULL,
    target_id       TEXT NOT NULL,
    before_json     TEXT,
    after_json      TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX audit_log_org ON audit_log (organization_id, id);

-- Idempotency-Key records: one per (credential, key). state 'running' until the first
-- response is stored, then 'done'.
CREATE TABLE idempotency_keys (
    scope_hash    TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    state         TEXT NOT NULL,
    status_code   BIGINT,
    content_type  TEXT,
    body          TEXT,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (scope_hash, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Outgoing email, written in the same transaction as the change that causes it and
-- delivered later by the email worker.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    organization_id TEXT,
    template        TEXT NOT NULL,
    locale          TEXT NOT NULL,
    to_address      TEXT NOT NULL,
    payload_json    TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX outbox_pending ON outbox (status, next_attempt_at);
