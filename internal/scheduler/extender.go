package scheduler

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// Wire types of the scheduler extender protocol (upstream's extender/v1
// JSON shapes, defined here).

// ExtenderArgs is POSTed to the filter and prioritize verbs.
type ExtenderArgs struct {
	Pod       *v1.Pod      `json:"pod"`
	Nodes     *v1.NodeList `json:"nodes,omitempty"`
	NodeNames *[]string    `json:"nodenames,omitempty"`
}

// ExtenderFilterResult is the filter verb's answer.
type ExtenderFilterResult struct {
	Nodes                      *v1.NodeList      `json:"nodes,omitempty"`
	NodeNames                  *[]string         `json:"nodenames,omitempty"`
	FailedNodes                map[string]string `json:"failedNodes,omitempty"`
	FailedAndUnresolvableNodes map[string]string `json:"failedAndUnresolvableNodes,omitempty"`
	Error                      string            `json:"error,omitempty"`
}

// HostPriority is one node's score from an extender (0–10).
type HostPriority struct {
	Host  string `json:"host"`
	Score int64  `json:"score"`
}

// HostPriorityList is the prioritize verb's answer.
type HostPriorityList []HostPriority

// MaxExtenderPriority is the top of the extender score scale.
const MaxExtenderPriority = 10

const defaultExtenderTimeout = 5 * time.Second

type httpExtender struct {
	cfg     *ExtenderConfig
	client  *http.Client
	managed map[string]bool
}

func newHTTPExtender(cfg *ExtenderConfig) (*httpExtender, error) {
	timeout := cfg.HTTPTimeout.Duration
	if timeout <= 0 {
		timeout = defaultExtenderTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.EnableHTTPS || cfg.TLSConfig != nil {
		tc, err := extenderTLS(cfg.TLSConfig)
		if err != nil {
			return nil, fmt.Errorf("tlsConfig: %w", err)
		}
		tr.TLSClientConfig = tc
	}
	e := &httpExtender{cfg: cfg, client: &http.Client{Transport: tr, Timeout: timeout}, managed: map[string]bool{}}
	for _, r := range cfg.ManagedResources {
		e.managed[r.Name] = true
	}
	return e, nil
}

func extenderTLS(c *ExtenderTLSConfig) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c == nil {
		return tc, nil
	}
	tc.InsecureSkipVerify, tc.ServerName = c.Insecure, c.ServerName
	ca := c.CAData
	if len(ca) == 0 && c.CAFile != "" {
		b, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, err
		}
		ca = b
	}
	if len(ca) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, errors.New("caData: no certificates found")
		}
		tc.RootCAs = pool
	}
	cert, key := c.CertData, c.KeyData
	if len(cert) == 0 && c.CertFile != "" {
		var err error
		if cert, err = os.ReadFile(c.CertFile); err != nil {
			return nil, err
		}
		if key, err = os.ReadFile(c.KeyFile); err != nil {
			return nil, err
		}
	}
	if len(cert) > 0 {
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

// interested: an extender with managed resources only sees pods that
// request one of them.
func (e *httpExtender) interested(pod *v1.Pod) bool {
	if len(e.managed) == 0 {
		return true
	}
	for _, cs := range [][]v1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range cs {
			for name := range cs[i].Resources.Requests {
				if e.managed[string(name)] {
					return true
				}
			}
			for name := range cs[i].Resources.Limits {
				if e.managed[string(name)] {
					return true
				}
			}
		}
	}
	return false
}

func (e *httpExtender) args(pod *v1.Pod, nodes []*framework.NodeInfo) *ExtenderArgs {
	a := &ExtenderArgs{Pod: pod}
	if e.cfg.NodeCacheCapable {
		names := make([]string, len(nodes))
		for i, ni := range nodes {
			names[i] = ni.Name()
		}
		a.NodeNames = &names
		return a
	}
	list := &v1.NodeList{Items: make([]v1.Node, len(nodes))}
	for i, ni := range nodes {
		list.Items[i] = *ni.Node()
	}
	a.Nodes = list
	return a
}

func (e *httpExtender) post(verb string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	url := strings.TrimRight(e.cfg.URLPrefix, "/") + "/" + verb
	resp, err := e.client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("extender %s returned HTTP %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// filter returns the nodes the extender keeps, recording rejections.
func (e *httpExtender) filter(pod *v1.Pod, nodes []*framework.NodeInfo, diag *Diagnosis) ([]*framework.NodeInfo, error) {
	var res ExtenderFilterResult
	if err := e.post(e.cfg.FilterVerb, e.args(pod, nodes), &res); err != nil {
		return nil, err
	}
	if res.Error != "" {
		return nil, errors.New(res.Error)
	}
	for name, why := range res.FailedNodes {
		diag.reject(name, framework.NewStatus(framework.Unschedulable, why))
	}
	for name, why := range res.FailedAndUnresolvableNodes {
		diag.reject(name, framework.NewStatus(framework.UnschedulableAndUnresolvable, why))
	}
	keep := map[string]bool{}
	switch {
	case res.NodeNames != nil:
		for _, n := range *res.NodeNames {
			keep[n] = true
		}
	case res.Nodes != nil:
		for i := range res.Nodes.Items {
			keep[res.Nodes.Items[i].Name] = true
		}
	}
	out := nodes[:0:0]
	for _, ni := range nodes {
		if keep[ni.Name()] {
			out = append(out, ni)
		}
	}
	return out, nil
}

func (s *Scheduler) runExtenderFilters(pod *v1.Pod, nodes []*framework.NodeInfo, diag *Diagnosis) ([]*framework.NodeInfo, error) {
	for _, e := range s.extenders {
		if len(nodes) == 0 {
			break
		}
		if e.cfg.FilterVerb == "" || !e.interested(pod) {
			continue
		}
		kept, err := e.filter(pod, nodes, diag)
		if err != nil {
			if e.cfg.Ignorable {
				continue
			}
			return nil, fmt.Errorf("extender %s: %w", e.cfg.URLPrefix, err)
		}
		nodes = kept
	}
	return nodes, nil
}

// extendersAccept runs the filters on a single (nominated) node.
func (s *Scheduler) extendersAccept(pod *v1.Pod, ni *framework.NodeInfo, diag *Diagnosis) (bool, error) {
	kept, err := s.runExtenderFilters(pod, []*framework.NodeInfo{ni}, diag)
	return len(kept) == 1, err
}

// runExtenderPrioritize adds each extender's 0–10 scores, scaled to the
// plugins' 0–100 range and weighted.
func (s *Scheduler) runExtenderPrioritize(pod *v1.Pod, nodes []*framework.NodeInfo, totals []int64) error {
	for _, e := range s.extenders {
		if e.cfg.PrioritizeVerb == "" || !e.interested(pod) {
			continue
		}
		var list HostPriorityList
		if err := e.post(e.cfg.PrioritizeVerb, e.args(pod, nodes), &list); err != nil {
			if e.cfg.Ignorable {
				continue
			}
			return fmt.Errorf("extender %s: %w", e.cfg.URLPrefix, err)
		}
		pos := make(map[string]int, len(nodes))
		for i, ni := range nodes {
			pos[ni.Name()] = i
		}
		for _, hp := range list {
			if i, ok := pos[hp.Host]; ok {
				totals[i] += hp.Score * e.cfg.Weight * (framework.MaxNodeScore / MaxExtenderPriority)
			}
		}
	}
	return nil
}
