// The theorems about the capability model (verification/CapabilityTree.dfy): every operation keeps the invariant
// Valid, and the properties issue #13 asks for follow from it.
include "CapabilityTree.dfy"

module CapabilityTreeProofs {
  import opened CapabilityTree

  // ---------------------------------------------------------------- facts about the tree

  lemma BelowDepth(sl: seq<Slot>, j: nat, r: nat)
    requires j < |sl| && r < |sl| && Below(sl, j, r)
    ensures sl[j].depth >= sl[r].depth
    ensures sl[j].depth == sl[r].depth ==> j == r
    decreases sl[j].depth
  {
    if j != r { BelowDepth(sl, sl[j].parent, r); }
  }

  ghost predicate SlotsOk(m: Manager) { forall j :: 0 <= j < |m.slots| ==> ParentOk(m.slots, j) }

  // No live capability has a revoked ancestor, and none has more rights than any ancestor or names another object.
  lemma Ancestors(m: Manager, j: nat, a: nat)
    requires Valid(m) && j < |m.slots| && a < |m.slots|
    requires m.slots[j].state == LiveSlot && Below(m.slots, j, a)
    ensures m.slots[a].state == LiveSlot
    ensures m.slots[j].rights & !m.slots[a].rights == 0
    ensures m.slots[j].obj == m.slots[a].obj
    decreases m.slots[j].depth
  {
    reveal Valid();
    if j != a {
      var p := m.slots[j].parent;
      assert ParentOk(m.slots, j);
      Ancestors(m, p, a);
    }
  }

  // ---------------------------------------------------------------- counting lemmas, independent of the operations

  ghost predicate SameExceptChildren(a: Slot, b: Slot)
  {
    a.secret == b.secret && a.gen == b.gen && a.state == b.state && a.rights == b.rights && a.obj == b.obj
    && a.parent == b.parent && a.depth == b.depth && a.holder == b.holder && a.chargedTo == b.chargedTo
  }

  lemma CountAfterInstall(sl: seq<Slot>, sl2: seq<Slot>, i: nat, h: nat)
    requires |sl2| == |sl| || (|sl2| == |sl| + 1 && i == |sl|)
    requires i < |sl2| && sl2[i].state == LiveSlot
    requires i < |sl| ==> sl[i].state == RevokedSlot
    requires forall j :: 0 <= j < |sl| && j != i ==> sl2[j].state == sl[j].state && sl2[j].chargedTo == sl[j].chargedTo
    ensures |LiveSet(sl2)| == |LiveSet(sl)| + 1
    ensures |ChargedSet(sl2, h)| == |ChargedSet(sl, h)| + (if sl2[i].chargedTo == h then 1 else 0)
  {
    assert LiveSet(sl2) == LiveSet(sl) + {i};
    if sl2[i].chargedTo == h { assert ChargedSet(sl2, h) == ChargedSet(sl, h) + {i}; }
    else { assert ChargedSet(sl2, h) == ChargedSet(sl, h); }
  }

  lemma CountAfterSwap(sl: seq<Slot>, sl2: seq<Slot>, o: nat, n: nat, h: nat)
    requires |sl2| == |sl| || (|sl2| == |sl| + 1 && n == |sl|)
    requires o < |sl| && o != n && n < |sl2|
    requires sl[o].state == LiveSlot && sl2[o].state == RevokedSlot && sl2[n].state == LiveSlot
    requires n < |sl| ==> sl[n].state == RevokedSlot
    requires forall j :: 0 <= j < |sl| && j != o && j != n ==> sl2[j].state == sl[j].state && sl2[j].chargedTo == sl[j].chargedTo
    ensures |LiveSet(sl2)| == |LiveSet(sl)|
    ensures |ChargedSet(sl2, h)| + (if sl[o].chargedTo == h then 1 else 0)
         == |ChargedSet(sl, h)| + (if sl2[n].chargedTo == h then 1 else 0)
  {
    assert LiveSet(sl2) == LiveSet(sl) - {o} + {n};
    var base := ChargedSet(sl, h) - {o};
    assert ChargedSet(sl2, h) == if sl2[n].chargedTo == h then base + {n} else base;
  }

  lemma CountAfterRevoke(sl: seq<Slot>, sl2: seq<Slot>, sub: set<nat>, h: nat)
    requires |sl2| == |sl|
    requires forall j :: j in sub ==> 0 <= j < |sl| && sl[j].state == LiveSlot && sl2[j].state == RevokedSlot
    requires forall j :: 0 <= j < |sl| && j !in sub ==> sl2[j].state == sl[j].state && sl2[j].chargedTo == sl[j].chargedTo
    ensures sub <= LiveSet(sl) && |LiveSet(sl2)| == |LiveSet(sl)| - |sub|
    ensures var x := set j | j in sub && sl[j].chargedTo == h;
      x <= ChargedSet(sl, h) && |ChargedSet(sl2, h)| == |ChargedSet(sl, h)| - |x|
  {
    assert LiveSet(sl2) == LiveSet(sl) - sub;
    var x := set j | j in sub && sl[j].chargedTo == h;
    assert ChargedSet(sl2, h) == ChargedSet(sl, h) - x;
  }

