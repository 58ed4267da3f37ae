// Package deploy reads the fbs deploy file and turns it, host by host, into
// the files fbs deploy installs: /etc/fbs/fbs.conf, the secret files under
// /etc/fbs/secrets, the systemd units fbs-web.service, fbs-monitor.service,
// fbs-worker.service and, on the Redis host, fbs-redis.service with its
// configuration. It also says which OS packages a host's roles need and
// compares what a host has with what it should have (the plan's diff).
//
// It connects to nothing: deploy/remote talks SSH and SFTP to the hosts, and
// deploy/rollout orders the work. Render and Load only read local files (the
// deploy file and the secret files it names), so `fbs deploy render` is safe
// to run on a file naming hosts that must not be contacted.
//
// # Two forms of the deploy file
//
// Load reads fbs's own form (sections [deploy], [host NAME], [conf] and
// [conf NAME]; see doc/howto.md, "Deploying fbs", and deploy/example.conf)
// and the original service's deploy.conf unchanged (sections [broker],
// [releases], [master], [workers-RELEASE], [SMTP]), told apart by their
// sections. The original form is mapped onto fbs roles with a Warning for
// every key that no longer applies or is handled differently; the mapping
// is documented key by key in doc/howto.md.
//
// # Secrets
//
// Secrets never appear in fbs.conf, in a Warning, in an error or in a
// Change's diff. In fbs's form a secret is given only by a file reference
// (smtp.password_file = ./secrets/smtp): the local file's content becomes a
// file under /etc/fbs/secrets, mode 0600, owned by the service user, and
// fbs.conf names that path. An inline secret (smtp.password = ...) is an
// error. The original form's inline SMTP password is accepted with a
// warning and rendered the same way.
package deploy
