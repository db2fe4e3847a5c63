// A registry that implements the OCI 1.1 referrers API, for signet's tests:
// go-containerregistry's pkg/registry (in-memory storage) with referrers
// support enabled, served over plain HTTP on a loopback address.
//
// Usage: referrers-registry -addr 127.0.0.1:PORT
//
// It logs one line per request to stderr and runs until killed. Nothing is
// written to disk.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "loopback address to listen on")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || (host != "127.0.0.1" && host != "::1" && !strings.EqualFold(host, "localhost")) {
		fmt.Fprintf(os.Stderr, "referrers-registry: -addr must be a loopback host:port, got %q\n", *addr)
		os.Exit(2)
	}
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "referrers-registry: %v\n", err)
		os.Exit(1)
	}
	logger := log.New(os.Stderr, "", log.LstdFlags)
	handler := registry.New(registry.Logger(logger), registry.WithReferrersSupport(true))
	logger.Printf("referrers-registry: serving on http://%s", listener.Addr())
	server := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	if err := server.Serve(listener); err != nil {
		fmt.Fprintf(os.Stderr, "referrers-registry: %v\n", err)
		os.Exit(1)
	}
}
