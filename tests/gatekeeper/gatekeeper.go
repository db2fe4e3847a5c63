package main

// Gatekeeper's validation, wired as Gatekeeper v3.20.1's main.go wires it
// (setupControllers): the rego driver with external data enabled, the
// provider cache, the provider response cache with the default TTL of
// --external-data-provider-response-cache-ttl, and client auth with the
// webhook certificate watched from its files. Admission reviews are built and
// turned into the webhook's answer as pkg/webhook/policy.go does; audit
// reviews as pkg/audit does.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/frameworks/constraint/pkg/apis/externaldata/unversioned"
	templatesv1 "github.com/open-policy-agent/frameworks/constraint/pkg/apis/templates/v1"
	constraintclient "github.com/open-policy-agent/frameworks/constraint/pkg/client"
	"github.com/open-policy-agent/frameworks/constraint/pkg/client/drivers/rego"
	"github.com/open-policy-agent/frameworks/constraint/pkg/client/reviews"
	"github.com/open-policy-agent/frameworks/constraint/pkg/core/templates"
	"github.com/open-policy-agent/frameworks/constraint/pkg/externaldata"
	mutationtypes "github.com/open-policy-agent/gatekeeper/v3/pkg/mutation/types"
	"github.com/open-policy-agent/gatekeeper/v3/pkg/target"
	"github.com/open-policy-agent/gatekeeper/v3/pkg/util"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/yaml"
)

// gatekeeperDefaultResponseCacheTTL is the default of Gatekeeper's
// --external-data-provider-response-cache-ttl flag (main.go, v3.20.1).
const gatekeeperDefaultResponseCacheTTL = 3 * time.Minute

type gatekeeperOptions struct {
	templateFile     string
	constraintFiles  []string
	providers        []unversioned.Provider
	clientCertDir    string        // "" = no client certificate
	responseCacheTTL time.Duration // 0 = response cache disabled
	exemptImages     []string      // parameters.exemptImages of every constraint; nil = as shipped
}

type gatekeeper struct {
	client *constraintclient.Client
	// Shared with the mutation system, as Gatekeeper's main.go shares them.
	providerCache *externaldata.ProviderCache
	certWatcher   *certwatcher.CertWatcher // nil without a client certificate
}

// live is the most recent gatekeeper: the rego driver registers external_data
// with OPA globally, bound to the driver made last (Gatekeeper runs one per
// process), so only that one may review.
var live *gatekeeper

func newGatekeeper(ctx context.Context, o gatekeeperOptions) (*gatekeeper, error) {
	providerCache := externaldata.NewCache()
	args := []rego.Arg{rego.Tracing(false), rego.DisableBuiltins(), rego.AddExternalDataProviderCache(providerCache)}
	var watcher *certwatcher.CertWatcher
	if o.responseCacheTTL > 0 {
		args = append(args, rego.AddExternalDataProviderResponseCache(
			externaldata.NewProviderResponseCache(ctx, o.responseCacheTTL)))
	}
	if o.clientCertDir != "" {
		var err error
		watcher, err = certwatcher.New(filepath.Join(o.clientCertDir, "tls.crt"), filepath.Join(o.clientCertDir, "tls.key"))
		if err != nil {
			return nil, fmt.Errorf("client cert watcher: %w", err)
		}
		args = append(args, rego.EnableExternalDataClientAuth(), rego.AddExternalDataClientCertWatcher(watcher))
	}
	args = append(args, rego.Externs())
	driver, err := rego.New(args...)
	if err != nil {
		return nil, fmt.Errorf("rego driver: %w", err)
	}
	client, err := constraintclient.NewClient(
		constraintclient.Targets(&target.K8sValidationTarget{}),
		constraintclient.Driver(driver),
		constraintclient.EnforcementPoints(util.AuditEnforcementPoint, util.WebhookEnforcementPoint))
	if err != nil {
		return nil, fmt.Errorf("constraint client: %w", err)
	}
	tmpl, err := loadTemplate(o.templateFile)
	if err != nil {
		return nil, err
	}
	if _, err := client.AddTemplate(ctx, tmpl); err != nil {
		return nil, fmt.Errorf("AddTemplate %s: %w", o.templateFile, err)
	}
	for _, f := range o.constraintFiles {
		u, err := loadUnstructured(f)
		if err != nil {
			return nil, err
		}
		if o.exemptImages != nil {
			list := make([]interface{}, len(o.exemptImages))
			for i, img := range o.exemptImages {
				list[i] = img
			}
			if err := unstructured.SetNestedSlice(u.Object, list, "spec", "parameters", "exemptImages"); err != nil {
				return nil, err
			}
		}
		if _, err := client.AddConstraint(ctx, u); err != nil {
			return nil, fmt.Errorf("AddConstraint %s: %w", f, err)
		}
	}
	for i := range o.providers {
		if err := providerCache.Upsert(&o.providers[i]); err != nil {
			return nil, fmt.Errorf("Provider %s rejected by Gatekeeper's provider cache: %w", o.providers[i].Name, err)
		}
	}
	live = &gatekeeper{client: client, providerCache: providerCache, certWatcher: watcher}
	return live, nil
}

