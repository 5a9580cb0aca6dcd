package dns

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// Config configures a Server.
type Config struct {
	// Addr is the UDP and TCP listen address ("10.0.0.5:53"; ":0" in tests).
	Addr string
	// Zone is the cluster domain (ClusterDomain when empty).
	Zone string
	// Upstreams receive every query outside the zone ("8.8.8.8:53"); when nil they
	// come from /etc/resolv.conf.
	Upstreams []string
	Source    Source
	Logf      func(format string, args ...any)
}

// Server answers DNS over UDP and TCP.
type Server struct {
	cfg  Config
	zone string
	udp  net.PacketConn
	tcp  net.Listener
}

// Listen binds the sockets (so callers know the address before Serve).
func Listen(cfg Config) (*Server, error) {
	if cfg.Zone == "" {
		cfg.Zone = ClusterDomain
	}
	if cfg.Logf == nil {
		cfg.Logf = log.Printf
	}
	if cfg.Upstreams == nil {
		cfg.Upstreams = ResolvConfUpstreams("/etc/resolv.conf")
	}
	udp, err := net.ListenPacket("udp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	// Same port for TCP, also when Addr asked for any port.
	tcp, err := net.Listen("tcp", udp.LocalAddr().String())
	if err != nil {
		udp.Close()
		return nil, fmt.Errorf("dns: %w", err)
	}
	return &Server{cfg: cfg, zone: strings.ToLower(strings.Trim(cfg.Zone, ".")), udp: udp, tcp: tcp}, nil
}

// Addr is the bound address (UDP and TCP share it).
func (s *Server) Addr() string { return s.udp.LocalAddr().String() }

// Serve answers until ctx ends, then closes the sockets.
func (s *Server) Serve(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.serveUDP() }()
	go func() { defer wg.Done(); s.serveTCP() }()
	<-ctx.Done()
	s.udp.Close()
	s.tcp.Close()
	wg.Wait()
	return nil
}

func (s *Server) serveUDP() {
	buf := make([]byte, 65535)
	for {
		n, addr, err := s.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		q := append([]byte(nil), buf[:n]...)
		go func() {
			if resp := s.handle(q, false); resp != nil {
				_, _ = s.udp.WriteTo(resp, addr)
			}
		}()
	}
}

func (s *Server) serveTCP() {
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				var l uint16
				if err := binary.Read(r, binary.BigEndian, &l); err != nil {
					return
				}
				q := make([]byte, l)
				if _, err := io.ReadFull(r, q); err != nil {
					return
				}
				resp := s.handle(q, true)
				if resp == nil {
					return
				}
				if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(resp))), resp...)); err != nil {
					return
				}
			}
		}()
	}
}

// handle returns the reply to one query (nil: drop it).
func (s *Server) handle(msg []byte, overTCP bool) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil || h.Response {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return reply(h, nil, dnsmessage.RCodeFormatError)
	}
	name := strings.ToLower(strings.TrimSuffix(q.Name.String(), "."))
	if name != s.zone && !strings.HasSuffix(name, "."+s.zone) {
		return s.forward(h, q, msg, overTCP)
	}
	limit := 512
	if !overTCP {
		if size := ednsSize(&p); size > limit {
			limit = size
		}
	} else {
		limit = 65535
	}
	resp := s.answer(h, q, name)
	if len(resp) > limit {
		// Too big for this UDP client: say so and let it retry over TCP.
		h.Truncated = true
		return reply(h, &q, dnsmessage.RCodeSuccess)
	}
	return resp
}

func ednsSize(p *dnsmessage.Parser) int {
	if err := p.SkipAllQuestions(); err != nil {
		return 0
	}
	if err := p.SkipAllAnswers(); err != nil {
		return 0
	}
	if err := p.SkipAllAuthorities(); err != nil {
		return 0
	}
	for {
		rh, err := p.AdditionalHeader()
		if err != nil {
			return 0
		}
		if rh.Type == dnsmessage.TypeOPT {
			return int(rh.Class) // OPT carries the UDP payload size in its class
		}
		if err := p.SkipAdditional(); err != nil {
			return 0
		}
	}
}