  // ---------------------------------------------------------------- Create / Derive keep the invariant

  // What Allocate does to the slots, stated without its definition.
  lemma AllocateShape(m: Manager, obj: nat, rights: Rights, parent: int, depth: nat, holder: nat, chargedTo: nat, secret: nat)
    requires Valid(m)
    requires parent != -1 ==> 0 <= parent < |m.slots| && m.slots[parent].state == LiveSlot
    ensures var out := Allocate(m, obj, rights, parent, depth, holder, chargedTo, secret);
      (out.result.Err? ==> out.m == m)
      && (out.result.Ok? ==> var i := out.result.value.index;
            (|out.m.slots| == |m.slots| || (|out.m.slots| == |m.slots| + 1 && i == |m.slots|))
            && 0 <= i < |out.m.slots| && i != parent
            && out.result.value == TokenOf(out.m, i)
            && (i < |m.slots| ==> m.slots[i].state == RevokedSlot && out.m.slots[i].gen == m.slots[i].gen + 1)
            && (i == |m.slots| ==> out.m.slots[i].gen == 1)
            && out.m.slots[i].secret == secret && out.m.slots[i].state == LiveSlot && out.m.slots[i].rights == rights
            && out.m.slots[i].obj == obj && out.m.slots[i].parent == parent && out.m.slots[i].depth == depth
            && out.m.slots[i].chargedTo == chargedTo
            && (forall j :: 0 <= j < |m.slots| && j != i ==> SameExceptChildren(m.slots[j], out.m.slots[j]))
            && out.m.live == m.live + 1 && Get(m.charge, chargedTo) < m.quotaLimit
            && out.m.charge == m.charge[chargedTo := Get(m.charge, chargedTo) + 1]
            && (forall k :: 0 <= k < |out.m.free| ==> out.m.free[k] != i && out.m.free[k] in m.free)
            && Distinct(out.m.free))
  {
    reveal Valid();
    var out := Allocate(m, obj, rights, parent, depth, holder, chargedTo, secret);
    if Get(m.charge, chargedTo) >= m.quotaLimit { return; }
    var t := TakeFreeSlot(m);
    if t.Err? { return; }
    TakeFreeSlotOk(m);
    var i := t.value.index;
    if i < |m.slots| {
      forall k | 0 <= k < |out.m.free| ensures out.m.free[k] != i && out.m.free[k] in m.free {
        assert out.m.free[k] == m.free[k + 1];
        assert m.free[0] != m.free[k + 1];
      }
    }
  }

  lemma InstallParents(sl: seq<Slot>, sl2: seq<Slot>, i: nat)
    requires |sl2| == |sl| || (|sl2| == |sl| + 1 && i == |sl|)
    requires i < |sl2| && (i < |sl| ==> sl[i].state == RevokedSlot)
    requires forall j :: 0 <= j < |sl| ==> ParentOk(sl, j) && sl[j].gen >= 1 && sl[j].secret >= 1
    requires forall j :: 0 <= j < |sl| && j != i ==> SameExceptChildren(sl[j], sl2[j])
    requires sl2[i].gen >= 1 && sl2[i].secret >= 1 && sl2[i].state == LiveSlot
    requires sl2[i].parent == -1 ==> sl2[i].depth == 0
    requires sl2[i].parent != -1 ==> (0 <= sl2[i].parent < |sl| && sl[sl2[i].parent].state == LiveSlot
      && sl2[i].depth == sl[sl2[i].parent].depth + 1 && sl2[i].rights & !sl[sl2[i].parent].rights == 0
      && sl2[i].obj == sl[sl2[i].parent].obj)
    ensures forall j :: 0 <= j < |sl2| ==> ParentOk(sl2, j) && sl2[j].gen >= 1 && sl2[j].secret >= 1
  {
    forall j | 0 <= j < |sl2| ensures ParentOk(sl2, j) && sl2[j].gen >= 1 && sl2[j].secret >= 1 {
      if j != i {
        assert ParentOk(sl, j);
        var q := sl[j].parent;
        if sl[j].state == LiveSlot && q != -1 { assert q != i; assert SameExceptChildren(sl[q], sl2[q]); }
      } else if sl2[i].parent != -1 {
        var p := sl2[i].parent;
        assert p != i;
        assert SameExceptChildren(sl[p], sl2[p]);
      }
    }
  }

