package storage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// errContinueExpired is what a list page returns when its continue token points at a
// revision etcd has compacted away: the client must start a new list.
func errContinueExpired() error {
	return apierrors.NewResourceExpired("the provided continue parameter is too old to display a " +
		"consistent list result. You can start a new list without the continue parameter")
}

// errTooOld is the 410 for a list or get at an exact revision that was compacted.
func errTooOld(rev uint64) error {
	return apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d", rev))
}

// errTooLarge is the 504 for a resource version the store has not reached yet. client-go
// recognises it by the cause type and falls back to a list without a resource version.
func errTooLarge(want, have uint64) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusGatewayTimeout,
		Reason:  metav1.StatusReasonTimeout,
		Message: fmt.Sprintf("Timeout: Too large resource version: %d, current: %d", want, have),
		Details: &metav1.StatusDetails{
			Causes: []metav1.StatusCause{{
				Type:    metav1.CauseTypeResourceVersionTooLarge,
				Message: "Too large resource version",
			}},
			RetryAfterSeconds: 1,
		},
	}}
}

// errFromEtcd turns a failed etcd call into a status error. Compaction and future
// revisions are handled by the callers that know what the revision meant.
func errFromEtcd(err error) error {
	var status apierrors.APIStatus
	switch {
	case err == nil:
		return nil
	case errors.As(err, &status):
		return err
	case errors.Is(err, context.DeadlineExceeded):
		return apierrors.NewTimeoutError("request did not complete within the allowed duration", 1)
	case errors.Is(err, context.Canceled):
		return err
	default:
		return apierrors.NewInternalError(fmt.Errorf("etcd: %w", err))
	}
}

func isCompacted(err error) bool { return errors.Is(err, rpctypes.ErrCompacted) }

func isFutureRev(err error) bool { return errors.Is(err, rpctypes.ErrFutureRev) }

// parseRV parses a resource version; "" and "0" both mean 0.
func parseRV(rv string) (uint64, error) {
	if rv == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version %q", rv))
	}
	return n, nil
}

// nameOf is the object name in a key, for error messages.
func nameOf(key string) string { return key[strings.LastIndex(key, "/")+1:] }
