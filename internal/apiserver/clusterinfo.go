package apiserver

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
	"github.com/skiff-sh/skiff/internal/auth"
)

// PublishClusterInfo writes kube-public/cluster-info, the ConfigMap a joining node
// reads (anonymously, as kubeadm's discovery does) to learn the server URL and the
// cluster CA, which it then checks against its --ca-cert-hash pin. It runs at every
// start so a changed advertise address is republished.
func (s *Server) PublishClusterInfo(ctx context.Context, serverURL string, caPEM []byte) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters[""] = &clientcmdapi.Cluster{Server: serverURL, CertificateAuthorityData: caPEM}
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: auth.ClusterInfoName, Namespace: auth.ClusterInfoNamespace},
		Data:       map[string]string{auth.ClusterInfoKey: string(data)},
	}
	ri := requestInfo{namespace: auth.ClusterInfoNamespace, res: catalog.Lookup("", "v1", "configmaps"), verb: "update", name: auth.ClusterInfoName}
	_, err = s.updateObject(ctx, ri, false, func(cur runtime.Object) (runtime.Object, error) {
		next := cur.DeepCopyObject().(*corev1.ConfigMap)
		if next.Data == nil {
			next.Data = map[string]string{}
		}
		next.Data[auth.ClusterInfoKey] = string(data)
		return next, nil
	})
	if apierrors.IsNotFound(err) {
		return s.ensure(ctx, "", "configmaps", cm)
	}
	return err
}
