package plugin

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	flag "github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// StatusInput is everything `status` shows, read from the API server: the
// cluster, its backups and schedules, and its certificates' expiry.
type StatusInput struct {
	Cluster      *etcdv1.EtcdCluster
	Backups      []etcdv1.EtcdBackup
	Schedules    []etcdv1.EtcdBackupSchedule
	Certificates []CertExpiry
}

// CertExpiry is the expiry of the certificate in one Secret's tls.crt, or
// why it could not be read.
type CertExpiry struct {
	Secret   string
	NotAfter time.Time
	Err      string
}

func runStatus(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	pos, err := parse(env, fs, args, 1)
	if err != nil {
		return err
	}
	in, err := gatherStatus(ctx, env, pos[0])
	if err != nil {
		return err
	}
	return RenderStatus(env.Out, in, time.Now())
}

func gatherStatus(ctx context.Context, env *Env, name string) (StatusInput, error) {
	c, err := getCluster(ctx, env, name)
	if err != nil {
		return StatusInput{}, err
	}
	in := StatusInput{Cluster: c}
	backups := &etcdv1.EtcdBackupList{}
	if err := env.Client.List(ctx, backups, client.InNamespace(c.Namespace)); err != nil {
		return in, fmt.Errorf("listing EtcdBackups: %w", err)
	}
	for _, b := range backups.Items {
		if b.Spec.ClusterName == name {
			in.Backups = append(in.Backups, b)
		}
	}
	schedules := &etcdv1.EtcdBackupScheduleList{}
	if err := env.Client.List(ctx, schedules, client.InNamespace(c.Namespace)); err != nil {
		return in, fmt.Errorf("listing EtcdBackupSchedules: %w", err)
	}
	for _, s := range schedules.Items {
		if s.Spec.BackupTemplate.ClusterName == name {
			in.Schedules = append(in.Schedules, s)
		}
	}
	if c.TLSEnabled() {
		for _, s := range []string{c.CASecretName(), c.ServerSecretName(), c.PeerSecretName(), c.ClientSecretName()} {
			in.Certificates = append(in.Certificates, readCertExpiry(ctx, env, c.Namespace, s))
		}
	}
	return in, nil
}

// readCertExpiry reads only the public certificate (tls.crt) of a Secret.
func readCertExpiry(ctx context.Context, env *Env, ns, name string) CertExpiry {
	s := &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		return CertExpiry{Secret: name, Err: err.Error()}
	}
	notAfter, err := certNotAfter(s.Data[corev1.TLSCertKey])
	if err != nil {
		return CertExpiry{Secret: name, Err: err.Error()}
	}
	return CertExpiry{Secret: name, NotAfter: notAfter}
}

// certNotAfter is the expiry of the first certificate in a PEM bundle.
func certNotAfter(pemBytes []byte) (time.Time, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE" {
		return time.Time{}, fmt.Errorf("tls.crt holds no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return time.Time{}, fmt.Errorf("parsing tls.crt: %w", err)
	}
	return cert.NotAfter, nil
}

