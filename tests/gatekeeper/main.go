// Command gatekeeper-suite evaluates the signet deploy kit (ConstraintTemplate,
// constraints with and without exemptImages, Providers, Assign mutators) with
// Gatekeeper v3.20.1's own code (its constraint framework and OPA for
// validation and audit, its mutation system for the mutators) against a real
// `signet serve` (HTTPS, mTLS) and a real registry.
// scripts/gatekeeper-suite.sh builds and runs it.
//
// Exit status: 0 when every case holds, 1 when a case fails, 2 on a setup error.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/open-policy-agent/frameworks/constraint/pkg/apis/externaldata/unversioned"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

var (
	flagSignet     = flag.String("signet", "", "signet binary")
	flagKit        = flag.String("kit", "", "source tree holding deploy/ and bench/tools/fixture.py")
	flagTemplate   = flag.String("template", "", "ConstraintTemplate file (default: the kit's)")
	flagAssigns    = flag.String("assigns", "", "rendered manifest holding the Assign mutators and the /mutate Provider (default: the kit's deploy/manifests/signet.yaml)")
	flagRegistry   = flag.String("registry", "", "host:port of a plain-HTTP registry to push the test images to")
	flagCerts      = flag.String("certs", "", "output directory of deploy/gen-certs.sh (provider certificate)")
	flagOtherCerts = flag.String("other-certs", "", "a second deploy/gen-certs.sh output (another CA)")
	flagWork       = flag.String("work", "", "scratch directory")
	flagPython     = flag.String("python", "python3", "python interpreter for fixture.py")
	flagOnly       = flag.String("only", "all", "all | corpus | exempt | failures | mutate (one part of the suite only)")
	flagMessages   = flag.String("messages", "", "write every outcome observed, as JSON, to this file")
)

const (
	providerHost = "signet.signet-system"
	tmplProd     = "signed-images-production"
	tmplRollout  = "signed-images-rollout"
	tmplAudit    = "signed-images-audit"
)

type suite struct {
	ctx      context.Context
	work     string
	kit      string
	template string
	proxy    *registryProxy
	provider unversioned.Provider // the kit's Provider, caBundle set, URL to the main signet
	gkCert   string               // Gatekeeper webhook certificate directory
	main     *gatekeeper
	signed   []string // tags
	unsigned []string
	digests  []string
	missing  string
	failures int
	observed map[string]outcome
	procs    []*signetProcess
}

func main() {
	flag.Parse()
	s := &suite{ctx: context.Background(), observed: map[string]outcome{}}
	code := 0
	if err := s.setup(); err != nil {
		fmt.Fprintf(os.Stderr, "gatekeeper-suite: setup: %v\n", err)
		code = 2
	} else {
		for _, part := range []struct {
			name string
			run  func()
		}{{"corpus", s.runCorpus}, {"exempt", s.runExemptions}, {"failures", s.runFailures}, {"mutate", s.runMutation}} {
			if *flagOnly == "all" || *flagOnly == part.name {
				part.run()
			}
		}
		if *flagMessages != "" {
			b, _ := json.MarshalIndent(s.observed, "", "  ")
			_ = os.WriteFile(*flagMessages, b, 0o644)
		}
		if s.failures > 0 {
			fmt.Printf("gatekeeper-suite: %d case(s) FAILED\n", s.failures)
			code = 1
		} else {
			fmt.Printf("gatekeeper-suite: all cases passed\n")
		}
	}
	for _, p := range s.procs {
		p.stop()
	}
	os.Exit(code)
}

// pinned are the module versions Gatekeeper v3.20.1's go.mod requires.
var pinned = map[string]string{
	"github.com/open-policy-agent/gatekeeper/v3":         "v3.20.1",
	"github.com/open-policy-agent/frameworks/constraint": "v0.0.0-20250826220826-a139325b6501",
	"github.com/open-policy-agent/opa":                   "v1.7.1",
}

func checkVersions() error {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return fmt.Errorf("no build information")
	}
	found := 0
	for _, m := range info.Deps {
		if want, ok := pinned[m.Path]; ok {
			if m.Version != want || m.Replace != nil {
				return fmt.Errorf("%s is %s, want %s", m.Path, m.Version, want)
			}
			fmt.Printf("     %s %s\n", m.Path, m.Version)
			found++
		}
	}
	if found != len(pinned) {
		return fmt.Errorf("found %d of the %d pinned modules", found, len(pinned))
	}
	return nil
}

