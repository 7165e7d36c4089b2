## Every page
title-suffix = {$title} · {$brand}
language-switch = Language
language-en = English
language-fr = Français
switch-language = Change

## Sign-on (email) page
sign-in = Sign in
email-address = Email address
continue = Continue
use-another-email = Use another email

## Email address errors
email-empty = Enter your email address.
email-too-long = That email address is too long.
email-at = An email address has exactly one @, like name@example.com.
email-whitespace = An email address cannot contain spaces or control characters.
email-noncharacter = That email address contains a character that cannot be used.
email-local-part = Something is missing before the @.
email-domain = The part after the @ is not a valid domain.

## SSO button page
sso-intro = {$tenant} signs you in with your organisation's account.

## Password step
enter-password = Enter your password
password = Password
forgot-password = Forgot password?
password-incorrect = The email or password is incorrect.
password-too-many = Too many attempts. Wait a few minutes and try again.
no-sso-notice = Administrator fail-safe sign-in for {$tenant}. Everyone else signs in with single sign-on.

## Password reset and set-password pages
reset-title = Reset your password
reset-intro = Enter the email address you sign in with. If it has a password here, we will send it a link to choose a new one.
reset-send = Send the link
reset-sent-title = Check your email
reset-sent = If this address has a password here, a link to choose a new one is on its way. The link works once, for 30 minutes.
reset-too-many = Too many requests. Wait a few minutes and try again.
set-password-title = Choose a password
new-password = New password
new-password-hint = At least {$min} characters.
confirm-password = Repeat the new password
set-password-save = Save the password
set-password-mismatch = The two passwords differ.
set-password-weak = Use a password of at least {$min} characters.
set-password-done-title = Password saved
set-password-done = Your password is saved and your other sessions are signed out. Sign in with the new password.
link-invalid-title = Link not valid
link-invalid = This link is not valid, has expired or was already used. Ask for a new one.
ask-new-link = Ask for a new link
back-to-sign-in = Back to sign in

## Signed-in page
signed-in-title = Signed in
signed-in-as = You are signed in as {$name}.
signed-out-title = Signed out
signed-out = You are signed out. You can close this window.
sign-out = Sign out
end-session-asked = An application asked to sign you out of your organisation's account.
end-session-problem-title = Sign-out problem
end-session-problem = The application asked to sign you out with a request this service cannot accept.

## Waiting Room
waiting-title = Waiting for approval
waiting-sso = Your organisation signed you in, and your account was created. An administrator must approve it before you can continue; try again once they have.
waiting-password = Your account is waiting: an administrator must approve it before you can continue; try again once they have.
waiting-generic = Some organisations approve each new account before it can be used. If yours is waiting, sign in again once an administrator has approved it.

## SAML POST binding
post-binding-title = Continuing to your organisation
post-binding-noscript = JavaScript is off: press Continue.

## Device pages
device-title = Connect a device
device-confirm-who = A device is asking to sign in as
device-confirm-code = with the code
device-approve-only = Approve only if that code is on a device in front of you.
device-qr-alt = QR code of this page's address, to continue on a phone
device-qr-caption = Scan to continue on your phone.
device-approve = Approve
device-deny = Deny
device-code-label = Code shown on your device
device-code-invalid = That code is not valid or has expired. Check the code on your device.
device-approved-title = Device approved
device-approved = Your device is signed in. You can close this page.
device-denied-title = Device denied
device-denied = The device was not signed in. You can close this page.
device-other-account = This device asked for another account than the one you are signed in with.
device-code-used = That code is not valid, has expired or was already used. Start again on your device.

