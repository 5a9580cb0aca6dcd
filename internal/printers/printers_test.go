package printers

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
)

// named returns an empty object of the resource with a name and creation time set.
func named(t *testing.T, r *catalog.Resource) runtime.Object {
	t.Helper()
	obj := r.New()
	m, err := meta.Accessor(obj)
	if err != nil {
		t.Fatalf("%s: %v", r.Kind, err)
	}
	m.SetName("thing")
	m.SetNamespace("ns")
	m.SetCreationTimestamp(ago(90 * time.Second))
	return obj
}

// cellMatches reports whether a cell's Go value fits its column's declared type,
// which is what lets clients (and DeepCopy) handle it.
func cellMatches(typ string, cell any) bool {
	switch typ {
	case "integer":
		_, ok := cell.(int64)
		return ok
	case "boolean":
		_, ok := cell.(bool)
		return ok
	case "string", "date":
		_, ok := cell.(string)
		return ok
	}
	return false
}

func TestEveryCatalogKindRendersMatchingColumns(t *testing.T) {
	for i := range catalog.Resources {
		r := &catalog.Resources[i]
		t.Run(r.GroupResource().String(), func(t *testing.T) {
			gk := r.GVK().GroupKind()
			cols := Columns(gk)
			if len(cols) < 2 {
				t.Fatalf("%d columns, want at least 2", len(cols))
			}
			table, err := Table(gk, []runtime.Object{named(t, r), named(t, r)}, metav1.IncludeMetadata, now)
			if err != nil {
				t.Fatalf("Table: %v", err)
			}
			if len(table.ColumnDefinitions) != len(cols) || len(table.Rows) != 2 {
				t.Fatalf("%d column definitions, %d rows; want %d, 2", len(table.ColumnDefinitions), len(table.Rows), len(cols))
			}
			for _, row := range table.Rows {
				if len(row.Cells) != len(cols) {
					t.Fatalf("%d cells for %d columns: %v", len(row.Cells), len(cols), row.Cells)
				}
				for j, c := range cols {
					if !cellMatches(c.Type, row.Cells[j]) {
						t.Errorf("column %q (%s) holds %T %#v", c.Name, c.Type, row.Cells[j], row.Cells[j])
					}
				}
			}
			// The API server deep-copies and serializes tables; both must work for every cell.
			if _, err := json.Marshal(table.DeepCopy()); err != nil {
				t.Fatalf("marshal: %v", err)
			}
		})
	}
}

func TestColumnDefinitionsAreWellFormed(t *testing.T) {
	kinds := []schema.GroupKind{{Kind: "Unknown", Group: "example.com"}}
	for gk := range printers {
		kinds = append(kinds, gk)
	}
	for _, gk := range kinds {
		names := map[string]bool{}
		hasName := false
		for _, c := range Columns(gk) {
			if names[c.Name] {
				t.Errorf("%s: duplicate column %q", gk, c.Name)
			}
			names[c.Name] = true
			if c.Name == "" || strings.ToUpper(c.Name[:1]) != c.Name[:1] {
				t.Errorf("%s: column %q is not title case", gk, c.Name)
			}
			if !strings.HasSuffix(c.Description, ".") || len(c.Description) > 100 {
				t.Errorf("%s/%s: description %q is not a short sentence", gk, c.Name, c.Description)
			}
			if c.Priority != 0 && c.Priority != 1 {
				t.Errorf("%s/%s: priority %d", gk, c.Name, c.Priority)
			}
			if c.Name == "Name" && c.Format == "name" {
				hasName = true
			}
		}
		if !hasName {
			t.Errorf("%s: no Name column with format name", gk)
		}
	}
}

func TestColumnsAreCopies(t *testing.T) {
	cols := Columns(podGK)
	cols[0].Name = "Mangled"
	if Columns(podGK)[0].Name != "Name" {
		t.Fatal("Columns returned the shared definitions")
	}
}