func (s *suite) setup() error {
	if err := checkVersions(); err != nil {
		return err
	}
	for name, v := range map[string]string{"-signet": *flagSignet, "-kit": *flagKit, "-registry": *flagRegistry,
		"-certs": *flagCerts, "-other-certs": *flagOtherCerts, "-work": *flagWork} {
		if v == "" {
			return fmt.Errorf("%s is required", name)
		}
	}
	switch *flagOnly {
	case "all", "corpus", "exempt", "failures", "mutate":
	default:
		return fmt.Errorf("-only %q: want all, corpus, exempt, failures or mutate", *flagOnly)
	}
	s.work, s.kit = *flagWork, *flagKit
	s.template = *flagTemplate
	if s.template == "" {
		s.template = filepath.Join(s.kit, "deploy/gatekeeper/constrainttemplate.yaml")
	}
	if err := serveLoopbackDNS(providerHost); err != nil {
		return err
	}
	s.gkCert = filepath.Join(s.work, "gatekeeper-cert")
	if err := writeGatekeeperCert(s.gkCert); err != nil {
		return err
	}
	var err error
	if s.proxy, err = startRegistryProxy(*flagRegistry); err != nil {
		return err
	}
	keys := filepath.Join(s.work, "keys")
	fixture := filepath.Join(s.kit, "bench/tools/fixture.py")
	tags, digests := filepath.Join(s.work, "tags.txt"), filepath.Join(s.work, "digests.txt")
	for _, args := range [][]string{
		{fixture, "keygen", keys},
		{fixture, "push", "--registry", *flagRegistry, "--ref-host", s.proxy.addr, "--key",
			filepath.Join(keys, "bench.key.pem"), "--count", "3", "--unsigned", "2", "--out", tags, "--out-digests", digests},
	} {
		if out, err := exec.Command(*flagPython, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("fixture.py %s: %v\n%s", args[1], err, out)
		}
	}
	tagList, err := readLines(tags)
	if err != nil {
		return err
	}
	digestList, err := readLines(digests)
	if err != nil {
		return err
	}
	if len(tagList) != 5 || len(digestList) != 5 {
		return fmt.Errorf("fixture.py pushed %d images, want 5", len(tagList))
	}
	s.signed, s.unsigned, s.digests = tagList[:3], tagList[3:], digestList
	s.missing = s.proxy.addr + "/bench/app9:missing"

	p, err := s.startSignet("signet-main", nil)
	if err != nil {
		return err
	}
	if s.provider, err = loadProvider(filepath.Join(s.kit, "deploy/manifests/signet.yaml")); err != nil {
		return err
	}
	if s.provider.Spec.Timeout != 2 || s.provider.Name != "signet" {
		return fmt.Errorf("the kit's Provider changed (name %q, timeout %d): review the suite's expectations",
			s.provider.Name, s.provider.Spec.Timeout)
	}
	bundle, err := os.ReadFile(filepath.Join(*flagCerts, "ca-bundle.b64"))
	if err != nil {
		return err
	}
	s.provider.Spec.CABundle = strings.TrimSpace(string(bundle))
	s.provider = s.providerFor(p)
	s.main, err = s.newGatekeeper(func(o *gatekeeperOptions) {})
	return err
}

func readLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(b)), nil
}

// startSignet starts `signet serve` with the kit's mTLS ConfigMap; edit may
// change the configuration further.
func (s *suite) startSignet(name string, edit func(map[string]interface{})) (*signetProcess, error) {
	p, err := startSignet(*flagSignet, s.work, name, func(port int) ([]byte, error) {
		return signetConfig(filepath.Join(s.kit, "deploy/manifests/signet.yaml"), port, *flagCerts,
			filepath.Join(s.gkCert, "ca.crt"), filepath.Join(s.work, "keys/cosign.pub"), []string{s.proxy.addr}, edit)
	})
	if err == nil {
		s.procs = append(s.procs, p)
	}
	return p, err
}

// providerFor is the kit's Provider pointing at p: only the port of its URL
// changes; the host stays the in-cluster name the certificate is made for.
func (s *suite) providerFor(p *signetProcess) unversioned.Provider {
	prov := *s.provider.DeepCopy()
	u, _ := url.Parse(prov.Spec.URL)
	u.Host = providerHost + ":" + strconv.Itoa(p.port)
	prov.Spec.URL = u.String()
	return prov
}

