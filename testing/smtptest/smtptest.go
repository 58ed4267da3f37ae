// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp) on a
// free loopback port for tests: plain, STARTTLS or implicit TLS with a
// self-signed certificate made at start, AUTH PLAIN and LOGIN when a user is
// set, every accepted message recorded, and faults on demand (refuse, time
// out, drop the connection) for the next N connections or messages.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLS modes of the server; the same words as the [smtp] tls key.
const (
	TLSNone     = "none"
	TLSStartTLS = "starttls"
	TLSImplicit = "tls"
)

// Fault is a way for the server to misbehave.
type Fault int

// Faults the server can be told to produce with Fail.
const (
	// Refuse greets a new connection with "421 service not available" and
	// closes it.
	Refuse Fault = iota + 1
	// Timeout accepts a connection and never says anything: the client has
	// to give up. The connection is held until the client closes it or the
	// server stops.
	Timeout
	// Drop reads a whole message after DATA, then closes the connection
	// without a reply. The message is not recorded.
	Drop
	// LoseReply records the message after DATA, then closes the connection
	// without a reply: the mail was delivered but the client cannot know,
	// as when the server's acknowledgement is lost on the way.
	LoseReply
)

func (f Fault) String() string {
	switch f {
	case Refuse:
		return "refuse"
	case Timeout:
		return "timeout"
	case Drop:
		return "drop"
	case LoseReply:
		return "lose-reply"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// Options configure a Server.
type Options struct {
	// TLS is TLSNone (the default), TLSStartTLS or TLSImplicit.
	TLS string
	// Username and Password, when Username is set, make the server offer
	// AUTH (Mechanisms) and refuse mail from unauthenticated clients.
	Username, Password string
	// Mechanisms are the AUTH mechanisms offered, among "PLAIN" and
	// "LOGIN". Default both.
	Mechanisms []string
	// Reject lists recipient addresses refused for good (550).
	Reject []string
}

// Message is a mail the server accepted.
type Message struct {
	// From is the envelope sender (MAIL FROM).
	From string
	// To are the envelope recipients (RCPT TO).
	To []string
	// Data is the message as sent after DATA.
	Data []byte
	// User is who authenticated, "" if nobody did.
	User string
	// TLS reports whether the message came over TLS.
	TLS bool
}

// Server is a running SMTP server owned by one test.
type Server struct {
	// Addr is host:port of the server; Host and Port are its parts.
	Addr string
	Host string
	Port int

	tb      testing.TB
	opts    Options
	tlsConf *tls.Config
	pool    *x509.CertPool

	mu       sync.Mutex
	srv      *smtp.Server
	ln       net.Listener
	serving  chan struct{} // closed when Serve returns
	faults   map[Fault]int
	msgs     []Message
	changed  chan struct{} // closed and replaced whenever msgs grows
	held     map[net.Conn]struct{}
	conns    int
	authFail int
	heldWG   sync.WaitGroup
}

// Start runs a server on a free port of 127.0.0.1 and stops it when the
// test ends.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	switch opts.TLS {
	case "":
		opts.TLS = TLSNone
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		tb.Fatalf("smtptest: unknown TLS mode %q (want none, starttls or tls)", opts.TLS)
	}
	if opts.Mechanisms == nil {
		opts.Mechanisms = []string{sasl.Plain, sasl.Login}
	}
	s := &Server{
		tb: tb, opts: opts, Host: "127.0.0.1",
		faults: map[Fault]int{}, changed: make(chan struct{}), held: map[net.Conn]struct{}{},
	}
	s.tlsConf, s.pool = selfSigned(tb)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("smtptest: listen: %v", err)
	}
	s.Addr = l.Addr().String()
	s.Port = l.Addr().(*net.TCPAddr).Port
	s.serve(l)
	tb.Cleanup(s.Stop)
	return s
}

func (s *Server) serve(l net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = "smtptest.localhost"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.AllowInsecureAuth = s.opts.TLS == TLSNone
	var ln net.Listener = &faultListener{Listener: l, s: s}
	switch s.opts.TLS {
	case TLSStartTLS:
		srv.TLSConfig = s.tlsConf
	case TLSImplicit:
		ln = tls.NewListener(ln, s.tlsConf)
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.srv, s.ln, s.serving = srv, l, done
	s.mu.Unlock()
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
}

// Stop closes the listener and every connection, so clients find nothing
// listening; Restart brings the server back. Safe to call more than once.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, ln, done := s.srv, s.ln, s.serving
	s.srv, s.ln = nil, nil
	for c := range s.held {
		c.Close()
	}
	s.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	// go-smtp closes only the listeners Serve has registered; if Serve has
	// not started yet, this is what stops it.
	_ = ln.Close()
	<-done
	s.heldWG.Wait()
}

// Restart starts a stopped server again on the same port, keeping the
// messages recorded so far.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	l, err := net.Listen("tcp", s.Addr)
	if err != nil {
		s.tb.Fatalf("smtptest: listen again on %s: %v", s.Addr, err)
	}
	s.serve(l)
}

// CertPool holds the server's self-signed certificate, for clients to
// trust.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// ClientTLS returns a TLS configuration that trusts the server.
func (s *Server) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: s.pool, ServerName: s.Host, MinVersion: tls.VersionTLS12}
}

