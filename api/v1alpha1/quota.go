package v1alpha1

import "k8s.io/apimachinery/pkg/api/resource"

// Sizes behind the backend quota (etcd v3.7: storage/quota.go,
// storage/wal/wal.go, storage/wal/file_pipeline.go, embed/config.go).
const (
	// MaxQuotaBackendBytes is etcd's suggested maximum quota, 8 GiB
	// (etcd docs dev-guide/limit; etcd warns above it).
	MaxQuotaBackendBytes int64 = 8 << 30
	// WALReserveBytes is the room kept on a member's volume for the WAL:
	// etcd keeps max-wals (default 5) segments of 64 MB and preallocates
	// the next one (<n>.tmp), so 6 × 64 MB = 384 MB; 384 MiB covers it.
	WALReserveBytes int64 = 384 << 20
	// MinDerivedQuotaBytes is the smallest derived quota: on a volume too
	// small for the WAL and two copies of the database, a small quota
	// still raises etcd's NOSPACE alarm (recoverable) before the file
	// system fills (not recoverable in place).
	MinDerivedQuotaBytes int64 = 64 << 20
	// defaultVolumeBytes is storage.size's default, 1Gi.
	defaultVolumeBytes int64 = 1 << 30
)

// QuotaBackendBytes is the quota-backend-bytes a member runs with: quota
// (spec.quota.backendBytes) when it is set, else derived from volume
// (spec.storage.size, the claim's size or the emptyDir's size limit; 1Gi
// when unset) as
//
//	min(8Gi, (volume − 384Mi) / 2), and at least 64Mi.
//
// The WAL's share (WALReserveBytes) is kept aside, and the rest is halved
// because the database needs room for a second copy of itself twice in a
// member's life: defragmentation writes the compacted copy (db.tmp) before
// it replaces db, and a member that receives a snapshot from the leader
// writes <index>.snap.db beside db before it switches over. Above 8Gi etcd
// warns; a bigger volume then only adds headroom.
//
// An explicit quota is refused at admission when it exceeds
// volume − 384Mi (see the EtcdClusterSpec rules).
func QuotaBackendBytes(quota, volume *resource.Quantity) int64 {
	if quota != nil {
		return quota.Value()
	}
	size := defaultVolumeBytes
	if volume != nil {
		size = volume.Value()
	}
	return max(MinDerivedQuotaBytes, min(MaxQuotaBackendBytes, (size-WALReserveBytes)/2))
}

// QuotaVolume is the volume size a derived quota is computed from:
// spec.storage.size (1Gi when unset), or status.storage.capacity when that
// is smaller — while member claims grow, or when their StorageClass refused
// to grow them. So a derived quota never exceeds what every member's disk
// really has; it rises only once the last member claim has grown, and then
// reaches members through the health-gated rolling restart (etcd reads
// quota-backend-bytes only at start).
func (c *EtcdCluster) QuotaVolume() *resource.Quantity {
	size := c.StorageSize()
	if s := c.Status.Storage; s != nil && s.Capacity != nil && s.Capacity.Cmp(size) < 0 {
		return s.Capacity
	}
	return &size
}

// StorageSize is spec.storage.size, 1Gi when unset.
func (c *EtcdCluster) StorageSize() resource.Quantity {
	if c.Spec.Storage.Size != nil {
		return c.Spec.Storage.Size.DeepCopy()
	}
	return *resource.NewQuantity(defaultVolumeBytes, resource.BinarySI)
}