  lemma InstallFree(sl: seq<Slot>, sl2: seq<Slot>, i: nat, free: seq<nat>, f: seq<nat>)
    requires |sl| <= |sl2| && i < |sl2|
    requires forall k :: 0 <= k < |free| ==> free[k] < |sl| && sl[free[k]].state == RevokedSlot
    requires forall j :: 0 <= j < |sl| && j != i ==> SameExceptChildren(sl[j], sl2[j])
    requires forall k :: 0 <= k < |f| ==> f[k] != i && f[k] in free
    ensures forall k :: 0 <= k < |f| ==> f[k] < |sl2| && sl2[f[k]].state == RevokedSlot
  {
    forall k | 0 <= k < |f| ensures f[k] < |sl2| && sl2[f[k]].state == RevokedSlot {
      var kk :| 0 <= kk < |free| && free[kk] == f[k];
      assert SameExceptChildren(sl[f[k]], sl2[f[k]]);
    }
  }

  lemma AllocateValid(m: Manager, obj: nat, rights: Rights, parent: int, depth: nat, holder: nat, chargedTo: nat, secret: nat)
    requires Valid(m) && secret >= 1
    requires parent == -1 ==> depth == 0
    requires parent != -1 ==> (0 <= parent < |m.slots| && m.slots[parent].state == LiveSlot
      && depth == m.slots[parent].depth + 1 && rights & !m.slots[parent].rights == 0 && obj == m.slots[parent].obj)
    ensures Valid(Allocate(m, obj, rights, parent, depth, holder, chargedTo, secret).m)
  {
    reveal Valid();
    var out := Allocate(m, obj, rights, parent, depth, holder, chargedTo, secret);
    AllocateShape(m, obj, rights, parent, depth, holder, chargedTo, secret);
    if out.result.Err? { return; }
    var i := out.result.value.index;
    var sl := m.slots;
    var sl2 := out.m.slots;
    InstallParents(sl, sl2, i);
    InstallFree(sl, sl2, i, m.free, out.m.free);
    forall h ensures Get(out.m.charge, h) == |ChargedSet(sl2, h)| && Get(out.m.charge, h) <= m.quotaLimit {
      CountAfterInstall(sl, sl2, i, h);
    }
    CountAfterInstall(sl, sl2, i, 0);
  }

  lemma CreateValid(m: Manager, obj: nat, rights: Rights, holder: nat, secret: nat)
    requires Valid(m) && secret >= 1
    ensures Valid(Create(m, obj, rights, holder, secret).m)
  {
    reveal Valid();
    if rights & !AllRights == 0 && obj !in m.destroyed { AllocateValid(m, obj, rights, -1, 0, holder, holder, secret); }
  }

  lemma DeriveValid(m: Manager, parent: Token, rights: Rights, holder: nat, chargedTo: nat, requireDelegate: bool, secret: nat)
    requires Valid(m) && secret >= 1
    ensures Valid(Derive(m, parent, rights, holder, chargedTo, requireDelegate, secret).m)
  {
    reveal Valid();
    var p := Resolve(m, parent);
    if p.Ok? {
      var ps := m.slots[p.value];
      if !(requireDelegate && !(ps.rights & Delegate == Delegate)) && rights & !ps.rights == 0 {
        AllocateValid(m, ps.obj, rights, p.value, ps.depth + 1, holder, chargedTo, secret);
      }
    }
  }

  // Derivation never adds rights: a derived capability has at most its parent's rights, and it needs Delegate.
  lemma DeriveNeverAddsRights(m: Manager, parent: Token, rights: Rights, holder: nat, chargedTo: nat, secret: nat)
    requires Valid(m)
    ensures var out := Derive(m, parent, rights, holder, chargedTo, true, secret);
      out.result.Ok? ==>
        (Check(m, parent, Delegate).Ok?
         && 0 <= out.result.value.index < |out.m.slots|
         && out.m.slots[out.result.value.index].rights & !m.slots[parent.index].rights == 0
         && out.m.slots[out.result.value.index].parent == parent.index)
  {
    var p := Resolve(m, parent);
    if p.Ok? {
      var ps := m.slots[p.value];
      if ps.rights & Delegate == Delegate && rights & !ps.rights == 0 {
        AllocateShape(m, ps.obj, rights, p.value, ps.depth + 1, holder, chargedTo, secret);
      }
    }
  }

  // ---------------------------------------------------------------- Move keeps the invariant

