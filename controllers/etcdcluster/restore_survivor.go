package etcdcluster

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
	"quorum.dev/etcd-operator/controllers/internal/podutil"
	"quorum.dev/etcd-operator/controllers/render"
)

// The cluster's side of an EtcdRestore fromSurvivor (recovery without a
// backup, after quorum loss):
//
//  1. choose the survivor: the member named, or among the members that
//     answer a status request (served locally, without quorum) the one
//     with the highest raft index; record it and the UIDs of the member
//     pods running now in status.restore;
//  2. name it in the ConfigMap (force-new-cluster = "<member>/<id>"), so
//     that its etcd starts once with --force-new-cluster;
//  3. restart every recorded pod once, all at once: the survivor comes back
//     as a one-member cluster with all its data; the others find that the
//     cluster no longer lists them, set their data dirs aside and wait to
//     be added again;
//  4. once the survivor's new pod runs and a quorum answers, clear the key
//     and record the recovery done. The membership planner then adds the
//     other members back as learners, one at a time.

// survivorCandidate is one member's answer to a status request.
type survivorCandidate struct {
	Name      string
	RaftIndex uint64
}

// chooseSurvivor picks the candidate with the highest raft index (the
// longest committed log); ties go to the first listed (the lowest
// ordinal). The current term says nothing here: a member cut off from the
// others raises its term with every election it starts. Pure.
func chooseSurvivor(cands []survivorCandidate) (string, bool) {
	best := -1
	for i, c := range cands {
		if best < 0 || c.RaftIndex > cands[best].RaftIndex {
			best = i
		}
	}
	if best < 0 {
		return "", false
	}
	return cands[best].Name, true
}

// startSurvivorRecovery carries out steps 1 and 2; p.inPlace is x.
func (r *Reconciler) startSurvivorRecovery(ctx context.Context, p *pass, x *etcdv1.EtcdRestore) error {
	c := p.cluster
	st := c.Status.Restore
	if st == nil || st.RestoreID != x.Status.RestoreID {
		survivor := x.Spec.FromSurvivor.Member
		if survivor != "" {
			log.FromContext(ctx).V(1).Info("restore decision: survivor named in the EtcdRestore", "restore", x.Name, "survivor", survivor)
		} else {
			var ok bool
			cands, err := r.survivorCandidates(ctx, p)
			if err != nil {
				return err
			}
			survivor, ok = chooseSurvivor(cands)
			log.FromContext(ctx).V(1).Info("restore decision: survivor chosen by raft index", "restore", x.Name, "candidates", cands, "survivor", survivor)
			if !ok {
				return &specError{etcdv1.ReasonNoSurvivor, "no member answers a status request, so none can be chosen as the survivor; name one in spec.fromSurvivor.member of EtcdRestore " + x.Name}
			}
		}
		pods, err := podutil.ListMembers(ctx, r.Client, c)
		if err != nil {
			return err
		}
		now := metav1.NewTime(r.now())
		st = &etcdv1.ClusterRestoreStatus{Name: x.Name, RestoreID: x.Status.RestoreID, StartTime: &now, Survivor: survivor}
		for _, pod := range pods {
			st.StoppedPods = append(st.StoppedPods, string(pod.UID))
		}
		c.Status.Restore = st
		r.Recorder.Eventf(c, x, corev1.EventTypeWarning, "ForceNewCluster", "Restore",
			"forcing a new cluster from surviving member %s (EtcdRestore %s); the other members will join it again empty", survivor, x.Name)
	}
	want := st.Survivor + "/" + st.RestoreID
	return r.setBootstrap(ctx, p, "the survivor starts once with --force-new-cluster", func(b *render.Bootstrap) { b.ForceNewCluster = want })
}

// survivorCandidates asks every member pod's client URL for its status.
func (r *Reconciler) survivorCandidates(ctx context.Context, p *pass) ([]survivorCandidate, error) {
	c := p.cluster
	replicas := p.stsReplicas
	if replicas == 0 {
		replicas = c.DesiredReplicas()
	}
	cl, _, err := r.connect(ctx, c, replicas)
	if err != nil {
		return nil, err
	}
	var out []survivorCandidate
	for i := 0; i < int(replicas); i++ {
		s, err := cl.Status(ctx, c.MemberClientURL(i, r.Render.Domain()))
		if err != nil || s.IsLearner {
			continue
		}
		out = append(out, survivorCandidate{Name: c.MemberName(i), RaftIndex: s.RaftIndex})
	}
	return out, nil
}

// stopForSurvivor restarts, once, every member pod that ran before the
// recovery started (step 3), once the ConfigMap names the survivor.
func (r *Reconciler) stopForSurvivor(ctx context.Context, p *pass) error {
	c := p.cluster
	st := c.Status.Restore
	if st == nil || p.boot.ForceNewCluster != st.Survivor+"/"+st.RestoreID {
		return nil
	}
	stopped, err := podutil.Restart(ctx, r.Client, c, func(pod *corev1.Pod) bool { return slices.Contains(st.StoppedPods, string(pod.UID)) })
	if err != nil {
		return err
	}
	if stopped > 0 {
		r.Recorder.Eventf(c, p.inPlace, corev1.EventTypeNormal, "MembersStopped", "Restore", "restarted %d member pod(s); %s starts as a new one-member cluster", stopped, st.Survivor)
	}
	return nil
}

// finishSurvivor records the recovery done once the survivor runs in a new
// pod and a quorum answers (step 4).
func (r *Reconciler) finishSurvivor(ctx context.Context, p *pass) error {
	c := p.cluster
	st := c.Status.Restore
	if st == nil || !p.obs.contacted || !p.obs.quorate() {
		return nil
	}
	pod := &corev1.Pod{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: st.Survivor}, pod); err != nil {
		return client.IgnoreNotFound(err)
	}
	if slices.Contains(st.StoppedPods, string(pod.UID)) || !podutil.Ready(pod) {
		return nil
	}
	if !slices.ContainsFunc(p.obs.list, func(m etcdclient.Member) bool { return m.Name == st.Survivor }) {
		return nil
	}
	if err := r.setBootstrap(ctx, p, "the survivor runs in a new pod and a quorum answers", func(b *render.Bootstrap) { b.ForceNewCluster = "" }); err != nil {
		return err
	}
	now := metav1.NewTime(r.now())
	st.Done, st.CompletionTime, st.ClusterID = true, &now, fmt.Sprintf("%x", p.obs.clusterID)
	r.Recorder.Eventf(c, p.inPlace, corev1.EventTypeNormal, "Restored", "Restore",
		"%s runs as a new cluster with all its data; the other members are added back one at a time", st.Survivor)
	p.inPlace = nil
	return nil
}
