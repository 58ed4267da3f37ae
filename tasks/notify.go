package tasks

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"strings"
)

// MailKind says which mail of a build a task sends.
type MailKind string

// The mails of a build, and of a group (the ID of a group mail's task is
// the group's ID).
const (
	// MailSubmitted is sent once the build is queued.
	MailSubmitted MailKind = "submitted"
	// MailFinished is sent once the build reached a final state.
	MailFinished MailKind = "finished"
	// MailGroupSubmitted is sent once every build of a group is queued,
	// instead of each build's MailSubmitted.
	MailGroupSubmitted MailKind = "group-submitted"
	// MailGroupFinished is sent once every build of a group reached a
	// final state, instead of each build's MailFinished.
	MailGroupFinished MailKind = "group-finished"
)

// Valid reports whether k is one of the known kinds.
func (k MailKind) Valid() bool {
	return k == MailSubmitted || k == MailFinished || k == MailGroupSubmitted || k == MailGroupFinished
}

// OfGroup reports whether k is a mail of a group rather than of a build.
func (k MailKind) OfGroup() bool { return k == MailGroupSubmitted || k == MailGroupFinished }

// NotifyPayload is what a notification task carries: the build is read when the
// mail is sent, so the mail tells the build's state at that time.
type NotifyPayload struct {
	// ID is the build's ID, or the group's for a group mail.
	ID   string   `json:"id"`
	Kind MailKind `json:"kind"`
}

// DecodeNotifyPayload parses and checks the payload of a notification task.
func DecodeNotifyPayload(b []byte) (NotifyPayload, error) {
	var p NotifyPayload
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("decode notification task: %w", err)
	}
	if !ValidBuildID(p.ID) {
		return p, fmt.Errorf("decode notification task: bad build ID %q", p.ID)
	}
	if !p.Kind.Valid() {
		return p, fmt.Errorf("decode notification task for build %s: unknown kind %q", p.ID, p.Kind)
	}
	return p, nil
}

// CheckEmail reports whether addr is a usable recipient for a build's
// Email: one mail address, with or without a display name (not a list), so
// a bad address is refused at submit time rather than found by the mailer.
// It is the one email rule of specs, forms and the API.
func CheckEmail(addr string) error {
	list, err := ParseRecipients(addr)
	if err != nil {
		return err
	}
	if len(list) != 1 {
		return fmt.Errorf("mail address %q: want one address, not %d", addr, len(list))
	}
	return nil
}

// ParseRecipients parses a build's Email into its addresses.
func ParseRecipients(addr string) ([]*mail.Address, error) {
	if len(addr) > MaxEmail {
		return nil, fmt.Errorf("mail address of %s", tooLong(len(addr), MaxEmail))
	}
	if strings.ContainsAny(addr, "\r\n") {
		return nil, fmt.Errorf("mail address %q: contains a line break", addr)
	}
	list, err := mail.ParseAddressList(addr)
	if err != nil {
		return nil, fmt.Errorf("mail address %q: %w", addr, err)
	}
	return list, nil
}
