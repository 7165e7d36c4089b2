-- Users made through the management API and SCIM are recorded as such (`api`, `scim`),
-- not as `cli` (issue 13). SQLite cannot change a CHECK constraint in place, so the table
-- is rebuilt with every column, row and index it had, and its id sequence: an id of a
-- deleted user is never handed out again (sessions and audit events name users by id).
CREATE TABLE users_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account       TEXT    NOT NULL,
    email         TEXT    NOT NULL,
    email_lower   TEXT    NOT NULL,
    name          TEXT    NOT NULL DEFAULT '',
    status        TEXT    NOT NULL CHECK (status IN ('active', 'waiting', 'disabled')),
    password_hash TEXT,
    admin         BOOLEAN NOT NULL DEFAULT FALSE,
    origin        TEXT    NOT NULL CHECK (origin IN ('cli', 'import', 'jit', 'api', 'scim')),
    subject       TEXT,
    created_at    TEXT    NOT NULL,
    last_login_at TEXT,
    external_id   TEXT,
    UNIQUE (account, email_lower)
);
INSERT INTO users_new (id, account, email, email_lower, name, status, password_hash, admin,
                       origin, subject, created_at, last_login_at, external_id)
    SELECT id, account, email, email_lower, name, status, password_hash, admin,
           origin, subject, created_at, last_login_at, external_id
    FROM users;
-- The copy set users_new's sequence to the highest id left; keep the old one when higher.
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'users_new', seq FROM sqlite_sequence WHERE name = 'users'
    AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'users_new');
UPDATE sqlite_sequence
    SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'users'), 0))
    WHERE name = 'users_new';
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE UNIQUE INDEX users_account_subject ON users (account, subject) WHERE subject IS NOT NULL;
CREATE INDEX users_status ON users (status);
CREATE UNIQUE INDEX users_account_external_id ON users (account, external_id)
    WHERE external_id IS NOT NULL;
