{{/*
The objects keep the names of manifests/ (eventworker-operator, ...): the
Lease name is fixed in the operator, and the chart is installed once per
cluster (the CRD and the ClusterRole are cluster-wide).
*/}}
{{- define "eventworker.name" -}}eventworker-operator{{- end -}}

{{/* Labels of every object: manifests/' two, then Helm's, then commonLabels. */}}
{{- define "eventworker.labels" -}}
app.kubernetes.io/name: eventworker-operator
app.kubernetes.io/part-of: eventworker
{{ include "eventworker.helmLabels" . }}
{{- end -}}

{{/* Helm's labels and commonLabels (the CRD's only labels, as crds/ has none). */}}
{{- define "eventworker.helmLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* metadata.labels and, when set, metadata.annotations (indented by the caller). */}}
{{- define "eventworker.metadata" -}}
labels:
  {{- include "eventworker.labels" . | nindent 2 }}
{{- with .Values.commonAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "eventworker.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "eventworker.runtimeImage" -}}
{{ .Values.runtimeImage.repository }}:{{ .Values.runtimeImage.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* Whether the Prometheus Operator's API is served. */}}
{{- define "eventworker.monitoringApi" -}}
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}true{{ end -}}
{{- end -}}
