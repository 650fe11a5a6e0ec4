using Photon.Kernel.Audit;
using Photon.Kernel.Diagnostics.Metrics;
using Photon.Kernel.Diagnostics.Tracing;

namespace Photon.Kernel.Capabilities;

/// <summary>Who is acting, for audit records and ownership (a process or a kernel module).</summary>
public readonly record struct Principal(string Name, string Namespace)
{
    public static readonly Principal Kernel = new("kernel", "/");
    public override string ToString() => $"{Name}@{Namespace}";
}

/// <summary>A read-only view of one live capability.</summary>
public sealed record CapabilityInfo(CapabilityToken Token, KernelObject Object, Rights Rights, CapabilityToken Parent, int Depth, Principal Holder);

/// <summary>
/// Issues, checks, derives and revokes capabilities. Capabilities form a derivation tree (like seL4's capability
/// derivation tree): every derived capability is a child of the one it came from, with equal or fewer rights, and
/// revoking a capability revokes its whole subtree. Slots live in one growable table addressed by the token's index;
/// each slot carries a random secret and a generation so forged and stale tokens are rejected in O(1).
/// All mutations take one lock: simple to audit. A successful check takes no lock (see <see cref="Check(CapabilityToken, Rights, Principal)"/>
/// for why revocation stays linearizable); a failing check re-runs under the lock so its error and audit record are
/// exactly what the locked path reports.
/// </summary>
public sealed class CapabilityManager
{
    private const int MaxCapabilities = 1 << 24;

    private enum SlotState : byte { Free, Live, Revoked }

    // A slot is split in two parallel arrays (struct of arrays): what a revocation walks and clears (links, state,
    // object: 40 bytes) and what it never reads (secret, holder, quota owner, depth). A 1M-node revoke then sweeps
    // 40 MB of slots instead of 96 MB; memory traffic, not instructions, is what a big revoke costs.
    private struct Slot
    {
        public uint Generation;
        public SlotState State;
        public Rights Rights;
        public KernelObject? Object;
        public int Parent;       // slot index or -1
        public int FirstChild;   // -1 if none
        public int NextSibling;  // -1 if none
        public int PrevSibling;  // -1 if none
    }

    /// <summary>The part of a slot that revocation does not touch (see <see cref="Slot"/>).</summary>
    private struct SlotRecord
    {
        public UInt128 Secret;
        public int Depth;
        public Principal Holder;
        public Principal ChargedTo; // who the quota was charged to (Holder can change on transfer)
    }

    /// <summary>What a lock-free check reads for one live slot. Filled under the lock and then published with a release
    /// store; replaced by null (under the lock, inside a revocation epoch) when the slot dies, and then kept for reuse
    /// by a later issue (up to <see cref="EntryPoolSize"/>), so issuing a capability allocates nothing in the steady
    /// state. A check that still holds a reused entry read it before that revocation's epoch and rereads the epoch
    /// after its field reads (each an acquire, so the epoch read cannot be satisfied before them): the epoch moved,
    /// so it rejects what it read — a token can never be matched against a recycled entry's new contents.</summary>
    private sealed class LiveEntry
    {
        public ulong IdLow, IdHigh;
        public uint Generation;
        public uint RightsBits;
        public KernelObject? Object;

        public UInt128 Id => ((UInt128)IdHigh << 64) | IdLow;

        public LiveEntry Set(UInt128 id, uint generation, Rights rights, KernelObject obj)
        {
            IdLow = (ulong)id;
            IdHigh = (ulong)(id >> 64);
            Generation = generation;
            RightsBits = (uint)rights;
            Object = obj;
            return this;
        }
    }

    /// <summary>Dead entries kept for reuse (a bound, so a million-node revoke does not pin a million entries).</summary>
    private const int EntryPoolSize = 256;
    private readonly LiveEntry[] _entryPool = new LiveEntry[EntryPoolSize];
    private int _entryPoolCount;

    /// <summary>An entry for a slot being issued; under the lock.</summary>
    private LiveEntry RentEntry() => _entryPoolCount > 0 ? _entryPool[--_entryPoolCount] : new LiveEntry();

    /// <summary>Unpublishes slot <paramref name="i"/>'s entry and keeps it for reuse; under the lock, inside a
    /// revocation epoch (which is what makes the reuse safe, see <see cref="LiveEntry"/>).</summary>
    private void KillEntryLocked(int i)
    {
        var e = _entries[i];
        Volatile.Write(ref _entries[i], null);
        if (e is null || _entryPoolCount == EntryPoolSize) return;
        e.Object = null; // a dead entry must not keep its object alive (e.g. an unloaded module's code)
        _entryPool[_entryPoolCount++] = e;
    }

