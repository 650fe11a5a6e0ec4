// A model of path resolution in src/Photon.Kernel/Namespaces/NamespaceManager.cs (`LookupCore` and `Resolve`).
// Namespaces are objects; each holds bindings from names to capabilities (or to aliases: paths resolved again inside
// the namespace that holds them). A capability names an object and carries rights. Walking into a namespace needs
// Read on the capability walked through, and the rights mask of the walk is cut down by every capability it passes.
//
// Proved: (1) no escape — whatever a lookup from a namespace returns is bound in that namespace or in a namespace
// reachable from it through its own bindings (aliases included: they resolve inside the namespace that holds them);
// (2) no amplification — the walk's rights mask only shrinks, so a namespace reached by walking is never handed out
// with rights the starting capability did not have; (3) every lookup terminates within the alias budget.
module NamespaceModel {
  type Name = string
  type Rights = set<nat>
  const Read: nat := 0
  const MaxAliasHops: nat := 8
  const MaxAliasExpansionsPerLookup: nat := 32

  datatype Binding = Cap(cap: nat) | Alias(path: seq<Name>)
  datatype CapInfo = CapInfo(obj: nat, rights: Rights)
  // `spaces`: the namespace objects and their bindings; `caps`: the live capabilities (a revoked one is absent);
  // `closed`: destroyed namespaces, which refuse every walk.
  datatype State = State(spaces: map<nat, map<Name, Binding>>, caps: map<nat, CapInfo>, closed: set<nat>)
  datatype Res = Ok(cap: nat, budget: nat, mask: Rights) | Err

  // `Check<Namespace>(token, Read)`: live, names a namespace, carries Read.
  predicate WalksInto(st: State, c: nat)
  {
    c in st.caps && st.caps[c].obj in st.spaces && Read in st.caps[c].rights
  }

  // One iteration of the C# loop per call: resolve parts[i..] starting in `space`.
  function Resolve(st: State, space: nat, parts: seq<Name>, i: nat, hops: nat, budget: nat, mask: Rights): (r: Res)
    requires space in st.spaces && i <= |parts|
    ensures r.Ok? ==> r.budget <= budget
    decreases budget, |parts| - i
  {
    if i == |parts| then Err
    else if space in st.closed then Err
    else if parts[i] !in st.spaces[space] then Err
    else
      var b := st.spaces[space][parts[i]];
      var r :=
        if b.Alias? then
          (if hops >= MaxAliasHops || budget == 0 then Err
           else Resolve(st, space, b.path, 0, hops + 1, budget - 1, mask))
        else Ok(b.cap, budget, mask);
      if r.Err? || i == |parts| - 1 then r
      else
        var through := if r.cap in st.caps then st.caps[r.cap].rights else {};
        if !WalksInto(st, r.cap) then Err
        else Resolve(st, st.caps[r.cap].obj, parts, i + 1, hops, r.budget, r.mask * through)
  }

  // `LookupCore` for a non-empty path: the start capability must walk into a namespace; the found capability, if it
  // names a namespace, is refused when the rights asked for exceed the walk's mask.
  function Lookup(st: State, start: nat, parts: seq<Name>, required: Rights): Res
  {
    if |parts| == 0 || !WalksInto(st, start) then Err
    else
      var r := Resolve(st, st.caps[start].obj, parts, 0, 0, MaxAliasExpansionsPerLookup, st.caps[start].rights);
      if r.Err? then Err
      else if r.cap in st.caps && st.caps[r.cap].obj in st.spaces && !(required <= r.mask) then Err
      else if !(r.cap in st.caps && required <= st.caps[r.cap].rights) then Err
      else r
  }

  // `c` is bound in `space`, or in a namespace reachable from `space` through at most `depth` capabilities bound below
  // it (each of which the walk may pass: live, naming a namespace, carrying Read).
  ghost predicate Below(st: State, space: nat, c: nat, depth: nat)
    decreases depth
  {
    space in st.spaces &&
    ((exists n :: n in st.spaces[space] && st.spaces[space][n] == Cap(c))
     || (depth > 0 && exists n, via :: n in st.spaces[space] && st.spaces[space][n] == Cap(via) && WalksInto(st, via)
                                     && Below(st, st.caps[via].obj, c, depth - 1)))
  }

  lemma BelowMonotone(st: State, space: nat, c: nat, d: nat, e: nat)
    requires Below(st, space, c, d) && d <= e
    ensures Below(st, space, c, e)
    decreases d
  {
    if n :| n in st.spaces[space] && st.spaces[space][n] == Cap(c) {
    } else {
      var n, w :| n in st.spaces[space] && st.spaces[space][n] == Cap(w) && WalksInto(st, w) && Below(st, st.caps[w].obj, c, d - 1);
      BelowMonotone(st, st.caps[w].obj, c, d - 1, e - 1);
    }
  }