func TestWideColumns(t *testing.T) {
	tests := map[schema.GroupKind][]string{
		podGK:           {"IP", "Node", "Nominated Node", "Readiness Gates"},
		nodeGK:          {"Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"},
		serviceGK:       {"Selector"},
		deploymentGK:    {"Containers", "Images", "Selector"},
		{Kind: "Event"}: {"Subobject", "Source", "First Seen", "Count", "Name"},
		{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}: {"Users", "Groups", "ServiceAccounts"},
	}
	for gk, want := range tests {
		var got []string
		for _, c := range Columns(gk) {
			if c.Priority == 1 {
				got = append(got, c.Name)
			}
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s wide columns = %v, want %v", gk, got, want)
		}
	}
}

func TestRowObjects(t *testing.T) {
	for i := range catalog.Resources {
		r := &catalog.Resources[i]
		gk := r.GVK().GroupKind()
		t.Run(r.GroupResource().String(), func(t *testing.T) {
			obj := named(t, r)

			table, err := Table(gk, []runtime.Object{obj}, metav1.IncludeMetadata, now)
			if err != nil {
				t.Fatal(err)
			}
			partial, ok := table.Rows[0].Object.Object.(*metav1.PartialObjectMetadata)
			if !ok {
				t.Fatalf("metadata row object is %T", table.Rows[0].Object.Object)
			}
			if partial.Kind != "PartialObjectMetadata" || partial.APIVersion != "meta.k8s.io/v1" {
				t.Errorf("metadata row kind %q apiVersion %q", partial.Kind, partial.APIVersion)
			}
			if partial.Name != "thing" || partial.Namespace != "ns" {
				t.Errorf("metadata row is %s/%s, want ns/thing", partial.Namespace, partial.Name)
			}

			table, err = Table(gk, []runtime.Object{obj}, metav1.IncludeObject, now)
			if err != nil {
				t.Fatal(err)
			}
			full := table.Rows[0].Object.Object
			if gvk := full.GetObjectKind().GroupVersionKind(); gvk != r.GVK() {
				t.Errorf("object row kind %v, want %v", gvk, r.GVK())
			}
			if full == obj {
				t.Error("object row shares the caller's object")
			}
			if gvk := obj.GetObjectKind().GroupVersionKind(); !gvk.Empty() {
				t.Errorf("caller's object was given kind %v", gvk)
			}
			// Serialized, the row must carry kind and apiVersion so clients can decode it.
			data, err := json.Marshal(table.Rows[0].Object)
			if err != nil {
				t.Fatal(err)
			}
			var tm metav1.TypeMeta
			_ = json.Unmarshal(data, &tm)
			if tm.Kind != r.Kind || tm.APIVersion != r.GroupVersion().String() {
				t.Errorf("serialized object row has kind %q apiVersion %q", tm.Kind, tm.APIVersion)
			}

			table, err = Table(gk, []runtime.Object{obj}, metav1.IncludeNone, now)
			if err != nil {
				t.Fatal(err)
			}
			if table.Rows[0].Object.Object != nil || table.Rows[0].Object.Raw != nil {
				t.Errorf("IncludeNone row carries %v", table.Rows[0].Object)
			}
		})
	}
}

