// Package config is puawatch's typed configuration: defaults, a strict YAML
// file, environment overrides, stored `puawatch login` credentials,
// validation, and a redacted rendering for `puawatch config check`.
//
// # Sources, lowest to highest precedence
//
//  1. Default().
//  2. The YAML file (LoadOptions.Path), decoded strictly: an unknown key is
//     an error naming the key, its line and the key meant
//     (config.yaml:12: unknown key "pol" (did you mean "poll"?)); so is a
//     value of the wrong type (a list for a string, 1.5 for an int, "yes"
//     for a bool), a duplicate key, a merge key (<<) and a second "---"
//     document. A key that is absent or null keeps its default. Anchors and
//     aliases work. testdata/example.yaml is a full annotated example.
//  3. The environment, below. An empty variable counts as unset, so the
//     environment cannot clear a value the file sets. Values are trimmed.
//     A systemd credential (below) stands in for a variable the
//     environment leaves unset.
//  4. The systemd credentials that have no variable: the SMTP password
//     and the receivers' secrets, which replace the file's.
//  5. sophos.client_secret_file, read after the environment: one line,
//     trailing newlines trimmed, an empty file is an error.
//  6. Stored credentials (LoadOptions.CredentialsPath), used only when
//     neither the file nor the environment gives a client id or a client
//     secret. They bring their auth and API URLs unless the file or the
//     environment sets those.
//
// Validate runs last and reports every problem at once, each naming the
// field's YAML path (and variable), the value and what to do.
//
// # Environment
//
//	Variable                     YAML path                  Notes
//	PUAWATCH_CLIENT_ID           sophos.client_id
//	PUAWATCH_CLIENT_SECRET       sophos.client_secret       replaces a client_secret_file from the file
//	PUAWATCH_CLIENT_SECRET_FILE  sophos.client_secret_file  replaces a client_secret from the file; not with PUAWATCH_CLIENT_SECRET
//	PUAWATCH_AUTH_URL            sophos.auth_url
//	PUAWATCH_API_URL             sophos.api_url
//	PUAWATCH_CA_FILE             sophos.ca_file             extra: a TLS-inspecting proxy's CA in a container
//	PUAWATCH_TENANT_NAME         sophos.tenant_name         extra
//	PUAWATCH_INTERVAL            poll.interval              extra: duration text, e.g. 5m
//	PUAWATCH_DB                  store.db                   path or postgres:// URL; default: puawatch.db in the state directory
//	PUAWATCH_SMTP_URL            email.smtp_url             smtp://[user:pass@]host:port[?starttls=required|none] or smtps://…
//	PUAWATCH_MAIL_FROM           email.from
//	PUAWATCH_MAIL_TO             email.to                   comma-separated
//	PUAWATCH_JSONL               jsonl.path                 path, or - for standard output
//	PUAWATCH_LOG_LEVEL           log.level                  extra: debug, info, warn, error
//	PUAWATCH_LOG_FORMAT          log.format                 extra: text, json
//	PUAWATCH_LISTEN              web.listen                 dashboard, health and metrics address; default 127.0.0.1:9787
//	PUAWATCH_WEB_TOKEN           web.auth.token             the dashboard's bearer token (a secret)
//
// The old top-level listen key still loads, with a warning naming
// web.listen. Bound to anything but a loopback address (":9787",
// 0.0.0.0, a LAN address, a host name other than localhost) the server
// needs web.auth: a bearer token (web.auth.token, PUAWATCH_WEB_TOKEN, or
// web_token in the stored credentials) or basic-auth users
// (web.auth.users: name → bcrypt hash); Validate refuses it otherwise.
//
// PUAWATCH_CONFIG (the file's path) is read by the command line, not here.
//
// # systemd credentials
//
// When $CREDENTIALS_DIRECTORY is set (systemd sets it for a unit with
// LoadCredential= or LoadCredentialEncrypted=; deploy/systemd has one),
// Load reads its files named puawatch-*, each holding one secret on one
// line (a trailing newline is trimmed). The precedence is: the
// environment, then the credential, then the configuration file.
//
//	Credential                          Sets                         In place of
//	puawatch-client-id                  sophos.client_id             PUAWATCH_CLIENT_ID
//	puawatch-client-secret              sophos.client_secret         PUAWATCH_CLIENT_SECRET (not used when PUAWATCH_CLIENT_SECRET_FILE is set)
//	puawatch-db                         store.db                     PUAWATCH_DB (a postgres:// URL with its password)
//	puawatch-web-token                  web.auth.token               PUAWATCH_WEB_TOKEN
//	puawatch-smtp-password              the password of email.smtp_url, whose user it needs (smtp://USER@host:587);
//	                                    not used when PUAWATCH_SMTP_URL carries a password
//	puawatch-receiver-NAME-KEY          the secret KEY of receiver NAME: url (webhook, slack, teams),
//	                                    secret (webhook), smtp_url (email)
//	puawatch-receiver-NAME-header-H     the header H of receiver NAME's headers (webhook)
//
// A credential of the first four names is exactly the variable beside
// it, with the same rules. An empty, unreadable or multi-line file, or
// one open to other users, is an error naming its path; a puawatch-*
// file that none of these names is a warning (a misspelt receiver); a
// file not starting with puawatch- is left alone.
//
// # The store
//
// Without store.db the store is the SQLite file puawatch.db in the state
// directory (StateDir), never in the working directory, so that a run
// from cron and one from a shell find the same store: the first path of
// $STATE_DIRECTORY (set by systemd's StateDirectory=, which may list
// several, colon-separated), else $XDG_STATE_HOME/puawatch, else
// $HOME/.local/state/puawatch. Store.MakeStateDir makes it with mode
// 0700 when the store is opened; Load does not touch the file system for
// it.
//
// # Secrets
//
// The client secret, the SMTP URL, web.auth.token and the bcrypt hashes
// of web.auth.users are secret.Secret values, which
// redact themselves in every format; a password inside a store.db URL is
// redacted by Redacted and String. On systems other than Windows a file
// holding a secret must be private to its owner (mode & 0o077 == 0):
// the configuration file when it holds sophos.client_secret or a URL with a
// password, the client secret file, and the stored credentials. Otherwise
// Load refuses it, saying which chmod to run or where to move the secret.
// Validate's messages and Redacted's output never hold a secret.
//
// # Durations
//
// Durations are Go duration text ("90s", "5m", "1h30m"). A bare number is
// an error, except 0, because "300" could mean seconds, minutes or
// nanoseconds; write "300s". Every duration of the file follows these rules,
// those of the route section (group_wait, group_interval) too: they are
// all a duration.Duration. Validate sets a floor where a tiny value
// would spin or fail every time: poll.interval, sophos.timeout,
// notify.lease and notify.backoff_base at least 1s, tenants.refresh and
// poll.overlap_every at least 1m.
package config
