package etcdcluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/pki"
)

// +kubebuilder:rbac:groups=cert-manager.io,resources=certificates,verbs=get;create;patch
// +kubebuilder:rbac:groups=cert-manager.io,resources=issuers;clusterissuers,verbs=get

// certificateGVK is cert-manager's Certificate. The operator does not link
// cert-manager's Go module: it writes and reads Certificates as
// unstructured objects, with the few fields below.
var certificateGVK = schema.GroupVersionKind{Group: etcdv1.CertManagerGroup, Version: "v1", Kind: "Certificate"}

// certManagerSilence: a Certificate with no Ready condition this long after
// it was created means cert-manager's controller is not running.
const certManagerSilence = 2 * time.Minute

// certManagerRenewBefore: cert-manager renews 40 days before expiry (its
// default is a third of a 90-day life, 30 days), so that a renewal that
// works is done before the operator's expiry warning (30 days) opens.
const certManagerRenewBefore = "960h"

// certManagerCertificates renders the cert-manager Certificates of c, one
// per leaf of leafRequests (same common names, DNS names, addresses and
// usages as the operator's own), named like the Secret cert-manager writes.
// Keys are ECDSA P-256 and new on every issuance. The Secrets carry the
// cluster's labels. Pure; the owner reference is set by the caller.
func certManagerCertificates(c *etcdv1.EtcdCluster, domain string) []*unstructured.Unstructured {
	reqs := leafRequests(c, domain)
	names := make([]string, 0, len(reqs))
	for name := range reqs {
		names = append(names, name)
	}
	slices.Sort(names)
	ref := c.Spec.TLS.CertManager.IssuerRef
	kind, group := ref.Kind, ref.Group
	if kind == "" {
		kind = "Issuer"
	}
	if group == "" {
		group = etcdv1.CertManagerGroup
	}
	labels := map[string]any{}
	for k, v := range c.Labels() {
		labels[k] = v
	}
	out := make([]*unstructured.Unstructured, 0, len(names))
	for _, name := range names {
		req := reqs[name]
		spec := map[string]any{
			"secretName":     name,
			"commonName":     req.CommonName,
			"usages":         toAny(certManagerUsages(req)),
			"issuerRef":      map[string]any{"name": ref.Name, "kind": kind, "group": group},
			"privateKey":     map[string]any{"algorithm": "ECDSA", "size": int64(256), "rotationPolicy": "Always"},
			"renewBefore":    certManagerRenewBefore,
			"secretTemplate": map[string]any{"labels": labels},
		}
		if len(req.DNSNames) > 0 {
			spec["dnsNames"] = toAny(req.DNSNames)
		}
		if len(req.IPs) > 0 {
			ips := make([]string, 0, len(req.IPs))
			for _, ip := range req.IPs {
				ips = append(ips, ip.String())
			}
			spec["ipAddresses"] = toAny(ips)
		}
		u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
		u.SetGroupVersionKind(certificateGVK)
		u.SetName(name)
		u.SetNamespace(c.Namespace)
		u.SetLabels(c.Labels())
		out = append(out, u)
	}
	return out
}

