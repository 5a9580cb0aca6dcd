package kubelet

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// envFor resolves a container's environment in upstream's order: the API server's
// service variables (KUBERNETES_SERVICE_HOST...), envFrom sources, then env entries,
// later ones overriding earlier ones; $(VAR) references expand to earlier values.
func (w *worker) envFor(ctx context.Context, c *corev1.Container, obs *observed) ([]*runtimeapi.KeyValue, error) {
	vars := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, seen := vars[k]; !seen {
			order = append(order, k)
		}
		vars[k] = v
	}
	for k, v := range w.serviceEnv(ctx) {
		set(k, v)
	}
	sort.Strings(order)
	for _, from := range c.EnvFrom {
		data, err := w.envFromSource(ctx, from)
		if err != nil {
			return nil, err
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			set(from.Prefix+k, data[k])
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, vars))
			continue
		}
		v, ok, err := w.envValueFrom(ctx, c, e.ValueFrom, obs)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if ok {
			set(e.Name, v)
		}
	}
	out := make([]*runtimeapi.KeyValue, 0, len(order))
	for _, k := range order {
		out = append(out, &runtimeapi.KeyValue{Key: k, Value: []byte(vars[k])})
	}
	return out, nil
}

// serviceEnv gives pods the in-cluster API address, which client-go's
// InClusterConfig reads. (Per-service docker-link variables are not generated.)
func (w *worker) serviceEnv(ctx context.Context) map[string]string {
	svc, err := w.k.cfg.Client.CoreV1().Services(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP == "" || len(svc.Spec.Ports) == 0 {
		return nil
	}
	port := strconv.Itoa(int(svc.Spec.Ports[0].Port))
	ip := svc.Spec.ClusterIP
	return map[string]string{
		"KUBERNETES_SERVICE_HOST":                ip,
		"KUBERNETES_SERVICE_PORT":                port,
		"KUBERNETES_SERVICE_PORT_HTTPS":          port,
		"KUBERNETES_PORT":                        "tcp://" + ip + ":" + port,
		"KUBERNETES_PORT_" + port + "_TCP":       "tcp://" + ip + ":" + port,
		"KUBERNETES_PORT_" + port + "_TCP_PROTO": "tcp",
		"KUBERNETES_PORT_" + port + "_TCP_PORT":  port,
		"KUBERNETES_PORT_" + port + "_TCP_ADDR":  ip,
	}
}

func (w *worker) envFromSource(ctx context.Context, from corev1.EnvFromSource) (map[string]string, error) {
	ns := w.pod.Namespace
	switch {
	case from.ConfigMapRef != nil:
		cm, err := w.k.cfg.Client.CoreV1().ConfigMaps(ns).Get(ctx, from.ConfigMapRef.Name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) && from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional {
				return nil, nil
			}
			return nil, fmt.Errorf("configmap %q not found", from.ConfigMapRef.Name)
		}
		return cm.Data, nil
	case from.SecretRef != nil:
		s, err := w.k.cfg.Client.CoreV1().Secrets(ns).Get(ctx, from.SecretRef.Name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) && from.SecretRef.Optional != nil && *from.SecretRef.Optional {
				return nil, nil
			}
			return nil, fmt.Errorf("secret %q not found", from.SecretRef.Name)
		}
		out := map[string]string{}
		for k, v := range s.Data {
			out[k] = string(v)
		}
		return out, nil
	}
	return nil, nil
}