func (s *suite) newGatekeeper(edit func(*gatekeeperOptions)) (*gatekeeper, error) {
	constraints, _ := filepath.Glob(filepath.Join(s.kit, "deploy/gatekeeper/constraints/*.yaml"))
	if len(constraints) != 3 {
		return nil, fmt.Errorf("found %d constraints, want 3", len(constraints))
	}
	o := gatekeeperOptions{
		templateFile:     s.template,
		constraintFiles:  constraints,
		providers:        []unversioned.Provider{s.provider},
		clientCertDir:    s.gkCert,
		responseCacheTTL: gatekeeperDefaultResponseCacheTTL,
	}
	edit(&o)
	return newGatekeeper(s.ctx, o)
}

// ---- objects -------------------------------------------------------------------------------

type images struct{ containers, init, ephemeral []string }

func containerList(prefix string, refs []string) []interface{} {
	var out []interface{}
	for i, r := range refs {
		out = append(out, map[string]interface{}{"name": fmt.Sprintf("%s%d", prefix, i), "image": r})
	}
	return out
}

func podSpec(im images) map[string]interface{} {
	spec := map[string]interface{}{"containers": containerList("c", im.containers)}
	if len(im.init) > 0 {
		spec["initContainers"] = containerList("i", im.init)
	}
	if len(im.ephemeral) > 0 {
		spec["ephemeralContainers"] = containerList("e", im.ephemeral)
	}
	return spec
}

type kindInfo struct{ group, version, resource string }

var kinds = map[string]kindInfo{
	"Pod":                   {"", "v1", "pods"},
	"ReplicationController": {"", "v1", "replicationcontrollers"},
	"Deployment":            {"apps", "v1", "deployments"},
	"ReplicaSet":            {"apps", "v1", "replicasets"},
	"StatefulSet":           {"apps", "v1", "statefulsets"},
	"DaemonSet":             {"apps", "v1", "daemonsets"},
	"Job":                   {"batch", "v1", "jobs"},
	"CronJob":               {"batch", "v1", "cronjobs"},
}

var workloadKinds = []string{"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "ReplicationController", "CronJob"}

func object(kind, ns, name string, im images) *unstructured.Unstructured {
	k := kinds[kind]
	apiVersion := k.version
	if k.group != "" {
		apiVersion = k.group + "/" + k.version
	}
	var spec map[string]interface{}
	template := map[string]interface{}{"metadata": map[string]interface{}{"labels": map[string]interface{}{"app": name}}, "spec": podSpec(im)}
	switch kind {
	case "Pod":
		spec = podSpec(im)
	case "CronJob":
		spec = map[string]interface{}{"schedule": "*/5 * * * *", "jobTemplate": map[string]interface{}{"spec": map[string]interface{}{"template": template}}}
	default:
		spec = map[string]interface{}{"template": template}
	}
	return &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]interface{}{"name": name, "namespace": ns},
		"spec":     spec,
	}}
}

func admissionRequest(op admissionv1.Operation, obj, old *unstructured.Unstructured, subResource string) *admissionv1.AdmissionRequest {
	k := kinds[obj.GetKind()]
	raw := func(u *unstructured.Unstructured) runtime.RawExtension {
		if u == nil {
			return runtime.RawExtension{}
		}
		b, _ := json.Marshal(u.Object)
		return runtime.RawExtension{Raw: b}
	}
	return &admissionv1.AdmissionRequest{
		UID:         "test",
		Kind:        metav1.GroupVersionKind{Group: k.group, Version: k.version, Kind: obj.GetKind()},
		Resource:    metav1.GroupVersionResource{Group: k.group, Version: k.version, Resource: k.resource},
		SubResource: subResource,
		Name:        obj.GetName(),
		Namespace:   obj.GetNamespace(),
		Operation:   op,
		Object:      raw(obj),
		OldObject:   raw(old),
	}
}

// ---- expectations --------------------------------------------------------------------------

// rejected is an image the provider rejects and the reason it gives.
type rejected struct{ image, reason string }

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// expect models the three shipped constraints: which of them match the kind
// and namespace, and the message each gives per rejected image.
func expect(kind, ns string, bad ...rejected) outcome {
	var out outcome
	prodNS := ns == "production" || ns == "staging"
	for _, b := range bad {
		msg := fmt.Sprintf("image %s is not allowed: %s_invalid: %s", b.image, b.image, b.reason)
		if prodNS && contains([]string{"Pod", "Deployment", "StatefulSet", "DaemonSet"}, kind) {
			out.Denied = append(out.Denied, fmt.Sprintf("[%s] %s", tmplProd, msg))
			out.Audit = append(out.Audit, fmt.Sprintf("%s (deny): %s", tmplProd, msg))
		}
		if prodNS {
			out.Warned = append(out.Warned, fmt.Sprintf("[%s] %s", tmplRollout, msg))
			out.Audit = append(out.Audit, fmt.Sprintf("%s (warn): %s", tmplRollout, msg))
		}
		if !contains([]string{"kube-system", "gatekeeper-system", "signet-system"}, ns) {
			out.Audit = append(out.Audit, fmt.Sprintf("%s (dryrun): %s", tmplAudit, msg))
		}
	}
	return normalize(out)
}

