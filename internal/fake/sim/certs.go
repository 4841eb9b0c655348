package sim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"time"
)

// Certs is a throw-away certificate authority and a server certificate it
// signed, for serving the simulator over HTTPS to clients that trust only
// this CA.
type Certs struct {
	// CAPEM is the CA certificate, PEM encoded.
	CAPEM []byte
	// Leaf is the server certificate and its private key. Its chain holds
	// the leaf only: clients are expected to trust the CA directly.
	Leaf tls.Certificate
	// CA is the parsed CA certificate.
	CA *x509.Certificate
}

// caCommonName is the subject common name of the simulator CA.
const caCommonName = "puawatch simulator CA"

// leafCommonName is the subject common name of the simulator's server
// certificate. Clients match host names against its SANs, not this name.
const leafCommonName = "puawatch simulator"

// defaultHosts are always named by the server certificate.
var defaultHosts = []string{"localhost", "127.0.0.1", "::1"}

// NewCerts makes an ECDSA P-256 CA and a server certificate it signs for
// hosts, which may be DNS names or IP addresses (IPv6 addresses may be in
// brackets); "localhost", 127.0.0.1 and ::1 are always included. Both
// certificates are valid from now-1h (to allow for clock skew) until
// now+validity, which must be positive.
//
// The certificates satisfy strict X.509 verification (OpenSSL's
// -x509_strict, Python 3.13's default VERIFY_X509_STRICT): the CA has a
// critical basicConstraints with cA set, a critical keyUsage of
// keyCertSign|cRLSign and a subjectKeyIdentifier; the leaf is not a CA, has
// keyUsage digitalSignature, extKeyUsage serverAuth, SANs for every host, a
// subjectKeyIdentifier and an authorityKeyIdentifier matching the CA's.
// Serial numbers are random 128-bit values.
func NewCerts(hosts []string, now time.Time, validity time.Duration) (*Certs, error) {
	if validity <= 0 {
		return nil, fmt.Errorf("sim: certificate validity must be positive, got %v", validity)
	}
	dnsNames, ips, err := splitHosts(append(append([]string(nil), defaultHosts...), hosts...))
	if err != nil {
		return nil, err
	}
	// Certificates carry whole seconds; truncating keeps the parsed bounds
	// equal to the requested ones.
	notBefore := now.Add(-time.Hour).UTC().Truncate(time.Second)
	notAfter := now.Add(validity).UTC().Truncate(time.Second)

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sim: generate CA key: %w", err)
	}
	caSKID, err := subjectKeyID(&caKey.PublicKey)
	if err != nil {
		return nil, err
	}
	caSerial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          caSerial,
		Subject:               pkix.Name{CommonName: caCommonName},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		SubjectKeyId:          caSKID,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("sim: create CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("sim: parse CA certificate: %w", err)
	}

	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sim: generate server key: %w", err)
	}
	leafSKID, err := subjectKeyID(&leafKey.PublicKey)
	if err != nil {
		return nil, err
	}
	var leafSerial *big.Int
	for {
		if leafSerial, err = randomSerial(); err != nil {
			return nil, err
		}
		if leafSerial.Cmp(caSerial) != 0 {
			break
		}
	}
	leafTmpl := &x509.Certificate{
		SerialNumber:          leafSerial,
		Subject:               pkix.Name{CommonName: leafCommonName},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
		DNSNames:              dnsNames,
		IPAddresses:           ips,
		SubjectKeyId:          leafSKID,
		AuthorityKeyId:        ca.SubjectKeyId,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("sim: create server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, fmt.Errorf("sim: parse server certificate: %w", err)
	}

	return &Certs{
		CAPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		Leaf: tls.Certificate{
			Certificate: [][]byte{leafDER},
			PrivateKey:  leafKey,
			Leaf:        leaf,
		},
		CA: ca,
	}, nil
}

// ServerTLSConfig returns a new *tls.Config that serves the server
// certificate, with TLS 1.2 as the minimum version.
func (c *Certs) ServerTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{c.Leaf},
	}
}

// ClientPool returns a new certificate pool holding only the CA, for use as
// a client's RootCAs.
func (c *Certs) ClientPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(c.CA)
	return pool
}

// WriteCAFile writes CAPEM to path, creating or truncating it, and leaves it
// with mode 0644 whatever the umask or the file's previous mode. The file is
// suitable for SSL_CERT_FILE.
func (c *Certs) WriteCAFile(path string) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("sim: write CA file: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("sim: write CA file: %w", cerr)
		}
	}()
	if _, err := f.Write(c.CAPEM); err != nil {
		return fmt.Errorf("sim: write CA file: %w", err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("sim: write CA file: %w", err)
	}
	return nil
}

// splitHosts sorts hosts into DNS names and IP addresses, dropping empty
// entries and duplicates while keeping first-seen order.
func splitHosts(hosts []string) ([]string, []net.IP, error) {
	var names []string
	var ips []net.IP
	seen := make(map[string]bool)
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
			h = h[1 : len(h)-1]
		}
		if ip := net.ParseIP(h); ip != nil {
			if v4 := ip.To4(); v4 != nil {
				ip = v4
			}
			key := "ip:" + ip.String()
			if !seen[key] {
				seen[key] = true
				ips = append(ips, ip)
			}
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(h, "."))
		if name == "" || strings.ContainsAny(name, " /:[]") {
			return nil, nil, fmt.Errorf("sim: invalid certificate host %q", h)
		}
		key := "dns:" + name
		if !seen[key] {
			seen[key] = true
			names = append(names, name)
		}
	}
	return names, ips, nil
}

// randomSerial returns a random, positive serial number of at most 128 bits.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("sim: generate serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// subjectKeyID derives a key identifier from the subjectPublicKey bits of
// pub: the leftmost 160 bits of their SHA-256 hash (RFC 7093, method 1).
func subjectKeyID(pub *ecdsa.PublicKey) ([]byte, error) {
	spkiDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("sim: marshal public key: %w", err)
	}
	var spki struct {
		Algorithm        pkix.AlgorithmIdentifier
		SubjectPublicKey asn1.BitString
	}
	rest, err := asn1.Unmarshal(spkiDER, &spki)
	if err != nil {
		return nil, fmt.Errorf("sim: parse public key: %w", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("sim: parse public key: trailing data")
	}
	sum := sha256.Sum256(spki.SubjectPublicKey.Bytes)
	return sum[:20], nil
}