// RenderStatus writes the status screen of in as of now: a header, the
// members table, certificates, backups, conditions and the operation under
// way. It reads nothing but its arguments.
func RenderStatus(w io.Writer, in StatusInput, now time.Time) error {
	c := in.Cluster
	var b strings.Builder
	fmt.Fprintf(&b, "Cluster    %s/%s\n", c.Namespace, c.Name)
	fmt.Fprintf(&b, "Version    %s   Replicas %d desired, %d ready\n", orDash(c.Spec.Version), c.DesiredReplicas(), c.Status.ReadyReplicas)
	fmt.Fprintf(&b, "Endpoint   %s\n", orDash(c.Status.ClientEndpoint))
	fmt.Fprintf(&b, "Cluster ID %s   TLS %s   Auth %s\n", orDash(c.Status.ClusterID), onOff(c.TLSEnabled()), onOff(c.Status.AuthEnabled))
	if c.Status.Storage != nil && c.Status.Storage.Capacity != nil {
		fmt.Fprintf(&b, "Storage    %s volumes (%s)\n", c.Status.Storage.Capacity.String(), orDash(string(c.Spec.Storage.Medium)))
	}
	fmt.Fprintf(&b, "Operation  %s\n", Operation(c))

	b.WriteString("\nMembers\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tID\tROLE\tVERSION\tHEALTHY\tDB SIZE\tIN USE\tALARMS\tERROR")
	members := append([]etcdv1.MemberStatus(nil), c.Status.Members...)
	sort.Slice(members, func(i, j int) bool { return memberLess(c, members[i].Name, members[j].Name) })
	for _, m := range members {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, orDash(m.ID), orDash(string(m.Role)), orDash(m.Version),
			yesNo(m.Healthy), bytesOrDash(m.DBSize), bytesOrDash(m.DBSizeInUse), orDash(strings.Join(m.Alarms, ",")), orDash(m.Error))
	}
	if len(members) == 0 {
		fmt.Fprintln(tw, "  (none observed yet)")
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(in.Certificates) > 0 {
		b.WriteString("\nCertificates\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, ce := range in.Certificates {
			if ce.Err != "" {
				fmt.Fprintf(tw, "  %s\t%s\n", ce.Secret, "unreadable: "+ce.Err)
				continue
			}
			fmt.Fprintf(tw, "  %s\texpires %s (in %s)\n", ce.Secret, ce.NotAfter.UTC().Format(time.RFC3339), humanDuration(ce.NotAfter.Sub(now)))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	b.WriteString("\nBackups\n")
	renderBackups(&b, in, now)

	b.WriteString("\nConditions\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, cond := range c.Status.Conditions {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s ago\t%s\n", cond.Type, cond.Status, cond.Reason, humanDuration(now.Sub(cond.LastTransitionTime.Time)), cond.Message)
	}
	if len(c.Status.Conditions) == 0 {
		fmt.Fprintln(tw, "  (none yet)")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func renderBackups(b *strings.Builder, in StatusInput, now time.Time) {
	var last *etcdv1.EtcdBackup
	running := 0
	for i := range in.Backups {
		bk := &in.Backups[i]
		switch bk.Status.Phase {
		case etcdv1.BackupSucceeded:
			if bk.Status.CompletionTime != nil && (last == nil || last.Status.CompletionTime.Before(bk.Status.CompletionTime)) {
				last = bk
			}
		case etcdv1.BackupFailed:
		default:
			running++
		}
	}
	if last != nil {
		fmt.Fprintf(b, "  Last backup  %s, %s ago, revision %d, %s\n", last.Name, humanDuration(now.Sub(last.Status.CompletionTime.Time)), last.Status.Revision, orDash(last.Status.Location))
	} else {
		b.WriteString("  Last backup  none succeeded\n")
	}
	if running > 0 {
		fmt.Fprintf(b, "  In progress  %d\n", running)
	}
	for _, s := range in.Schedules {
		ready := "Ready unknown"
		if cond := meta.FindStatusCondition(s.Status.Conditions, etcdv1.ScheduleConditionReady); cond != nil {
			ready = fmt.Sprintf("Ready %s (%s)", cond.Status, cond.Reason)
		}
		suspended := ""
		if s.Spec.Suspend {
			suspended = ", suspended"
		}
		fmt.Fprintf(b, "  Schedule     %s %q%s, %s\n", s.Name, s.Spec.Schedule, suspended, ready)
	}
	if len(in.Schedules) == 0 {
		b.WriteString("  Schedule     none\n")
	}
}

// Operation names what the operator is doing to the cluster, from its
// status: a TLS migration, a CA rotation, an in-place restore (or the undo
// of one that failed), a defragmentation round, else Progressing's reason
// when it is True, else "none".
func Operation(c *etcdv1.EtcdCluster) string {
	switch {
	case c.Paused():
		return "paused (" + etcdv1.AnnotationPaused + "=true): the operator changes nothing until `kubectl quorum resume " + c.Name + "`"
	case c.Status.TLSMigration != nil:
		return "TLS migration, phase " + string(c.Status.TLSMigration.Phase)
	case c.Status.CertificateAuthority != nil && c.Status.CertificateAuthority.Rotation != nil:
		r := c.Status.CertificateAuthority.Rotation
		return fmt.Sprintf("CA rotation (%s), phase %s", orDash(r.Reason), r.Phase)
	case c.Status.Restore != nil && c.Status.Restore.Failure != "" && !c.Status.Restore.Done && !c.Status.Restore.RolledBack:
		return "undoing the failed in-place restore " + c.Status.Restore.Name + ": " + c.Status.Restore.Failure
	case c.Status.Restore != nil && !c.Status.Restore.Done && !c.Status.Restore.RolledBack:
		return "in-place restore " + c.Status.Restore.Name
	case c.Status.Defragmentation != nil && c.Status.Defragmentation.Trigger != "":
		return fmt.Sprintf("defragmentation (%s), pending %s", c.Status.Defragmentation.Trigger, orDash(strings.Join(c.Status.Defragmentation.Pending, ",")))
	}
	if p := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionProgressing); p != nil && p.Status == "True" {
		return p.Reason + ": " + p.Message
	}
	return "none"
}

// memberLess orders members by ordinal (db-2 before db-10), names that are
// not members of c last, by name.
func memberLess(c *etcdv1.EtcdCluster, a, b string) bool {
	oa, okA := c.MemberOrdinal(a)
	ob, okB := c.MemberOrdinal(b)
	if okA && okB {
		return oa < ob
	}
	if okA != okB {
		return okA
	}
	return a < b
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// bytesOrDash writes a size in binary units (KiB, MiB, GiB), "-" for 0.
func bytesOrDash(n int64) string {
	if n <= 0 {
		return "-"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// humanDuration is a rounded duration: 45s, 12m, 5h, 89d; negative
// durations (a time in the past for an expiry) read "-3d".
func humanDuration(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%s%ds", sign, int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%s%dm", sign, int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%s%dh", sign, int(d.Hours()))
	}
	return fmt.Sprintf("%s%dd", sign, int(d.Hours()/24))
}
