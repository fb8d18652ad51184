// Command provisioner is the local cluster's dynamic PersistentVolume
// provisioner. It runs as a host process next to the kubelet and, for every
// pending claim of a StorageClass whose provisioner is its -name, creates a
// directory under -root and a hostPath PersistentVolume bound to the claim.
// When such a volume is released and its reclaim policy is Delete, it removes
// the directory and the volume. When a claim bound to one of its volumes asks
// for more storage and its StorageClass allows expansion, it grows the volume
// and completes the claim's resize through the API, as the CSI
// external-resizer does (resize.go). Directories are world-writable (mode 0777)
// because the kubelet applies no fsGroup to hostPath volumes and our pods run
// as non-root users.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
)

const (
	annProvisionedBy     = "pv.kubernetes.io/provisioned-by"
	annStorageProvisoner = "volume.kubernetes.io/storage-provisioner"
	annBetaProvisioner   = "volume.beta.kubernetes.io/storage-provisioner"
	annSelectedNode      = "volume.kubernetes.io/selected-node"
)

type provisioner struct {
	client kubernetes.Interface
	name   string // provisioner name in StorageClass.provisioner
	root   string // directory under which volumes are made
	node   string // the node the volumes live on
	events record.EventRecorder

	pvcs    cache.Indexer
	pvs     cache.Indexer
	classes cache.Indexer
}

func main() {
	var (
		kubeconfig = flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file")
		p          provisioner
	)
	flag.StringVar(&p.name, "name", "quorum.dev/local-hostpath", "provisioner name, as StorageClass.provisioner")
	flag.StringVar(&p.root, "root", "", "directory under which volume directories are created (required)")
	flag.StringVar(&p.node, "node", "node1", "name of the node the volumes are on")
	flag.Parse()
	if p.root == "" {
		log.Fatal("-root is required")
	}
	if err := os.MkdirAll(p.root, 0o755); err != nil {
		log.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatal(err)
	}
	p.client = kubernetes.NewForConfigOrDie(cfg)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// RBAC is applied just before the provisioner starts: give the API
	// server's authorizer a moment to see it.
	for i := 0; ; i++ {
		err := checkAccess(ctx, p.client)
		if err == nil {
			break
		}
		if i == 30 || ctx.Err() != nil {
			log.Fatal(err)
		}
		log.Printf("%v; checking again", err)
		time.Sleep(time.Second)
	}
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: p.client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	p.events = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "quorum-local-resizer"})

	f := informers.NewSharedInformerFactory(p.client, 5*time.Minute)
	kick := make(chan struct{}, 1)
	h := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify(kick) },
		UpdateFunc: func(any, any) { notify(kick) },
		DeleteFunc: func(any) { notify(kick) },
	}
	pvcInf := f.Core().V1().PersistentVolumeClaims().Informer()
	pvInf := f.Core().V1().PersistentVolumes().Informer()
	scInf := f.Storage().V1().StorageClasses().Informer()
	for _, inf := range []cache.SharedIndexInformer{pvcInf, pvInf, scInf} {
		if _, err := inf.AddEventHandler(h); err != nil {
			log.Fatal(err)
		}
	}
	p.pvcs, p.pvs, p.classes = pvcInf.GetIndexer(), pvInf.GetIndexer(), scInf.GetIndexer()
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), pvcInf.HasSynced, pvInf.HasSynced, scInf.HasSynced) {
		log.Fatal("caches did not sync")
	}
	log.Printf("provisioner %s ready: volumes under %s on node %s", p.name, p.root, p.node)

	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		p.sync(ctx)
		select {
		case <-ctx.Done():
			log.Print("stopping")
			return
		case <-kick:
		case <-tick.C:
		}
		time.Sleep(200 * time.Millisecond) // let a burst of events settle
	}
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (p *provisioner) sync(ctx context.Context) {
	for _, o := range p.pvcs.List() {
		pvc := o.(*corev1.PersistentVolumeClaim)
		if err := p.provision(ctx, pvc); err != nil {
			log.Printf("provision: %v", err)
		}
		// A conflict means a stale cache: the informer brings the newer claim.
		if err := p.resize(ctx, pvc); err != nil && !apierrors.IsConflict(err) {
			log.Printf("resize: %v", err)
		}
	}
	for _, o := range p.pvs.List() {
		if err := p.reclaim(ctx, o.(*corev1.PersistentVolume)); err != nil {
			log.Printf("reclaim: %v", err)
		}
	}
}