func TestDefaultPolicyIsMetadata(t *testing.T) {
	table, err := Table(podGK, []runtime.Object{pod(corev1.PodPending, nil, nil, nil)}, "", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := table.Rows[0].Object.Object.(*metav1.PartialObjectMetadata); !ok {
		t.Fatalf("row object is %T", table.Rows[0].Object.Object)
	}
	if _, err := Table(podGK, []runtime.Object{&corev1.Pod{}}, "Everything", now); err == nil {
		t.Error("unknown policy accepted")
	}
}

func TestEmptyTableHasRows(t *testing.T) {
	table, err := Table(podGK, nil, metav1.IncludeMetadata, now)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(table)
	if !strings.Contains(string(data), `"rows":[]`) {
		t.Errorf("empty table serialized as %s", data)
	}
}

func TestWrongObjectTypeIsAnError(t *testing.T) {
	if _, err := Table(podGK, []runtime.Object{&corev1.Node{}}, metav1.IncludeNone, now); err == nil {
		t.Error("a Node printed as a Pod")
	}
}

func TestDefaultPrinter(t *testing.T) {
	gk := schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "Role"}
	cols := Columns(gk)
	if len(cols) != 2 || cols[0].Name != "Name" || cols[1].Name != "Created At" || cols[1].Type != "date" {
		t.Fatalf("default columns %+v", cols)
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reader",
		CreationTimestamp: metav1.NewTime(time.Date(2024, 3, 4, 5, 6, 7, 0, time.FixedZone("x", 3600)))}}
	expect(t, cells(t, gk, role), map[string]any{"Name": "reader", "Created At": "2024-03-04T04:06:07Z"})
}

func TestAge(t *testing.T) {
	tests := []struct {
		t    metav1.Time
		want string
	}{{metav1.Time{}, "<unknown>"}, {ago(30 * time.Second), "30s"}, {ago(5 * time.Minute), "5m"},
		{ago(26 * time.Hour), "26h"}, {ago(50 * time.Hour), "2d2h"}}
	for _, tc := range tests {
		if got := age(tc.t, now); got != tc.want {
			t.Errorf("age(%v) = %q, want %q", tc.t, got, tc.want)
		}
	}
}

func TestNode(t *testing.T) {
	node := func(unschedulable bool, roles map[string]string, conds ...corev1.NodeCondition) *corev1.Node {
		return &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: roles, CreationTimestamp: ago(3 * 24 * time.Hour)},
			Spec:       corev1.NodeSpec{Unschedulable: unschedulable},
			Status:     corev1.NodeStatus{Conditions: conds, NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.37.2"}},
		}
	}
	ready := func(s corev1.ConditionStatus) corev1.NodeCondition {
		return corev1.NodeCondition{Type: corev1.NodeReady, Status: s}
	}
	pressure := corev1.NodeCondition{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue}
	tests := []struct {
		name          string
		node          *corev1.Node
		status, roles string
	}{
		{"ready", node(false, nil, pressure, ready(corev1.ConditionTrue)), "Ready", "<none>"},
		{"cordoned with roles", node(true, map[string]string{
			"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/worker": "true",
			"kubernetes.io/role": "worker", "node-role.kubernetes.io/": "x", "kubernetes.io/hostname": "n1",
		}, ready(corev1.ConditionTrue)), "Ready,SchedulingDisabled", "control-plane,worker"},
		{"legacy role label", node(false, map[string]string{"kubernetes.io/role": "master"}, ready(corev1.ConditionTrue)), "Ready", "master"},
		{"not ready", node(false, nil, ready(corev1.ConditionFalse)), "NotReady", "<none>"},
		{"ready unknown", node(false, nil, ready(corev1.ConditionUnknown)), "NotReady", "<none>"},
		{"no ready condition, cordoned", node(true, nil, pressure), "Unknown,SchedulingDisabled", "<none>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, cells(t, nodeGK, tc.node), map[string]any{"Name": "n1", "Status": tc.status, "Roles": tc.roles,
				"Age": "3d", "Version": "v1.37.2", "Internal-IP": "<none>", "OS-Image": "<unknown>"})
		})
	}

	n := node(false, nil, ready(corev1.ConditionTrue))
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "n1"},
		{Type: corev1.NodeInternalIP, Address: "192.168.0.10"}, {Type: corev1.NodeExternalIP, Address: "203.0.113.7"}}
	n.Status.NodeInfo.OSImage, n.Status.NodeInfo.KernelVersion = "Debian GNU/Linux 13", "6.12.0"
	n.Status.NodeInfo.ContainerRuntimeVersion = "containerd://2.1.0"
	expect(t, cells(t, nodeGK, n), map[string]any{"Internal-IP": "192.168.0.10", "External-IP": "203.0.113.7",
		"OS-Image": "Debian GNU/Linux 13", "Kernel-Version": "6.12.0", "Container-Runtime": "containerd://2.1.0"})
}

