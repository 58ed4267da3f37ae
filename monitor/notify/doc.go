// Package notify sends the two mails of a build, one when it is submitted
// and one when it has finished, from the asynq notify queue: a mail server
// that is down, refuses, stalls or drops the connection means retries with
// backoff for about a day (tasks.NotifyMaxRetry, tasks.NotifyRetryDelay), not a lost mail.
// A mail still undelivered then is counted as failed and kept as an .eml
// file in the outbox. Without an SMTP server every mail goes to the outbox,
// which `fbs serve` lists (Outbox, OpenMessage).
//
// The server takes its own settings (Config, SMTP), not the service's
// configuration: the command maps the [smtp] section onto them.
//
// Mails are multipart plain text and HTML (html/template, so a kickstart
// name or log line is escaped). Links point at Config.PublicURL, never at a
// guessed address.
//
// # Delivery guarantee
//
// Each build gets each kind of mail at least once and, short of a crash in
// a window of one Redis round trip, exactly once:
//
//   - The task ID is "<build>:<kind>", so a second enqueue is a conflict
//     while asynq keeps the task (tasks.NotifyRetention).
//   - After the server accepted the mail, the key fbs:notify:sent:<build>:<kind>
//     is set (kept 30 days); every run checks it first, so a task run again
//     after a successful send (its completion lost, enqueued again after
//     retention) sends nothing. A lock key keeps two runs from sending at
//     once. Both keys are the ledger's (ledger.go; names in tasks/rediskey).
//   - If Redis does not take the key after a send, the process remembers
//     the mail and does not send it again.
//
// What remains: if the monitor dies between the server's acceptance and
// the key being stored, or if the server's "250 accepted" reply is lost on
// the network, the retry sends the mail a second time. Both copies carry
// the same Message-ID (<build>.<kind>@<sender domain>), so most mail
// clients show one.
package notify