    private readonly Lock _lock = new();
    private Slot[] _slots = new Slot[1024];
    private SlotRecord[] _records = new SlotRecord[1024]; // parallel to _slots, grown with it
    // Parallel to _slots: non-null exactly while the slot is Live. Grown with _slots (under the lock); readers load
    // the array reference once per check.
    private LiveEntry?[] _entries = new LiveEntry?[1024];
    // Revocation epoch (a sequence lock for readers): odd while a revocation or move is killing slots, bumped to the
    // next even value when it is done. Only written under _lock.
    private long _killEpoch;
    private List<int> _revokeOrder = new();
    private int _used;                 // slots [0, _used) have been handed out at least once
    private readonly Queue<int> _free = new(); // revoked slots, reused oldest first so "revoked" is reported for a while
    private long _liveCount;

    public CapabilityManager(ICapabilityAuditSink? audit = null, Func<DateTimeOffset>? clock = null)
    {
        Audit = audit;
        _clock = clock ?? (() => DateTimeOffset.UtcNow);
    }

    private readonly Func<DateTimeOffset> _clock;

    public ICapabilityAuditSink? Audit { get; internal set; }

    /// <summary>Rate limit on the denial records each tenant puts in the audit log.</summary>
    internal Audit.DenialAuditLimiter DenialAudit { get; set; } = new();

    /// <summary>Optional quota hook: charge (+1) or refund (-1) one live capability to a holder. Called under the
    /// manager's lock, so it must be quick and must not call back into the manager.</summary>
    internal Func<Principal, int, Result>? Quota { get; set; }

    /// <summary>Number of live (unrevoked) capabilities.</summary>
    public long LiveCount => Interlocked.Read(ref _liveCount);

    /// <summary>How many revoked slots wait (in quarantine) before being reused.</summary>
    public int QuarantineLength { get { lock (_lock) return _free.Count; } }

    /// <summary>Slots are reused only once this many are waiting, so a just-revoked token reports Revoked, not Stale.</summary>
    public int ReuseQuarantine { get; init; } = 4096;

    /// <summary>Issues a root capability for a new object. Only the kernel and object-creating services call this.</summary>
    internal Result<CapabilityToken> Create(KernelObject obj, Rights rights, Principal holder)
    {
        ArgumentNullException.ThrowIfNull(obj);
        if ((rights & ~Rights.All) != 0)
            return Errors.Of(ErrorCode.InvalidArgument, $"unknown rights bits 0x{(uint)rights:x}");
        CapabilityToken token;
        lock (_lock)
        {
            if (obj.IsDestroyed) return Errors.Of(ErrorCode.Revoked, $"{obj} has been destroyed");
            var r = AllocateSlot(obj, rights, -1, holder);
            if (!r.IsOk) return r;
            token = r.Value;
        }
        Emit(AuditAction.Create, holder, token, CapabilityToken.None, obj, rights, ErrorCode.None, "");
        return token;
    }

    /// <summary>
    /// Derives a child capability with <paramref name="rights"/> (which must be a subset of the parent's) held by
    /// <paramref name="holder"/>. Needs <see cref="Rights.Delegate"/> on the parent.
    /// </summary>
    internal Result<CapabilityToken> Derive(CapabilityToken parent, Rights rights, Principal holder, Principal actor = default) =>
        DeriveCore(parent, rights, holder, actor, requireDelegate: true);

    /// <summary>
    /// Kernel-internal derivation that does not need <see cref="Rights.Delegate"/>: used when the kernel itself opens a
    /// namespace binding into a process's handle table (the process gets a child it can be revoked through, never more
    /// rights than the binding has).
    /// </summary>
    internal Result<CapabilityToken> DeriveForKernel(CapabilityToken parent, Rights rights, Principal holder, Principal actor = default,
        Principal? chargeTo = null) =>
        DeriveCore(parent, rights, holder, actor, requireDelegate: false, chargeTo);

    /// <summary>Derivation for a holder that is not a process (a message in flight, a namespace binding) whose cost is
    /// charged to <paramref name="chargeTo"/>, the process that caused it.</summary>
    internal Result<CapabilityToken> DeriveCharged(CapabilityToken parent, Rights rights, Principal holder, Principal chargeTo, Principal actor) =>
        DeriveCore(parent, rights, holder, actor, requireDelegate: true, chargeTo);

