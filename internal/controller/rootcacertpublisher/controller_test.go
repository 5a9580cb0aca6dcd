package rootcacertpublisher

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"

	"github.com/skiff-sh/skiff/internal/controller/ctrltest"
)

const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

func TestPublishesRecreatesAndRestores(t *testing.T) {
	now := metav1.Now()
	client := ctrltest.NewClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "dying", DeletionTimestamp: &now, Finalizers: []string{"x"}},
			Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}})
	f := informers.NewSharedInformerFactory(client, 0)
	c := New(client, f, Options{RootCA: []byte(pem)})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(f.Shutdown)
	t.Cleanup(cancel)
	f.Start(ctx.Done())
	go c.Run(ctx, 1)
	published := func(ns string) bool {
		cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, Name, metav1.GetOptions{})
		return err == nil && cm.Data[Key] == pem && len(cm.Data) == 1
	}
	ctrltest.Eventually(t, 5*time.Second, "kube-root-ca.crt in a", func() bool { return published("a") })
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 5*time.Second, "kube-root-ca.crt in new namespace b", func() bool { return published("b") })

	if err := client.CoreV1().ConfigMaps("a").Delete(ctx, Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 5*time.Second, "recreated after delete", func() bool { return published("a") })

	cm, err := client.CoreV1().ConfigMaps("a").Get(ctx, Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data = map[string]string{Key: "changed", "extra": "x"}
	if _, err := client.CoreV1().ConfigMaps("a").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 5*time.Second, "data restored after an edit", func() bool { return published("a") })

	if _, err := client.CoreV1().ConfigMaps("dying").Get(ctx, Name, metav1.GetOptions{}); err == nil {
		t.Fatal("published in a terminating namespace")
	}
}