func TestService(t *testing.T) {
	svc := func(typ corev1.ServiceType, mutate func(*corev1.Service)) *corev1.Service {
		s := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: ago(time.Hour)},
			Spec: corev1.ServiceSpec{Type: typ, ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10", "fd00::10"},
				Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}},
		}
		if mutate != nil {
			mutate(s)
		}
		return s
	}
	tests := []struct {
		name                       string
		svc                        *corev1.Service
		clusterIP, external, ports string
		selector                   string
	}{
		{"cluster ip", svc(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolUDP})
			s.Spec.Selector = map[string]string{"app": "web"}
		}), "10.96.0.10", "<none>", "80/TCP,53/UDP", "app=web"},
		{"cluster ip with external ips", svc(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.ExternalIPs = []string{"198.51.100.1", "198.51.100.2"}
		}), "10.96.0.10", "198.51.100.1,198.51.100.2", "80/TCP", "<none>"},
		{"node port", svc(corev1.ServiceTypeNodePort, func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 }),
			"10.96.0.10", "<none>", "80:30080/TCP", "<none>"},
		{"load balancer pending", svc(corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 31000 }),
			"10.96.0.10", "<pending>", "80:31000/TCP", "<none>"},
		{"load balancer with ingress", svc(corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) {
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.9"}, {Hostname: "lb.example.com"}, {IP: "203.0.113.9"}}
			s.Spec.ExternalIPs = []string{"198.51.100.1"}
		}), "10.96.0.10", "203.0.113.9,lb.example.com,198.51.100.1", "80/TCP", "<none>"},
		{"headless, no ports", svc(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.Ports = "None", []string{"None"}, nil
		}), "None", "<none>", "<none>", "<none>"},
		{"external name", svc(corev1.ServiceTypeExternalName, func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.ExternalName = "", nil, "db.example.com"
		}), "<none>", "db.example.com", "80/TCP", "<none>"},
		{"legacy clusterIP only", svc(corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ClusterIPs = nil }),
			"10.96.0.10", "<none>", "80/TCP", "<none>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, cells(t, serviceGK, tc.svc), map[string]any{"Name": "web", "Type": string(tc.svc.Spec.Type),
				"Cluster-IP": tc.clusterIP, "External-IP": tc.external, "Port(s)": tc.ports, "Age": "60m", "Selector": tc.selector})
		})
	}
}

func TestEndpoints(t *testing.T) {
	addrs := func(ips ...string) []corev1.EndpointAddress {
		out := make([]corev1.EndpointAddress, len(ips))
		for i, ip := range ips {
			out[i].IP = ip
		}
		return out
	}
	tests := []struct {
		name    string
		subsets []corev1.EndpointSubset
		want    string
	}{
		{"none", nil, "<none>"},
		{"two", []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2"), Ports: []corev1.EndpointPort{{Port: 80}}}},
			"10.0.0.1:80,10.0.0.2:80"},
		{"more than three", []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"),
			Ports: []corev1.EndpointPort{{Port: 80}}}}, "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more..."},
		{"headless without ports, ipv6", []corev1.EndpointSubset{{Addresses: addrs("fd00::1")}}, "fd00::1"},
		{"ipv6 with port", []corev1.EndpointSubset{{Addresses: addrs("fd00::1"), Ports: []corev1.EndpointPort{{Port: 443}}}}, "[fd00::1]:443"},
	}
	for _, tc := range tests {
		ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Subsets: tc.subsets}
		expect(t, cells(t, schema.GroupKind{Kind: "Endpoints"}, ep), map[string]any{"Endpoints": tc.want, "Age": "<unknown>"})
	}
}

