package notify

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"log/slog"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"
	"unicode/utf8"

	"github.com/hibiken/asynq"
	"github.com/jordan-wright/email"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
)

// tailLines is how many log lines the completion mail quotes.
const tailLines = 50

// maxLineLen caps one quoted log line, in bytes.
const maxLineLen = 1000

//go:embed templates
var templateFS embed.FS

// templates holds the parsed text and HTML templates of both kinds.
type templates struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

func parseTemplates() (*templates, error) {
	funcs := map[string]any{"size": tasks.HumanSize}
	t, err := texttemplate.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.txt")
	if err != nil {
		return nil, fmt.Errorf("parse mail templates: %w", err)
	}
	h, err := htmltemplate.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse mail templates: %w", err)
	}
	return &templates{text: t, html: h}, nil
}

// mailData is what the templates see.
type mailData struct {
	Build     *tasks.Build
	Kickstart string
	// Result is the final state, for completion mails.
	Result   tasks.State
	Duration string
	// BuildURL and LogURL are links to the monitor, "" without public_url.
	BuildURL, LogURL string
	Lines            []builds.LogLine
	// Earlier reports that the log has lines before the quoted ones.
	Earlier bool
}

// subject is the Subject line of the kind mail of what ("build" or
// "group") id: its final state (completion mails) or "submitted", then
// the spec's type and release, and the arches.
func subject(what, id string, kind tasks.MailKind, state tasks.State, spec tasks.Spec, arches string) string {
	happened := "submitted"
	if completion(kind) {
		happened = string(state)
	}
	release := spec.Release
	if release == "rawhide" {
		release = "Rawhide"
	}
	return fmt.Sprintf("[fbs] %s %s %s: %s Fedora %s %s", what, id, happened, spec.Type, release, arches)
}

// completion reports whether kind is sent once its build or group ended.
func completion(kind tasks.MailKind) bool {
	return kind == tasks.MailFinished || kind == tasks.MailGroupFinished
}

// buildData is what the templates of the kind mail of b see. lines are
// the log lines to quote (completion mails only); key, if set, is the
// build link (auth.Links) its links carry.
func (s *Server) buildData(b *tasks.Build, kind tasks.MailKind, lines []builds.LogLine, earlier bool, key string, now time.Time) mailData {
	d := mailData{Build: b, Kickstart: clean(b.KickstartName), Lines: lines, Earlier: earlier}
	if kind == tasks.MailFinished {
		d.Result = b.State
		if !b.Started.IsZero() {
			d.Duration = b.Duration(now).Round(time.Second).String()
		}
	}
	if s.cfg.PublicURL != "" {
		d.BuildURL = s.cfg.PublicURL + "/builds/" + b.ID
		d.LogURL = d.BuildURL + "/log"
		if key != "" {
			q := "?key=" + url.QueryEscape(key)
			d.BuildURL, d.LogURL = d.BuildURL+q, d.LogURL+q
		}
	}
	return d
}

// envelope is what a mail is besides its text: whom it goes to, its
// subject, and what it is about (a build or a group, by ID) for its
// headers.
type envelope struct {
	what    string // "build" or "group"
	id      string
	kind    tasks.MailKind
	to      []*mail.Address
	subject string
	now     time.Time
}

// letter is a mail of a build or a group before it is composed: its
// envelope but the recipients, the address its spec gives, and the state
// of what it is about.
type letter struct {
	envelope
	email string
	state tasks.State
}

// String names the mail in errors: "finished mail of build ID".
func (l letter) String() string { return fmt.Sprintf("%s mail of %s %s", l.kind, l.what, l.id) }

// readFailed is the error of a mail whose record could not be read: one
// that is gone (removed by retention, or a submission taken back) is
// given up on, anything else is retried.
func (l letter) readFailed(log *slog.Logger, err error) error {
	if errors.Is(err, builds.ErrNotFound) {
		log.Warn("no mail: " + l.what + " record is gone")
		return fmt.Errorf("%s: %w: %w", l, err, asynq.SkipRetry)
	}
	return fmt.Errorf("%s: %w", l, err)
}

