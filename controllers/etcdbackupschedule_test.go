package controllers

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/robfig/cron/v3"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/etcdserver/backup/s3test"
	"quorum.dev/etcd-operator/internal/contract"
)

// setScheduleClock makes the reconcilers' clock read t now, and run on
// from there.
func setScheduleClock(t time.Time) { clockOffset.Store(int64(time.Until(t))) }

var _ = Describe("EtcdBackupSchedule", func() {
	const timeout, poll = 20 * time.Second, 100 * time.Millisecond
	dest := etcdv1.BackupLocation{S3: &etcdv1.S3Location{Endpoint: "s3:9000", Bucket: "bkt", CredentialsSecretName: "creds"}}

	BeforeEach(func() { DeferCleanup(func() { clockOffset.Store(0) }) })

	// farMinute is a minute of the hour about 30 minutes away, so no slot
	// of "<farMinute> * * * *" comes by itself while a spec runs.
	farMinute := func() int { return (time.Now().UTC().Minute() + 30) % 60 }

	newSchedule := func(ctx context.Context, ns, name, expr string, mutate func(*etcdv1.EtcdBackupScheduleSpec)) *etcdv1.EtcdBackupSchedule {
		s := &etcdv1.EtcdBackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: etcdv1.EtcdBackupScheduleSpec{
			Schedule:       expr,
			BackupTemplate: etcdv1.EtcdBackupTemplate{ClusterName: "db", Destination: dest},
		}}
		if mutate != nil {
			mutate(&s.Spec)
		}
		Expect(k8s.Create(ctx, s)).To(Succeed())
		return s
	}
	// change updates the spec, retrying on conflicts with status writes.
	change := func(ctx context.Context, s *etcdv1.EtcdBackupSchedule, mutate func(*etcdv1.EtcdBackupScheduleSpec)) {
		Eventually(func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(s), s); err != nil {
				return err
			}
			mutate(&s.Spec)
			return k8s.Update(ctx, s)
		}, timeout, poll).Should(Succeed())
	}
	// poke makes the reconciler run a pass now.
	poke := func(ctx context.Context, s *etcdv1.EtcdBackupSchedule) {
		patch := fmt.Sprintf(`{"metadata":{"annotations":{"test.quorum.dev/poke":%q}}}`, time.Now().Format(time.RFC3339Nano))
		Expect(k8s.Patch(ctx, s, client.RawPatch(types.MergePatchType, []byte(patch)))).To(Succeed())
	}
	backupsOf := func(ctx context.Context, s *etcdv1.EtcdBackupSchedule) func() []string {
		return func() []string {
			l := &etcdv1.EtcdBackupList{}
			Expect(k8s.List(ctx, l, client.InNamespace(s.Namespace), client.MatchingLabels{etcdv1.LabelBackupSchedule: s.Name})).To(Succeed())
			out := []string{}
			for _, b := range l.Items {
				out = append(out, b.Name)
			}
			return out
		}
	}
	status := func(ctx context.Context, s *etcdv1.EtcdBackupSchedule) func() etcdv1.EtcdBackupScheduleStatus {
		return func() etcdv1.EtcdBackupScheduleStatus {
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(s), s)).To(Succeed())
			return s.Status
		}
	}
	ready := func(ctx context.Context, s *etcdv1.EtcdBackupSchedule) func() *metav1.Condition {
		return func() *metav1.Condition {
			return meta.FindStatusCondition(status(ctx, s)().Conditions, etcdv1.ScheduleConditionReady)
		}
	}
	nextSlot := func(ctx context.Context, s *etcdv1.EtcdBackupSchedule) time.Time {
		var next time.Time
		Eventually(func(g Gomega) {
			st := status(ctx, s)()
			g.Expect(st.NextScheduleTime).NotTo(BeNil())
			next = st.NextScheduleTime.Time
		}, timeout, poll).Should(Succeed())
		return next.UTC()
	}
	timeOf := func(t *metav1.Time) time.Time {
		if t == nil {
			return time.Time{}
		}
		return t.UTC()
	}
	eventReasons := func(ctx context.Context, ns string) func() []string {
		return func() []string {
			l := &eventsv1.EventList{}
			Expect(k8s.List(ctx, l, client.InNamespace(ns))).To(Succeed())
			out := []string{}
			for _, e := range l.Items {
				out = append(out, e.Type+"/"+e.Reason)
			}
			return out
		}
	}

	It("is validated at admission and defaulted", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		s := newSchedule(ctx, ns, "defaults", "@daily", nil)
		Expect(s.Spec.Retention).To(Equal(&etcdv1.BackupRetention{KeepLast: ptr.To[int32](7)}))
		Expect(s.Spec.FailedBackupsHistoryLimit).To(Equal(ptr.To[int32](1)))
		Expect(s.Spec.BackupTemplate.Compression).To(Equal("zstd"))

		for _, c := range []struct {
			name   string
			mutate func(*etcdv1.EtcdBackupSchedule)
			err    string
		}{
			{"two fields", func(s *etcdv1.EtcdBackupSchedule) { s.Spec.Schedule = "every day" }, "schedule must be five cron fields"},
			{"six fields", func(s *etcdv1.EtcdBackupSchedule) { s.Spec.Schedule = "0 0 * * * *" }, "schedule must be five cron fields"},
			{"time zone prefix", func(s *etcdv1.EtcdBackupSchedule) { s.Spec.Schedule = "CRON_TZ=UTC 0 * * * *" }, "schedule must be five cron fields"},
			{"long name", func(s *etcdv1.EtcdBackupSchedule) { s.Name = strings.Repeat("n", 53) }, "at most 52 characters"},
			{"empty retention", func(s *etcdv1.EtcdBackupSchedule) { s.Spec.Retention = &etcdv1.BackupRetention{} }, "retention needs keepLast, maxAge or both"},
			{"keepLast 0", func(s *etcdv1.EtcdBackupSchedule) {
				s.Spec.Retention = &etcdv1.BackupRetention{KeepLast: ptr.To[int32](0)}
			}, "keepLast"},
			{"zero maxAge", func(s *etcdv1.EtcdBackupSchedule) {
				s.Spec.Retention = &etcdv1.BackupRetention{MaxAge: &metav1.Duration{Duration: 0}}
			}, "maxAge must be positive"},
			{"no destination", func(s *etcdv1.EtcdBackupSchedule) { s.Spec.BackupTemplate.Destination = etcdv1.BackupLocation{} }, "exactly one of s3 and pvc"},
		} {
			bad := &etcdv1.EtcdBackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: ns}, Spec: etcdv1.EtcdBackupScheduleSpec{
				Schedule: "0 * * * *", BackupTemplate: etcdv1.EtcdBackupTemplate{ClusterName: "db", Destination: dest}}}
			c.mutate(bad)
			err := k8s.Create(ctx, bad)
			Expect(err).To(HaveOccurred(), c.name)
			Expect(err.Error()).To(ContainSubstring(c.err), c.name)
		}
		// "7d" is not a Go duration: refused by the pattern, never stored.
		raw := []byte(`{"apiVersion":"etcd.quorum.dev/v1alpha1","kind":"EtcdBackupSchedule","metadata":{"name":"days","namespace":"` + ns + `"},
			"spec":{"schedule":"@daily","retention":{"maxAge":"7d"},"backupTemplate":{"clusterName":"db","destination":{"pvc":{"claimName":"c"}}}}}`)
		u := &etcdv1.EtcdBackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: "days", Namespace: ns}}
		err := k8s.Patch(ctx, u, client.RawPatch(types.ApplyPatchType, raw), client.FieldOwner("test"))
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.retention.maxAge"))

		// The template is not immutable, unlike an EtcdBackup's spec.
		change(ctx, s, func(sp *etcdv1.EtcdBackupScheduleSpec) { sp.BackupTemplate.ClusterName = "other" })
	})

	It("reports an invalid schedule or time zone as a condition and an event", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		// Admission refuses a value out of bounds (61 minutes); a range that
		// runs backwards is what only the controller can find.
		s := newSchedule(ctx, ns, "bad", "0 5-1 * * *", nil)
		Eventually(func(g Gomega) {
			c := ready(ctx, s)()
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(etcdv1.ReasonInvalidSchedule))
			g.Expect(c.Message).To(ContainSubstring("beyond end of range"))
			g.Expect(s.Status.NextScheduleTime).To(BeNil())
			g.Expect(s.Status.ObservedGeneration).To(Equal(s.Generation))
		}, timeout, poll).Should(Succeed())
		Eventually(eventReasons(ctx, ns), timeout, poll).Should(ContainElement("Warning/InvalidSchedule"))

		// A time zone that does not exist is refused at admission (the
		// reconciler's own check stays behind it).
		bad := &etcdv1.EtcdBackupSchedule{}
		Expect(get(ctx, ns, s.Name, bad)()).To(Succeed())
		bad.Spec.Schedule, bad.Spec.TimeZone = "0 3 * * *", ptr.To("Mars/Olympus_Mons")
		err := k8s.Update(ctx, bad)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("Mars/Olympus_Mons is not an IANA time zone name"))

		change(ctx, s, func(sp *etcdv1.EtcdBackupScheduleSpec) {
			sp.Schedule, sp.TimeZone = "0 3 * * *", ptr.To("Europe/Berlin")
		})
		Eventually(func(g Gomega) {
			c := ready(ctx, s)()
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Reason).To(Equal(etcdv1.ReasonScheduled))
			g.Expect(s.Status.NextScheduleTime).NotTo(BeNil())
			g.Expect(s.Status.NextScheduleTime.In(time.UTC).Hour()).To(BeElementOf(1, 2)) // 03:00 in Berlin
		}, timeout, poll).Should(Succeed())
		Expect(backupsOf(ctx, s)()).To(BeEmpty())
	})

	It("creates one EtcdBackup for the due slot, once, and one per pass however many were missed", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		s := newSchedule(ctx, ns, "nightly", fmt.Sprintf("%d * * * *", farMinute()), func(sp *etcdv1.EtcdBackupScheduleSpec) {
			sp.FailedBackupsHistoryLimit = ptr.To[int32](10) // no cluster: every backup fails
			sp.BackupTemplate.Compression = "none"
		})
		n1 := nextSlot(ctx, s)
		Consistently(backupsOf(ctx, s), time.Second, poll).Should(BeEmpty())

		setScheduleClock(n1.Add(5 * time.Second))
		poke(ctx, s)
		first := s.BackupName(n1)
		Eventually(backupsOf(ctx, s), timeout, poll).Should(ConsistOf(first))
		b := &etcdv1.EtcdBackup{}
		Expect(get(ctx, ns, first, b)()).To(Succeed())
		Expect(metav1.IsControlledBy(b, s)).To(BeTrue())
		Expect(b.Annotations).To(HaveKeyWithValue(etcdv1.AnnotationScheduledAt, n1.Format(time.RFC3339)))
		Expect(b.Spec.ClusterName).To(Equal("db"))
		Expect(b.Spec.Compression).To(Equal("none"))
		Expect(b.Spec.Destination).To(Equal(dest))
		Eventually(func(g Gomega) {
			st := status(ctx, s)()
			g.Expect(timeOf(st.LastScheduleTime)).To(BeTemporally("==", n1))
			g.Expect(timeOf(st.NextScheduleTime)).To(BeTemporally("==", n1.Add(time.Hour)))
		}, timeout, poll).Should(Succeed())
		Eventually(eventReasons(ctx, ns), timeout, poll).Should(ContainElement("Normal/BackupCreated"))

		By("running the pass again")
		poke(ctx, s)
		poke(ctx, s)
		Consistently(backupsOf(ctx, s), 2*time.Second, poll).Should(ConsistOf(first))

		By("running it again after its status write was lost")
		Expect(k8s.Status().Patch(ctx, s, client.RawPatch(types.MergePatchType, []byte(`{"status":{"lastScheduleTime":null}}`)))).To(Succeed())
		poke(ctx, s)
		Eventually(func() time.Time { return timeOf(status(ctx, s)().LastScheduleTime) }, timeout, poll).Should(BeTemporally("==", n1))
		Consistently(backupsOf(ctx, s), 2*time.Second, poll).Should(ConsistOf(first))

		By("coming back after three missed slots")
		setScheduleClock(n1.Add(3*time.Hour + 5*time.Second))
		poke(ctx, s)
		Eventually(backupsOf(ctx, s), timeout, poll).Should(ConsistOf(first, s.BackupName(n1.Add(3*time.Hour))))
		Consistently(backupsOf(ctx, s), 2*time.Second, poll).Should(HaveLen(2))

		By("missing a slot by more than the starting deadline")
		change(ctx, s, func(sp *etcdv1.EtcdBackupScheduleSpec) { sp.StartingDeadlineSeconds = ptr.To[int64](60) })
		setScheduleClock(n1.Add(4*time.Hour + 2*time.Minute))
		poke(ctx, s)
		Eventually(func() time.Time { return timeOf(status(ctx, s)().LastSkippedTime) }, timeout, poll).Should(BeTemporally("==", n1.Add(4*time.Hour)))
		Eventually(eventReasons(ctx, ns), timeout, poll).Should(ContainElement("Warning/MissedSchedule"))
		Consistently(backupsOf(ctx, s), 2*time.Second, poll).Should(HaveLen(2))

		setScheduleClock(n1.Add(5*time.Hour + 10*time.Second))
		poke(ctx, s)
		Eventually(backupsOf(ctx, s), timeout, poll).Should(ContainElement(s.BackupName(n1.Add(5 * time.Hour))))
		Consistently(backupsOf(ctx, s), 2*time.Second, poll).Should(HaveLen(3))
	})

	It("skips a slot while the previous backup is still running", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		// A cluster that never becomes available: its backups stay Pending.
		Expect(k8s.Create(ctx, &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](1)}})).To(Succeed())
		s := newSchedule(ctx, ns, "hourly", fmt.Sprintf("%d * * * *", farMinute()), nil)
		n1 := nextSlot(ctx, s)
		setScheduleClock(n1.Add(5 * time.Second))
		poke(ctx, s)
		first := s.BackupName(n1)
		Eventually(func(g Gomega) {
			b := &etcdv1.EtcdBackup{}
			g.Expect(get(ctx, ns, first, b)()).To(Succeed())
			g.Expect(b.Status.Phase).To(Equal(etcdv1.BackupPending))
			g.Expect(status(ctx, s)().Active).To(Equal(first))
		}, timeout, poll).Should(Succeed())

		setScheduleClock(n1.Add(time.Hour + 5*time.Second))
		poke(ctx, s)
		Eventually(func() time.Time { return timeOf(status(ctx, s)().LastSkippedTime) }, timeout, poll).Should(BeTemporally("==", n1.Add(time.Hour)))
		Eventually(eventReasons(ctx, ns), timeout, poll).Should(ContainElement("Warning/BackupSkipped"))
		Consistently(backupsOf(ctx, s), 2*time.Second, poll).Should(ConsistOf(first))
		st := status(ctx, s)()
		Expect(st.Active).To(Equal(first))
		Expect(timeOf(st.LastScheduleTime)).To(BeTemporally("==", n1))
		Expect(timeOf(st.NextScheduleTime)).To(BeTemporally("==", n1.Add(2*time.Hour)))
	})

	It("creates nothing while suspended, and runs the most recent missed slot once when resumed", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		expr := fmt.Sprintf("%d * * * *", farMinute())
		s := newSchedule(ctx, ns, "paused", expr, func(sp *etcdv1.EtcdBackupScheduleSpec) { sp.Suspend = true })
		Eventually(func(g Gomega) {
			c := ready(ctx, s)()
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(etcdv1.ReasonSuspended))
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(s.Status.NextScheduleTime).To(BeNil())
		}, timeout, poll).Should(Succeed())
		sched, err := cron.ParseStandard(expr)
		Expect(err).NotTo(HaveOccurred())
		n1 := sched.Next(s.CreationTimestamp.UTC()).UTC()

		setScheduleClock(n1.Add(time.Hour + 5*time.Second))
		poke(ctx, s)
		Consistently(backupsOf(ctx, s), 2*time.Second, poll).Should(BeEmpty())

		change(ctx, s, func(sp *etcdv1.EtcdBackupScheduleSpec) { sp.Suspend = false })
		Eventually(backupsOf(ctx, s), timeout, poll).Should(ConsistOf(s.BackupName(n1.Add(time.Hour))))
		Consistently(backupsOf(ctx, s), 2*time.Second, poll).Should(HaveLen(1))
	})

	It("expires old succeeded backups from S3 and then their EtcdBackups, never others", func(ctx SpecContext) {
		srv := s3test.Start(GinkgoTB())
		bucket, mc := srv.NewBucket(GinkgoTB()), srv.Client(GinkgoTB())
		ns := newNamespace(ctx)
		loc := etcdv1.BackupLocation{S3: &etcdv1.S3Location{Endpoint: srv.Endpoint, Bucket: bucket, Prefix: "snaps", Insecure: true, CredentialsSecretName: "s3-creds"}}
		s := newSchedule(ctx, ns, "keep", "@daily", func(sp *etcdv1.EtcdBackupScheduleSpec) {
			sp.Suspend = true // retention only: no backup is created
			sp.BackupTemplate.Destination = loc
			sp.Retention = &etcdv1.BackupRetention{KeepLast: ptr.To[int32](3), MaxAge: &metav1.Duration{Duration: 48 * time.Hour}}
			sp.FailedBackupsHistoryLimit = ptr.To[int32](10)
		})
		now := testClock()

		// put makes a backup of the schedule (or an unowned one with its
		// label) and sets its status: phase, completed hoursAgo, and key.
		put := func(name string, dst etcdv1.BackupLocation, phase etcdv1.BackupPhase, hoursAgo int, owned bool) string {
			b := &etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: s.BackupLabels()},
				Spec: etcdv1.EtcdBackupSpec{ClusterName: "db", Destination: dst}}
			if owned {
				Expect(controllerutil.SetControllerReference(s, b, k8s.Scheme())).To(Succeed())
			}
			Expect(k8s.Create(ctx, b)).To(Succeed())
			// No cluster "db": the backup reconciler fails it at once and
			// never looks at it again; only then is the status set here.
			Eventually(func() etcdv1.BackupPhase { _ = get(ctx, ns, name, b)(); return b.Status.Phase }, timeout, poll).Should(Equal(etcdv1.BackupFailed))
			key := "snaps/" + ns + "/db/" + name + ".db"
			done := metav1.NewTime(now.Add(-time.Duration(hoursAgo) * time.Hour))
			b.Status = etcdv1.EtcdBackupStatus{Phase: phase, Key: key, CompletionTime: &done}
			Expect(k8s.Status().Update(ctx, b)).To(Succeed())
			if dst.S3 != nil {
				for _, k := range []string{key, key + contract.ManifestSuffix} {
					_, err := mc.PutObject(ctx, bucket, k, bytes.NewReader([]byte(k)), int64(len(k)), minio.PutObjectOptions{})
					Expect(err).NotTo(HaveOccurred())
				}
			}
			return key
		}
		pvc := etcdv1.BackupLocation{PVC: &etcdv1.PVCLocation{ClaimName: "backups"}}
		keys := map[string]string{}
		for _, c := range []struct {
			name     string
			dst      etcdv1.BackupLocation
			phase    etcdv1.BackupPhase
			hoursAgo int
			owned    bool
		}{
			{"b1", loc, etcdv1.BackupSucceeded, 1, true},
			{"b2", loc, etcdv1.BackupSucceeded, 30, true},
			{"b3", loc, etcdv1.BackupSucceeded, 50, true},  // third newest, but older than maxAge
			{"b4", loc, etcdv1.BackupSucceeded, 70, true},  // beyond keepLast and maxAge
			{"b5", loc, etcdv1.BackupSucceeded, 500, true}, // beyond both
			{"p6", pvc, etcdv1.BackupSucceeded, 600, true}, // on a claim: waits for its prune Job
			{"f7", loc, etcdv1.BackupFailed, 700, true},    // failed: never retention's
			{"u8", loc, etcdv1.BackupSucceeded, 800, false},
		} {
			keys[c.name] = put(c.name, c.dst, c.phase, c.hoursAgo, c.owned)
		}
		_, err := mc.PutObject(ctx, bucket, "snaps/other.db", bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{})
		Expect(err).NotTo(HaveOccurred())
		objects := func() []string {
			var out []string
			for o := range mc.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
				Expect(o.Err).NotTo(HaveOccurred())
				out = append(out, o.Key)
			}
			return out
		}
		stored := func(names ...string) []string {
			out := []string{"snaps/other.db"}
			for _, n := range names {
				out = append(out, keys[n], keys[n]+contract.ManifestSuffix)
			}
			return out
		}

		By("without credentials: nothing is deleted from S3 nor its EtcdBackups; the claim's backup waits for its prune Job")
		poke(ctx, s)
		Eventually(func(g Gomega) {
			c := ready(ctx, s)()
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(etcdv1.ReasonRetentionFailed))
			g.Expect(c.Message).To(ContainSubstring("secret s3-creds not found"))
		}, timeout, poll).Should(Succeed())
		Eventually(backupsOf(ctx, s), timeout, poll).Should(ConsistOf("b1", "b2", "b3", "b4", "b5", "f7", "p6", "u8"))
		Expect(objects()).To(ConsistOf(stored("b1", "b2", "b3", "b4", "b5", "f7", "u8")))
		Eventually(eventReasons(ctx, ns), timeout, poll).Should(ContainElements("Warning/RetentionFailed", "Normal/BackupExpiring"))

		By("with credentials")
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3-creds", Namespace: ns},
			StringData: map[string]string{"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey}})).To(Succeed())
		poke(ctx, s)
		Eventually(backupsOf(ctx, s), timeout, poll).Should(ConsistOf("b1", "b2", "f7", "p6", "u8"))
		Expect(objects()).To(ConsistOf(stored("b1", "b2", "f7", "u8")))
		Eventually(func(g Gomega) {
			c := ready(ctx, s)()
			g.Expect(c.Reason).To(Equal(etcdv1.ReasonSuspended))
			g.Expect(s.Status.LastSuccessfulBackup).To(Equal("b1"))
		}, timeout, poll).Should(Succeed())
		Consistently(backupsOf(ctx, s), 2*time.Second, poll).Should(HaveLen(5))
	})
})
