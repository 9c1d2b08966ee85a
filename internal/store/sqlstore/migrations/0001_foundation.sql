-- Foundation: settings, API keys, idempotency, organizations, domains, the event outbox.
-- Timestamps are Unix milliseconds (BIGINT); JSON is TEXT; {{...}} are dialect macros (see migrate.go).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    hash         {{BYTES}} NOT NULL UNIQUE,
    suffix       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE idempotency_keys (
    scope        TEXT PRIMARY KEY,
    request_hash {{BYTES}} NOT NULL,
    status       INTEGER NOT NULL,
    body         {{BYTES}},
    created_at   BIGINT NOT NULL
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE organizations (
    id                                  TEXT PRIMARY KEY,
    name                                TEXT NOT NULL,
    external_id                         TEXT UNIQUE,
    stripe_customer_id                  TEXT NOT NULL DEFAULT '',
    metadata                            TEXT NOT NULL DEFAULT '{}',
    allow_profiles_outside_organization BOOLEAN NOT NULL DEFAULT FALSE,
    sso_policy                          TEXT NOT NULL DEFAULT 'optional',
    created_at                          BIGINT NOT NULL,
    updated_at                          BIGINT NOT NULL
);

CREATE TABLE organization_domains (
    id                    TEXT PRIMARY KEY,
    organization_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    domain                TEXT NOT NULL,
    state                 TEXT NOT NULL,
    verification_strategy TEXT NOT NULL,
    verification_token    TEXT NOT NULL,
    verification_prefix   TEXT NOT NULL,
    last_checked_at       BIGINT NOT NULL DEFAULT 0,
    last_check_error      TEXT NOT NULL DEFAULT '',
    last_check_message    TEXT NOT NULL DEFAULT '',
    next_check_at         BIGINT NOT NULL DEFAULT 0,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    UNIQUE (organization_id, domain)
);
-- A domain can be verified by one organization only.
CREATE UNIQUE INDEX organization_domains_verified ON organization_domains (domain) WHERE state = 'verified';
CREATE INDEX organization_domains_domain ON organization_domains (domain);
CREATE INDEX organization_domains_due ON organization_domains (next_check_at) WHERE state = 'pending';

-- The outbox. seq is commit order (see AppendEvent); id is the public cursor.
CREATE TABLE events (
    seq             {{SERIAL_PK}},
    id              TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    organization_id TEXT,
    data            TEXT NOT NULL,
    context         TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX events_org_seq ON events (organization_id, seq);
CREATE INDEX events_name_seq ON events (name, seq);
CREATE INDEX events_created ON events (created_at);
