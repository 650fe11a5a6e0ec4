// A model of src/Photon.Kernel/Capabilities/CapabilityManager.cs: the slot table, the derivation tree, the quarantine
// queue of revoked slots, quota charges and per-object live counts. Every operation is a pure function from a state to
// a state and a result, in the order of checks the C# performs (seL4-style: every check first, then the mutation).
// The model is compiled to C# (verification/Photon.Verification.Model) and run side by side with the real manager by
// tests/Photon.Kernel.Tests/Verification/CapabilityRefinementTests.cs.
module CapabilityTree {
  type Rights = bv32
  const AllRights: Rights := 0x3FFF
  const Delegate: Rights := 0x10
  const Transfer: Rights := 0x2000

  predicate Includes(have: Rights, need: Rights) { have & need == need }

  datatype State = LiveSlot | RevokedSlot

  // A principal is a small number chosen by the test harness; an object likewise.
  datatype Slot = Slot(secret: nat, gen: nat, state: State, rights: Rights, obj: nat, parent: int,
                       children: seq<nat>, depth: nat, holder: nat, chargedTo: nat)

  // 32 bits of slot index, a secret, a generation (CapabilityToken); None is index 0 with secret 0.
  datatype Token = Token(index: int, secret: nat, gen: nat)
  predicate IsNone(t: Token) { t.index == 0 && t.secret == 0 }

  datatype Error = InvalidHandle | UnknownCapability | StaleCapability | Revoked | AccessDenied | QuotaExceeded
                 | InvalidArgument | Corrupted
  datatype Result<T> = Ok(value: T) | Err(error: Error)

  datatype Manager = Manager(slots: seq<Slot>, free: seq<nat>, live: nat, charge: map<nat, nat>,
                             objLive: map<nat, nat>, destroyed: set<nat>,
                             quarantine: nat, maxSlots: nat, quotaLimit: nat)

  function Get(m: map<nat, nat>, k: nat): nat { if k in m then m[k] else 0 }
  function Minus(a: nat, b: nat): nat { if a >= b then a - b else 0 }

  // ---------------------------------------------------------------- the derivation tree, by parent pointers

  // j lies in the subtree rooted at r. The depth guard is always true in a valid state (depth = parent's + 1); it
  // only makes termination evident.
  predicate Below(sl: seq<Slot>, j: nat, r: nat)
    requires j < |sl|
    decreases sl[j].depth
  {
    j == r || (0 <= sl[j].parent < |sl| && sl[sl[j].parent].depth < sl[j].depth && Below(sl, sl[j].parent, r))
  }

  function LiveSet(sl: seq<Slot>): set<nat> { set j | 0 <= j < |sl| && sl[j].state == LiveSlot }
  function ChargedSet(sl: seq<Slot>, h: nat): set<nat> { set j | 0 <= j < |sl| && sl[j].state == LiveSlot && sl[j].chargedTo == h }
  function ObjectSet(sl: seq<Slot>, o: nat): set<nat> { set j | 0 <= j < |sl| && sl[j].state == LiveSlot && sl[j].obj == o }

  predicate ParentOk(sl: seq<Slot>, j: nat)
    requires j < |sl|
  {
    var s := sl[j];
    s.state == LiveSlot ==>
      (s.parent == -1 && s.depth == 0) ||
      (0 <= s.parent < |sl| && sl[s.parent].state == LiveSlot && s.depth == sl[s.parent].depth + 1
       && s.rights & !sl[s.parent].rights == 0 && s.obj == sl[s.parent].obj)
  }

  predicate Distinct(q: seq<nat>) { forall a, b :: 0 <= a < b < |q| ==> q[a] != q[b] }

