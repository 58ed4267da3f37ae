package tasks

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Progress is how far the current stage of a running build is, for stages
// that move bytes: the boot ISO download (fetch), the side repository's
// downloads and every staging transfer. The worker writes it into the build
// record every few seconds (Build.Progress) and as a line of the build log
// (Line), which the monitor's page and `fbs logs -f` read as it streams.
type Progress struct {
	// Stage is the stage the bytes belong to.
	Stage Stage `json:"stage"`
	// Item is what moves: a file name, or a URL without credentials.
	Item string `json:"item,omitempty"`
	// Done is the bytes moved so far; Total the bytes to move, 0 when
	// unknown (a download without a length).
	Done  int64 `json:"done"`
	Total int64 `json:"total,omitempty"`
	// Rate is the recent rate in bytes per second.
	Rate float64 `json:"rate,omitempty"`
	// Updated is when it was measured.
	Updated time.Time `json:"updated"`
}

// Fraction is Done of Total, between 0 and 1; ok is false when the total
// is unknown.
func (p Progress) Fraction() (f float64, ok bool) {
	if p.Total <= 0 {
		return 0, false
	}
	return min(max(float64(p.Done)/float64(p.Total), 0), 1), true
}

// Remaining estimates the time left at the current rate; ok is false
// without a total or a rate.
func (p Progress) Remaining() (d time.Duration, ok bool) {
	if p.Total <= 0 || p.Rate <= 0 {
		return 0, false
	}
	left := max(p.Total-p.Done, 0)
	s := float64(left) / p.Rate
	if s > float64(math.MaxInt64/int64(time.Second)) {
		return 0, false
	}
	return time.Duration(s * float64(time.Second)).Round(time.Second), true
}

// progressPrefix starts every progress line of a build log.
const progressPrefix = "progress "

// Line is the progress as one build log line, for people and for
// ParseProgressLine alike:
//
//	progress transfer: 52428800/104857600 bytes (50%, 12.5 MB/s, 4s left) Fedora-Live.iso
//
// The exact bytes come first, the rounded figures for people in
// parentheses, the item last, since a file name may hold spaces.
func (p Progress) Line() string {
	total := "?"
	if p.Total > 0 {
		total = strconv.FormatInt(p.Total, 10)
	}
	var parts []string
	if f, ok := p.Fraction(); ok {
		parts = append(parts, fmt.Sprintf("%d%%", int(f*100)))
	} else {
		parts = append(parts, HumanSize(p.Done))
	}
	parts = append(parts, fmt.Sprintf("%.1f MB/s", p.Rate/1e6))
	if d, ok := p.Remaining(); ok {
		parts = append(parts, d.String()+" left")
	}
	return fmt.Sprintf("%s%s: %d/%s bytes (%s) %s", progressPrefix, p.Stage, p.Done, total, strings.Join(parts, ", "), p.Item)
}

// progressLine matches a line made by Line, after the log's "fbs | ".
var progressLine = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^progress ([a-z][a-z ]{0,31}): ([0-9]{1,19})/([0-9]{1,19}|\?) bytes \(([^()]*)\) (.*)$`)
})

// progressRate finds the rate inside the parentheses of a progress line.
var progressRate = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?:^|, )([0-9]{1,12}(?:\.[0-9]{1,3})?) MB/s(?:,|$)`)
})

// logSource is what the build log puts between a line's timestamp and an
// fbs line's text (worker/buildlog).
const logSource = " fbs | "

// ParseProgressLine reads a progress line back: the text of one made by
// Line, or a whole build log line ("<time> fbs | progress ..."). ok is
// false for any other line, tools' output included.
func ParseProgressLine(line string) (p Progress, ok bool) {
	text := line
	if !strings.HasPrefix(text, progressPrefix) {
		i := strings.Index(line, logSource)
		if i < 0 || strings.Contains(line[:i], " ") {
			return Progress{}, false
		}
		text = line[i+len(logSource):]
		if ts, err := time.Parse("2006-01-02T15:04:05.000Z", line[:i]); err == nil {
			p.Updated = ts
		}
	}
	m := progressLine().FindStringSubmatch(text)
	if m == nil {
		return Progress{}, false
	}
	done, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil {
		return Progress{}, false
	}
	var total int64
	if m[3] != "?" {
		if total, err = strconv.ParseInt(m[3], 10, 64); err != nil {
			return Progress{}, false
		}
	}
	p.Stage, p.Done, p.Total, p.Item = Stage(m[1]), done, total, m[5]
	if r := progressRate().FindStringSubmatch(m[4]); r != nil {
		mb, _ := strconv.ParseFloat(r[1], 64)
		p.Rate = mb * 1e6
	}
	return p, true
}
