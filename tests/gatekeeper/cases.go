package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/open-policy-agent/frameworks/constraint/pkg/apis/externaldata/unversioned"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The reasons signet gives, as users read them after "image X is not allowed: ".
// The reasons signet gives (docs/provider.md, item errors).
const (
	reasonUnsigned = "no signatures found"
	reasonMissing  = "image not found"
	reasonTimeout  = "verification timed out"
)

// sendFailed is the system error of Gatekeeper's client when the call to url fails.
func sendFailed(url, detail string) string {
	return fmt.Sprintf("failed to send external data request: Post %q: %s", url, detail)
}

func (s *suite) runCorpus() {
	S1, S2, S3 := s.signed[0], s.signed[1], s.signed[2]
	U1, U2 := s.unsigned[0], s.unsigned[1]
	M := s.missing
	u1 := rejected{U1, reasonUnsigned}
	u2 := rejected{U2, reasonUnsigned}
	m := rejected{M, reasonMissing}

	// Pods: each place an image can be.
	s.create("pod/signed containers and initContainers, production",
		object("Pod", "production", "p1", images{containers: []string{S1, S2}, init: []string{S3}}), expect("Pod", "production"))
	s.create("pod/signed by digest, production",
		object("Pod", "production", "p2", images{containers: []string{s.digests[0]}}), expect("Pod", "production"))
	s.create("pod/unsigned container, production",
		object("Pod", "production", "p3", images{containers: []string{U1}}), expect("Pod", "production", u1))
	s.create("pod/unsigned initContainer, production",
		object("Pod", "production", "p4", images{containers: []string{S1}, init: []string{U1}}), expect("Pod", "production", u1))
	s.create("pod/unsigned ephemeralContainer in a created Pod, production",
		object("Pod", "production", "p5", images{containers: []string{S1}, ephemeral: []string{U2}}), expect("Pod", "production", u2))

	// kubectl debug: an UPDATE of the pods/ephemeralcontainers subresource.
	old := object("Pod", "production", "p6", images{containers: []string{S1}})
	for _, c := range []struct {
		name  string
		image string
		want  outcome
	}{
		{"pod/ephemeralcontainers UPDATE with an unsigned image, production", U1, expect("Pod", "production", u1)},
		{"pod/ephemeralcontainers UPDATE with a signed image, production", S2, expect("Pod", "production")},
	} {
		updated := object("Pod", "production", "p6", images{containers: []string{S1}, ephemeral: []string{c.image}})
		got, err := s.review(s.main, admissionRequest(admissionv1.Update, updated, old, "ephemeralcontainers"), updated)
		if err != nil {
			s.failSetup(c.name, err)
			continue
		}
		s.check(c.name, got, c.want)
	}

	// Every workload kind, signed and with an unsigned initContainer.
	for _, kind := range workloadKinds {
		name := strings.ToLower(kind)
		s.create(fmt.Sprintf("%s/signed, production", name),
			object(kind, "production", name+"-a", images{containers: []string{S1}, init: []string{S2}}), expect(kind, "production"))
		s.create(fmt.Sprintf("%s/unsigned initContainer, production", name),
			object(kind, "production", name+"-b", images{containers: []string{S1}, init: []string{U1}}), expect(kind, "production", u1))
		s.create(fmt.Sprintf("%s/unsigned container, default namespace", name),
			object(kind, "default", name+"-c", images{containers: []string{U2}}), expect(kind, "default", u2))
	}

	// Namespaces each constraint matches and does not match.
	for _, ns := range []string{"staging", "default", "team-a", "kube-system", "gatekeeper-system", "signet-system"} {
		s.create(fmt.Sprintf("pod/unsigned container, namespace %s", ns),
			object("Pod", ns, "n-"+ns, images{containers: []string{U1}}), expect("Pod", ns, u1))
	}

	// Duplicates: one message per distinct image.
	s.create("pod/one unsigned image in three places, production",
		object("Pod", "production", "d1", images{containers: []string{U1, U1}, init: []string{U1}}), expect("Pod", "production", u1))
	s.create("pod/one signed image twice, production",
		object("Pod", "production", "d2", images{containers: []string{S1, S1}, init: []string{S1}}), expect("Pod", "production"))

	// Missing images, and a mix of everything.
	s.create("pod/missing image, production",
		object("Pod", "production", "m1", images{containers: []string{M}}), expect("Pod", "production", m))
	s.create("pod/signed, unsigned and missing images, production",
		object("Pod", "production", "m2", images{containers: []string{S1, U1, M}, init: []string{U2}}), expect("Pod", "production", u1, m, u2))
	s.create("deployment/missing image, staging",
		object("Deployment", "staging", "m3", images{containers: []string{M}}), expect("Deployment", "staging", m))
}

