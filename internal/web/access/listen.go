package access

import (
	"net"

	"github.com/puawatch/puawatch/internal/urlpolicy"
)

// LoopbackListen reports whether the listen address addr (host:port)
// binds this machine's loopback interface only: localhost, 127.0.0.0/8
// or ::1. An empty host (":9787"), 0.0.0.0, ::, a LAN address and any
// other host name reach other machines, so the server needs
// authentication there (New refuses to build without it).
func LoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && host != "" && urlpolicy.Loopback(host)
}
