package etcdcluster

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
	"quorum.dev/etcd-operator/controllers/internal/podutil"
	"quorum.dev/etcd-operator/controllers/internal/rootclient"
	"quorum.dev/etcd-operator/controllers/membership"
	"quorum.dev/etcd-operator/controllers/render"
)

// observation is what the operator learned from etcd in one pass.
type observation struct {
	contacted bool   // at least one member answered the member list
	err       error  // why the cluster could not be reached, if it could not
	clusterID uint64 // from the member list header
	leader    uint64
	members   []etcdv1.MemberStatus
	voters    int // voting members in the member list
	list      []etcdclient.Member
	statuses  map[uint64]etcdclient.Status // by member ID, for members that answered
	// alarms is the cluster's alarm list (etcd keeps one for the whole
	// cluster): from the Alarm RPC when it answered, else from the members'
	// statuses.
	alarms []etcdclient.Alarm
}

// hasAlarm reports whether alarm t is raised on any member.
func (o observation) hasAlarm(t etcdclient.AlarmType) bool {
	for _, a := range o.alarms {
		if a.Type == t {
			return true
		}
	}
	return false
}

// healthyVoters counts voting members that answered a status request.
func (o observation) healthyVoters() int {
	n := 0
	for _, m := range o.members {
		if m.Healthy && m.Role != etcdv1.RoleLearner {
			n++
		}
	}
	return n
}

// quorate reports whether a quorum of voters answers and there is a leader.
func (o observation) quorate() bool {
	return o.contacted && o.voters > 0 && o.healthyVoters() >= membership.Quorum(o.voters) && o.leader != 0
}

func (o observation) healthyCount() int {
	n := 0
	for _, m := range o.members {
		if m.Healthy {
			n++
		}
	}
	return n
}

// eventClusterFormed is the reason of the event announcing formation.
const eventClusterFormed = "ClusterFormed"

// memberName is the member's name in etcd's member list, or, for a member
// added but not started yet (etcd lists it without a name), the name of
// the ordinal its peer URL belongs to; "" if it matches none.
func (r *Reconciler) memberName(c *etcdv1.EtcdCluster, m etcdclient.Member) string {
	if m.Name != "" {
		return m.Name
	}
	if len(m.PeerURLs) == 0 {
		return ""
	}
	if o, ok := ordinalOfPeerURL(c, m.PeerURLs[0], r.Render.Domain()); ok {
		return c.MemberName(o)
	}
	return ""
}

// ordinalOfPeerURL finds the ordinal whose host the peer URL names,
// among the largest number of members a cluster may have and some slack.
// The scheme and port are not compared: a TLS migration moves them.
func ordinalOfPeerURL(c *etcdv1.EtcdCluster, raw, domain string) (int, bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return 0, false
	}
	for o := 0; o < maxOrdinal; o++ {
		if c.MemberHost(o, domain) == u.Hostname() {
			return o, true
		}
	}
	return 0, false
}

// servedURL is a member's advertised client URL in the scheme every
// member serves now (EtcdCluster.Scheme): during a TLS migration a member
// may advertise https while the operator still talks http to all, or the
// other way round; both are served on the one client port.
func servedURL(c *etcdv1.EtcdCluster, advertised string) string {
	u, err := url.Parse(advertised)
	if err != nil {
		return advertised
	}
	u.Scheme = c.Scheme()
	return u.String()
}

// maxOrdinal bounds the ordinals searched for a peer URL: spec.replicas is
// at most 9, and members of an earlier, larger StatefulSet may linger.
const maxOrdinal = 32

// clientConfig builds the connection settings for a cluster
// (rootclient.Config); user-supplied certificates are read from the API
// server (the operator's cache holds only its own Secrets). Passwords (TLS off) are added by connect.
func (r *Reconciler) clientConfig(ctx context.Context, c *etcdv1.EtcdCluster, replicas int32) (etcdclient.Config, string, error) {
	return rootclient.Config(ctx, r.reader(c.ClientSecretName() != c.OperatorClientSecretName()), c, r.Render.Domain(), replicas)
}

// connect returns a (cached) client for the cluster. With TLS off and auth
// wanted it authenticates as root with the first password etcd accepts
// (passwordCandidates; etcd without auth accepts any), and returns it; if
// etcd rejects them all, the error is an *authRejectedError.
func (r *Reconciler) connect(ctx context.Context, c *etcdv1.EtcdCluster, replicas int32) (etcdclient.Client, string, error) {
	cfg, credsVersion, err := r.clientConfig(ctx, c, replicas)
	if err != nil {
		return nil, "", err
	}
	key := types.NamespacedName{Namespace: c.Namespace, Name: c.Name}
	if c.ClientTLS() || !c.AuthEnabled() {
		cl, err := r.Clients.Get(key, credsVersion, cfg)
		return cl, "", err
	}
	// With no "password" key in a user's Secret, desired is the recorded
	// password; ensureAuth reports the missing key.
	desired, _, err := r.rootPassword(ctx, c)
	if err != nil {
		return nil, "", err
	}
	rec, _, err := r.readRecord(ctx, c)
	if err != nil {
		return nil, "", err
	}
	candidates := passwordCandidates(desired, rec, nil)
	var source string
	lastErr := errNoCandidate
	for i := 0; i < len(candidates); i++ {
		pw := candidates[i]
		cfg.Username, cfg.Password = etcdclient.RootUser, pw
		cl, err := r.Clients.Get(key, "password:"+render.Hash(pw), cfg)
		if err == nil {
			return cl, pw, nil
		}
		if !etcdclient.AuthRejected(err) {
			return nil, "", err
		}
		lastErr = err
		if i == len(candidates)-1 && source == "" {
			// Only once its own passwords failed: a cluster restored from
			// another cluster's backup may carry that cluster's.
			var more []string
			more, source = r.restoreSourcePasswords(ctx, c)
			candidates = passwordCandidates(desired, rec, more)
		}
	}
	log.FromContext(ctx).V(1).Info("auth: etcd rejects every root password the operator has", "tried", len(candidates), "restoreSource", source)
	return nil, "", &authRejectedError{secret: c.RootPasswordSecretName(), tried: len(candidates), restore: source, cause: lastErr}
}

