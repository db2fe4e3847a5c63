{{/* Object name: fullnameOverride, else the release name. */}}
{{- define "signet.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "signet.labels" -}}
app.kubernetes.io/name: signet
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "signet.selectorLabels" -}}
app.kubernetes.io/name: signet
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The Service DNS name Gatekeeper dials; the server certificate needs it. */}}
{{- define "signet.serviceHost" -}}
{{ include "signet.fullname" . }}.{{ .Release.Namespace }}
{{- end -}}

{{- define "signet.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
{{- end -}}

{{/*
The Provider caBundle: the value, else ca.crt of the TLS Secret in the cluster
(helm install/upgrade only), else a placeholder Gatekeeper refuses to admit.
*/}}
{{- define "signet.caBundle" -}}
{{- if .Values.tls.caBundle -}}
{{ .Values.tls.caBundle }}
{{- else -}}
{{- $secret := lookup "v1" "Secret" .Release.Namespace .Values.tls.secretName -}}
{{- $fromSecret := dig "data" "ca.crt" "" ($secret | default dict) -}}
{{- if $fromSecret -}}
{{ $fromSecret }}
{{- else -}}
SET-tls.caBundle-FROM-deploy-gen-certs.sh
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
"true" when the Providers are rendered: always, except with cert-manager
while the CA is not known yet (no tls.caBundle, TLS Secret not issued): the
placeholder would make Gatekeeper refuse the Provider and so the whole install.
Step two (helm upgrade once the Certificate is Ready) renders them.
*/}}
{{- define "signet.renderProviders" -}}
{{- if or (not .Values.certManager.enabled) (ne (include "signet.caBundle" .) "SET-tls.caBundle-FROM-deploy-gen-certs.sh") -}}
true
{{- end -}}
{{- end -}}

{{- define "signet.mtlsSecretName" -}}
{{- if .Values.mtls.caCert -}}
{{ include "signet.fullname" . }}-gatekeeper-ca
{{- else -}}
{{ .Values.mtls.caSecretName }}
{{- end -}}
{{- end -}}

{{/*
Milliseconds of a duration as signet reads it ("1500ms", "2s", "1m30s"; a
bare number is milliseconds); fails naming the value otherwise. Call with
(list "<value name>" <value>).
*/}}
{{- define "signet.durationMs" -}}
{{- $name := index . 0 -}}
{{- $text := toString (index . 1) -}}
{{- if regexMatch "^[0-9]{1,12}$" $text -}}
{{ $text }}
{{- else if regexMatch "^([0-9]{1,12}(ms|h|m|s))+$" $text -}}
{{- $total := 0 -}}
{{- range regexFindAll "[0-9]+(ms|h|m|s)" $text -1 -}}
{{- $number := int64 (regexFind "^[0-9]+" .) -}}
{{- $unit := regexReplaceAll "^[0-9]+" . "" -}}
{{- $scale := get (dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000) $unit -}}
{{- $total = add $total (mul $number $scale) -}}
{{- end -}}
{{ $total }}
{{- else -}}
{{- fail (printf "%s: %q is not a duration: write a number with a unit ms, s, m or h (e.g. 1500ms or 1m30s; a bare number is milliseconds)" $name $text) -}}
{{- end -}}
{{- end -}}

{{/* A whole number of seconds (Provider.spec.timeout and webhook timeouts are integers). */}}
{{- define "signet.wholeSeconds" -}}
{{- $name := index . 0 -}}
{{- $text := toString (index . 1) -}}
{{- if not (regexMatch "^[0-9]{1,6}$" $text) -}}
{{- fail (printf "%s must be a whole number of seconds (Kubernetes and Gatekeeper take integer seconds), got %q" $name $text) -}}
{{- end -}}
{{ $text }}
{{- end -}}

