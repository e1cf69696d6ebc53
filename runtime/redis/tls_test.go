package redis_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/redis"
	"github.com/redis/rueidis"
)

// TestTLS runs a private redis-server with TLS and opens it with
// rediss:// URLs: with skip_verify, and with the certificate checked
// against its own CA through ParseURL and New.
func TestTLS(t *testing.T) {
	needRedisServer(t)
	dir := t.TempDir()
	certPEM, keyPEM, pool := selfSigned(t)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	tlsPort := portEnv(t, "PICOCACHE_TEST_REDIS_TLS_PORT", 7197)
	startServer(t, portEnv(t, "PICOCACHE_TEST_REDIS_AUTH_PORT", 7198),
		"tls-port "+strconv.Itoa(tlsPort), "tls-cert-file "+certFile, "tls-key-file "+keyFile,
		"tls-auth-clients no", "requirepass pw")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort))
	lim := runtime.Limits{MaxSize: 5, TTL: time.Minute}

	// The certificate is not trusted by the system: verification fails.
	if s, err := redis.Open(ctx, "rediss://:pw@"+addr); err == nil {
		s.Close()
		t.Errorf("Open of a server with an untrusted certificate: want an error")
	}

	s, err := redis.Open(ctx, "rediss://:pw@"+addr+"/2?skip_verify=true")
	if err != nil {
		t.Fatalf("Open(rediss://...?skip_verify=true): %v", err)
	}
	defer s.Close()
	if err := spaceOf(t, s, "fn", lim).Set(ctx, []byte("k"), []byte("over TLS")); err != nil {
		t.Fatal(err)
	}

	opt, err := redis.ParseURL("rediss://:pw@" + addr + "/2")
	if err != nil {
		t.Fatal(err)
	}
	opt.TLSConfig.RootCAs = pool
	c, err := rueidis.NewClient(opt)
	if err != nil {
		t.Fatalf("NewClient with the CA: %v", err)
	}
	defer c.Close()
	s2 := redis.New(c)
	defer s2.Close()
	v, ok, err := spaceOf(t, s2, "fn", lim).Get(ctx, []byte("k"))
	if err != nil || !ok || string(v) != "over TLS" {
		t.Errorf("Get over verified TLS = %q, %v, %v", v, ok, err)
	}
}

// selfSigned returns a certificate for 127.0.0.1, its key, and a pool
// that trusts it.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "picocache test"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), pool
}
