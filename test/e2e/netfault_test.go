//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The local cluster runs pods in network namespaces that the CNI plugin
// creates under /var/run/netns on this machine; the test runs as root
// beside it. A member is cut off from its peers by dropping its peer
// traffic (port 2380, both directions) inside its own pod namespace; its
// client port stays open.

// podNetns finds the network namespace that holds ip.
func podNetns(ip string) (string, error) {
	entries, err := filepath.Glob("/var/run/netns/cni-*")
	if err != nil {
		return "", err
	}
	for _, p := range entries {
		out, err := exec.Command("ip", "netns", "exec", filepath.Base(p), "ip", "-4", "-o", "addr").CombinedOutput()
		if err == nil && strings.Contains(string(out), " "+ip+"/") {
			return filepath.Base(p), nil
		}
	}
	return "", fmt.Errorf("no network namespace under /var/run/netns holds %s", ip)
}

var peerRules = [][]string{
	{"INPUT", "-p", "tcp", "--dport", "2380", "-j", "DROP"},
	{"OUTPUT", "-p", "tcp", "--dport", "2380", "-j", "DROP"},
}

// isolatePeers cuts the pod with ip off from its peers; the function it
// returns heals the cut (a restarted pod has a new namespace anyway).
func isolatePeers(ip string) (heal func() error, err error) {
	if os.Getenv("E2E_USE_EXISTING_CLUSTER") == "1" {
		return nil, fmt.Errorf("network faults need the local cluster")
	}
	ns, err := podNetns(ip)
	if err != nil {
		return nil, err
	}
	iptables := func(op string, rule []string) error {
		args := append([]string{"netns", "exec", ns, "iptables", op}, rule...)
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("iptables %s %v in %s: %v: %s", op, rule, ns, err, out)
		}
		return nil
	}
	for _, r := range peerRules {
		if err := iptables("-I", r); err != nil {
			return nil, err
		}
	}
	return func() error {
		for _, r := range peerRules {
			if err := iptables("-D", r); err != nil && !strings.Contains(err.Error(), "Cannot open network namespace") {
				return err
			}
		}
		return nil
	}, nil
}
