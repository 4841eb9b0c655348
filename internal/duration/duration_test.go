package duration

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"5m", 5 * time.Minute, ""},
		{"90s", 90 * time.Second, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"23h45m", 23*time.Hour + 45*time.Minute, ""},
		{"1.5s", 1500 * time.Millisecond, ""},
		{"250ms", 250 * time.Millisecond, ""},
		{" 2m ", 2 * time.Minute, ""},
		{"-5m", -5 * time.Minute, ""}, // parsed; Validate rejects it where it matters
		{"0", 0, ""},
		{"0.0", 0, ""},
		{"300", 0, "300 has no unit: write 300s for seconds or 300m for minutes"},
		{"1.5", 0, "1.5 has no unit"},
		{"", 0, "empty duration"},
		{"5 minutes", 0, `"5 minutes" is not a duration: write e.g. 90s, 5m or 1h30m`},
		{"1d", 0, `"1d" is not a duration`},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.wantErr != "" {
			if err == nil {
				t.Errorf("Parse(%q) = %v, want error %q", tt.in, got, tt.wantErr)
				continue
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q): error %q, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.Std() != tt.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tt.in, got.Std(), err, tt.want)
		}
	}
}

func TestDurationText(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{5 * time.Minute, "5m"},
		{time.Hour, "1h"},
		{23*time.Hour + 45*time.Minute, "23h45m"},
		{90 * time.Second, "1m30s"},
		{30 * time.Second, "30s"},
		{1500 * time.Millisecond, "1.5s"},
		{0, "0s"},
		{time.Hour + time.Second, "1h0m1s"},
		{-5 * time.Minute, "-5m"},
	}
	for _, tt := range tests {
		d := Duration(tt.d)
		if got := d.String(); got != tt.want {
			t.Errorf("String(%v) = %q, want %q", tt.d, got, tt.want)
		}
		b, _ := d.MarshalText()
		var back Duration
		if err := back.UnmarshalText(b); err != nil || back != d {
			t.Errorf("round trip of %v: %q → %v, %v", tt.d, b, back.Std(), err)
		}
	}
	var d Duration
	if err := d.UnmarshalText([]byte("bogus")); err == nil {
		t.Error("UnmarshalText(bogus) succeeded")
	}
}
