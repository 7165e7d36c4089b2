-- OAuth / OpenID Connect clients created through the management API (issue 16), beside the
-- operator's `[[oauth_clients]]`. `registration` is the client as a configuration entry
-- would be written (JSON), secret included only as its SHA-256 (`client_secret_hash`), and is
-- checked again on every load. `account` and `backchannel` repeat what the listing and the
-- back-channel logout filter on.
CREATE TABLE oauth_clients (
    client_id    TEXT PRIMARY KEY,
    account      TEXT,
    backchannel  BOOLEAN NOT NULL,
    registration TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX oauth_clients_account ON oauth_clients (account);
