package registry

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/storage"
)

// ServiceAllocator hands out Service ClusterIPs and NodePorts. Each one is a claim
// (an etcd key owned by "<namespace>/<name>") taken and freed in the same transaction
// as the Service write (storage.Effects), so several API servers never hand out the
// same address, a failed write leaks nothing and a restart loses nothing.
type ServiceAllocator struct {
	// IPPrefix and PortPrefix are the etcd key prefixes of the claims.
	IPPrefix, PortPrefix string
	base, size           uint32
	portMin, portMax     int
}

func newServiceAllocator(opts Options) (*ServiceAllocator, error) {
	_, cidr, err := net.ParseCIDR(opts.ServiceCIDR)
	if err != nil || cidr.IP.To4() == nil {
		return nil, fmt.Errorf("--service-cluster-ip-range %q: want an IPv4 CIDR", opts.ServiceCIDR)
	}
	ones, bits := cidr.Mask.Size()
	if bits-ones < 2 {
		return nil, fmt.Errorf("--service-cluster-ip-range %q: too small", opts.ServiceCIDR)
	}
	if opts.NodePortMin <= 0 || opts.NodePortMax < opts.NodePortMin {
		return nil, fmt.Errorf("node port range %d-%d is empty", opts.NodePortMin, opts.NodePortMax)
	}
	return &ServiceAllocator{
		IPPrefix: opts.Prefix + "/ranges/serviceips/", PortPrefix: opts.Prefix + "/ranges/servicenodeports/",
		base: binary.BigEndian.Uint32(cidr.IP.To4()), size: 1 << uint(bits-ones),
		portMin: opts.NodePortMin, portMax: opts.NodePortMax,
	}, nil
}

// FirstIP is the address of the default/kubernetes Service (10.43.0.1).
func (a *ServiceAllocator) FirstIP() string { return a.ipAt(1) }

func (a *ServiceAllocator) ipAt(offset uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], a.base+offset)
	return net.IP(b[:]).String()
}

// inRange excludes the network and broadcast addresses.
func (a *ServiceAllocator) inRange(ip string) bool {
	p := net.ParseIP(ip).To4()
	if p == nil {
		return false
	}
	v := binary.BigEndian.Uint32(p)
	return v > a.base && v < a.base+a.size-1
}

func (a *ServiceAllocator) cidrString() string {
	ones := 32
	for s := a.size; s > 1; s >>= 1 {
		ones--
	}
	return fmt.Sprintf("%s/%d", a.ipAt(0), ones)
}

// Owner is the claim owner of a Service.
func Owner(svc *corev1.Service) string { return svc.Namespace + "/" + svc.Name }

// Claims are the keys a stored Service holds: its ClusterIP and NodePorts.
func (a *ServiceAllocator) Claims(svc *corev1.Service) []storage.Claim {
	owner := Owner(svc)
	var out []storage.Claim
	if ip := svc.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
		out = append(out, storage.Claim{Key: a.IPPrefix + ip, Owner: owner})
	}
	seen := map[int32]bool{}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 && !seen[p.NodePort] {
			seen[p.NodePort] = true
			out = append(out, storage.Claim{Key: a.PortPrefix + strconv.Itoa(int(p.NodePort)), Owner: owner})
		}
	}
	return out
}

// effects is the Service strategy's storage.EffectsFunc: on create and update it
// allocates what the Service asks for and reserves it; on update and delete it
// releases what the old Service held and the new one does not.
func (a *ServiceAllocator) effects(ctx context.Context, keys storage.Keys, old, obj runtime.Object) (storage.Effects, error) {
	var eff storage.Effects
	keep := map[string]bool{}
	if obj != nil {
		svc := obj.(*corev1.Service)
		if err := a.allocate(ctx, keys, svc); err != nil {
			return eff, err
		}
		eff.Reserve = a.Claims(svc)
		for _, c := range eff.Reserve {
			keep[c.Key] = true
		}
	}
	if old != nil {
		for _, c := range a.Claims(old.(*corev1.Service)) {
			if !keep[c.Key] {
				eff.Release = append(eff.Release, c)
			}
		}
	}
	return eff, nil
}

// allocate fills spec.clusterIP(s) and the nodePorts a Service needs.
func (a *ServiceAllocator) allocate(ctx context.Context, keys storage.Keys, svc *corev1.Service) error {
	owner := Owner(svc)
	if err := a.allocateClusterIP(ctx, keys, svc, owner); err != nil {
		return err
	}
	if svc.Spec.Type != corev1.ServiceTypeNodePort && svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return nil
	}
	taken := map[int32]bool{}
	for i := range svc.Spec.Ports {
		if err := a.allocateNodePort(ctx, keys, svc, i, owner, taken); err != nil {
			return err
		}
	}
	return nil
}

func (a *ServiceAllocator) allocateClusterIP(ctx context.Context, keys storage.Keys, svc *corev1.Service, owner string) error {
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
		holder, err := keys.Owner(ctx, a.IPPrefix+ip)
		if err != nil {
			return err
		}
		if holder != "" && holder != owner {
			return invalidService(svc, field.Invalid(path, ip, "failed to allocate IP "+ip+": provided IP is already allocated"))
		}
		svc.Spec.ClusterIPs = []string{ip}
		return nil
	}
	for try := 0; try < 64; try++ {
		// Offsets 0, 1 and the broadcast address are never handed out: .1 is the API's own Service.
		ip := a.ipAt(2 + rand.Uint32N(a.size-3))
		holder, err := keys.Owner(ctx, a.IPPrefix+ip)
		if err != nil {
			return err
		}
		if holder == "" {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = ip, []string{ip}
			return nil
		}
	}
	return apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: range is full"))
}

func (a *ServiceAllocator) allocateNodePort(ctx context.Context, keys storage.Keys, svc *corev1.Service, i int, owner string, taken map[int32]bool) error {
	p := &svc.Spec.Ports[i]
	path := field.NewPath("spec", "ports").Index(i).Child("nodePort")
	if p.NodePort != 0 {
		holder, err := keys.Owner(ctx, a.PortPrefix+strconv.Itoa(int(p.NodePort)))
		if err != nil {
			return err
		}
		if holder != "" && holder != owner {
			return invalidService(svc, field.Invalid(path, p.NodePort, "provided port is already allocated"))
		}
		taken[p.NodePort] = true
		return nil
	}
	span := a.portMax - a.portMin + 1
	for try := 0; try < 64; try++ {
		port := int32(a.portMin + rand.IntN(span))
		if taken[port] {
			continue
		}
		holder, err := keys.Owner(ctx, a.PortPrefix+strconv.Itoa(int(port)))
		if err != nil {
			return err
		}
		if holder == "" {
			p.NodePort, taken[port] = port, true
			return nil
		}
	}
	return apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: range is full"))
}

func invalidService(svc *corev1.Service, e *field.Error) error {
	return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name, field.ErrorList{e})
}
