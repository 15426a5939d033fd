-- The finance addon: vendors, bills (accounts payable), income, exchange rates and the
-- finance audit log, all per company. Money is integer minor units of an ISO 4217
-- currency. Dates without a time (due, received, rate dates) are TEXT `YYYY-MM-DD`.

CREATE TABLE finance_vendors (
    id           TEXT PRIMARY KEY,
    company_id   TEXT NOT NULL REFERENCES companies(id),
    name         TEXT NOT NULL,
    email        TEXT,
    tax_id       TEXT,
    archived     BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (company_id, name)
);

CREATE TABLE finance_bills (
    id              TEXT PRIMARY KEY,
    company_id      TEXT NOT NULL REFERENCES companies(id),
    number          TEXT NOT NULL,
    vendor_id       TEXT NOT NULL REFERENCES finance_vendors(id),
    category        TEXT NOT NULL,
    currency        TEXT NOT NULL,
    amount          BIGINT NOT NULL CHECK (amount > 0),
    tax             BIGINT NOT NULL CHECK (tax >= 0),
    issued_on       TEXT NOT NULL,
    due_on          TEXT NOT NULL,
    event_ref       TEXT,
    description     TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('draft', 'submitted', 'approved', 'paid', 'rejected', 'void')),
    reason          TEXT,
    created_by      TEXT NOT NULL,
    submitted_at    BIGINT,
    decided_by      TEXT,
    decided_at      BIGINT,
    paid_on         TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (company_id, number)
);
CREATE INDEX finance_bills_by_company ON finance_bills (company_id, id);
CREATE INDEX finance_bills_by_event ON finance_bills (company_id, event_ref);

CREATE TABLE finance_income (
    id           TEXT PRIMARY KEY,
    company_id   TEXT NOT NULL REFERENCES companies(id),
    source       TEXT NOT NULL CHECK (source IN ('manual', 'ticketing_settlement', 'venue_deposit', 'sponsorship', 'other')),
    source_ref   TEXT,
    currency     TEXT NOT NULL,
    amount       BIGINT NOT NULL CHECK (amount > 0),
    received_on  TEXT NOT NULL,
    event_ref    TEXT,
    description  TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
-- A pushed settlement (or any income with a reference) is recorded once per company: a
-- repeated push finds the row instead of making a second.
CREATE UNIQUE INDEX finance_income_source_ref ON finance_income (company_id, source_ref)
    WHERE source_ref IS NOT NULL;
CREATE INDEX finance_income_by_company ON finance_income (company_id, id);
CREATE INDEX finance_income_by_event ON finance_income (company_id, event_ref);

-- `rate` is a decimal string: 1 unit of `base` = `rate` units of `quote` on `rate_date`.
CREATE TABLE finance_fx_rates (
    company_id  TEXT NOT NULL REFERENCES companies(id),
    rate_date   TEXT NOT NULL,
    base        TEXT NOT NULL,
    quote       TEXT NOT NULL,
    rate        TEXT NOT NULL,
    set_by      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (company_id, base, quote, rate_date)
);

CREATE TABLE finance_audit (
    id           TEXT PRIMARY KEY,
    company_id   TEXT NOT NULL REFERENCES companies(id),
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    target_kind  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    before_json  TEXT,
    after_json   TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX finance_audit_by_company ON finance_audit (company_id, id);
