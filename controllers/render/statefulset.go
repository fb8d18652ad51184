package render

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/internal/contract"
)

// Paths inside a member pod.
const (
	DataMountPath   = "/var/lib/etcd"
	DataDir         = DataMountPath + "/data"
	ServerTLSDir    = "/etc/quorum/tls/server"
	PeerTLSDir      = "/etc/quorum/tls/peer"
	ClientTLSDir    = "/etc/quorum/tls/client"
	ConfigDir       = "/etc/quorum/config"
	ContainerName   = "etcd"
	dataVolume      = "data"
	configVolume    = "config"
	runAsUser       = 65532
	defaultDataSize = "1Gi"
)

// AnnotationConfigHash on the pod template changes when the options file
// changes, so that members restart with it.
const AnnotationConfigHash = "etcd.quorum.dev/config-hash"

// StatefulSet renders the members. replicas is passed in rather than read
// from the spec because membership changes move it one step at a time.
// rev is the image and options file the members run: DesiredRevision, or
// the running one while a change to them waits for its preflight check.
//
// restore, when not nil, adds an init container that restores each new
// member from the snapshot (spec.bootstrap.restore, resolved).
func StatefulSet(c *etcdv1.EtcdCluster, o Options, replicas int32, rev Revision, restore *RestoreSource) *appsv1.StatefulSet {
	labels := c.Labels()
	labels[etcdv1.LabelComponent] = "etcd"
	podLabels := map[string]string{}
	for k, v := range c.Spec.PodTemplate.Labels {
		podLabels[k] = v
	}
	for k, v := range labels {
		podLabels[k] = v
	}
	podAnnotations := map[string]string{}
	for k, v := range c.Spec.PodTemplate.Annotations {
		podAnnotations[k] = v
	}
	podAnnotations[AnnotationConfigHash] = rev.ConfigHash
	if restore != nil && restore.InPlaceID != "" {
		podAnnotations[AnnotationRestoreID] = restore.InPlaceID
	}
	if id := UndoneRestoreID(c); id != "" {
		podAnnotations[AnnotationRestoreUndone] = id
	}

	sts := &appsv1.StatefulSet{
		ObjectMeta: objectMeta(c, c.StatefulSetName(), "etcd"),
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr.To(replicas),
			ServiceName:         c.PeerServiceName(),
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Selector:            &metav1.LabelSelector{MatchLabels: c.SelectorLabels()},
			// The operator restarts members itself, one at a time, leader last
			// (see the rollout step).
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: podAnnotations},
				Spec:       podSpec(c, o, rev, restore),
			},
		},
	}
	medium := c.Spec.Storage.Medium
	if medium == "" || medium == etcdv1.StoragePersistentVolume {
		sts.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{volumeClaim(c)}
		sts.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
			WhenDeleted: retention(c.Spec.Storage.WhenDeleted, appsv1.RetainPersistentVolumeClaimRetentionPolicyType),
			WhenScaled:  retention(c.Spec.Storage.WhenScaled, appsv1.DeletePersistentVolumeClaimRetentionPolicyType),
		}
	}
	return sts
}

func retention(r etcdv1.PVCRetention, def appsv1.PersistentVolumeClaimRetentionPolicyType) appsv1.PersistentVolumeClaimRetentionPolicyType {
	switch r {
	case etcdv1.PVCRetain:
		return appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	case etcdv1.PVCDelete:
		return appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	}
	return def
}

func dataSize(c *etcdv1.EtcdCluster) resource.Quantity {
	if c.Spec.Storage.Size != nil {
		return *c.Spec.Storage.Size
	}
	return resource.MustParse(defaultDataSize)
}

func volumeClaim(c *etcdv1.EtcdCluster) corev1.PersistentVolumeClaim {
	return corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: dataVolume, Labels: c.Labels()},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: c.Spec.Storage.StorageClassName,
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: dataSize(c)},
			},
		},
	}
}

func podSpec(c *etcdv1.EtcdCluster, o Options, rev Revision, restore *RestoreSource) corev1.PodSpec {
	pt := c.Spec.PodTemplate
	spec := corev1.PodSpec{
		Containers:                    []corev1.Container{container(c, o, rev.Image)},
		Volumes:                       volumes(c, rev.OptionsConfigMap),
		TerminationGracePeriodSeconds: ptr.To[int64](60),
		EnableServiceLinks:            ptr.To(false),
		AutomountServiceAccountToken:  ptr.To(false),
		SecurityContext:               podSecurity(),
		Affinity:                      pt.Affinity,
		Tolerations:                   pt.Tolerations,
		NodeSelector:                  pt.NodeSelector,
		TopologySpreadConstraints:     pt.TopologySpreadConstraints,
		PriorityClassName:             pt.PriorityClassName,
	}
	if id := UndoneRestoreID(c); id != "" {
		spec.InitContainers = append(spec.InitContainers, undoInitContainer(c, o, rev.Image, id))
	}
	if restore != nil {
		init, vols, sa := restoreInitContainer(c, o, rev.Image, restore)
		spec.InitContainers = append(spec.InitContainers, init)
		spec.ServiceAccountName = sa
		spec.Volumes = append(spec.Volumes, vols...)
	}
	return spec
}

