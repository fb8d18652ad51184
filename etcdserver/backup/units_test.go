package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestCheckVersion(t *testing.T) {
	tests := []struct {
		etcd, storage, binary string
		ok                    bool
	}{
		{"3.7.3", "3.7.0", "3.7.3", true},
		{"3.7.9", "3.7.0", "3.7.3", true}, // patch releases share the storage format
		{"3.6.5", "3.6.0", "3.7.3", true},
		{"3.5.0", "", "3.7.3", true}, // etcd < 3.6 reports no storage version
		{"3.8.0", "3.8.0", "3.7.3", false},
		{"3.7.3", "3.8.0", "3.7.3", false},
		{"4.0.0", "", "3.7.3", false},
		{"v3.8.1", "", "3.7.3", false},
		{"garbage", "", "3.7.3", false},
	}
	for _, tc := range tests {
		err := CheckVersion(Manifest{EtcdVersion: tc.etcd, StorageVersion: tc.storage}, tc.binary)
		if (err == nil) != tc.ok {
			t.Errorf("etcd %s storage %s on %s: err %v, want ok=%v", tc.etcd, tc.storage, tc.binary, err, tc.ok)
		}
	}
	err := CheckVersion(Manifest{EtcdVersion: "3.8.0"}, "3.7.3")
	if err == nil || !strings.Contains(err.Error(), "newer than this binary's etcd 3.7.3") {
		t.Errorf("message: %v", err)
	}
}

func validManifest() Manifest {
	return Manifest{
		Format: ManifestFormat, SHA256: strings.Repeat("ab", 32), Size: 544, Compression: CompressionGzip,
		CreatedAt: "2026-11-25T10:00:00Z", EtcdVersion: "3.7.3",
	}
}

