-- SSO: connections, IdP certificates, logins in flight, one-time codes,
-- access tokens, the assertion replay cache and the redirect URI allow-list.
CREATE TABLE sso_connections (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    connection_type TEXT NOT NULL,
    name            TEXT NOT NULL,
    state           TEXT NOT NULL,
    protocol        TEXT NOT NULL,
    config          TEXT NOT NULL,
    next_refresh_at BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX sso_connections_org ON sso_connections (organization_id, id);
CREATE INDEX sso_connections_refresh ON sso_connections (next_refresh_at) WHERE next_refresh_at > 0;

CREATE TABLE sso_certificates (
    connection_id TEXT NOT NULL REFERENCES sso_connections (id) ON DELETE CASCADE,
    fingerprint   TEXT NOT NULL,
    pem           TEXT NOT NULL,
    not_before    BIGINT NOT NULL,
    not_after     BIGINT NOT NULL,
    source        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (connection_id, fingerprint)
);

CREATE TABLE sso_requests (
    id              TEXT PRIMARY KEY,
    connection_id   TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    state           TEXT NOT NULL,
    nonce           TEXT NOT NULL,
    code_verifier   TEXT NOT NULL,
    code_challenge  TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    ip_address      TEXT NOT NULL,
    user_agent      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX sso_requests_expires ON sso_requests (expires_at);

CREATE TABLE sso_codes (
    hash            {{BYTES}} PRIMARY KEY,
    connection_id   TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    profile         TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    code_challenge  TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX sso_codes_expires ON sso_codes (expires_at);

CREATE TABLE sso_tokens (
    hash            {{BYTES}} PRIMARY KEY,
    connection_id   TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    profile         TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    code_challenge  TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX sso_tokens_expires ON sso_tokens (expires_at);

CREATE TABLE sso_replay (
    key        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sso_replay_expires ON sso_replay (expires_at);

CREATE TABLE redirect_uris (
    id         TEXT PRIMARY KEY,
    uri        TEXT NOT NULL UNIQUE,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