func (w *worker) envValueFrom(ctx context.Context, c *corev1.Container, src *corev1.EnvVarSource, obs *observed) (string, bool, error) {
	ns := w.pod.Namespace
	switch {
	case src.FieldRef != nil:
		v, err := fieldValue(w.pod, src.FieldRef.FieldPath, w.k.nodeIP.String(), podIP(w.pod, obs))
		return v, err == nil, err
	case src.ResourceFieldRef != nil:
		v, err := resourceValue(c, src.ResourceFieldRef, w.k.memoryCapacity(), w.k.cpuCapacity())
		return v, err == nil, err
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		optional := ref.Optional != nil && *ref.Optional
		cm, err := w.k.cfg.Client.CoreV1().ConfigMaps(ns).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			if optional && apierrors.IsNotFound(err) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("configmap %q not found", ref.Name)
		}
		v, ok := cm.Data[ref.Key]
		if !ok && !optional {
			return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, ns, ref.Name)
		}
		return v, ok, nil
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		optional := ref.Optional != nil && *ref.Optional
		s, err := w.k.cfg.Client.CoreV1().Secrets(ns).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			if optional && apierrors.IsNotFound(err) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("secret %q not found", ref.Name)
		}
		v, ok := s.Data[ref.Key]
		if !ok && !optional {
			return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, ns, ref.Name)
		}
		return string(v), ok, nil
	}
	return "", false, nil
}

func podIP(p *corev1.Pod, obs *observed) string {
	if obs != nil && obs.sandboxStatus != nil && obs.sandboxStatus.GetNetwork().GetIp() != "" {
		return obs.sandboxStatus.GetNetwork().GetIp()
	}
	return p.Status.PodIP
}

// fieldValue resolves a downward API field path (env and downwardAPI volumes).
func fieldValue(p *corev1.Pod, path, hostIP, podIP string) (string, error) {
	switch path {
	case "metadata.name":
		return p.Name, nil
	case "metadata.namespace":
		return p.Namespace, nil
	case "metadata.uid":
		return string(p.UID), nil
	case "metadata.labels":
		return formatMap(p.Labels), nil
	case "metadata.annotations":
		return formatMap(p.Annotations), nil
	case "spec.nodeName":
		return p.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return p.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		return hostIP, nil
	case "status.podIP", "status.podIPs":
		return podIP, nil
	}
	for _, prefix := range []string{"metadata.labels", "metadata.annotations"} {
		if rest, ok := strings.CutPrefix(path, prefix+"['"); ok && strings.HasSuffix(rest, "']") {
			key := strings.TrimSuffix(rest, "']")
			if prefix == "metadata.labels" {
				return p.Labels[key], nil
			}
			return p.Annotations[key], nil
		}
	}
	return "", fmt.Errorf("unsupported fieldPath %q", path)
}

func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q\n", k, m[k])
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// resourceValue resolves resourceFieldRef; unset limits default to node capacity.
func resourceValue(c *corev1.Container, ref *corev1.ResourceFieldSelector, memCap, cpuCap int64) (string, error) {
	divisor := ref.Divisor
	get := func(list corev1.ResourceList, name corev1.ResourceName, fallback int64, milli bool) string {
		q, ok := list[name]
		var v float64
		switch {
		case ok && milli:
			v = float64(q.MilliValue()) / 1000
		case ok:
			v = float64(q.Value())
		default:
			v = float64(fallback)
		}
		d := 1.0
		if !divisor.IsZero() {
			if milli {
				d = float64(divisor.MilliValue()) / 1000
			} else {
				d = float64(divisor.Value())
			}
		}
		n := v / d
		if n != float64(int64(n)) {
			n = float64(int64(n) + 1) // round up like upstream
		}
		return strconv.FormatInt(int64(n), 10)
	}
	switch ref.Resource {
	case "limits.cpu":
		return get(c.Resources.Limits, corev1.ResourceCPU, cpuCap, true), nil
	case "requests.cpu":
		return get(c.Resources.Requests, corev1.ResourceCPU, 0, true), nil
	case "limits.memory":
		return get(c.Resources.Limits, corev1.ResourceMemory, memCap, false), nil
	case "requests.memory":
		return get(c.Resources.Requests, corev1.ResourceMemory, 0, false), nil
	}
	return "", fmt.Errorf("unsupported resourceFieldRef %q", ref.Resource)
}

// expand replaces $(VAR) with earlier values; $$ escapes; unknown names stay as is.
func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteByte(s[i])
				continue
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func expandAll(in []string, vars map[string]string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = expand(s, vars)
	}
	return out
}