    private Result<CapabilityToken> DeriveCore(CapabilityToken parent, Rights rights, Principal holder, Principal actor, bool requireDelegate,
        Principal? chargeTo = null)
    {
        actor = actor.Name is null ? holder : actor;
        CapabilityToken token;
        KernelObject obj;
        lock (_lock)
        {
            var p = Resolve(parent);
            if (!p.IsOk) return Deny(actor, parent, rights, p.Error);
            ref var ps = ref _slots[p.Value];
            if (requireDelegate && !ps.Rights.Includes(Rights.Delegate))
                return Deny(actor, parent, rights, new(ErrorCode.AccessDenied, "deriving needs the Delegate right"));
            if ((rights & ~ps.Rights) != 0)
                return Deny(actor, parent, rights, new(ErrorCode.AccessDenied, $"cannot add rights {(rights & ~ps.Rights).ToShortString()} by derivation"));
            obj = ps.Object!;
            var r = AllocateSlot(obj, rights, p.Value, holder, chargeTo ?? holder, actor);
            if (!r.IsOk) return r;
            token = r.Value;
        }
        Emit(holder.Equals(actor) ? AuditAction.Derive : AuditAction.Delegate, actor, token, parent, obj, rights, ErrorCode.None, $"to {holder}");
        return token;
    }

    /// <summary>
    /// Moves a capability to a new holder (an IPC move): the capability gets a new slot — a new token with a fresh
    /// secret — in the same place of the derivation tree (same parent, same children, same rights), and the old token
    /// dies. Whoever kept a copy of the old token holds nothing. The quota charge moves to the new holder (which may
    /// refuse it: then nothing changes). Needs <see cref="Rights.Transfer"/>.
    /// </summary>
    internal Result<CapabilityToken> Move(CapabilityToken token, Principal to, Principal chargeTo, Principal actor) =>
        MoveCore(token, to, chargeTo, actor, requireTransfer: true);

    /// <summary>Kernel-internal move that needs no Transfer right: re-issuing a capability the kernel held in flight
    /// (a lent capability, a pending connection) to the process that receives it.</summary>
    internal Result<CapabilityToken> MoveForKernel(CapabilityToken token, Principal to, Principal chargeTo) =>
        MoveCore(token, to, chargeTo, to, requireTransfer: false);

    private Result<CapabilityToken> MoveCore(CapabilityToken token, Principal to, Principal chargeTo, Principal actor, bool requireTransfer)
    {
        KernelObject obj;
        Rights rights;
        CapabilityToken moved;
        lock (_lock)
        {
            var s = Resolve(token);
            if (!s.IsOk) return Deny(actor, token, Rights.Transfer, s.Error);
            int old = s.Value;
            if (requireTransfer && !_slots[old].Rights.Includes(Rights.Transfer))
                return Deny(actor, token, Rights.Transfer, new(ErrorCode.AccessDenied, "moving a capability needs the Transfer right"));
            // The charge moves: refund first so a move within one tenant never needs headroom. Charges are serialized
            // by this lock, so re-charging the refund on failure cannot itself fail.
            var from = _records[old].ChargedTo;
            Quota?.Invoke(from, -1);
            if (Quota is { } quota)
            {
                var q = quota(chargeTo, 1);
                if (!q.IsOk)
                {
                    quota(from, 1);
                    return Deny(actor, token, Rights.Transfer, q.Error);
                }
            }
            int index = TakeFreeSlot();
            if (index < 0)
            {
                Quota?.Invoke(chargeTo, -1);
                Quota?.Invoke(from, 1);
                return Errors.Of(ErrorCode.QuotaExceeded, "capability table is full");
            }
            BeginKill();
            ref var o = ref _slots[old];
            ref var n = ref _slots[index];
            ref var nr = ref _records[index];
            obj = o.Object!;
            rights = o.Rights;
            nr.Secret = CapabilityToken.NewSecret(NextRandom());
            n.Generation++;
            n.State = SlotState.Live;
            n.Rights = o.Rights;
            n.Object = o.Object;
            nr.Depth = _records[old].Depth;
            nr.Holder = to;
            nr.ChargedTo = chargeTo;
            // Take the old slot's place among its siblings, and adopt its children.
            n.Parent = o.Parent;
            n.PrevSibling = o.PrevSibling;
            n.NextSibling = o.NextSibling;
            if (o.PrevSibling >= 0) _slots[o.PrevSibling].NextSibling = index;
            else if (o.Parent >= 0) _slots[o.Parent].FirstChild = index;
            if (o.NextSibling >= 0) _slots[o.NextSibling].PrevSibling = index;
            n.FirstChild = o.FirstChild;
            for (int c = o.FirstChild; c >= 0; c = _slots[c].NextSibling) _slots[c].Parent = index;
            o.State = SlotState.Revoked;
            o.FirstChild = o.NextSibling = o.PrevSibling = o.Parent = -1;
            o.Object = null;
            _free.Enqueue(old);
            moved = CapabilityToken.Make(index, nr.Secret, n.Generation);
            KillEntryLocked(old);
            Volatile.Write(ref _entries[index], RentEntry().Set(moved.Id, moved.Generation, n.Rights, n.Object!));
            EndKill();
        }
        Emit(AuditAction.Transfer, actor, moved, token, obj, rights, ErrorCode.None, $"to {to}");
        return moved;
    }