{{/*
Fail early on timeouts that would let Gatekeeper give up before signet
answers: Provider.spec.timeout (whole seconds, at least 1) below the
validating webhook timeout; verification.deadline below the Provider timeout;
verification.mutateDeadline below the mutating webhook timeout (and the
Provider timeout).
*/}}
{{- define "signet.checkTimeouts" -}}
{{- $g := .Values.gatekeeper -}}
{{- $t := int (include "signet.wholeSeconds" (list "gatekeeper.providerTimeoutSeconds" $g.providerTimeoutSeconds)) -}}
{{- $webhook := int (include "signet.wholeSeconds" (list "gatekeeper.webhookTimeoutSeconds" $g.webhookTimeoutSeconds)) -}}
{{- $mutating := int (include "signet.wholeSeconds" (list "gatekeeper.mutatingWebhookTimeoutSeconds" $g.mutatingWebhookTimeoutSeconds)) -}}
{{- if lt $t 1 -}}
{{- fail "gatekeeper.providerTimeoutSeconds must be at least 1 (0 makes every call fail)" -}}
{{- end -}}
{{- if ge $t $webhook -}}
{{- fail (printf "gatekeeper.providerTimeoutSeconds (%d) must be below gatekeeper.webhookTimeoutSeconds (%d)" $t $webhook) -}}
{{- end -}}
{{- if lt $mutating 1 -}}
{{- fail "gatekeeper.mutatingWebhookTimeoutSeconds must be at least 1" -}}
{{- end -}}
{{- $deadline := int64 (include "signet.durationMs" (list "verification.deadline" .Values.verification.deadline)) -}}
{{- if lt $deadline 1 -}}
{{- fail "verification.deadline must be positive" -}}
{{- end -}}
{{- if ge $deadline (mul $t 1000) -}}
{{- fail (printf "verification.deadline (%v) must be below the Provider timeout gatekeeper.providerTimeoutSeconds (%ds): otherwise Gatekeeper gives up first and denies the whole object with \"context deadline exceeded\", signed images included" .Values.verification.deadline $t) -}}
{{- end -}}
{{- $mutate := int64 (include "signet.durationMs" (list "verification.mutateDeadline" .Values.verification.mutateDeadline)) -}}
{{- if lt $mutate 1 -}}
{{- fail "verification.mutateDeadline must be positive" -}}
{{- end -}}
{{- $mutateLimit := mul (min $mutating $t) 1000 -}}
{{- if ge $mutate $mutateLimit -}}
{{- fail (printf "verification.mutateDeadline (%v) must be below gatekeeper.mutatingWebhookTimeoutSeconds (%ds) and gatekeeper.providerTimeoutSeconds (%ds): otherwise the API server gives up on Gatekeeper's mutating webhook first and applies its failurePolicy" .Values.verification.mutateDeadline $mutating $t) -}}
{{- end -}}
{{- $refresh := int64 (include "signet.durationMs" (list "verification.refreshAhead" .Values.verification.refreshAhead)) -}}
{{- $ttl := int64 (include "signet.durationMs" (list "verification.cacheTTL" .Values.verification.cacheTTL)) -}}
{{- if and (gt $refresh 0) (ge $refresh $ttl) -}}
{{- fail (printf "verification.refreshAhead (%v) must be below verification.cacheTTL (%v), or 0s to turn it off" .Values.verification.refreshAhead .Values.verification.cacheTTL) -}}
{{- end -}}
{{- $grace := int64 (include "signet.durationMs" (list "verification.lastKnownGoodGrace" .Values.verification.lastKnownGoodGrace)) -}}
{{- if lt $grace 0 -}}
{{- fail "verification.lastKnownGoodGrace must not be negative (0s = off)" -}}
{{- end -}}
{{- end -}}

{{/*
"true" when a label selector has matchLabels or matchExpressions, else "": an
empty selector in a NetworkPolicy peer selects every namespace.
*/}}
{{- define "signet.selectsSomething" -}}
{{- $selector := . | default dict -}}
{{- if or (dig "matchLabels" dict $selector) (dig "matchExpressions" list $selector) -}}
true
{{- end -}}
{{- end -}}