// volumes of a member pod; options names the ConfigMap of its options file.
func volumes(c *etcdv1.EtcdCluster, options string) []corev1.Volume {
	vols := []corev1.Volume{
		{Name: configVolume, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: options},
			Items:                []corev1.KeyToPath{{Key: ConfigKeyOptions, Path: ConfigKeyOptions}},
		}}},
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr.To(resource.MustParse("64Mi"))}}},
	}
	switch c.Spec.Storage.Medium {
	case etcdv1.StorageEmptyDir:
		vols = append(vols, corev1.Volume{Name: dataVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr.To(dataSize(c))}}})
	case etcdv1.StorageMemory:
		vols = append(vols, corev1.Volume{Name: dataVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(dataSize(c))}}})
	}
	if c.TLSEnabled() {
		vols = append(vols,
			corev1.Volume{Name: "server-tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: c.ServerSecretName(), DefaultMode: ptr.To[int32](0o440)}}},
			corev1.Volume{Name: "peer-tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: c.PeerSecretName(), DefaultMode: ptr.To[int32](0o440)}}},
			corev1.Volume{Name: "client-tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: c.ClientSecretName(), DefaultMode: ptr.To[int32](0o440)}}},
		)
	}
	return append(vols, authTokenVolumes(c)...)
}

func container(c *etcdv1.EtcdCluster, o Options, image string) corev1.Container {
	mounts := []corev1.VolumeMount{
		{Name: dataVolume, MountPath: DataMountPath},
		{Name: configVolume, MountPath: ConfigDir, ReadOnly: true},
		{Name: "tmp", MountPath: "/tmp"},
	}
	if c.TLSEnabled() {
		mounts = append(mounts,
			corev1.VolumeMount{Name: "server-tls", MountPath: ServerTLSDir, ReadOnly: true},
			corev1.VolumeMount{Name: "peer-tls", MountPath: PeerTLSDir, ReadOnly: true},
			corev1.VolumeMount{Name: "client-tls", MountPath: ClientTLSDir, ReadOnly: true},
		)
	}
	mounts = append(mounts, authTokenMounts(c)...)
	probe := func(path string, period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("metrics")}},
			PeriodSeconds:    period,
			TimeoutSeconds:   min(period, 3),
			FailureThreshold: failures,
		}
	}
	ports := []corev1.ContainerPort{
		{Name: "client", ContainerPort: etcdv1.ClientPort, Protocol: corev1.ProtocolTCP},
		{Name: "peer", ContainerPort: etcdv1.PeerPort, Protocol: corev1.ProtocolTCP},
		{Name: "metrics", ContainerPort: etcdv1.MetricsPort, Protocol: corev1.ProtocolTCP},
	}
	if TLSMigrationStep(c) != "" {
		ports = append(ports, corev1.ContainerPort{Name: "peer-migration", ContainerPort: contract.PeerMigrationPort, Protocol: corev1.ProtocolTCP})
	}
	return corev1.Container{
		Name:            ContainerName,
		Image:           image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Args:            []string{"serve"},
		Env:             memberEnv(c, o),

		Ports:        ports,
		Resources:    c.Spec.Resources,
		VolumeMounts: mounts,
		// A member of a new cluster cannot be ready before its peers start:
		// the startup probe gives the whole cluster five minutes, asked
		// every second so a restarted member counts as started (and its
		// readiness is probed) within a second of etcd serving; every
		// rollout step and scale-up waits on that. Readiness is probed
		// every 2 s (so a started member turns ready within 2 s) and
		// turns false after three failures (at most 6 s; etcd's /readyz
		// does a linearizable read, which a busy machine can slow past
		// one 2 s timeout), so the client Service and the cluster's
		// status follow a member that stops answering. Liveness restarts a member that failed
		// /livez for 30 s. Each probe is one local HTTP GET.
		StartupProbe:    probe("/livez", 1, 300),
		LivenessProbe:   probe("/livez", 5, 6),
		ReadinessProbe:  probe("/readyz", 2, 3),
		SecurityContext: containerSecurity(),
		// quorum-etcd writes why it stopped to the termination log; when
		// etcd itself exits without one (a fatal log, a panic), the kubelet
		// copies the log's tail instead, so the pod status (and the
		// operator's conditions, see podcause) always says why.
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		// A member leaves the client Service before its process stops: see
		// DrainSeconds.
		Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: DrainSeconds}}},
	}
}

