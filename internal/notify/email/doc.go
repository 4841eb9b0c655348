// Package email is the e-mail notification channel: it renders a
// notify.Message as a text/plain and text/html multipart/alternative mail
// and sends it to all recipients in one SMTP transaction with go-mail.
//
// TLS is required by default (STARTTLS, or implicit TLS with smtps://);
// plain SMTP is only allowed to loopback hosts. The Message-ID is derived
// from the message key, so a redelivery after a crash carries the same id
// and mail clients can fold duplicates. SMTP replies are classified: 5xx
// replies and untrusted certificates are permanent (notify.Permanent),
// 4xx replies, timeouts and network errors are retried. The password never
// appears in errors or logs.
//
// Every value that comes from Sophos Central (tenant name, threat, host,
// path, ...) is untrusted: header values are stripped of control
// characters and length-capped, and the HTML part escapes everything
// (html/template).
package email
