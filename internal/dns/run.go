package dns

import (
	"context"
	"fmt"
	"log"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// ServiceName and ServiceNamespace name the cluster DNS Service.
const (
	ServiceName      = "kube-dns"
	ServiceNamespace = "kube-system"
	managedBy        = "skiff-dns"
)

// RunConfig configures Run.
type RunConfig struct {
	NodeName string
	NodeIP   string // the server listens on NodeIP:Port and publishes that
	Port     int    // 53 when 0
	// ClusterDNS is the kube-dns ClusterIP (DefaultClusterDNS when empty).
	ClusterDNS string
	Zone       string
	Upstreams  []string
	Logf       func(format string, args ...any)
}

// Run serves cluster DNS on the node until ctx ends and publishes it behind the
// kube-dns Service (see the package doc for the design).
func Run(ctx context.Context, client kubernetes.Interface, cfg RunConfig) error {
	if cfg.Port == 0 {
		cfg.Port = 53
	}
	if cfg.ClusterDNS == "" {
		cfg.ClusterDNS = DefaultClusterDNS
	}
	if cfg.Logf == nil {
		cfg.Logf = log.Printf
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	svcs := factory.Core().V1().Services()
	slices := factory.Discovery().V1().EndpointSlices()
	src := ListerSource{Services: svcs.Lister(), EndpointSlices: slices.Lister()}
	_ = svcs.Informer()
	_ = slices.Informer()
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), svcs.Informer().HasSynced, slices.Informer().HasSynced) {
		return ctx.Err()
	}
	srv, err := Listen(Config{Addr: net.JoinHostPort(cfg.NodeIP, strconv.Itoa(cfg.Port)), Zone: cfg.Zone,
		Upstreams: withoutSelf(cfg.Upstreams, cfg), Source: src, Logf: cfg.Logf})
	if err != nil {
		return err
	}
	if err := Publish(ctx, client, cfg.NodeName, cfg.NodeIP, cfg.Port, cfg.ClusterDNS); err != nil {
		cfg.Logf("dns: publishing kube-dns: %v (serving anyway)", err)
	}
	cfg.Logf("dns: serving %s on %s", ClusterDomainOr(cfg.Zone), srv.Addr())
	return srv.Serve(ctx)
}

// ClusterDomainOr returns zone, or ClusterDomain when empty.
func ClusterDomainOr(zone string) string {
	if zone == "" {
		return ClusterDomain
	}
	return zone
}

// withoutSelf drops the cluster DNS and this server from the upstreams, which
// would loop (a node whose resolv.conf points at the cluster DNS).
func withoutSelf(ups []string, cfg RunConfig) []string {
	if ups == nil {
		ups = ResolvConfUpstreams("/etc/resolv.conf")
	}
	out := []string{}
	for _, u := range ups {
		host, _, _ := net.SplitHostPort(u)
		if host != cfg.ClusterDNS && host != cfg.NodeIP {
			out = append(out, u)
		}
	}
	return out
}

// Publish makes sure kube-system/kube-dns exists (clusterIP clusterDNS,
// internalTrafficPolicy Local, no selector) and that this node's EndpointSlice
// points at nodeIP:port. An existing Service is left as the user made it.
func Publish(ctx context.Context, client kubernetes.Interface, nodeName, nodeIP string, port int, clusterDNS string) error {
	local := corev1.ServiceInternalTrafficPolicyLocal
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: ServiceName, Namespace: ServiceNamespace,
			Labels: map[string]string{"k8s-app": "kube-dns", "kubernetes.io/name": "SkiffDNS"}},
		Spec: corev1.ServiceSpec{ClusterIP: clusterDNS, InternalTrafficPolicy: &local, Ports: []corev1.ServicePort{
			{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(int32(port))},
			{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(int32(port))},
		}},
	}
	if _, err := client.CoreV1().Services(ServiceNamespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating %s/%s: %w", ServiceNamespace, ServiceName, err)
	}
	slice := nodeSlice(nodeName, nodeIP, int32(port))
	// Owned by the Node, so the garbage collector removes it with the node.
	if n, err := client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{}); err == nil {
		slice.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}}
	}
	api := client.DiscoveryV1().EndpointSlices(ServiceNamespace)
	cur, err := api.Get(ctx, slice.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = api.Create(ctx, slice, metav1.CreateOptions{})
	case err == nil:
		slice.ResourceVersion = cur.ResourceVersion
		_, err = api.Update(ctx, slice, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("endpointslice %s: %w", slice.Name, err)
	}
	return nil
}

func nodeSlice(nodeName, nodeIP string, port int32) *discoveryv1.EndpointSlice {
	ready := true
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	dns, dnsTCP := "dns", "dns-tcp"
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: ServiceName + "-" + nodeName, Namespace: ServiceNamespace,
			Labels: map[string]string{discoveryv1.LabelServiceName: ServiceName, discoveryv1.LabelManagedBy: managedBy}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{nodeIP}, NodeName: &nodeName,
			Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports: []discoveryv1.EndpointPort{{Name: &dns, Protocol: &udp, Port: &port}, {Name: &dnsTCP, Protocol: &tcp, Port: &port}},
	}
}
