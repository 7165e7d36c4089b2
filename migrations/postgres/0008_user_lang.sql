-- The language of each person's last sign-in or request (issue 14), so the mail sent to
-- them (approval, denial, invitation, Waiting Room notice) is in their language. NULL:
-- not known yet; mail then goes in the default language. A BCP 47 tag, read back through
-- the catalog's languages (a tag no longer served reads as unknown).
ALTER TABLE users ADD COLUMN lang TEXT;

-- The console's lists with 10,000 users in an account: a status filter walks one
-- account's users of that status in list order, and the audit page one account's events
-- newest first (by id), each without a sort.
CREATE INDEX users_account_status_email ON users (account, status, email_lower);
CREATE INDEX audit_events_account_id ON audit_events (account, id);
