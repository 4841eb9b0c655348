// Package email is the e-mail notification channel: it renders a
// notify.Message as a text/plain and text/html multipart/alternative mail
// and sends it to all recipients in one SMTP transaction with go-mail.
//
// TLS is required by default (STARTTLS, or implicit TLS with smtps://);
// plain SMTP is only allowed to loopback hosts. To a loopback host (a
// local relay) smtp:// uses STARTTLS when the server offers it and plain
// SMTP when it does not; ?starttls=required insists on STARTTLS there
// too, ?starttls=none never uses it. Errors name the key that fixes them
// (email.smtp_url, receivers[2].email.ca_file). The Message-ID is derived
// from the message key, so a redelivery after a crash carries the same id
// and mail clients can fold duplicates. SMTP replies are classified: 5xx
// replies and untrusted certificates are permanent (notify.Permanent),
// 4xx replies, timeouts and network errors are retried. The password never
// appears in errors or logs.
//
// # Layout
//
// A mail renders the render.View of its message, the view every channel
// shows. The Subject is "[puawatch] " and the view's title, such as
// "[puawatch] PUA PsExec on WS-1 (Contoso)" or "[puawatch] 12 PUA
// detections in Contoso". The body starts with the view's one-sentence
// intro, then shows for each detection: tenant (name and id), host,
// endpoint type (and id), user, threat, path, event type, severity,
// clean-up state, the event's message, the time of the event and of its
// creation in UTC and, when Config.Location is set and not UTC, in that
// zone too, the Sophos event id, and a link to Sophos Central
// (Config.CentralURL): in the text part the bare URL, in the HTML part an
// <a href>. A digest numbers its detections ("Detection 2 of 12").
//
// # Templates
//
// Config.Template names a Go text/template file executed over the
// render.View; its output is the text/plain part. The text/html part is
// then that same text, HTML-escaped, inside <pre>: a template writes plain
// text, never HTML. The Subject stays the view's title. Validate (and New)
// load the template and render the sample detection with it, so a broken
// template is a configuration error; a template that fails on a real
// message makes a permanent error naming the template.
//
// # Untrusted values
//
// Every value that comes from Sophos Central (tenant name, threat, host,
// path, ...) is untrusted. The view has cleaned it already (render.Clean:
// no control characters, bounded length). Header values are, besides,
// reduced to one line of single spaces and the Subject is capped at 200
// characters, so no value can add a header (a CR/LF and "Bcc:"). The HTML
// part is built by html/template, which escapes every value for where it
// stands: text is entity-escaped, and the Sophos Central link is escaped
// as a URL attribute, a URL that is not http, https or mailto (such as
// javascript:) becoming the inert "#ZgotmplZ". Validate also refuses a
// central_url that is not http or https.
package email
