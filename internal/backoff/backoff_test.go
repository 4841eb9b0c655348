package backoff

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestCeiling(t *testing.T) {
	base, maxD := 100*time.Millisecond, 2*time.Second
	for n, want := range []time.Duration{100, 200, 400, 800, 1600, 2000, 2000} {
		if got := Ceiling(n, base, maxD); got != want*time.Millisecond {
			t.Errorf("Ceiling(%d) = %s, want %s", n, got, want*time.Millisecond)
		}
	}
	if got := Ceiling(200, time.Second, time.Duration(1<<62)); got != time.Duration(1<<62) {
		t.Errorf("huge retry: %s", got)
	}
	if got := Ceiling(10, time.Hour, time.Duration(math.MaxInt64)); got != 1024*time.Hour {
		t.Errorf("Ceiling(10, 1h, max) = %s", got)
	}
	if got := Ceiling(3, 0, time.Hour); got != 0 {
		t.Errorf("zero base: %s", got)
	}
	if got := Ceiling(0, time.Hour, time.Minute); got != time.Minute {
		t.Errorf("max below base: %s", got)
	}
}

func TestDelay(t *testing.T) {
	base, maxD := 100*time.Millisecond, 2*time.Second
	for n := range 8 {
		c := Ceiling(n, base, maxD)
		if got := Delay(n, base, maxD, 0); got != base {
			t.Errorf("Delay(%d, r=0) = %s, want the floor %s", n, got, base)
		}
		if got := Delay(n, base, maxD, 0.999999); got > c || got < c*99/100 {
			t.Errorf("Delay(%d, r≈1) = %s, want about %s", n, got, c)
		}
		if got := Delay(n, base, maxD, 0.5); got != max(c/2, base) {
			t.Errorf("Delay(%d, r=.5) = %s, want %s", n, got, max(c/2, base))
		}
		for _, r := range []float64{-1, 1, 2, math.NaN(), math.Inf(1)} {
			if got := Delay(n, base, maxD, r); got < base || got > c {
				t.Errorf("Delay(%d, r=%v) = %s, outside [%s, %s]", n, r, got, base, c)
			}
		}
	}
	// A long base is floored at MaxFloor, and full jitter reaches the top.
	base, maxD = 30*time.Second, time.Hour
	for n := range 70 {
		c := Ceiling(n, base, maxD)
		var top time.Duration
		for range 200 {
			got := Delay(n, base, maxD, rand.Float64())
			if got < MaxFloor || got > c {
				t.Fatalf("Delay(%d) = %s, want %s..%s", n, got, MaxFloor, c)
			}
			top = max(top, got)
		}
		if top < c/2 {
			t.Errorf("Delay(%d) never above %s of %s: no full jitter?", n, top, c)
		}
	}
	if got := Delay(80, time.Second, time.Duration(math.MaxInt64), 0.999999999); got <= 0 {
		t.Errorf("Delay near the largest duration = %s", got)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	const limit = 10 * time.Minute
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30", 30 * time.Second, true},
		{" 0 ", 0, true},
		{"600", limit, true},
		{"601", limit, true},
		{"", 0, false},
		{"-5", 0, false},
		{"+5", 0, false},
		{"soon", 0, false},
		{"1.5", 0, false},
		{"Fri, 27 Nov 2026 12:01:30 GMT", 90 * time.Second, true},
		{"Friday, 27-Nov-26 12:00:10 GMT", 10 * time.Second, true},
		{"Fri, 27 Nov 2026 11:00:00 GMT", 0, true},
		{"Mon, 01 Jan 0001 00:00:00 GMT", 0, true},
		{"Fri, 31 Dec 9999 23:59:59 GMT", limit, true},
		// About 3170 years; naively times time.Second it is about 246 years.
		{"99999999999", limit, true},
		// Naively times time.Second it wraps negative.
		{"10000000000", limit, true},
		{"9223372036", limit, true},
		{"99999999999999999999", limit, true},
	} {
		got, ok := ParseRetryAfter(tc.in, now, limit)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRetryAfter(%q) = %s %v, want %s %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if got, ok := ParseRetryAfter("9223372036", now, time.Duration(math.MaxInt64)); !ok || got != 9223372036*time.Second {
		t.Errorf("ParseRetryAfter(9223372036) without a practical limit = %s %v, want it exactly", got, ok)
	}
	if got, ok := ParseRetryAfter("10000000000", now, time.Duration(math.MaxInt64)); !ok || got < 0 {
		t.Errorf("ParseRetryAfter(10000000000) without a practical limit = %s %v, want positive", got, ok)
	}
	if got, ok := ParseRetryAfter("30", now, -time.Second); !ok || got != 0 {
		t.Errorf("negative limit: %s %v", got, ok)
	}
}
