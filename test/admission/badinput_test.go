package admission

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// Bad EtcdBackup and EtcdBackupSchedule specs are refused at admission
// with a message naming the problem; random EtcdCluster specs are refused
// or stored, never answered with a server error.
var _ = Describe("bad input", func() {
	s3 := func() map[string]any {
		return map[string]any{"endpoint": "s3:9000", "bucket": "bkt", "credentialsSecretName": "creds"}
	}
	pvc := func() map[string]any { return map[string]any{"claimName": "backups"} }
	backupSpec := func(dest map[string]any, extra ...any) map[string]any {
		spec := map[string]any{"clusterName": "db", "destination": dest}
		for i := 0; i+1 < len(extra); i += 2 {
			spec[extra[i].(string)] = extra[i+1]
		}
		return spec
	}
	scheduleSpec := func(extra ...any) map[string]any {
		spec := map[string]any{"schedule": "0 3 * * *", "backupTemplate": backupSpec(map[string]any{"s3": s3()})}
		for i := 0; i+1 < len(extra); i += 2 {
			spec[extra[i].(string)] = extra[i+1]
		}
		return spec
	}
	object := func(kind, name string, spec map[string]any) *unstructured.Unstructured {
		meta := map[string]any{"namespace": "default"}
		if name == "" {
			meta["generateName"] = "bad-"
		} else {
			meta["name"] = name
		}
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": etcdv1.GroupVersion.String(), "kind": kind, "metadata": meta, "spec": spec}}
	}
	refused := func(err error, message string) {
		GinkgoHelper()
		Expect(err).To(HaveOccurred())
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "not a validation error: %v", err)
		Expect(err.Error()).To(ContainSubstring(message))
	}

	DescribeTable("refuses a bad EtcdBackup",
		func(ctx SpecContext, spec map[string]any, message string) {
			refused(k8s.Create(ctx, object("EtcdBackup", "", spec)), message)
		},
		Entry("no destination", map[string]any{"clusterName": "db"}, "spec.destination: Required value"),
		Entry("empty destination", backupSpec(map[string]any{}), "exactly one of s3 and pvc must be set"),
		Entry("both s3 and pvc", backupSpec(map[string]any{"s3": s3(), "pvc": pvc()}), "exactly one of s3 and pvc must be set"),
		Entry("no cluster", map[string]any{"destination": map[string]any{"pvc": pvc()}}, "set exactly one of clusterName (an EtcdCluster in this namespace) and external"),
		Entry("empty cluster name", map[string]any{"clusterName": "", "destination": map[string]any{"pvc": pvc()}}, "spec.clusterName in body should be at least 1 chars long"),
		Entry("empty endpoint", backupSpec(map[string]any{"s3": map[string]any{"endpoint": "", "bucket": "bkt", "credentialsSecretName": "c"}}), "spec.destination.s3.endpoint in body should be at least 1 chars long"),
		Entry("no endpoint", backupSpec(map[string]any{"s3": map[string]any{"bucket": "bkt", "credentialsSecretName": "c"}}), "spec.destination.s3.endpoint: Required value"),
		Entry("short bucket", backupSpec(map[string]any{"s3": map[string]any{"endpoint": "e", "bucket": "bk", "credentialsSecretName": "c"}}), "spec.destination.s3.bucket in body should be at least 3 chars long"),
		Entry("no credentials", backupSpec(map[string]any{"s3": map[string]any{"endpoint": "e", "bucket": "bkt"}}), "set exactly one of credentialsSecretName (a Secret with static keys), webIdentity (a service account token exchanged at STS) and instanceRole"),
		Entry("CA without key", backupSpec(map[string]any{"s3": map[string]any{"endpoint": "e", "bucket": "bkt", "credentialsSecretName": "c", "ca": map[string]any{"name": "ca"}}}), "spec.destination.s3.ca.key: Required value"),
		Entry("empty claim", backupSpec(map[string]any{"pvc": map[string]any{"claimName": ""}}), "spec.destination.pvc.claimName in body should be at least 1 chars long"),
		Entry("unknown compression", backupSpec(map[string]any{"pvc": pvc()}, "compression", "xz"), `spec.compression: Unsupported value: "xz": supported values: "zstd", "gzip", "none"`),
		Entry("encryption key without key", backupSpec(map[string]any{"pvc": pvc()}, "encryptionKey", map[string]any{"name": "k"}), "spec.encryptionKey.key: Required value"),
		Entry("insecure not a boolean", backupSpec(map[string]any{"s3": map[string]any{"endpoint": "e", "bucket": "bkt", "credentialsSecretName": "c", "insecure": "yes"}}), "spec.destination.s3.insecure: Invalid value"),
	)

	DescribeTable("accepts every compression, zstd by default",
		func(ctx SpecContext, compression, want string) {
			spec := backupSpec(map[string]any{"pvc": pvc()})
			if compression != "" {
				spec["compression"] = compression
			}
			for _, o := range []*unstructured.Unstructured{object("EtcdBackup", "", spec), object("EtcdBackupSchedule", "", scheduleSpec("backupTemplate", spec))} {
				Expect(k8s.Create(ctx, o)).To(Succeed())
				DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8s.Delete(ctx, o))).To(Succeed()) })
				path := []string{"spec", "compression"}
				if o.GetKind() == "EtcdBackupSchedule" {
					path = []string{"spec", "backupTemplate", "compression"}
				}
				got, _, _ := unstructured.NestedString(o.Object, path...)
				Expect(got).To(Equal(want), o.GetKind())
			}
		},
		Entry("unset", "", etcdv1.DefaultBackupCompression),
		Entry("zstd", "zstd", "zstd"),
		Entry("gzip", "gzip", "gzip"),
		Entry("none", "none", "none"),
	)

	It("refuses any change to an EtcdBackup's spec", func(ctx SpecContext) {
		b := object("EtcdBackup", "", backupSpec(map[string]any{"s3": s3()}))
		Expect(k8s.Create(ctx, b)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8s.Delete(ctx, b))).To(Succeed()) })
		for _, patch := range []string{
			`{"spec":{"clusterName":"other"}}`,
			`{"spec":{"compression":"none"}}`,
			`{"spec":{"destination":{"s3":{"bucket":"other"}}}}`,
			`{"spec":{"destination":{"s3":{"prefix":"p"}}}}`,
			`{"spec":{"encryptionKey":{"name":"k","key":"key"}}}`,
		} {
			// A merge patch carries no resourceVersion: only admission can refuse it.
			refused(k8s.Patch(ctx, b.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(patch))), "an EtcdBackup is immutable: create a new one")
		}
	})

	DescribeTable("refuses a bad EtcdBackupSchedule",
		func(ctx SpecContext, name string, spec map[string]any, message string) {
			refused(k8s.Create(ctx, object("EtcdBackupSchedule", name, spec)), message)
		},
		Entry("no schedule", "", map[string]any{"backupTemplate": backupSpec(map[string]any{"pvc": pvc()})}, "spec.schedule: Required value"),
		Entry("empty schedule", "", scheduleSpec("schedule", ""), "spec.schedule in body should be at least 1 chars long"),
		Entry("four cron fields", "", scheduleSpec("schedule", "0 3 * *"), "schedule must be five cron fields"),
		Entry("six cron fields", "", scheduleSpec("schedule", "0 0 3 * * *"), "schedule must be five cron fields"),
		Entry("@every", "", scheduleSpec("schedule", "@every 1h"), "schedule must be five cron fields"),
		Entry("time zone in the schedule", "", scheduleSpec("schedule", "CRON_TZ=Europe/Berlin 0 3 * * *"), "set the time zone with timeZone"),
		Entry("overlong schedule", "", scheduleSpec("schedule", strings.Repeat("1,", 128)+" * * * *"), "spec.schedule: Too long"),
		Entry("empty time zone", "", scheduleSpec("timeZone", ""), "spec.timeZone in body should be at least 1 chars long"),
		Entry("overlong time zone", "", scheduleSpec("timeZone", strings.Repeat("Z", 65)), "spec.timeZone: Too long"),
		Entry("no template", "", map[string]any{"schedule": "@daily"}, "spec.backupTemplate: Required value"),
		Entry("template without destination", "", scheduleSpec("backupTemplate", map[string]any{"clusterName": "db"}), "spec.backupTemplate.destination: Required value"),
		Entry("template with both destinations", "", scheduleSpec("backupTemplate", backupSpec(map[string]any{"s3": s3(), "pvc": pvc()})), "exactly one of s3 and pvc must be set"),
		Entry("template with a short bucket", "", scheduleSpec("backupTemplate", backupSpec(map[string]any{"s3": map[string]any{"endpoint": "e", "bucket": "b", "credentialsSecretName": "c"}})), "spec.backupTemplate.destination.s3.bucket in body should be at least 3 chars long"),
		Entry("template with unknown compression", "", scheduleSpec("backupTemplate", backupSpec(map[string]any{"pvc": pvc()}, "compression", "xz")), `Unsupported value: "xz"`),
		Entry("empty retention", "", scheduleSpec("retention", map[string]any{}), "retention needs keepLast, maxAge or both"),
		Entry("keepLast 0", "", scheduleSpec("retention", map[string]any{"keepLast": 0}), "spec.retention.keepLast in body should be greater than or equal to 1"),
		Entry("negative keepLast", "", scheduleSpec("retention", map[string]any{"keepLast": -7}), "spec.retention.keepLast in body should be greater than or equal to 1"),
		Entry("maxAge in days", "", scheduleSpec("retention", map[string]any{"maxAge": "7d"}), "spec.retention.maxAge in body should match"),
		Entry("negative maxAge", "", scheduleSpec("retention", map[string]any{"maxAge": "-1h"}), "spec.retention.maxAge in body should match"),
		Entry("zero maxAge", "", scheduleSpec("retention", map[string]any{"maxAge": "0s"}), "maxAge must be positive"),
		Entry("negative starting deadline", "", scheduleSpec("startingDeadlineSeconds", -1), "spec.startingDeadlineSeconds in body should be greater than or equal to 0"),
		Entry("zero successful history", "", scheduleSpec("successfulBackupsHistoryLimit", 0), "spec.successfulBackupsHistoryLimit in body should be greater than or equal to 1"),
		Entry("negative failed history", "", scheduleSpec("failedBackupsHistoryLimit", -1), "spec.failedBackupsHistoryLimit in body should be greater than or equal to 0"),
		Entry("suspend not a boolean", "", scheduleSpec("suspend", "yes"), "spec.suspend: Invalid value"),
		Entry("name over 52 characters", strings.Repeat("s", 53), scheduleSpec(), "the name of an EtcdBackupSchedule is at most 52 characters"),
	)

	It("refuses bad changes to an EtcdBackupSchedule and takes good ones", func(ctx SpecContext) {
		s := object("EtcdBackupSchedule", "", scheduleSpec("suspend", true))
		Expect(k8s.Create(ctx, s)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8s.Delete(ctx, s))).To(Succeed()) })
		patch := func(p string) error {
			return k8s.Patch(ctx, s.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(p)))
		}
		refused(patch(`{"spec":{"schedule":"every night"}}`), "schedule must be five cron fields")
		refused(patch(`{"spec":{"retention":{"keepLast":null,"maxAge":null}}}`), "retention needs keepLast, maxAge or both")
		refused(patch(`{"spec":{"backupTemplate":{"destination":{"pvc":{"claimName":"c"}}}}}`), "exactly one of s3 and pvc must be set")
		// The template is not immutable, unlike an EtcdBackup's spec.
		Expect(patch(`{"spec":{"schedule":"@hourly","backupTemplate":{"clusterName":"other","compression":"none"}}}`)).To(Succeed())
	})

	It("answers random EtcdCluster specs with a refusal or a stored object, never a server error", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		rng := rand.New(rand.NewPCG(20260101, 42))
		accepted, refusals := 0, 0
		check := func(what string, sent map[string]any, err error, u *unstructured.Unstructured) bool {
			GinkgoHelper()
			if err != nil {
				status, ok := err.(apierrors.APIStatus)
				Expect(ok).To(BeTrue(), "%s %v: not an API status: %v", what, sent, err)
				Expect(status.Status().Code).To(BeNumerically("<", 500), "%s %v: server error %v", what, sent, err)
				Expect(apierrors.IsInternalError(err)).To(BeFalse(), "%s %v: %v", what, sent, err)
				Expect(status.Status().Message).NotTo(BeEmpty(), "%s %v: refused without a message", what, sent)
				refusals++
				return false
			}
			accepted++
			stored := &unstructured.Unstructured{}
			stored.SetGroupVersionKind(u.GroupVersionKind())
			Expect(get(ctx, ns, u.GetName(), stored)()).To(Succeed())
			Expect(contains(stored.Object["spec"], normalize(sent))).To(BeTrue(), "%s: sent %v, stored %v", what, sent, stored.Object["spec"])
			// The operator reads what was stored with its own types.
			raw, err := json.Marshal(stored.Object)
			Expect(err).NotTo(HaveOccurred())
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			typed := &etcdv1.EtcdCluster{}
			Expect(dec.Decode(typed)).To(Succeed(), "%s: stored %s", what, raw)
			Expect(typed.Name).To(Equal(u.GetName()))
			return true
		}
		for i := range 200 {
			spec := randomClusterSpec(rng)
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": etcdv1.GroupVersion.String(), "kind": "EtcdCluster",
				"metadata": map[string]any{"name": fmt.Sprintf("rnd-%d", i), "namespace": ns}, "spec": spec}}
			if !check("create", spec, k8s.Create(ctx, u), u) {
				continue
			}
			// A second random spec as a merge patch exercises the rules on
			// changes (immutable fields, version steps, auth).
			change := randomClusterSpec(rng)
			body, err := json.Marshal(map[string]any{"spec": change})
			Expect(err).NotTo(HaveOccurred())
			err = k8s.Patch(ctx, u.DeepCopy(), client.RawPatch(types.MergePatchType, body))
			check("patch", change, err, u)
			Expect(k8s.Delete(ctx, u)).To(Succeed())
		}
		AddReportEntry("random EtcdCluster specs", fmt.Sprintf("%d accepted, %d refused", accepted, refusals))
		Expect(accepted).To(BeNumerically(">", 20), "the generator must produce valid specs too")
		Expect(refusals).To(BeNumerically(">", 20), "the generator must produce invalid specs too")
	})
})

