package cli

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/puawatch/puawatch/internal/poll"
)

// progressLogEvery is how often, at most, a pass over the tenants is
// logged when stderr is not a terminal.
const progressLogEvery = 10 * time.Second

// progress shows how a first read of every tenant goes (poll.Progress)
// on stderr. On a terminal it is one line rewritten in place, cleared
// when the pass ends; log lines written meanwhile clear it and draw it
// again after them (the logger writes through progress). Elsewhere (a
// log file, the journal) it is a log line at most every
// progressLogEvery during a pass, none for a pass shorter than that.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	log   *slog.Logger
	now   func() time.Time
	every time.Duration

	line    string    // the line on screen (tty), "" when none
	active  bool      // a pass is going on
	lastLog time.Time // the pass's start, or its last log line
}

// newProgress renders progress on w; isTerminal tells whether w is a
// terminal, now is the clock of the log cadence.
func newProgress(w io.Writer, isTerminal func(io.Writer) bool, now func() time.Time) *progress {
	return &progress{w: w, tty: isTerminal(w), now: now, every: progressLogEvery, log: slog.New(slog.DiscardHandler)}
}

// isTerminal tells whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// setLogger is the logger of the log lines (when w is not a terminal).
func (p *progress) setLogger(l *slog.Logger) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = l.With("component", "run")
}

// Write writes b (a log line) to w, clearing the progress line first and
// drawing it again after.
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := p.line
	p.clearLocked()
	n, err := p.w.Write(b)
	p.drawLocked(line)
	return n, err
}

// Update shows pr.
func (p *progress) Update(pr poll.Progress) {
	if log := p.update(pr); log != nil {
		// Logged outside the lock: the log writes through p.
		log.Info("reading tenants", "tenants_done", pr.Done, "tenants", pr.Total, "events", pr.Events, "new_detections", pr.Detections)
	}
}

// update shows pr on a terminal; it returns the logger when pr is to be
// logged, else nil.
func (p *progress) update(pr poll.Progress) *slog.Logger {
	p.mu.Lock()
	defer p.mu.Unlock()
	end := pr.Done >= pr.Total
	if !p.active {
		if end {
			return nil // a pass of no tenant, or told after its end
		}
		p.active, p.lastLog = true, p.now()
	}
	if p.tty {
		if end {
			p.clearLocked()
		} else {
			p.drawLocked(fmt.Sprintf("puawatch: %d/%d tenants read, %d events, %d new detections", pr.Done, pr.Total, pr.Events, pr.Detections))
		}
	} else if now := p.now(); !end && now.Sub(p.lastLog) >= p.every {
		p.lastLog = now
		return p.log
	}
	if end {
		p.active = false
	}
	return nil
}

// Close clears the progress line, if any: the pass ended or stopped.
func (p *progress) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	p.active = false
}

// drawLocked rewrites the line on screen with line.
func (p *progress) drawLocked(line string) {
	if !p.tty || line == "" {
		return
	}
	pad := "" // blanks what a longer line before left
	if n := len(p.line) - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	_, _ = io.WriteString(p.w, "\r"+line+pad)
	p.line = line
}

// clearLocked blanks the line on screen and puts the cursor at its start.
func (p *progress) clearLocked() {
	if p.line == "" {
		return
	}
	_, _ = io.WriteString(p.w, "\r"+strings.Repeat(" ", len(p.line))+"\r")
	p.line = ""
}