// certManagerUsages are cert-manager's names of the key usages pki.Issue
// sets for req.
func certManagerUsages(req pki.LeafRequest) []string {
	u := []string{"digital signature", "key encipherment"}
	if req.Server {
		u = append(u, "server auth")
	}
	if req.Client {
		u = append(u, "client auth")
	}
	return u
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// ensureCertManagerCertificates is the certificates step with
// spec.tls.certManager: it applies the three Certificates (owned by the
// cluster), then checks the Secrets cert-manager writes. While a Secret is
// missing or incomplete the pass stops here, so no member starts without
// its files: a *waitError (CertificatePending) while cert-manager issues,
// a *specError with cert-manager's own message when it cannot (no
// cert-manager, an issuer missing or not Ready, a Certificate failing).
// Once the Secrets are usable, a Certificate or issuer that is not Ready
// no longer stops the pass; it is reported in Degraded (p.certIssuance).
func (r *Reconciler) ensureCertManagerCertificates(ctx context.Context, p *pass) error {
	c := p.cluster
	var problems, pending []string
	reason := etcdv1.ReasonCertificateNotReady
	for _, cert := range certManagerCertificates(c, r.Render.Domain()) {
		live, err := r.applyCertificate(ctx, c, cert)
		if meta.IsNoMatchError(err) {
			return &specError{etcdv1.ReasonCertManagerUnavailable, fmt.Sprintf(
				"spec.tls.certManager is set but the API server serves no %s (is cert-manager installed?); the members wait for their certificates; checked again every %s",
				certificateGVK.GroupKind(), requeueSpecError)}
		}
		if err != nil {
			return err
		}
		switch ok, msg := certificateReady(live, r.now()); {
		case ok:
		case msg == "":
			pending = append(pending, cert.GetName())
		default:
			problems = append(problems, fmt.Sprintf("Certificate %s: %s", cert.GetName(), msg))
		}
	}
	if msg, err := r.issuerProblem(ctx, c); err != nil {
		return err
	} else if msg != "" {
		problems = append([]string{msg}, problems...)
		reason = etcdv1.ReasonCertificateIssuerNotReady
	}
	missing, err := r.adoptCertManagerSecrets(ctx, c)
	if err != nil {
		return err
	}
	p.certIssuance = nil
	switch {
	case missing == "" && len(problems) > 0:
		p.certIssuance = &specError{reason, fmt.Sprintf("cert-manager cannot renew the cluster's certificates: %s; the members keep the certificates they have until it can",
			strings.Join(problems, "; "))}
	case missing == "":
		return nil
	case len(problems) > 0:
		return &specError{reason, fmt.Sprintf("cert-manager has not issued the cluster's certificates (%s): %s; the members wait for them; checked again every %s",
			missing, strings.Join(problems, "; "), requeueSpecError)}
	default:
		return &waitError{etcdv1.ReasonCertificatePending, fmt.Sprintf("waiting for cert-manager to issue the cluster's certificates (%s; Certificates %s being issued); the members start once it has",
			missing, strings.Join(pending, ", "))}
	}
	log.FromContext(ctx).V(1).Info("cert-manager certificates not ready", "problems", problems)
	return nil
}

// applyCertificate server-side applies cert, owned by c, unless the live
// Certificate (read from the API server, with its status) is as last
// applied; it returns the live object.
func (r *Reconciler) applyCertificate(ctx context.Context, c *etcdv1.EtcdCluster, cert *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if err := controllerutil.SetControllerReference(c, cert, r.Scheme); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(cert.Object)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	digest := hex.EncodeToString(sum[:])
	key := certificateGVK.String() + "/" + cert.GetNamespace() + "/" + cert.GetName()
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(certificateGVK)
	err = r.reader(true).Get(ctx, client.ObjectKeyFromObject(cert), live)
	switch {
	case err == nil && r.applied.unchanged(key, digest, live.GetResourceVersion()):
		return live, nil
	case err != nil && !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading Certificate %s: %w", cert.GetName(), err)
	}
	if err == nil && !metav1.IsControlledBy(live, c) {
		return nil, &specError{etcdv1.ReasonCertificateInvalid, fmt.Sprintf(
			"Certificate %s exists but is not owned by this cluster: delete or rename it; checked again every %s", cert.GetName(), requeueSpecError)}
	}
	applied := cert.DeepCopy()
	if err := r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(applied), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return nil, fmt.Errorf("applying Certificate %s: %w", cert.GetName(), err)
	}
	log.FromContext(ctx).V(1).Info("applied cert-manager Certificate", "certificate", cert.GetName())
	r.applied.record(key, digest, applied.GetResourceVersion())
	if err == nil {
		// The status is cert-manager's; what was read still says it.
		applied.Object["status"] = live.Object["status"]
	}
	return applied, nil
}

// certificateReady reads a Certificate's Ready condition: ok when True
// for the current spec (observedGeneration), else cert-manager's message,
// or "" while it is still issuing (no condition yet, or Issuing True).
// A Certificate that has no condition certManagerSilence after it was
// created gets a message of its own: cert-manager does not answer.
func certificateReady(cert *unstructured.Unstructured, now time.Time) (bool, string) {
	conds, _, _ := unstructured.NestedSlice(cert.Object, "status", "conditions")
	var ready, issuing map[string]any
	for _, raw := range conds {
		if m, ok := raw.(map[string]any); ok {
			switch m["type"] {
			case "Ready":
				ready = m
			case "Issuing":
				issuing = m
			}
		}
	}
	if ready == nil {
		if created := cert.GetCreationTimestamp(); !created.IsZero() && now.Sub(created.Time) > certManagerSilence {
			return false, fmt.Sprintf("cert-manager has not reported on it for %s since it was created (is cert-manager's controller running?)", certManagerSilence)
		}
		return false, ""
	}
	gen, _ := ready["observedGeneration"].(int64)
	if ready["status"] == "True" && (gen == 0 || gen == cert.GetGeneration()) {
		return true, ""
	}
	if issuing != nil && issuing["status"] == "True" {
		return false, ""
	}
	if issuing != nil && issuing["status"] == "False" && issuing["message"] != nil {
		return false, fmt.Sprint(issuing["message"])
	}
	return false, fmt.Sprintf("%v: %v", ready["reason"], ready["message"])
}

