package main

// The template's exemptImages parameter (gatekeeper-library's convention):
// an entry ending in "*" is a prefix, any other entry must equal the image.
// Exempt images must never reach the provider: with the provider down, an
// object holding only exempt images is still admitted, and a non-exempt name
// that merely starts like an exempt one is sent (and denied).

import (
	"fmt"
	"sort"
	"strings"

	"github.com/open-policy-agent/frameworks/constraint/pkg/apis/externaldata/unversioned"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const (
	pause     = "registry.k8s.io/pause"
	pauseTag  = "registry.k8s.io/pause:3.10"
	pauseEvil = "registry.k8s.io/pause-evil"
)

// exemptList is the exemptImages list of the exempt/* cases, and the
// mutation.exemptImages of the mutate/* exempt cases (kept equal, as the docs
// ask): U1 = bench/app3:v3 and U2 = bench/app4:v4 are unsigned, D3 and D4 are
// the same two images by digest.
func (s *suite) exemptList() []string {
	P := s.proxy.addr
	return []string{
		pause,               // exact
		pause + ":*",        // prefix: every tag of pause, and nothing else
		P + "/bench/app3:*", // prefix: U1, not its digest spelling D3
		P + "/bench/app4:v", // exact: a prefix of U2's name, which it must not exempt
		s.digests[4],        // exact: U2 by digest (D4)
	}
}

// checkExemptFixtures fails name when fixture.py's names no longer fit exemptList.
func (s *suite) checkExemptFixtures(name string) bool {
	P := s.proxy.addr
	U1, U2 := s.unsigned[0], s.unsigned[1]
	if !strings.HasPrefix(U1, P+"/bench/app3:") || !strings.HasPrefix(U2, P+"/bench/app4:v") {
		s.failSetup(name, fmt.Errorf("fixture.py's names changed (%s, %s): review the exemptions", U1, U2))
		return false
	}
	return true
}

func (s *suite) runExemptions() {
	S1, S2 := s.signed[0], s.signed[1]
	U1, U2 := s.unsigned[0], s.unsigned[1] // bench/app3:v3, bench/app4:v4
	D3, D4 := s.digests[3], s.digests[4]   // the same two images by digest
	if !s.checkExemptFixtures("exempt") {
		return
	}
	exempt := s.exemptList()
	withExempt := func(providers []unversioned.Provider, list []string) (*gatekeeper, error) {
		return s.newGatekeeper(func(o *gatekeeperOptions) {
			o.providers = providers
			o.exemptImages = list
		})
	}
	create := func(g *gatekeeper, name string, obj *unstructured.Unstructured, want outcome) {
		got, err := s.review(g, admissionRequest(admissionv1.Create, obj, nil, ""), obj)
		if err != nil {
			s.failSetup(name, err)
			return
		}
		s.check(name, got, want)
	}

	// Against the real provider.
	g, err := withExempt([]unversioned.Provider{s.provider}, exempt)
	if err != nil {
		s.failSetup("exempt", err)
		return
	}
	got, err := s.measureSent("validate", func() {
		create(g, "exempt/unsigned images exempt by prefix and by exact name are admitted, production",
			object("Pod", "production", "x1", images{containers: []string{S1, U1}, init: []string{D4}, ephemeral: []string{U1}}),
			expect("Pod", "production"))
	})
	s.checkSent("exempt/the provider received only the non-exempt image", got, err,
		got.requests >= 1 && got.items == got.requests, "at least one request, each with one key")
	create(g, "exempt/an exempt initContainer of a CronJob is admitted, production",
		object("CronJob", "production", "x2", images{containers: []string{S2}, init: []string{U1}}),
		expect("CronJob", "production"))
	create(g, "exempt/an exact entry is not a prefix: a longer name is still checked, production",
		object("Pod", "production", "x3", images{containers: []string{U2}}),
		expect("Pod", "production", rejected{U2, reasonUnsigned}))
	create(g, "exempt/a prefix entry does not cover the digest spelling of an exempt tag, production",
		object("Pod", "production", "x4", images{containers: []string{D3}}),
		expect("Pod", "production", rejected{D3, reasonUnsigned}))
	create(g, "exempt/a mixed object is judged on its non-exempt images only, production",
		object("Deployment", "production", "x5", images{containers: []string{U1, U2}, init: []string{D4}}),
		expect("Deployment", "production", rejected{U2, reasonUnsigned}))

	// With the provider down, any image sent gives a system error: what is
	// exempt was not sent.
	down, err := freePort()
	if err != nil {
		s.failSetup("exempt", err)
		return
	}
	downProvider := s.providerFor(&signetProcess{port: down})
	refused := sendFailed(downProvider.Spec.URL, fmt.Sprintf("dial tcp 127.0.0.1:%d: connect: connection refused", down))
	onlyExempt := object("Pod", "production", "x6", images{containers: []string{pause, pauseTag, U1}, init: []string{D4}})
	if g, err = withExempt([]unversioned.Provider{downProvider}, exempt); err != nil {
		s.failSetup("exempt", err)
		return
	}
	create(g, "exempt/provider down: an object with only exempt images is admitted (nothing is sent)",
		onlyExempt, expect("Pod", "production"))
	create(g, "exempt/provider down: registry.k8s.io/pause-evil is not exempt by registry.k8s.io/pause and is sent",
		object("Pod", "production", "x7", images{containers: []string{pauseTag, pauseEvil}}),
		systemError(pauseEvil, refused))
	// Positive control: without exemptions the same object is sent, and denied.
	if g, err = withExempt([]unversioned.Provider{downProvider}, nil); err != nil {
		s.failSetup("exempt", err)
		return
	}
	all := []string{pause, pauseTag, U1, D4}
	sort.Strings(all)
	create(g, "exempt/provider down: without exemptions the same object is sent and denied",
		onlyExempt, systemError(strings.Join(all, ", "), refused))
}
