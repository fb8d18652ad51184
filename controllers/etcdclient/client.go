// Package etcdclient is the operator's narrow view of an etcd cluster: the
// few cluster-API calls the reconciler needs, each bounded by a named
// timeout, over one long-lived clientv3 connection per cluster.
package etcdclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Timeouts of the calls made through Client.
const (
	DialTimeout    = 3 * time.Second
	RequestTimeout = 5 * time.Second
)

// Member is one entry of the member list.
type Member struct {
	ID         uint64
	Name       string // empty until the member has started
	PeerURLs   []string
	ClientURLs []string
	IsLearner  bool
}

// Started reports whether the member has ever run (it has published its name).
func (m Member) Started() bool { return m.Name != "" }

// Status is what one member says about itself. A member that answers is
// up, whatever alarms are raised: alarms are listed apart, never in Errors.
type Status struct {
	Endpoint string
	MemberID uint64
	LeaderID uint64 // 0 while the member knows no leader
	Version  string // etcd server version, e.g. "3.7.3"
	// DBSize is the size of the backend file in bytes, DBSizeInUse the part
	// of it holding live pages; DBSize-DBSizeInUse is what a
	// defragmentation would return. The space quota applies to DBSize.
	DBSize, DBSizeInUse int64
	// DBSizeQuota is the member's backend quota in bytes
	// (--quota-backend-bytes, 2 GiB when unset); 0 from etcd before v3.6.
	DBSizeQuota int64
	IsLearner   bool
	// Revision is the member's current key-value store revision (from the
	// response header): the revision to compact to.
	Revision  int64
	RaftIndex uint64 // committed raft index
	RaftTerm  uint64
	// Alarms are the alarms raised for this member; ClusterAlarms every
	// alarm of the cluster this member knows of (etcd keeps one list for
	// the whole cluster, so every member reports every member's alarms).
	Alarms        []AlarmType
	ClusterAlarms []Alarm
	// Errors are the member's own complaints other than alarms; today
	// only "etcdserver: no leader". Empty means healthy.
	Errors []string
}

// HasAlarm reports whether alarm t is raised for this member.
func (s Status) HasAlarm(t AlarmType) bool {
	for _, a := range s.Alarms {
		if a == t {
			return true
		}
	}
	return false
}

// Client is the set of cluster operations the operator uses.
type Client interface {
	// MemberList returns the cluster ID and its members.
	MemberList(ctx context.Context) (uint64, []Member, error)
	// Status asks one endpoint for its own status. It fails only when the
	// member does not answer; a raised alarm is not an error.
	Status(ctx context.Context, endpoint string) (Status, error)
	// AuthEnabled reports whether authentication is on.
	AuthEnabled(ctx context.Context) (bool, error)
	// EnableAuth makes sure the root user exists with the root role and the
	// given password, then turns authentication on. Safe to repeat.
	EnableAuth(ctx context.Context, rootPassword string) error
	// SetRootPassword changes the root user's password (etcd's
	// UserChangePassword). Clients that authenticated with the old password
	// are refused from then on (their token's auth revision is stale).
	SetRootPassword(ctx context.Context, password string) error
	// AddLearner adds a non-voting member with the peer URL and returns its ID.
	AddLearner(ctx context.Context, peerURL string) (uint64, error)
	// Promote asks the leader, reached at leaderEndpoint, to make a
	// caught-up learner a voter.
	Promote(ctx context.Context, leaderEndpoint string, id uint64) error
	// Remove removes a member by ID.
	Remove(ctx context.Context, id uint64) error
	// UpdatePeerURLs sets the peer URLs of member id (etcd's
	// MemberUpdate): the other members reach it there from then on.
	UpdatePeerURLs(ctx context.Context, id uint64, peerURLs []string) error
	// MoveLeader asks the leader, reached at leaderEndpoint, to hand
	// leadership to the member target.
	MoveLeader(ctx context.Context, leaderEndpoint string, target uint64) error

	// Alarms lists every active alarm of the cluster (needs a leader).
	Alarms(ctx context.Context) ([]Alarm, error)
	// DisarmAlarm clears alarm t of member memberID (0: of every member).
	// Not raised is not an error. Defragment before disarming NOSPACE.
	DisarmAlarm(ctx context.Context, memberID uint64, t AlarmType) error
	// Compact drops key versions older than revision; physical waits for
	// the backend to free them. An already compacted revision is not an
	// error.
	Compact(ctx context.Context, revision int64, physical bool) error
	// Defragment rewrites one member's backend (reached at endpoint); the
	// member is blocked meanwhile. Bounded by DefragmentTimeout.
	Defragment(ctx context.Context, endpoint string) error

	// HashKV asks one member for the hash of its key-value store up to
	// revision (0: its current one). Bounded by HashKVTimeout.
	HashKV(ctx context.Context, endpoint string, revision int64) (HashKV, error)

	// EnsureUser makes an application's user and role match u (see
	// User); DeleteUser removes both. Both need auth on and a root client.
	EnsureUser(ctx context.Context, u User) error
	DeleteUser(ctx context.Context, name, role string) error

	// Close releases the connection.
	Close() error
}