  lemma MoveSlotsShape(sl: seq<Slot>, o: nat, n: nat, secret: nat, to: nat, chargeTo: nat)
    requires o < |sl| && n <= |sl| && n != o
    ensures var sl2 := MoveSlots(sl, o, n, secret, to, chargeTo); var os := sl[o];
      (|sl2| == |sl| || (|sl2| == |sl| + 1 && n == |sl|))
      && (n < |sl| ==> sl2[n].gen == sl[n].gen + 1)
      && (n == |sl| ==> sl2[n].gen == 1)
      && sl2[n].secret == secret && sl2[n].state == LiveSlot && sl2[n].rights == os.rights
      && sl2[n].obj == os.obj && sl2[n].parent == os.parent && sl2[n].depth == os.depth
      && sl2[n].chargedTo == chargeTo
      && sl2[o].state == RevokedSlot && sl2[o].gen == os.gen && sl2[o].secret == os.secret
      && (forall j :: 0 <= j < |sl| && j != o && j != n && (j == os.parent || !(sl[j].state == LiveSlot && sl[j].parent == o))
            ==> SameExceptChildren(sl[j], sl2[j]))
      && (forall j :: 0 <= j < |sl| && j != o && j != n && j != os.parent && sl[j].state == LiveSlot && sl[j].parent == o
            ==> SameExceptChildren(sl[j].(parent := n), sl2[j]))
  {}

  lemma MoveShape(m: Manager, t: Token, to: nat, chargeTo: nat, requireTransfer: bool, secret: nat)
    requires Valid(m)
    ensures var out := Move(m, t, to, chargeTo, requireTransfer, secret);
      (out.result.Err? ==> out.m == m)
      && (out.result.Ok? ==> var o := t.index; var n := out.result.value.index; var os := m.slots[o];
            0 <= o < |m.slots| && os.state == LiveSlot && o != n && n <= |m.slots|
            && (n < |m.slots| ==> m.slots[n].state == RevokedSlot)
            && (n == |m.slots| ==> |m.slots| < m.maxSlots)
            && out.m.slots == MoveSlots(m.slots, o, n, secret, to, chargeTo)
            && out.result.value == Token(n, secret, out.m.slots[n].gen)
            && out.m.live == m.live
            && (chargeTo != os.chargedTo ==> Get(m.charge, chargeTo) < m.quotaLimit)
            && out.m.charge == m.charge[os.chargedTo := Minus(Get(m.charge, os.chargedTo), 1)]
                 [chargeTo := Get(m.charge[os.chargedTo := Minus(Get(m.charge, os.chargedTo), 1)], chargeTo) + 1]
            && |out.m.free| > 0 && out.m.free[|out.m.free| - 1] == o
            && (forall k :: 0 <= k < |out.m.free| - 1 ==> out.m.free[k] != n && out.m.free[k] in m.free)
            && Distinct(out.m.free[..|out.m.free| - 1]))
  {
    reveal Valid();
    var out := Move(m, t, to, chargeTo, requireTransfer, secret);
    var r := Resolve(m, t);
    if r.Err? { return; }
    var o := r.value;
    var os := m.slots[o];
    if requireTransfer && !(os.rights & Transfer == Transfer) { return; }
    if chargeTo != os.chargedTo && Get(m.charge, chargeTo) >= m.quotaLimit { return; }
    var tk := TakeFreeSlot(m);
    if tk.Err? { return; }
    TakeFreeSlotOk(m);
    var n := tk.value.index;
    assert n < |m.slots| ==> m.slots[n].state == RevokedSlot;
    assert out.m.free[..|out.m.free| - 1] == tk.value.free;
    if n < |m.slots| {
      forall k | 0 <= k < |tk.value.free| ensures tk.value.free[k] != n && tk.value.free[k] in m.free {
        assert tk.value.free[k] == m.free[k + 1];
        assert m.free[0] != m.free[k + 1];
      }
    }
  }

  lemma MoveFree(sl: seq<Slot>, sl2: seq<Slot>, free: seq<nat>, f: seq<nat>, o: nat, n: nat)
    requires o < |sl| && o < |sl2| && n < |sl2| && |sl| <= |sl2| && n != o
    requires forall k :: 0 <= k < |free| ==> free[k] < |sl| && sl[free[k]].state == RevokedSlot
    requires sl[o].state == LiveSlot && sl2[o].state == RevokedSlot
    requires forall j :: 0 <= j < |sl| && j != o && j != n && sl[j].state == RevokedSlot ==> sl2[j].state == RevokedSlot
    requires |f| > 0 && f[|f| - 1] == o
    requires forall k :: 0 <= k < |f| - 1 ==> f[k] != n && f[k] in free
    requires Distinct(f[..|f| - 1])
    ensures forall k :: 0 <= k < |f| ==> f[k] < |sl2| && sl2[f[k]].state == RevokedSlot
    ensures Distinct(f)
  {
    forall k | 0 <= k < |f| ensures f[k] < |sl2| && sl2[f[k]].state == RevokedSlot {
      if k < |f| - 1 {
        var kk :| 0 <= kk < |free| && free[kk] == f[k];
        assert f[k] != o;
      }
    }
    forall a, b | 0 <= a < b < |f| ensures f[a] != f[b] {
      if b == |f| - 1 { var kk :| 0 <= kk < |free| && free[kk] == f[a]; }
      else { assert f[..|f| - 1][a] == f[a] && f[..|f| - 1][b] == f[b]; }
    }
  }

