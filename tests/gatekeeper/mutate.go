package main

// The kit's Assign mutators (the chart's templates/mutation.yaml, as rendered
// into deploy/manifests/signet.yaml) run by Gatekeeper v3.20.1's mutation
// System against signet's /mutate, wired as Gatekeeper's main.go wires it: the
// same provider cache as validation and the webhook's client certificate. Each
// Assign is converted and checked as Gatekeeper's mutator controller does
// (scheme conversion to the unversioned type, mutators.MutatorForAssign), and
// an admission request is mutated as pkg/webhook/mutation.go does: an error of
// the System refuses the object, which is then never patched.

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"strings"

	"github.com/open-policy-agent/frameworks/constraint/pkg/apis/externaldata/unversioned"
	mutationsunversioned "github.com/open-policy-agent/gatekeeper/v3/apis/mutations/unversioned"
	mutationsv1 "github.com/open-policy-agent/gatekeeper/v3/apis/mutations/v1"
	"github.com/open-policy-agent/gatekeeper/v3/pkg/mutation"
	"github.com/open-policy-agent/gatekeeper/v3/pkg/mutation/mutators"
	mutationtypes "github.com/open-policy-agent/gatekeeper/v3/pkg/mutation/types"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// loadAssigns reads every Assign of a rendered manifest.
