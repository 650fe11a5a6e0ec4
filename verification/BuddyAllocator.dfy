// A model of the frame allocator in src/Photon.Kernel/Memory/PhysicalMemory.cs: a binary buddy allocator over
// `frames` 4 KiB frames (free lists of blocks per order, here one set of (start, order) blocks), a per-order frame cache
// of small freed blocks, and the allocation bitmap that is the kernel's double-free detector.
//
// Proved, for every interleaving of Allocate and Free (and for every choice the C# leaves to its data structures: which
// block of a free list is taken, which cached block, whether the cache is full):
//  - no frame is both free and allocated: the blocks on the free lists and in the cache never overlap each other or an
//    allocated frame, and together with the allocated frames they cover the arena exactly (nothing leaks);
//  - the free-frame counter equals the number of frames not allocated;
//  - coalescing (merging a block with its buddy, in the lists or the cache) and splitting keep the set of free frames,
//    hence the free count;
//  - Allocate hands out only frames that were free, Free accepts only frames that were allocated (a second free of any
//    frame is refused as DoubleFree and changes nothing).
// Not modelled: zeroing (the arena's job), the lock (the model is sequential, which the allocator's one lock makes it),
// and alignment of blocks (the safety properties above do not depend on it: a buddy is found by the C#'s arithmetic,
// `block ^ (1 << o)`, which the model writes as `Buddy`, and only its adjacency is used).
module BuddyAllocatorModel {
  const CacheMaxOrder: nat := 4

  function Pow2(o: nat): nat
    ensures Pow2(o) >= 1
  {
    if o == 0 then 1 else 2 * Pow2(o - 1)
  }

  datatype Block = Block(start: nat, order: nat)
  datatype Outcome = Ok(first: nat) | OutOfRange | DoubleFree | OutOfMemory | InvalidArgument

  // `lists`: every block on a free list (the C#'s `_freeLists[order]` holds the starts of blocks of that order);
  // `cache`: every block in the frame cache; `inUse`: the allocated frames (the bitmap); `freeFrames`: the counter.
  datatype State = State(frames: nat, top: nat, lists: set<Block>, cache: set<Block>, inUse: set<nat>, freeFrames: nat)

  function Range(a: nat, n: nat): set<nat> { set f: nat | a <= f < a + n }
  function Frames(b: Block): set<nat> { Range(b.start, Pow2(b.order)) }

  // The frames below `n` that some block of `bs` holds.
  function Covered(bs: set<Block>, n: nat): set<nat>
  {
    set f: nat | f < n && exists b :: b in bs && b.start <= f < b.start + Pow2(b.order)
  }

  // The C#'s `block ^ (1 << o)`: the other half of the block of order o + 1 that contains `x`.
  function Buddy(x: nat, o: nat): nat
  {
    if (x / Pow2(o)) % 2 == 0 then x + Pow2(o) else BuddyBelow(x, o)
  }

  function BuddyBelow(x: nat, o: nat): nat
    requires (x / Pow2(o)) % 2 == 1
  {
    DivAtLeastOne(x, Pow2(o));
    x - Pow2(o)
  }

  lemma DivAtLeastOne(x: nat, p: nat)
    requires p >= 1 && x / p >= 1
    ensures x >= p
  {
    var q := x / p;
    assert x == q * p + x % p;
    assert q * p >= p by { MulMono(q, p); }
  }

  lemma MulMono(q: nat, p: nat)
    requires q >= 1
    ensures q * p >= p
  {
  }

  // --- the invariant ------------------------------------------------------------------------------------------------

  ghost predicate InArena(s: State, b: Block) { b.start + Pow2(b.order) <= s.frames }

  // Everything but the counter, with `loose` frames that an operation in progress holds (neither free nor inUse).
  ghost predicate ValidWith(s: State, loose: set<nat>)
  {
    s.lists !! s.cache
    && (forall b :: b in s.lists + s.cache ==> InArena(s, b))
    && (forall b1, b2 :: b1 in s.lists + s.cache && b2 in s.lists + s.cache && b1 != b2 ==> Frames(b1) !! Frames(b2))
    && s.inUse <= Range(0, s.frames) && loose <= Range(0, s.frames)
    && Covered(s.lists + s.cache, s.frames) !! s.inUse
    && Covered(s.lists + s.cache, s.frames) !! loose
    && s.inUse !! loose
    && Covered(s.lists + s.cache, s.frames) + s.inUse + loose == Range(0, s.frames)
  }