  // Every slot other than the two a move touches keeps the fields ParentOk and the counters read.
  lemma MoveKeepsFields(sl: seq<Slot>, o: nat, n: nat, secret: nat, to: nat, chargeTo: nat, p: nat)
    requires o < |sl| && n <= |sl| && n != o && p < |sl| && p != o && p != n
    ensures var sl2 := MoveSlots(sl, o, n, secret, to, chargeTo);
      p < |sl2| && sl2[p].state == sl[p].state && sl2[p].depth == sl[p].depth && sl2[p].rights == sl[p].rights
      && sl2[p].obj == sl[p].obj && sl2[p].gen == sl[p].gen && sl2[p].secret == sl[p].secret
      && sl2[p].chargedTo == sl[p].chargedTo
      && sl2[p].parent == (if sl[p].state == LiveSlot && sl[p].parent == o && p != sl[o].parent then n else sl[p].parent)
  {
    MoveSlotsShape(sl, o, n, secret, to, chargeTo);
  }

  // That every live slot's parent is still consistent after a move, one case per lemma (as one lemma it timed out).
  ghost predicate MovePre(sl: seq<Slot>, o: nat, n: nat)
  {
    o < |sl| && n <= |sl| && n != o && sl[o].state == LiveSlot
    && (n < |sl| ==> sl[n].state == RevokedSlot)
    && (forall k :: 0 <= k < |sl| ==> ParentOk(sl, k))
  }

  // o's parent is live and one level up, so it is neither o nor n, and keeps its fields.
  lemma MoveParentOfO(sl: seq<Slot>, o: nat, n: nat, secret: nat, to: nat, chargeTo: nat)
    requires MovePre(sl, o, n) && sl[o].parent != -1
    ensures var p := sl[o].parent; var sl2 := MoveSlots(sl, o, n, secret, to, chargeTo);
      0 <= p < |sl| && p != o && p != n && sl2[p].state == LiveSlot && sl2[p].depth == sl[p].depth
      && sl2[p].rights == sl[p].rights && sl2[p].obj == sl[p].obj
  {
    assert ParentOk(sl, o);
    MoveKeepsFields(sl, o, n, secret, to, chargeTo, sl[o].parent);
  }

  lemma {:isolate_assertions} MoveParentOkAtN(sl: seq<Slot>, o: nat, n: nat, secret: nat, to: nat, chargeTo: nat)
    requires MovePre(sl, o, n)
    ensures n < |MoveSlots(sl, o, n, secret, to, chargeTo)| && ParentOk(MoveSlots(sl, o, n, secret, to, chargeTo), n)
  {
    MoveSlotsShape(sl, o, n, secret, to, chargeTo);
    assert ParentOk(sl, o);
    if sl[o].parent != -1 { MoveParentOfO(sl, o, n, secret, to, chargeTo); }
  }

  lemma {:isolate_assertions} MoveParentOkAtChild(sl: seq<Slot>, o: nat, n: nat, secret: nat, to: nat, chargeTo: nat, j: nat)
    requires MovePre(sl, o, n) && j < |sl| && j != o && j != n && sl[j].state == LiveSlot && sl[j].parent == o
    ensures j < |MoveSlots(sl, o, n, secret, to, chargeTo)| && ParentOk(MoveSlots(sl, o, n, secret, to, chargeTo), j)
  {
    MoveSlotsShape(sl, o, n, secret, to, chargeTo);
    assert ParentOk(sl, j) && ParentOk(sl, o);
    // j is not o's parent (o's parent is a level above o, j a level below).
    assert j != sl[o].parent by { if j == sl[o].parent { assert sl[j].depth + 1 == sl[o].depth; } }
    MoveKeepsFields(sl, o, n, secret, to, chargeTo, j);
  }

  lemma {:isolate_assertions} MoveParentOkAtOther(sl: seq<Slot>, o: nat, n: nat, secret: nat, to: nat, chargeTo: nat, j: nat)
    requires MovePre(sl, o, n) && j < |sl| && j != o && j != n && !(sl[j].state == LiveSlot && sl[j].parent == o)
    ensures j < |MoveSlots(sl, o, n, secret, to, chargeTo)| && ParentOk(MoveSlots(sl, o, n, secret, to, chargeTo), j)
  {
    MoveKeepsFields(sl, o, n, secret, to, chargeTo, j);
    assert ParentOk(sl, j);
    if sl[j].state == LiveSlot && sl[j].parent != -1 {
      var p := sl[j].parent;
      assert sl[p].state == LiveSlot;
      assert p != n;
      MoveKeepsFields(sl, o, n, secret, to, chargeTo, p);
    }
  }