  opaque ghost predicate Valid(m: Manager)
  {
    |m.slots| <= m.maxSlots
    && (forall j :: 0 <= j < |m.slots| ==> ParentOk(m.slots, j) && m.slots[j].gen >= 1 && m.slots[j].secret >= 1)
    && (forall k :: 0 <= k < |m.free| ==> m.free[k] < |m.slots| && m.slots[m.free[k]].state == RevokedSlot)
    && Distinct(m.free)
    && m.live == |LiveSet(m.slots)|
    && (forall h :: Get(m.charge, h) == |ChargedSet(m.slots, h)|)
    && (forall h :: Get(m.charge, h) <= m.quotaLimit)
  }

  function Empty(quarantine: nat, maxSlots: nat, quotaLimit: nat): Manager
  {
    Manager([], [], 0, map[], map[], {}, quarantine, maxSlots, quotaLimit)
  }

  lemma EmptyValid(quarantine: nat, maxSlots: nat, quotaLimit: nat)
    ensures Valid(Empty(quarantine, maxSlots, quotaLimit))
  {
    reveal Valid();
    var m := Empty(quarantine, maxSlots, quotaLimit);
    forall h ensures Get(m.charge, h) == |ChargedSet(m.slots, h)| { assert ChargedSet(m.slots, h) == {}; }
    assert LiveSet(m.slots) == {};
  }

  // ---------------------------------------------------------------- resolving and checking tokens

  function Resolve(m: Manager, t: Token): Result<nat>
  {
    if IsNone(t) then Err(InvalidHandle)
    else if t.index < 0 || t.index >= |m.slots| then Err(UnknownCapability)
    else
      var s := m.slots[t.index];
      if s.gen != t.gen then (if t.gen < s.gen && t.gen != 0 then Err(StaleCapability) else Err(UnknownCapability))
      else if s.secret != t.secret then Err(UnknownCapability)
      else if s.state == RevokedSlot then Err(Revoked)
      else Ok(t.index)
  }

  // Check: the token is live and carries `required`; yields the object it names.
  function Check(m: Manager, t: Token, required: Rights): Result<nat>
  {
    var r := Resolve(m, t);
    if r.Err? then Err(r.error)
    else if !(m.slots[r.value].rights & required == required) then Err(AccessDenied)
    else Ok(m.slots[r.value].obj)
  }

  function TokenOf(m: Manager, i: nat): Token requires i < |m.slots| { Token(i, m.slots[i].secret, m.slots[i].gen) }

  // ---------------------------------------------------------------- slot allocation with quarantine

  datatype Taken = Taken(index: nat, free: seq<nat>)

  // A quarantined slot once more than `quarantine` wait, else a fresh one; when the table is full, any free slot.
  function TakeFreeSlot(m: Manager): Result<Taken>
  {
    if |m.free| > m.quarantine then Ok(Taken(m.free[0], m.free[1..]))
    else if |m.slots| == m.maxSlots then (if |m.free| == 0 then Err(QuotaExceeded) else Ok(Taken(m.free[0], m.free[1..])))
    else Ok(Taken(|m.slots|, m.free))
  }

  lemma TakeFreeSlotOk(m: Manager)
    requires Valid(m)
    ensures var r := TakeFreeSlot(m);
      r.Ok? ==> ((r.value.index == |m.slots| && r.value.free == m.free && |m.slots| < m.maxSlots)
                 || (|m.free| > 0 && r.value.index == m.free[0] && r.value.free == m.free[1..]))
  { reveal Valid(); }

  // Writes slot i (fresh: i == |slots|; reused: a Revoked slot) with a new generation.
  function Install(sl: seq<Slot>, i: nat, secret: nat, rights: Rights, obj: nat, parent: int, depth: nat,
                   holder: nat, chargedTo: nat): seq<Slot>
    requires i <= |sl|
  {
    var gen := if i < |sl| then sl[i].gen + 1 else 1;
    var s := Slot(secret, gen, LiveSlot, rights, obj, parent, [], depth, holder, chargedTo);
    if i < |sl| then sl[i := s] else sl + [s]
  }

  // ---------------------------------------------------------------- Create and Derive

  datatype Outcome<T> = Outcome(m: Manager, result: Result<T>)

