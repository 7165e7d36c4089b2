-- Users of every tenant. Emails are unique per account regardless of case, through
-- email_lower (lower-cased by the application, so SQLite and PostgreSQL agree on Unicode).
CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account       TEXT        NOT NULL,
    email         TEXT        NOT NULL,
    email_lower   TEXT        NOT NULL,
    name          TEXT        NOT NULL DEFAULT '',
    status        TEXT        NOT NULL CHECK (status IN ('active', 'waiting', 'disabled')),
    password_hash TEXT,
    admin         BOOLEAN     NOT NULL DEFAULT FALSE,
    origin        TEXT        NOT NULL CHECK (origin IN ('cli', 'import', 'jit')),
    subject       TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    last_login_at TIMESTAMPTZ,
    UNIQUE (account, email_lower)
);

-- One IdP subject is one person: it may be bound to a single user per account.
CREATE UNIQUE INDEX users_account_subject ON users (account, subject) WHERE subject IS NOT NULL;
CREATE INDEX users_status ON users (status);