    /// <summary>Audits a refusal decided outside the capability table (a name that does not resolve in the caller's
    /// namespace, a hostile path) so that every denied access is on record.</summary>
    internal KernelError RecordDenied(Principal actor, CapabilityToken token, Rights rights, KernelError error) => Deny(actor, token, rights, error);

    /// <summary>Checks that <paramref name="token"/> is live and carries <paramref name="required"/>; returns its object.</summary>
    /// <remarks>
    /// Lock-free on success. The read is: e1 = epoch (acquire); entry = entries[slot] (acquire); compare id, generation
    /// and rights; e2 = epoch (acquire, so it cannot be satisfied before the entry loads). It succeeds only if e1 is
    /// even and e2 == e1, and it then linearizes at the entry load.
    /// Why a revocation stays linearizable: every operation that makes a live token die (Revoke*, Move) runs under the
    /// lock and first bumps the epoch to odd with a full fence, then nulls every dying slot's entry, then publishes the
    /// next even epoch with a release store — and only then returns. Its linearization point is the first bump.
    /// (1) A check whose e1 load comes after Revoke returned reads an epoch at or past that final store, so by
    ///     acquire/release it also sees every null written before it: its entry load finds null, and it fails.
    /// (2) A check whose e1 precedes the bump but whose e2 follows it sees e2 != e1 and falls back to the lock, which
    ///     waits for the revocation to finish and then reports Revoked.
    /// (3) A check whose e1 and e2 both precede the bump read the pre-revocation table and is ordered before it.
    /// So no check that starts after Revoke returned can succeed on the revoked token or any descendant, and checks
    /// overlapping a revocation see the whole subtree die at once (never one node dead and its child alive).
    /// Creating or deriving only publishes new entries for tokens no one can hold yet, so it needs no epoch bump; a
    /// slot reused from quarantine gets a new entry with a new generation and secret, which an old token cannot match.
    /// </remarks>
    internal Result<KernelObject> Check(CapabilityToken token, Rights required, Principal actor = default) =>
        TryCheckFast(token, required, out var obj) ? obj : CheckLocked(token, required, actor);

    /// <summary>The lock-free success path of <see cref="Check(CapabilityToken, Rights, Principal)"/> alone (the same
    /// reads, so the same linearization, see there): false whenever it would not succeed — the caller then takes
    /// <see cref="Check(CapabilityToken, Rights, Principal)"/>, which reports the error and audits the denial.</summary>
    internal bool TryCheckFast(CapabilityToken token, Rights required, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out KernelObject? obj)
    {
        obj = null;
        long e1 = Volatile.Read(ref _killEpoch);
        if ((e1 & 1) != 0) return false;
        var entries = Volatile.Read(ref _entries);
        uint index = (uint)token.SlotIndex;
        if (index >= (uint)entries.Length) return false;
        var e = Volatile.Read(ref entries[index]);
        if (e is null) return false;
        // Acquire reads (see LiveEntry: the entry may be recycled under us; the epoch reread below then fails).
        var found = Volatile.Read(ref e.Object);
        if (Volatile.Read(ref e.IdLow) != (ulong)token.Id || Volatile.Read(ref e.IdHigh) != (ulong)(token.Id >> 64)
            || Volatile.Read(ref e.Generation) != token.Generation || !((Rights)Volatile.Read(ref e.RightsBits)).Includes(required)
            || found is null || Volatile.Read(ref _killEpoch) != e1)
            return false;
        obj = found;
        return true;
    }