  function Create(m: Manager, obj: nat, rights: Rights, holder: nat, secret: nat): Outcome<Token>
  {
    if rights & !AllRights != 0 then Outcome(m, Err(InvalidArgument))
    else if obj in m.destroyed then Outcome(m, Err(Revoked))
    else Allocate(m, obj, rights, -1, 0, holder, holder, secret)
  }

  function Allocate(m: Manager, obj: nat, rights: Rights, parent: int, depth: nat, holder: nat, chargedTo: nat, secret: nat)
    : Outcome<Token>
  {
    if Get(m.charge, chargedTo) >= m.quotaLimit then Outcome(m, Err(QuotaExceeded))
    else
      var t := TakeFreeSlot(m);
      if t.Err? then Outcome(m, Err(QuotaExceeded))
      else if t.value.index > |m.slots| then Outcome(m, Err(Corrupted)) // unreachable in a valid state
      else
        var i := t.value.index;
        var sl := Install(m.slots, i, secret, rights, obj, parent, depth, holder, chargedTo);
        var sl2 := if 0 <= parent < |sl| then sl[parent := sl[parent].(children := sl[parent].children + [i])] else sl;
        var m2 := m.(slots := sl2, free := t.value.free, live := m.live + 1,
                     charge := m.charge[chargedTo := Get(m.charge, chargedTo) + 1],
                     objLive := m.objLive[obj := Get(m.objLive, obj) + 1]);
        Outcome(m2, Ok(Token(i, secret, sl2[i].gen)))
  }

  function Derive(m: Manager, parent: Token, rights: Rights, holder: nat, chargedTo: nat, requireDelegate: bool, secret: nat)
    : Outcome<Token>
  {
    var p := Resolve(m, parent);
    if p.Err? then Outcome(m, Err(p.error))
    else
      var ps := m.slots[p.value];
      if requireDelegate && !(ps.rights & Delegate == Delegate) then Outcome(m, Err(AccessDenied))
      else if rights & !ps.rights != 0 then Outcome(m, Err(AccessDenied))
      else Allocate(m, ps.obj, rights, p.value, ps.depth + 1, holder, chargedTo, secret)
  }

  // ---------------------------------------------------------------- Move (an IPC transfer)

  function Replace(q: seq<nat>, a: nat, b: nat): seq<nat> { seq(|q|, k requires 0 <= k < |q| => if q[k] == a then b else q[k]) }
  function Remove(q: seq<nat>, a: nat): seq<nat>
  {
    if |q| == 0 then [] else if q[0] == a then Remove(q[1..], a) else [q[0]] + Remove(q[1..], a)
  }

  // The new slot n takes the old one's (o) place: its parent lists it instead, its children point to it.
  function MoveSlots(sl: seq<Slot>, o: nat, n: nat, secret: nat, to: nat, chargeTo: nat): seq<Slot>
    requires o < |sl| && n <= |sl| && n != o
  {
    var os := sl[o];
    var sl0 := Install(sl, n, secret, os.rights, os.obj, os.parent, os.depth, to, chargeTo);
    var sl1 := sl0[n := sl0[n].(children := os.children)];
    seq(|sl1|, j requires 0 <= j < |sl1| =>
      if j == o then sl1[j].(state := RevokedSlot, children := [], parent := -1)
      else if j == os.parent then sl1[j].(children := Replace(sl1[j].children, o, n))
      else if j != n && sl1[j].state == LiveSlot && sl1[j].parent == o then sl1[j].(parent := n)
      else sl1[j])
  }

