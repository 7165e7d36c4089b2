-- The Management API (issue 13). Same statements as migrations/sqlite/0003 but for the
-- column types: TIMESTAMPTZ and identity ids.

-- The IdP's (SCIM client's) id for a user; unique per account when set.
ALTER TABLE users ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX users_account_external_id ON users (account, external_id)
    WHERE external_id IS NOT NULL;

-- API tokens: only the SHA-256 of a token is kept, so a copy of the database grants nothing.
-- No account: the operator's token, for every tenant.
CREATE TABLE api_tokens (
    name         TEXT NOT NULL PRIMARY KEY,
    account      TEXT,
    scope        TEXT NOT NULL CHECK (scope IN ('admin', 'scim')),
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ
);

-- Who changed what. before/after are JSON documents (NULL for a creation or a deletion).
CREATE TABLE audit_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    actor       TEXT NOT NULL,
    account     TEXT,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    before_json TEXT,
    after_json  TEXT
);
CREATE INDEX audit_events_account_at ON audit_events (account, at);
CREATE INDEX audit_events_at ON audit_events (at);

-- SCIM groups: accepted and listed only (Entra's group assignment must not fail); members
-- is a JSON array of SCIM member objects.
CREATE TABLE scim_groups (
    id           TEXT NOT NULL PRIMARY KEY,
    account      TEXT NOT NULL,
    display_name TEXT NOT NULL,
    external_id  TEXT,
    members      TEXT NOT NULL DEFAULT '[]',
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX scim_groups_account ON scim_groups (account, display_name);
