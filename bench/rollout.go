package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

var rolloutBench = Bench{
	Name: "rollout",
	Doc: "largest write gap of a 100 Hz writer on the client Service of a 3-member cluster during a rolling " +
		"restart for a spec change (etcdOptions snapshot-count) and during certificate rotation " +
		"(server and peer Secrets deleted, until every member serves a new certificate)",
	NeedsCluster: true,
	Run:          rollout,
	// Issue #17: a planned restart costs no more than an unplanned one.
	Goals: map[string]*Goal{"rolling restart: largest write gap": AtMost(0.2)},
}

func rollout(ctx context.Context, env Env) ([]Value, error) {
	return withNamespace(ctx, env, "rollout", func(k *kube, ns string) ([]Value, error) {
		const name = "roll"
		if err := k.Create(ctx, newCluster(ns, name, 3, nil)); err != nil {
			return nil, err
		}
		if _, err := k.waitSettled(ctx, ns, name, 3); err != nil {
			return nil, err
		}
		// Through the Service, as an application would: the pods restart
		// and may come back with new addresses.
		cl, err := k.serviceClient(ctx, ns, name)
		if err != nil {
			return nil, err
		}
		defer cl.Close()
		w := startWriter(ctx, cl, writerRate, "/bench/load/")
		stop := func(err error) ([]Value, error) { w.stop(); return nil, err }
		if err := sleep(ctx, settleMargin); err != nil {
			return stop(err)
		}

		before, err := k.memberPods(ctx, ns, name)
		if err != nil {
			return stop(err)
		}
		rollStart := time.Now()
		if err := k.setEtcdOption(ctx, ns, name, "snapshot-count", strconv.Itoa(20000+int(rollStart.UnixNano()%1000))); err != nil {
			return stop(err)
		}
		if _, err := k.waitCluster(ctx, ns, name, 10*time.Minute, "rolled out", func(c *etcdv1.EtcdCluster) bool {
			if !settled(c, 3) {
				return false
			}
			pods, err := k.memberPods(ctx, ns, name)
			return err == nil && len(pods) == 3 && allReplaced(before, pods)
		}); err != nil {
			return stop(err)
		}
		rollEnd := time.Now()
		env.Logf("rollout: rolling restart took %s", rollEnd.Sub(rollStart).Round(time.Millisecond))
		if err := sleep(ctx, settleMargin); err != nil {
			return stop(err)
		}

		tlsCfg, err := k.clientTLS(ctx, ns, name)
		if err != nil {
			return stop(err)
		}
		pods, err := k.memberPods(ctx, ns, name)
		if err != nil {
			return stop(err)
		}
		eps := podEndpoints(pods, "https")
		old := map[string]string{}
		for _, ep := range eps {
			if old[ep], err = servedSerial(ep, tlsCfg); err != nil {
				return stop(err)
			}
		}
		rotStart := time.Now()
		for _, s := range []string{name + "-server-tls", name + "-peer-tls"} {
			if err := k.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: s}}); err != nil {
				return stop(err)
			}
		}
		if err := waitNewSerials(ctx, eps, tlsCfg, old); err != nil {
			return stop(err)
		}
		rotEnd := time.Now()
		env.Logf("rollout: certificate rotation took %s", rotEnd.Sub(rotStart).Round(time.Millisecond))
		if err := sleep(ctx, settleMargin); err != nil {
			return stop(err)
		}
		ops := w.stop()
		out := []Value{{"rolling restart: duration", "s", seconds(rollEnd.Sub(rollStart))}}
		out = append(out, gapValues(env, "rolling restart", ops, rollStart, rollEnd)...)
		out = append(out, Value{"certificate rotation: duration", "s", seconds(rotEnd.Sub(rotStart))})
		return append(out, gapValues(env, "certificate rotation", ops, rotStart, rotEnd)...), nil
	})
}

func (k *kube) setEtcdOption(ctx context.Context, ns, name, key, value string) error {
	c, err := k.cluster(ctx, ns, name)
	if err != nil {
		return err
	}
	patch := client.MergeFrom(c.DeepCopy())
	if c.Spec.EtcdOptions == nil {
		c.Spec.EtcdOptions = map[string]string{}
	}
	c.Spec.EtcdOptions[key] = value
	return k.Patch(ctx, c, patch)
}

// allReplaced: no pod of before is among now (by UID).
func allReplaced(before, now []corev1.Pod) bool {
	for _, b := range before {
		for _, p := range now {
			if p.UID == b.UID {
				return false
			}
		}
	}
	return true
}

// servedSerial is the serial number of the certificate a member presents.
func servedSerial(endpoint string, cfg *tls.Config) (string, error) {
	host := strings.TrimPrefix(endpoint, "https://")
	d := &net.Dialer{Timeout: 3 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", host, cfg)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String(), nil
}

// waitNewSerials polls until every endpoint serves a serial other than
// its old one.
func waitNewSerials(ctx context.Context, eps []string, cfg *tls.Config, old map[string]string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for {
		var pending []string
		for _, ep := range eps {
			if s, err := servedSerial(ep, cfg); err != nil || s == old[ep] {
				pending = append(pending, ep)
			}
		}
		if len(pending) == 0 {
			return nil
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return fmt.Errorf("members %v still serve their old certificate: %w", pending, err)
		}
	}
}
