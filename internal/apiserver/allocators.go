package apiserver

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// allocators hand out Service ClusterIPs and NodePorts. Each reservation is an etcd
// key owned by "<namespace>/<name>", taken by transaction, so several API servers
// never hand out the same address and a restart loses nothing.
type allocators struct {
	etcd             *clientv3.Client
	ipPrefix         string
	portPrefix       string
	base             uint32
	size             uint32
	portMin, portMax int
}

func newAllocators(cfg Config) (*allocators, error) {
	_, cidr, err := net.ParseCIDR(cfg.ServiceCIDR)
	if err != nil || cidr.IP.To4() == nil {
		return nil, fmt.Errorf("--service-cluster-ip-range %q: want an IPv4 CIDR", cfg.ServiceCIDR)
	}
	ones, bits := cidr.Mask.Size()
	return &allocators{
		etcd: cfg.Etcd, ipPrefix: cfg.Prefix + "/ranges/serviceips/", portPrefix: cfg.Prefix + "/ranges/servicenodeports/",
		base: binary.BigEndian.Uint32(cidr.IP.To4()), size: 1 << uint(bits-ones),
		portMin: cfg.NodePortMin, portMax: cfg.NodePortMax,
	}, nil
}

// FirstServiceIP is the address of the default/kubernetes Service (10.43.0.1).
func (a *allocators) firstIP() string { return a.ipAt(1) }

func (a *allocators) ipAt(offset uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], a.base+offset)
	return net.IP(b[:]).String()
}

func (a *allocators) inRange(ip string) bool {
	p := net.ParseIP(ip).To4()
	if p == nil {
		return false
	}
	v := binary.BigEndian.Uint32(p)
	return v > a.base && v < a.base+a.size-1
}

// reserve takes key for owner; taking a key one already owns succeeds (so retries are safe).
func (a *allocators) reserve(ctx context.Context, key, owner string) (bool, error) {
	resp, err := a.etcd.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, owner)).Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return false, err
	}
	if resp.Succeeded {
		return true, nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	return len(kvs) == 1 && string(kvs[0].Value) == owner, nil
}

func (a *allocators) release(ctx context.Context, key, owner string) {
	_, _ = a.etcd.Txn(ctx).If(clientv3.Compare(clientv3.Value(key), "=", owner)).Then(clientv3.OpDelete(key)).Commit()
}

// allocateService fills spec.clusterIP(s) and nodePorts, reserving each.
func (a *allocators) allocateService(ctx context.Context, svc *corev1.Service, dryRun bool) error {
	owner := svc.Namespace + "/" + svc.Name
	if err := a.allocateClusterIP(ctx, svc, owner, dryRun); err != nil {
		return err
	}
	if svc.Spec.Type != corev1.ServiceTypeNodePort && svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return nil
	}
	for i := range svc.Spec.Ports {
		if err := a.allocateNodePort(ctx, svc, i, owner, dryRun); err != nil {
			return err
		}
	}
	return nil
}

func (a *allocators) allocateClusterIP(ctx context.Context, svc *corev1.Service, owner string, dryRun bool) error {
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		if svc.Spec.ClusterIP == corev1.ClusterIPNone {
			svc.Spec.ClusterIPs = []string{corev1.ClusterIPNone}
		}
		return nil
	}
	path := field.NewPath("spec", "clusterIPs").Index(0)
	if ip := svc.Spec.ClusterIP; ip != "" {
		if !a.inRange(ip) {
			return invalidService(svc, field.Invalid(path, ip, "failed to allocate IP "+ip+": provided IP is not in the valid range. The range of valid IPs is "+a.cidrString()))
		}
		if !dryRun {
			ok, err := a.reserve(ctx, a.ipPrefix+ip, owner)
			if err != nil {
				return err
			}
			if !ok {
				return invalidService(svc, field.Invalid(path, ip, "failed to allocate IP "+ip+": provided IP is already allocated"))
			}
		}
		svc.Spec.ClusterIPs = []string{ip}
		return nil
	}
	for try := 0; try < 64; try++ {
		// Offsets 0, 1 and the broadcast address are never handed out: .1 is the API's own Service.
		ip := a.ipAt(2 + rand.Uint32N(a.size-3))
		if dryRun {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = ip, []string{ip}
			return nil
		}
		ok, err := a.reserve(ctx, a.ipPrefix+ip, owner)
		if err != nil {
			return err
		}
		if ok {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = ip, []string{ip}
			return nil
		}
	}
	return apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: range is full"))
}

func (a *allocators) allocateNodePort(ctx context.Context, svc *corev1.Service, i int, owner string, dryRun bool) error {
	p := &svc.Spec.Ports[i]
	path := field.NewPath("spec", "ports").Index(i).Child("nodePort")
	if p.NodePort != 0 {
		if dryRun {
			return nil
		}
		ok, err := a.reserve(ctx, a.portPrefix+strconv.Itoa(int(p.NodePort)), owner)
		if err != nil {
			return err
		}
		if !ok {
			return invalidService(svc, field.Invalid(path, p.NodePort, "provided port is already allocated"))
		}
		return nil
	}
	span := a.portMax - a.portMin + 1
	for try := 0; try < 64; try++ {
		port := a.portMin + rand.IntN(span)
		if dryRun {
			p.NodePort = int32(port)
			return nil
		}
		ok, err := a.reserve(ctx, a.portPrefix+strconv.Itoa(port), owner)
		if err != nil {
			return err
		}
		if ok {
			p.NodePort = int32(port)
			return nil
		}
	}
	return apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: range is full"))
}

// releaseService frees what a deleted (or changed) Service held and no longer uses.
func (a *allocators) releaseService(ctx context.Context, old, now *corev1.Service) {
	owner := old.Namespace + "/" + old.Name
	if ip := old.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone && (now == nil || now.Spec.ClusterIP != ip) {
		a.release(ctx, a.ipPrefix+ip, owner)
	}
	keep := map[int32]bool{}
	if now != nil {
		for _, p := range now.Spec.Ports {
			keep[p.NodePort] = true
		}
	}
	for _, p := range old.Spec.Ports {
		if p.NodePort != 0 && !keep[p.NodePort] {
			a.release(ctx, a.portPrefix+strconv.Itoa(int(p.NodePort)), owner)
		}
	}
}

func (a *allocators) cidrString() string {
	ones := 32
	for s := a.size; s > 1; s >>= 1 {
		ones--
	}
	return fmt.Sprintf("%s/%d", a.ipAt(0), ones)
}

func invalidService(svc *corev1.Service, e *field.Error) error {
	return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name, field.ErrorList{e})
}

// keepServiceAllocations carries the allocated addresses over an update that omits them.
func keepServiceAllocations(svc, current *corev1.Service) {
	if svc.Spec.ClusterIP == "" {
		svc.Spec.ClusterIP = current.Spec.ClusterIP
	}
	if len(svc.Spec.ClusterIPs) == 0 {
		svc.Spec.ClusterIPs = current.Spec.ClusterIPs
	}
	ports := map[string]int32{}
	for _, p := range current.Spec.Ports {
		ports[p.Name+"/"+string(p.Protocol)+"/"+strconv.Itoa(int(p.Port))] = p.NodePort
	}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.NodePort == 0 && svc.Spec.Type != corev1.ServiceTypeClusterIP {
			p.NodePort = ports[p.Name+"/"+string(p.Protocol)+"/"+strconv.Itoa(int(p.Port))]
		}
	}
}