// issuerProblem checks the issuer spec.tls.certManager names, for
// cert-manager's own kinds: "" when it exists and is Ready, else what is
// wrong with it (cert-manager's message when it has one). Issuers of other
// groups are not read (their Certificates' conditions tell).
func (r *Reconciler) issuerProblem(ctx context.Context, c *etcdv1.EtcdCluster) (string, error) {
	ref := c.Spec.TLS.CertManager.IssuerRef
	if (ref.Group != "" && ref.Group != etcdv1.CertManagerGroup) || (ref.Kind != "" && ref.Kind != "Issuer" && ref.Kind != "ClusterIssuer") {
		return "", nil
	}
	kind := ref.Kind
	if kind == "" {
		kind = "Issuer"
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: etcdv1.CertManagerGroup, Version: "v1", Kind: kind})
	key := client.ObjectKey{Name: ref.Name}
	where := ""
	if kind == "Issuer" {
		key.Namespace = c.Namespace
		where = " in namespace " + c.Namespace
	}
	err := r.reader(true).Get(ctx, key, u)
	if apierrors.IsNotFound(err) {
		return fmt.Sprintf("%s %s not found%s: create it", kind, ref.Name, where), nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s %s: %w", kind, ref.Name, err)
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, raw := range conds {
		if m, ok := raw.(map[string]any); ok && m["type"] == "Ready" {
			if m["status"] == "True" {
				return "", nil
			}
			return fmt.Sprintf("%s %s is not Ready: %v", kind, ref.Name, m["message"]), nil
		}
	}
	return fmt.Sprintf("%s %s is not Ready: cert-manager has not checked it yet", kind, ref.Name), nil
}

// adoptCertManagerSecrets checks the three Secrets cert-manager writes
// (read from the API server): missing says which are absent or incomplete
// ("" when all three hold a certificate, a key and ca.crt). A usable
// Secret gets an owner reference to the cluster (not a controller one:
// cert-manager writes it), so that it goes with the cluster, as the
// operator's own Secrets do; cert-manager does not delete it with its
// Certificate.
func (r *Reconciler) adoptCertManagerSecrets(ctx context.Context, c *etcdv1.EtcdCluster) (missing string, err error) {
	names := []string{c.ServerSecretName(), c.PeerSecretName(), c.ClientSecretName()}
	got, err := r.readSecretsByName(ctx, c, names...)
	if err != nil {
		return "", err
	}
	var absent []string
	for _, name := range names {
		s := got[name]
		if s == nil {
			absent = append(absent, "Secret "+name+" not found")
			continue
		}
		if why := incompleteTLSSecret(s); why != "" {
			absent = append(absent, "Secret "+name+" "+why)
			continue
		}
		recordCertificateExpiry(c, s)
		if err := r.ownSecret(ctx, c, s); err != nil {
			return "", err
		}
	}
	return strings.Join(absent, ", "), nil
}

// incompleteTLSSecret says what a TLS Secret lacks for members ("" when
// nothing): tls.crt, tls.key and ca.crt, the certificate parseable.
func incompleteTLSSecret(s *corev1.Secret) string {
	for _, k := range []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey, keyCACert} {
		if len(s.Data[k]) == 0 {
			return "has no " + k
		}
	}
	if _, err := pki.ParseCert(s.Data[corev1.TLSCertKey]); err != nil {
		return "holds no certificate: " + err.Error()
	}
	return ""
}

// ownSecret adds an owner reference to c to s, if it has none.
func (r *Reconciler) ownSecret(ctx context.Context, c *etcdv1.EtcdCluster, s *corev1.Secret) error {
	for _, o := range s.OwnerReferences {
		if o.UID == c.UID {
			return nil
		}
	}
	patch := client.MergeFromWithOptions(s.DeepCopy(), client.MergeFromWithOptimisticLock{})
	if err := controllerutil.SetOwnerReference(c, s, r.Scheme); err != nil {
		return err
	}
	if err := r.Patch(ctx, s, patch); err != nil {
		return fmt.Errorf("adding an owner reference to secret %s: %w", s.Name, err)
	}
	return nil
}