## Error pages
error-code = Error code:
error-title-not-found = Not found
error-title-unavailable = Temporarily unavailable
error-title-sign-in = Sign-in problem
error-csrf = Your sign-in form expired. Go back, reload the page and try again.
error-return-to = The link you followed asks to send you to a site this sign-in service does not serve.
error-bad-request = The request could not be understood.
error-not-found = There is nothing here.
error-not-admin = You are not an administrator of this account.
error-stale-sign-in = This change needs a recent sign-in. Sign in again, then repeat it.
error-admin-refused = This change was refused.
error-unauthenticated = Sign in to continue.
error-unavailable = Sign-in is temporarily unavailable. Please try again in a minute.
error-idp-status = Your organisation's sign-in service did not sign you in (it may have been cancelled). You can try again.
error-authentication = Authentication failed. Start again from the sign-in page.
error-other-browser = This sign-in was not started in this browser, or it took too long. Start again from the sign-in page.
error-not-provisioned = Your organisation has not given you access to this service yet. Ask your administrator.
error-disabled = Your account is disabled. Ask your administrator.
error-foreign-email = Your organisation's sign-in service vouched for an email address that does not belong to it.
error-unmatched = Your sign-in could not be matched to your account. Ask your administrator.
error-sso-required = Your organisation signs you in with single sign-on. Go back and use its button.
error-rate-limited = Too many attempts. Try again in {$seconds} seconds.
error-no-idp = Single sign-on for your organisation is unavailable: this service has no usable metadata from your organisation's sign-in service (identity provider). If this lasts, tell your administrator the error code below.
error-oauth-request = The app asked to sign you in with a request this service cannot accept. Go back to the app and try again.

## Account admin console: the frame
console-title-suffix = {$title} · {$tenant} · {$brand}
console-brand = {$tenant} administration
console-sections = Console sections
console-nav-home = Overview
console-nav-users = Users
console-nav-domains = Domains
console-nav-traces = Login traces
console-nav-audit = Audit log
console-signed-in-as = Signed in as
console-back = Back
console-copy = Copy
console-copied = Copied to the clipboard.
console-status-active = Active
console-status-waiting = Waiting
console-status-disabled = Disabled

