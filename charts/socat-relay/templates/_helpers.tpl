{{/*
The chart renders the project's own manifests (files/manifests -> manifests/ of the repository; one
source of truth, so the chart and `kubectl apply -k` cannot drift): each file's text with the
namespace and the image replaced, split into objects, adjusted by the values, labeled for Helm.
*/}}

{{/* <repository>:<tag>[@digest] */}}
{{- define "socat-relay.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString -}}
{{- if not .Values.image.repository }}{{ fail "image.repository must be set" }}{{ end -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- with .Values.image.digest }}{{ printf "@%s" . }}{{ end -}}
{{- end -}}

{{/* (list $ "controller/rbac.yaml") → the file's text for this release */}}
{{- define "socat-relay.text" -}}
{{- $root := index . 0 -}}
{{- $file := printf "files/manifests/%s" (index . 1) -}}
{{- $text := $root.Files.Get $file -}}
{{- if not $text }}{{ fail (printf "%s is missing from the chart (files/manifests must point at the repository's manifests/)" $file) }}{{ end -}}
{{- $text = regexReplaceAll "ghcr\\.io/socat-relay/socat-relay:[0-9A-Za-z_.-]+" $text (include "socat-relay.image" $root) -}}
{{- $text = replace "socat-relay-system" $root.Release.Namespace $text -}}
{{- $text -}}
{{- end -}}

{{/* (list $ "controller/rbac.yaml") → a YAML list of the file's objects (comments and empty documents dropped) */}}
{{- define "socat-relay.objects" -}}
{{- $root := index . 0 -}}
{{- $out := list -}}
{{- range $doc := splitList "\n---\n" (include "socat-relay.text" .) -}}
{{- $o := fromYaml $doc -}}
{{- if hasKey $o "Error" }}{{ fail (printf "%s: %s" (index $ 1) $o.Error) }}{{ end -}}
{{- if $o }}{{ $out = append $out $o }}{{ end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* $ → the labels the chart adds to every object (and to the pods of its DaemonSets) */}}
{{- define "socat-relay.labels" -}}
{{- $labels := dict -}}
{{- $_ := set $labels "app.kubernetes.io/instance" .Release.Name -}}
{{- $_ := set $labels "app.kubernetes.io/managed-by" .Release.Service -}}
{{- $_ := set $labels "app.kubernetes.io/part-of" "socat-relay" -}}
{{- $_ := set $labels "app.kubernetes.io/version" (.Chart.AppVersion | toString | replace "+" "_" | trunc 63 | trimSuffix "-" | trimSuffix "." | trimSuffix "_") -}}
{{- $_ := set $labels "helm.sh/chart" (printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-") -}}
{{- toYaml $labels -}}
{{- end -}}

{{/* (list $ object) → the object with the release's labels, as one YAML document */}}
{{- define "socat-relay.emit" -}}
{{- $root := index . 0 -}}
{{- $o := index . 1 -}}
{{- $_ := set $o.metadata "labels" (merge ($o.metadata.labels | default dict) (include "socat-relay.labels" $root | fromYaml)) }}
---
{{ toYaml $o }}
{{- end -}}

{{/* (list $ daemonset podAnnotations maxUnavailable) → the release's labels and the annotations on its
     pods, and the rollout's maxUnavailable. The selector is left alone (it cannot change in place), and
     so is helm.sh/chart on the pods: a chart-only change must not restart every node's agent (its
     relays pause while it restarts); a new appVersion changes the image, so its label may. */}}
{{- define "socat-relay.daemonset" -}}
{{- $root := index . 0 -}}{{- $ds := index . 1 -}}{{- $annotations := index . 2 -}}{{- $maxUnavailable := index . 3 -}}
{{- $meta := $ds.spec.template.metadata -}}
{{- $_ := set $meta "labels" (merge ($meta.labels | default dict) (omit (include "socat-relay.labels" $root | fromYaml) "helm.sh/chart")) -}}
{{- with $annotations }}{{ $_ := set $meta "annotations" (merge ($meta.annotations | default dict) .) }}{{ end -}}
{{- $_ := set $ds.spec "updateStrategy" (dict "type" "RollingUpdate" "rollingUpdate" (dict "maxUnavailable" $maxUnavailable)) -}}
{{- end -}}

{{/* (list $ container key value) sets an env var's value, adding it when absent */}}
{{- define "socat-relay.setEnv" -}}
{{- $c := index . 1 -}}{{- $name := index . 2 -}}{{- $value := index . 3 -}}
{{- $found := false -}}
{{- range $e := $c.env -}}
{{- if eq $e.name $name }}{{ $_ := set $e "value" $value }}{{ $found = true }}{{ end -}}
{{- end -}}
{{- if not $found }}{{ $_ := set $c "env" (append ($c.env | default list) (dict "name" $name "value" $value)) }}{{ end -}}
{{- end -}}

{{/* $ → kubeletDir without a trailing slash */}}
{{- define "socat-relay.kubeletDir" -}}
{{- .Values.kubeletDir | trimSuffix "/" -}}
{{- end -}}
