package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jordan-wright/email"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
)

// A group (one request for several arches) has two mails of its own
// instead of its builds' mails: MailGroupSubmitted once all its builds are
// queued, MailGroupFinished once all have ended, with each arch's result
// and artifacts. They go through the same ledger and lock as a build's
// mails, keyed by "<group>:<kind>", so each is sent once.

// groupMailData is what the group templates see.
type groupMailData struct {
	Group *tasks.GroupStatus
	// Spec is the request's spec as its first build has it (type,
	// release, staging are the same for every build).
	Spec      tasks.Spec
	Kickstart string
	Arches    string
	Members   []groupMember
	// GroupURL is the group's page, "" without public_url.
	GroupURL string
}

// groupMember is one build of the group as a mail shows it.
type groupMember struct {
	Build    *tasks.Build
	Duration string
	// BuildURL is the build's page (signed link when links are on).
	BuildURL string
}

// groupMessage composes the kind mail of group p.ID; nil when there is
// nothing to send.
func (s *Server) groupMessage(ctx context.Context, log *slog.Logger, p tasks.NotifyPayload, now time.Time) (*outgoing, error) {
	g, err := s.store.Group(ctx, p.ID)
	if errors.Is(err, builds.ErrNotFound) {
		log.Warn("no mail: group record is gone")
		return nil, fmt.Errorf("%s mail of group %s: %w: %w", p.Kind, p.ID, err, asynq.SkipRetry)
	}
	if err != nil {
		return nil, fmt.Errorf("%s mail of group %s: %w", p.Kind, p.ID, err)
	}
	members, err := s.store.Members(ctx, g)
	if err != nil {
		return nil, fmt.Errorf("%s mail of group %s: %w", p.Kind, p.ID, err)
	}
	if len(members) == 0 {
		log.Warn("no mail: the group's build records are gone")
		return nil, fmt.Errorf("%s mail of group %s: no builds: %w", p.Kind, p.ID, asynq.SkipRetry)
	}
	gs := tasks.NewGroupStatus(g, members)
	first := members[0]
	if strings.TrimSpace(first.Spec.Email) == "" {
		log.Debug("no mail: group has no email address")
		return nil, nil
	}
	if p.Kind == tasks.MailGroupFinished && !gs.State.Final() {
		return nil, fmt.Errorf("%s mail of group %s: group is %s: %w", p.Kind, p.ID, gs.State, errNotYet)
	}
	to, err := s.recipients(ctx, log, first.Spec.Email)
	if err != nil {
		return nil, fmt.Errorf("%s mail of group %s: %w", p.Kind, p.ID, err)
	}
	d := groupMailData{Group: gs, Spec: first.Spec, Kickstart: clean(first.KickstartName)}
	arches := make([]string, len(members))
	for i, b := range members {
		arches[i] = b.Spec.Arch
		m := groupMember{Build: b}
		if p.Kind == tasks.MailGroupFinished && !b.Started.IsZero() {
			m.Duration = b.Duration(now).Round(time.Second).String()
		}
		if s.cfg.PublicURL != "" {
			m.BuildURL = s.cfg.PublicURL + "/builds/" + b.ID
			if s.cfg.Links != nil {
				key, err := s.cfg.Links.Mint(ctx, b.ID)
				if err != nil {
					return nil, fmt.Errorf("%s mail of group %s: %w", p.Kind, p.ID, err)
				}
				m.BuildURL += "?key=" + url.QueryEscape(key)
			}
		}
		d.Members = append(d.Members, m)
	}
	d.Arches = strings.Join(arches, ", ")
	if s.cfg.PublicURL != "" {
		d.GroupURL = s.cfg.PublicURL + "/groups/" + g.ID
	}
	e, err := s.composeGroup(d, p.Kind, to, now)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	msg, err := e.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encode %s mail of group %s: %w: %w", p.Kind, p.ID, err, asynq.SkipRetry)
	}
	return &outgoing{msg: msg, to: to, shownTo: first.Spec.Email}, nil
}

// groupSubject is the Subject line of the kind mail of group d.
func groupSubject(d groupMailData, kind tasks.MailKind) string {
	what := "submitted"
	if kind == tasks.MailGroupFinished {
		what = string(d.Group.State)
	}
	release := d.Spec.Release
	if release == "rawhide" {
		release = "Rawhide"
	}
	return fmt.Sprintf("[fbs] group %s %s: %s Fedora %s %s", d.Group.ID, what, d.Spec.Type, release, d.Arches)
}

// composeGroup builds the kind mail of the group d shows.
func (s *Server) composeGroup(d groupMailData, kind tasks.MailKind, to []*mail.Address, now time.Time) (*email.Email, error) {
	return s.render(d, envelope{what: "group", id: d.Group.ID, kind: kind, to: to, subject: groupSubject(d, kind), now: now})
}