    private Result<KernelObject> CheckLocked(CapabilityToken token, Rights required, Principal actor)
    {
        lock (_lock)
        {
            var s = Resolve(token);
            if (!s.IsOk) return Deny(actor, token, required, s.Error);
            ref var slot = ref _slots[s.Value];
            if (!slot.Rights.Includes(required))
                return Deny(actor, token, required, new(ErrorCode.AccessDenied,
                    $"{slot.Object} needs {(required & ~slot.Rights).ToShortString()}, capability has {slot.Rights.ToShortString()}"));
            return slot.Object!;
        }
    }

    /// <summary>Typed check: the capability must name a <typeparamref name="T"/>.</summary>
    internal Result<T> Check<T>(CapabilityToken token, Rights required, Principal actor = default) where T : KernelObject
    {
        var r = Check(token, required, actor);
        if (!r.IsOk) return r.Error;
        if (r.Value is T t) return t;
        return Deny(actor, token, required, new(ErrorCode.WrongObjectType, $"capability names a {r.Value.Kind}, not a {typeof(T).Name}"));
    }

    internal Result<CapabilityInfo> Inspect(CapabilityToken token)
    {
        lock (_lock)
        {
            var s = Resolve(token);
            if (!s.IsOk) return s.Error;
            ref var slot = ref _slots[s.Value];
            var parent = slot.Parent >= 0 ? TokenOf(slot.Parent) : CapabilityToken.None;
            ref var record = ref _records[s.Value];
            return new CapabilityInfo(token, slot.Object!, slot.Rights, parent, record.Depth, record.Holder);
        }
    }

    /// <summary>Revokes <paramref name="token"/> and everything derived from it. Returns how many capabilities died.</summary>
    internal Result<int> Revoke(CapabilityToken token, Principal actor = default) => RevokeCore(token, includeSelf: true, actor);

    /// <summary>Revokes everything derived from <paramref name="token"/> but keeps the token itself.</summary>
    internal Result<int> RevokeDescendants(CapabilityToken token, Principal actor = default) => RevokeCore(token, includeSelf: false, actor);

    /// <summary>
    /// Revokes every capability to the object <paramref name="token"/> names that shares its derivation tree: walks up
    /// to the tree's root and revokes it (needs nothing beyond a live token: callers check Manage first). The walk and
    /// the revocation are one locked section (a region's free takes the capability lock once); a token that is no
    /// longer live reports its error without an audit record (the caller's check already decided), and 0 when it died
    /// after that check (someone else revoked the tree first).
    /// </summary>
    internal Result<int> RevokeFromRoot(CapabilityToken token, Principal actor)
    {
        var outcome = new RevokeOutcome();
        lock (_lock)
        {
            var s = Resolve(token);
            if (!s.IsOk) return s.Code is ErrorCode.Revoked or ErrorCode.StaleCapability ? 0 : s.Error;
            int i = s.Value;
            while (_slots[i].Parent >= 0) i = _slots[i].Parent;
            KillLocked(i, includeSelf: true, ref outcome);
        }
        return Finish(ref outcome, actor);
    }

    /// <summary>Live capabilities derived (directly or transitively) from <paramref name="token"/>.</summary>
    internal Result<IReadOnlyList<CapabilityInfo>> Descendants(CapabilityToken token)
    {
        lock (_lock)
        {
            var s = Resolve(token);
            if (!s.IsOk) return s.Error;
            var list = new List<CapabilityInfo>();
            var stack = new Stack<int>();
            for (int c = _slots[s.Value].FirstChild; c >= 0; c = _slots[c].NextSibling) stack.Push(c);
            while (stack.Count > 0)
            {
                int i = stack.Pop();
                ref var slot = ref _slots[i];
                list.Add(new CapabilityInfo(TokenOf(i), slot.Object!, slot.Rights, TokenOf(slot.Parent), _records[i].Depth, _records[i].Holder));
                for (int c = slot.FirstChild; c >= 0; c = _slots[c].NextSibling) stack.Push(c);
            }
            return list;
        }
    }

