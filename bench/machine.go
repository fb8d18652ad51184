package bench

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
)

// ThisMachine describes the machine running the benchmarks.
func ThisMachine(diskDir string) Machine {
	return Machine{
		CPU:     cpuModel(),
		Cores:   runtime.NumCPU(),
		Kernel:  strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")),
		Go:      runtime.Version(),
		OSArch:  runtime.GOOS + "/" + runtime.GOARCH,
		DiskDir: diskDir,
		DiskFS:  fsType(diskDir),
	}
}

// fsType names the file system of dir, for the common ones.
func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	names := map[int64]string{0xEF53: "ext4", 0x58465342: "xfs", 0x9123683E: "btrfs",
		0x01021994: "tmpfs", 0x794c7630: "overlay", 0x2FC12FC1: "zfs"}
	if n, ok := names[int64(st.Type)]; ok {
		return n
	}
	return fmt.Sprintf("0x%x", st.Type)
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return string(b)
}