// observe asks etcd for the member list, each member's status and the
// alarm list. It does not contact etcd unless a member may answer (see
// mayAnswer): when every member pod was deleted at once, the status says
// so at once instead of after a request timeout. An unreachable cluster
// is a status, not a step error.
func (r *Reconciler) observe(ctx context.Context, p *pass) error {
	c := p.cluster
	p.observed = true
	pods, err := podutil.ListMembers(ctx, r.Client, c)
	if err != nil {
		return err
	}
	p.pods = pods
	if err := r.readPendingClaims(ctx, p); err != nil {
		return err
	}
	if p.sts == nil || !mayAnswer(p) {
		return nil
	}
	key := types.NamespacedName{Namespace: c.Namespace, Name: c.Name}
	cl, pw, err := r.connect(ctx, c, p.stsReplicas)
	if err != nil {
		p.obs.err = err
		return nil
	}
	p.rootPassword = pw
	clusterID, members, err := cl.MemberList(ctx)
	if err != nil {
		if etcdclient.AuthRejected(err) {
			// The cached client's password was changed under it (its token
			// refresh failed): connect again next pass, trying every password.
			r.Clients.Forget(key)
		}
		p.obs.err = err
		return nil
	}
	p.client = cl
	p.obs.contacted, p.obs.clusterID = true, clusterID
	p.obs.list, p.obs.statuses = members, map[uint64]etcdclient.Status{}
	started := 0
	for _, m := range members {
		ms := etcdv1.MemberStatus{Name: r.memberName(c, m), ID: strconv.FormatUint(m.ID, 16), Role: etcdv1.RoleFollower}
		if m.IsLearner {
			ms.Role = etcdv1.RoleLearner
		} else {
			p.obs.voters++
		}
		if !m.Started() || len(m.ClientURLs) == 0 {
			ms.Error = "member has not started"
			p.obs.members = append(p.obs.members, ms)
			continue
		}
		started++
		if why := silentPod(p.pods, ms.Name); why != "" {
			// Not asked: a request to a member whose pod is going away
			// may wait for its whole timeout, and the status with it.
			ms.Error = why
			p.obs.members = append(p.obs.members, ms)
			continue
		}
		st, err := cl.Status(ctx, servedURL(c, m.ClientURLs[0]))
		if err != nil {
			ms.Error = err.Error()
		} else {
			p.obs.statuses[m.ID] = st
			ms.Healthy = len(st.Errors) == 0
			ms.Version, ms.DBSize, ms.DBSizeInUse = st.Version, st.DBSize, st.DBSizeInUse
			if len(st.Errors) > 0 {
				ms.Error = st.Errors[0]
			}
			if st.LeaderID != 0 {
				p.obs.leader = st.LeaderID
			}
			if st.LeaderID == m.ID {
				ms.Role = etcdv1.RoleLeader
			}
		}
		p.obs.members = append(p.obs.members, ms)
	}
	p.obs.alarms = r.readAlarms(ctx, cl, p.obs)
	for i := range p.obs.members {
		p.obs.members[i].Alarms = memberAlarms(p.obs.alarms, p.obs.list[i].ID)
	}
	// Once every initial member has started, the cluster has formed: from
	// then on a member with an empty data directory must join, never
	// bootstrap a second cluster.
	if p.boot.State == render.StateNew && started >= len(members) && len(members) > 0 {
		why := fmt.Sprintf("all %d members of the member list have started", len(members))
		if err := r.setBootstrap(ctx, p, why, func(b *render.Bootstrap) { b.State = render.StateExisting }); err != nil {
			return err
		}
		// Once: a pass reading a stale ConfigMap would see the formation again.
		if _, seen := r.announced.LoadOrStore(key.String()+"/"+eventClusterFormed, true); !seen {
			r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, eventClusterFormed, "Bootstrap", "cluster %x formed with %d members", clusterID, len(members))
		}
	}
	return nil
}

// mayAnswer: some member pod is ready and not being deleted, or, once the
// cluster has formed, some member pod not being deleted runs its etcd
// container: a CORRUPT alarm fails /readyz on every member (etcd
// op-guide/data_corruption), so no pod is Ready, yet the members answer
// and must be read to report it. Pods being deleted are not counted: they
// stay Ready until the kubelet stops them, while their members stop
// answering. Read from the pods (watched), not from the StatefulSet's
// status, which follows them only after the StatefulSet controller's
// next pass.
func mayAnswer(p *pass) bool {
	if podutil.ReadyMembers(p.pods) > 0 {
		return true
	}
	if p.boot.State != render.StateExisting {
		return false
	}
	for i := range p.pods {
		if podutil.MayAnswer(&p.pods[i]) {
			return true
		}
	}
	return false
}

// silentPod says why the member named name cannot answer, from its pod:
// the pod is being deleted, or its etcd container is not running; "" when
// it may answer or its pod is not known (a member outside the StatefulSet
// is asked anyway).
func silentPod(pods []corev1.Pod, name string) string {
	for i := range pods {
		if pods[i].Name != name {
			continue
		}
		switch {
		case !pods[i].DeletionTimestamp.IsZero():
			return "not asked: its pod is being deleted"
		case !podutil.MayAnswer(&pods[i]):
			return "not asked: its etcd container is not running"
		}
		return ""
	}
	return ""
}
