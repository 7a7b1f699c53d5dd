{{/* Chart name, overridable with nameOverride. */}}
{{- define "nodemeta.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Resource-name prefix. The release name alone when it already contains the chart name
(`helm install nodemeta charts/nodemeta` gives nodemeta-controller, not nodemeta-nodemeta-controller).
Truncated to 47 characters so that the longest suffix ("-leader-election") still fits in 63.
*/}}
{{- define "nodemeta.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 47 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 47 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 47 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "nodemeta.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "nodemeta.labels" -}}
helm.sh/chart: {{ include "nodemeta.chart" . }}
app.kubernetes.io/name: {{ include "nodemeta.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: nodemeta
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component: (dict "ctx" $ "component" "controller"). */}}
{{- define "nodemeta.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nodemeta.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* All labels of one component's resources: (dict "ctx" $ "component" "agent"). */}}
{{- define "nodemeta.componentLabels" -}}
{{ include "nodemeta.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "nodemeta.controller.fullname" -}}
{{- printf "%s-controller" (include "nodemeta.fullname" .) }}
{{- end }}

{{- define "nodemeta.agent.fullname" -}}
{{- printf "%s-agent" (include "nodemeta.fullname" .) }}
{{- end }}

{{- define "nodemeta.cleanup.fullname" -}}
{{- printf "%s-cleanup" (include "nodemeta.fullname" .) }}
{{- end }}

{{- define "nodemeta.controller.serviceAccountName" -}}
{{- if .Values.controller.serviceAccount.create }}
{{- default (include "nodemeta.controller.fullname" .) .Values.controller.serviceAccount.name }}
{{- else }}
{{- required "controller.serviceAccount.name is required when controller.serviceAccount.create is false" .Values.controller.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "nodemeta.agent.serviceAccountName" -}}
{{- if .Values.agent.serviceAccount.create }}
{{- default (include "nodemeta.agent.fullname" .) .Values.agent.serviceAccount.name }}
{{- else }}
{{- required "agent.serviceAccount.name is required when agent.serviceAccount.create is false" .Values.agent.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference; a digest wins over the tag. */}}
{{- define "nodemeta.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "nodemeta.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Where the ConfigMap is mounted: a directory, never a subPath (subPath mounts miss updates). */}}
{{- define "nodemeta.configDir" -}}/etc/nodemeta{{- end }}

{{- /*
Where each notification sink's Secret key is mounted: <dir>/<sink name>/url (a directory of its own,
not a subPath, so that a rotated Secret reaches the controller without a restart).
*/}}
{{- define "nodemeta.notificationsDir" -}}/etc/nodemeta-notifications{{- end }}

{{- /*
The controller's configuration: .Values.config, with controller.notifications rendered into
notifications.sinks (after any sinks written in config). A sink's URL is read from its mounted
Secret key: the ConfigMap names the file, never the URL.
*/}}
{{- define "nodemeta.controllerConfig" -}}
{{- $config := deepCopy .Values.config }}
{{- with .Values.controller.notifications }}
{{- $notifications := deepCopy (get $config "notifications" | default (dict)) }}
{{- $sinks := get $notifications "sinks" | default (list) }}
{{- $names := dict }}
{{- range $sinks }}{{- $_ := set $names .name true }}{{- end }}
{{- range . }}
{{- if hasKey $names .name }}
{{- fail (printf "controller.notifications: the sink name %q is used twice (names are unique, across config.notifications.sinks too)" .name) }}
{{- end }}
{{- $_ := set $names .name true }}
{{- $sink := dict "name" .name "format" .format "urlFrom" (dict "file" (printf "%s/%s/url" (include "nodemeta.notificationsDir" $) .name)) }}
{{- with .transitions }}{{- $_ := set $sink "transitions" . }}{{- end }}
{{- with .timeout }}{{- $_ := set $sink "timeout" . }}{{- end }}
{{- with .maxAttempts }}{{- $_ := set $sink "maxAttempts" . }}{{- end }}
{{- with .queueSize }}{{- $_ := set $sink "queueSize" . }}{{- end }}
{{- $sinks = append $sinks $sink }}
{{- end }}
{{- $_ := set $notifications "sinks" $sinks }}
{{- $_ := set $config "notifications" $notifications }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{- /*
"true" when a rule of config.policy (an event type, or a provider's override of one) says
`atDeadline: Delete`: only then may the controller delete pods (rbac-controller.yaml).
*/ -}}
{{- define "nodemeta.deletesAtDeadline" -}}
{{- $policy := (.Values.config | default dict).policy | default dict }}
{{- $deletes := false }}
{{- range $type, $rule := $policy }}
{{- if and (ne $type "providers") (kindIs "map" $rule) (eq (toString (get $rule "atDeadline")) "Delete") }}{{- $deletes = true }}{{- end }}
{{- end }}
{{- range $provider, $overrides := ($policy.providers | default dict) }}
{{- range $type, $rule := ($overrides | default dict) }}
{{- if and (kindIs "map" $rule) (eq (toString (get $rule "atDeadline")) "Delete") }}{{- $deletes = true }}{{- end }}
{{- end }}
{{- end }}
{{- $deletes }}
{{- end }}
