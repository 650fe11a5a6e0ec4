using System.Reflection;
using Photon.Kernel.Audit;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Ipc;
using Photon.Kernel.Processes;
using Photon.Kernel.Quotas;

namespace Photon.Kernel.Tests.Security;

/// <summary>
/// Issue #9, item 19: who is acting comes from the calling process, never from an argument. Quota refusals are
/// audited denials; every event a syscall records names its caller; nothing public in the core subsystems takes an
/// actor or holder principal or hands out tokens or kernel objects; and a moved capability is paid for by whoever
/// holds it.
/// </summary>
public sealed class PrincipalTests : IDisposable
{
    private readonly SecurityKernel _k = new();

    public void Dispose() => _k.Dispose();

    // ---- quota refusals are audited ----

    [Fact]
    public void Quota_refusals_in_capability_allocation_are_denied_events_naming_the_caller()
    {
        var a = _k.Spawn("a", _k.Tenant("tenant-a"));
        var b = _k.Spawn("b", _k.Tenant("tenant-b"));
        var (toB, _) = _k.Channel(a, b);
        var regionA = a.AllocateMemory(2 * 4096).Value;
        var regionB = b.AllocateMemory(4096).Value;
        var full = _k.Quotas.Usage("/tenant-a").Capabilities;
        _k.Quotas.SetLimits("/tenant-a", new QuotaLimits(Capabilities: full)).Unwrap();

        var refusals = new List<(string What, Process Caller, Func<ErrorCode> Call)>
        {
            ("allocate", a, () => a.AllocateMemory(4096).Code),
            ("duplicate", a, () => a.Duplicate(regionA, Rights.Read).Code),
            ("share read-only", a, () => a.ShareReadOnly(regionA).Code),
            ("split", a, () => a.SplitMemory(regionA, 4096).Code),
            ("create channel", a, () => _k.Sys.Channels.CreateChannel(a).Code),
            ("lend over IPC", a, () => _k.Ipc.TrySend(a, toB, "x"u8, [new(regionA, TransferMode.Derive, Rights.Read)]).Code),
            ("delegate into the full tenant", b, () => b.Delegate(regionB, a, Rights.Read).Code),
        };
        var problems = new List<string>();
        foreach (var (what, caller, call) in refusals)
        {
            long mark = _k.AuditMark;
            var code = call();
            if (code != ErrorCode.QuotaExceeded) { problems.Add($"{what}: {code}, expected QuotaExceeded"); continue; }
            var denied = _k.AuditSince(mark).Where(e => e.Action == AuditAction.Denied && e.Error == ErrorCode.QuotaExceeded).ToList();
            if (denied.Count == 0) problems.Add($"{what}: no Denied event");
            foreach (var e in denied.Where(e => e.Subject != caller.Principal.Name || e.Namespace != caller.Principal.Namespace))
                problems.Add($"{what}: Denied event names {e.Subject}@{e.Namespace}, the caller is {caller.Principal}");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.Equal(full, _k.Quotas.Usage("/tenant-a").Capabilities);
    }

    // ---- every event a syscall records names its caller ----

    [Fact]
    public async Task Syscalls_record_the_calling_process_as_the_audit_subject()
    {
        var tenantA = _k.Tenant("tenant-a");
        var obj = _k.Caps.Create(new GenericObject("db"), Rights.Read | Rights.Delegate, Principal.Kernel).Value;
        _k.Namespaces.Bind(tenantA, "db", obj, Rights.Read).Unwrap();
        var a = _k.Spawn("a", tenantA);
        var b = _k.Spawn("b", _k.Tenant("tenant-b"));
        var (toB, fromA) = _k.Channel(a, b);
        Handle region = default, ro = default, dup = default, lent = default, lo = default, hi = default, got = default, db = default;
        Handle chanX = default, listener = default, scratch = default;
        var nsA = a.AddHandle(_k.Caps.Derive(tenantA, Rights.Read | Rights.Create, a.Principal).Value).Value;
        Photon.Kernel.Memory.RegionMapping? roMap = null;

        var steps = new List<(string What, Process Caller, Action Run)>
        {
            ("allocate", a, () => region = a.AllocateMemory(4 * 4096).Value),
            ("write", a, () => a.WriteMemory(region, 0, "x"u8).Unwrap()),
            ("read", a, () => a.ReadMemory(region, 0, new byte[1]).Unwrap()),
            ("map read-write", a, () => { using var m = a.MapMemory(region).Value; m.Write(0, "y"u8).Unwrap(); }),
            ("duplicate read-only", a, () => ro = a.Duplicate(region, Rights.Read | Rights.Map).Value),
            ("map read-only", a, () => roMap = a.MapMemory(ro).Value),
            ("write through a read-only mapping", a, () => Assert.Equal(ErrorCode.AccessDenied, roMap!.Write(0, "z"u8).Code)),
            ("write without the right", a, () => Assert.Equal(ErrorCode.AccessDenied, a.WriteMemory(ro, 0, "z"u8).Code)),
            ("share read-only", a, () => dup = a.ShareReadOnly(region).Value),
            ("delegate", a, () => lent = a.Delegate(region, b, Rights.Read).Value),
            ("revoke derived", a, () => Assert.Equal(3, a.RevokeDerived(region).Value)),
            ("use a revoked mapping", a, () => Assert.Equal(ErrorCode.Revoked, roMap!.Read(0, new byte[1]).Code)),
            ("ask a revoked mapping if it is valid", a, () => Assert.False(roMap!.IsValid)),
            ("use a revoked handle", b, () => Assert.Equal(ErrorCode.Revoked, b.ReadMemory(lent, 0, new byte[1]).Code)),
            ("split", a, () => (lo, hi) = a.SplitMemory(region, 4096).Value),
            ("free", a, () => a.FreeMemory(lo).Unwrap()),
            ("open a name", a, () => db = _k.Sys.Namespaces.Open(a, "/db", Rights.Read).Value),
            ("open a missing name", a, () => Assert.Equal(ErrorCode.NotFound, _k.Sys.Namespaces.Open(a, "/nope", Rights.Read).Code)),
            ("open with too many rights", a, () => Assert.Equal(ErrorCode.AccessDenied, _k.Sys.Namespaces.Open(a, "/db", Rights.Write).Code)),
            ("list", a, () => _k.Sys.Namespaces.List(a).Unwrap()),
            ("close", a, () => _k.Sys.Handles.Close(a, db).Unwrap()),
            ("create a channel", a, () => chanX = _k.Sys.Channels.CreateChannel(a).Value.A),
            ("send with a move", a, () => _k.Ipc.TrySend(a, toB, "m"u8, [new(hi, TransferMode.Move)]).Unwrap()),
            ("receive", b, () => got = Assert.Single(_k.Ipc.TryReceive(b, fromA).Value.Handles)),
            ("send a loan", b, () => _k.Ipc.TrySend(b, fromA, "l"u8, [new(got, TransferMode.Derive, Rights.Read)]).Unwrap()),
            ("receive a loan", a, () => Assert.Single(_k.Ipc.TryReceive(a, toB).Value.Handles)),
            ("split a received region", b, () => b.SplitMemory(got, 4096).Unwrap()),
            ("listen", a, () => listener = _k.Sys.Channels.Listen(a).Value),
            ("close a listener", a, () => _k.Sys.Handles.Close(a, listener).Unwrap()),
            ("close a channel end", a, () => _k.Ipc.Close(a, chanX).Unwrap()),
            ("create a namespace", a, () => scratch = _k.Sys.Namespaces.CreateChild(a, nsA, "scratch").Value),
            ("bind", a, () => _k.Sys.Namespaces.Bind(a, scratch, "region", a.AllocateMemory(4096).Value, Rights.Read).Unwrap()),
            ("alias", a, () => _k.Sys.Namespaces.BindAlias(a, scratch, "again", "/region").Unwrap()),
            ("destroy a namespace", a, () => _k.Sys.Namespaces.Destroy(a, scratch).Unwrap()),
        };
        var problems = new List<string>();
        foreach (var (what, caller, run) in steps)
        {
            long mark = _k.AuditMark;
            run();
            var events = _k.AuditSince(mark);
            if (events.Count == 0 && what.StartsWith("ask", StringComparison.Ordinal)) continue;
            foreach (var e in events.Where(e => e.Subject != caller.Principal.Name || e.Namespace != caller.Principal.Namespace))
                problems.Add($"{what} (by {caller.Principal}): {e.Action} {e.ObjectKind} {e.Error} recorded as {e.Subject}@{e.Namespace}");
        }
        roMap?.Dispose();
        Assert.True(problems.Count == 0, "events not recorded under the caller:\n" + string.Join("\n", problems));
        await Task.CompletedTask;
    }

    // ---- who pays for a moved capability ----

    [Fact]
    public async Task A_capability_moved_over_ipc_is_charged_to_the_receivers_tenant_after_receive()
    {
        var a = _k.Spawn("a", _k.Tenant("tenant-a"));
        var b = _k.Spawn("b", _k.Tenant("tenant-b"));
        var (toB, fromA) = _k.Channel(a, b);
        var region = a.AllocateMemory(2 * 4096).Value;
        int Caps(string t) => _k.Quotas.Usage(t).Capabilities;
        int a0 = Caps("/tenant-a"), b0 = Caps("/tenant-b");

        _k.Ipc.TrySend(a, toB, "yours"u8, [new(region, TransferMode.Move)]).Unwrap();
        Assert.Equal((a0, b0), (Caps("/tenant-a"), Caps("/tenant-b"))); // in flight: still the sender's
        var got = Assert.Single((await _k.Ipc.ReceiveAsync(b, fromA)).Value.Handles);
        Assert.Equal((a0 - 1, b0 + 1), (Caps("/tenant-a"), Caps("/tenant-b")));
        Assert.Equal(b.Principal, _k.Caps.Inspect(b.TokenOf(got).Value).Value.Holder);

        // A loan: the sender pays while it is in flight, the receiver once it holds it.
        _k.Ipc.TrySend(b, fromA, "borrow"u8, [new(got, TransferMode.Derive, Rights.Read)]).Unwrap();
        Assert.Equal((a0 - 1, b0 + 2), (Caps("/tenant-a"), Caps("/tenant-b")));
        var loan = Assert.Single((await _k.Ipc.ReceiveAsync(a, toB)).Value.Handles);
        Assert.Equal((a0, b0 + 1), (Caps("/tenant-a"), Caps("/tenant-b")));

        // Splitting the received region: the halves are the splitter's, paid for and recorded as its doing.
        long mark = _k.AuditMark;
        var (lo, hi) = b.SplitMemory(got, 4096).Value;
        Assert.Equal((a0 - 1, b0 + 2), (Caps("/tenant-a"), Caps("/tenant-b"))); // the loan died with the original
        Assert.Equal(ErrorCode.Revoked, a.ReadMemory(loan, 0, new byte[1]).Code);
        Assert.All(new[] { lo, hi }, h => Assert.Equal(b.Principal, _k.Caps.Inspect(b.TokenOf(h).Value).Value.Holder));
        Assert.All(_k.AuditSince(mark).Where(e => e.Action == AuditAction.Create), e => Assert.Equal(b.Principal.Name, e.Subject));
    }

    // ---- the public surface ----

    private static readonly string[] CoreNamespaces =
        ["Photon.Kernel.Memory", "Photon.Kernel.Ipc", "Photon.Kernel.Processes", "Photon.Kernel.Namespaces", "Photon.Kernel.Capabilities"];

    /// <summary>
    /// Public members of public types in the core namespaces that take a <see cref="Principal"/> or a
    /// <see cref="CapabilityToken"/> (directly or inside a generic type), or return a token or a kernel object. Each
    /// is an exception to "process-facing work takes the calling process and handles", with why it is not a hole.
    /// The test fails on any new one, and on any listed one that no longer exists (keep the list true).
    /// </summary>
    private static readonly Dictionary<string, string> KnownExceptions = new()
    {
        // Values describing capabilities. Equality, deconstruction and copies of a value confer nothing; a token is
        // 96 unguessable bits, and no public API accepts one.
        ["Photon.Kernel.Capabilities.Principal.Equals(Principal) -> Boolean"] = "value equality of the identity record",
        ["Photon.Kernel.Capabilities.Principal.op_Equality(Principal, Principal) -> Boolean"] = "value equality of the identity record",
        ["Photon.Kernel.Capabilities.Principal.op_Inequality(Principal, Principal) -> Boolean"] = "value equality of the identity record",
        ["Photon.Kernel.Capabilities.CapabilityToken.Equals(CapabilityToken) -> Boolean"] = "value equality of the token record",
        ["Photon.Kernel.Capabilities.CapabilityToken.op_Equality(CapabilityToken, CapabilityToken) -> Boolean"] = "value equality of the token record",
        ["Photon.Kernel.Capabilities.CapabilityToken.op_Inequality(CapabilityToken, CapabilityToken) -> Boolean"] = "value equality of the token record",
        ["Photon.Kernel.Capabilities.CapabilityInfo..ctor(CapabilityToken, KernelObject, Rights, CapabilityToken, Int32, Principal)"] =
            "a read-only description; only the kernel-internal CapabilityManager.Inspect/Descendants produce one",
        ["Photon.Kernel.Capabilities.CapabilityInfo.get_Token() -> CapabilityToken"] = "see CapabilityInfo: reachable only from internal APIs",
        ["Photon.Kernel.Capabilities.CapabilityInfo.set_Token(CapabilityToken) -> Void"] = "init-only; see CapabilityInfo",
        ["Photon.Kernel.Capabilities.CapabilityInfo.get_Parent() -> CapabilityToken"] = "see CapabilityInfo",
        ["Photon.Kernel.Capabilities.CapabilityInfo.set_Parent(CapabilityToken) -> Void"] = "init-only; see CapabilityInfo",
        ["Photon.Kernel.Capabilities.CapabilityInfo.get_Object() -> KernelObject"] = "see CapabilityInfo",
        ["Photon.Kernel.Capabilities.CapabilityInfo.set_Holder(Principal) -> Void"] = "init-only; see CapabilityInfo",
        ["Photon.Kernel.Capabilities.CapabilityInfo.Deconstruct(CapabilityToken&, KernelObject&, Rights&, CapabilityToken&, Int32&, Principal&) -> Void"] = "see CapabilityInfo",
        ["Photon.Kernel.Memory.MemoryRegion.set_Owner(Principal) -> Void"] =
            "init-only, and MemoryRegion's constructor is internal: only the memory manager ever sets it",
        ["Photon.Kernel.Namespaces.NamespaceBinding..ctor(String, CapabilityToken, String)"] =
            "a namespace's binding record; Namespace.Bindings is internal, so only kernel code sees one",
        ["Photon.Kernel.Namespaces.NamespaceBinding.get_Token() -> CapabilityToken"] = "see NamespaceBinding",
        ["Photon.Kernel.Namespaces.NamespaceBinding.set_Token(CapabilityToken) -> Void"] = "init-only; see NamespaceBinding",
        ["Photon.Kernel.Namespaces.NamespaceBinding.Deconstruct(String&, CapabilityToken&, String&) -> Void"] = "see NamespaceBinding",
        // Kernel objects reachable without a handle. Holding the manager is kernel authority (boot, init's
        // supervisor, the CLI's reports); a process never gets one.
        ["Photon.Kernel.Processes.ProcessManager.Get(Int32) -> Result`1[Process]"] =
            "process by pid: whoever holds the ProcessManager can act as any process (kernel authority, not a process API)",
        ["Photon.Kernel.Processes.ProcessManager.get_All() -> IReadOnlyCollection`1[Process]"] = "every process, for `photon ps`: kernel authority",
        ["Photon.Kernel.Namespaces.NamespaceManager.get_Root() -> Namespace"] = "the root namespace object (reports, `photon ns tree`); lookups need a capability",
        ["Photon.Kernel.Namespaces.Namespace.get_Parent() -> Namespace"] = "reporting the tree; resolution never walks up",
    };

    private static bool Mentions(Type t, Func<Type, bool> what)
    {
        if (t.IsByRef || t.IsArray || t.IsPointer) return Mentions(t.GetElementType()!, what);
        if (what(t)) return true;
        return t.IsGenericType && t.GetGenericArguments().Any(a => Mentions(a, what));
    }

    private static string Name(Type t) =>
        t.IsByRef ? Name(t.GetElementType()!) + "&"
        : t.IsGenericType ? $"{t.Name}[{string.Join(", ", t.GetGenericArguments().Select(Name))}]"
        : t.Name;

    private static string Signature(MethodBase m) =>
        $"{m.DeclaringType!.FullName}.{m.Name}({string.Join(", ", m.GetParameters().Select(p => Name(p.ParameterType)))})"
        + (m is MethodInfo mi ? $" -> {Name(mi.ReturnType)}" : "");

    [Fact]
    public void No_public_core_api_takes_a_principal_or_token_or_hands_out_a_token_or_kernel_object()
    {
        static bool Authority(Type t) => t == typeof(Principal) || t == typeof(CapabilityToken);
        static bool Handed(Type t) => t == typeof(CapabilityToken) || typeof(KernelObject).IsAssignableFrom(t);
        const BindingFlags Flags = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

        var found = typeof(Process).Assembly.GetExportedTypes()
            .Where(t => CoreNamespaces.Contains(t.Namespace))
            .SelectMany(t => t.GetMethods(Flags).Cast<MethodBase>().Concat(t.GetConstructors(Flags)))
            .Where(m => m.GetParameters().Any(p => Mentions(p.ParameterType, Authority))
                        || (m is MethodInfo mi && Mentions(mi.ReturnType, Handed)))
            .Select(Signature)
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToList();

        var unexpected = found.Where(s => !KnownExceptions.ContainsKey(s)).ToList();
        var stale = KnownExceptions.Keys.Where(s => !found.Contains(s)).ToList();
        Assert.True(unexpected.Count == 0 && stale.Count == 0,
            "new public APIs that take a principal/token or hand out a token/kernel object:\n  " + string.Join("\n  ", unexpected)
            + "\nlisted exceptions that no longer exist:\n  " + string.Join("\n  ", stale));
    }
}
