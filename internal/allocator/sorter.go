package allocator

import (
	"github.com/google/btree"
	"strings"

	"github.com/plateau/plateau/internal/resources"
)

// The sorter is the role tree of Mesos's hierarchical DRF allocator: a node
// per role ("eng", "eng/web"), and under each role a leaf per framework
// subscribed with it. Every node's share is its subtree's allocation
// divided by the cluster's total, dominant resource, divided by the node's
// weight. Each node keeps its children in a B-tree ordered by share; when
// an allocation changes, only the nodes on the path to its leaf move, in
// O(log n) each, so a cycle costs little more than the decisions it makes.

type node struct {
	name   string // role path; for leaves, the framework ID
	role   string // the role a leaf allocates for
	leaf   *drfFramework
	parent *node
	kids   *btree.BTreeG[*node]
	weight float64
	// allocated is the subtree's allocation (fixed point, by name).
	allocated resources.Quantities
	share     float64
}

type sorter struct {
	root  *node
	roles map[string]*node
	total *resources.Quantities // the cluster's total, owned by the allocator
}

func newNode(name string, parent *node) *node {
	return &node{name: name, parent: parent, weight: 1, kids: btree.NewG(8, less)}
}

func newSorter(total *resources.Quantities) *sorter {
	return &sorter{root: newNode("", nil), roles: map[string]*node{}, total: total}
}

// role returns a role's node, creating it and its ancestors.
func (s *sorter) role(name string) *node {
	if n := s.roles[name]; n != nil {
		return n
	}
	parent := s.root
	if i := strings.LastIndexByte(name, '/'); i > 0 {
		parent = s.role(name[:i])
	}
	n := newNode(name, parent)
	s.roles[name] = n
	parent.kids.ReplaceOrInsert(n)
	return n
}

// setWeight changes a role's weight.
func (s *sorter) setWeight(role string, w float64) {
	n := s.role(role)
	n.weight = w
	s.resort(n)
}

// addLeaf attaches a framework to a role.
func (s *sorter) addLeaf(f *drfFramework, role string) *node {
	r := s.role(role)
	l := newNode(f.id, r)
	l.role, l.leaf = role, f
	l.share = s.shareOf(l)
	r.kids.ReplaceOrInsert(l)
	return l
}

// removeLeaf detaches a leaf; its allocation leaves its ancestors.
func (s *sorter) removeLeaf(l *node) {
	s.add(l, l.allocated, -1)
	l.parent.kids.Delete(l)
}

// add changes a leaf's allocation by sign*q and re-sorts its path.
func (s *sorter) add(l *node, q resources.Quantities, sign int) {
	for n := l; n != nil && n != s.root; n = n.parent {
		n.allocated = n.allocated.AddInPlace(q, sign)
		s.resort(n)
	}
}

// resort recomputes a node's share and moves it among its siblings.
func (s *sorter) resort(n *node) {
	share := s.shareOf(n)
	if share == n.share {
		return
	}
	p := n.parent
	if p != nil {
		p.kids.Delete(n) // found by its old share
	}
	n.share = share
	if p != nil {
		p.kids.ReplaceOrInsert(n)
	}
}

func (s *sorter) shareOf(n *node) float64 {
	share := 0.0
	for _, e := range n.allocated {
		if t := s.total.Get(e.Name); t > 0 {
			if v := float64(e.Value) / 1000 / t; v > share {
				share = v
			}
		}
	}
	return share / n.weight
}

// refreshAll recomputes every share (after the total changed).
func (s *sorter) refreshAll() {
	var walk func(n *node)
	walk = func(n *node) {
		kids := make([]*node, 0, n.kids.Len())
		n.kids.Ascend(func(k *node) bool { kids = append(kids, k); return true })
		n.kids.Clear(false)
		for _, k := range kids {
			walk(k)
			k.share = s.shareOf(k)
			n.kids.ReplaceOrInsert(k)
		}
	}
	walk(s.root)
}

func less(a, b *node) bool {
	if a.share != b.share {
		return a.share < b.share
	}
	return a.name < b.name
}

// find returns the first leaf, in DRF order (smallest share first at
// every level), for which ok holds, or nil. ok must not change the tree.
func (s *sorter) find(from *node, ok func(l *node) bool) *node {
	var found *node
	from.kids.Ascend(func(k *node) bool {
		if k.leaf != nil {
			if ok(k) {
				found = k
			}
		} else {
			found = s.find(k, ok)
		}
		return found == nil
	})
	return found
}
