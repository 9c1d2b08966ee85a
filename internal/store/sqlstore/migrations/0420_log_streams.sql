-- Log streams: an organization's events pushed to its SIEM. Secret settings are sealed (AES-GCM) in secrets_sealed.
CREATE TABLE log_streams (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    type            TEXT NOT NULL,
    state           TEXT NOT NULL,
    config          TEXT NOT NULL DEFAULT '{}',
    secrets_sealed  TEXT NOT NULL DEFAULT '',
    last_error_code TEXT NOT NULL DEFAULT '',
    last_error_text TEXT NOT NULL DEFAULT '',
    last_error_at   BIGINT NOT NULL DEFAULT 0,
    last_synced_at  BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX log_streams_org ON log_streams (organization_id, id);