func TestDeployment(t *testing.T) {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: ago(2 * time.Hour)},
		Spec: appsv1.DeploymentSpec{Replicas: ptr(int32(3)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
				{Name: "app", Image: "nginx:1.27"}, {Name: "log", Image: "busybox"}}}}},
		Status: appsv1.DeploymentStatus{Replicas: 3, ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2},
	}
	expect(t, cells(t, deploymentGK, d), map[string]any{"Name": "web", "Ready": "2/3", "Up-to-date": int64(3),
		"Available": int64(2), "Age": "120m", "Containers": "app,log", "Images": "nginx:1.27,busybox", "Selector": "app=web"})

	d.Spec.Replicas, d.Status = ptr(int32(0)), appsv1.DeploymentStatus{}
	expect(t, cells(t, deploymentGK, d), map[string]any{"Ready": "0/0", "Up-to-date": int64(0), "Available": int64(0)})
}

func TestWorkloadCounts(t *testing.T) {
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Spec: appsv1.StatefulSetSpec{Replicas: ptr(int32(3))},
		Status: appsv1.StatefulSetStatus{ReadyReplicas: 1}}
	expect(t, cells(t, schema.GroupKind{Group: "apps", Kind: "StatefulSet"}, sts), map[string]any{"Ready": "1/3"})

	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-abc"}, Spec: appsv1.ReplicaSetSpec{Replicas: ptr(int32(4))},
		Status: appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 2}}
	expect(t, cells(t, schema.GroupKind{Group: "apps", Kind: "ReplicaSet"}, rs), map[string]any{
		"Desired": int64(4), "Current": int64(3), "Ready": int64(2), "Selector": "<none>"})

	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			NodeSelector: map[string]string{"kubernetes.io/os": "linux"}}}},
		Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 5, CurrentNumberScheduled: 4, NumberReady: 3,
			UpdatedNumberScheduled: 2, NumberAvailable: 1}}
	expect(t, cells(t, schema.GroupKind{Group: "apps", Kind: "DaemonSet"}, ds), map[string]any{
		"Desired": int64(5), "Current": int64(4), "Ready": int64(3), "Up-to-date": int64(2), "Available": int64(1),
		"Node Selector": "kubernetes.io/os=linux"})

	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly"},
		Spec:   batchv1.CronJobSpec{Schedule: "0 3 * * *", Suspend: ptr(false)},
		Status: batchv1.CronJobStatus{Active: []corev1.ObjectReference{{Name: "j1"}}, LastScheduleTime: agoPtr(9 * time.Hour)}}
	expect(t, cells(t, schema.GroupKind{Group: "batch", Kind: "CronJob"}, cj), map[string]any{
		"Schedule": "0 3 * * *", "Timezone": "<none>", "Suspend": "False", "Active": int64(1), "Last Schedule": "9h"})

	owner := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db", Controller: ptr(true)}
	cr := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "db-7d9", OwnerReferences: []metav1.OwnerReference{owner}},
		Revision: 4}
	expect(t, cells(t, schema.GroupKind{Group: "apps", Kind: "ControllerRevision"}, cr), map[string]any{
		"Controller": "statefulset.apps/db", "Revision": int64(4)})
}

