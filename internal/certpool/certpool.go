// Package certpool builds the set of CAs a TLS client trusts: the system
// roots plus an optional PEM file (a TLS-inspecting proxy, a private CA,
// the simulator's throw-away CA). Every TLS client of puawatch (Sophos
// Central, SMTP, syslog) gets its pool here, so "ca_file" means the same
// everywhere.
package certpool

import (
	"crypto/x509"
	"fmt"
	"os"
)

// Load returns the system roots plus the certificates of the PEM file at
// path; "" returns nil, which crypto/tls reads as the system roots alone.
func Load(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate: name a PEM file (-----BEGIN CERTIFICATE-----)", path)
	}
	return pool, nil
}