    /// <summary>Verifies the derivation tree's invariants (used by the randomized tests; O(n)).</summary>
    public Result VerifyInvariants()
    {
        lock (_lock)
        {
            long live = 0;
            var perObject = new Dictionary<KernelObject, int>(ReferenceEqualityComparer.Instance);
            for (int i = 0; i < _used; i++)
            {
                ref var s = ref _slots[i];
                var entry = _entries[i];
                if (s.State != SlotState.Live)
                {
                    if (entry is not null) return Result.Fail(ErrorCode.Corrupted, $"slot {i} is not live but a lock-free check would accept it");
                    continue;
                }
                if (entry is null || entry.Id != TokenOf(i).Id || entry.Generation != s.Generation || (Rights)entry.RightsBits != s.Rights
                    || !ReferenceEquals(entry.Object, s.Object))
                    return Result.Fail(ErrorCode.Corrupted, $"slot {i}'s lock-free entry disagrees with the slot");
                live++;
                perObject[s.Object!] = perObject.GetValueOrDefault(s.Object!) + 1;
                if (s.Parent >= 0)
                {
                    ref var p = ref _slots[s.Parent];
                    if (p.State != SlotState.Live) return Result.Fail(ErrorCode.Corrupted, $"slot {i} is live but its parent {s.Parent} is not");
                    if (!ReferenceEquals(p.Object, s.Object)) return Result.Fail(ErrorCode.Corrupted, $"slot {i} names another object than its parent");
                    if ((s.Rights & ~p.Rights) != 0) return Result.Fail(ErrorCode.Corrupted, $"slot {i} has rights its parent lacks");
                    if (_records[i].Depth != _records[s.Parent].Depth + 1) return Result.Fail(ErrorCode.Corrupted, $"slot {i} depth is wrong");
                }
                for (int c = s.FirstChild; c >= 0; c = _slots[c].NextSibling)
                    if (_slots[c].Parent != i) return Result.Fail(ErrorCode.Corrupted, $"child {c} of {i} points elsewhere");
            }
            if (live != LiveCount) return Result.Fail(ErrorCode.Corrupted, $"live count {LiveCount} but {live} live slots");
            foreach (var (obj, n) in perObject)
                if (obj.LiveCapabilities != n) return Result.Fail(ErrorCode.Corrupted, $"{obj} counts {obj.LiveCapabilities} capabilities, table has {n}");
            return Result.Ok;
        }
    }

    /// <summary>What a revocation found under the lock, acted on after it (audit records, objects told they died).</summary>
    private struct RevokeOutcome
    {
        public List<(CapabilityToken Token, KernelObject Obj, Rights Rights, Principal Holder)>? Revoked;
        public List<KernelObject>? Destroyed;
        public KernelObject? DestroyedOne; // the common case (freeing one object) allocates no list
        public int Count;
    }

    private Result<int> RevokeCore(CapabilityToken token, bool includeSelf, Principal actor)
    {
        var outcome = new RevokeOutcome();
        lock (_lock)
        {
            var s = Resolve(token);
            if (!s.IsOk) return Deny(actor, token, Rights.None, s.Error);
            KillLocked(s.Value, includeSelf, ref outcome);
        }
        return Finish(ref outcome, actor);
    }

    /// <summary>Kills <paramref name="root"/> (or only its descendants) under the lock, inside one revocation epoch.</summary>
    private void KillLocked(int root, bool includeSelf, ref RevokeOutcome outcome)
    {
        // The epoch opens before the first slot dies, as Check requires.
        BeginKill();
        if (includeSelf && _slots[root].FirstChild < 0)
        {
            // A leaf (a region freed through the capability it was allocated with): no walk, no walk list.
            Unlink(root);
            KillSlotLocked(root, ref outcome);
            outcome.Count = 1;
            _liveCount--;
            EndKill();
            return;
        }
        // One breadth-first pass that kills as it goes: a node's child links are read before the node is cleared, and
        // the walk list doubles as the queue, so deep trees cannot overflow a stack. Breadth-first order follows slot
        // order for trees derived level by level, so a big subtree is swept almost sequentially instead of hopping
        // across the table (the cost at 1M nodes was cache and TLB misses). The walk buffer is reused across
        // revocations (only touched under the lock).
        var order = _revokeOrder;
        order.Clear();
        if (includeSelf)
        {
            Unlink(root);
            order.Add(root);
        }
        else
        {
            for (int c = _slots[root].FirstChild; c >= 0; c = _slots[c].NextSibling) order.Add(c);
            _slots[root].FirstChild = -1;
        }
        for (int k = 0; k < order.Count; k++)
        {
            int i = order[k];
            for (int c = _slots[i].FirstChild; c >= 0; c = _slots[c].NextSibling) order.Add(c);
            KillSlotLocked(i, ref outcome);
        }
        outcome.Count = order.Count;
        _liveCount -= order.Count;
        EndKill();
        // Do not pin a huge walk's buffer for the rest of the run.
        if (order.Capacity > 65_536) _revokeOrder = new();
        else order.Clear();
    }

