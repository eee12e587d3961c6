{{/*
Pod template shared by the Deployment (emptyDir spool) and the StatefulSet (PVC spool).
*/}}
{{- define "tracking-gateway.podTemplate" -}}
{{- $grace := div .Values.gateway.shutdownGraceMs 1000 | int }}
{{- if le (int .Values.terminationGracePeriodSeconds) (add .Values.gateway.preStopSleepSeconds $grace | int) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed gateway.preStopSleepSeconds (%d) + gateway.shutdownGraceMs in seconds (%d), or the kubelet kills the gateway before it has flushed and spooled" (int .Values.terminationGracePeriodSeconds) (int .Values.gateway.preStopSleepSeconds) $grace) }}
{{- end }}
metadata:
  labels:
    {{- include "tracking-gateway.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # Config and topics are read at start: a change must roll the pods.
    checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
    checksum/topics: {{ include (print .Template.BasePath "/topics-configmap.yaml") . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "tracking-gateway.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  containers:
    - name: gateway
      image: {{ include "tracking-gateway.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args: ["serve"]
      ports:
        - name: http
          containerPort: {{ .Values.ports.http }}
          protocol: TCP
        - name: admin
          containerPort: {{ .Values.ports.admin }}
          protocol: TCP
      env:
        - name: GATEWAY_CONFIG
          value: {{ include "tracking-gateway.configFile" . }}
        - name: GATEWAY_TOPICS_DIR
          value: {{ include "tracking-gateway.topicsDir" . }}
        - name: GATEWAY_DATA_DIR
          value: {{ include "tracking-gateway.dataDir" . }}
        - name: GATEWAY_SPOOL_DIR
          value: {{ include "tracking-gateway.spoolDir" . }}
        - name: GATEWAY_PORT
          value: {{ .Values.ports.http | quote }}
        - name: GATEWAY_ADMIN_PORT
          value: {{ .Values.ports.admin | quote }}
        - name: GATEWAY_LOG_LEVEL
          value: {{ .Values.gateway.logLevel | quote }}
        # Two glibc malloc arenas: memory freed after a burst of large bodies goes back to the
        # system (docs/memory.md); the image sets it too, for images built otherwise.
        - name: MALLOC_ARENA_MAX
          value: "2"
        - name: GATEWAY_TRUST_PROXY
          value: {{ .Values.gateway.trustProxy | quote }}
        - name: GATEWAY_WORKERS
          value: {{ include "tracking-gateway.workers" . | quote }}
        - name: GATEWAY_BUFFER_MAX_BYTES
          value: {{ .Values.gateway.bufferMaxBytes | int64 | quote }}
        - name: GATEWAY_SHUTDOWN_GRACE_MS
          value: {{ .Values.gateway.shutdownGraceMs | int64 | quote }}
        {{- if .Values.serviceKeys.existingSecret }}
        - name: GATEWAY_KEYS_FILE
          value: {{ printf "%s/%s" (include "tracking-gateway.keysDir" .) .Values.serviceKeys.keysKey | quote }}
        {{- end }}
        {{- with .Values.kafka }}
        {{- if .brokers }}
        - name: KAFKA_BROKERS
          value: {{ join "," .brokers | quote }}
        - name: KAFKA_CLIENT_ID
          value: {{ .clientId | quote }}
        - name: KAFKA_TLS
          value: {{ .tls | quote }}
        {{- if .sasl.mechanism }}
        - name: KAFKA_SASL_MECHANISM
          value: {{ .sasl.mechanism | quote }}
        - name: KAFKA_SASL_USERNAME
          valueFrom:
            secretKeyRef:
              name: {{ required "kafka.sasl.existingSecret is required when kafka.sasl.mechanism is set" .sasl.existingSecret }}
              key: {{ .sasl.usernameKey }}
        - name: KAFKA_SASL_PASSWORD
          valueFrom:
            secretKeyRef:
              name: {{ .sasl.existingSecret }}
              key: {{ .sasl.passwordKey }}
        {{- end }}
        {{- end }}
        {{- end }}
        {{- with .Values.kinesis }}
        {{- if .streams }}
        - name: KINESIS_STREAMS
          value: {{ join "," .streams | quote }}
        {{- end }}
        {{- if .endpointUrl }}
        - name: AWS_ENDPOINT_URL_KINESIS
          value: {{ .endpointUrl | quote }}
        {{- end }}
        {{- end }}
        {{- with .Values.firehose }}
        {{- if .streams }}
        - name: FIREHOSE_STREAMS
          value: {{ join "," .streams | quote }}
        {{- end }}
        {{- if .endpointUrl }}
        - name: AWS_ENDPOINT_URL_FIREHOSE
          value: {{ .endpointUrl | quote }}
        {{- end }}
        {{- end }}
        {{- with .Values.fileS3 }}
        {{- if .bucket }}
        - name: FILE_S3_BUCKET
          value: {{ .bucket | quote }}
        - name: FILE_S3_PREFIX
          value: {{ .prefix | quote }}
        - name: FILE_S3_GRACE_SECONDS
          value: {{ .graceSeconds | int64 | quote }}
        - name: FILE_S3_KEEP_MINUTES
          value: {{ .keepMinutes | int64 | quote }}
        - name: FILE_S3_MAX_PENDING_BYTES
          value: {{ .maxPendingBytes | int64 | quote }}
        {{- if .endpointUrl }}
        - name: AWS_ENDPOINT_URL_S3
          value: {{ .endpointUrl | quote }}
        {{- end }}
        {{- end }}
        {{- end }}
        {{- with .Values.aws }}
        {{- if .region }}
        - name: AWS_REGION
          value: {{ .region | quote }}
        {{- end }}
        {{- if .credentials.existingSecret }}
        - name: AWS_ACCESS_KEY_ID
          valueFrom:
            secretKeyRef:
              name: {{ .credentials.existingSecret }}
              key: {{ .credentials.accessKeyIdKey }}
        - name: AWS_SECRET_ACCESS_KEY
          valueFrom:
            secretKeyRef:
              name: {{ .credentials.existingSecret }}
              key: {{ .credentials.secretAccessKeyKey }}
        {{- end }}
        {{- end }}
        {{- with .Values.gateway.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      # Startup and liveness ask only "is the process alive": a gateway whose destinations
      # are all down must stay up and spool, not be restarted.
      startupProbe:
        httpGet:
          path: /healthz
          port: admin
        {{- toYaml .Values.probes.startup | nindent 8 }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: admin
        {{- toYaml .Values.probes.liveness | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: admin
        {{- toYaml .Values.probes.readiness | nindent 8 }}
      lifecycle:
        # Endpoint removal and SIGTERM happen at the same time; sleeping first lets
        # kube-proxy and load balancers stop routing here while the gateway still serves.
        preStop:
          exec:
            command: ["sleep", "{{ .Values.gateway.preStopSleepSeconds }}"]
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: {{ include "tracking-gateway.configDir" . }}
          readOnly: true
        - name: topics
          mountPath: {{ include "tracking-gateway.topicsDir" . }}
          readOnly: true
        - name: data
          mountPath: {{ include "tracking-gateway.dataDir" . }}
        - name: tmp
          mountPath: /tmp
        {{- if .Values.serviceKeys.existingSecret }}
        # A whole-volume mount (no subPath): only then does the kubelet update the file when
        # the Secret changes, which is how keys rotate without a restart.
        - name: service-keys
          mountPath: {{ include "tracking-gateway.keysDir" . }}
          readOnly: true
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "tracking-gateway.fullname" . }}-config
    - name: topics
      configMap:
        name: {{ include "tracking-gateway.topicsConfigMapName" . }}
        items:
          {{- range (include "tracking-gateway.topicPaths" . | trim | splitList "\n") }}
          - key: {{ include "tracking-gateway.topicKey" . }}
            path: {{ . }}
          {{- end }}
    {{- if not .Values.persistence.enabled }}
    # emptyDir outlives container restarts, so a crashed gateway replays its spool;
    # it is deleted with the pod, which is why the gateway spools only what it cannot flush.
    - name: data
      emptyDir:
        sizeLimit: {{ .Values.persistence.emptyDir.sizeLimit }}
    {{- end }}
    {{- if .Values.serviceKeys.existingSecret }}
    - name: service-keys
      secret:
        secretName: {{ .Values.serviceKeys.existingSecret }}
        items:
          - key: {{ .Values.serviceKeys.keysKey }}
            path: {{ .Values.serviceKeys.keysKey }}
    {{- end }}
    # The root filesystem is read-only; Node and its libraries may still need a scratch dir.
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  topologySpreadConstraints:
    {{- if .Values.topologySpreadConstraints }}
    {{- toYaml .Values.topologySpreadConstraints | nindent 4 }}
    {{- else }}
    {{- range list "kubernetes.io/hostname" "topology.kubernetes.io/zone" }}
    - maxSkew: 1
      topologyKey: {{ . }}
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "tracking-gateway.selectorLabels" $ | nindent 10 }}
    {{- end }}
    {{- end }}
{{- end }}