  ghost predicate Valid(s: State)
  {
    ValidWith(s, {}) && s.freeFrames + |s.inUse| == s.frames
  }

  // --- arithmetic and set facts -------------------------------------------------------------------------------------

  lemma RangeSize(a: nat, n: nat)
    ensures |Range(a, n)| == n
    decreases n
  {
    if n > 0 {
      RangeSize(a, n - 1);
      assert Range(a, n) == Range(a, n - 1) + {a + n - 1};
    } else {
      assert Range(a, n) == {};
    }
  }

  lemma BuddyAdjacent(x: nat, o: nat)
    ensures Buddy(x, o) == x + Pow2(o) || Buddy(x, o) + Pow2(o) == x
  {
  }

  // Two adjacent blocks of order o are one block of order o + 1 starting at the lower one.
  lemma MergeFrames(x: nat, o: nat)
    ensures var lo := if x < Buddy(x, o) then x else Buddy(x, o);
            Frames(Block(lo, o + 1)) == Frames(Block(x, o)) + Frames(Block(Buddy(x, o), o))
  {
    BuddyAdjacent(x, o);
  }

  lemma SplitFrames(x: nat, o: nat)
    requires o >= 1
    ensures Frames(Block(x, o)) == Frames(Block(x, o - 1)) + Frames(Block(x + Pow2(o - 1), o - 1))
    ensures Frames(Block(x, o - 1)) !! Frames(Block(x + Pow2(o - 1), o - 1))
  {
  }

  lemma CoveredHas(s: State, b: Block)
    requires b in s.lists + s.cache && InArena(s, b)
    ensures Frames(b) <= Covered(s.lists + s.cache, s.frames)
  {
  }

  // Taking a block out of the lists or the cache uncovers exactly its frames.
  lemma CoveredWithout(s: State, bs: set<Block>, b: Block)
    requires b in bs && bs <= s.lists + s.cache
    requires forall b1, b2 :: b1 in s.lists + s.cache && b2 in s.lists + s.cache && b1 != b2 ==> Frames(b1) !! Frames(b2)
    requires forall c :: c in bs ==> InArena(s, c)
    ensures Covered(bs - {b}, s.frames) == Covered(bs, s.frames) - Frames(b)
  {
    forall f | f in Covered(bs, s.frames) && f !in Frames(b)
      ensures f in Covered(bs - {b}, s.frames)
    {
      var c :| c in bs && c.start <= f < c.start + Pow2(c.order);
      assert c != b;
    }
    forall f | f in Covered(bs, s.frames) && f in Frames(b)
      ensures f !in Covered(bs - {b}, s.frames)
    {
      if f in Covered(bs - {b}, s.frames) {
        var c :| c in bs - {b} && c.start <= f < c.start + Pow2(c.order);
        assert f in Frames(c) && f in Frames(b);
      }
    }
  }

  lemma CoveredWith(s: State, bs: set<Block>, b: Block)
    requires InArena(s, b)
    ensures Covered(bs + {b}, s.frames) == Covered(bs, s.frames) + Frames(b)
  {
    forall f | f in Covered(bs + {b}, s.frames)
      ensures f in Covered(bs, s.frames) + Frames(b)
    {
      var c :| c in bs + {b} && c.start <= f < c.start + Pow2(c.order);
    }
  }

  // --- steps every operation is made of -------------------------------------------------------------------------------

  // Puts a block whose frames are loose on the free lists.
  lemma InsertList(s: State, loose: set<nat>, b: Block)
    requires ValidWith(s, loose) && Frames(b) <= loose && b !in s.cache
    ensures ValidWith(s.(lists := s.lists + {b}), loose - Frames(b))
  {
    assert InArena(s, b) by { assert b.start + Pow2(b.order) - 1 in Frames(b); }
    var s' := s.(lists := s.lists + {b});
    assert s'.lists + s'.cache == (s.lists + s.cache) + {b};
    CoveredWith(s, s.lists + s.cache, b);
    forall c | c in s.lists + s.cache ensures Frames(c) !! Frames(b) { CoveredHas(s, c); }
  }

  lemma InsertCache(s: State, loose: set<nat>, b: Block)
    requires ValidWith(s, loose) && Frames(b) <= loose && b !in s.lists
    ensures ValidWith(s.(cache := s.cache + {b}), loose - Frames(b))
  {
    assert InArena(s, b) by { assert b.start + Pow2(b.order) - 1 in Frames(b); }
    var s' := s.(cache := s.cache + {b});
    assert s'.lists + s'.cache == (s.lists + s.cache) + {b};
    CoveredWith(s, s.lists + s.cache, b);
    forall c | c in s.lists + s.cache ensures Frames(c) !! Frames(b) { CoveredHas(s, c); }
  }