  lemma MoveParentOkAt(sl: seq<Slot>, o: nat, n: nat, secret: nat, to: nat, chargeTo: nat, j: nat)
    requires o < |sl| && n <= |sl| && n != o && sl[o].state == LiveSlot
    requires n < |sl| ==> sl[n].state == RevokedSlot
    requires forall k :: 0 <= k < |sl| ==> ParentOk(sl, k)
    requires j < |MoveSlots(sl, o, n, secret, to, chargeTo)|
    ensures ParentOk(MoveSlots(sl, o, n, secret, to, chargeTo), j)
  {
    MoveSlotsShape(sl, o, n, secret, to, chargeTo);
    if j == o {
    } else if j == n {
      MoveParentOkAtN(sl, o, n, secret, to, chargeTo);
    } else if sl[j].state == LiveSlot && sl[j].parent == o {
      MoveParentOkAtChild(sl, o, n, secret, to, chargeTo, j);
    } else {
      MoveParentOkAtOther(sl, o, n, secret, to, chargeTo, j);
    }
  }

  lemma MoveValid(m: Manager, t: Token, to: nat, chargeTo: nat, requireTransfer: bool, secret: nat)
    requires Valid(m) && secret >= 1
    ensures Valid(Move(m, t, to, chargeTo, requireTransfer, secret).m)
  {
    MoveShape(m, t, to, chargeTo, requireTransfer, secret);
    var out := Move(m, t, to, chargeTo, requireTransfer, secret);
    if out.result.Err? { return; }
    reveal Valid();
    var o := t.index;
    var n := out.result.value.index;
    var sl := m.slots;
    var os := sl[o];
    MoveSlotsShape(sl, o, n, secret, to, chargeTo);
    var sl2 := out.m.slots;
    assert sl2 == MoveSlots(sl, o, n, secret, to, chargeTo);
    forall j | 0 <= j < |sl2| ensures ParentOk(sl2, j) && sl2[j].gen >= 1 && sl2[j].secret >= 1 {
      MoveParentOkAt(sl, o, n, secret, to, chargeTo, j);
      if j != o && j != n { MoveKeepsFields(sl, o, n, secret, to, chargeTo, j); }
    }
    forall j | 0 <= j < |sl| && j != o && j != n ensures sl2[j].state == sl[j].state && sl2[j].chargedTo == sl[j].chargedTo {
      MoveKeepsFields(sl, o, n, secret, to, chargeTo, j);
    }
    MoveFree(sl, sl2, m.free, out.m.free, o, n);
    CountAfterSwap(sl, sl2, o, n, 0);
    // The charge: o's holder is refunded one, the new holder charged one; counts agree with the slots.
    assert o in ChargedSet(sl, os.chargedTo);
    forall h ensures Get(out.m.charge, h) == |ChargedSet(sl2, h)| && Get(out.m.charge, h) <= m.quotaLimit {
      CountAfterSwap(sl, sl2, o, n, h);
    }
  }

  // ---------------------------------------------------------------- Revoke keeps the invariant

  lemma SubtreeClosed(m: Manager, r: nat, includeSelf: bool, j: nat)
    requires Valid(m) && r < |m.slots| && j < |m.slots|
    requires m.slots[j].state == LiveSlot && j !in Subtree(m.slots, r, includeSelf)
    ensures m.slots[j].parent == -1 || m.slots[j].parent !in Subtree(m.slots, r, includeSelf)
  {
    reveal Valid();
    var p := m.slots[j].parent;
    assert ParentOk(m.slots, j);
    if p != -1 && p in Subtree(m.slots, r, includeSelf) {
      assert Below(m.slots, j, r);
      if !includeSelf && j == r {
        BelowDepth(m.slots, p, r);
      }
    }
  }