// Fail makes the server produce fault f n more times: Refuse and Timeout
// apply to the next connections, Drop and LoseReply to the next messages.
func (s *Server) Fail(f Fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[f] += n
}

// take uses up one occurrence of fault f, reporting whether one was due.
func (s *Server) take(f Fault) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults[f] > 0 {
		s.faults[f]--
		return true
	}
	return false
}

// Connections is the number of TCP connections accepted so far.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// AuthFailures is the number of AUTH attempts refused so far.
func (s *Server) AuthFailures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authFail
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait returns the messages once at least n were accepted; it fails the
// test if that takes more than timeout.
func (s *Server) Wait(tb testing.TB, n int, timeout time.Duration) []Message {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, changed := len(s.msgs), s.changed
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-changed:
		case <-deadline.C:
			tb.Fatalf("smtptest: %d message(s) after %v, want %d", got, timeout, n)
		}
	}
}

func (s *Server) record(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	close(s.changed)
	s.changed = make(chan struct{})
}

// faultListener applies the connection faults before go-smtp sees a
// connection.
type faultListener struct {
	net.Listener
	s *Server
}

func (l *faultListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.s.mu.Lock()
		l.s.conns++
		l.s.mu.Unlock()
		switch {
		case l.s.take(Refuse):
			_, _ = io.WriteString(c, "421 4.3.2 smtptest: service not available\r\n")
			c.Close()
		case l.s.take(Timeout):
			l.s.hold(c)
		default:
			return c, nil
		}
	}
}

// hold keeps c open and silent until the client closes it or the server
// stops.
func (s *Server) hold(c net.Conn) {
	s.mu.Lock()
	s.held[c] = struct{}{}
	s.mu.Unlock()
	s.heldWG.Add(1)
	go func() {
		defer s.heldWG.Done()
		_, _ = io.Copy(io.Discard, c)
		c.Close()
		s.mu.Lock()
		delete(s.held, c)
		s.mu.Unlock()
	}()
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &session{s: s, conn: c, tls: isTLS}, nil
}

// session is one SMTP session.
type session struct {
	s    *Server
	conn *smtp.Conn
	tls  bool
	user string
	from string
	to   []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Username == "" {
		return nil
	}
	return ss.s.opts.Mechanisms
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != ss.s.opts.Username || pass != ss.s.opts.Password {
			ss.s.mu.Lock()
			ss.s.authFail++
			ss.s.mu.Unlock()
			return smtp.ErrAuthFailed
		}
		ss.user = user
		return nil
	}
	if !slices.Contains(ss.s.opts.Mechanisms, mech) {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return smtp.ErrAuthFailed
			}
			return check(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.Username != "" && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if _, err := mail.ParseAddress(to); err != nil {
		return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "bad recipient address"}
	}
	if slices.Contains(ss.s.opts.Reject, to) {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if ss.s.take(Drop) {
		ss.conn.Conn().Close()
		return errors.New("smtptest: connection dropped")
	}
	ss.s.record(Message{From: ss.from, To: append([]string(nil), ss.to...), Data: data, User: ss.user, TLS: ss.tls})
	if ss.s.take(LoseReply) {
		ss.conn.Conn().Close()
		return errors.New("smtptest: reply lost")
	}
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN, which go-sasl only has as
// a client.
type loginServer struct {
	check func(user, pass string) error
	user  *string
}

func (l *loginServer) Next(resp []byte) (challenge []byte, done bool, err error) {
	switch {
	case l.user == nil && resp == nil:
		return []byte("Username:"), false, nil
	case l.user == nil:
		u := string(resp)
		l.user = &u
		return []byte("Password:"), false, nil
	}
	return nil, true, l.check(*l.user, string(resp))
}

// Header parses the message's header.
func (m Message) Header() (mail.Header, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return nil, fmt.Errorf("parse message: %w", err)
	}
	return msg.Header, nil
}

// Subject is the decoded Subject header ("" if unparseable).
func (m Message) Subject() string {
	h, err := m.Header()
	if err != nil {
		return ""
	}
	s, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil {
		return h.Get("Subject")
	}
	return s
}

// Part returns the decoded body of the first part of media type mediaType
// ("text/plain", "text/html"), looking into multipart bodies.
func (m Message) Part(mediaType string) (string, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return "", fmt.Errorf("parse message: %w", err)
	}
	body, err := findPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, mediaType)
	if err != nil {
		return "", err
	}
	return body, nil
}

func findPart(ctype, encoding string, body io.Reader, want string) (string, error) {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return "", fmt.Errorf("content type %q: %w", ctype, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return "", fmt.Errorf("no %s part", want)
			}
			if err != nil {
				return "", fmt.Errorf("read %s part: %w", mt, err)
			}
			s, err := findPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, want)
			if err == nil {
				return s, nil
			}
		}
	}
	if mt != want {
		return "", fmt.Errorf("no %s part (found %s)", want, mt)
	}
	if strings.EqualFold(encoding, "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return "", fmt.Errorf("read %s part: %w", want, err)
	}
	return string(b), nil
}

// selfSigned makes a certificate for 127.0.0.1 and localhost.
func selfSigned(tb testing.TB) (*tls.Config, *x509.CertPool) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("smtptest: generate key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatalf("smtptest: make certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("smtptest: parse certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
		MinVersion:   tls.VersionTLS12,
	}, pool
}
