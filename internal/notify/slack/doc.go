// Package slack is the Slack notification channel: it posts a notify.Message
// to a Slack incoming webhook as a Block Kit message.
//
// The message has a fallback text (the title, shown in notifications), a
// header block with the title, a plain-text section with the one-sentence
// intro, one section of ten mrkdwn fields per detection (Tenant, Host,
// User, Threat, Severity, Type, Path, Clean-up, When, Event id) and a
// context block linking to Sophos Central. A digest shows as many
// detections as fit Slack's limit of 50 blocks (and a size budget) and
// ends with a context block "… and N more" when cut. A user template
// (Config.Template) replaces the intro and the detection sections with one
// mrkdwn section of its own text.
//
// # Untrusted values
//
// Every value from Sophos Central (tenant, host, user, threat, path, ...)
// is untrusted. Slack's escaping rule is three entities: & → &amp;,
// < → &lt;, > → &gt;; they also stop injected control sequences such as
// <!channel>, <!here>, <@U123> and <http://evil|innocent text>. Slack
// mrkdwn has no escape for its formatting characters (* _ ~ `), so field
// values are shown as inline code, where Slack applies no formatting, and
// a backtick in a value, which would end the code span, is replaced by
// "ˋ" (U+02CB MODIFIER LETTER GRAVE ACCENT). Every mrkdwn text object is
// sent with verbatim true, so Slack neither turns URLs in values into
// links nor parses mentions in them. The header and the intro are
// plain_text objects (no formatting at all, emoji codes left as typed).
//
// Slack notifies a channel only for the <!here>, <!channel> and
// <!everyone> sequences, which the escaping of < rules out; the words
// "@here", "@channel" and "@everyone" typed as text notify nobody unless
// a sender asks Slack to parse them (link_names or parse=full, which this
// channel never sets). As defence in depth the fallback text, which Slack
// shows in notifications, and the template function slack put a word
// joiner (U+2060, invisible) after the @ of those three words.
//
// Values are cut to fit Slack's limits (150 characters for the header,
// 2000 for a field, 3000 for a section), so a hostile or merely long value
// cannot make Slack reject the message.
//
// # Templates
//
// A template is a Go text/template over a render.View whose text becomes
// one mrkdwn section (at most 3000 characters). The values of the View
// are plain text, cleaned of control characters but not escaped: the
// template must escape them itself with the functions Funcs provides:
//
//	{{slack .TenantName}}      escaped for mrkdwn text (& < > and @here)
//	{{slackcode .Path}}        escaped and shown as inline code, inert
//
// Text outside these functions is the template author's own mrkdwn, links
// (<https://…|text>) included.
//
// # Delivery
//
// Slack answers 200 "ok". notify.Post classifies other answers: 429 with
// Retry-After becomes a notify.RetryAfterError; 5xx, 408, timeouts and
// network errors are retried; 400, 403, 404 and the like ("invalid_token",
// "no_service", "channel_is_archived", ...) are permanent. The webhook URL
// is a secret: errors show only its scheme and host.
package slack
