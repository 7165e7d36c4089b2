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
end-session-asked = Une application a demandé à vous déconnecter du compte de votre organisation.
end-session-problem-title = Problème de déconnexion
end-session-problem = L'application a demandé à vous déconnecter par une requête que ce service ne peut pas accepter.

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

## Account admin console: the frame
console-title-suffix = {$title} · {$tenant} · {$brand}
console-brand = Administration de {$tenant}
console-sections = Sections de la console
console-nav-home = Vue d'ensemble
console-nav-users = Utilisateurs
console-nav-domains = Domaines
console-nav-traces = Traces de connexion
console-nav-audit = Journal d'audit
console-signed-in-as = Connecté en tant que
console-back = Retour
console-copy = Copier
console-copied = Copié dans le presse-papiers.
console-status-active = Actif
console-status-waiting = En attente
console-status-disabled = Désactivé

## Console: overview
console-home-title = Vue d'ensemble
console-home-account = Compte
console-home-sign-in = Connexion
console-home-sso = Authentification unique (bouton « {$button} »)
console-home-password = Mot de passe
console-home-users = Utilisateurs
console-home-waiting = En attente d'approbation
console-home-sign-on-url = URL de connexion
console-home-sign-on-url-what = (où vos gens commencent à se connecter)
console-home-fail-safe-url = URL de secours
console-home-fail-safe-url-what = (connexion par mot de passe des administrateurs de ce compte quand l'authentification unique est en panne; ajoutez-la à vos favoris)

## Console: users
console-users-title = Utilisateurs
console-users-done-added = L'utilisateur a été ajouté.
console-users-done-invited = L'invitation a été envoyée.
console-users-done-approved = L'utilisateur a été approuvé et peut se connecter dès maintenant.
console-users-done-denied = La demande a été refusée; cette personne ne peut pas se connecter.
console-users-done-disabled = L'utilisateur a été désactivé et déconnecté.
console-users-done-enabled = L'utilisateur a été réactivé.
console-users-done-admin-granted = L'utilisateur est maintenant administrateur.
console-users-done-admin-removed = L'utilisateur n'est plus administrateur.
console-users-waiting-title = Salle d'attente ({$count})
console-users-email = Courriel
console-users-name = Nom
console-users-asked = Demandé le
console-users-decision = Décision
console-users-approve = Approuver
console-users-approve-who = Approuver {$email}
console-users-reason = Motif (facultatif)
console-users-deny = Refuser
console-users-deny-who = Refuser {$email}
console-users-all-waiting = Les {$count} utilisateurs en attente
console-users-waiting-empty = Personne n'attend d'approbation.
console-users-all-title = Tous les utilisateurs ({$count})
console-users-search-label = Chercher un courriel ou un nom
console-users-status = État
console-users-status-any = Tous
console-users-search = Chercher
console-users-role = Rôle
console-users-last-sign-in = Dernière connexion
console-users-actions = Actions
console-users-role-admin = Administrateur
console-users-role-user = Utilisateur
console-users-never = Jamais
console-users-you = (vous)
console-users-disable = Désactiver
console-users-disable-who = Désactiver {$email}
console-users-enable = Réactiver
console-users-enable-who = Réactiver {$email}
console-users-unadmin = Retirer les droits d'administrateur
console-users-unadmin-who = Retirer les droits d'administrateur de {$email}
console-users-make-admin = Nommer administrateur
console-users-make-admin-who = Nommer administrateur : {$email}
console-users-pages = Pages d'utilisateurs
console-users-first = Première page
console-users-prev = Page précédente
console-users-next = Page suivante
console-users-none = Aucun utilisateur ne correspond.
console-users-invite-title = Inviter un utilisateur
console-users-invite-sso = La personne reçoit un courriel qui lui indique où se connecter avec l'authentification unique de votre organisation.
console-users-invite-password = La personne reçoit un courriel avec un lien pour choisir son mot de passe; il fonctionne une seule fois, pendant 7 jours.
console-users-invite = Envoyer l'invitation
console-users-email-address = Adresse courriel
console-users-admin-recent = Administrateur (exige une connexion dans les 15 dernières minutes)
console-users-add-title = Ajouter un utilisateur
console-users-add-intro = La personne se connecte avec l'authentification unique de votre organisation (ou son mot de passe, pour un compte à mot de passe); aucun mot de passe n'est défini ici.
console-users-add = Ajouter l'utilisateur
console-users-import-title = Importer des utilisateurs d'un fichier CSV
console-users-import-intro = Colonnes email, name, admin (true ou false). Importer deux fois le même fichier ne change rien; les lignes erronées sont signalées et les autres importées. Exige une connexion dans les 15 dernières minutes.
console-users-csv-file = Fichier CSV
console-users-import = Importer

## Console: import report
console-import-title = Rapport d'importation
console-import-created = créés
console-import-updated = mis à jour
console-import-unchanged = inchangés
console-import-errors = Lignes non importées
console-import-clean = Toutes les lignes ont été importées.
console-import-back = Retour aux utilisateurs

## Console: domains
console-domains-title = Domaines
console-domains-intro-sso = Les personnes dont l'adresse courriel est d'un domaine ci-dessous se connectent avec l'authentification unique de votre organisation, une fois la preuve DNS du domaine établie : publiez l'enregistrement TXT indiqué, puis vérifiez.
console-domains-intro-password = Les domaines de courriel des gens de ce compte. Pour prouver qu'un domaine est le vôtre, publiez l'enregistrement TXT indiqué, puis vérifiez.
console-domains-read-only = Ces paramètres sont gérés par l'exploitant dans {$file}; ils sont affichés en lecture seule.
console-domains-domain = Domaine
console-domains-proof = Preuve DNS
console-domains-record = Enregistrement TXT à publier
console-domains-record-name = Nom
console-domains-record-type = Type
console-domains-record-value = Valeur
console-domains-verified = Vérifié
console-domains-unverified = Pas encore vérifié
console-domains-copy-name = Copier le nom de l'enregistrement de {$domain}
console-domains-copy-value = Copier la valeur de l'enregistrement de {$domain}
console-domains-verify = Vérifier maintenant
console-domains-verify-which = Vérifier maintenant : {$domain}
console-domains-remove = Retirer
console-domains-remove-which = Retirer {$domain}
console-domains-none = Ce compte n'a pas encore de domaine.
console-domains-add-title = Ajouter un domaine
console-domains-add-intro = Un domaine appartient à un seul compte. Ajouter ou retirer un domaine exige une connexion dans les 15 dernières minutes.
console-domains-add = Ajouter le domaine
console-domains-done-added = {$domain} a été ajouté. Publiez son enregistrement TXT, puis vérifiez-le.
console-domains-done-removed = {$domain} a été retiré.
console-domains-done-verified = {$domain} est vérifié.
console-domains-done-missing = Aucun enregistrement TXT n'a encore été trouvé pour {$domain}. Les changements DNS peuvent prendre un certain temps; réessayez plus tard.
console-domains-done-wrong-token = L'enregistrement TXT de {$domain} ne porte pas la valeur indiquée. Corrigez-le, puis réessayez.
console-domains-done-lookup-failed = La recherche DNS de {$domain} a échoué. Réessayez dans une minute.

## Console: login traces
console-traces-title = Traces de connexion
console-traces-intro = Les dernières tentatives d'authentification unique de ce compte (au plus 200, pendant 7 jours), les plus récentes d'abord. Une tentative refusée indique son code d'erreur et la raison précise; les autres champs sont ce que disait la réponse de votre fournisseur d'identité, à comparer avec sa configuration.
console-traces-when = Quand
console-traces-result = Résultat
console-traces-who = Qui
console-traces-details = Détails
console-traces-success = Connecté
console-traces-tested = Test du SSO réussi (personne n'est connecté)
console-traces-waiting = Envoyé à la salle d'attente
console-traces-unavailable = Indisponible
console-traces-refused = Refusé
console-traces-issuer = Émetteur
console-traces-destination = Destination
console-traces-certificate = Certificat de signature
console-traces-thumbprint-known = empreinte {$thumbprint} (dans les métadonnées)
console-traces-thumbprint-unknown = empreinte {$thumbprint} (absente des métadonnées)
console-traces-none = Aucune tentative d'authentification unique dans les 7 derniers jours.
console-traces-password = Ce compte se connecte par mot de passe : il n'y a aucune tentative d'authentification unique.

## Console: audit log
console-audit-title = Journal d'audit
console-audit-intro = Chaque modification de ce compte, la plus récente d'abord, avec son auteur : user: et un courriel pour un administrateur d'ici, le nom d'un jeton pour l'API ou l'approvisionnement, cli pour l'exploitant.
console-audit-when = Quand
console-audit-who = Qui
console-audit-what = Quoi
console-audit-on = Sur
console-audit-details = Détails
console-audit-before = Avant
console-audit-after = Après
console-audit-none = Aucune modification n'a été enregistrée.
console-audit-pages = Pages du journal d'audit
console-audit-newest = Les plus récents
console-audit-older = Événements plus anciens

## Console: refusals
console-problem-title = La modification n'a pas été faite
console-problem-stale = Cette modification exige une connexion dans les 15 dernières minutes. Reconnectez-vous, puis refaites-la.
console-problem-sign-in-again = Se reconnecter
console-problem-fail-safe-intro = Si l'authentification unique ne fonctionne pas :
console-problem-fail-safe = connexion de secours des administrateurs
console-denied-title = Accès refusé
console-denied-body = Seuls les administrateurs d'un compte peuvent ouvrir ses pages d'administration. Si vous devriez en être un, demandez à un autre administrateur de votre organisation.
console-denied-who = Voir sous quelle identité vous êtes connecté