func TestJob(t *testing.T) {
	cond := func(typ batchv1.JobConditionType) []batchv1.JobCondition {
		return []batchv1.JobCondition{{Type: typ, Status: corev1.ConditionTrue}}
	}
	tests := []struct {
		name                         string
		spec                         batchv1.JobSpec
		status                       batchv1.JobStatus
		deleting                     bool
		state, completions, duration string
	}{
		{"complete", batchv1.JobSpec{Completions: ptr(int32(1))}, batchv1.JobStatus{Succeeded: 1,
			StartTime: agoPtr(10 * time.Minute), CompletionTime: agoPtr(7 * time.Minute), Conditions: cond(batchv1.JobComplete)},
			false, "Complete", "1/1", "3m"},
		{"running in parallel", batchv1.JobSpec{Parallelism: ptr(int32(3))}, batchv1.JobStatus{StartTime: agoPtr(5 * time.Minute)},
			false, "Running", "0/1 of 3", "5m"},
		{"not started", batchv1.JobSpec{Completions: ptr(int32(5)), Parallelism: ptr(int32(2))}, batchv1.JobStatus{Succeeded: 2},
			false, "Running", "2/5", ""},
		{"no completions, serial", batchv1.JobSpec{Parallelism: ptr(int32(1))}, batchv1.JobStatus{}, false, "Running", "0/1", ""},
		{"failed", batchv1.JobSpec{}, batchv1.JobStatus{Conditions: cond(batchv1.JobFailed)}, false, "Failed", "0/1", ""},
		{"terminating", batchv1.JobSpec{}, batchv1.JobStatus{}, true, "Terminating", "0/1", ""},
		{"suspended", batchv1.JobSpec{}, batchv1.JobStatus{Conditions: cond(batchv1.JobSuspended)}, false, "Suspended", "0/1", ""},
		{"failure target", batchv1.JobSpec{}, batchv1.JobStatus{Conditions: cond(batchv1.JobFailureTarget)}, false, "FailureTarget", "0/1", ""},
		{"false condition ignored", batchv1.JobSpec{}, batchv1.JobStatus{Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobComplete, Status: corev1.ConditionFalse}}}, false, "Running", "0/1", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi"}, Spec: tc.spec, Status: tc.status}
			if tc.deleting {
				j.DeletionTimestamp = agoPtr(time.Second)
			}
			expect(t, cells(t, jobGK, j), map[string]any{"Status": tc.state, "Completions": tc.completions, "Duration": tc.duration})
		})
	}
}

func TestEvents(t *testing.T) {
	coreGK := schema.GroupKind{Kind: "Event"}
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web-0.17a"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-0", FieldPath: "spec.containers{app}"},
		Type:           "Warning", Reason: "BackOff", Message: "Back-off restarting failed container\n",
		Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
		FirstTimestamp: ago(time.Hour), LastTimestamp: ago(2 * time.Minute), Count: 7,
	}
	expect(t, cells(t, coreGK, ev), map[string]any{"Last Seen": "2m", "Type": "Warning", "Reason": "BackOff",
		"Object": "pod/web-0", "Subobject": "spec.containers{app}", "Source": "kubelet, node-1",
		"Message": "Back-off restarting failed container", "First Seen": "60m", "Count": int64(7), "Name": "web-0.17a"})

	// A new-style event: only eventTime, reporting fields, no count; regarding a cluster-scoped kind without a name.
	ev = &corev1.Event{InvolvedObject: corev1.ObjectReference{Kind: "Node"}, EventTime: metav1.NewMicroTime(now.Add(-45 * time.Second)),
		ReportingController: "skiff-scheduler"}
	expect(t, cells(t, coreGK, ev), map[string]any{"Last Seen": "45s", "First Seen": "45s", "Object": "node",
		"Source": "skiff-scheduler", "Count": int64(1)})

	ev.Series = &corev1.EventSeries{Count: 12, LastObservedTime: metav1.NewMicroTime(now.Add(-10 * time.Second))}
	expect(t, cells(t, coreGK, ev), map[string]any{"Last Seen": "10s", "Count": int64(12)})

	newEv := &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e1"},
		Regarding: corev1.ObjectReference{Kind: "Deployment", Name: "web"}, Note: "Scaled up replica set web-abc to 3",
		Type: "Normal", Reason: "ScalingReplicaSet", EventTime: metav1.NewMicroTime(now.Add(-3 * time.Minute)),
		ReportingController: "deployment-controller", ReportingInstance: "cm-1"}
	expect(t, cells(t, schema.GroupKind{Group: "events.k8s.io", Kind: "Event"}, newEv), map[string]any{
		"Last Seen": "3m", "Object": "deployment/web", "Message": "Scaled up replica set web-abc to 3",
		"Source": "deployment-controller, cm-1", "Count": int64(1), "Name": "e1"})
}