// answer builds the authoritative reply for a name inside the zone.
func (s *Server) answer(h dnsmessage.Header, q dnsmessage.Question, name string) []byte {
	a := resolve(s.cfg.Source, name, s.zone, q.Type.String())
	rcode := dnsmessage.RCodeSuccess
	if !a.exists {
		rcode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true,
		RecursionDesired: h.RecursionDesired, RecursionAvailable: true, RCode: rcode})
	b.EnableCompression()
	_ = b.StartQuestions()
	_ = b.Question(q)
	_ = b.StartAnswers()
	hdr := func(n string, t dnsmessage.Type) dnsmessage.ResourceHeader {
		return dnsmessage.ResourceHeader{Name: mustName(n), Type: t, Class: dnsmessage.ClassINET, TTL: TTL}
	}
	count := 0
	if a.cname != "" {
		_ = b.CNAMEResource(hdr(name, dnsmessage.TypeCNAME), dnsmessage.CNAMEResource{CNAME: mustName(a.cname)})
		count++
	} else {
		if q.Type == dnsmessage.TypeA || q.Type == dnsmessage.TypeALL {
			for _, ip := range a.a {
				_ = b.AResource(hdr(name, dnsmessage.TypeA), dnsmessage.AResource{A: [4]byte(ip.To4())})
				count++
			}
		}
		if q.Type == dnsmessage.TypeSRV || q.Type == dnsmessage.TypeALL {
			for _, r := range a.srv {
				_ = b.SRVResource(hdr(name, dnsmessage.TypeSRV), dnsmessage.SRVResource{
					Priority: 0, Weight: uint16(100 / max(1, len(a.srv))), Port: r.port, Target: mustName(r.target)})
				count++
			}
		}
	}
	if count == 0 {
		// NXDOMAIN or NODATA: the SOA lets resolvers cache the negative answer.
		_ = b.StartAuthorities()
		_ = b.SOAResource(hdr(s.zone, dnsmessage.TypeSOA), dnsmessage.SOAResource{
			NS: mustName("ns.dns." + s.zone), MBox: mustName("hostmaster." + s.zone),
			Serial: uint32(time.Now().Unix()), Refresh: 7200, Retry: 1800, Expire: 86400, MinTTL: TTL})
	}
	if len(a.srv) > 0 && (q.Type == dnsmessage.TypeSRV || q.Type == dnsmessage.TypeALL) {
		_ = b.StartAdditionals()
		for _, r := range a.srv {
			if ip := a.extraA[r.target]; ip != nil {
				_ = b.AResource(hdr(r.target, dnsmessage.TypeA), dnsmessage.AResource{A: [4]byte(ip.To4())})
			}
		}
	}
	out, err := b.Finish()
	if err != nil {
		return reply(h, &q, dnsmessage.RCodeServerFailure)
	}
	return out
}

// reply is a bare response with rcode (and the question, when known).
func reply(h dnsmessage.Header, q *dnsmessage.Question, rcode dnsmessage.RCode) []byte {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Truncated: h.Truncated,
		RecursionDesired: h.RecursionDesired, RecursionAvailable: true, RCode: rcode})
	if q != nil {
		_ = b.StartQuestions()
		_ = b.Question(*q)
	}
	out, _ := b.Finish()
	return out
}

// forward relays a query outside the zone to the upstreams in turn, over the
// protocol the client used.
func (s *Server) forward(h dnsmessage.Header, q dnsmessage.Question, msg []byte, overTCP bool) []byte {
	var errs []error
	for _, up := range s.cfg.Upstreams {
		resp, err := exchange(up, msg, overTCP)
		if err == nil {
			return resp
		}
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		s.cfg.Logf("dns: forwarding %s: %v", q.Name, errors.Join(errs...))
	}
	return reply(h, &q, dnsmessage.RCodeServerFailure)
}

func exchange(upstream string, msg []byte, overTCP bool) ([]byte, error) {
	network := "udp"
	if overTCP {
		network = "tcp"
	}
	c, err := net.DialTimeout(network, upstream, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if overTCP {
		if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...)); err != nil {
			return nil, err
		}
		var l uint16
		if err := binary.Read(c, binary.BigEndian, &l); err != nil {
			return nil, err
		}
		resp := make([]byte, l)
		_, err := io.ReadFull(c, resp)
		return resp, err
	}
	if _, err := c.Write(msg); err != nil {
		return nil, err
	}
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// ResolvConfUpstreams returns host:53 for each nameserver line of a resolv.conf.
func ResolvConfUpstreams(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return []string{}
	}
	out := []string{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" && net.ParseIP(f[1]) != nil {
			out = append(out, net.JoinHostPort(f[1], "53"))
		}
	}
	return out
}

func mustName(s string) dnsmessage.Name {
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	n, err := dnsmessage.NewName(s)
	if err != nil {
		return dnsmessage.MustNewName(".")
	}
	return n
}
