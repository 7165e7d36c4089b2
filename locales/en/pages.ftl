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