    /// <summary>Kills one slot whose children the caller has already taken (or that has none); under the lock, inside
    /// a revocation epoch.</summary>
    private void KillSlotLocked(int i, ref RevokeOutcome outcome)
    {
        ref var slot = ref _slots[i];
        var obj = slot.Object!;
        if (Audit is not null) (outcome.Revoked ??= new()).Add((TokenOf(i), obj, slot.Rights, _records[i].Holder));
        Quota?.Invoke(_records[i].ChargedTo, -1);
        slot.State = SlotState.Revoked;
        slot.FirstChild = slot.NextSibling = slot.PrevSibling = -1;
        slot.Parent = -1;
        _free.Enqueue(i);
        if (obj.CapabilityRevoked())
        {
            if (outcome.DestroyedOne is null) outcome.DestroyedOne = obj;
            else (outcome.Destroyed ??= []).Add(obj);
        }
        // A revoked slot must not keep its object alive (e.g. an unloaded module's code).
        slot.Object = null;
        KillEntryLocked(i);
    }

    /// <summary>After the lock: the audit records of a revocation, then the objects it destroyed are told.</summary>
    private int Finish(ref RevokeOutcome outcome, Principal actor)
    {
        if (outcome.Revoked is { } revoked)
        {
            var who = actor.Name is null ? Principal.Kernel : actor;
            foreach (var (t, obj, rights, holder) in revoked)
                Emit(AuditAction.Revoke, who, t, CapabilityToken.None, obj, rights, ErrorCode.None, $"held by {holder}");
        }
        outcome.DestroyedOne?.NotifyDestroyed();
        if (outcome.Destroyed is { } destroyed)
            foreach (var obj in destroyed) obj.NotifyDestroyed();
        return outcome.Count;
    }

    private Result<CapabilityToken> AllocateSlot(KernelObject obj, Rights rights, int parent, Principal holder) =>
        AllocateSlot(obj, rights, parent, holder, holder, holder);

    private Result<CapabilityToken> AllocateSlot(KernelObject obj, Rights rights, int parent, Principal holder, Principal chargeTo, Principal actor)
    {
        if (Quota is { } quota)
        {
            var q = quota(chargeTo, 1);
            // A refused charge is a denial like any other: on record under who asked (the subject), naming for whom.
            if (!q.IsOk)
                return Deny(actor, parent >= 0 ? TokenOf(parent) : CapabilityToken.None, rights,
                    holder.Equals(actor) ? q.Error : new KernelError(q.Error.Code, $"{q.Error.Message} (for {holder})"));
        }
        int index = TakeFreeSlot();
        if (index < 0)
        {
            Quota?.Invoke(chargeTo, -1);
            return Deny(actor, CapabilityToken.None, rights, new(ErrorCode.QuotaExceeded, $"capability table is full (for {holder})"));
        }
        ref var s = ref _slots[index];
        ref var record = ref _records[index];
        record.Secret = CapabilityToken.NewSecret(NextRandom());
        s.Generation++;
        s.State = SlotState.Live;
        s.Rights = rights;
        s.Object = obj;
        s.Parent = parent;
        s.FirstChild = s.PrevSibling = -1;
        record.Holder = holder;
        record.ChargedTo = chargeTo;
        record.Depth = parent >= 0 ? _records[parent].Depth + 1 : 0;
        if (parent >= 0)
        {
            ref var p = ref _slots[parent];
            s.NextSibling = p.FirstChild;
            if (p.FirstChild >= 0) _slots[p.FirstChild].PrevSibling = index;
            p.FirstChild = index;
        }
        else s.NextSibling = -1;
        _liveCount++;
        obj.CapabilityIssued();
        var token = CapabilityToken.Make(index, record.Secret, s.Generation);
        Volatile.Write(ref _entries[index], RentEntry().Set(token.Id, token.Generation, rights, obj));
        return token;
    }

    /// <summary>Opens a revocation epoch (see <see cref="Check(CapabilityToken, Rights, Principal)"/>); under the lock.</summary>
    private void BeginKill() => Interlocked.Increment(ref _killEpoch);

    /// <summary>Closes the epoch once every dying entry is null; under the lock, before the revocation returns. A
    /// release store is enough (only the lock holder writes the epoch; the nulls before it must be visible first).</summary>
    private void EndKill() => Volatile.Write(ref _killEpoch, _killEpoch + 1);