// systemError is the outcome when Gatekeeper could not get an answer for the
// Pod in production holding img (the images, comma-separated).
func systemError(img, errText string) outcome {
	msg := fmt.Sprintf("image signature verification failed for %s: %s", img, errText)
	return normalize(outcome{
		Denied: []string{fmt.Sprintf("[%s] %s", tmplProd, msg)},
		Warned: []string{fmt.Sprintf("[%s] %s", tmplRollout, msg)},
		Audit: []string{fmt.Sprintf("%s (deny): %s", tmplProd, msg), fmt.Sprintf("%s (dryrun): %s", tmplAudit, msg),
			fmt.Sprintf("%s (warn): %s", tmplRollout, msg)},
	})
}

func (s *suite) runFailures() {
	S1, S2, S3 := s.signed[0], s.signed[1], s.signed[2]
	pod := func(name string, imgs ...string) (*admissionv1.AdmissionRequest, *unstructured.Unstructured) {
		o := object("Pod", "production", name, images{containers: imgs})
		return admissionRequest(admissionv1.Create, o, nil, ""), o
	}
	type failure struct {
		name    string
		edit    func(*gatekeeperOptions)
		errText string
	}
	other := s.provider.DeepCopy()
	down, _ := freePort()
	downProvider := s.providerFor(&signetProcess{port: down})
	otherBundle, _ := readLines(*flagOtherCerts + "/ca-bundle.b64")
	other.Spec.CABundle = strings.Join(otherBundle, "")
	otherGK := s.work + "/other-gatekeeper-cert"
	if err := writeGatekeeperCert(otherGK); err != nil {
		s.failSetup("other client certificate", err)
		return
	}
	mainURL := s.provider.Spec.URL
	for _, f := range []failure{
		{"failure/provider down", func(o *gatekeeperOptions) { o.providers = []unversioned.Provider{downProvider} },
			sendFailed(downProvider.Spec.URL, fmt.Sprintf("dial tcp 127.0.0.1:%d: connect: connection refused", down))},
		{"failure/wrong caBundle", func(o *gatekeeperOptions) { o.providers = []unversioned.Provider{*other} },
			sendFailed(mainURL, `tls: failed to verify certificate: x509: certificate signed by unknown authority (possibly because of "x509: ECDSA verification failure" while trying to verify candidate authority certificate "signet provider CA")`)},
		{"failure/no client certificate", func(o *gatekeeperOptions) { o.clientCertDir = "" },
			sendFailed(mainURL, "remote error: tls: certificate required")},
		{"failure/client certificate from another CA", func(o *gatekeeperOptions) { o.clientCertDir = otherGK },
			sendFailed(mainURL, "remote error: tls: unknown certificate authority")},
		{"failure/no Provider object", func(o *gatekeeperOptions) { o.providers = nil },
			"key is not found in provider cache"},
	} {
		g, err := s.newGatekeeper(f.edit)
		if err != nil {
			s.failSetup(f.name, err)
			continue
		}
		req, obj := pod("f", S1)
		got, err := s.review(g, req, obj)
		if err != nil {
			s.failSetup(f.name, err)
			continue
		}
		s.check(f.name, got, systemError(S1, f.errText))
	}

	// Timeouts. The registry hangs for one repository; a fresh signet each
	// time, so nothing is answered from its cache.
	s.proxy.hangRepo.Store(repoOf(S3, s.proxy.addr))
	defer s.proxy.hangRepo.Store("")
	var url string // the Provider URL of the signet under test
	timed := []struct {
		name string
		edit func(map[string]interface{})
		want func(got outcome, name string)
	}{
		{"timeout/shipped configuration: a slow registry gives signet's per-image reason", nil, func(got outcome, name string) {
			s.checkAdmission(name, got, expect("Pod", "production", rejected{S3, reasonTimeout}))
		}},
		{"timeout/signet's default deadline fits under the Provider timeout", func(c map[string]interface{}) {
			delete(c["verification"].(map[string]interface{}), "deadline")
		}, func(got outcome, name string) {
			s.checkAdmission(name, got, expect("Pod", "production", rejected{S3, reasonTimeout}))
		}},
		{"failure/provider slower than the Provider timeout", func(c map[string]interface{}) {
			c["verification"].(map[string]interface{})["deadline"] = "3s"
		}, func(got outcome, name string) {
			s.checkAdmission(name, got, systemError(S1+", "+S3, sendFailed(url, "context deadline exceeded")))
		}},
	}
	for i, t := range timed {
		p, err := s.startSignet(fmt.Sprintf("signet-timeout-%d", i), t.edit)
		if err != nil {
			s.failSetup(t.name, err)
			continue
		}
		url = s.providerFor(p).Spec.URL
		g, err := s.newGatekeeper(func(o *gatekeeperOptions) { o.providers = []unversioned.Provider{s.providerFor(p)} })
		if err != nil {
			s.failSetup(t.name, err)
			continue
		}
		req, _ := pod("t", S1, S3)
		start := time.Now()
		got, err := g.admit(s.ctx, req)
		if err != nil {
			s.failSetup(t.name, err)
			continue
		}
		fmt.Printf("     (%s: answered in %.1fs)\n", t.name, time.Since(start).Seconds())
		t.want(got, t.name)
		p.stop()
	}
	s.proxy.hangRepo.Store("")

	// Gatekeeper caches provider answers, errors included, for its response
	// cache TTL (3 minutes by default).
	// signet's own negative cache is shortened to 1s so that what remains is Gatekeeper's.
	p, err := s.startSignet("signet-cache", func(c map[string]interface{}) {
		c["verification"].(map[string]interface{})["negativeCacheTTL"] = "1s"
	})
	if err != nil {
		s.failSetup("cache", err)
		return
	}
	prov := s.providerFor(p)
	withTTL := func(ttl time.Duration) (*gatekeeper, error) {
		return s.newGatekeeper(func(o *gatekeeperOptions) {
			o.providers = []unversioned.Provider{prov}
			o.responseCacheTTL = ttl
		})
	}
	// One Gatekeeper at a time: each check runs on the most recent one.
	steps := []struct {
		name string
		ttl  time.Duration // a new Gatekeeper with this response cache TTL; -1 = keep the last
		fail string        // image whose repository fails (503) during the step, "" = none
		wait time.Duration // before the step
		img  string
		ok   bool
	}{
		{"cache/registry failing: denied (default TTL)", gatekeeperDefaultResponseCacheTTL, S2, 0, S2, false},
		{"cache/registry recovered: the default 3m TTL still denies from Gatekeeper's cache", -1, "", 2500 * time.Millisecond, S2, false},
		{"cache/registry recovered: Gatekeeper without a response cache admits", 0, "", 0, S2, true},
		{"cache/registry failing: denied (1s TTL)", time.Second, S3, 0, S3, false},
		{"cache/registry recovered: a 1s response cache TTL admits once it expired", -1, "", 2500 * time.Millisecond, S3, true},
	}
	var g *gatekeeper
	for _, st := range steps {
		if st.ttl >= 0 {
			if g, err = withTTL(st.ttl); err != nil {
				s.failSetup(st.name, err)
				return
			}
		}
		if st.fail != "" {
			s.proxy.failRepo.Store(repoOf(st.fail, s.proxy.addr))
		}
		waitFor(st.wait)
		req, _ := pod("c", st.img)
		got, err := g.admit(s.ctx, req)
		s.proxy.failRepo.Store("")
		if err != nil {
			s.failSetup(st.name, err)
			continue
		}
		want := expect("Pod", "production")
		if !st.ok {
			want = expect("Pod", "production", rejected{st.img,
				"verification failed: resolving " + st.img + ": GET manifest " + st.img +
					": HTTP 503: registry unavailable (test)"})
		}
		s.checkAdmission(st.name, got, want)
	}
}

// repoOf is the repository of ref under host ("bench/app2").
func repoOf(ref, host string) string {
	r := strings.TrimPrefix(ref, host+"/")
	if i := strings.IndexAny(r, ":@"); i >= 0 {
		r = r[:i]
	}
	return r
}
