package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/asynqlog"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// Counters kept with builds.Store.Count.
const (
	// CounterSent counts mails delivered (or written to the outbox).
	CounterSent = "emails_sent"
	// CounterRetried counts failed attempts that will be retried.
	CounterRetried = "emails_retried"
	// CounterFailed counts mails given up on.
	CounterFailed = "emails_failed"
)

// SMTP is the mail server the mails go through. The command maps the
// [smtp] section of the configuration onto it.
type SMTP struct {
	// Host is the mail server; "" means no SMTP: mails are written as
	// .eml files to Config.OutboxDir instead.
	Host string
	// Port is the server's port. Default 25.
	Port int
	// TLS is how the connection is secured. Default TLSStartTLS.
	TLS TLSMode
	// Username, if set, authenticates with the password Password returns.
	Username string
	// Password returns the password of Username. It is called once by New,
	// so a missing password file shows at start, and again for every
	// delivery, so a rotated password is picked up. Required with
	// Username.
	Password func() (string, error)
	// From is the sender address. Default fbs@localhost.
	From string
}

// TLSMode is how the connection to the mail server is secured.
type TLSMode string

// TLS modes, the words of the [smtp] tls key.
const (
	// TLSNone is plain SMTP.
	TLSNone TLSMode = "none"
	// TLSStartTLS upgrades a plain connection with STARTTLS.
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit speaks TLS from the start (SMTPS, port 465).
	TLSImplicit TLSMode = "tls"
)

// Config configures a Server.
type Config struct {
	// SMTP is the mail server. Host "" means no SMTP: mails are written
	// as .eml files to OutboxDir instead.
	SMTP SMTP
	// OutboxDir receives the mails when there is no SMTP server, and the
	// mails given up on after a day of retries when there is one. The
	// caller passes <data_dir>/outbox. Required without SMTP.
	OutboxDir string
	// PublicURL is the monitor's public URL for links in mails (build page,
	// full log). Without it mails name the fbs command to run instead.
	PublicURL string
	// Links, when set, signs the links of the mails (auth.Links): they
	// carry a key that lets whoever has the mail read that build's page,
	// log and live stream without signing in, as private visibility
	// needs. Nil: plain links.
	Links *auth.Links
	// Concurrency is how many mails are sent at once. Default 2.
	Concurrency int
	// Logger receives the server's log. Default slog.Default().
	Logger *slog.Logger
	// TLS is the base TLS configuration for STARTTLS and implicit TLS, for
	// example RootCAs of a private CA. Nil trusts the system roots. The
	// server name defaults to SMTP.Host.
	TLS *tls.Config
	// SendTimeout bounds one delivery attempt, connection to QUIT.
	// Default 1 minute.
	SendTimeout time.Duration
	// RetryDelay is the wait before retry n+1 (n from 0). Default
	// tasks.NotifyRetryDelay, which with tasks.NotifyMaxRetry spans about a day; tests set
	// it short.
	RetryDelay func(n int) time.Duration
	// PollInterval is how often asynq looks for new and due tasks when
	// idle. Default 1 s; tests set it short.
	PollInterval time.Duration
}

