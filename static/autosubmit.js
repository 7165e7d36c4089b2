// Submits the SAML HTTP-POST binding form as soon as the page loads; a served file rather
// than an inline script so the Content-Security-Policy can forbid inline scripts.
document.getElementById("saml-post").submit();