func TestSmallKinds(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg"}, Data: map[string]string{"a": "1", "b": "2"},
		BinaryData: map[string][]byte{"c": {1}}}
	expect(t, cells(t, schema.GroupKind{Kind: "ConfigMap"}, cm), map[string]any{"Data": int64(3)})

	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tls"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": nil, "tls.key": nil}}
	expect(t, cells(t, schema.GroupKind{Kind: "Secret"}, sec), map[string]any{"Type": "kubernetes.io/tls", "Data": int64(2)})

	if cols := Columns(schema.GroupKind{Kind: "ServiceAccount"}); len(cols) != 2 || cols[1].Name != "Age" {
		t.Errorf("ServiceAccount columns %v, want Name, Age", cols)
	}

	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "q"}, Status: corev1.ResourceQuotaStatus{
		Hard: corev1.ResourceList{"pods": resource.MustParse("10"), "requests.cpu": resource.MustParse("1"), "limits.memory": resource.MustParse("2Gi"), "limits.cpu": resource.MustParse("2")},
		Used: corev1.ResourceList{"pods": resource.MustParse("3"), "requests.cpu": resource.MustParse("500m")}}}
	expect(t, cells(t, schema.GroupKind{Kind: "ResourceQuota"}, q), map[string]any{
		"Request": "pods: 3/10, requests.cpu: 500m/1", "Limit": "limits.cpu: 0/2, limits.memory: 0/2Gi"})

	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "rb"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "alice"}, {Kind: "User", Name: "bob"}, {Kind: "Group", Name: "devs"},
			{Kind: "ServiceAccount", Namespace: "ci", Name: "builder"}}}
	expect(t, cells(t, schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}, rb), map[string]any{
		"Role": "ClusterRole/view", "Users": "alice, bob", "Groups": "devs", "ServiceAccounts": "ci/builder"})

	mi := intstr.FromString("50%")
	pdbObj := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "pdb"}}
	pdbObj.Spec.MinAvailable = &mi
	pdbObj.Status.DisruptionsAllowed = 2
	expect(t, cells(t, schema.GroupKind{Group: "policy", Kind: "PodDisruptionBudget"}, pdbObj), map[string]any{
		"Min Available": "50%", "Max Unavailable": "N/A", "Allowed Disruptions": int64(2)})
}

func TestNetworkingAndClusterKinds(t *testing.T) {
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "web-x1"}, AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{Port: ptr(int32(80))}, {Name: ptr("metrics")}, {}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1", "10.0.0.2"}}, {Addresses: []string{"10.0.0.3"}},
			{Addresses: []string{"10.0.0.4"}}}}
	expect(t, cells(t, schema.GroupKind{Group: "discovery.k8s.io", Kind: "EndpointSlice"}, slice), map[string]any{
		"AddressType": "IPv4", "Ports": "80,metrics,*", "Endpoints": "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more..."})
	expect(t, cells(t, schema.GroupKind{Group: "discovery.k8s.io", Kind: "EndpointSlice"},
		&discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv6}), map[string]any{"Ports": "<unset>", "Endpoints": "<unset>"})

	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "kube-scheduler"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("cp-1_abc")}}
	expect(t, cells(t, schema.GroupKind{Group: "coordination.k8s.io", Kind: "Lease"}, lease), map[string]any{"Holder": "cp-1_abc"})

	pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-node-critical"}, Value: 2000001000,
		PreemptionPolicy: ptr(corev1.PreemptLowerPriority)}
	expect(t, cells(t, schema.GroupKind{Group: "scheduling.k8s.io", Kind: "PriorityClass"}, pc), map[string]any{
		"Value": int64(2000001000), "Global-Default": false, "PreemptionPolicy": "PreemptLowerPriority"})
}