    /// <summary>A slot for a new capability: a quarantined one once enough wait, else a fresh one; -1 when full.</summary>
    private int TakeFreeSlot()
    {
        if (_free.Count > ReuseQuarantine) return _free.Dequeue();
        if (_used == MaxCapabilities) return _free.Count == 0 ? -1 : _free.Dequeue();
        if (_used == _slots.Length)
        {
            int size = Math.Min(_slots.Length * 2, MaxCapabilities);
            Array.Resize(ref _slots, size);
            Array.Resize(ref _records, size);
            var entries = new LiveEntry?[size];
            Array.Copy(_entries, entries, _entries.Length);
            Volatile.Write(ref _entries, entries);
        }
        return _used++;
    }

    // CSPRNG output is drawn 4 KiB at a time (one syscall per ~340 tokens instead of one per token); only ever read
    // under _lock, and each 12-byte slice is used once.
    private readonly byte[] _random = new byte[4096];
    private int _randomUsed = 4096;

    private ReadOnlySpan<byte> NextRandom()
    {
        if (_randomUsed + 12 > _random.Length)
        {
            System.Security.Cryptography.RandomNumberGenerator.Fill(_random);
            _randomUsed = 0;
        }
        var slice = _random.AsSpan(_randomUsed, 12);
        _randomUsed += 12;
        return slice;
    }

    private void Unlink(int i)
    {
        ref var s = ref _slots[i];
        if (s.PrevSibling >= 0) _slots[s.PrevSibling].NextSibling = s.NextSibling;
        else if (s.Parent >= 0) _slots[s.Parent].FirstChild = s.NextSibling;
        if (s.NextSibling >= 0) _slots[s.NextSibling].PrevSibling = s.PrevSibling;
    }

    private Result<int> Resolve(CapabilityToken token)
    {
        if (token.IsNone) return Errors.Of(ErrorCode.InvalidHandle, "no capability given");
        int index = token.SlotIndex;
        if (index < 0 || index >= _used) return Errors.Of(ErrorCode.UnknownCapability, $"{token} was never issued");
        ref var s = ref _slots[index];
        if (s.Generation != token.Generation)
        {
            // Same secret can't recur across generations, so a generation mismatch with a matching id is impossible
            // for a forged token only by chance: treat an older generation as stale, anything else as unknown.
            return token.Generation < s.Generation && token.Generation != 0
                ? Errors.Of(ErrorCode.StaleCapability, $"{token} refers to a recycled slot")
                : Errors.Of(ErrorCode.UnknownCapability, $"{token} was never issued");
        }
        if (_records[index].Secret != token.Secret) return Errors.Of(ErrorCode.UnknownCapability, $"{token} was never issued (forged)");
        if (s.State == SlotState.Revoked) return Errors.Of(ErrorCode.Revoked, $"{token} has been revoked");
        if (s.State != SlotState.Live) return Errors.Of(ErrorCode.UnknownCapability, $"{token} was never issued");
        return index;
    }

    private CapabilityToken TokenOf(int index) =>
        index < 0 ? CapabilityToken.None : CapabilityToken.Make(index, _records[index].Secret, _slots[index].Generation);

    private KernelError Deny(Principal actor, CapabilityToken token, Rights rights, KernelError error)
    {
        // Called under the lock for the slot data, but auditing must not re-enter us: sinks only record.
        KernelMetrics.CapabilityDenied();
        var who = actor.Name is null ? Principal.Kernel : actor;
        // A tenant's denials are rate-limited in the log (DenialAuditLimiter); the kernel's never are.
        if (Quotas.TenantQuotas.TenantOf(who) is { } tenant && Audit is not null)
        {
            if (!DenialAudit.Admit(tenant, out long suppressed)) return error;
            if (suppressed > 0)
                Emit(AuditAction.Denied, who, CapabilityToken.None, CapabilityToken.None, null, Rights.None, error.Code,
                    $"{suppressed} earlier denials in {tenant} not recorded one by one (over {DenialAudit.PerSecond}/s)");
        }
        Emit(AuditAction.Denied, who, token, CapabilityToken.None, null, rights, error.Code, error.Message);
        return error;
    }

    private void Emit(AuditAction action, Principal actor, CapabilityToken token, CapabilityToken parent, KernelObject? obj,
        Rights rights, ErrorCode error, string detail)
    {
        if (KernelTrace.Enabled) CapabilityTrace.Event(action, obj, rights, error == ErrorCode.None ? obj?.Label : detail);
        var sink = Audit;
        if (sink is null) return;
        sink.Record(new CapabilityAuditEvent(action, _clock(), actor.Name ?? "kernel", actor.Namespace ?? "/", token, parent,
            obj?.Kind ?? ObjectKind.Generic, obj?.Label ?? "", rights, error, detail));
    }
}
