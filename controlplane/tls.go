package controlplane

import (
	"crypto/x509"
	"fmt"
	"os"
)

// certPool trusts the system roots plus the PEM certificates in file (so
// nodes with a self-signed admin certificate can reach each other).
func certPool(file string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read certificate %s: %w", file, err)
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("no PEM certificate in %s", file)
	}
	return pool, nil
}
