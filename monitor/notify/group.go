package notify

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/fedora-fbs/fbs/tasks"
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
	l := letter{envelope: envelope{what: "group", id: p.ID, kind: p.Kind, now: now}}
	g, err := s.store.Group(ctx, p.ID)
	if err != nil {
		return nil, l.readFailed(log, err)
	}
	members, err := s.store.Members(ctx, g)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l, err)
	}
	if len(members) == 0 {
		log.Warn("no mail: the group's build records are gone")
		return nil, fmt.Errorf("%s: no builds: %w", l, asynq.SkipRetry)
	}
	gs := tasks.NewGroupStatus(g, members)
	first := members[0]
	names := make([]string, len(members))
	for i, b := range members {
		names[i] = b.Spec.Arch
	}
	arches := strings.Join(names, ", ")
	l.email, l.state = first.Spec.Email, gs.State
	l.subject = subject("group", g.ID, p.Kind, gs.State, first.Spec, arches)
	return s.message(ctx, log, l, func() (any, error) {
		d := groupMailData{Group: gs, Spec: first.Spec, Kickstart: clean(first.KickstartName), Arches: arches}
		for _, b := range members {
			m := groupMember{Build: b}
			if p.Kind == tasks.MailGroupFinished && !b.Started.IsZero() {
				m.Duration = b.Duration(now).Round(time.Second).String()
			}
			if s.cfg.PublicURL != "" {
				m.BuildURL = s.cfg.PublicURL + "/builds/" + b.ID
				if s.cfg.Links != nil {
					key, err := s.cfg.Links.Mint(ctx, b.ID)
					if err != nil {
						return nil, err
					}
					m.BuildURL += "?key=" + url.QueryEscape(key)
				}
			}
			d.Members = append(d.Members, m)
		}
		if s.cfg.PublicURL != "" {
			d.GroupURL = s.cfg.PublicURL + "/groups/" + g.ID
		}
		return d, nil
	})
}
