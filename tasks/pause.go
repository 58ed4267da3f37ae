package tasks

import (
	"regexp"
	"sync"
	"unicode/utf8"
)

// Fields of a pause request, as the API and the errors name them.
const (
	FieldPauseQueue   = "queue"
	FieldPauseWorker  = "worker"
	FieldPauseMessage = "message"
)

// MaxPauseMessage is the longest message a pause keeps, in bytes.
const MaxPauseMessage = 500

var workerNameRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,252})$`)
})

// CheckPauseQueue says what is wrong with q as the name of a build queue
// to pause: it must be build:<arch>:<release>.
func CheckPauseQueue(q string) error {
	if _, _, err := ParseQueueName(q); err != nil {
		return Invalid(FieldPauseQueue, "%q is not a build queue: want build:<arch>:<release>, e.g. %s", q, QueueName("x86_64", "42"))
	}
	return nil
}

// CheckPauseWorker says what is wrong with name as a worker to pause: a
// worker is named by its host name ([worker] host, `fbs worker --host`).
func CheckPauseWorker(name string) error {
	if !workerNameRE().MatchString(name) {
		return Invalid(FieldPauseWorker, "%q is not a worker host name (letters, digits, '.', '-', '_', at most 253)", name)
	}
	return nil
}

// CheckPauseMessage says what is wrong with the message of a pause: at
// most MaxPauseMessage bytes of UTF-8.
func CheckPauseMessage(m string) error {
	switch {
	case len(m) > MaxPauseMessage:
		return Invalid(FieldPauseMessage, "message of %d bytes: at most %d", len(m), MaxPauseMessage)
	case !utf8.ValidString(m):
		return Invalid(FieldPauseMessage, "message is not UTF-8")
	}
	return nil
}