// pvName is the volume name for a claim, as the external provisioners name it.
func pvName(pvc *corev1.PersistentVolumeClaim) string { return "pvc-" + string(pvc.UID) }

func (p *provisioner) provision(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	if pvc.Spec.VolumeName != "" || pvc.Status.Phase != corev1.ClaimPending || pvc.DeletionTimestamp != nil {
		return nil
	}
	if pvc.Annotations[annStorageProvisoner] != p.name && pvc.Annotations[annBetaProvisioner] != p.name {
		return nil
	}
	if pvc.Spec.StorageClassName == nil {
		return nil
	}
	o, ok, _ := p.classes.GetByKey(*pvc.Spec.StorageClassName)
	if !ok {
		return nil
	}
	sc := o.(*storagev1.StorageClass)
	if sc.Provisioner != p.name {
		return nil
	}
	if sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer {
		if n := pvc.Annotations[annSelectedNode]; n != p.node {
			return nil // not scheduled yet, or onto a node we do not serve
		}
	}
	name := pvName(pvc)
	if _, ok, _ := p.pvs.GetByKey(name); ok {
		return nil
	}
	if pvc.Spec.VolumeMode != nil && *pvc.Spec.VolumeMode == corev1.PersistentVolumeBlock {
		return fmt.Errorf("%s/%s: block volumes are not supported", pvc.Namespace, pvc.Name)
	}
	size, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok {
		return fmt.Errorf("%s/%s: no storage request", pvc.Namespace, pvc.Name)
	}
	dir := filepath.Join(p.root, name+"_"+pvc.Namespace+"_"+pvc.Name)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o777); err != nil { // umask
		return err
	}
	reclaim := corev1.PersistentVolumeReclaimDelete
	if sc.ReclaimPolicy != nil {
		reclaim = *sc.ReclaimPolicy
	}
	dirOrCreate := corev1.HostPathDirectoryOrCreate
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{annProvisionedBy: p.name},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: reclaim,
			StorageClassName:              sc.Name,
			MountOptions:                  sc.MountOptions,
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID, ResourceVersion: pvc.ResourceVersion,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &dirOrCreate},
			},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{p.node},
				}}}},
			}},
		},
	}
	_, err := p.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create %s for %s/%s: %w", name, pvc.Namespace, pvc.Name, err)
	}
	log.Printf("provisioned %s at %s for %s/%s (%s)", name, dir, pvc.Namespace, pvc.Name, size.String())
	return nil
}

func (p *provisioner) reclaim(ctx context.Context, pv *corev1.PersistentVolume) error {
	if pv.Annotations[annProvisionedBy] != p.name || pv.DeletionTimestamp != nil {
		return nil
	}
	if pv.Status.Phase != corev1.VolumeReleased || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		return nil
	}
	if hp := pv.Spec.HostPath; hp != nil {
		// Only ever remove what we made: a direct child of our root.
		if filepath.Dir(hp.Path) != filepath.Clean(p.root) || !strings.HasPrefix(filepath.Base(hp.Path), pv.Name) {
			return fmt.Errorf("%s: path %s is not ours, not deleting it", pv.Name, hp.Path)
		}
		if err := os.RemoveAll(hp.Path); err != nil {
			return err
		}
	}
	err := p.client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	log.Printf("deleted %s", pv.Name)
	return nil
}