func normalize(o outcome) outcome {
	for _, l := range []*[]string{&o.Denied, &o.Warned, &o.Audit} {
		if len(*l) == 0 {
			*l = nil
		}
		sort.Strings(*l)
	}
	o.Allowed = len(o.Denied) == 0
	return o
}

// With TLS 1.3 the server's alert about a client certificate arrives after
// the handshake; net/http reports it with or without this prefix, depending on
// which of its loops reads it first. The alert is what counts.
const tlsAlertRace = "readLoopPeekFailLocked: "

func (s *suite) check(name string, got, want outcome) {
	for _, l := range [][]string{got.Denied, got.Warned, got.Audit} {
		for i := range l {
			l[i] = strings.Replace(l[i], tlsAlertRace, "", 1)
		}
	}
	got, want = normalize(got), normalize(want)
	s.observed[name] = got
	if reflect.DeepEqual(got, want) {
		fmt.Printf("ok   %s\n", name)
		return
	}
	s.failures++
	fmt.Printf("FAIL %s\n got: %s\nwant: %s\n", name, got, want)
}

// checkAdmission checks the admission answer only (no audit was run).
func (s *suite) checkAdmission(name string, got, want outcome) {
	want.Audit = nil
	got.Audit = nil
	s.check(name, got, want)
}

func (s *suite) failSetup(name string, err error) {
	s.failures++
	fmt.Printf("FAIL %s: %v\n", name, err)
}

// review admits req and audits obj (when non-nil) with g.
func (s *suite) review(g *gatekeeper, req *admissionv1.AdmissionRequest, obj *unstructured.Unstructured) (outcome, error) {
	out, err := g.admit(s.ctx, req)
	if err != nil {
		return out, err
	}
	if obj != nil {
		if out.Audit, err = g.audit(s.ctx, obj); err != nil {
			return out, err
		}
	}
	return out, nil
}

// create reviews a CREATE of obj with the main Gatekeeper and checks it.
func (s *suite) create(name string, obj *unstructured.Unstructured, want outcome) {
	got, err := s.review(s.main, admissionRequest(admissionv1.Create, obj, nil, ""), obj)
	if err != nil {
		s.failSetup(name, err)
		return
	}
	s.check(name, got, want)
}

func waitFor(d time.Duration) { time.Sleep(d) }

// sent is what the main signet received for one endpoint during a step.
type sent struct{ requests, items float64 }

// measureSent runs step and returns the requests and keys (items) the main
// signet received for endpoint meanwhile, from its own metrics.
func (s *suite) measureSent(endpoint string, step func()) (sent, error) {
	read := func(metric string, mustExist bool) (float64, error) {
		v, found, err := metricSum(s.provider.Spec.URL, s.provider.Spec.CABundle, s.gkCert, metric, `endpoint="`+endpoint+`"`)
		if err == nil && mustExist && !found {
			err = fmt.Errorf("no %s{endpoint=%q} in signet's metrics", metric, endpoint)
		}
		return v, err
	}
	var before, after sent
	var err error
	if before.requests, err = read("signet_provider_requests_total", false); err != nil {
		return sent{}, err
	}
	if before.items, err = read("signet_provider_items_total", false); err != nil {
		return sent{}, err
	}
	step()
	if after.requests, err = read("signet_provider_requests_total", true); err != nil {
		return sent{}, err
	}
	if after.items, err = read("signet_provider_items_total", true); err != nil {
		return sent{}, err
	}
	return sent{after.requests - before.requests, after.items - before.items}, nil
}

func (s *suite) checkSent(name string, got sent, err error, ok bool, want string) {
	switch {
	case err != nil:
		s.failSetup(name, err)
	case !ok:
		s.failures++
		fmt.Printf("FAIL %s\n got: %v requests, %v keys\nwant: %s\n", name, got.requests, got.items, want)
	default:
		fmt.Printf("ok   %s (%v requests, %v keys)\n", name, got.requests, got.items)
	}
}
