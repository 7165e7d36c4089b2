-- What a provisioning client says of a person beyond the login address (issue 13, SCIM):
-- the parts of the name and the email addresses, each kept as sent so a client reads back
-- what it wrote. Same statements as migrations/sqlite/0006; `emails` is a JSON array of
-- {value, type, primary} objects, as TEXT like scim_groups.members.
ALTER TABLE users ADD COLUMN given_name TEXT;
ALTER TABLE users ADD COLUMN family_name TEXT;
ALTER TABLE users ADD COLUMN formatted_name TEXT;
ALTER TABLE users ADD COLUMN emails TEXT NOT NULL DEFAULT '[]';
-- Until now the SCIM view of every user showed the login address as the primary work email
-- and the display name as the formatted name: keep that view of the users already there.
UPDATE users SET
    emails = json_build_array(json_build_object('value', email, 'type', 'work', 'primary', true))::text,
    formatted_name = NULLIF(name, '');
