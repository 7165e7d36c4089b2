## Every message
mail-greeting = Bonjour,
mail-footer = Ce message a été envoyé par {$brand}. Si vous ne l'attendiez pas, vous pouvez l'ignorer.

## Invitation
invite-subject = Vous êtes invité à {$tenant}
invite-sso = Vous êtes invité à vous connecter à {$tenant} avec {$brand}. Connectez-vous ici avec le compte de votre organisation :
invite-password = Vous êtes invité à vous connecter à {$tenant} avec {$brand}. Choisissez votre mot de passe avec ce lien (il fonctionne une seule fois, pendant 7 jours) :
invite-sso-action = Se connecter
invite-password-action = Choisir un mot de passe

## Password reset
reset-subject = Réinitialisez votre mot de passe {$brand}
reset-body = Quelqu'un a demandé de réinitialiser le mot de passe de {$email}. Si c'était vous, choisissez un nouveau mot de passe avec ce lien (il fonctionne une seule fois, pendant 30 minutes) :
reset-action = Choisir un nouveau mot de passe
reset-ignore = Si vous n'avez rien demandé, ignorez ce message : votre mot de passe reste le même.

## Waiting Room notice (to the account's administrators)
waiting-subject = {$email} attend une approbation
waiting-body = {$email} s'est connecté à {$tenant} par le service de connexion de votre organisation et se trouve dans la salle d'attente. Approuvez-le ou refusez-le dans la console :
waiting-action = Ouvrir la salle d'attente

## Approval and denial (to the person)
approved-subject = Votre compte {$tenant} est approuvé
approved-body = Un administrateur a approuvé votre compte. Vous pouvez vous connecter dès maintenant :
denied-subject = Votre compte {$tenant} n'a pas été approuvé
denied-body = Un administrateur n'a pas approuvé votre compte.
denied-reason = Motif donné : {$reason}