  // Takes a block off the free lists: its frames become loose.
  lemma TakeList(s: State, loose: set<nat>, b: Block)
    requires ValidWith(s, loose) && b in s.lists
    ensures ValidWith(s.(lists := s.lists - {b}), loose + Frames(b))
    ensures Frames(b) !! loose && Frames(b) !! s.inUse
  {
    var s' := s.(lists := s.lists - {b});
    assert s'.lists + s'.cache == (s.lists + s.cache) - {b};
    CoveredWithout(s, s.lists + s.cache, b);
    CoveredHas(s, b);
  }

  lemma TakeCache(s: State, loose: set<nat>, b: Block)
    requires ValidWith(s, loose) && b in s.cache
    ensures ValidWith(s.(cache := s.cache - {b}), loose + Frames(b))
    ensures Frames(b) !! loose && Frames(b) !! s.inUse
  {
    var s' := s.(cache := s.cache - {b});
    assert s'.lists + s'.cache == (s.lists + s.cache) - {b};
    CoveredWithout(s, s.lists + s.cache, b);
    CoveredHas(s, b);
  }

  // --- the operations -----------------------------------------------------------------------------------------------

  // `FreeRunLocked`: splits [start, start + pages) into blocks and coalesces each with its buddies on the free lists.
  method FreeRun(s: State, ghost other: set<nat>, start: nat, pages: nat) returns (s': State)
    requires ValidWith(s, other + Range(start, pages)) && other !! Range(start, pages)
    ensures ValidWith(s', other) && s'.inUse == s.inUse && s'.cache == s.cache
    ensures s'.frames == s.frames && s'.top == s.top && s'.freeFrames == s.freeFrames
  {
    s' := s;
    var st: nat, n: nat := start, pages;
    while n > 0
      invariant ValidWith(s', other + Range(st, n)) && other !! Range(st, n)
      invariant s'.inUse == s.inUse && s'.cache == s.cache
      invariant s'.frames == s.frames && s'.top == s.top && s'.freeFrames == s.freeFrames
      decreases n
    {
      var order: nat := 0;
      while order < s'.top && st % Pow2(order + 1) == 0 && Pow2(order + 1) <= n
        invariant Pow2(order) <= n
      {
        order := order + 1;
      }
      var block: nat, o: nat := st, order;
      ghost var rest := Range(st + Pow2(order), n - Pow2(order));
      assert Range(st, n) == Frames(Block(st, order)) + rest;
      // Coalesce: while the buddy is free at this order, take it off its list and merge.
      while o < s'.top && Block(Buddy(block, o), o) in s'.lists
        invariant ValidWith(s', other + rest + Frames(Block(block, o)))
        invariant other !! rest && other !! Frames(Block(block, o)) && rest !! Frames(Block(block, o))
        invariant s'.inUse == s.inUse && s'.cache == s.cache
        invariant s'.frames == s.frames && s'.top == s.top && s'.freeFrames == s.freeFrames
        decreases s'.top - o
      {
        var buddy := Block(Buddy(block, o), o);
        ghost var before := other + rest + Frames(Block(block, o));
        TakeList(s', before, buddy);
        s' := s'.(lists := s'.lists - {buddy});
        MergeFrames(block, o);
        block := if block < buddy.start then block else buddy.start;
        o := o + 1;
        assert before + Frames(buddy) == other + rest + Frames(Block(block, o));
      }
      assert Block(block, o) !in s'.cache by {
        if Block(block, o) in s'.cache { CoveredHas(s', Block(block, o)); assert Block(block, o).start in Frames(Block(block, o)); }
      }
      InsertList(s', other + rest + Frames(Block(block, o)), Block(block, o));
      assert (other + rest + Frames(Block(block, o))) - Frames(Block(block, o)) == other + rest;
      s' := s'.(lists := s'.lists + {Block(block, o)});
      st, n := st + Pow2(order), n - Pow2(order);
    }
    assert Range(st, 0) == {};
    assert other + Range(st, n) == other;
  }

  // `DrainCachesLocked`: every cached block goes back to the free lists, coalescing.
  method DrainCaches(s: State, ghost loose: set<nat>) returns (s': State)
    requires ValidWith(s, loose)
    ensures ValidWith(s', loose) && s'.cache == {} && s'.inUse == s.inUse
    ensures s'.frames == s.frames && s'.top == s.top && s'.freeFrames == s.freeFrames
  {
    s' := s;
    while s'.cache != {}
      invariant ValidWith(s', loose) && s'.inUse == s.inUse
      invariant s'.frames == s.frames && s'.top == s.top && s'.freeFrames == s.freeFrames
      decreases |s'.cache|
    {
      var b :| b in s'.cache;
      TakeCache(s', loose, b);
      s' := s'.(cache := s'.cache - {b});
      s' := FreeRun(s', loose, b.start, Pow2(b.order));
    }
  }

  // The split loop of `Allocate`: halves a loose block down to `order`, the upper halves going back on the free lists.
  method SplitDown(s: State, start: nat, from: nat, order: nat) returns (s': State)
    requires ValidWith(s, Frames(Block(start, from))) && from >= order
    ensures ValidWith(s', Frames(Block(start, order)))
    ensures s'.inUse == s.inUse && s'.frames == s.frames && s'.freeFrames == s.freeFrames && s'.top == s.top
  {
    s' := s;
    var o: nat := from;
    while o > order
      invariant ValidWith(s', Frames(Block(start, o))) && o >= order
      invariant s'.inUse == s.inUse && s'.frames == s.frames && s'.freeFrames == s.freeFrames && s'.top == s.top
    {
      o := o - 1;
      SplitFrames(start, o + 1);
      var upper := Block(start + Pow2(o), o);
      assert upper !in s'.cache by {
        if upper in s'.cache { CoveredHas(s', upper); assert upper.start in Frames(upper); }
      }
      InsertList(s', Frames(Block(start, o + 1)), upper);
      s' := s'.(lists := s'.lists + {upper});
      assert Frames(Block(start, o + 1)) - Frames(upper) == Frames(Block(start, o));
    }
  }

  lemma MarkAllocated(s: State, start: nat, pages: nat)
    requires ValidWith(s, Range(start, pages)) && s.freeFrames + |s.inUse| == s.frames
    ensures s.freeFrames >= pages
    ensures Valid(s.(inUse := s.inUse + Range(start, pages), freeFrames := s.freeFrames - pages))
  {
    RangeSize(start, pages);
    RangeSize(0, s.frames);
    assert |s.inUse + Range(start, pages)| == |s.inUse| + pages;
    assert s.inUse + Range(start, pages) <= Range(0, s.frames);
    SubsetSize(s.inUse + Range(start, pages), Range(0, s.frames));
    var s' := s.(inUse := s.inUse + Range(start, pages), freeFrames := s.freeFrames - pages);
    assert s'.lists + s'.cache == s.lists + s.cache;
    assert Range(0, s'.frames) == Covered(s'.lists + s'.cache, s'.frames) + s'.inUse + {};
  }

  lemma SubsetSize<T>(a: set<T>, b: set<T>)
    requires a <= b
    ensures |a| <= |b|
  {
    assert b == a + (b - a);
  }

  // The cache path of `Allocate`: a cached block of exactly `pages` = 2^order frames.
  method TakeCached(s: State, pages: nat, order: nat) returns (s': State, start: nat)
    requires ValidWith(s, {}) && pages == Pow2(order) && exists b :: b in s.cache && b.order == order
    ensures ValidWith(s', Range(start, pages))
    ensures s'.inUse == s.inUse && s'.frames == s.frames && s'.freeFrames == s.freeFrames && s'.top == s.top
  {
    var b :| b in s.cache && b.order == order;
    TakeCache(s, {}, b);
    s' := s.(cache := s.cache - {b});
    start := b.start;
    assert {} + Frames(b) == Range(start, pages);
  }

  // The list path of `Allocate`: a block of order >= `order` off the lists (draining the caches first when there is
  // none), split down, the tail beyond `pages` handed back.
  method TakeFromLists(s: State, pages: nat, order: nat) returns (s': State, start: nat, found: bool)
    requires ValidWith(s, {}) && 1 <= pages <= Pow2(order)
    ensures found ==> ValidWith(s', Range(start, pages))
    ensures !found ==> ValidWith(s', {})
    ensures s'.inUse == s.inUse && s'.frames == s.frames && s'.freeFrames == s.freeFrames && s'.top == s.top
  {
    s' := s;
    start, found := 0, false;
    if !exists b :: b in s'.lists && b.order >= order {
      s' := DrainCaches(s', {});
    }
    if !exists b :: b in s'.lists && b.order >= order { return; }
    var b :| b in s'.lists && b.order >= order;
    TakeList(s', {}, b);
    s' := s'.(lists := s'.lists - {b});
    start, found := b.start, true;
    assert {} + Frames(b) == Frames(Block(start, b.order));
    s' := SplitDown(s', start, b.order, order);
    // Give back the tail beyond what was asked for.
    assert Frames(Block(start, order)) == Range(start, pages) + Range(start + pages, Pow2(order) - pages);
    s' := FreeRun(s', Range(start, pages), start + pages, Pow2(order) - pages);
  }

  // `Allocate(pages)`: a block of 2^order >= pages frames from the cache (exact power-of-two sizes) or the lists
  // (split down, the tail beyond `pages` handed back), draining the caches first when the lists have nothing.
  method Allocate(s: State, pages: nat) returns (s': State, r: Outcome)
    requires Valid(s)
    ensures Valid(s') && s'.frames == s.frames
    ensures r.Ok? ==> Range(r.first, pages) !! s.inUse && Range(r.first, pages) <= Range(0, s.frames)
                      && s'.inUse == s.inUse + Range(r.first, pages)
    ensures !r.Ok? ==> s'.inUse == s.inUse
  {
    s' := s;
    if pages == 0 { return s', InvalidArgument; }
    if pages > s.frames { return s', OutOfMemory; }
    var order: nat := 0;
    while Pow2(order) < pages
      invariant order == 0 || Pow2(order - 1) < pages
      decreases pages - Pow2(order)
    {
      order := order + 1;
    }
    if order > s.top { return s', OutOfMemory; }
    var start: nat, found: bool;
    if order <= CacheMaxOrder && pages == Pow2(order) && exists b :: b in s.cache && b.order == order {
      s', start := TakeCached(s', pages, order);
    } else {
      s', start, found := TakeFromLists(s', pages, order);
      if !found { return s', OutOfMemory; }
    }
    // The run is now loose: mark it allocated.
    MarkAllocated(s', start, pages);
    s' := s'.(inUse := s'.inUse + Range(start, pages), freeFrames := s'.freeFrames - pages);
    r := Ok(start);
  }

  // `Free(first, pages)`: refused unless every frame is allocated (the double-free detector); an aligned power-of-two
  // block of cacheable size merges with cached buddies and parks in the cache (unless the cache is full); anything
  // else coalesces into the free lists.
  method Free(s: State, first: nat, pages: nat) returns (s': State, r: Outcome)
    requires Valid(s)
    ensures Valid(s') && s'.frames == s.frames
    ensures r.Ok? ==> Range(first, pages) <= s.inUse && s'.inUse == s.inUse - Range(first, pages)
    ensures !r.Ok? ==> s' == s
  {
    s' := s;
    if pages == 0 || first + pages > s.frames { return s', OutOfRange; }
    if !(Range(first, pages) <= s.inUse) { return s', DoubleFree; }
    MarkFree(s, first, pages);
    s' := s.(inUse := s.inUse - Range(first, pages), freeFrames := s.freeFrames + pages);
    var k: nat := 0;
    while k < 64 && Pow2(k) < pages
      decreases 64 - k
    {
      k := k + 1;
    }
    if Pow2(k) == pages && first % pages == 0 {
      s' := ParkOrCoalesce(s', first, k);
    } else {
      assert {} + Range(first, pages) == Range(first, pages);
      s' := FreeRun(s', {}, first, pages);
    }
    r := Ok(first);
  }

  lemma MarkFree(s: State, first: nat, pages: nat)
    requires Valid(s) && Range(first, pages) <= s.inUse
    ensures var s' := s.(inUse := s.inUse - Range(first, pages), freeFrames := s.freeFrames + pages);
            ValidWith(s', Range(first, pages)) && s'.freeFrames + |s'.inUse| == s'.frames
  {
    RangeSize(first, pages);
    assert |s.inUse - Range(first, pages)| == |s.inUse| - pages;
    var s' := s.(inUse := s.inUse - Range(first, pages), freeFrames := s.freeFrames + pages);
    assert s'.lists + s'.cache == s.lists + s.cache;
    assert Range(0, s'.frames) == Covered(s'.lists + s'.cache, s'.frames) + s'.inUse + Range(first, pages);
  }

  // The aligned power-of-two path of `Free`: merge with cached buddies, then park in the cache (or, when the cache is
  // full or the block too big for it, coalesce into the free lists).
  method ParkOrCoalesce(s: State, first: nat, k: nat) returns (s': State)
    requires ValidWith(s, Frames(Block(first, k)))
    ensures ValidWith(s', {})
    ensures s'.inUse == s.inUse && s'.frames == s.frames && s'.freeFrames == s.freeFrames && s'.top == s.top
  {
    s' := s;
    var block: nat, o: nat := first, k;
    while o <= CacheMaxOrder && o < s'.top && Block(Buddy(block, o), o) in s'.cache
      invariant ValidWith(s', Frames(Block(block, o)))
      invariant s'.inUse == s.inUse && s'.frames == s.frames && s'.freeFrames == s.freeFrames && s'.top == s.top
      decreases s'.top - o
    {
      var buddy := Block(Buddy(block, o), o);
      TakeCache(s', Frames(Block(block, o)), buddy);
      s' := s'.(cache := s'.cache - {buddy});
      MergeFrames(block, o);
      block := if block < buddy.start then block else buddy.start;
      o := o + 1;
    }
    var cacheFull: bool :| true; // `_cached[order] < CacheDepth` is the C#'s choice; both ways are proved
    if o <= CacheMaxOrder && o <= s'.top && !cacheFull {
      assert Block(block, o) !in s'.lists by {
        if Block(block, o) in s'.lists { CoveredHas(s', Block(block, o)); assert block in Frames(Block(block, o)); }
      }
      InsertCache(s', Frames(Block(block, o)), Block(block, o));
      s' := s'.(cache := s'.cache + {Block(block, o)});
      assert Frames(Block(block, o)) - Frames(Block(block, o)) == {};
    } else {
      assert {} + Range(block, Pow2(o)) == Frames(Block(block, o));
      s' := FreeRun(s', {}, block, Pow2(o));
    }
  }

  // Coalescing keeps the free count: merging a block with its free buddy changes which blocks are listed, not which
  // frames are free.
  lemma CoalescingKeepsFreeFrames(s: State, x: nat, o: nat)
    requires Valid(s) && Block(x, o) in s.lists && Block(Buddy(x, o), o) in s.lists
    ensures var lo := if x < Buddy(x, o) then x else Buddy(x, o);
            var merged := s.(lists := s.lists - {Block(x, o), Block(Buddy(x, o), o)} + {Block(lo, o + 1)});
            Valid(merged) && Covered(merged.lists + merged.cache, s.frames) == Covered(s.lists + s.cache, s.frames)
  {
    BuddyAdjacent(x, o);
    var a, b := Block(x, o), Block(Buddy(x, o), o);
    var lo := if x < Buddy(x, o) then x else Buddy(x, o);
    TakeList(s, {}, a);
    var s1 := s.(lists := s.lists - {a});
    TakeList(s1, Frames(a), b);
    var s2 := s1.(lists := s1.lists - {b});
    MergeFrames(x, o);
    assert {} + Frames(a) + Frames(b) == Frames(Block(lo, o + 1));
    assert Block(lo, o + 1) !in s2.cache by {
      if Block(lo, o + 1) in s2.cache { CoveredHas(s2, Block(lo, o + 1)); assert lo in Frames(Block(lo, o + 1)); }
    }
    InsertList(s2, Frames(Block(lo, o + 1)), Block(lo, o + 1));
    assert s.lists - {a, b} + {Block(lo, o + 1)} == s2.lists + {Block(lo, o + 1)};
    assert Frames(Block(lo, o + 1)) - Frames(Block(lo, o + 1)) == {};
  }

  // The two theorems the issue names, stated on a valid state.
  lemma NoFrameBothFreeAndAllocated(s: State, b: Block, f: nat)
    requires Valid(s) && b in s.lists + s.cache && f in Frames(b)
    ensures f !in s.inUse
  {
    CoveredHas(s, b);
  }

  lemma FreeCountIsExact(s: State)
    requires Valid(s)
    ensures s.freeFrames == |Covered(s.lists + s.cache, s.frames)|
  {
    RangeSize(0, s.frames);
    assert Covered(s.lists + s.cache, s.frames) + s.inUse == Range(0, s.frames);
    assert |Covered(s.lists + s.cache, s.frames) + s.inUse| == |Covered(s.lists + s.cache, s.frames)| + |s.inUse|;
  }
}
