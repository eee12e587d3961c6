{{/* Chart name, overridable. */}}
{{- define "tracking-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; 63 characters is the DNS label limit of Service names. */}}
{{- define "tracking-gateway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* fullname is cut to 57 characters so that "-admin" keeps the Service name within 63. */}}
{{- define "tracking-gateway.adminServiceName" -}}
{{- printf "%s-admin" (include "tracking-gateway.fullname" . | trunc 57 | trimSuffix "-") }}
{{- end }}

{{- define "tracking-gateway.headlessServiceName" -}}
{{- printf "%s-headless" (include "tracking-gateway.fullname" . | trunc 54 | trimSuffix "-") }}
{{- end }}

{{- define "tracking-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tracking-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tracking-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of everything the release owns, without the pod selector ones. */}}
{{- define "tracking-gateway.commonLabels" -}}
helm.sh/chart: {{ include "tracking-gateway.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "tracking-gateway.labels" -}}
{{ include "tracking-gateway.commonLabels" . }}
{{ include "tracking-gateway.selectorLabels" . }}
{{- end }}

{{- define "tracking-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tracking-gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "tracking-gateway.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Paths inside the container. Fixed rather than values: the env vars below point at them,
and the image declares the data directory as its writable volume.
*/}}
{{- define "tracking-gateway.configDir" -}}/etc/tracking-gateway/config{{- end }}
{{- define "tracking-gateway.configFile" -}}/etc/tracking-gateway/config/config.yaml{{- end }}
{{- define "tracking-gateway.topicsDir" -}}/etc/tracking-gateway/topics{{- end }}
{{- define "tracking-gateway.keysDir" -}}/etc/tracking-gateway/keys{{- end }}
{{- define "tracking-gateway.dataDir" -}}/var/lib/tracking-gateway{{- end }}
{{- define "tracking-gateway.spoolDir" -}}/var/lib/tracking-gateway/_spool{{- end }}

{{- define "tracking-gateway.topicsConfigMapName" -}}
{{- default (printf "%s-topics" (include "tracking-gateway.fullname" .)) .Values.topics.existingConfigMap }}
{{- end }}

{{/*
Paths of the topic files relative to the topics dir, one per line. A ConfigMap is flat,
so each path is stored under a key with "/" replaced by "__" and mapped back with items.
*/}}
{{- define "tracking-gateway.topicPaths" -}}
{{- if .Values.topics.existingConfigMap }}
{{- range .Values.topics.files }}
{{ . }}
{{- end }}
{{- else }}
{{- range $path, $_ := .Files.Glob "files/topics/**" }}
{{ trimPrefix "files/topics/" $path }}
{{- end }}
{{- end }}
{{- end }}

{{- define "tracking-gateway.topicKey" -}}
{{- replace "/" "__" . }}
{{- end }}

{{- define "tracking-gateway.workloadKind" -}}
{{- if .Values.persistence.enabled }}StatefulSet{{ else }}Deployment{{ end }}
{{- end }}

{{/*
Millicores of a CPU quantity ("2", 2, "1.5", "500m").
*/}}
{{- define "tracking-gateway.millicores" -}}
{{- $q := toString . -}}
{{- if hasSuffix "m" $q -}}
{{- trimSuffix "m" $q | int -}}
{{- else -}}
{{- mulf (float64 $q) 1000 | int -}}
{{- end -}}
{{- end }}

{{/*
Workers per pod (GATEWAY_WORKERS): resources.requests.cpu rounded up, at least 1. The chart
fails when gateway.workers or a CPU limit disagrees with the request.
*/}}
{{- define "tracking-gateway.workers" -}}
{{- $request := .Values.resources.requests.cpu | default "1" -}}
{{- $milli := include "tracking-gateway.millicores" $request | int -}}
{{- $workers := max 1 (div (add $milli 999) 1000) | int -}}
{{- if and .Values.gateway.workers (ne (int .Values.gateway.workers) $workers) -}}
{{- fail (printf "gateway.workers (%d) must be resources.requests.cpu (%v) rounded up (%d): one CPU requested per worker, so that the HPA's utilisation measures the workers" (int .Values.gateway.workers) $request $workers) -}}
{{- end -}}
{{- with (.Values.resources.limits | default dict).cpu -}}
{{- if lt (include "tracking-gateway.millicores" . | int) $milli -}}
{{- fail (printf "resources.limits.cpu (%v) must be at least resources.requests.cpu (%v): the workers would be throttled below the CPU they request" . $request) -}}
{{- end -}}
{{- end -}}
{{- $workers -}}
{{- end }}
