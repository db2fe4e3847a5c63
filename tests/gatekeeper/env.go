package main

// The environment of the suite: Gatekeeper's client certificate (made as
// Gatekeeper's cert-controller makes its webhook certificate), a resolver that
// sends the Provider's host name to loopback, a registry proxy that can fail or
// hang on demand, and `signet serve` started from the kit's rendered ConfigMap.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"sigs.k8s.io/yaml"
)

// writeGatekeeperCert writes DIR/ca.crt, DIR/tls.crt and DIR/tls.key the way
// Gatekeeper v3.20's cert rotator makes its webhook certificate: an RSA-2048
// CA "gatekeeper-ca" (O=gatekeeper) and a leaf for
// gatekeeper-webhook-service.gatekeeper-system.svc with the server and client
// auth key usages (client auth is added when external data is enabled).
func writeGatekeeperCert(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	begin := time.Now().Add(-time.Hour)
	end := begin.Add(10 * 365 * 24 * time.Hour)
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(0),
		Subject:               pkix.Name{CommonName: "gatekeeper-ca", Organization: []string{"gatekeeper"}},
		DNSNames:              []string{"gatekeeper-ca"},
		NotBefore:             begin,
		NotAfter:              end,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	const dnsName = "gatekeeper-webhook-service.gatekeeper-system.svc"
	leafKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: dnsName},
		DNSNames:              []string{dnsName},
		NotBefore:             begin,
		NotAfter:              end,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, leafKey.Public(), caKey)
	if err != nil {
		return err
	}
	files := map[string]*pem.Block{
		"ca.crt":  {Type: "CERTIFICATE", Bytes: caDER},
		"tls.crt": {Type: "CERTIFICATE", Bytes: leafDER},
		"tls.key": {Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(leafKey)},
	}
	for name, block := range files {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// serveLoopbackDNS answers A queries for the given names with 127.0.0.1 (and
// nothing else), and makes it the process's resolver, so that the Provider
// URL keeps its in-cluster host name and Gatekeeper's client verifies the
// provider certificate against that name.
func serveLoopbackDNS(names ...string) error {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, n := range names {
		known[strings.ToLower(n)+"."] = true
	}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true}
			name := strings.ToLower(q.Name.String())
			if !known[name] {
				rh.RCode = dnsmessage.RCodeNameError
			}
			b := dnsmessage.NewBuilder(nil, rh)
			b.EnableCompression()
			_ = b.StartQuestions()
			_ = b.Question(q)
			_ = b.StartAnswers()
			if known[name] && q.Type == dnsmessage.TypeA {
				_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60},
					dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}})
			}
			out, err := b.Finish()
			if err == nil {
				_, _ = pc.WriteTo(out, addr)
			}
		}
	}()
	server := pc.LocalAddr().String()
	net.DefaultResolver = &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", server)
		},
	}
	return nil
}

// registryProxy forwards to the real registry; requests for one chosen
// repository can be made to fail (503) or to hang until the client gives up.
type registryProxy struct {
	addr     string
	failRepo atomic.Value // string: "/v2/<repo>/" prefix, or ""
	hangRepo atomic.Value // string
}

func startRegistryProxy(upstream string) (*registryProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &registryProxy{addr: ln.Addr().String()}
	p.failRepo.Store("")
	p.hangRepo.Store("")
	target, _ := url.Parse("http://" + upstream)
	rp := httputil.NewSingleHostReverseProxy(target)
	matches := func(v *atomic.Value, path string) bool {
		repo := v.Load().(string)
		return repo != "" && strings.HasPrefix(path, "/v2/"+repo+"/")
	}
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case matches(&p.failRepo, r.URL.Path):
				http.Error(w, "registry unavailable (test)", http.StatusServiceUnavailable)
			case matches(&p.hangRepo, r.URL.Path):
				select {
				case <-r.Context().Done():
				case <-time.After(30 * time.Second):
				}
			default:
				rp.ServeHTTP(w, r)
			}
		}))
	}()
	return p, nil
}

