-- Tenants created through the management API (issue 13) share the tenant map's tables
-- (0002): in the users' database beside the `domains/` files, or in the `tenant_source`
-- database. `origin` keeps `realmgate tenant import` to the rows it wrote; verified_at is
-- when an API domain's DNS proof held (such a domain routes to SSO only then).
ALTER TABLE tenants ADD COLUMN origin TEXT NOT NULL DEFAULT 'import'
    CHECK (origin IN ('import', 'api'));
ALTER TABLE tenant_domains ADD COLUMN verified_at TIMESTAMPTZ;
