-- Audit logs: events a host app records per organization, action schemas, CSV exports, retention.
CREATE TABLE audit_log_events (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    action          TEXT NOT NULL,
    occurred_at     BIGINT NOT NULL,
    version         INTEGER NOT NULL DEFAULT 0,
    actor_id        TEXT NOT NULL,
    actor_type      TEXT NOT NULL,
    actor_name      TEXT NOT NULL DEFAULT '',
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX audit_log_events_org_time ON audit_log_events (organization_id, occurred_at, id);

CREATE TABLE audit_log_schemas (
    action     TEXT NOT NULL,
    version    INTEGER NOT NULL,
    schema     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (action, version)
);

CREATE TABLE audit_log_exports (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    state           TEXT NOT NULL,
    filter          TEXT NOT NULL,
    csv             {{BYTES}},
    error           TEXT NOT NULL DEFAULT '',
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX audit_log_exports_due ON audit_log_exports (next_attempt_at) WHERE state = 'pending';

CREATE TABLE audit_log_retention (
    organization_id TEXT PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    days            INTEGER NOT NULL
);
