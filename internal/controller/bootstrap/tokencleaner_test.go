package bootstrap

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/controller/ctrltest"
)

func tokenSecret(id string, expires time.Time) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: auth.BootstrapTokenSecretPrefix + id, Namespace: auth.BootstrapTokenNamespace, UID: types.UID("uid-" + id)},
		Type:       auth.BootstrapTokenSecretType,
		Data: map[string][]byte{auth.BootstrapTokenIDKey: []byte(id), auth.BootstrapTokenSecretKey: []byte("0123456789abcdef"),
			auth.BootstrapTokenExpirationKey: []byte(expires.UTC().Format(time.RFC3339))},
	}
}

func TestTokenCleanerDeletesOnlyExpired(t *testing.T) {
	now := time.Now()
	expired, live := tokenSecret("aaaaaa", now.Add(-time.Minute)), tokenSecret("bbbbbb", now.Add(time.Hour))
	opaque := tokenSecret("cccccc", now.Add(-time.Minute))
	opaque.Type = corev1.SecretTypeOpaque
	cs := ctrltest.NewClientset(expired, live, opaque)
	factory := informers.NewSharedInformerFactory(cs, 0)
	c := NewTokenCleaner(cs, factory, TokenCleanerOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done())
	go c.Run(ctx, 1)
	ctrltest.Eventually(t, 10*time.Second, "expired token deleted", func() bool {
		_, err := cs.CoreV1().Secrets("kube-system").Get(ctx, expired.Name, metav1.GetOptions{})
		return err != nil
	})
	for _, keep := range []string{live.Name, opaque.Name} {
		if _, err := cs.CoreV1().Secrets("kube-system").Get(ctx, keep, metav1.GetOptions{}); err != nil {
			t.Errorf("%s: %v", keep, err)
		}
	}
}