func (c *Config) fill() error {
	if c.Concurrency <= 0 {
		c.Concurrency = 2
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.SendTimeout <= 0 {
		c.SendTimeout = time.Minute
	}
	if c.RetryDelay == nil {
		c.RetryDelay = tasks.NotifyRetryDelay
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.TLS == nil {
		c.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if c.SMTP.From == "" {
		c.SMTP.From = "fbs@localhost"
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("notifications: public URL %q is not an http(s) URL", c.PublicURL)
		}
		c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	}
	if c.SMTP.Host == "" {
		if c.OutboxDir == "" {
			return errors.New("notifications: no SMTP host and no outbox directory: mails would be lost")
		}
		return nil
	}
	if c.SMTP.Port == 0 {
		c.SMTP.Port = 25
	}
	if c.SMTP.Port < 0 || c.SMTP.Port > 65535 {
		return fmt.Errorf("notifications: SMTP port %d is out of range 1-65535", c.SMTP.Port)
	}
	switch c.SMTP.TLS {
	case "":
		c.SMTP.TLS = TLSStartTLS
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		return fmt.Errorf("notifications: SMTP tls %q is not one of none, starttls, tls", c.SMTP.TLS)
	}
	if c.SMTP.Username != "" {
		if c.SMTP.Password == nil {
			return fmt.Errorf("notifications: SMTP user %s has no password", c.SMTP.Username)
		}
		// Read once now so a missing password file shows at start, not a
		// day later; it is read again for every delivery so a rotated
		// password is picked up.
		if _, err := c.SMTP.Password(); err != nil {
			return fmt.Errorf("notifications: %w", err)
		}
	}
	return nil
}

// Server sends the notification mails: an asynq server on the notify
// queue. Start runs it; Shutdown stops it.
type Server struct {
	cfg    Config
	store  *builds.Store
	ledger ledger
	srv    *asynq.Server
	log    *slog.Logger
	tmpl   *templates
	mailer *mailer
	from   *mail.Address
	domain string

	// unrecorded holds the mails sent whose dedupe key could not be
	// stored in Redis, so this process never sends them again.
	mu         sync.Mutex
	unrecorded map[string]bool

	once    sync.Once
	started bool
}

// New returns a notification server over rdb (the caller owns rdb). It
// checks cfg; Start runs the server.
func New(rdb redis.UniversalClient, cfg Config) (*Server, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	from, err := mail.ParseAddress(cfg.SMTP.From)
	if err != nil {
		return nil, fmt.Errorf("notifications: sender address %q: %w", cfg.SMTP.From, err)
	}
	tmpl, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	domain := "fbs.localhost"
	if at := strings.LastIndexByte(from.Address, '@'); at >= 0 && at < len(from.Address)-1 {
		domain = from.Address[at+1:]
	}
	s := &Server{
		cfg: cfg, store: builds.NewStore(rdb), ledger: ledger{rdb}, log: cfg.Logger, tmpl: tmpl, from: from, domain: domain,
		unrecorded: map[string]bool{},
	}
	if cfg.SMTP.Host != "" {
		s.mailer = &mailer{cfg: cfg.SMTP, tls: cfg.TLS, timeout: cfg.SendTimeout}
	}
	s.srv = asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:              cfg.Concurrency,
		Queues:                   map[string]int{tasks.NotifyQueue: 1},
		TaskCheckInterval:        cfg.PollInterval,
		DelayedTaskCheckInterval: cfg.PollInterval,
		ShutdownTimeout:          cfg.SendTimeout + 5*time.Second,
		Logger:                   asynqlog.New(cfg.Logger),
		LogLevel:                 asynq.WarnLevel,
		RetryDelayFunc: func(n int, err error, _ *asynq.Task) time.Duration {
			if errors.Is(err, errNotYet) {
				return cfg.RetryDelay(0)
			}
			return cfg.RetryDelay(n)
		},
		// Waiting for a build to finish or for another sender is not a
		// failure: it uses up no retry.
		IsFailure: func(err error) bool { return !errors.Is(err, errNotYet) },
	})
	return s, nil
}

// Start begins sending mails; it returns once the server runs. ctx is the
// parent of every delivery's context.
func (s *Server) Start(ctx context.Context) error {
	if ctx == nil {
		return errors.New("start notifications: nil context")
	}
	mux := asynq.NewServeMux()
	mux.HandleFunc(tasks.TypeNotify, s.process)
	// asynq takes the base context at construction; deliveries also stop
	// when ctx ends.
	h := asynq.HandlerFunc(func(tctx context.Context, t *asynq.Task) error {
		tctx, cancel := context.WithCancel(tctx)
		defer cancel()
		stop := context.AfterFunc(ctx, cancel)
		defer stop()
		return mux.ProcessTask(tctx, t)
	})
	if err := s.srv.Start(h); err != nil {
		return fmt.Errorf("start notifications: %w", err)
	}
	s.started = true
	mode := "smtp " + s.mailer.String()
	if s.mailer == nil {
		mode = "outbox " + s.cfg.OutboxDir
	}
	s.log.Info("notifications started", "mode", mode, "concurrency", s.cfg.Concurrency)
	return nil
}

// Shutdown stops taking mails and waits for the deliveries under way. It
// is safe to call more than once, and before Start.
func (s *Server) Shutdown() {
	s.once.Do(func() {
		if !s.started {
			return
		}
		s.srv.Shutdown()
		s.log.Info("notifications stopped")
	})
}

