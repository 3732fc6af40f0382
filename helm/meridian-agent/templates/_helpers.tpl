{{/*
Names, labels, image references and the checks that refuse contradictory values.
Every template includes "meridian-agent.validate" (through the labels), so a bad value set fails
`helm template`/`helm install` whichever template is rendered first.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "meridian-agent.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of every resource: fullnameOverride, else the release name when it already contains the
chart name, else <release>-<chart>. 63 characters at most (a label value and a DNS label).
*/}}
{{- define "meridian-agent.fullname" -}}
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

{{/* chart-version for the helm.sh/chart label. */}}
{{- define "meridian-agent.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select the agent pods. Never change them: a Deployment's selector is immutable. */}}
{{- define "meridian-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "meridian-agent.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: agent
{{- end }}

{{/* Labels on every object the chart renders. Runs the value checks first. */}}
{{- define "meridian-agent.labels" -}}
{{- include "meridian-agent.validate" . -}}
{{ include "meridian-agent.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: meridian
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "meridian-agent.chart" . }}
{{- end }}

{{/* The ServiceAccount the agent runs as (one per release). */}}
{{- define "meridian-agent.serviceAccountName" -}}
{{- include "meridian-agent.fullname" . }}
{{- end }}

{{/* The ClusterRoles the agent binds in each workspace namespace (workspace-clusterroles.yaml). */}}
{{- define "meridian-agent.workspaceAgentClusterRole" -}}
{{- include "meridian-agent.fullname" . }}-workspace-agent
{{- end }}
{{- define "meridian-agent.flinkClusterRole" -}}
{{- include "meridian-agent.fullname" . }}-flink
{{- end }}
{{- define "meridian-agent.drainClusterRole" -}}
{{- include "meridian-agent.fullname" . }}-drain
{{- end }}

{{/* The Lease the agent replicas elect their leader with (in the release namespace). */}}
{{- define "meridian-agent.leaseName" -}}
{{- include "meridian-agent.fullname" . }}
{{- end }}

{{/*
An image reference from {repository, tag, digest} and the default tag (the appVersion):
repository:tag, or repository:tag@digest when a digest is given (the runtime pulls by digest; the
tag stays for humans).
Usage: include "meridian-agent.image" (list .Values.images.agent .Chart.AppVersion)
*/}}
{{- define "meridian-agent.image" -}}
{{- $image := index . 0 }}
{{- $tag := default (index . 1) $image.tag }}
{{- if $image.digest }}
{{- printf "%s:%s@%s" $image.repository $tag $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository $tag }}
{{- end }}
{{- end }}

{{/* Name of the Secret holding the agent's token: the existing one, or the one the chart creates. */}}
{{- define "meridian-agent.tokenSecretName" -}}
{{- if .Values.existingSecret.name }}
{{- .Values.existingSecret.name }}
{{- else }}
{{- printf "%s-token" (include "meridian-agent.fullname" .) }}
{{- end }}
{{- end }}

{{/*
The Secret in the release namespace where the agent keeps the short-lived credential it gets for its
install token and renews (created and written by the agent, not by the chart, so that no upgrade, sync
or uninstall of the chart's objects can wipe it while the install token is used up).
*/}}
{{- define "meridian-agent.credentialSecretName" -}}
{{- printf "%s-credential" (include "meridian-agent.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Key of the token in that Secret. */}}
{{- define "meridian-agent.tokenSecretKey" -}}
{{- if .Values.existingSecret.name }}
{{- .Values.existingSecret.key }}
{{- else }}
{{- "token" }}
{{- end }}
{{- end }}

{{/*
Name of the Secret holding the proxy URL: the existing one, or the one the chart creates from
proxy.httpsProxy. Empty when there is no proxy.
*/}}
{{- define "meridian-agent.proxySecretName" -}}
{{- if .Values.proxy.existingSecret.name }}
{{- .Values.proxy.existingSecret.name }}
{{- else if .Values.proxy.httpsProxy }}
{{- printf "%s-proxy" (include "meridian-agent.fullname" .) }}
{{- end }}
{{- end }}

{{/* Key of the proxy URL in that Secret. */}}
{{- define "meridian-agent.proxySecretKey" -}}
{{- if .Values.proxy.existingSecret.name }}
{{- .Values.proxy.existingSecret.key }}
{{- else }}
{{- "httpsProxy" }}
{{- end }}
{{- end }}

{{/* true when any custom CA source is set. */}}
{{- define "meridian-agent.hasCustomCA" -}}
{{- with .Values.customCA }}
{{- if or .pem .existingConfigMap.name .existingSecret.name }}true{{ end }}
{{- end }}
{{- end }}

{{/* The projected-volume source of the CA bundle, always mounted as ca.crt. */}}
{{- define "meridian-agent.caVolumeSource" -}}
{{- with .Values.customCA }}
{{- if .existingSecret.name }}
- secret:
    name: {{ .existingSecret.name }}
    items:
      - key: {{ .existingSecret.key }}
        path: ca.crt
{{- else if .existingConfigMap.name }}
- configMap:
    name: {{ .existingConfigMap.name }}
    items:
      - key: {{ .existingConfigMap.key }}
        path: ca.crt
{{- else }}
- configMap:
    name: {{ printf "%s-ca" (include "meridian-agent.fullname" $) }}
    items:
      - key: ca.crt
        path: ca.crt
{{- end }}
{{- end }}
{{- end }}

{{/* NO_PROXY: the user's list plus the in-cluster names the agent reaches the API server by. */}}
{{- define "meridian-agent.noProxy" -}}
{{- $builtin := list "kubernetes.default.svc" ".svc" ".cluster.local" }}
{{- $user := list }}
{{- range splitList "," .Values.proxy.noProxy }}
{{- if trim . }}{{ $user = append $user (trim .) }}{{ end }}
{{- end }}
{{- concat $user $builtin | uniq | join "," }}
{{- end }}

{{/* A duration string (ms, s, m or h; the schema allows nothing else) in milliseconds. */}}
{{- define "meridian-agent.durationMs" -}}
{{- $d := toString . }}
{{- if hasSuffix "ms" $d }}{{ trimSuffix "ms" $d | int }}
{{- else if hasSuffix "s" $d }}{{ mul (trimSuffix "s" $d | int) 1000 }}
{{- else if hasSuffix "m" $d }}{{ mul (trimSuffix "m" $d | int) 60000 }}
{{- else if hasSuffix "h" $d }}{{ mul (trimSuffix "h" $d | int) 3600000 }}
{{- else }}{{ fail (printf "%q is not a duration: use a whole number with ms, s, m or h (e.g. 15s)" $d) }}
{{- end }}
{{- end }}

{{/*
true when image repository $repo is allowed by the registry list $allowed, with the agents' rules
(workspace-agent/src/flink/image-policy.ts): an empty list or "*" allows everything; an entry matches
the repository itself or a prefix of it at a "/" boundary; Docker Hub short names are normalised
(meridian/ws is docker.io/meridian/ws, flink is docker.io/library/flink).
Usage: include "meridian-agent.imageAllowed" (list $repo $allowed)
*/}}
{{- define "meridian-agent.imageAllowed" -}}
{{- $repo := include "meridian-agent.normaliseRepository" (index . 0) }}
{{- $allowed := index . 1 }}
{{- if or (not $allowed) (has "*" $allowed) }}true{{ end }}
{{- range $allowed }}
{{- $e := include "meridian-agent.normaliseEntry" (trimSuffix "/" .) }}
{{- if or (eq $repo $e) (hasPrefix (printf "%s/" $e) $repo) }}true{{ end }}
{{- end }}
{{- end }}

{{/*
An allowed-registries entry, normalised: its first segment is a registry when it looks like a host
(has "." or ":", or is localhost), even alone ("ghcr.io", "registry.local:5000"); otherwise it is a
Docker Hub path ("meridian" is docker.io/library/meridian, "meridian/x" is docker.io/meridian/x).
*/}}
{{- define "meridian-agent.normaliseEntry" -}}
{{- $first := first (splitList "/" .) }}
{{- if or (contains "." $first) (contains ":" $first) (eq $first "localhost") }}
{{- . }}
{{- else if contains "/" . }}
{{- printf "docker.io/%s" . }}
{{- else }}
{{- printf "docker.io/library/%s" . }}
{{- end }}
{{- end }}

{{/* An image repository, normalised as a container runtime resolves Docker Hub short names. */}}
{{- define "meridian-agent.normaliseRepository" -}}
{{- $parts := splitList "/" . }}
{{- $first := first $parts }}
{{- if and (gt (len $parts) 1) (or (contains "." $first) (contains ":" $first) (eq $first "localhost")) }}
{{- . }}
{{- else if eq (len $parts) 1 }}
{{- printf "docker.io/library/%s" . }}
{{- else }}
{{- printf "docker.io/%s" . }}
{{- end }}
{{- end }}

{{/*
The workspace agents' security contexts as the agent reads them (MERIDIAN_WORKSPACE_AGENT_SECURITY_CONTEXT):
JSON {"pod": workspaceAgent.podSecurityContext, "container": workspaceAgent.securityContext}.
*/}}
{{- define "meridian-agent.workspaceAgentSecurityContext" -}}
{{- dict "pod" .Values.workspaceAgent.podSecurityContext "container" .Values.workspaceAgent.securityContext | toJson }}
{{- end }}

{{/*
Where workspace pods may connect outside their namespace, as the agent reads it (MERIDIAN_WORKSPACE_EGRESS):
the networkPolicy values' DNS, API server and control plane, whether or not the agent's own
NetworkPolicy is enabled (the workspaces' NetworkPolicies are always there).
*/}}
{{- define "meridian-agent.workspaceEgress" -}}
{{- $np := .Values.networkPolicy }}
{{- dict "dns" $np.dns "apiServer" (dict "cidrs" $np.apiServerCIDRs "ports" $np.apiServerPorts) "controlPlane" (dict "cidrs" $np.controlPlaneCIDRs "ports" $np.controlPlanePorts) | toJson }}
{{- end }}

{{/*
Fails when a pod and container securityContext pair cannot run; the agent checks the workspace agents'
pair with the same rules (agent/src/workspace/security-context.ts). A container's field wins over its pod's.
Usage: include "meridian-agent.checkSecurityContexts" (list "podSecurityContext" $pod "securityContext" $container)
*/}}
{{- define "meridian-agent.checkSecurityContexts" -}}
{{- $podName := index . 0 }}{{ $pod := index . 1 }}{{ $containerName := index . 2 }}{{ $container := index . 3 }}
{{- $nonRoot := $pod.runAsNonRoot }}{{ $nonRootFrom := $podName }}
{{- if hasKey $container "runAsNonRoot" }}{{ $nonRoot = $container.runAsNonRoot }}{{ $nonRootFrom = $containerName }}{{ end }}
{{- $user := $pod.runAsUser }}{{ $userFrom := $podName }}
{{- if hasKey $container "runAsUser" }}{{ $user = $container.runAsUser }}{{ $userFrom = $containerName }}{{ end }}
{{- if and (kindIs "bool" $nonRoot) $nonRoot (not (kindIs "invalid" $user)) (eq (int64 $user) 0) }}
{{- fail (printf "%s.runAsNonRoot is true but %s.runAsUser is 0 (root): the kubelet would refuse to start the container; set runAsUser to a non-zero uid, or to null to run as the image's user" $nonRootFrom $userFrom) }}
{{- end }}
{{- if and (eq (toString $container.privileged) "true") (eq (toString $container.allowPrivilegeEscalation) "false") }}
{{- fail (printf "%s.privileged is true but %s.allowPrivilegeEscalation is false: the API server refuses that pair; drop privileged (Meridian needs no privileges)" $containerName $containerName) }}
{{- end }}
{{- end }}

{{/*
Fails the render, naming the values to change, when the value set contradicts itself or lacks what the
agent cannot start without. The schema checks types and spelling; this checks combinations.
*/}}
{{- define "meridian-agent.validate" -}}
{{- $v := .Values }}
{{- if not $v.controlPlane.url }}
{{- fail "controlPlane.url is required: set it to the control plane's base URL (https://...) given to you with the agent id" }}
{{- end }}
{{- if not $v.agentId }}
{{- fail "agentId is required: set it to the agent id the control plane issued for this cluster" }}
{{- end }}
{{- if and $v.token $v.existingSecret.name }}
{{- fail "token and existingSecret.name are both set: set exactly one (existingSecret.name to use a Secret you manage, or token to let the chart create one)" }}
{{- end }}
{{- if not (or $v.token $v.existingSecret.name) }}
{{- fail "neither token nor existingSecret.name is set: the agent needs a token to dial the control plane; set existingSecret.name (a Secret you manage) or token" }}
{{- end }}
{{- if and $v.proxy.httpsProxy $v.proxy.existingSecret.name }}
{{- fail "proxy.httpsProxy and proxy.existingSecret.name are both set: set at most one (existingSecret.name keeps the proxy URL and its password out of Helm's release record)" }}
{{- end }}
{{- $caSources := 0 }}
{{- if $v.customCA.pem }}{{ $caSources = add1 $caSources }}{{ end }}
{{- if $v.customCA.existingConfigMap.name }}{{ $caSources = add1 $caSources }}{{ end }}
{{- if $v.customCA.existingSecret.name }}{{ $caSources = add1 $caSources }}{{ end }}
{{- if gt $caSources 1 }}
{{- fail "customCA: set at most one of customCA.pem, customCA.existingConfigMap.name and customCA.existingSecret.name" }}
{{- end }}
{{- if and (gt (int $v.replicas) 1) (not $v.leaderElection.enabled) }}
{{- fail (printf "replicas is %d but leaderElection.enabled is false: several agents would reconcile the same workspaces at once; enable leader election or set replicas to 1" (int $v.replicas)) }}
{{- end }}
{{- if $v.leaderElection.enabled }}
{{- $lease := include "meridian-agent.durationMs" $v.leaderElection.leaseDuration | int }}
{{- $renew := include "meridian-agent.durationMs" $v.leaderElection.renewDeadline | int }}
{{- $retry := include "meridian-agent.durationMs" $v.leaderElection.retryPeriod | int }}
{{- if ge $renew $lease }}
{{- fail (printf "leaderElection.renewDeadline (%s) must be shorter than leaderElection.leaseDuration (%s), or two agents may both think they lead" $v.leaderElection.renewDeadline $v.leaderElection.leaseDuration) }}
{{- end }}
{{- if ge $retry $renew }}
{{- fail (printf "leaderElection.retryPeriod (%s) must be shorter than leaderElection.renewDeadline (%s), or the leader cannot renew in time" $v.leaderElection.retryPeriod $v.leaderElection.renewDeadline) }}
{{- end }}
{{- end }}
{{- with $v.podDisruptionBudget }}
{{- if and .enabled (not (kindIs "invalid" .minAvailable)) (not (kindIs "invalid" .maxUnavailable)) }}
{{- fail "podDisruptionBudget: set only one of minAvailable and maxUnavailable (set the other to null)" }}
{{- end }}
{{- if and .enabled (gt (int $v.replicas) 1) (not (kindIs "invalid" .minAvailable)) (not (kindIs "string" .minAvailable)) (ge (int .minAvailable) (int $v.replicas)) }}
{{- fail (printf "podDisruptionBudget.minAvailable (%d) must be less than replicas (%d), or no node running an agent could ever be drained" (int .minAvailable) (int $v.replicas)) }}
{{- end }}
{{- end }}
{{- $wsRepo := $v.images.workspaceAgent.repository }}
{{- if not (include "meridian-agent.imageAllowed" (list $wsRepo $v.policy.allowedRegistries.workspaceAgent)) }}
{{- fail (printf "images.workspaceAgent.repository (%s) is not allowed by policy.allowedRegistries.workspaceAgent (%s): the agent would refuse to create any workspace; add its registry to the policy or change the image" $wsRepo (join ", " $v.policy.allowedRegistries.workspaceAgent)) }}
{{- end }}
{{- include "meridian-agent.checkSecurityContexts" (list "podSecurityContext" $v.podSecurityContext "securityContext" $v.securityContext) }}
{{- include "meridian-agent.checkSecurityContexts" (list "workspaceAgent.podSecurityContext" $v.workspaceAgent.podSecurityContext "workspaceAgent.securityContext" $v.workspaceAgent.securityContext) }}
{{- with $v.policy.podSecurity }}
{{- if and (ne .enforce "restricted") (not (trim (.reason | default ""))) }}
{{- fail (printf "policy.podSecurity.enforce is %s but policy.podSecurity.reason is empty: say why workspaces may not run restricted (the reason is kept on every workspace namespace), or set enforce back to restricted" .enforce) }}
{{- end }}
{{- end }}
{{- if and $v.networkPolicy.enabled (not $v.networkPolicy.apiServerCIDRs) }}
{{- fail "networkPolicy.enabled needs networkPolicy.apiServerCIDRs (the addresses of `kubectl get endpoints kubernetes`), or the agent cannot reach the Kubernetes API" }}
{{- end }}
{{- end }}
