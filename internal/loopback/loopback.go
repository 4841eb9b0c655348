// Package loopback tells whether a host is this machine: the only hosts
// puawatch talks to without TLS.
package loopback

import (
	"net"
	"strings"
)

// Host reports whether host (a name or an address, without port; brackets
// and an IPv6 zone are allowed) is localhost or in 127.0.0.0/8 or ::1.
func Host(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if h == "localhost" {
		return true
	}
	if i := strings.IndexByte(h, '%'); i >= 0 {
		h = h[:i]
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
