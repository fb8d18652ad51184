package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// TestRunSingleMemberTLS starts a new one-member cluster with mutual TLS on
// both sides, checks the probes on the metrics port, writes and reads over
// mutual TLS, and stops it through the context.
func TestRunSingleMemberTLS(t *testing.T) {
	t.Parallel()
	tlsDir := writeTLSDir(t)
	s := localSettings(t, "solo-0", tlsDir)
	m := startMember(t, s)

	waitStatus(t, m, m.metricsURL("/readyz"), http.StatusOK)
	for _, path := range []string{"/livez", "/health", "/metrics", "/readyz/non_learner", "/livez/serializable_read"} {
		if code, body, err := httpStatus(m.metricsURL(path)); err != nil || code != http.StatusOK {
			t.Errorf("GET %s: code=%d err=%v body=%.200q", path, code, err, body)
		}
	}
	if _, body, _ := httpStatus(m.metricsURL("/readyz?verbose")); !strings.Contains(body, "[+]linearizable_read ok") {
		t.Errorf("/readyz?verbose does not list linearizable_read: %q", body)
	}

	cli := newClient(t, tlsDir, s.AdvertiseClientURL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, "greeting", "hello"); err != nil {
		t.Fatalf("put over mutual TLS: %v", err)
	}
	resp, err := cli.Get(ctx, "greeting")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "hello" {
		t.Fatalf("get over mutual TLS: resp=%v err=%v", resp, err)
	}

	// A client certificate from another CA is refused.
	noCert := untrustedClientTLS(t, tlsDir)
	anon := newClient(t, noCert, s.AdvertiseClientURL)
	actx, acancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer acancel()
	if _, err := anon.Get(actx, "greeting"); err == nil {
		t.Errorf("get with an untrusted client certificate succeeded; want mutual TLS to refuse it")
	}

	if err := m.stop(t); err != nil {
		t.Fatalf("Run after a requested stop = %v, want nil", err)
	}
	if code, _, err := httpStatus(m.metricsURL("/livez")); err == nil {
		t.Errorf("metrics port still answers (%d) after stop", code)
	}
}

// TestRunRestartsFromDataDir stops a plain-http member and starts it again
// with settings that could not bootstrap (state existing, the other member
// does not answer): the WAL in the data dir must win, after the stale-data
// check gave up for want of an answer.
func TestRunRestartsFromDataDir(t *testing.T) {
	t.Parallel()
	s := localSettings(t, "again-0", "")
	m := startMember(t, s)
	waitStatus(t, m, m.metricsURL("/readyz"), http.StatusOK)
	if err := m.stop(t); err != nil {
		t.Fatalf("first stop: %v", err)
	}
	if !MemberInitialized(s.DataDir) {
		t.Fatalf("MemberInitialized(%s) = false after a run", s.DataDir)
	}

	s.ClusterState = ClusterStateExisting
	s.InitialCluster = nil
	dead := hostURL("http", "127.0.0.1", freePort(t))
	s.JoinEndpoints = []string{dead.String()}
	s.StaleCheckTimeout = time.Second
	m2 := startMember(t, s)
	waitStatus(t, m2, m2.metricsURL("/readyz"), http.StatusOK)
	if err := m2.stop(t); err != nil {
		t.Fatalf("second stop: %v", err)
	}
}

// TestRunReadyTimeout bootstraps one member of a two-member cluster whose
// other member never starts: /livez answers while it waits for quorum,
// /readyz does not, and Run gives up with ErrNotReady.
func TestRunReadyTimeout(t *testing.T) {
	t.Parallel()
	s := localSettings(t, "lonely-0", "")
	s.InitialCluster = append(s.InitialCluster, Peer{Name: "lonely-1", URL: hostURL("http", "127.0.0.1", freePort(t))})
	s.ReadyTimeout = 6 * time.Second
	m := startMember(t, s)

	waitStatus(t, m, m.metricsURL("/livez"), http.StatusOK)
	// Without quorum the linearizable_read check of /readyz blocks until the
	// prober gives up (kubelet: timeoutSeconds), so "not 200" is all we get.
	if code, _, err := httpStatus(m.metricsURL("/readyz")); err == nil && code == http.StatusOK {
		t.Errorf("/readyz without quorum answered 200")
	}
	select {
	case err := <-m.done:
		m.done <- err
		if !errors.Is(err, ErrNotReady) {
			t.Fatalf("Run = %v, want ErrNotReady", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Run did not give up after ReadyTimeout")
	}
}

// TestRunBadOptions: a forbidden key in the options file fails before etcd
// starts.
func TestRunBadOptions(t *testing.T) {
	t.Parallel()
	s := localSettings(t, "bad-0", "")
	s.ConfigFile = writeFile(t, "data-dir: /elsewhere\n")
	err := Run(context.Background(), zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), s)
	if err == nil || !strings.Contains(err.Error(), `"data-dir"`) {
		t.Fatalf("Run = %v, want an error naming data-dir", err)
	}
	if MemberInitialized(s.DataDir) {
		t.Errorf("data dir initialised despite bad options")
	}
}