// signetConfig turns the kit's rendered ConfigMap (config.yaml of the chart with
// mTLS to Gatekeeper) into a local config: only the paths, the listen address
// and the registry list are changed; edit, if non-nil, changes more.
func signetConfig(manifest string, port int, certs, gkCA, pubKey string, registries []string,
	edit func(cfg map[string]interface{})) ([]byte, error) {
	raw, err := os.ReadFile(manifest)
	if err != nil {
		return nil, err
	}
	var cfgText string
	for _, doc := range strings.Split(string(raw), "\n---") {
		var obj struct {
			Kind string            `json:"kind"`
			Data map[string]string `json:"data"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			return nil, err
		}
		if obj.Kind == "ConfigMap" && obj.Data["config.yaml"] != "" {
			cfgText = obj.Data["config.yaml"]
		}
	}
	if cfgText == "" {
		return nil, fmt.Errorf("%s: no ConfigMap with config.yaml", manifest)
	}
	cfg := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(cfgText), &cfg); err != nil {
		return nil, err
	}
	server := cfg["server"].(map[string]interface{})
	server["port"] = port
	server["address"] = "127.0.0.1"
	server["tlsCertFile"] = filepath.Join(certs, "tls.crt")
	server["tlsKeyFile"] = filepath.Join(certs, "tls.key")
	if _, ok := server["clientCAFile"]; !ok {
		return nil, fmt.Errorf("%s: the ConfigMap has no clientCAFile (not the mTLS variant)", manifest)
	}
	server["clientCAFile"] = gkCA
	// The chart's health listener has a fixed port; the suite needs none.
	server["healthAddress"] = "off"
	keys := cfg["keys"].([]interface{})
	keys[0].(map[string]interface{})["path"] = pubKey
	var regs []interface{}
	for _, r := range registries {
		regs = append(regs, map[string]interface{}{"host": r, "insecure": true})
	}
	cfg["registries"] = regs
	if edit != nil {
		edit(cfg)
	}
	return yaml.Marshal(cfg)
}

// signetProcess is a running `signet serve`.
type signetProcess struct {
	cmd  *exec.Cmd
	port int
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func startSignet(binary, work, name string, config func(port int) ([]byte, error)) (*signetProcess, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg, err := config(port)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(work, name+".yaml")
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(work, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, "serve", "--config", path)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Never outlive the suite, even when it panics.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &signetProcess{cmd: cmd, port: port}
	for i := 0; i < 150; i++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 100*time.Millisecond)
		if err == nil {
			c.Close()
			return p, nil
		}
		if cmd.ProcessState != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.stop()
	text, _ := os.ReadFile(logFile.Name())
	return nil, fmt.Errorf("signet serve (%s) did not listen on port %d; log:\n%s", name, port, text)
}

func (p *signetProcess) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	_, _ = p.cmd.Process.Wait()
}

// metricSum scrapes /metrics of the signet behind provider (its main port,
// over mTLS with Gatekeeper's client certificate in certDir) and sums the
// samples of name whose labels include every pair of labels (`k="v"`); found
// is false when there is no such sample (yet).
func metricSum(provider string, caBundle string, certDir, name string, labels ...string) (sum float64, found bool, err error) {
	ca, err := base64.StdEncoding.DecodeString(caBundle)
	if err != nil {
		return 0, false, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		return 0, false, fmt.Errorf("caBundle holds no certificate")
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(certDir, "tls.crt"), filepath.Join(certDir, "tls.key"))
	if err != nil {
		return 0, false, err
	}
	u, err := url.Parse(provider)
	if err != nil {
		return 0, false, err
	}
	u.Path = "/metrics"
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}}}
	resp, err := client.Get(u.String())
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, false, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, false, fmt.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		end := strings.LastIndex(line, "} ")
		if end < 0 {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line[:end], l)
		}
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(line[end+2:]), 64)
		if err != nil {
			return 0, false, fmt.Errorf("%s: %q: %w", u, line, err)
		}
		sum, found = sum+v, true
	}
	return sum, found, nil
}
