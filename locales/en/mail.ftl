## Every message
mail-greeting = Hello,
mail-footer = This message was sent by {$brand}. If you did not expect it, you can ignore it.

## Invitation
invite-subject = You are invited to {$tenant}
invite-sso = You have been invited to sign in to {$tenant} with {$brand}. Sign in with your organisation's account here:
invite-password = You have been invited to sign in to {$tenant} with {$brand}. Choose your password with this link (it works once, for 7 days):
invite-sso-action = Sign in
invite-password-action = Choose a password

## Password reset
reset-subject = Reset your {$brand} password
reset-body = Someone asked to reset the password of {$email}. If it was you, choose a new password with this link (it works once, for 30 minutes):
reset-action = Choose a new password
reset-ignore = If you did not ask for this, ignore this message: your password stays as it is.

## Waiting Room notice (to the account's administrators)
waiting-subject = {$email} is waiting for approval
waiting-body = {$email} signed in to {$tenant} through your organisation's sign-in service and is in the Waiting Room. Approve or deny them in the console:
waiting-action = Open the Waiting Room

## Approval and denial (to the person)
approved-subject = Your {$tenant} account is approved
approved-body = An administrator approved your account. You can sign in now:
denied-subject = Your {$tenant} account was not approved
denied-body = An administrator did not approve your account.
denied-reason = Reason given: {$reason}
