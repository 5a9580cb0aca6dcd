package serviceaccount

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"

	"github.com/skiff-sh/skiff/internal/controller/ctrltest"
)

func TestDefaultServiceAccount(t *testing.T) {
	now := metav1.Now()
	client := ctrltest.NewClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "dying", DeletionTimestamp: &now, Finalizers: []string{"x"}},
			Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}})
	f := informers.NewSharedInformerFactory(client, 0)
	c := New(client, f, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(f.Shutdown)
	t.Cleanup(cancel)
	f.Start(ctx.Done())
	go c.Run(ctx, 1)
	exists := func(ns string) bool {
		_, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, DefaultName, metav1.GetOptions{})
		return err == nil
	}
	ctrltest.Eventually(t, 5*time.Second, "default SA in a", func() bool { return exists("a") })
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 5*time.Second, "default SA in new namespace b", func() bool { return exists("b") })
	if err := client.CoreV1().ServiceAccounts("a").Delete(ctx, DefaultName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 5*time.Second, "recreated after delete", func() bool { return exists("a") })
	if exists("dying") {
		t.Fatal("SA created in a terminating namespace")
	}
}
