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

{{- define "signet.mtlsSecretName" -}}
{{- if .Values.mtls.caCert -}}
{{ include "signet.fullname" . }}-gatekeeper-ca
{{- else -}}
{{ .Values.mtls.caSecretName }}
{{- end -}}
{{- end -}}

{{/* Fail early on timeouts that would let Gatekeeper's webhook time out first. */}}
{{- define "signet.checkTimeouts" -}}
{{- $t := int .Values.gatekeeper.providerTimeoutSeconds -}}
{{- if lt $t 1 -}}
{{- fail "gatekeeper.providerTimeoutSeconds must be at least 1 (0 makes every call fail)" -}}
{{- end -}}
{{- if ge $t (int .Values.gatekeeper.webhookTimeoutSeconds) -}}
{{- fail "gatekeeper.providerTimeoutSeconds must be below gatekeeper.webhookTimeoutSeconds" -}}
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
