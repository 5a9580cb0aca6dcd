package kubelet

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// MachineInfo is what the node reports about its host.
type MachineInfo struct {
	CPUs             int
	MemoryBytes      int64
	EphemeralBytes   int64
	MachineID        string
	SystemUUID       string
	BootID           string
	KernelVersion    string
	OSImage          string
	Hostname         string
	OperatingSystem  string
	Architecture     string
	DefaultAddresses []net.IP
}

// ReadMachine inspects the host; storageDir is the filesystem ephemeral storage lives on.
func ReadMachine(storageDir string) *MachineInfo {
	m := &MachineInfo{
		CPUs:            runtime.NumCPU(),
		MemoryBytes:     memTotal(),
		MachineID:       readTrim("/etc/machine-id"),
		SystemUUID:      readTrim("/sys/class/dmi/id/product_uuid"),
		BootID:          readTrim("/proc/sys/kernel/random/boot_id"),
		KernelVersion:   readTrim("/proc/sys/kernel/osrelease"),
		OSImage:         osImage(),
		OperatingSystem: runtime.GOOS,
		Architecture:    runtime.GOARCH,
	}
	m.Hostname, _ = os.Hostname()
	var st syscall.Statfs_t
	if syscall.Statfs(storageDir, &st) == nil {
		m.EphemeralBytes = int64(st.Blocks) * st.Bsize
	}
	if m.SystemUUID == "" {
		m.SystemUUID = m.MachineID
	}
	return m
}

func (m *MachineInfo) capacity(override corev1.ResourceList) corev1.ResourceList {
	rl := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(m.CPUs), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(m.MemoryBytes, resource.BinarySI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(m.EphemeralBytes, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(110, resource.DecimalSI),
		"hugepages-2Mi":                 *resource.NewQuantity(0, resource.BinarySI),
	}
	for k, v := range override {
		rl[k] = v
	}
	return rl
}

func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func osImage() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return runtime.GOOS
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("PRETTY_NAME=")); ok {
			return strings.Trim(string(v), `"`)
		}
	}
	return runtime.GOOS
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// defaultNodeIP is the source address of the default route: the address other
// nodes and the API server reach this host by. No packet is sent.
func defaultNodeIP() net.IP {
	conn, err := net.Dial("udp", "192.0.2.1:53")
	if err == nil {
		defer conn.Close()
		if a, ok := conn.LocalAddr().(*net.UDPAddr); ok && !a.IP.IsLoopback() {
			return a.IP
		}
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP
		}
	}
	return net.IPv4(127, 0, 0, 1)
}