var errNotLive = errors.New("not the most recent Gatekeeper driver (external_data is bound to that one)")

// loadTemplate converts a templates.gatekeeper.sh/v1 ConstraintTemplate to the
// versionless form through the scheme, as Gatekeeper's template controller does.
func loadTemplate(path string) (*templates.ConstraintTemplate, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	if err := templatesv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	v1 := &templatesv1.ConstraintTemplate{}
	if err := yaml.UnmarshalStrict(raw, v1); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	scheme.Default(v1)
	out := &templates.ConstraintTemplate{}
	if err := scheme.Convert(v1, out, nil); err != nil {
		return nil, fmt.Errorf("%s: convert: %w", path, err)
	}
	return out, nil
}

func loadUnstructured(path string) (*unstructured.Unstructured, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	obj := map[string]interface{}{}
	if err := yaml.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &unstructured.Unstructured{Object: obj}, nil
}

// loadProvider reads the validation Provider from a rendered manifest.
func loadProvider(manifest string) (unversioned.Provider, error) {
	return loadProviderFor(manifest, "/validate")
}

// loadProviderFor reads the Provider whose URL ends in path from a rendered
// manifest (the chart renders one for /validate and one for /mutate).
func loadProviderFor(manifest, path string) (unversioned.Provider, error) {
	raw, err := os.ReadFile(manifest)
	if err != nil {
		return unversioned.Provider{}, err
	}
	for _, doc := range strings.Split(string(raw), "\n---") {
		var obj struct {
			Kind     string                   `json:"kind"`
			Metadata metav1.ObjectMeta        `json:"metadata"`
			Spec     unversioned.ProviderSpec `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			return unversioned.Provider{}, err
		}
		if obj.Kind == "Provider" && strings.HasSuffix(obj.Spec.URL, path) {
			return unversioned.Provider{ObjectMeta: obj.Metadata, Spec: obj.Spec}, nil
		}
	}
	return unversioned.Provider{}, fmt.Errorf("%s: no Provider for %s", manifest, path)
}

// outcome is what the user and the cluster see for one object.
type outcome struct {
	Allowed bool     `json:"allowed"`
	Denied  []string `json:"denied,omitempty"`   // lines of the webhook's denial message
	Warned  []string `json:"warnings,omitempty"` // admission warnings
	Audit   []string `json:"audit,omitempty"`    // "<constraint> (<action>): <message>"
}

func (o outcome) String() string {
	b, _ := json.MarshalIndent(o, "", "  ")
	return string(b)
}

func namespaceObject(ns string) *corev1.Namespace {
	if ns == "" {
		return nil
	}
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
}

// admit reviews an admission request as the validating webhook does and
// returns its answer (denial lines and warnings in the webhook's
// "[constraint] message" form).
func (g *gatekeeper) admit(ctx context.Context, req *admissionv1.AdmissionRequest) (outcome, error) {
	if g != live {
		return outcome{}, errNotLive
	}
	review := &target.AugmentedReview{
		AdmissionRequest: req,
		Source:           mutationtypes.SourceTypeOriginal,
		IsAdmission:      true,
		Namespace:        namespaceObject(req.Namespace),
	}
	resp, err := g.client.Review(ctx, review, reviews.EnforcementPoint(util.WebhookEnforcementPoint))
	if err != nil {
		return outcome{}, err
	}
	var out outcome
	for _, r := range resp.Results() {
		line := fmt.Sprintf("[%s] %s", r.Constraint.GetName(), r.Msg)
		switch r.EnforcementAction {
		case string(util.Deny):
			out.Denied = append(out.Denied, line)
		case string(util.Warn):
			out.Warned = append(out.Warned, line)
		}
	}
	sort.Strings(out.Denied)
	sort.Strings(out.Warned)
	out.Allowed = len(out.Denied) == 0
	return out, nil
}

// audit reviews an existing object as Gatekeeper's audit does; every
// violation is listed, whatever the constraint's enforcement action.
func (g *gatekeeper) audit(ctx context.Context, obj *unstructured.Unstructured) ([]string, error) {
	if g != live {
		return nil, errNotLive
	}
	au := &target.AugmentedUnstructured{Object: *obj, Namespace: namespaceObject(obj.GetNamespace())}
	resp, err := g.client.Review(ctx, au, reviews.EnforcementPoint(util.AuditEnforcementPoint))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range resp.Results() {
		out = append(out, fmt.Sprintf("%s (%s): %s", r.Constraint.GetName(), r.EnforcementAction, r.Msg))
	}
	sort.Strings(out)
	return out, nil
}