  lemma RevokeShape(m: Manager, t: Token, includeSelf: bool)
    requires Valid(m)
    ensures var out := Revoke(m, t, includeSelf);
      (out.result.Err? ==> out.m == m)
      && (out.result.Ok? ==> var r := t.index; var sub := Subtree(m.slots, r, includeSelf);
            0 <= r < |m.slots| && m.slots[r].state == LiveSlot && |out.m.slots| == |m.slots|
            && out.result.value == |sub|
            && (forall j :: j in sub ==> 0 <= j < |m.slots| && m.slots[j].state == LiveSlot
                  && out.m.slots[j] == m.slots[j].(state := RevokedSlot, children := [], parent := -1))
            && (forall j :: 0 <= j < |m.slots| && j !in sub ==> SameExceptChildren(m.slots[j], out.m.slots[j]))
            && out.m.live == Minus(m.live, |sub|)
            && out.m.charge == (map h | h in m.charge :: Minus(m.charge[h], |set j | j in sub && m.slots[j].chargedTo == h|))
            && |out.m.free| == |m.free| + |sub|
            && out.m.free[..|m.free|] == m.free
            && Distinct(out.m.free[|m.free|..])
            && (forall k :: |m.free| <= k < |out.m.free| ==> out.m.free[k] in sub))
  {
    reveal Valid();
    var out := Revoke(m, t, includeSelf);
    var r := Resolve(m, t);
    if r.Err? { return; }
    var sub := Subtree(m.slots, r.value, includeSelf);
    var order := RevokeOrder(m, r.value, includeSelf);
    if !ValidOrder(order, sub) { return; }
    assert out.m.free[|m.free|..] == order;
  }

  lemma RevokeParents(m: Manager, r: nat, includeSelf: bool, sl2: seq<Slot>)
    requires Valid(m) && r < |m.slots| && |sl2| == |m.slots|
    requires forall j :: j in Subtree(m.slots, r, includeSelf) ==> sl2[j] == m.slots[j].(state := RevokedSlot, children := [], parent := -1)
    requires forall j :: 0 <= j < |m.slots| && j !in Subtree(m.slots, r, includeSelf) ==> SameExceptChildren(m.slots[j], sl2[j])
    ensures forall j :: 0 <= j < |sl2| ==> ParentOk(sl2, j) && sl2[j].gen >= 1 && sl2[j].secret >= 1
  {
    reveal Valid();
    var sl := m.slots;
    var sub := Subtree(sl, r, includeSelf);
    forall j | 0 <= j < |sl2| ensures ParentOk(sl2, j) && sl2[j].gen >= 1 && sl2[j].secret >= 1 {
      assert ParentOk(sl, j);
      if j !in sub && sl[j].state == LiveSlot {
        SubtreeClosed(m, r, includeSelf, j);
        var q := sl[j].parent;
        if q != -1 { assert SameExceptChildren(sl[q], sl2[q]); }
      }
    }
  }

  lemma RevokeFree(sl: seq<Slot>, sl2: seq<Slot>, sub: set<nat>, free: seq<nat>, f: seq<nat>)
    requires |sl2| == |sl|
    requires forall k :: 0 <= k < |free| ==> free[k] < |sl| && sl[free[k]].state == RevokedSlot
    requires Distinct(free)
    requires forall j :: j in sub ==> 0 <= j < |sl| && sl[j].state == LiveSlot && sl2[j].state == RevokedSlot
    requires forall j :: 0 <= j < |sl| && j !in sub ==> sl2[j].state == sl[j].state
    requires |f| >= |free| && f[..|free|] == free && Distinct(f[|free|..])
    requires forall k :: |free| <= k < |f| ==> f[k] in sub
    ensures forall k :: 0 <= k < |f| ==> f[k] < |sl2| && sl2[f[k]].state == RevokedSlot
    ensures Distinct(f)
  {
    forall k | 0 <= k < |f| ensures f[k] < |sl2| && sl2[f[k]].state == RevokedSlot {
      if k < |free| { assert f[k] == free[k]; assert f[k] !in sub; }
    }
    forall a, b | 0 <= a < b < |f| ensures f[a] != f[b] {
      if b < |free| { assert f[a] == free[a] && f[b] == free[b]; }
      else if a < |free| { assert f[a] == free[a]; assert f[b] in sub; }
      else { assert f[|free|..][a - |free|] == f[a] && f[|free|..][b - |free|] == f[b]; }
    }
  }

  lemma RevokeValid(m: Manager, t: Token, includeSelf: bool)
    requires Valid(m)
    ensures Valid(Revoke(m, t, includeSelf).m)
  {
    var out := Revoke(m, t, includeSelf);
    RevokeShape(m, t, includeSelf);
    if out.result.Err? { return; }
    var r := t.index;
    var sub := Subtree(m.slots, r, includeSelf);
    var sl := m.slots;
    var sl2 := out.m.slots;
    RevokeParents(m, r, includeSelf, sl2);
    reveal Valid();
    RevokeFree(sl, sl2, sub, m.free, out.m.free);
    CountAfterRevoke(sl, sl2, sub, 0);
    forall h ensures Get(out.m.charge, h) == |ChargedSet(sl2, h)| && Get(out.m.charge, h) <= m.quotaLimit {
      CountAfterRevoke(sl, sl2, sub, h);
      if h !in m.charge {
        assert ChargedSet(sl, h) == {};
      }
    }
  }

  // ---------------------------------------------------------------- what revocation guarantees