// DrainSeconds is how long a member keeps serving after its pod was asked
// to stop (deleted for a rollout, a drain, a restore, by hand), before etcd
// gets SIGTERM. Seconds. A deleted pod's endpoint turns not ready at once
// (Kubernetes' EndpointSlice controller marks terminating endpoints) and
// kube-proxy stops sending new connections to it within about a second;
// connections already open stay until the process closes them. Without
// the pause etcd closed them while the Service still routed to the pod: a
// client through the Service reconnected to the stopping member, was
// refused, and waited out gRPC's 1 s reconnect backoff (the rolling-restart
// write gap of issue #17 item 1). With it a client reconnects straight to
// a serving member. The pause counts against the pod's 60 s termination
// grace period (kubelet's preStop sleep action, Kubernetes 1.30+).
const DrainSeconds = 3

// podSecurity: every pod the operator makes runs as a fixed non-root user.
func podSecurity() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To[int64](runAsUser),
		RunAsGroup:     ptr.To[int64](runAsUser),
		FSGroup:        ptr.To[int64](runAsUser),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// containerSecurity: read-only root filesystem, no privileges.
func containerSecurity() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		ReadOnlyRootFilesystem:   ptr.To(true),
		AllowPrivilegeEscalation: ptr.To(false),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

// memberEnv is what quorum-etcd needs to know about its member, for serve
// and restore alike.
func memberEnv(c *etcdv1.EtcdCluster, o Options) []corev1.EnvVar {
	field := func(name, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
	}
	fromConfig := func(name, key string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: c.ConfigMapName()}, Key: key}}}
	}
	e := []corev1.EnvVar{
		field(contract.EnvPodName, "metadata.name"),
		field(contract.EnvPodNamespace, "metadata.namespace"),
		{Name: contract.EnvPeerService, Value: c.PeerServiceName()},
		{Name: contract.EnvClusterDomain, Value: o.Domain()},
		{Name: contract.EnvClusterToken, Value: fmt.Sprintf("%s-%s", c.Name, c.UID)},
		{Name: contract.EnvDataDir, Value: DataDir},
		{Name: contract.EnvConfigFile, Value: ConfigDir + "/" + ConfigKeyOptions},
		fromConfig(contract.EnvInitialCluster, ConfigKeyInitialCluster),
		fromConfig(contract.EnvInitialClusterState, ConfigKeyInitialState),
		{Name: contract.EnvForceNewCluster, ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: c.ConfigMapName()}, Key: ConfigKeyForceNewCluster, Optional: ptr.To(true)}}},
	}
	if c.TLSEnabled() {
		e = append(e,
			corev1.EnvVar{Name: contract.EnvServerTLSDir, Value: ServerTLSDir},
			corev1.EnvVar{Name: contract.EnvPeerTLSDir, Value: PeerTLSDir},
			// etcdctl in the pod acts as root through the root client
			// certificate, as the operator does.
			corev1.EnvVar{Name: "ETCDCTL_CACERT", Value: ClientTLSDir + "/ca.crt"},
			corev1.EnvVar{Name: "ETCDCTL_CERT", Value: ClientTLSDir + "/tls.crt"},
			corev1.EnvVar{Name: "ETCDCTL_KEY", Value: ClientTLSDir + "/tls.key"},
		)
		if step := TLSMigrationStep(c); step != "" {
			e = append(e, corev1.EnvVar{Name: contract.EnvTLSMigration, Value: step})
		}
	}
	return append(e, authTokenEnv(c)...)
}

// TLSMigrationStep is what members serve in the TLS migration phase of c
// (contract.TLSMigrationListen or contract.TLSMigrationAdvertise), or ""
// outside one and in its last phase (TLS only).
func TLSMigrationStep(c *etcdv1.EtcdCluster) string {
	switch c.TLSMigrating() {
	case etcdv1.TLSMigrationListenHTTPS, etcdv1.TLSMigrationMovePeersToTLSPort:
		return contract.TLSMigrationListen
	case etcdv1.TLSMigrationAdvertiseHTTPS, etcdv1.TLSMigrationMovePeersBack:
		return contract.TLSMigrationAdvertise
	}
	return ""
}

// PodTLSMigrationStep is the TLS migration step a pod template was
// rendered for (its QUORUM_TLS_MIGRATION), "" if none.
func PodTLSMigrationStep(spec *corev1.PodSpec) string {
	for _, ctr := range spec.Containers {
		if ctr.Name != ContainerName {
			continue
		}
		for _, e := range ctr.Env {
			if e.Name == contract.EnvTLSMigration {
				return e.Value
			}
		}
	}
	return ""
}

// PodServesTLS reports whether a pod template was rendered with TLS (its
// QUORUM_SERVER_TLS_DIR).
func PodServesTLS(spec *corev1.PodSpec) bool {
	for _, ctr := range spec.Containers {
		if ctr.Name != ContainerName {
			continue
		}
		for _, e := range ctr.Env {
			if e.Name == contract.EnvServerTLSDir && e.Value != "" {
				return true
			}
		}
	}
	return false
}