// Config says how to reach a cluster.
type Config struct {
	Endpoints []string
	// TLS is nil for plain http.
	TLS *tls.Config
	// Username and Password authenticate when set (needed only without
	// TLS: with TLS, the client certificate's common name is the user).
	Username, Password string
}

// New connects to the cluster. The connection is lazy: New fails only for a
// bad configuration, not for unreachable members.
func New(cfg Config) (Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("no endpoints")
	}
	c, err := clientv3.New(clientv3.Config{
		Endpoints:            cfg.Endpoints,
		TLS:                  cfg.TLS,
		Username:             cfg.Username,
		Password:             cfg.Password,
		DialTimeout:          DialTimeout,
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: DialTimeout,
		Logger:               zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("creating etcd client for %v: %w", cfg.Endpoints, err)
	}
	return &client{c: c, cfg: cfg}, nil
}

// TLSConfig builds a mutual-TLS client configuration from PEM data.
func TLSConfig(certPEM, keyPEM, caPEM []byte) (*tls.Config, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading client certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no CA certificate in ca.crt")
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

type client struct {
	c   *clientv3.Client
	cfg Config
}

func (c *client) MemberList(ctx context.Context) (uint64, []Member, error) {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	resp, err := c.c.MemberList(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("listing members: %w", err)
	}
	out := make([]Member, 0, len(resp.Members))
	for _, m := range resp.Members {
		out = append(out, Member{ID: m.ID, Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs, IsLearner: m.IsLearner})
	}
	return resp.Header.GetClusterId(), out, nil
}

func (c *client) Status(ctx context.Context, endpoint string) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	resp, err := c.c.Status(ctx, endpoint)
	if err != nil {
		return Status{Endpoint: endpoint}, fmt.Errorf("status of %s: %w", endpoint, err)
	}
	st := Status{
		Endpoint:    endpoint,
		MemberID:    resp.Header.GetMemberId(),
		LeaderID:    resp.Leader,
		Version:     resp.Version,
		DBSize:      resp.DbSize,
		DBSizeInUse: resp.DbSizeInUse,
		DBSizeQuota: resp.DbSizeQuota,
		IsLearner:   resp.IsLearner,
		Revision:    resp.Header.GetRevision(),
		RaftIndex:   resp.RaftIndex,
		RaftTerm:    resp.RaftTerm,
	}
	st.ClusterAlarms, st.Errors = splitStatusErrors(resp.Errors)
	for _, a := range st.ClusterAlarms {
		if a.MemberID == st.MemberID {
			st.Alarms = append(st.Alarms, a.Type)
		}
	}
	return st, nil
}

func (c *client) Close() error { return c.c.Close() }
