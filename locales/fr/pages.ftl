## Every page
title-suffix = {$title} · {$brand}
language-switch = Langue
language-en = English
language-fr = Français
switch-language = Changer

## Sign-on (email) page
sign-in = Connexion
email-address = Adresse courriel
continue = Continuer
use-another-email = Utiliser une autre adresse

## Email address errors
email-empty = Entrez votre adresse courriel.
email-too-long = Cette adresse courriel est trop longue.
email-at = Une adresse courriel contient exactement un @, comme nom@exemple.com.
email-whitespace = Une adresse courriel ne peut pas contenir d'espaces ni de caractères de contrôle.
email-noncharacter = Cette adresse courriel contient un caractère inutilisable.
email-local-part = Il manque quelque chose avant le @.
email-domain = La partie après le @ n'est pas un domaine valide.

## SSO button page
sso-intro = {$tenant} vous connecte avec le compte de votre organisation.

## Password step
enter-password = Entrez votre mot de passe
password = Mot de passe
forgot-password = Mot de passe oublié?
password-incorrect = L'adresse courriel ou le mot de passe est incorrect.
password-too-many = Trop de tentatives. Attendez quelques minutes et réessayez.
no-sso-notice = Connexion de secours des administrateurs de {$tenant}. Tous les autres se connectent par authentification unique.

## Password reset and set-password pages
reset-title = Réinitialiser votre mot de passe
reset-intro = Entrez l'adresse courriel avec laquelle vous vous connectez. Si elle a un mot de passe ici, nous y enverrons un lien pour en choisir un nouveau.
reset-send = Envoyer le lien
reset-sent-title = Consultez vos courriels
reset-sent = Si cette adresse a un mot de passe ici, un lien pour en choisir un nouveau est en route. Le lien fonctionne une seule fois, pendant 30 minutes.
reset-too-many = Trop de demandes. Attendez quelques minutes et réessayez.
set-password-title = Choisir un mot de passe
new-password = Nouveau mot de passe
new-password-hint = Au moins {$min} caractères.
confirm-password = Répétez le nouveau mot de passe
set-password-save = Enregistrer le mot de passe
set-password-mismatch = Les deux mots de passe diffèrent.
set-password-weak = Choisissez un mot de passe d'au moins {$min} caractères.
set-password-done-title = Mot de passe enregistré
set-password-done = Votre mot de passe est enregistré et vos autres sessions sont fermées. Connectez-vous avec le nouveau mot de passe.
link-invalid-title = Lien non valide
link-invalid = Ce lien n'est pas valide, a expiré ou a déjà servi. Demandez-en un nouveau.
ask-new-link = Demander un nouveau lien
back-to-sign-in = Retour à la connexion

## Signed-in page
signed-in-title = Connecté
signed-in-as = Vous êtes connecté en tant que {$name}.
signed-out-title = Déconnecté
signed-out = Vous êtes déconnecté. Vous pouvez fermer cette fenêtre.
sign-out = Se déconnecter

## Waiting Room
waiting-title = En attente d'approbation
waiting-sso = Votre organisation vous a connecté et votre compte a été créé. Un administrateur doit l'approuver avant que vous puissiez continuer; réessayez une fois que ce sera fait.
waiting-password = Votre compte est en attente : un administrateur doit l'approuver avant que vous puissiez continuer; réessayez une fois que ce sera fait.
waiting-generic = Certaines organisations approuvent chaque nouveau compte avant qu'il puisse servir. Si le vôtre est en attente, reconnectez-vous une fois qu'un administrateur l'aura approuvé.

## SAML POST binding
post-binding-title = Redirection vers votre organisation
post-binding-noscript = JavaScript est désactivé : appuyez sur Continuer.

## Device pages
device-title = Connecter un appareil
device-confirm-who = Un appareil demande à se connecter en tant que
device-confirm-code = avec le code
device-approve-only = N'approuvez que si ce code est affiché sur un appareil devant vous.
device-qr-alt = Code QR de l'adresse de cette page, pour continuer sur un téléphone
device-qr-caption = Balayez pour continuer sur votre téléphone.
device-approve = Approuver
device-deny = Refuser
device-code-label = Code affiché sur votre appareil
device-code-invalid = Ce code n'est pas valide ou a expiré. Vérifiez le code sur votre appareil.
device-approved-title = Appareil approuvé
device-approved = Votre appareil est connecté. Vous pouvez fermer cette page.
device-denied-title = Appareil refusé
device-denied = L'appareil n'a pas été connecté. Vous pouvez fermer cette page.
device-other-account = Cet appareil a demandé un autre compte que celui avec lequel vous êtes connecté.
device-code-used = Ce code n'est pas valide, a expiré ou a déjà servi. Recommencez sur votre appareil.

## Error pages
error-code = Code d'erreur :
error-title-not-found = Introuvable
error-title-unavailable = Temporairement indisponible
error-title-sign-in = Problème de connexion
error-csrf = Votre formulaire de connexion a expiré. Revenez en arrière, rechargez la page et réessayez.
error-return-to = Le lien suivi demande de vous envoyer vers un site que ce service de connexion ne dessert pas.
error-bad-request = La demande n'a pas pu être comprise.
error-not-found = Il n'y a rien ici.
error-not-admin = Vous n'êtes pas administrateur de ce compte.
error-stale-sign-in = Cette modification exige une connexion récente. Reconnectez-vous, puis recommencez.
error-admin-refused = Cette modification a été refusée.
error-unauthenticated = Connectez-vous pour continuer.
error-unavailable = La connexion est temporairement indisponible. Réessayez dans une minute.
error-idp-status = Le service de connexion de votre organisation ne vous a pas connecté (la connexion a peut-être été annulée). Vous pouvez réessayer.
error-authentication = L'authentification a échoué. Recommencez depuis la page de connexion.
error-other-browser = Cette connexion n'a pas commencé dans ce navigateur, ou elle a pris trop de temps. Recommencez depuis la page de connexion.
error-not-provisioned = Votre organisation ne vous a pas encore donné accès à ce service. Adressez-vous à votre administrateur.
error-disabled = Votre compte est désactivé. Adressez-vous à votre administrateur.
error-foreign-email = Le service de connexion de votre organisation a garanti une adresse courriel qui ne lui appartient pas.
error-unmatched = Votre connexion n'a pas pu être associée à votre compte. Adressez-vous à votre administrateur.
error-sso-required = Votre organisation vous connecte par authentification unique. Revenez en arrière et utilisez son bouton.
error-rate-limited = Trop de tentatives. Réessayez dans {$seconds} secondes.
error-no-idp = L'authentification unique de votre organisation est indisponible : ce service n'a aucune métadonnée utilisable du service de connexion de votre organisation (fournisseur d'identité). Si cela dure, donnez le code d'erreur ci-dessous à votre administrateur.
error-oauth-request = L'application a demandé à vous connecter avec une requête que ce service ne peut pas accepter. Revenez à l'application et réessayez.