func loadAssigns(manifest string) ([]*mutationsv1.Assign, error) {
	raw, err := os.ReadFile(manifest)
	if err != nil {
		return nil, err
	}
	var out []*mutationsv1.Assign
	for _, doc := range strings.Split(string(raw), "\n---") {
		var head struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			return nil, err
		}
		if head.Kind != "Assign" {
			continue
		}
		a := &mutationsv1.Assign{}
		if err := yaml.UnmarshalStrict([]byte(doc), a); err != nil {
			return nil, fmt.Errorf("%s: Assign: %w", manifest, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// newMutationSystem is Gatekeeper's mutation System sharing g's provider cache
// and client certificate, holding the given Assigns.
func newMutationSystem(g *gatekeeper, assigns []*mutationsv1.Assign) (*mutation.System, error) {
	if g.certWatcher == nil {
		return nil, fmt.Errorf("mutation needs the client certificate watcher")
	}
	system := mutation.NewSystem(mutation.SystemOpts{ProviderCache: g.providerCache, ClientCertWatcher: g.certWatcher})
	scheme := runtime.NewScheme()
	if err := mutationsv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	for _, a := range assigns {
		u := &mutationsunversioned.Assign{}
		if err := scheme.Convert(a, u, nil); err != nil {
			return nil, fmt.Errorf("Assign %s: convert: %w", a.Name, err)
		}
		m, err := mutators.MutatorForAssign(u)
		if err != nil {
			return nil, fmt.Errorf("Assign %s rejected by Gatekeeper: %w", a.Name, err)
		}
		if err := system.Upsert(m); err != nil {
			return nil, fmt.Errorf("Assign %s: %w", a.Name, err)
		}
	}
	return system, nil
}

// mutateRequest mutates req.Object as Gatekeeper's mutating webhook does and
// returns the object the API server continues with: the patched object, the
// original when nothing matched, or an error that refuses the request.
func mutateRequest(system *mutation.System, req *admissionv1.AdmissionRequest) (*unstructured.Unstructured, error) {
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(req.Object.Raw); err != nil {
		return nil, err
	}
	oldNS := obj.GetNamespace()
	obj.SetNamespace(req.Namespace)
	mutable := &mutationtypes.Mutable{
		Object:    obj,
		Namespace: namespaceObject(req.Namespace),
		Source:    mutationtypes.SourceTypeOriginal,
	}
	mutated, err := system.Mutate(mutable)
	if err != nil {
		return nil, err
	}
	original := &unstructured.Unstructured{}
	if err := original.UnmarshalJSON(req.Object.Raw); err != nil {
		return nil, err
	}
	if !mutated {
		return original, nil
	}
	mutable.Object.SetNamespace(oldNS)
	// Through JSON, as the webhook's patch is made.
	b, err := mutable.Object.MarshalJSON()
	if err != nil {
		return nil, err
	}
	out := &unstructured.Unstructured{}
	return out, out.UnmarshalJSON(b)
}

// imagesOf lists the images of obj's pod spec, per field.
func imagesOf(obj *unstructured.Unstructured) images {
	path := map[string][]string{"Pod": {"spec"}, "CronJob": {"spec", "jobTemplate", "spec", "template", "spec"}}[obj.GetKind()]
	if path == nil {
		path = []string{"spec", "template", "spec"}
	}
	field := func(name string) []string {
		list, _, _ := unstructured.NestedSlice(obj.Object, append(append([]string{}, path...), name)...)
		var out []string
		for _, c := range list {
			img, _ := c.(map[string]interface{})["image"].(string)
			out = append(out, img)
		}
		return out
	}
	return images{containers: field("containers"), init: field("initContainers"), ephemeral: field("ephemeralContainers")}
}

func (im images) String() string {
	b, _ := json.Marshal(map[string][]string{"containers": im.containers, "initContainers": im.init, "ephemeralContainers": im.ephemeral})
	return string(b)
}

// checkMutation checks the images after mutation, or the error that refuses
// the object (wantErr != "").
func (s *suite) checkMutation(name string, system *mutation.System, obj *unstructured.Unstructured,
	want images, wantErr string) *unstructured.Unstructured {
	got, err := mutateRequest(system, admissionRequest(admissionv1.Create, obj, nil, ""))
	switch {
	case wantErr != "" && err == nil:
		s.failures++
		fmt.Printf("FAIL %s\n got: admitted with %s\nwant: refused with %q\n", name, imagesOf(got), wantErr)
	case wantErr != "" && err.Error() != wantErr:
		s.failures++
		fmt.Printf("FAIL %s\n got: refused with %q\nwant: refused with %q\n", name, err.Error(), wantErr)
	case wantErr == "" && err != nil:
		s.failures++
		fmt.Printf("FAIL %s\n got: refused with %q\nwant: %s\n", name, err.Error(), want)
	case wantErr == "" && !reflect.DeepEqual(imagesOf(got), want):
		s.failures++
		fmt.Printf("FAIL %s\n got: %s\nwant: %s\n", name, imagesOf(got), want)
	default:
		fmt.Printf("ok   %s\n", name)
		if err != nil {
			s.observed[name] = outcome{Denied: []string{err.Error()}}
		}
		return got
	}
	return nil
}

// mutateFailed is the error of Gatekeeper's mutation System when provider
// answered key with an item error.
func mutateFailed(provider, key, reason string) string {
	return fmt.Sprintf("failed to resolve external data placeholders: failed to retrieve external data item from provider %s: %s_invalid: %s",
		provider, key, reason)
}

func (s *suite) runMutation() {
	manifest := *flagAssigns
	if manifest == "" {
		manifest = s.kit + "/deploy/manifests/signet.yaml"
	}
	assigns, err := loadAssigns(manifest)
	if err != nil || len(assigns) != 9 {
		s.failSetup("mutate", fmt.Errorf("want the kit's 9 Assigns (3 targets x 3 container fields), got %d (%v)", len(assigns), err))
		return
	}
	mutateProvider, err := loadProviderFor(manifest, "/mutate")
	if err != nil {
		s.failSetup("mutate", err)
		return
	}
	for _, a := range assigns {
		if p := a.Spec.Parameters.Assign.ExternalData; p == nil || p.Provider != mutateProvider.Name {
			s.failSetup("mutate", fmt.Errorf("Assign %s does not use the %s Provider", a.Name, mutateProvider.Name))
			return
		}
	}
	mutateProvider.Spec.CABundle = s.provider.Spec.CABundle
	validate := s.provider // validation, pointing at the main signet
	mutateProvider = s.withPortOf(mutateProvider, validate)
	g, err := s.newGatekeeper(func(o *gatekeeperOptions) { o.providers = []unversioned.Provider{validate, mutateProvider} })
	if err != nil {
		s.failSetup("mutate", err)
		return
	}
	system, err := newMutationSystem(g, assigns)
	if err != nil {
		s.failSetup("mutate", err)
		return
	}
	S1, S2, S3 := s.signed[0], s.signed[1], s.signed[2]
	D1, D2, D3 := s.digests[0], s.digests[1], s.digests[2]
	U1, U2 := s.unsigned[0], s.unsigned[1]
	mp := mutateProvider.Name

	// Signed tags are pinned to the digest the registry holds, in every field.
	pod := s.checkMutation("mutate/pod: containers, initContainers and ephemeralContainers pinned to their digests, production", system,
		object("Pod", "production", "mp1", images{containers: []string{S1, S2}, init: []string{S3}, ephemeral: []string{S1}}),
		images{containers: []string{D1, D2}, init: []string{D3}, ephemeral: []string{D1}}, "")
	for _, kind := range workloadKinds {
		s.checkMutation(fmt.Sprintf("mutate/%s: every container field pinned, production", strings.ToLower(kind)), system,
			object(kind, "production", "mw", images{containers: []string{S1}, init: []string{S2}, ephemeral: []string{S3}}),
			images{containers: []string{D1}, init: []string{D2}, ephemeral: []string{D3}}, "")
	}
	// One request per object with its distinct images; nothing cached by Gatekeeper.
	twice, err := s.measureSent("mutate", func() {
		for i := 0; i < 2; i++ {
			s.checkMutation(fmt.Sprintf("mutate/pod: one image in three places, round %d", i+1), system,
				object("Pod", "production", "mp3", images{containers: []string{S1, S1, S2}, init: []string{S1}}),
				images{containers: []string{D1, D1, D2}, init: []string{D1}}, "")
		}
	})
	s.checkSent("mutate/each mutation sends one request with the distinct images, uncached", twice, err,
		twice.requests == 2 && twice.items == 4, "2 requests, 4 keys (2 distinct images, twice)")
	s.checkMutation("mutate/pod: an image already by digest stays as it is, staging", system,
		object("Pod", "staging", "mp2", images{containers: []string{D2}}), images{containers: []string{D2}}, "")

	// Gatekeeper mutates, then validates: the pinned Pod passes validation.
	if pod != nil {
		got, err := g.admit(s.ctx, admissionRequest(admissionv1.Create, pod, nil, ""))
		if err != nil {
			s.failSetup("mutate/the pinned pod is admitted by validation", err)
		} else {
			s.checkAdmission("mutate/the pinned pod is admitted by validation, production", got, expect("Pod", "production"))
		}
	}

	// Unverified images: failurePolicy Fail refuses the object, nothing is pinned.
	s.checkMutation("mutate/pod: an unsigned container refuses the object, production", system,
		object("Pod", "production", "mu1", images{containers: []string{S1, U1}}), images{}, mutateFailed(mp, U1, reasonUnsigned))
	s.checkMutation("mutate/deployment: an unsigned initContainer refuses the object, production", system,
		object("Deployment", "production", "mu2", images{containers: []string{S1}, init: []string{U1}}), images{}, mutateFailed(mp, U1, reasonUnsigned))
	s.checkMutation("mutate/cronjob: an unsigned initContainer refuses the object, production", system,
		object("CronJob", "production", "mu3", images{containers: []string{S1}, init: []string{U2}}), images{}, mutateFailed(mp, U2, reasonUnsigned))
	s.checkMutation("mutate/pod: an unsigned ephemeralContainer refuses the object, production", system,
		object("Pod", "production", "mu4", images{containers: []string{S1}, ephemeral: []string{U2}}), images{}, mutateFailed(mp, U2, reasonUnsigned))
	s.checkMutation("mutate/pod: a missing image refuses the object, staging", system,
		object("Pod", "staging", "mu5", images{containers: []string{s.missing}}), images{}, mutateFailed(mp, s.missing, reasonMissing))

	// Outside mutation.namespaces nothing is asked and nothing changes.
	s.checkMutation("mutate/pod: outside mutation.namespaces nothing is pinned or refused, default", system,
		object("Pod", "default", "mn1", images{containers: []string{S1, U1}, init: []string{S2}}),
		images{containers: []string{S1, U1}, init: []string{S2}}, "")

	s.runMutationExemptions(validate, mutateProvider, assigns)

	// The mutate Provider down: refused.
	down, err := freePort()
	if err != nil {
		s.failSetup("mutate", err)
		return
	}
	downMutate := s.withPortOf(mutateProvider, s.providerFor(&signetProcess{port: down}))
	if g, err = s.newGatekeeper(func(o *gatekeeperOptions) { o.providers = []unversioned.Provider{validate, downMutate} }); err != nil {
		s.failSetup("mutate", err)
		return
	}
	if system, err = newMutationSystem(g, assigns); err != nil {
		s.failSetup("mutate", err)
		return
	}
	s.checkMutation("mutate/pod: the mutate Provider down refuses the object, production", system,
		object("Pod", "production", "md1", images{containers: []string{S1}}), images{},
		fmt.Sprintf("failed to resolve external data placeholders: failed to send external data request to provider %s: %s", mp,
			sendFailed(downMutate.Spec.URL, fmt.Sprintf("dial tcp 127.0.0.1:%d: connect: connection refused", down))))
}

// withPortOf is p with the host and port of ref's URL (the path stays p's).
func (s *suite) withPortOf(p, ref unversioned.Provider) unversioned.Provider {
	out := *p.DeepCopy()
	own, _ := url.Parse(p.Spec.URL)
	other, _ := url.Parse(ref.Spec.URL)
	own.Host = other.Host
	out.Spec.URL = own.String()
	return out
}

// runMutationExemptions: a signet whose mutation.exemptImages (the key the
// chart's ConfigMap carries) equals the constraints' exemptImages. In the
// mutation namespaces an object with exempt unsigned images is admitted with
// those images unpinned, by the mutators and then by validation; near-miss
// names are still refused. Control: the same object is refused by a signet
// without the list.
func (s *suite) runMutationExemptions(validate, mutateProvider unversioned.Provider, assigns []*mutationsv1.Assign) {
	if !s.checkExemptFixtures("mutate/exempt") {
		return
	}
	exempt := s.exemptList()
	var missingKey error
	p, err := s.startSignet("signet-mutate-exempt", func(cfg map[string]interface{}) {
		mutation, ok := cfg["mutation"].(map[string]interface{})
		if _, has := mutation["exemptImages"]; !ok || !has {
			missingKey = fmt.Errorf("the kit's ConfigMap has no mutation.exemptImages (values mutation.exemptImages)")
			return
		}
		list := make([]interface{}, len(exempt))
		for i, e := range exempt {
			list[i] = e
		}
		mutation["exemptImages"] = list
	})
	if err == nil {
		err = missingKey
	}
	if err != nil {
		s.failSetup("mutate/exempt", err)
		return
	}
	exemptMutate := s.withPortOf(mutateProvider, s.providerFor(p))
	g, system, err := s.mutationSystem(validate, exemptMutate, assigns, exempt)
	if err != nil {
		s.failSetup("mutate/exempt", err)
		return
	}
	S1, U1, U2 := s.signed[0], s.unsigned[0], s.unsigned[1]
	D1, D3, D4 := s.digests[0], s.digests[3], s.digests[4]
	mp := mutateProvider.Name

	// Exempt by prefix (U1, registry.k8s.io/pause:3.10, which no registry here
	// holds) and by exact name (D4): unchanged; the signed image is pinned.
	exemptPod := object("Pod", "production", "mx1", images{containers: []string{S1, U1, pauseTag}, init: []string{D4}, ephemeral: []string{U1}})
	pinned := s.checkMutation("mutate/exempt: exempt unsigned images stay as written, the signed one is pinned, production", system,
		exemptPod, images{containers: []string{D1, U1, pauseTag}, init: []string{D4}, ephemeral: []string{U1}}, "")
	if pinned != nil {
		got, err := g.admit(s.ctx, admissionRequest(admissionv1.Create, pinned, nil, ""))
		if err != nil {
			s.failSetup("mutate/exempt: the mutated pod is admitted by validation", err)
		} else {
			s.checkAdmission("mutate/exempt: the mutated pod is admitted by validation with the same list, production", got, expect("Pod", "production"))
		}
	}
	s.checkMutation("mutate/exempt: an exempt unsigned initContainer of a CronJob stays as written, staging", system,
		object("CronJob", "staging", "mx2", images{containers: []string{S1}, init: []string{U1}}),
		images{containers: []string{D1}, init: []string{U1}}, "")
	// Near misses are verified, and refused.
	s.checkMutation("mutate/exempt: an exact entry is not a prefix: a longer unsigned name is refused, production", system,
		object("Pod", "production", "mx3", images{containers: []string{U2}}), images{}, mutateFailed(mp, U2, reasonUnsigned))
	s.checkMutation("mutate/exempt: a prefix entry does not cover the digest spelling of an exempt tag, production", system,
		object("Pod", "production", "mx4", images{containers: []string{D3}}), images{}, mutateFailed(mp, D3, reasonUnsigned))
	exempted, found, err := metricSum(exemptMutate.Spec.URL, exemptMutate.Spec.CABundle, s.gkCert,
		"signet_provider_items_total", `endpoint="mutate"`, `decision="exempt"`)
	s.checkSent("mutate/exempt: signet counts the exempt keys as decision=\"exempt\"", sent{items: exempted}, err,
		found && exempted >= 4, "at least 4 exempt keys (U1, pause:3.10, D4; U1)")

	// Control: the mutate Provider of a signet without the list refuses the same exempt image.
	if _, control, err := s.mutationSystem(validate, mutateProvider, assigns, exempt); err != nil {
		s.failSetup("mutate/exempt control", err)
	} else {
		s.checkMutation("mutate/exempt: without mutation.exemptImages the exempt unsigned image is refused, production", control,
			object("Pod", "production", "mx5", images{containers: []string{U1}}), images{}, mutateFailed(mp, U1, reasonUnsigned))
	}
}

// mutationSystem is a Gatekeeper with the validate and mutate Providers given
// and exempt as every constraint's exemptImages, and its mutation System for
// the kit's Assigns.
func (s *suite) mutationSystem(validate, mutate unversioned.Provider, assigns []*mutationsv1.Assign,
	exempt []string) (*gatekeeper, *mutation.System, error) {
	g, err := s.newGatekeeper(func(o *gatekeeperOptions) {
		o.providers = []unversioned.Provider{validate, mutate}
		o.exemptImages = exempt
	})
	if err != nil {
		return nil, nil, err
	}
	system, err := newMutationSystem(g, assigns)
	return g, system, err
}
