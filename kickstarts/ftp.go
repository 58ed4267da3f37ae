package kickstarts

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// getFTP retrieves u by anonymous (or URL-given) passive-mode FTP, with the
// same address rules, timeout and size limit as HTTP.
func (f *fetcher) getFTP(ctx context.Context, u *url.URL) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "21")
	}
	conn, err := f.dial(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	tp := textproto.NewConn(conn)
	if _, _, err := tp.ReadResponse(220); err != nil {
		return nil, fmt.Errorf("ftp greeting: %w", err)
	}
	user, pass := "anonymous", "fbs@"
	if u.User != nil {
		user = u.User.Username()
		if p, ok := u.User.Password(); ok {
			pass = p
		}
	}
	code, _, err := cmd(tp, "USER "+user)
	if err != nil {
		return nil, err
	}
	if code == 331 {
		if code, _, err = cmd(tp, "PASS "+pass); err != nil {
			return nil, err
		}
	}
	if code != 230 && code != 202 {
		return nil, fmt.Errorf("ftp login as %s refused (%d)", user, code)
	}
	if code, msg, err := cmd(tp, "TYPE I"); err != nil || code != 200 {
		return nil, fmt.Errorf("ftp TYPE I: %d %s %v", code, msg, err)
	}
	dataAddr, err := passive(tp, conn.RemoteAddr())
	if err != nil {
		return nil, err
	}
	dc, err := f.dial(ctx, "tcp", dataAddr)
	if err != nil {
		return nil, fmt.Errorf("ftp data connection: %w", err)
	}
	defer dc.Close()
	_ = dc.SetDeadline(deadline)
	stopData := context.AfterFunc(ctx, func() { _ = dc.SetDeadline(time.Unix(1, 0)) })
	defer stopData()
	p := u.Path
	if p == "" {
		p = "/"
	}
	code, msg, err := cmd(tp, "RETR "+p)
	if err != nil {
		return nil, err
	}
	switch {
	case code == 550:
		return nil, fmt.Errorf("ftp RETR %s: %s: %w", p, msg, ErrNotFound)
	case code != 125 && code != 150:
		return nil, fmt.Errorf("ftp RETR %s: %d %s", p, code, msg)
	}
	data, err := readLimited(bufio.NewReader(dc), u.Redacted())
	if err != nil {
		return nil, err
	}
	dc.Close()
	if _, _, err := tp.ReadResponse(226); err != nil {
		return nil, fmt.Errorf("ftp RETR %s: %w", p, err)
	}
	_, _, _ = cmd(tp, "QUIT")
	return data, nil
}

// cmd sends an FTP command and reads the reply.
func cmd(tp *textproto.Conn, line string) (int, string, error) {
	if strings.ContainsAny(line, "\r\n") {
		return 0, "", fmt.Errorf("ftp: line break in command")
	}
	if err := tp.PrintfLine("%s", line); err != nil {
		return 0, "", fmt.Errorf("ftp %s: %w", strings.Fields(line)[0], err)
	}
	code, msg, err := tp.ReadResponse(0)
	if err != nil {
		if _, ok := err.(*textproto.Error); !ok {
			return 0, "", fmt.Errorf("ftp %s: %w", strings.Fields(line)[0], err)
		}
	}
	return code, msg, nil
}

// passive asks for a data port (EPSV, then PASV) and returns its address.
// The data connection always goes to the control connection's host, so a
// server cannot point it elsewhere.
func passive(tp *textproto.Conn, ctrl net.Addr) (string, error) {
	host, _, _ := net.SplitHostPort(ctrl.String())
	code, msg, err := cmd(tp, "EPSV")
	if err != nil {
		return "", err
	}
	if code == 229 {
		// 229 Entering Extended Passive Mode (|||port|)
		if i := strings.Index(msg, "(|||"); i >= 0 {
			rest := msg[i+4:]
			if j := strings.Index(rest, "|"); j > 0 {
				if port, err := strconv.Atoi(rest[:j]); err == nil && port > 0 && port < 65536 {
					return net.JoinHostPort(host, strconv.Itoa(port)), nil
				}
			}
		}
		return "", fmt.Errorf("ftp EPSV: bad reply %q", msg)
	}
	code, msg, err = cmd(tp, "PASV")
	if err != nil {
		return "", err
	}
	if code != 227 {
		return "", fmt.Errorf("ftp PASV: %d %s", code, msg)
	}
	i, j := strings.Index(msg, "("), strings.Index(msg, ")")
	if i < 0 || j < i {
		return "", fmt.Errorf("ftp PASV: bad reply %q", msg)
	}
	parts := strings.Split(msg[i+1:j], ",")
	if len(parts) != 6 {
		return "", fmt.Errorf("ftp PASV: bad reply %q", msg)
	}
	hi, err1 := strconv.Atoi(strings.TrimSpace(parts[4]))
	lo, err2 := strconv.Atoi(strings.TrimSpace(parts[5]))
	if err1 != nil || err2 != nil || hi < 0 || hi > 255 || lo < 0 || lo > 255 {
		return "", fmt.Errorf("ftp PASV: bad reply %q", msg)
	}
	return net.JoinHostPort(host, strconv.Itoa(hi<<8|lo)), nil
}
