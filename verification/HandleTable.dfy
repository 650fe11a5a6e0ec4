// A model of src/Photon.Kernel/Processes/HandleTable.cs: slots with a generation, a LIFO free stack, slot 0 never
// used, a slot retired once its generation reaches MaxGeneration. Proved: a handle that was removed never resolves
// again (to anything, so never to a newer object), and generations stay within the 11 bits the packed Handle has,
// which makes the packing (generation << 20 | index) injective.
module HandleTableModel {
  const MaxGeneration: nat := 2047 // (1 << (31 - 20)) - 1
  const MaxSlots: nat := 1048576   // 1 << 20

  datatype Entry = Entry(token: nat, gen: nat, inUse: bool)
  datatype Handle = Handle(index: nat, gen: nat)
  // `removed` is the history of every handle taken out of the table: it exists only for the proof.
  datatype Table = Table(entries: seq<Entry>, free: seq<nat>, next: nat, capacity: nat, removed: set<Handle>)
  datatype Result<T> = Ok(value: T) | Err

  function Empty(capacity: nat): Table
    requires 1 <= capacity < MaxSlots
  {
    Table([Entry(0, 0, false)], [], 1, capacity, {})
  }

  predicate Found(t: Table, h: Handle)
  {
    0 < h.index < t.next && h.index < |t.entries| && t.entries[h.index].inUse && t.entries[h.index].gen == h.gen
  }

  function Get(t: Table, h: Handle): Result<nat>
  {
    if Found(t, h) then Ok(t.entries[h.index].token) else Err
  }

  function Add(t: Table, token: nat): (Table, Result<Handle>)
  {
    if |t.free| > 0 then
      var i := t.free[|t.free| - 1];
      if i >= |t.entries| then (t, Err) // unreachable in a valid table
      else
        var e := Entry(token, t.entries[i].gen + 1, true);
        (t.(entries := t.entries[i := e], free := t.free[..|t.free| - 1]), Ok(Handle(i, e.gen)))
    else if t.next > t.capacity then (t, Err)
    else
      var i := t.next;
      var e := Entry(token, 1, true);
      var entries := if i < |t.entries| then t.entries[i := e] else t.entries + [e];
      if i > |t.entries| then (t, Err) // unreachable in a valid table
      else (t.(entries := entries, next := i + 1), Ok(Handle(i, 1)))
  }

  // Releasing a slot whose last generation was handed out retires it: it is never pushed back.
  function Remove(t: Table, h: Handle): (Table, Result<nat>)
  {
    if !Found(t, h) then (t, Err)
    else
      var e := t.entries[h.index];
      var entries := t.entries[h.index := Entry(0, e.gen, false)];
      var free := if e.gen >= MaxGeneration then t.free else t.free + [h.index];
      (t.(entries := entries, free := free, removed := t.removed + {h}), Ok(e.token))
  }

  ghost predicate Valid(t: Table)
  {
    1 <= t.capacity < MaxSlots && t.next == |t.entries| && 1 <= t.next <= t.capacity + 1
    && (forall i :: 0 <= i < |t.entries| ==> t.entries[i].gen <= MaxGeneration)
    && !t.entries[0].inUse
    && (forall k :: 0 <= k < |t.free| ==>
          (0 < t.free[k] < |t.entries| && !t.entries[t.free[k]].inUse && t.entries[t.free[k]].gen < MaxGeneration))
    && (forall a, b :: 0 <= a < b < |t.free| ==> t.free[a] != t.free[b])
    // every removed handle names a slot that is free at that generation, or has moved on past it
    && (forall h :: h in t.removed ==>
          (0 < h.index < |t.entries|
           && (t.entries[h.index].gen > h.gen || (t.entries[h.index].gen == h.gen && !t.entries[h.index].inUse))))
  }

  lemma EmptyValid(capacity: nat)
    requires 1 <= capacity < MaxSlots
    ensures Valid(Empty(capacity))
  {}

  lemma AddValid(t: Table, token: nat)
    requires Valid(t)
    ensures Valid(Add(t, token).0)
    ensures Add(t, token).1.Ok? ==> var h := Add(t, token).1.value;
      Get(Add(t, token).0, h) == Ok(token) && 0 < h.index < MaxSlots && 1 <= h.gen <= MaxGeneration
  {
    if |t.free| > 0 {
      var i := t.free[|t.free| - 1];
      var t2 := Add(t, token).0;
      forall k | 0 <= k < |t2.free| ensures t2.free[k] != i { assert t.free[k] != t.free[|t.free| - 1]; }
    }
  }

  lemma RemoveValid(t: Table, h: Handle)
    requires Valid(t)
    ensures Valid(Remove(t, h).0)
  {
    if Found(t, h) {
      var t2 := Remove(t, h).0;
      forall k | 0 <= k < |t.free| ensures t.free[k] != h.index { }
    }
  }

  // The theorem: once a handle has been removed, it never resolves again, whatever is added or removed later
  // (Valid holds in every reachable state by the lemmas above, and Valid gives this for every removed handle).
  lemma RemovedHandlesNeverResolve(t: Table, h: Handle)
    requires Valid(t) && h in t.removed
    ensures Get(t, h).Err?
  {}

  lemma RemoveRecords(t: Table, h: Handle)
    requires Valid(t)
    ensures Remove(t, h).1.Ok? ==> h in Remove(t, h).0.removed && Get(Remove(t, h).0, h).Err?
  {
    if Found(t, h) { RemoveValid(t, h); }
  }

  // Generations never exceed 11 bits and indices 20, so (gen << 20 | index) names exactly one (index, gen) pair.
  lemma PackingIsInjective(a: Handle, b: Handle)
    requires a.index < MaxSlots && b.index < MaxSlots && a.gen <= MaxGeneration && b.gen <= MaxGeneration
    requires a.gen * MaxSlots + a.index == b.gen * MaxSlots + b.index
    ensures a == b
  {
    if a.gen < b.gen { assert a.gen * MaxSlots + a.index < (a.gen + 1) * MaxSlots <= b.gen * MaxSlots; }
    else if b.gen < a.gen { assert b.gen * MaxSlots + b.index < (b.gen + 1) * MaxSlots <= a.gen * MaxSlots; }
  }
}