// Flush waits until no mail is due now: the notify queue holds no pending
// and no active task. `fbs serve` calls it after its worker has stopped and
// before Shutdown, so that a build that ended during the stop still gets
// its completion mail. Mails waiting for a later retry (a mail server
// down) stay queued. It returns early with ctx's error.
func (s *Server) Flush(ctx context.Context) error {
	if !s.started {
		return nil
	}
	in := asynq.NewInspectorFromRedisClient(s.ledger.rdb)
	defer in.Close()
	for {
		q, err := in.GetQueueInfo(tasks.NotifyQueue)
		switch {
		case err != nil:
			if none, qerr := noQueue(in, tasks.NotifyQueue); qerr == nil && none {
				return nil // no mail was ever queued: nothing to flush
			}
			return fmt.Errorf("flush mails: %w", err)
		case q.Pending == 0 && q.Active == 0:
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("flush mails: %d waiting, %d being sent: %w", q.Pending, q.Active, context.Cause(ctx))
		case <-time.After(s.cfg.PollInterval / 4):
		}
	}
}

// noQueue tells whether asynq knows no queue named name (nothing was ever
// enqueued on it). GetQueueInfo says so only in an error of asynq's
// internal type, which errors.Is(err, asynq.ErrQueueNotFound) does not
// match, so the queue list is asked instead.
func noQueue(in *asynq.Inspector, name string) (bool, error) {
	qs, err := in.Queues()
	if err != nil {
		return false, err
	}
	return !slices.Contains(qs, name), nil
}

// errNotYet marks a task that has to wait: its build has not finished,
// or another sender holds the mail. It is retried without counting.
var errNotYet = errors.New("not yet")