// message is the way of every mail, of a build or of a group: no address,
// no mail (nil, nil); a completion mail waits for the final state
// (errNotYet); an address that does not parse is given up on. Then data,
// called only when there is a mail to send, gives what the templates see
// (its error is retried), and the mail is rendered and encoded.
func (s *Server) message(ctx context.Context, log *slog.Logger, l letter, data func() (any, error)) (*outgoing, error) {
	if strings.TrimSpace(l.email) == "" {
		log.Debug("no mail: " + l.what + " has no email address")
		return nil, nil
	}
	if completion(l.kind) && !l.state.Final() {
		return nil, fmt.Errorf("%s: %s is %s: %w", l, l.what, l.state, errNotYet)
	}
	to, err := s.recipients(ctx, log, l.email)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l, err)
	}
	d, err := data()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l, err)
	}
	env := l.envelope
	env.to = to
	e, err := s.render(d, env)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	msg, err := e.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w: %w", l, err, asynq.SkipRetry)
	}
	return &outgoing{msg: msg, to: to, shownTo: l.email}, nil
}

// render renders the templates of env.kind with data into a mail.
func (s *Server) render(data any, env envelope) (*email.Email, error) {
	var text, html bytes.Buffer
	if err := s.tmpl.text.ExecuteTemplate(&text, string(env.kind)+".txt", data); err != nil {
		return nil, fmt.Errorf("render %s mail of %s %s: %w", env.kind, env.what, env.id, err)
	}
	if err := s.tmpl.html.ExecuteTemplate(&html, string(env.kind)+".html", data); err != nil {
		return nil, fmt.Errorf("render %s mail of %s %s: %w", env.kind, env.what, env.id, err)
	}
	e := email.NewEmail()
	e.From = s.from.String()
	for _, a := range env.to {
		e.To = append(e.To, a.String())
	}
	e.Subject = env.subject
	e.Text = text.Bytes()
	e.HTML = html.Bytes()
	e.Headers.Set("Date", env.now.Format(time.RFC1123Z))
	// The same Message-ID on every attempt: should a mail go out twice
	// (see the package doc), mail clients show it once.
	e.Headers.Set("Message-Id", s.messageID(env.id, env.kind))
	// Thread the completion mail under the submission mail.
	switch env.kind {
	case tasks.MailFinished:
		e.Headers.Set("In-Reply-To", s.messageID(env.id, tasks.MailSubmitted))
		e.Headers.Set("References", s.messageID(env.id, tasks.MailSubmitted))
	case tasks.MailGroupFinished:
		e.Headers.Set("In-Reply-To", s.messageID(env.id, tasks.MailGroupSubmitted))
		e.Headers.Set("References", s.messageID(env.id, tasks.MailGroupSubmitted))
	}
	if env.what == "group" {
		e.Headers.Set("X-Fbs-Group", env.id)
	} else {
		e.Headers.Set("X-Fbs-Build", env.id)
	}
	e.Headers.Set("Auto-Submitted", "auto-generated")
	return e, nil
}

func (s *Server) messageID(id string, kind tasks.MailKind) string {
	return "<" + id + "." + string(kind) + "@" + s.domain + ">"
}

// tail returns the last lines of the log of build b: from the log stream,
// or the record's Tail when the stream is gone.
func (s *Server) tail(ctx context.Context, b *tasks.Build) (lines []builds.LogLine, earlier bool, err error) {
	last, err := s.store.LastLogLine(ctx, b.ID)
	if err != nil {
		return nil, false, err
	}
	if last > 0 {
		after := max(0, last-tailLines)
		lines, _, err = s.store.ReadLog(ctx, b.ID, after, tailLines, 0)
		if err != nil {
			return nil, false, err
		}
		earlier = after > 0
	}
	if len(lines) == 0 {
		start := max(0, len(b.Tail)-tailLines)
		for i, t := range b.Tail[start:] {
			lines = append(lines, builds.LogLine{N: start + i + 1, Text: t})
		}
		earlier = start > 0
	}
	for i := range lines {
		lines[i].Text = clean(lines[i].Text)
	}
	return lines, earlier, nil
}

// ansiRE matches terminal escape sequences (colours, cursor moves).
var ansiRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])`)
})

// clean makes a line of tool output fit for a mail: no escape sequences,
// no control characters but tabs, valid UTF-8, at most maxLineLen bytes.
func clean(s string) string {
	s = ansiRE().ReplaceAllString(s, "")
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r == '\t' || (r >= 0x20 && r != 0x7f && !(r >= 0x80 && r < 0xa0)) {
			return r
		}
		return -1
	}, s)
	if len(s) > maxLineLen {
		cut := maxLineLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
