// Package hooktest holds fixtures and a recording webhook server for
// channel tests: the tests of package hook and of the chat channels built
// on it (Slack, Teams).
//
// The fixtures are the detections of one test tenant (Det), the messages
// made of them (Single, FollowUp, Digest) from which the channels' golden
// files are rendered (Golden), the webhook URL shapes of Slack and Teams
// with the pieces of them an error must never show (Secrets), and a
// writer of template files. The servers are NewServer, a webhook that
// answers from a script and records what it receives, and NewTLSServer,
// an https webhook whose certificate only its own client trusts.
//
// Only tests import it.
package hooktest