// process sends one mail. See the package doc for the delivery guarantee.
func (s *Server) process(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.DecodeNotifyPayload(t.Payload())
	if err != nil {
		s.log.Error("dropping malformed notification task", "err", err)
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	log := s.log.With("build", p.ID, "kind", p.Kind)
	key := tasks.NotifyTaskID(p.ID, p.Kind)

	if s.isUnrecorded(key) {
		// Sent by this process; only the record is missing.
		s.record(ctx, log, key)
		return nil
	}
	sent, err := s.ledger.sent(ctx, key)
	if err != nil {
		return err
	}
	if sent {
		log.Info("mail already sent; not sending again")
		return nil
	}

	now := time.Now()
	var out *outgoing
	if p.Kind.OfGroup() {
		out, err = s.groupMessage(ctx, log, p, now)
	} else {
		out, err = s.buildMessage(ctx, log, p, now)
	}
	if err != nil || out == nil {
		return err
	}
	msg, to := out.msg, out.to
	log = log.With("to", out.shownTo)

	// One sender at a time per mail: asynq may run a task again while a
	// stalled first run still holds it.
	unlock, err := s.lock(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()

	if s.mailer == nil {
		name, err := writeOutbox(s.cfg.OutboxDir, p.ID, p.Kind, "", msg, now)
		if err != nil {
			return s.failed(ctx, log, t, p, msg, now, err)
		}
		s.record(ctx, log, key)
		s.count(ctx, log, CounterSent)
		log.Info("mail written to outbox", "file", name)
		return nil
	}
	rcpts := make([]string, len(to))
	for i, a := range to {
		rcpts[i] = a.Address
	}
	if err := s.mailer.send(ctx, s.from.Address, rcpts, msg); err != nil {
		return s.failed(ctx, log, t, p, msg, now, err)
	}
	s.record(ctx, log, key)
	s.count(ctx, log, CounterSent)
	log.Info("mail sent", "server", s.mailer.String())
	return nil
}

// recipients parses the mail address addr; a bad one is given up on (and
// counted), never retried.
func (s *Server) recipients(ctx context.Context, log *slog.Logger, addr string) ([]*mail.Address, error) {
	to, err := tasks.ParseRecipients(addr)
	if err != nil {
		s.count(ctx, log, CounterFailed)
		log.Error("mail given up: bad recipient", "err", err)
		return nil, fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return to, nil
}

// outgoing is a mail ready to send: the message and its recipients.
type outgoing struct {
	msg []byte
	to  []*mail.Address
	// shownTo is the recipient as logs show it.
	shownTo string
}

// buildMessage composes the kind mail of one build; nil when there is
// nothing to send.
func (s *Server) buildMessage(ctx context.Context, log *slog.Logger, p tasks.NotifyPayload, now time.Time) (*outgoing, error) {
	l := letter{envelope: envelope{what: "build", id: p.ID, kind: p.Kind, now: now}}
	b, err := s.store.Get(ctx, p.ID)
	if err != nil {
		return nil, l.readFailed(log, err)
	}
	l.email, l.state = b.Spec.Email, b.State
	l.subject = subject("build", b.ID, p.Kind, b.State, b.Spec, b.Spec.Arch)
	return s.message(ctx, log, l, func() (any, error) {
		var lines []builds.LogLine
		var earlier bool
		var err error
		if p.Kind == tasks.MailFinished {
			if lines, earlier, err = s.tail(ctx, b); err != nil {
				return nil, err
			}
		}
		link := ""
		if s.cfg.Links != nil && s.cfg.PublicURL != "" {
			if link, err = s.cfg.Links.Mint(ctx, b.ID); err != nil {
				return nil, err
			}
		}
		return s.buildData(b, p.Kind, lines, earlier, link, now), nil
	})
}

// failed handles a failed delivery: retried later, or, on the last retry
// or a permanent refusal, given up on and kept in the outbox.
func (s *Server) failed(ctx context.Context, log *slog.Logger, t *asynq.Task, p tasks.NotifyPayload, msg []byte, now time.Time, err error) error {
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, ok := asynq.GetMaxRetry(ctx)
	var perm *permanentError
	if !errors.As(err, &perm) && (!ok || retried < maxRetry) {
		s.count(ctx, log, CounterRetried)
		log.Warn("mail not sent; will retry", "attempt", retried+1, "retry_in", s.cfg.RetryDelay(retried), "err", err)
		return err
	}
	s.count(ctx, log, CounterFailed)
	attrs := []any{"attempts", retried + 1, "err", err}
	if s.cfg.OutboxDir != "" && s.mailer != nil {
		if name, werr := writeOutbox(s.cfg.OutboxDir, p.ID, p.Kind, "-undelivered", msg, now); werr != nil {
			attrs = append(attrs, "outbox_err", werr)
		} else {
			attrs = append(attrs, "kept_as", name)
		}
	}
	log.Error("mail given up", attrs...)
	return fmt.Errorf("%s mail of build %s given up: %w: %w", p.Kind, p.ID, err, asynq.SkipRetry)
}

// lock takes the per-mail send lock; the returned func releases it.
func (s *Server) lock(ctx context.Context, key string) (func(), error) {
	token, err := s.ledger.lock(ctx, key, s.cfg.SendTimeout+time.Minute)
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, fmt.Errorf("mail %s is being sent by another run: %w", key, errNotYet)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.ledger.unlock(ctx, key, token); err != nil {
			s.log.Warn("release mail lock", "mail", key, "err", err)
		}
	}, nil
}

// record stores that mail key was sent, retrying briefly; if Redis does
// not take it, the process remembers it instead.
func (s *Server) record(ctx context.Context, log *slog.Logger, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var err error
	for wait := 50 * time.Millisecond; ; wait *= 2 {
		if err = s.ledger.markSent(ctx, key, time.Now()); err == nil {
			s.mu.Lock()
			delete(s.unrecorded, key)
			s.mu.Unlock()
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			s.mu.Lock()
			s.unrecorded[key] = true
			s.mu.Unlock()
			log.Error("mail sent but not recorded in Redis; a restart before Redis is back could send it again", "err", err)
			return
		case <-t.C:
		}
	}
}

func (s *Server) isUnrecorded(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unrecorded[key]
}

func (s *Server) count(ctx context.Context, log *slog.Logger, name string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.store.Count(ctx, name, 1); err != nil {
		log.Warn("count mail", "counter", name, "err", err)
	}
}

// String names the SMTP server for logs: host, port, TLS mode and user,
// never the password.
func (m *mailer) String() string {
	if m == nil {
		return ""
	}
	s := m.addr() + " tls=" + string(m.cfg.TLS)
	if m.cfg.Username != "" {
		s += " user=" + m.cfg.Username
	}
	return s
}
