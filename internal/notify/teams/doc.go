// Package teams is the Microsoft Teams notification channel: it posts a
// notify.Message as an Adaptive Card to a Teams "Workflows" webhook (a
// Power Automate flow started by "When a Teams webhook request is
// received", which posts the card to a channel or chat). The Office 365
// connector webhooks are retired; their URLs accept the same payload while
// they last, but new channels need a Workflows URL.
//
// The payload is the message envelope the Workflows template expects:
//
//	{"type":"message","attachments":[{
//	  "contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null,
//	  "content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json",
//	    "type":"AdaptiveCard","version":"1.5","body":[…],
//	    "actions":[{"type":"Action.OpenUrl","title":"Open Sophos Central","url":"…"}]}}]}
//
// The body has a TextBlock with the title (bolder, medium, wrapped), a
// TextBlock with the one-sentence intro, and a FactSet per detection
// (Tenant, Host, User, Threat, Severity, Type, Path, Clean-up, When, Event
// id), headed "Detection N of M" in a digest. A digest shows at most 20
// detections, and fewer when the card would grow past a size budget kept
// under Teams' limit of about 28 KB per message, then a TextBlock "… and N
// more". A user template (Config.Template) replaces the intro and the
// FactSets with one TextBlock of its own text.
//
// # Untrusted values
//
// Every value from Sophos Central (tenant, host, user, threat, path, ...)
// is untrusted. TextBlock text and FactSet values are rendered as a
// Markdown subset, so Escape backslash-escapes the Markdown specials
// \ * _ [ ] ( ) # > < - + ! ~ | and the backtick (so "[x](http://evil)"
// shows as text, not as a link), escapes the dot of a leading "1." (an
// ordered list), puts a zero-width space between two opening braces so
// that Teams' {{DATE(…)}} and {{TIME(…)}} functions cannot be injected,
// and turns line breaks and other control characters into spaces, so a
// value stays on its line. Values other than the path are cut at 256
// characters; the path keeps render's limit of 2000. Bare URLs in values
// may still be shown as links by Teams; their text is then their target,
// so they cannot pass for something else. Teams' mobile clients have been
// known to show some backslash escapes literally; the escapes are kept
// because the alternative is formatting controlled by whoever names a file.
//
// # Templates
//
// A template is a Go text/template over a render.View whose text becomes
// one wrapped TextBlock. The values of the View are plain text, cleaned of
// control characters but not escaped: the template must escape them with
// the function teams (Escape), which Funcs provides:
//
//	**{{teams .Title}}**{{range .Detections}}
//
//	- {{teams .Host}}: {{teams .Threat}}{{end}}
//
// Text outside teams is the template author's own Markdown.
//
// # Delivery
//
// Workflows answers 202 Accepted when the flow was started (any 2xx is
// success); the card is posted by the flow afterwards, so a card the flow
// cannot post fails in the flow's run history, not here. notify.Post
// classifies other answers: 429 with Retry-After becomes a
// notify.RetryAfterError; 5xx, 408, timeouts and network errors are
// retried; other 4xx (a deleted flow, a bad signature) are permanent. The
// webhook URL is a secret (its sig parameter is the credential): errors
// show only its scheme and host.
package teams
