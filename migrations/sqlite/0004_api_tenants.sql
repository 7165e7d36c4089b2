-- Tenants created through the management API (issue 13), in the users' database. The same
-- tables as the PostgreSQL tenant map (migrations/postgres/0002 and 0004), so a row is read
-- back the same way: a tenant file's text, validated again on every load.
CREATE TABLE tenants (
    account             TEXT PRIMARY KEY,
    file_name           TEXT NOT NULL,
    content             TEXT NOT NULL,
    idp_metadata        BLOB,
    idp_entity_id       TEXT,
    allow_idp_initiated BOOLEAN NOT NULL,
    include_subdomains  BOOLEAN NOT NULL,
    digest              TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    -- 'api': created through the management API; 'import' exists only in PostgreSQL.
    origin              TEXT NOT NULL DEFAULT 'api' CHECK (origin IN ('import', 'api'))
);

-- One row per email domain: the primary key is the rule that a domain has one tenant.
-- verified_at: when the domain's DNS proof held (API tenants route to SSO only then).
CREATE TABLE tenant_domains (
    domain      TEXT PRIMARY KEY,
    account     TEXT NOT NULL REFERENCES tenants (account) ON DELETE CASCADE,
    verified_at TEXT
);
CREATE INDEX tenant_domains_account ON tenant_domains (account);