func TestManifestRoundTripAndValidate(t *testing.T) {
	m := validManifest()
	got, err := ParseManifest(m.MarshalLine())
	if err != nil || got != m {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if bytes.ContainsRune(m.MarshalLine(), '\n') {
		t.Fatal("manifest line contains a newline")
	}
	for name, mut := range map[string]func(*Manifest){
		"format":      func(m *Manifest) { m.Format = "other" },
		"sha":         func(m *Manifest) { m.SHA256 = "abc" },
		"size":        func(m *Manifest) { m.Size = 0 },
		"compression": func(m *Manifest) { m.Compression = "xz" },
		"encryption":  func(m *Manifest) { m.Encrypted = true; m.Encryption = "rot13" },
		"createdAt":   func(m *Manifest) { m.CreatedAt = "yesterday" },
	} {
		bad := validManifest()
		mut(&bad)
		if err := bad.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestManifestFitsTerminationMessage(t *testing.T) {
	m := validManifest()
	m.Location = "s3://" + strings.Repeat("b", 63) + "/" + strings.Repeat("k", 900)
	m.Endpoint = "https://" + strings.Repeat("h", 253) + ":2379"
	m.MemberName = strings.Repeat("n", 63)
	if n := len(m.MarshalLine()); n >= maxTerminationMessage {
		t.Fatalf("largest manifest is %d bytes, above %d", n, maxTerminationMessage)
	}
}

func TestValidateKey(t *testing.T) {
	for _, k := range []string{"a", "backups/c1/2026-11-25T10:00:00Z.db", "x.db.gz"} {
		if err := ValidateKey(k); err != nil {
			t.Errorf("%q: %v", k, err)
		}
	}
	for _, k := range []string{"", "/abs", "dir/", "a//b", "a/../b", "./a", "..", "x" + ManifestSuffix} {
		if err := ValidateKey(k); err == nil {
			t.Errorf("%q accepted", k)
		}
	}
}

func st(ep string, member, leader, cluster, applied uint64, learner bool) endpointStatus {
	return endpointStatus{Endpoint: ep, Status: &clientv3.StatusResponse{
		Header: &pb.ResponseHeader{MemberId: member, ClusterId: cluster}, Leader: leader,
		RaftAppliedIndex: applied, IsLearner: learner,
	}}
}

func TestPickMember(t *testing.T) {
	down := endpointStatus{Endpoint: "d", Err: errors.New("context deadline exceeded")}
	noLeader := st("n", 9, 0, 1, 100, false)
	alarm := st("x", 8, 1, 1, 100, false)
	alarm.Status.Errors = []string{"NOSPACE"}
	nospace := st("s", 7, 1, 7, 10, false)
	nospace.Status.Errors = []string{"memberID:7 alarm:NOSPACE", "memberID:8  alarm:NOSPACE"}
	corrupt := st("c", 6, 1, 7, 10, false)
	corrupt.Status.Errors = []string{"memberID:6 alarm:CORRUPT"}
	tests := []struct {
		name string
		sts  []endpointStatus
		want string // endpoint, or "error: substring"
	}{
		{"single leader", []endpointStatus{st("a", 1, 1, 7, 10, false)}, "a"},
		{"follower over leader", []endpointStatus{st("a", 1, 1, 7, 10, false), st("b", 2, 1, 7, 10, false)}, "b"},
		{"higher applied follower", []endpointStatus{st("a", 1, 1, 7, 10, false), st("b", 2, 1, 7, 9, false), st("c", 3, 1, 7, 10, false)}, "c"},
		{"list order on ties", []endpointStatus{st("a", 1, 3, 7, 10, false), st("b", 2, 3, 7, 10, false), st("c", 3, 3, 7, 10, false)}, "a"},
		{"lagging follower skipped", []endpointStatus{st("a", 1, 1, 7, 5000, false), st("b", 2, 1, 7, 10, false)}, "a"},
		{"small lag is fine", []endpointStatus{st("a", 1, 1, 7, 5000, false), st("b", 2, 1, 7, 4500, false)}, "b"},
		{"voter over learner", []endpointStatus{st("a", 1, 1, 7, 10, false), st("b", 2, 1, 7, 10, true)}, "a"},
		{"learner when alone", []endpointStatus{down, st("b", 2, 1, 7, 10, true)}, "b"},
		{"unhealthy skipped", []endpointStatus{down, noLeader, alarm, st("a", 1, 1, 1, 10, false)}, "a"},
		{"none healthy", []endpointStatus{down, noLeader, alarm}, "error: no healthy etcd member"},
		{"NOSPACE does not rule a member out (a snapshot only reads)", []endpointStatus{down, nospace}, "s"},
		{"CORRUPT does", []endpointStatus{corrupt}, "error: alarm:CORRUPT"},
		{"mixed clusters", []endpointStatus{st("a", 1, 1, 7, 10, false), st("b", 2, 2, 8, 10, false)}, "error: different clusters"},
		{"empty", nil, "error: no etcd endpoints"},
	}
	for _, tc := range tests {
		i, err := pickMember(tc.sts)
		if want, ok := strings.CutPrefix(tc.want, "error: "); ok {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: got %d, %v; want error %q", tc.name, i, err, want)
			}
			continue
		}
		if err != nil || tc.sts[i].Endpoint != tc.want {
			t.Errorf("%s: got %d, %v; want %s", tc.name, i, err, tc.want)
		}
	}
	_, err := pickMember([]endpointStatus{down, noLeader, alarm})
	for _, s := range []string{"d: context deadline exceeded", "n: member has no leader", "x: member reports errors: NOSPACE"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
}

func TestTrailerCheck(t *testing.T) {
	db := bytes.Repeat([]byte{7}, 1024)
	sum := sha256.Sum256(db)
	good := append(bytes.Clone(db), sum[:]...)
	feed := func(data []byte, step int) error {
		tc := newTrailerCheck()
		for p := data; len(p) > 0; {
			n := min(step, len(p))
			_, _ = tc.Write(p[:n])
			p = p[n:]
		}
		return tc.verify(int64(len(data)))
	}
	for _, step := range []int{1, 5, 31, 32, 33, 512, 4096} {
		if err := feed(good, step); err != nil {
			t.Errorf("step %d: %v", step, err)
		}
		bad := bytes.Clone(good)
		bad[100] ^= 1
		if err := feed(bad, step); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("step %d corrupt: %v", step, err)
		}
	}
	if err := feed(good[:len(good)-1], 64); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Errorf("short stream: %v", err)
	}
}

func TestPeerURLsOf(t *testing.T) {
	got := PeerURLsOf("a=https://a:2380,b=https://b:2380", "b")
	if len(got) != 1 || got[0] != "https://b:2380" {
		t.Fatalf("got %v", got)
	}
	if got := PeerURLsOf("a=https://a:2380", "c"); got != nil {
		t.Fatalf("got %v", got)
	}
}

func TestRestoreOnlyNewClusterSkipsJoiningMembers(t *testing.T) {
	var out, errOut strings.Builder
	env := map[string]string{"QUORUM_INITIAL_CLUSTER_STATE": "existing"}
	code := RestoreMain(context.Background(), []string{"--only-new-cluster", "--dir", t.TempDir(), "--key", "k", "--data-dir", filepath.Join(t.TempDir(), "data"),
		"--name", "a", "--initial-cluster", "a=http://127.0.0.1:1", "--initial-cluster-token", "t"},
		IO{Stdout: &out, Stderr: &errOut, Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if code != ExitOK || !strings.Contains(out.String(), `"restored":false`) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}