  // After Revoke(c), no capability of c's former subtree checks valid, whatever rights are asked for.
  lemma RevokeKillsSubtree(m: Manager, t: Token, includeSelf: bool, required: Rights, j: nat)
    requires Valid(m)
    ensures var out := Revoke(m, t, includeSelf);
      out.result.Ok? && 0 <= t.index < |m.slots| && j in Subtree(m.slots, t.index, includeSelf) ==>
        Check(out.m, TokenOf(m, j), required) == Err(Revoked)
  {
    RevokeShape(m, t, includeSelf);
    var out := Revoke(m, t, includeSelf);
    if out.result.Ok? && 0 <= t.index < |m.slots| && j in Subtree(m.slots, t.index, includeSelf) {
      reveal Valid();
      assert ParentOk(m.slots, j);
    }
  }

  // ...and every slot outside it is unchanged but for its list of children (so what a token outside it names — its
  // secret, generation, state, rights and object — is what it was).
  lemma RevokeChangesNothingOutside(m: Manager, t: Token, includeSelf: bool)
    requires Valid(m)
    ensures var out := Revoke(m, t, includeSelf);
      out.result.Ok? ==>
        0 <= t.index < |m.slots| && |out.m.slots| == |m.slots|
        && (forall j :: 0 <= j < |m.slots| && j !in Subtree(m.slots, t.index, includeSelf) ==>
              SameExceptChildren(m.slots[j], out.m.slots[j]))
  {
    RevokeShape(m, t, includeSelf);
  }

  // ...and the count it returns, and takes off the live count, is the size of the subtree.
  lemma RevokeCount(m: Manager, t: Token, includeSelf: bool)
    requires Valid(m)
    ensures var out := Revoke(m, t, includeSelf);
      out.result.Ok? ==>
        0 <= t.index < |m.slots|
        && out.result.value == |Subtree(m.slots, t.index, includeSelf)|
        && out.m.live == m.live - |Subtree(m.slots, t.index, includeSelf)|
  {
    RevokeShape(m, t, includeSelf);
    var out := Revoke(m, t, includeSelf);
    if out.result.Ok? {
      reveal Valid();
      CountAfterRevoke(m.slots, out.m.slots, Subtree(m.slots, t.index, includeSelf), 0);
    }
  }

  // No live capability has a revoked ancestor, in every state the operations reach (Valid is kept by all of them).
  lemma NoLiveCapabilityHasARevokedAncestor(m: Manager)
    requires Valid(m)
    ensures forall j, a :: 0 <= j < |m.slots| && 0 <= a < |m.slots| && m.slots[j].state == LiveSlot && Below(m.slots, j, a)
      ==> m.slots[a].state == LiveSlot && m.slots[j].rights & !m.slots[a].rights == 0
  {
    forall j, a | 0 <= j < |m.slots| && 0 <= a < |m.slots| && m.slots[j].state == LiveSlot && Below(m.slots, j, a)
      ensures m.slots[a].state == LiveSlot && m.slots[j].rights & !m.slots[a].rights == 0
    { Ancestors(m, j, a); }
  }

  // ---------------------------------------------------------------- reuse: stale tokens stay dead

  // A token issued for a slot never checks valid once the slot has been reused: reuse raises the generation.
  lemma ReusedSlotTokenIsStale(m: Manager, x: Token, m2: Manager, required: Rights)
    requires Valid(m) && 0 <= x.index < |m.slots| && x.gen == m.slots[x.index].gen && x.secret == m.slots[x.index].secret
    requires x.index < |m2.slots| && m2.slots[x.index].gen > x.gen
    ensures Check(m2, x, required) == Err(StaleCapability)
  {
    reveal Valid();}

  lemma AllocateReusesWithNewGeneration(m: Manager, obj: nat, rights: Rights, holder: nat, secret: nat, x: Token, required: Rights)
    requires Valid(m) && 0 <= x.index < |m.slots| && x == TokenOf(m, x.index)
    ensures var out := Allocate(m, obj, rights, -1, 0, holder, holder, secret);
      out.result.Ok? && out.result.value.index == x.index ==>
        m.slots[x.index].state == RevokedSlot && Check(out.m, x, required) == Err(StaleCapability)
  {
    reveal Valid();
    AllocateShape(m, obj, rights, -1, 0, holder, holder, secret);
  }

  // ---------------------------------------------------------------- the counters

  // The live count is the number of Live slots, and each holder's charge the number of live capabilities charged to
  // it, in every state the operations reach (these are conjuncts of Valid, restated here as the theorems).
  lemma Counters(m: Manager, h: nat)
    requires Valid(m)
    ensures m.live == |LiveSet(m.slots)|
    ensures Get(m.charge, h) == |ChargedSet(m.slots, h)|
  {
    reveal Valid();}
}