  function Move(m: Manager, t: Token, to: nat, chargeTo: nat, requireTransfer: bool, secret: nat): Outcome<Token>
  {
    var r := Resolve(m, t);
    if r.Err? then Outcome(m, Err(r.error))
    else
      var o := r.value;
      var os := m.slots[o];
      if requireTransfer && !(os.rights & Transfer == Transfer) then Outcome(m, Err(AccessDenied))
      // The charge moves: refunded first, so a move within one holder needs no headroom.
      else if chargeTo != os.chargedTo && Get(m.charge, chargeTo) >= m.quotaLimit then Outcome(m, Err(QuotaExceeded))
      else
        var tk := TakeFreeSlot(m);
        if tk.Err? then Outcome(m, Err(QuotaExceeded))
        else if tk.value.index > |m.slots| || tk.value.index == o then Outcome(m, Err(Corrupted)) // unreachable
        else
          var n := tk.value.index;
          var sl2 := MoveSlots(m.slots, o, n, secret, to, chargeTo);
          var c0 := m.charge[os.chargedTo := Minus(Get(m.charge, os.chargedTo), 1)];
          var m2 := m.(slots := sl2, free := tk.value.free + [o],
                       charge := c0[chargeTo := Get(c0, chargeTo) + 1]);
          Outcome(m2, Ok(Token(n, secret, sl2[n].gen)))
  }

  // ---------------------------------------------------------------- Revoke and RevokeDescendants

  function Subtree(sl: seq<Slot>, r: nat, includeSelf: bool): set<nat>
  {
    set j | 0 <= j < |sl| && sl[j].state == LiveSlot && Below(sl, j, r) && (includeSelf || j != r)
  }

  // The order the C# walk frees slots in: one breadth-first pass whose walk list is the queue, a slot's children
  // appended newest first (the C# child list's order). That it lists exactly the subtree is checked when it is used,
  // not proved.
  function BfsOrder(sl: seq<Slot>, queue: seq<nat>, fuel: nat): seq<nat>
    decreases fuel
  {
    if fuel == 0 || |queue| == 0 then []
    else
      var i := queue[0];
      if i >= |sl| then [i]
      else [i] + BfsOrder(sl, queue[1..] + Reverse(sl[i].children), fuel - 1)
  }

  function Reverse(q: seq<nat>): seq<nat> { if |q| == 0 then [] else Reverse(q[1..]) + [q[0]] }

  predicate ValidOrder(order: seq<nat>, sub: set<nat>)
  {
    Distinct(order) && (forall k :: 0 <= k < |order| ==> order[k] in sub) && |order| == |sub|
  }

  function RevokeOrder(m: Manager, r: nat, includeSelf: bool): seq<nat>
    requires r < |m.slots|
  {
    BfsOrder(m.slots, if includeSelf then [r] else Reverse(m.slots[r].children), |m.slots| + 1)
  }

  function RevokeSlots(sl: seq<Slot>, sub: set<nat>, r: nat, includeSelf: bool): seq<Slot>
    requires r < |sl|
  {
    var p := sl[r].parent;
    seq(|sl|, j requires 0 <= j < |sl| =>
      if j in sub then sl[j].(state := RevokedSlot, children := [], parent := -1)
      else if includeSelf && j == p then sl[j].(children := Remove(sl[j].children, r))
      else if !includeSelf && j == r then sl[j].(children := [])
      else sl[j])
  }

  function Revoke(m: Manager, t: Token, includeSelf: bool): Outcome<nat>
  {
    var r := Resolve(m, t);
    if r.Err? then Outcome(m, Err(r.error))
    else
      var sub := Subtree(m.slots, r.value, includeSelf);
      var order := RevokeOrder(m, r.value, includeSelf);
      if !ValidOrder(order, sub) then Outcome(m, Err(Corrupted))
      else
        var sl := RevokeSlots(m.slots, sub, r.value, includeSelf);
        var charge := map h | h in m.charge :: Minus(m.charge[h], |set j | j in sub && m.slots[j].chargedTo == h|);
        var objLive := map o | o in m.objLive :: Minus(m.objLive[o], |set j | j in sub && m.slots[j].obj == o|);
        var died := set o | o in m.objLive && m.objLive[o] > 0 && objLive[o] == 0;
        var m2 := m.(slots := sl, free := m.free + order, live := Minus(m.live, |sub|), charge := charge,
                     objLive := objLive, destroyed := m.destroyed + died);
        Outcome(m2, Ok(|sub|))
  }
}
