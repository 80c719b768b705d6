package measure

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

// Host identifies the machine a benchmark ran on. Its Class is part of every
// metric's key: numbers from different hardware, drivers or kernels are never
// compared with each other.
type Host struct {
	CPUModel  string `json:"cpu_model"`
	Cores     int    `json:"cores"`
	MemoryGiB int    `json:"memory_gib"`
	GPUModel  string `json:"gpu_model"` // "" when there is no GPU
	GPUDriver string `json:"gpu_driver"`
	Kernel    string `json:"kernel"`
	Arch      string `json:"arch"`
	Hostname  string `json:"hostname"` // informative only: not part of Class
}

// Class is a short hash of everything that changes performance: identical
// machines share a class (and so a baseline), while a kernel or driver upgrade
// starts a new one on purpose.
func (h Host) Class() string {
	b, _ := json.Marshal([]any{h.CPUModel, h.Cores, h.MemoryGiB, h.GPUModel, h.GPUDriver, h.Kernel, h.Arch})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12]
}

func (h Host) String() string {
	gpu := h.GPUModel
	if gpu == "" {
		gpu = "no GPU"
	} else {
		gpu += " (driver " + h.GPUDriver + ")"
	}
	return fmt.Sprintf("%s, %d cores, %d GiB, %s, Linux %s %s", h.CPUModel, h.Cores, h.MemoryGiB, gpu, h.Kernel, h.Arch)
}

// DetectHost reads the host's identity from /proc and nvidia-smi (gpu may be nil).
func DetectHost(ctx context.Context, gpu *NvidiaSMI) Host {
	h := Host{Cores: runtime.NumCPU(), Arch: runtime.GOARCH, CPUModel: "unknown"}
	h.Hostname, _ = os.Hostname()
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			k = strings.TrimSpace(k)
			if ok && (k == "model name" || k == "Model" || k == "cpu model") {
				h.CPUModel = strings.Join(strings.Fields(v), " ")
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		h.MemoryGiB = memTotalGiB(string(b))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	if gpu != nil {
		if rs, err := gpu.Query(ctx); err == nil {
			h.GPUModel, h.GPUDriver = describeGPUs(rs)
		}
	}
	return h
}

// memTotalGiB rounds MemTotal to whole GiB: the kernel's reservations move it by
// a few MiB between boots, which must not start a new host class.
func memTotalGiB(meminfo string) int {
	for _, l := range strings.Split(meminfo, "\n") {
		if rest, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return int((kb + 512*1024) / (1024 * 1024))
			}
		}
	}
	return 0
}

// describeGPUs names the GPU set, e.g. "2x NVIDIA H100 80GB HBM3".
func describeGPUs(rs []GPUReading) (model, driver string) {
	count := map[string]int{}
	for _, r := range rs {
		count[r.Name]++
		driver = r.Driver
	}
	names := make([]string, 0, len(count))
	for n, c := range count {
		if c > 1 {
			n = fmt.Sprintf("%dx %s", c, n)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, " + "), driver
}
