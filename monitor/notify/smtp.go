package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// mailer delivers one message to an SMTP server.
type mailer struct {
	cfg     SMTP
	tls     *tls.Config
	timeout time.Duration
}

// permanentError is a refusal that retrying cannot fix: the server
// rejected a recipient for good (5xx).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func (m *mailer) addr() string { return net.JoinHostPort(m.cfg.Host, strconv.Itoa(m.cfg.Port)) }

// send delivers msg from envelope sender from to the recipients to. The
// whole delivery is bounded by m.timeout. Errors name the server and the
// step; they never carry the password.
func (m *mailer) send(ctx context.Context, from string, to []string, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	addr := m.addr()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connect to SMTP server %s: %w", addr, err)
	}
	// Closing the connection when ctx ends unblocks whatever step waits
	// on a silent server.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	fail := func(step string, err error) error {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", context.Cause(ctx), err)
		}
		return fmt.Errorf("%s on SMTP server %s: %w", step, addr, err)
	}

	tlsConf := m.tls.Clone()
	if tlsConf.ServerName == "" {
		tlsConf.ServerName = m.cfg.Host
	}
	var c *smtp.Client
	switch m.cfg.TLS {
	case TLSImplicit:
		tc := tls.Client(conn, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail("TLS handshake", err)
		}
		c = smtp.NewClient(tc)
	case TLSStartTLS:
		c, err = smtp.NewClientStartTLS(conn, tlsConf)
		if err != nil {
			return fail("STARTTLS", err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	c.CommandTimeout, c.SubmissionTimeout = m.timeout, m.timeout
	if m.cfg.Username != "" {
		if err := m.auth(c); err != nil {
			return fail("authenticate as "+m.cfg.Username, err)
		}
	}
	if err := c.Mail(from, nil); err != nil {
		return fail("MAIL FROM "+from, err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt, nil); err != nil {
			var se *smtp.SMTPError
			if errors.As(err, &se) && se.Code >= 500 {
				return &permanentError{fail("RCPT TO "+rcpt, err)}
			}
			return fail("RCPT TO "+rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fail("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fail("send message", err)
	}
	if err := w.Close(); err != nil {
		return fail("end of message", err)
	}
	// The message is accepted; a failing QUIT changes nothing.
	_ = c.Quit()
	return nil
}

// auth logs in with PLAIN, or LOGIN when the server offers only that.
func (m *mailer) auth(c *smtp.Client) error {
	pw, err := m.cfg.Password()
	if err != nil {
		return err
	}
	ok, mechs := c.Extension("AUTH")
	if !ok {
		return errors.New("server offers no AUTH")
	}
	var client sasl.Client
	switch {
	case c.SupportsAuth(sasl.Plain):
		client = sasl.NewPlainClient("", m.cfg.Username, pw)
	case c.SupportsAuth(sasl.Login):
		client = sasl.NewLoginClient(m.cfg.Username, pw)
	default:
		return fmt.Errorf("server offers neither PLAIN nor LOGIN (AUTH %s)", mechs)
	}
	return c.Auth(client)
}