## Console: overview
console-home-title = Overview
console-home-account = Account
console-home-sign-in = Sign-in
console-home-sso = Single sign-on (button “{$button}”)
console-home-password = Password
console-home-users = Users
console-home-waiting = Waiting for approval
console-home-sign-on-url = Sign-on URL
console-home-sign-on-url-what = (where your people start signing in)
console-home-fail-safe-url = Fail-safe URL
console-home-fail-safe-url-what = (password sign-in for this account's administrators when single sign-on is broken; bookmark it)

## Console: users
console-users-title = Users
console-users-done-added = The user was added.
console-users-done-invited = The invitation was sent.
console-users-done-approved = The user was approved and can sign in now.
console-users-done-denied = The request was denied; that person cannot sign in.
console-users-done-disabled = The user was disabled and signed out.
console-users-done-enabled = The user was enabled.
console-users-done-admin-granted = The user is now an administrator.
console-users-done-admin-removed = The user is no longer an administrator.
console-users-waiting-title = Waiting Room ({$count})
console-users-email = Email
console-users-name = Name
console-users-asked = Asked
console-users-decision = Decision
console-users-approve = Approve
console-users-approve-who = Approve {$email}
console-users-reason = Reason (optional)
console-users-deny = Deny
console-users-deny-who = Deny {$email}
console-users-all-waiting = All {$count} waiting users
console-users-waiting-empty = Nobody is waiting for approval.
console-users-all-title = All users ({$count})
console-users-search-label = Search email or name
console-users-status = Status
console-users-status-any = Any
console-users-search = Search
console-users-role = Role
console-users-last-sign-in = Last sign-in
console-users-actions = Actions
console-users-role-admin = Administrator
console-users-role-user = User
console-users-never = Never
console-users-you = (you)
console-users-disable = Disable
console-users-disable-who = Disable {$email}
console-users-enable = Enable
console-users-enable-who = Enable {$email}
console-users-unadmin = Remove administrator rights
console-users-unadmin-who = Remove administrator rights of {$email}
console-users-make-admin = Make administrator
console-users-make-admin-who = Make administrator: {$email}
console-users-pages = Pages of users
console-users-first = First page
console-users-prev = Previous page
console-users-next = Next page
console-users-none = No user matches.
console-users-invite-title = Invite a user
console-users-invite-sso = They get an email saying where to sign in with your organisation's single sign-on.
console-users-invite-password = They get an email with a link to choose their password; it works once, for 7 days.
console-users-invite = Send the invitation
console-users-email-address = Email address
console-users-admin-recent = Administrator (needs a sign-in of the last 15 minutes)
console-users-add-title = Add a user
console-users-add-intro = They sign in with your organisation's single sign-on (or their password, for a password account); no password is set here.
console-users-add = Add user
console-users-import-title = Import users from a CSV file
console-users-import-intro = Columns email, name, admin (true or false). Importing the same file twice changes nothing; bad lines are reported and the others imported. Needs a sign-in of the last 15 minutes.
console-users-csv-file = CSV file
console-users-import = Import

## Console: import report
console-import-title = Import report
console-import-created = created
console-import-updated = updated
console-import-unchanged = unchanged
console-import-errors = Lines not imported
console-import-clean = Every line was imported.
console-import-back = Back to the users

## Console: domains
console-domains-title = Domains
console-domains-intro-sso = People whose email address is of a domain below sign in with your organisation's single sign-on, once the domain's DNS proof holds: publish the TXT record shown, then verify.
console-domains-intro-password = The email domains of this account's people. To prove a domain is yours, publish the TXT record shown, then verify.
console-domains-read-only = These settings are managed by the operator in {$file}; they are shown read-only.
console-domains-domain = Domain
console-domains-proof = DNS proof
console-domains-record = TXT record to publish
console-domains-record-name = Name
console-domains-record-type = Type
console-domains-record-value = Value
console-domains-verified = Verified
console-domains-unverified = Not verified yet
console-domains-copy-name = Copy the record name of {$domain}
console-domains-copy-value = Copy the record value of {$domain}
console-domains-verify = Verify now
console-domains-verify-which = Verify now: {$domain}
console-domains-remove = Remove
console-domains-remove-which = Remove {$domain}
console-domains-none = This account has no domain yet.
console-domains-add-title = Add a domain
console-domains-add-intro = A domain belongs to one account. Adding or removing one needs a sign-in of the last 15 minutes.
console-domains-add = Add the domain
console-domains-done-added = {$domain} was added. Publish its TXT record, then verify it.
console-domains-done-removed = {$domain} was removed.
console-domains-done-verified = {$domain} is verified.
console-domains-done-missing = No TXT record was found for {$domain} yet. DNS changes can take a while to appear; try again later.
console-domains-done-wrong-token = The TXT record of {$domain} does not carry the value shown. Correct it, then try again.
console-domains-done-lookup-failed = The DNS lookup of {$domain} failed. Try again in a minute.

## Console: login traces
console-traces-title = Login traces
console-traces-intro = The last single sign-on attempts of this account (at most 200, for 7 days), newest first. A refused attempt shows its error code and the precise reason; the other fields are what your identity provider's response said, to compare with its configuration.
console-traces-when = When
console-traces-result = Result
console-traces-who = Who
console-traces-details = Details
console-traces-success = Signed in
console-traces-tested = Test SSO passed (nobody signed in)
console-traces-waiting = Sent to the Waiting Room
console-traces-unavailable = Unavailable
console-traces-refused = Refused
console-traces-issuer = Issuer
console-traces-destination = Destination
console-traces-certificate = Signing certificate
console-traces-thumbprint-known = thumbprint {$thumbprint} (in the metadata)
console-traces-thumbprint-unknown = thumbprint {$thumbprint} (not in the metadata)
console-traces-none = No single sign-on attempt in the last 7 days.
console-traces-password = This account signs in with passwords: there are no single sign-on attempts.

## Console: audit log
console-audit-title = Audit log
console-audit-intro = Every change to this account, newest first, with who made it: user: and an email for an administrator here, a token's name for the API or provisioning, cli for the operator.
console-audit-when = When
console-audit-who = Who
console-audit-what = What
console-audit-on = On
console-audit-details = Details
console-audit-before = Before
console-audit-after = After
console-audit-none = No change has been recorded.
console-audit-pages = Pages of the audit log
console-audit-newest = Newest
console-audit-older = Older events

## Console: refusals
console-problem-title = The change was not made
console-problem-stale = This change needs a sign-in of the last 15 minutes. Sign in again, then make it once more.
console-problem-sign-in-again = Sign in again
console-problem-fail-safe-intro = If single sign-on does not work:
console-problem-fail-safe = administrator fail-safe sign-in
console-denied-title = Access denied
console-denied-body = Only the administrators of an account can open its administration pages. If you should be one, ask another administrator of your organisation.
console-denied-who = See who you are signed in as