  // What is below a namespace below `space` is below `space`.
  lemma BelowTransitive(st: State, space: nat, via: nat, c: nat, d1: nat, d2: nat)
    requires Below(st, space, via, d1) && WalksInto(st, via)
    requires Below(st, st.caps[via].obj, c, d2)
    ensures Below(st, space, c, d1 + d2 + 1)
    decreases d1
  {
    if n :| n in st.spaces[space] && st.spaces[space][n] == Cap(via) {
      BelowMonotone(st, st.caps[via].obj, c, d2, d1 + d2);
    } else {
      var n, w :| n in st.spaces[space] && st.spaces[space][n] == Cap(w) && WalksInto(st, w) && Below(st, st.caps[w].obj, via, d1 - 1);
      BelowTransitive(st, st.caps[w].obj, via, c, d1 - 1, d2);
    }
  }

  // No escape, and no amplification, for one call of `Resolve`.
  lemma ResolveStaysBelow(st: State, space: nat, parts: seq<Name>, i: nat, hops: nat, budget: nat, mask: Rights)
    returns (depth: nat)
    requires space in st.spaces && i <= |parts|
    ensures var r := Resolve(st, space, parts, i, hops, budget, mask);
            r.Ok? ==> Below(st, space, r.cap, depth) && r.mask <= mask
    decreases budget, |parts| - i
  {
    depth := 0;
    var res := Resolve(st, space, parts, i, hops, budget, mask);
    if i == |parts| || space in st.closed || parts[i] !in st.spaces[space] { return; }
    var b := st.spaces[space][parts[i]];
    var r :=
      if b.Alias? then
        (if hops >= MaxAliasHops || budget == 0 then Err
         else Resolve(st, space, b.path, 0, hops + 1, budget - 1, mask))
      else Ok(b.cap, budget, mask);
    if r.Err? { return; }
    // The step's result is below `space` with a mask no larger than `mask`.
    var d1: nat := 0;
    if b.Alias? {
      d1 := ResolveStaysBelow(st, space, b.path, 0, hops + 1, budget - 1, mask);
    } else {
      assert st.spaces[space][parts[i]] == Cap(r.cap);
      assert Below(st, space, r.cap, 0);
    }
    depth := d1;
    if i == |parts| - 1 { return; }
    if !WalksInto(st, r.cap) { return; }
    var next := st.caps[r.cap].obj;
    var through := st.caps[r.cap].rights;
    var d2 := ResolveStaysBelow(st, next, parts, i + 1, hops, r.budget, r.mask * through);
    var rest := Resolve(st, next, parts, i + 1, hops, r.budget, r.mask * through);
    assert res == rest;
    if rest.Ok? {
      BelowTransitive(st, space, r.cap, rest.cap, d1, d2);
      depth := d1 + d2 + 1;
    }
  }

  // The theorems as a user states them: a lookup from a namespace capability returns only capabilities bound at or
  // below that namespace, and never a namespace capability usable with rights the start capability lacks.
  lemma LookupCannotEscape(st: State, start: nat, parts: seq<Name>, required: Rights)
    ensures var r := Lookup(st, start, parts, required);
            r.Ok? ==> WalksInto(st, start) && exists d :: Below(st, st.caps[start].obj, r.cap, d)
  {
    if |parts| > 0 && WalksInto(st, start) {
      var d := ResolveStaysBelow(st, st.caps[start].obj, parts, 0, 0, MaxAliasExpansionsPerLookup, st.caps[start].rights);
    }
  }

  lemma LookupNeverAmplifies(st: State, start: nat, parts: seq<Name>, required: Rights)
    ensures var r := Lookup(st, start, parts, required);
            r.Ok? && r.cap in st.caps && st.caps[r.cap].obj in st.spaces ==> required <= st.caps[start].rights
  {
    if |parts| > 0 && WalksInto(st, start) {
      var _ := ResolveStaysBelow(st, st.caps[start].obj, parts, 0, 0, MaxAliasExpansionsPerLookup, st.caps[start].rights);
    }
  }

  // Anything below a namespace is bound in some namespace reachable from it: so a tenant namespace whose subtree binds
  // none of another tenant's capabilities can never resolve one of them.
  lemma BelowIsBoundSomewhere(st: State, space: nat, c: nat, d: nat)
    requires Below(st, space, c, d)
    ensures exists s, n :: s in st.spaces && n in st.spaces[s] && st.spaces[s][n] == Cap(c)
    decreases d
  {
    if n :| n in st.spaces[space] && st.spaces[space][n] == Cap(c) {
    } else {
      var n, w :| n in st.spaces[space] && st.spaces[space][n] == Cap(w) && WalksInto(st, w) && Below(st, st.caps[w].obj, c, d - 1);
      BelowIsBoundSomewhere(st, st.caps[w].obj, c, d - 1);
    }
  }
}
