-- Directory Sync: directories, SCIM tokens, users, emails, groups, memberships, SCIM request log.
-- Lower-cased copies of case-insensitive SCIM attributes (userName, emails, displayName) are kept in
-- their own indexed columns so filters and uniqueness run on indexes on both backends.
CREATE TABLE directories (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    type            TEXT NOT NULL,
    name            TEXT NOT NULL,
    state           TEXT NOT NULL,
    domain          TEXT NOT NULL DEFAULT '',
    external_key    TEXT NOT NULL,
    activated_at    BIGINT NOT NULL DEFAULT 0,
    google          TEXT NOT NULL DEFAULT '',
    next_sync_at    BIGINT NOT NULL DEFAULT 0,
    last_sync_at    BIGINT NOT NULL DEFAULT 0,
    last_sync_error TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX directories_org ON directories (organization_id, id);
CREATE INDEX directories_sync_due ON directories (next_sync_at) WHERE next_sync_at > 0;

CREATE TABLE directory_tokens (
    id           TEXT PRIMARY KEY,
    directory_id TEXT NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    hash         {{BYTES}} NOT NULL UNIQUE,
    suffix       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX directory_tokens_dir ON directory_tokens (directory_id, id);

CREATE TABLE directory_users (
    id                TEXT PRIMARY KEY,
    directory_id      TEXT NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    organization_id   TEXT NOT NULL,
    idp_id            TEXT NOT NULL,
    external_id       TEXT NOT NULL DEFAULT '',
    user_name         TEXT NOT NULL,
    user_name_lower   TEXT NOT NULL,
    email             TEXT NOT NULL DEFAULT '',
    email_lower       TEXT NOT NULL DEFAULT '',
    first_name        TEXT NOT NULL DEFAULT '',
    last_name         TEXT NOT NULL DEFAULT '',
    display_name      TEXT NOT NULL DEFAULT '',
    display_name_lower TEXT NOT NULL DEFAULT '',
    job_title         TEXT NOT NULL DEFAULT '',
    state             TEXT NOT NULL,
    emails            TEXT NOT NULL DEFAULT '[]',
    attributes        TEXT NOT NULL,
    custom_attributes TEXT NOT NULL DEFAULT '{}',
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE UNIQUE INDEX directory_users_user_name ON directory_users (directory_id, user_name_lower);
CREATE INDEX directory_users_dir ON directory_users (directory_id, id);
CREATE INDEX directory_users_idp ON directory_users (directory_id, idp_id);
CREATE INDEX directory_users_ext ON directory_users (directory_id, external_id);
CREATE INDEX directory_users_email ON directory_users (directory_id, email_lower);
CREATE INDEX directory_users_display ON directory_users (directory_id, display_name_lower);

-- One row per address, for emails[type eq "work"].value style filters.
CREATE TABLE directory_user_emails (
    user_id      TEXT NOT NULL REFERENCES directory_users (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    directory_id TEXT NOT NULL,
    value        TEXT NOT NULL,
    value_lower  TEXT NOT NULL,
    type         TEXT NOT NULL DEFAULT '',
    is_primary   BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, position)
);
CREATE INDEX directory_user_emails_value ON directory_user_emails (directory_id, value_lower);

CREATE TABLE directory_groups (
    id                 TEXT PRIMARY KEY,
    directory_id       TEXT NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    organization_id    TEXT NOT NULL,
    idp_id             TEXT NOT NULL,
    external_id        TEXT NOT NULL DEFAULT '',
    display_name       TEXT NOT NULL,
    display_name_lower TEXT NOT NULL,
    attributes         TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX directory_groups_dir ON directory_groups (directory_id, id);
CREATE INDEX directory_groups_display ON directory_groups (directory_id, display_name_lower);
CREATE INDEX directory_groups_ext ON directory_groups (directory_id, external_id);
CREATE INDEX directory_groups_idp ON directory_groups (directory_id, idp_id);

CREATE TABLE directory_memberships (
    group_id     TEXT NOT NULL REFERENCES directory_groups (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES directory_users (id) ON DELETE CASCADE,
    directory_id TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX directory_memberships_user ON directory_memberships (user_id, group_id);

CREATE TABLE scim_requests (
    id            TEXT PRIMARY KEY,
    directory_id  TEXT NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    method        TEXT NOT NULL,
    path          TEXT NOT NULL,
    status        INTEGER NOT NULL,
    error         TEXT NOT NULL DEFAULT '',
    latency_us    BIGINT NOT NULL,
    request_body  TEXT NOT NULL DEFAULT '',
    response_body TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL
);
CREATE INDEX scim_requests_dir ON scim_requests (directory_id, id);
CREATE INDEX scim_requests_created ON scim_requests (created_at);
