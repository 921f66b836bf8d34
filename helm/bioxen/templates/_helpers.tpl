{{/*
Prefix of every object name: fullnameOverride, else the release name (the naming contract: R-static,
R-dynamic, R-static-api, R-dynamic-api). Kubernetes names are DNS labels of at most 63 characters and the
longest suffix is "-dynamic-api" (12), so the prefix is cut at 51 characters (and never ends in "-").
*/}}
{{- define "bioxen.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 51 | trimSuffix "-" -}}
{{- end -}}

{{- define "bioxen.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "bioxen.labels" -}}
helm.sh/chart: {{ include "bioxen.chart" . }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: bioxen
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component; call with (dict "root" $ "component" "static"). */}}
{{- define "bioxen.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Label of the pods the NetworkPolicy admits as clients of the services (VM pods, the helm test pod). */}}
{{- define "bioxen.clientLabel" -}}
bioxen.io/client: "true"
{{- end -}}

{{/* image reference repo:tag, or repo@digest when a digest is given; call with
(dict "root" $ "image" .Values.static.image). */}}
{{- define "bioxen.image" -}}
{{- $repo := .image.repository -}}
{{- with .root.Values.imageRegistry }}{{ $repo = printf "%s/%s" (trimSuffix "/" .) $repo }}{{ end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $repo .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
Engine processes of a service: the explicit value, else the CPU request rounded up ("500m" -> 1,
"1" -> 1, "1500m" -> 2, "2" -> 2), at least 1. Call with the service's values (.Values.static).
*/}}
{{- define "bioxen.engines" -}}
{{- if gt (int .engines) 0 -}}
{{- .engines -}}
{{- else -}}
{{- $cpu := toString (dig "requests" "cpu" "1" .resources) -}}
{{- $milli := 0 -}}
{{- if hasSuffix "m" $cpu -}}
{{- $milli = int (trimSuffix "m" $cpu) -}}
{{- else -}}
{{- $milli = int (mulf (float64 $cpu) 1000) -}}
{{- end -}}
{{- max 1 (div (add $milli 999) 1000) -}}
{{- end -}}
{{- end -}}

{{/* Name of the Secret holding the API token. */}}
{{- define "bioxen.authSecret" -}}
{{- default (printf "%s-api-token" (include "bioxen.fullname" .)) .Values.auth.existingSecret -}}
{{- end -}}

{{/* Where the token file is mounted (services and clients read BIOXEN_API_TOKEN_FILE once at start). */}}
{{- define "bioxen.authDir" -}}/var/run/secrets/bioxen{{- end -}}

{{/* BIOXEN_API_TOKEN_FILE, when auth is on: the token is a mounted file, never an environment value. */}}
{{- define "bioxen.authEnv" -}}
{{- if .Values.auth.enabled }}
- name: BIOXEN_API_TOKEN_FILE
  value: {{ include "bioxen.authDir" . }}/token
{{- end }}
{{- end -}}

{{/* The read-only mount of the token Secret, when auth is on. */}}
{{- define "bioxen.authVolumeMount" -}}
{{- if .Values.auth.enabled }}
- name: api-token
  mountPath: {{ include "bioxen.authDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* The token Secret as a volume holding one file, "token", when auth is on. */}}
{{- define "bioxen.authVolume" -}}
{{- if .Values.auth.enabled }}
- name: api-token
  secret:
    secretName: {{ include "bioxen.authSecret" . }}
    defaultMode: 0440
    items:
      - key: {{ .Values.auth.secretKey }}
        path: token
{{- end }}
{{- end -}}

{{/* Restricted pod and container security contexts. */}}
{{- define "bioxen.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.runAsUser }}
runAsGroup: {{ .Values.runAsUser }}
fsGroup: {{ .Values.runAsUser }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "bioxen.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.runAsUser }}
runAsGroup: {{ .Values.runAsUser }}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Fails rendering with a clear message when auth is on without a token source. */}}
{{- define "bioxen.checkAuth" -}}
{{- if and .Values.auth.enabled (not .Values.auth.existingSecret) (not .Values.auth.token) -}}
{{- fail "auth.enabled needs auth.token (or auth.existingSecret naming a Secret with the token)" -}}
{{- end -}}
{{- end -}}

{{/* The job store the services and workers share: jobs.redisUrl, else the chart's own Redis. */}}
{{- define "bioxen.redisUrl" -}}
{{- default (printf "redis://%s-redis:6379/0" (include "bioxen.fullname" .)) .Values.jobs.redisUrl -}}
{{- end -}}

{{/* BIOXEN_REDIS_URL and the job settings, when jobs are on (services and workers). */}}
{{- define "bioxen.jobsEnv" -}}
{{- if .Values.jobs.enabled }}
- name: BIOXEN_REDIS_URL
  value: {{ include "bioxen.redisUrl" . | quote }}
- name: BIOXEN_JOB_RESULT_TTL_SECONDS
  value: {{ .Values.jobs.resultTtlSeconds | quote }}
{{- end }}
{{- end -}}
