package admission

import (
	"encoding/json"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// The rules of issues #11, #12 and #18: what cannot run is refused at
// admission with a message naming the field, and the good inputs next to
// each bad one are accepted.
var _ = Describe("admission rules", func() {
	newObject := func(kind string, spec map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": etcdv1.GroupVersion.String(), "kind": kind,
			"metadata": map[string]any{"generateName": "adm-", "namespace": "default"}}}
		if spec != nil {
			u.Object["spec"] = spec
		}
		return u
	}
	refused := func(err error, messages ...string) {
		GinkgoHelper()
		Expect(err).To(HaveOccurred())
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "not a validation error: %v", err)
		for _, m := range messages {
			Expect(err.Error()).To(ContainSubstring(m))
		}
	}
	created := func(ctx SpecContext, u *unstructured.Unstructured) {
		GinkgoHelper()
		Expect(k8s.Create(ctx, u)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8s.Delete(ctx, u))).To(Succeed()) })
	}
	patch := func(ctx SpecContext, u *unstructured.Unstructured, body map[string]any) error {
		raw, err := json.Marshal(body)
		Expect(err).NotTo(HaveOccurred())
		// A merge patch carries no resourceVersion: only admission can refuse it.
		return k8s.Patch(ctx, u.DeepCopy(), client.RawPatch(types.MergePatchType, raw))
	}
	s3 := func(endpoint string) map[string]any {
		return map[string]any{"endpoint": endpoint, "bucket": "bkt", "credentialsSecretName": "creds"}
	}
	backup := func(endpoint string) map[string]any {
		return map[string]any{"clusterName": "db", "destination": map[string]any{"s3": s3(endpoint)}}
	}
	withBucket := func(spec map[string]any, bucket string) map[string]any {
		spec["destination"].(map[string]any)["s3"].(map[string]any)["bucket"] = bucket
		return spec
	}
	version := etcdv1.EtcdOptionsVersion()

	DescribeTable("refuses a bad EtcdCluster",
		func(ctx SpecContext, spec map[string]any, messages ...string) {
			refused(k8s.Create(ctx, newObject("EtcdCluster", spec)), messages...)
		},
		Entry("option with leading dashes", map[string]any{"etcdOptions": map[string]any{"--listen-client-urls": "http://0.0.0.0:2379"}},
			"spec.etcdOptions", "etcdOptions key --listen-client-urls starts with a dash"),
		Entry("option with one dash", map[string]any{"etcdOptions": map[string]any{"-snapshot-count": "1"}},
			"etcdOptions key -snapshot-count starts with a dash"),
		Entry("option the operator controls", map[string]any{"etcdOptions": map[string]any{"data-dir": "/tmp"}},
			"spec.etcdOptions", "etcdOptions may not set options the operator controls: data-dir: derived from the pod"),
		Entry("quota as an option", map[string]any{"etcdOptions": map[string]any{"quota-backend-bytes": "1"}},
			"etcdOptions may not set options the operator controls: quota-backend-bytes: set with spec.quota.backendBytes"),
		// Three controlled keys at once: each is named with its own reason,
		// in sorted order (a message that filtered the map twice paired
		// keys and reasons from two walks in different orders).
		Entry("three options the operator controls", map[string]any{"etcdOptions": map[string]any{
			"wal-dir": "/w", "quota-backend-bytes": "1", "listen-client-urls": "http://0.0.0.0:2379"}},
			"spec.etcdOptions", "etcdOptions may not set options the operator controls: "+
				"listen-client-urls: listen and advertise URLs are derived from the pod and the peer Service; "+
				"quota-backend-bytes: set with spec.quota.backendBytes; "+
				"wal-dir: derived from the pod (name, data directory); remove them from spec.etcdOptions"),
		Entry("unknown option", map[string]any{"etcdOptions": map[string]any{"snapshotcount": "1"}},
			"spec.etcdOptions", "etcdOptions key snapshotcount is not in the allow-list of etcd "+version+" configuration options"),
		// One allow-list exists (the bundled etcd's); a 3.6 cluster is
		// checked against it, and the message says so rather than
		// claiming to be 3.6's.
		Entry("option of an older etcd on a 3.6 cluster", map[string]any{"version": "3.6.16", "etcdOptions": map[string]any{"experimental-compact-hash-check-enabled": "true"}},
			"etcdOptions key experimental-compact-hash-check-enabled is not in the allow-list of etcd "+version+" configuration options (the list of the bundled etcd, applied whatever spec.version says",
			"the experimental- names of etcd 3.6 are not accepted"),
		Entry("two unknown options", map[string]any{"etcdOptions": map[string]any{"snapshotcount": "1", "heartbeat": "1"}},
			"spec.etcdOptions", "is not in the allow-list of etcd"),
		Entry("option a string cannot set", map[string]any{"etcdOptions": map[string]any{"cipher-suites": "TLS_AES_128_GCM_SHA256"}},
			"etcdOptions key cipher-suites is not in the allow-list of etcd "+version),
		Entry("option value not a string", map[string]any{"etcdOptions": map[string]any{"snapshot-count": 5}},
			"spec.etcdOptions.snapshot-count", "must be of type string"),
		Entry("switch not true or false", map[string]any{"etcdOptions": map[string]any{"pre-vote": "yes"}},
			"spec.etcdOptions", "etcdOptions key pre-vote must be true or false"),
		// Number values are left to quorum-etcd: a regular expression on a
		// map value without maxLength exceeds CEL's cost budget.
		Entry("quota larger than the default 1Gi volume", map[string]any{"quota": map[string]any{"backendBytes": "2Gi"}},
			"spec.quota.backendBytes", "quota.backendBytes 2Gi does not fit storage.size 1Gi: it may be at most the size less 384Mi"),
		Entry("quota just over the volume less the WAL reserve", map[string]any{"storage": map[string]any{"size": "10Gi"}, "quota": map[string]any{"backendBytes": "9857Mi"}},
			"spec.quota.backendBytes", "quota.backendBytes 9857Mi does not fit storage.size 10Gi"),
		Entry("quota over an emptyDir size limit", map[string]any{"storage": map[string]any{"medium": "EmptyDir", "size": "2Gi"}, "quota": map[string]any{"backendBytes": "2Gi"}},
			"quota.backendBytes 2Gi does not fit storage.size 2Gi"),
		Entry("quota over a memory volume", map[string]any{"storage": map[string]any{"medium": "Memory", "size": "512Mi"}, "quota": map[string]any{"backendBytes": 268435456}},
			"quota.backendBytes 268435456 does not fit storage.size 512Mi"),
		Entry("volume too small for the derived quota", map[string]any{"storage": map[string]any{"size": "300Mi"}},
			"spec.storage.size", "storage.size 300Mi leaves no room for the derived quota: it is at least 64Mi"),
		Entry("memory volume too small for the derived quota", map[string]any{"storage": map[string]any{"medium": "Memory", "size": "256Mi"}},
			"storage.size 256Mi leaves no room for the derived quota"),
		Entry("zero quota (etcd would use its 2Gi default)", map[string]any{"quota": map[string]any{"backendBytes": 0}},
			"spec.quota.backendBytes", "quota.backendBytes must be positive"),
		Entry("negative quota (etcd would turn the quota off)", map[string]any{"quota": map[string]any{"backendBytes": "-1Gi"}},
			"quota.backendBytes must be positive"),
	)

	DescribeTable("accepts a good EtcdCluster",
		func(ctx SpecContext, spec map[string]any) {
			created(ctx, newObject("EtcdCluster", spec))
		},
		Entry("a real option", map[string]any{"etcdOptions": map[string]any{"snapshot-count": "10000"}}),
		Entry("options of every kind", map[string]any{"etcdOptions": map[string]any{
			"snapshot-count": "5000", "pre-vote": "false", "grpc-keepalive-min-time": "5000000000", "log-level": "warn", "max-learners": "2"}}),
		Entry("a quota that fits the default volume exactly", map[string]any{"quota": map[string]any{"backendBytes": "640Mi"}}),
		Entry("a quota that fits", map[string]any{"storage": map[string]any{"size": "10Gi"}, "quota": map[string]any{"backendBytes": "8Gi"}}),
		Entry("a quota in bytes", map[string]any{"storage": map[string]any{"medium": "Memory", "size": "512Mi"}, "quota": map[string]any{"backendBytes": 134217728}}),
		Entry("TLS off from the start", map[string]any{"tls": map[string]any{"enabled": false}}),
	)

	It("accepts every option the bundled etcd has, with a value of its kind", func(ctx SpecContext) {
		keys := etcdv1.EtcdOptionKeys()
		for start := 0; start < len(keys); start += 32 {
			opts := map[string]any{}
			for _, k := range keys[start:min(start+32, len(keys))] {
				switch {
				case etcdv1.EtcdOptionIsBool(k):
					opts[k] = "true"
				case etcdv1.EtcdOptionIsNumber(k):
					opts[k] = "100"
				default:
					opts[k] = "x"
				}
			}
			created(ctx, newObject("EtcdCluster", map[string]any{"etcdOptions": opts}))
		}
	})

	It("derives the quota: no backendBytes is stored when none is written", func(ctx SpecContext) {
		u := newObject("EtcdCluster", map[string]any{})
		created(ctx, u)
		c := &etcdv1.EtcdCluster{}
		Expect(get(ctx, "default", u.GetName(), c)()).To(Succeed())
		Expect(c.Spec.Quota.BackendBytes).To(BeNil())
		Expect(c.Spec.Storage.Size.String()).To(Equal("1Gi"))
	})

	// The transition rules compare with the stored defaults even when the
	// user never wrote the enclosing object.
	Describe("transition rules without the enclosing object", func() {
		for _, spec := range []map[string]any{nil, {}, {"replicas": 1}} {
			It(fmt.Sprintf("refuses turning auth and TLS off on a cluster created with spec %v", spec), func(ctx SpecContext) {
				u := newObject("EtcdCluster", spec)
				created(ctx, u)
				c := &etcdv1.EtcdCluster{}
				Expect(get(ctx, "default", u.GetName(), c)()).To(Succeed())
				Expect(c.Spec.Auth.Enabled).To(HaveValue(BeTrue()), "auth is defaulted into the stored spec")
				Expect(c.Spec.TLS.Enabled).To(HaveValue(BeTrue()), "tls is defaulted into the stored spec")

				refused(patch(ctx, u, map[string]any{"spec": map[string]any{"auth": map[string]any{"enabled": false}}}),
					"spec.auth.enabled", "auth cannot be turned off once enabled")
				refused(patch(ctx, u, map[string]any{"spec": map[string]any{"tls": map[string]any{"enabled": false}}}),
					"spec.tls.enabled", "TLS cannot be turned off on a running cluster")
				refused(patch(ctx, u, map[string]any{"spec": map[string]any{"storage": map[string]any{"size": "512Mi"}}}),
					"spec.storage.size", "storage.size may grow but not shrink: 1Gi to 512Mi is refused")
				refused(patch(ctx, u, map[string]any{"spec": map[string]any{"storage": map[string]any{"medium": "Memory"}}}),
					"spec.storage.medium", "storage.medium is immutable")
				refused(patch(ctx, u, map[string]any{"spec": map[string]any{"storage": map[string]any{"storageClassName": "fast"}}}),
					"spec.storage", "storageClassName is immutable")
				refused(patch(ctx, u, map[string]any{"spec": map[string]any{"bootstrap": map[string]any{"restore": map[string]any{"backupName": "b"}}}}),
					"bootstrap is immutable")
				// Removing the object brings its defaults back: still on.
				Expect(patch(ctx, u, map[string]any{"spec": map[string]any{"auth": nil, "tls": nil}})).To(Succeed())
				Expect(get(ctx, "default", u.GetName(), c)()).To(Succeed())
				Expect(c.Spec.Auth.Enabled).To(HaveValue(BeTrue()))
				Expect(c.Spec.TLS.Enabled).To(HaveValue(BeTrue()))
			})
		}
	})

	It("accepts turning TLS on for a running cluster without TLS (the operator migrates it), and refuses turning it off again", func(ctx SpecContext) {
		u := newObject("EtcdCluster", map[string]any{"tls": map[string]any{"enabled": false}})
		created(ctx, u)
		Expect(patch(ctx, u, map[string]any{"spec": map[string]any{"tls": map[string]any{"enabled": false}}})).To(Succeed(), "an unchanged value is accepted")
		Expect(patch(ctx, u, map[string]any{"spec": map[string]any{"tls": map[string]any{"enabled": true}}})).To(Succeed(), "TLS off → on is a migration")
		refused(patch(ctx, u, map[string]any{"spec": map[string]any{"tls": map[string]any{"enabled": false}}}),
			"spec.tls.enabled", "TLS cannot be turned off on a running cluster (a security downgrade): create a new cluster with tls.enabled false and restore a backup into it")
	})

	It("checks a changed quota against the volume", func(ctx SpecContext) {
		u := newObject("EtcdCluster", map[string]any{"storage": map[string]any{"size": "2Gi"}, "quota": map[string]any{"backendBytes": "1Gi"}})
		created(ctx, u)
		refused(patch(ctx, u, map[string]any{"spec": map[string]any{"quota": map[string]any{"backendBytes": "1700Mi"}}}),
			"spec.quota.backendBytes", "quota.backendBytes 1700Mi does not fit storage.size 2Gi")
		Expect(patch(ctx, u, map[string]any{"spec": map[string]any{"quota": map[string]any{"backendBytes": "1664Mi"}}})).To(Succeed())
		Expect(patch(ctx, u, map[string]any{"spec": map[string]any{"quota": nil, "replicas": 5}})).To(Succeed(), "back to a derived quota")
	})

	DescribeTable("lets a volume grow, never shrink",
		func(ctx SpecContext, storage map[string]any, to any, messages ...string) {
			u := newObject("EtcdCluster", map[string]any{"storage": storage})
			created(ctx, u)
			err := patch(ctx, u, map[string]any{"spec": map[string]any{"storage": map[string]any{"size": to}}})
			if len(messages) == 0 {
				Expect(err).To(Succeed())
				return
			}
			refused(err, messages...)
		},
		Entry("1Gi to 2Gi", map[string]any{"size": "1Gi"}, "2Gi"),
		Entry("the default 1Gi to 2Gi", map[string]any{}, "2Gi"),
		Entry("the same size written another way", map[string]any{"size": "2Gi"}, "2048Mi"),
		Entry("a size in bytes that grows", map[string]any{"size": "1Gi"}, 1073741825),
		Entry("2Gi to 1Gi", map[string]any{"size": "2Gi"}, "1Gi",
			"spec.storage.size", "storage.size may grow but not shrink: 2Gi to 1Gi is refused", "back up and restore into a new cluster"),
		Entry("by one byte", map[string]any{"size": "1Gi"}, 1073741823,
			"storage.size may grow but not shrink: 1Gi to 1073741823"),
		Entry("an emptyDir limit", map[string]any{"medium": "EmptyDir", "size": "1Gi"}, "2Gi",
			"spec.storage.size", "storage.size of an EmptyDir or Memory medium is immutable"),
		Entry("a memory volume", map[string]any{"medium": "Memory", "size": "512Mi"}, "1Gi",
			"storage.size of an EmptyDir or Memory medium is immutable"),
		Entry("an emptyDir limit written another way", map[string]any{"medium": "EmptyDir", "size": "1Gi"}, "1024Mi"),
	)

	It("keeps an explicit quota valid when the volume grows, and checks it against the new size", func(ctx SpecContext) {
		u := newObject("EtcdCluster", map[string]any{"storage": map[string]any{"size": "1Gi"}, "quota": map[string]any{"backendBytes": "512Mi"}})
		created(ctx, u)
		Expect(patch(ctx, u, map[string]any{"spec": map[string]any{"storage": map[string]any{"size": "2Gi"}}})).To(Succeed())
		Expect(patch(ctx, u, map[string]any{"spec": map[string]any{"quota": map[string]any{"backendBytes": "1664Mi"}}})).To(Succeed(), "fits the grown volume")
		refused(patch(ctx, u, map[string]any{"spec": map[string]any{"quota": map[string]any{"backendBytes": "1700Mi"}}}),
			"quota.backendBytes 1700Mi does not fit storage.size 2Gi")
	})

	DescribeTable("refuses a bad S3 endpoint or time zone",
		func(ctx SpecContext, kind string, spec map[string]any, messages ...string) {
			refused(k8s.Create(ctx, newObject(kind, spec)), messages...)
		},
		Entry("https scheme", "EtcdBackup", backup("https://s3.example.com"),
			"spec.destination.s3.endpoint", "endpoint https://s3.example.com has a scheme", "set insecure: true for plain http"),
		Entry("http scheme", "EtcdBackup", backup("http://minio:9000"),
			"spec.destination.s3.endpoint", "endpoint http://minio:9000 has a scheme"),
		Entry("a path", "EtcdBackup", backup("s3.example.com/bucket"),
			"spec.destination.s3.endpoint", "endpoint s3.example.com/bucket must be host or host:port"),
		Entry("a bad port", "EtcdBackup", backup("s3.example.com:port"),
			"must be host or host:port"),
		Entry("scheme in a schedule's template", "EtcdBackupSchedule", map[string]any{"schedule": "@daily", "backupTemplate": backup("https://s3.example.com")},
			"spec.backupTemplate.destination.s3.endpoint", "has a scheme"),
		Entry("scheme in an EtcdRestore's source", "EtcdRestore", map[string]any{"clusterName": "db", "source": map[string]any{"s3": s3("http://minio:9000")}, "key": "k"},
			"spec.source.s3.endpoint", "endpoint http://minio:9000 has a scheme"),
		Entry("a path in a schedule's template", "EtcdBackupSchedule", map[string]any{"schedule": "@daily", "backupTemplate": backup("minio:9000/bkt")},
			"spec.backupTemplate.destination.s3.endpoint", "must be host or host:port"),
		Entry("scheme in a restore source", "EtcdCluster", map[string]any{"bootstrap": map[string]any{"restore": map[string]any{"source": map[string]any{"s3": s3("https://s3.example.com")}, "key": "k"}}},
			"spec.bootstrap.restore.source.s3.endpoint", "has a scheme"),
		Entry("a port above 65535", "EtcdBackup", backup("minio:99999"),
			"spec.destination.s3.endpoint", "endpoint minio:99999 has port 99999: a port is 1-65535"),
		Entry("port 0", "EtcdBackup", backup("minio:0"), "endpoint minio:0 has port 0: a port is 1-65535"),
		Entry("an IPv6 address with a port above 65535", "EtcdBackup", backup("[fd00::7]:70000"), "has port 70000: a port is 1-65535"),
		Entry("a port above 65535 in an EtcdRestore's source", "EtcdRestore", map[string]any{"clusterName": "db", "source": map[string]any{"s3": s3("minio:99999")}, "key": "k"},
			"spec.source.s3.endpoint", "has port 99999"),
		Entry("a bucket with capitals and an underscore", "EtcdBackup", withBucket(backup("s3:9000"), "Bad_Bucket"),
			"spec.destination.s3.bucket", "bucket Bad_Bucket is not an S3 bucket name: use 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit"),
		Entry("a bucket starting with a hyphen", "EtcdBackup", withBucket(backup("s3:9000"), "-bkt"), "bucket -bkt is not an S3 bucket name"),
		Entry("a bucket ending with a dot", "EtcdBackup", withBucket(backup("s3:9000"), "bkt."), "bucket bkt. is not an S3 bucket name"),
		// The schema's maxLength: the API server's words for it changed
		// ("may not be longer than 63" in 1.31, "may not be more than 63
		// bytes" in 1.37), so only their common part is checked.
		Entry("a bucket of 64 characters", "EtcdBackup", withBucket(backup("s3:9000"), strings.Repeat("b", 64)),
			"spec.destination.s3.bucket: Too long: may not be ", " 63"),
		Entry("a bad bucket in a schedule's template", "EtcdBackupSchedule", map[string]any{"schedule": "@daily", "backupTemplate": withBucket(backup("s3:9000"), "Bad_Bucket")},
			"spec.backupTemplate.destination.s3.bucket", "bucket Bad_Bucket is not an S3 bucket name"),
		Entry("a bad bucket in a restore source", "EtcdCluster", map[string]any{"bootstrap": map[string]any{"restore": map[string]any{
			"source": map[string]any{"s3": map[string]any{"endpoint": "s3:9000", "bucket": "Bad_Bucket", "credentialsSecretName": "c"}}, "key": "k"}}},
			"spec.bootstrap.restore.source.s3.bucket", "bucket Bad_Bucket is not an S3 bucket name"),
		Entry("an EtcdRestore with backupName and key", "EtcdRestore", map[string]any{"clusterName": "db", "backupName": "nightly", "key": "ns/db/b.db.gz"},
			"spec", "backupName and key are exclusive: key names a snapshot in source, backupName restores the snapshot of that EtcdBackup; pick one"),
		Entry("a bootstrap restore with backupName and key", "EtcdCluster", map[string]any{"bootstrap": map[string]any{"restore": map[string]any{"backupName": "nightly", "key": "ns/db/b.db.gz"}}},
			"spec.bootstrap.restore", "backupName and key are exclusive"),
		Entry("an EtcdRestore of a backup that skips the hash check", "EtcdRestore", map[string]any{"clusterName": "db", "backupName": "nightly", "skipHashCheck": true},
			"spec", "skipHashCheck applies to source only: the snapshot of an EtcdBackup always carries etcd's hash"),
		Entry("a bootstrap restore of a backup that skips the hash check", "EtcdCluster", map[string]any{"bootstrap": map[string]any{"restore": map[string]any{"backupName": "nightly", "skipHashCheck": true}}},
			"spec.bootstrap.restore", "skipHashCheck applies to source only"),
		Entry("skipHashCheck not a boolean", "EtcdRestore", map[string]any{"clusterName": "db", "source": map[string]any{"pvc": map[string]any{"claimName": "snaps"}}, "key": "k", "skipHashCheck": "yes"},
			"spec.skipHashCheck"),
		Entry("unknown time zone", "EtcdBackupSchedule", map[string]any{"schedule": "@daily", "timeZone": "Mars/Olympus", "backupTemplate": backup("s3:9000")},
			"spec.timeZone", "timeZone Mars/Olympus is not an IANA time zone name"),
		Entry("time zone in lower case", "EtcdBackupSchedule", map[string]any{"schedule": "@daily", "timeZone": "europe/berlin", "backupTemplate": backup("s3:9000")},
			"timeZone europe/berlin is not an IANA time zone name"),
		Entry("Local", "EtcdBackupSchedule", map[string]any{"schedule": "@daily", "timeZone": "Local", "backupTemplate": backup("s3:9000")},
			"timeZone Local is not an IANA time zone name"),
		Entry("unknown defragmentation time zone", "EtcdCluster", map[string]any{"defragmentation": map[string]any{"schedule": "@daily", "timeZone": "Mars/Olympus"}},
			"spec.defragmentation.timeZone", "timeZone Mars/Olympus is not an IANA time zone name"),
		Entry("defragmentation time zone without a schedule", "EtcdCluster", map[string]any{"defragmentation": map[string]any{"timeZone": "UTC"}},
			"spec.defragmentation.timeZone needs spec.defragmentation.schedule"),
		Entry("time zone in the defragmentation schedule", "EtcdCluster", map[string]any{"defragmentation": map[string]any{"schedule": "CRON_TZ=UTC 0 3 * * *"}},
			"spec.defragmentation.schedule", "schedule must be five cron fields"),
		Entry("defragmentation percent out of range", "EtcdCluster", map[string]any{"defragmentation": map[string]any{"freeablePercent": 100}},
			"spec.defragmentation.freeablePercent", "less than or equal to 99"),
		Entry("defragmentation percent zero", "EtcdCluster", map[string]any{"defragmentation": map[string]any{"freeablePercent": 0}},
			"spec.defragmentation.freeablePercent", "greater than or equal to 1"),
		Entry("negative freeable bytes", "EtcdCluster", map[string]any{"defragmentation": map[string]any{"freeableBytes": "-1Gi"}},
			"spec.defragmentation.freeableBytes", "freeableBytes must be positive (a size such as 256Mi), not -1Gi"),
		Entry("zero freeable bytes", "EtcdCluster", map[string]any{"defragmentation": map[string]any{"freeableBytes": 0}},
			"spec.defragmentation.freeableBytes", "freeableBytes must be positive"),
		Entry("freeable bytes not a size", "EtcdCluster", map[string]any{"defragmentation": map[string]any{"freeableBytes": "lots"}},
			"spec.defragmentation.freeableBytes"),
		Entry("negative minimum database size", "EtcdCluster", map[string]any{"defragmentation": map[string]any{"minDBSize": "-64Mi"}},
			"spec.defragmentation.minDBSize", "minDBSize must not be negative, not -64Mi"),
	)

	// The schedule rules are generated once (hack/gen-admission) for both
	// kinds: each bad field is named with its bounds.
	DescribeTable("refuses a bad cron schedule in both kinds",
		func(ctx SpecContext, schedule string, messages ...string) {
			refused(k8s.Create(ctx, newObject("EtcdCluster", map[string]any{"defragmentation": map[string]any{"schedule": schedule}})),
				append([]string{"spec.defragmentation.schedule"}, messages...)...)
			refused(k8s.Create(ctx, newObject("EtcdBackupSchedule", map[string]any{"schedule": schedule, "backupTemplate": backup("s3:9000")})),
				append([]string{"spec.schedule"}, messages...)...)
		},
		Entry("minute 61", "61 * * * *", "schedule 61 * * * *: its minute field must be 0-59"),
		Entry("hour 24", "0 24 * * *", "its hour field must be 0-23"),
		Entry("day of month 0", "0 3 0 * *", "its day-of-month field must be 1-31"),
		Entry("day of month 32", "0 3 32 * *", "its day-of-month field must be 1-31"),
		Entry("month 13", "0 3 1 13 *", "its month field must be 1-12 or JAN-DEC"),
		Entry("a month name misspelt", "0 3 1 JANUARY *", "its month field must be 1-12 or JAN-DEC"),
		Entry("day of week 7", "0 3 * * 7", "its day-of-week field must be 0-6 or SUN-SAT"),
		Entry("words", "every night at three am", "its minute field must be 0-59", "each field is *, a value, a range a-b"),
		Entry("a zero step", "*/0 * * * *", "its minute field must be 0-59"),
		Entry("Quartz's L", "0 3 L * *", "its day-of-month field"),
		Entry("@every", "@every 1h", "schedule must be five cron fields"),
		Entry("seconds", "0 0 3 * * *", "schedule must be five cron fields"),
	)

	DescribeTable("accepts a good cron schedule in both kinds",
		func(ctx SpecContext, schedule string) {
			created(ctx, newObject("EtcdCluster", map[string]any{"defragmentation": map[string]any{"schedule": schedule}}))
			created(ctx, newObject("EtcdBackupSchedule", map[string]any{"schedule": schedule, "backupTemplate": backup("s3:9000")}))
		},
		Entry("every quarter hour", "*/15 * * * *"),
		Entry("week days by name", "30 2 * * mon-FRI"),
		Entry("lists, ranges and steps", "0,30 1-5/2 1,15 JAN-jun,12 0-6"),
		Entry("the bounds", "59 23 31 12 6"),
		Entry("tabs and leading zeros", "05\t03 01 * *"),
		Entry("@midnight", "@midnight"),
		Entry("@weekly", "@weekly"),
	)

	DescribeTable("accepts a good S3 endpoint or time zone",
		func(ctx SpecContext, kind string, spec map[string]any) {
			created(ctx, newObject(kind, spec))
		},
		Entry("host:port", "EtcdBackup", backup("s3.example.com:9000")),
		Entry("host", "EtcdBackup", backup("s3.amazonaws.com")),
		Entry("IPv4", "EtcdBackup", backup("10.0.0.7:9000")),
		Entry("IPv6", "EtcdBackup", backup("[fd00::7]:9000")),
		Entry("port 65535", "EtcdBackup", backup("minio:65535")),
		Entry("a bucket with dots, hyphens and digits", "EtcdBackup", withBucket(backup("s3:9000"), "my.backups-2026")),
		Entry("a bucket of 63 characters", "EtcdBackup", withBucket(backup("s3:9000"), strings.Repeat("b", 63))),
		Entry("Europe/Berlin", "EtcdBackupSchedule", map[string]any{"schedule": "@daily", "timeZone": "Europe/Berlin", "backupTemplate": backup("s3:9000")}),
		Entry("UTC", "EtcdBackupSchedule", map[string]any{"schedule": "@daily", "timeZone": "UTC", "backupTemplate": backup("s3:9000")}),
		Entry("a backward link", "EtcdBackupSchedule", map[string]any{"schedule": "@daily", "timeZone": "US/Pacific", "backupTemplate": backup("s3:9000")}),
		Entry("a bootstrap restore of a db copy that skips the hash check", "EtcdCluster", map[string]any{"bootstrap": map[string]any{"restore": map[string]any{
			"source": map[string]any{"pvc": map[string]any{"claimName": "snaps"}}, "key": "member-snap.db", "skipHashCheck": true}}}),
		Entry("an EtcdRestore of a db copy that skips the hash check", "EtcdRestore", map[string]any{"clusterName": "db",
			"source": map[string]any{"s3": s3("s3:9000")}, "key": "member-snap.db", "skipHashCheck": true}),
		Entry("an EtcdRestore of a backup with skipHashCheck false", "EtcdRestore", map[string]any{"clusterName": "db", "backupName": "nightly", "skipHashCheck": false}),
		Entry("a defragmentation schedule in Berlin", "EtcdCluster", map[string]any{"defragmentation": map[string]any{"schedule": "0 3 * * 0", "timeZone": "Europe/Berlin",
			"freeablePercent": 50, "freeableBytes": "1Gi", "minDBSize": "64Mi"}}),
	)
})
