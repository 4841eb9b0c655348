// Package duration is the one duration type of puawatch's configuration,
// used by every section (package config) and by the routing tree (package
// route), so that every duration in the file is read and printed by the
// same rules.
//
// A duration is written as Go duration text: "90s", "5m", "1h30m",
// "23h45m" (units ns, us, ms, s, m, h). A bare number is rejected, except
// 0, because "interval: 300" could mean seconds, minutes or nanoseconds:
// write "300s". A duration prints in the short form ("5m", not "5m0s").
package duration

import (
	"fmt"
	"strings"
	"time"
)

// Duration is a time.Duration read and written as duration text (see the
// package documentation).
type Duration time.Duration

// Parse parses s as duration text: a Go duration ("90s", "1h30m") or "0".
// Surrounding spaces are ignored.
func Parse(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration: write e.g. 90s, 5m or 1h30m")
	}
	if isBareNumber(s) {
		if strings.Trim(s, "+-0.") == "" {
			return 0, nil
		}
		return 0, fmt.Errorf("%s has no unit: write %ss for seconds or %sm for minutes", s, s, s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: write e.g. 90s, 5m or 1h30m (units ms, s, m, h)", s)
	}
	return Duration(d), nil
}

// isBareNumber: s is a number without a unit, such as "300", "-1.5".
func isBareNumber(s string) bool {
	s = strings.TrimLeft(s, "+-")
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && r != '.' {
			return false
		}
	}
	return true
}

// Std is d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String is the short form of d: "5m", "23h45m", "1h", "90s" is "1m30s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// MarshalText writes d in its short form.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads duration text as Parse does.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