// randomClusterSpec is a random subset of EtcdCluster spec fields. Most
// values are valid; one in eight is invalid (wrong type, out of range,
// malformed), and some combinations of valid values are forbidden.
func randomClusterSpec(rng *rand.Rand) map[string]any {
	pick := func(vs []any) any { return vs[rng.IntN(len(vs))] }
	// set sets key half of the time, to a valid or an invalid value.
	set := func(m map[string]any, key string, valid, invalid []any) {
		if rng.IntN(2) == 0 {
			return
		}
		if len(invalid) > 0 && rng.IntN(8) == 0 {
			m[key] = pick(invalid)
		} else {
			m[key] = pick(valid)
		}
	}
	type L = []any
	spec := map[string]any{}
	set(spec, "replicas", L{1, 3, 5, 9}, L{0, -1, 10, int64(1) << 40, "3", 2.5})
	set(spec, "version", L{"3.7.3", "3.7.0", "3.8.1", "3.6.9", "3.5.0"}, L{"4.0.0", "latest", "", "3.7", 3, "3.99999999999999999999.0"})
	storage := map[string]any{}
	set(storage, "medium", L{"PersistentVolume", "EmptyDir", "Memory"}, L{"Tape", ""})
	set(storage, "size", L{"1Gi", "1024Mi", "512Mi", 5}, L{"lots", "-1Gi"})
	set(storage, "storageClassName", L{"fast", "", "standard"}, nil)
	set(storage, "whenDeleted", L{"Retain", "Delete"}, L{"Keep"})
	set(storage, "whenScaled", L{"Retain", "Delete"}, L{1})
	set(spec, "storage", L{storage}, L{"big"})
	set(spec, "resources", L{map[string]any{"requests": map[string]any{"cpu": "100m"}, "limits": map[string]any{"memory": "1Gi"}}},
		L{map[string]any{"requests": map[string]any{"cpu": "lots"}}, map[string]any{"requests": "all"}})
	template := map[string]any{}
	set(template, "labels", L{map[string]any{"team": "db"}, map[string]any{"bad key!": "x"}}, L{map[string]any{"n": 1}})
	set(template, "annotations", L{map[string]any{"a": strings.Repeat("v", 300)}}, L{L{"a"}})
	set(template, "tolerations", L{L{map[string]any{"key": "k", "operator": "Exists", "effect": "NoSchedule"}}, L{map[string]any{"operator": "Bogus"}}}, L{"none"})
	set(template, "nodeSelector", L{map[string]any{"disk": "ssd"}}, L{map[string]any{"x": true}})
	set(template, "priorityClassName", L{"high"}, L{7})
	set(template, "affinity", L{map[string]any{"podAntiAffinity": map[string]any{}}}, L{map[string]any{"nodeAffinity": "near"}})
	set(spec, "podTemplate", L{template}, nil)
	options := map[string]any{}
	for range rng.IntN(3) {
		options[pick(L{"snapshot-count", "max-learners", "heartbeat-interval", "pre-vote", "log-level", "x-unknown", "--snapshot-count"}).(string)] = pick(L{"10000", "100", "true", "x"})
	}
	if rng.IntN(16) == 0 {
		options[pick(L{"name", "data-dir", "quota-backend-bytes", "initial-cluster"}).(string)] = "x"
	}
	if rng.IntN(16) == 0 {
		for i := range 33 {
			options[fmt.Sprintf("k%d", i)] = "v"
		}
	}
	set(spec, "etcdOptions", L{options}, L{map[string]any{"snapshot-count": 5}})
	set(spec, "quota", L{map[string]any{"backendBytes": pick(L{"64Mi", "256Mi", "2Gi", "8589934592"})}}, L{map[string]any{"backendBytes": pick(L{"2 gigs", 0, "-1"})}})
	set(spec, "compaction", L{map[string]any{"mode": pick(L{"periodic", "revision"}), "retention": pick(L{"1h", "10000", "1.5h"})}},
		L{map[string]any{"mode": "hourly"}, map[string]any{"retention": pick(L{"one hour", "-1h", ""})}})
	tls := map[string]any{}
	set(tls, "enabled", L{true, false}, L{"yes"})
	if rng.IntN(4) == 0 {
		// All three or, sometimes, only some: a forbidden combination.
		for _, k := range []string{"serverSecretName", "peerSecretName", "clientSecretName"} {
			if rng.IntN(8) != 0 {
				tls[k] = k
			}
		}
	}
	set(spec, "tls", L{tls}, nil)
	set(spec, "networkPolicy", L{map[string]any{"enabled": pick(L{true, false}), "allowedClients": L{map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"app": "api"}}}}},
		map[string]any{"enabled": true, "allowedClients": L{map[string]any{"ipBlock": map[string]any{"cidr": pick(L{"10.0.0.0/8", "not a cidr"})}}}}},
		L{map[string]any{"allowedClients": "all"}})
	set(spec, "auth", L{map[string]any{"enabled": pick(L{true, false})}, map[string]any{"rootPasswordSecretName": "pw"}}, L{map[string]any{"enabled": "no"}})
	set(spec, "monitoring", L{map[string]any{"podMonitor": pick(L{true, false}), "interval": pick(L{"30s", "1m30s"}), "labels": map[string]any{"release": "prom"}}},
		L{map[string]any{"interval": pick(L{"soon", ""})}})
	set(spec, "bootstrap", L{
		map[string]any{"restore": map[string]any{"backupName": "nightly"}},
		map[string]any{"restore": map[string]any{"source": map[string]any{"pvc": map[string]any{"claimName": "c"}}, "key": "a/b.db"}},
		map[string]any{},
	}, L{
		map[string]any{"restore": map[string]any{"source": map[string]any{"pvc": map[string]any{"claimName": "c"}}}},
		map[string]any{"restore": map[string]any{"backupName": "b", "source": map[string]any{"pvc": map[string]any{"claimName": "c"}}, "key": "k"}},
		map[string]any{"restore": map[string]any{}},
	})
	return spec
}

// normalize gives a value the shape a stored object has after a JSON round
// trip (numbers as float64, []any and map[string]any).
func normalize(v any) any {
	raw, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	var out any
	Expect(json.Unmarshal(raw, &out)).To(Succeed())
	return out
}

// contains reports whether every value in want is in got (got may hold
// more: defaults).
func contains(got, want any) bool {
	got = normalize(got)
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok || !contains(gv, wv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !contains(g[i], w[i]) {
				return false
			}
		}
		return true
	default:
		return got == want
	}
}
