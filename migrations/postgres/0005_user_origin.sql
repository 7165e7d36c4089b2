-- Users made through the management API and SCIM are recorded as such (`api`, `scim`),
-- not as `cli` (issue 13). Same change as migrations/sqlite/0005, which has to rebuild
-- the table for it.
ALTER TABLE users DROP CONSTRAINT users_origin_check;
ALTER TABLE users ADD CONSTRAINT users_origin_check
    CHECK (origin IN ('cli', 'import', 'jit', 'api', 'scim'));
