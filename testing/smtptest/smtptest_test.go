package smtptest_test

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/fedora-fbs/fbs/testing/smtptest"
)

const msg = "Subject: hi\r\nContent-Type: text/plain\r\n\r\nhello\r\n"

// send delivers msg with a go-smtp client; tlsMode and auth as the server
// wants them.
func send(t *testing.T, s *smtptest.Server, tlsMode string, auth sasl.Client) error {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.Addr, 2*time.Second)
	if err != nil {
		return err
	}
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	var c *smtp.Client
	switch tlsMode {
	case smtptest.TLSImplicit:
		c = smtp.NewClient(tls.Client(conn, s.ClientTLS()))
	case smtptest.TLSStartTLS:
		if c, err = smtp.NewClientStartTLS(conn, s.ClientTLS()); err != nil {
			conn.Close()
			return err
		}
	default:
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	c.CommandTimeout, c.SubmissionTimeout = time.Second, time.Second
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return err
		}
	}
	return c.SendMail("a@example.org", []string{"b@example.org"}, strings.NewReader(msg))
}

func TestModes(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{smtptest.TLSNone, smtptest.TLSStartTLS, smtptest.TLSImplicit} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			s := smtptest.Start(t, smtptest.Options{TLS: mode, Username: "u", Password: "p"})
			if err := send(t, s, mode, nil); err == nil {
				t.Fatal("mail accepted without AUTH")
			}
			if err := send(t, s, mode, sasl.NewPlainClient("", "u", "wrong")); err == nil {
				t.Fatal("mail accepted with a wrong password")
			}
			if err := send(t, s, mode, sasl.NewLoginClient("u", "p")); err != nil {
				t.Fatalf("LOGIN: %v", err)
			}
			if err := send(t, s, mode, sasl.NewPlainClient("", "u", "p")); err != nil {
				t.Fatalf("PLAIN: %v", err)
			}
			msgs := s.Wait(t, 2, 5*time.Second)
			if len(msgs) != 2 || msgs[0].User != "u" || msgs[0].TLS != (mode != smtptest.TLSNone) || msgs[0].Subject() != "hi" {
				t.Errorf("messages %+v", msgs)
			}
			if body, err := msgs[0].Part("text/plain"); err != nil || body != "hello\r\n" {
				t.Errorf("body %q, %v", body, err)
			}
			if s.AuthFailures() != 1 {
				t.Errorf("%d auth failures, want 1", s.AuthFailures())
			}
		})
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fault    smtptest.Fault
		recorded int
	}{
		{smtptest.Refuse, 0},
		{smtptest.Timeout, 0},
		{smtptest.Drop, 0},
		{smtptest.LoseReply, 1},
	}
	for _, tc := range tests {
		t.Run(tc.fault.String(), func(t *testing.T) {
			t.Parallel()
			s := smtptest.Start(t, smtptest.Options{})
			s.Fail(tc.fault, 1)
			if err := send(t, s, smtptest.TLSNone, nil); err == nil {
				t.Fatal("first send succeeded")
			}
			if n := len(s.Messages()); n != tc.recorded {
				t.Errorf("%d messages recorded after the fault, want %d", n, tc.recorded)
			}
			if err := send(t, s, smtptest.TLSNone, nil); err != nil {
				t.Fatalf("second send: %v", err)
			}
			s.Wait(t, tc.recorded+1, 5*time.Second)
		})
	}
}

func TestStopRestart(t *testing.T) {
	t.Parallel()
	s := smtptest.Start(t, smtptest.Options{})
	s.Stop()
	if err := send(t, s, smtptest.TLSNone, nil); err == nil {
		t.Fatal("send to a stopped server succeeded")
	}
	s.Restart()
	if err := send(t, s, smtptest.TLSNone, nil); err != nil {
		t.Fatalf("send after restart: %v", err)
	}
	s.Stop()
	s.Stop()
}
