package nodeipam

import (
	"errors"
	"fmt"
	"math/big"
	"net"
)

// ErrFull means every block of the cluster CIDR is in use.
var ErrFull = errors.New("nodeipam: cluster CIDR exhausted")

// cidrSet is a bitmap of the /maskSize blocks of one cluster CIDR. It is not
// safe for concurrent use; the controller guards it.
type cidrSet struct {
	base     *big.Int
	bits     int // address length: 32 or 128
	maskSize int
	blocks   int
	used     map[int]bool
	next     int // where the search for a free block starts (round robin)
}

func newCIDRSet(cluster string, maskSize int) (*cidrSet, error) {
	_, ipnet, err := net.ParseCIDR(cluster)
	if err != nil {
		return nil, fmt.Errorf("nodeipam: cluster CIDR %q: %w", cluster, err)
	}
	ones, bits := ipnet.Mask.Size()
	if maskSize < ones || maskSize > bits || maskSize-ones > 24 {
		return nil, fmt.Errorf("nodeipam: node mask /%d does not fit cluster CIDR %s", maskSize, cluster)
	}
	ip := ipnet.IP
	if bits == 32 {
		ip = ip.To4()
	}
	return &cidrSet{base: new(big.Int).SetBytes(ip), bits: bits, maskSize: maskSize,
		blocks: 1 << (maskSize - ones), used: map[int]bool{}}, nil
}

func (s *cidrSet) block(i int) *net.IPNet {
	shift := uint(s.bits - s.maskSize)
	v := new(big.Int).Add(s.base, new(big.Int).Lsh(big.NewInt(int64(i)), shift))
	b := v.FillBytes(make([]byte, s.bits/8))
	return &net.IPNet{IP: net.IP(b), Mask: net.CIDRMask(s.maskSize, s.bits)}
}

// index returns the block number of cidr, or false if it is not one of ours.
func (s *cidrSet) index(cidr string) (int, bool) {
	ip, ipnet, err := net.ParseCIDR(cidr)
	if err != nil {
		return 0, false
	}
	if ones, bits := ipnet.Mask.Size(); ones != s.maskSize || bits != s.bits {
		return 0, false
	}
	if s.bits == 32 {
		ip = ip.To4()
	}
	off := new(big.Int).Sub(new(big.Int).SetBytes(ip), s.base)
	if off.Sign() < 0 {
		return 0, false
	}
	i := new(big.Int).Rsh(off, uint(s.bits-s.maskSize))
	if !i.IsInt64() || i.Int64() >= int64(s.blocks) {
		return 0, false
	}
	return int(i.Int64()), true
}

// occupy marks cidr used; it reports false for a CIDR outside the set.
func (s *cidrSet) occupy(cidr string) bool {
	i, ok := s.index(cidr)
	if ok {
		s.used[i] = true
	}
	return ok
}

func (s *cidrSet) release(cidr string) {
	if i, ok := s.index(cidr); ok {
		delete(s.used, i)
	}
}

// allocate takes the next free block.
func (s *cidrSet) allocate() (string, error) {
	for k := 0; k < s.blocks; k++ {
		i := (s.next + k) % s.blocks
		if !s.used[i] {
			s.used[i] = true
			s.next = (i + 1) % s.blocks
			return s.block(i).String(), nil
		}
	}
	return "", ErrFull
}
