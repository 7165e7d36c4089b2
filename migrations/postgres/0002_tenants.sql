-- The tenant map for `tenant_source = "postgres://..."`, written by `realmgate tenant import`.
-- A tenant is kept as its file's text (and the IdP metadata document beside it), so reading
-- it back runs the same validation as a `domains/` file; the other columns are the parts
-- the lookups filter on.
CREATE TABLE tenants (
    account TEXT PRIMARY KEY,
    file_name TEXT NOT NULL,
    content TEXT NOT NULL,
    idp_metadata BYTEA,
    -- Entity ID of a stored or inline IdP (NULL for a metadata URL): finds the tenant of an
    -- unsolicited response without parsing every tenant's metadata.
    idp_entity_id TEXT,
    allow_idp_initiated BOOLEAN NOT NULL,
    include_subdomains BOOLEAN NOT NULL,
    -- SHA-256 of what was imported: a re-import rewrites and announces only what changed.
    digest TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per email domain. The primary key is both the lookup (the domain and its parent
-- suffixes in one `domain = ANY($1)` probe) and the rule that a domain has one tenant.
CREATE TABLE tenant_domains (
    domain TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES tenants (account) ON DELETE CASCADE
);

CREATE INDEX tenant_domains_account ON tenant_domains (account);
CREATE INDEX tenants_idp_initiated ON tenants (idp_entity_id) WHERE allow_idp_initiated;
