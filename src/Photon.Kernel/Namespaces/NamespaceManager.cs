using Photon.Kernel.Capabilities;

namespace Photon.Kernel.Namespaces;

/// <summary>One row of a namespace listing.</summary>
public sealed record NamespaceEntry(string Name, ObjectKind Kind, Rights Rights, string? AliasTarget, bool IsLive);

/// <summary>
/// Creates nested namespaces and resolves paths in them. Every operation starts from a capability to a namespace, and
/// resolution only ever walks down through bindings of that namespace, so a lookup cannot reach a name its namespace
/// was not given: there is no "..", and an alias is resolved inside the namespace that defined it.
/// Binding a capability into a namespace stores a capability derived from it, so revoking the source (or
/// unbinding) cuts off everyone who looked it up.
/// </summary>
public sealed class NamespaceManager
{
    public const int MaxAliasHops = 8;

    /// <summary>Total alias expansions one lookup may do, across every chain it meets: bounds the work of a lookup
    /// (per-chain hop limits alone let nested aliases fan out exponentially).</summary>
    public const int MaxAliasExpansionsPerLookup = 32;
    public const int MaxBindingsPerNamespace = 65_536;

    /// <summary>Kernel memory an alias binding is charged on top of its two strings (the binding record and its
    /// dictionary entry).</summary>
    internal const int AliasOverheadBytes = 96;

    private readonly CapabilityManager _caps;

    /// <summary>Charges (positive) or gives back (negative) kernel memory bytes to a principal's tenant: alias bindings,
    /// which hold no capability. Set by the tenant quotas; null charges nothing.</summary>
    internal Func<Principal, long, Result>? MemoryQuota { get; set; }

    public NamespaceManager(CapabilityManager caps)
    {
        _caps = caps;
        Root = new Namespace("/", null);
        RootCapability = _caps.Create(Root, Rights.All, Principal.Kernel).Value;
    }

    public Namespace Root { get; }

    /// <summary>The kernel's all-rights capability to the root namespace.</summary>
    internal CapabilityToken RootCapability { get; }

    /// <summary>
    /// Creates a child namespace called <paramref name="name"/> in the namespace <paramref name="parent"/> names
    /// (needs <see cref="Rights.Create"/>), binds it there, and returns an all-rights capability to it.
    /// </summary>
    internal Result<CapabilityToken> CreateChild(CapabilityToken parent, string name, Principal actor = default)
    {
        var v = NamespacePath.ValidateName(name);
        if (!v.IsOk) return v.Error;
        var p = _caps.Check<Namespace>(parent, Rights.Create, actor);
        if (!p.IsOk) return p.Error;
        var parentNs = p.Value;
        var childPath = parentNs.Path == "/" ? "/" + name : parentNs.Path + "/" + name;
        // No deeper or longer than a lookup can name: a deeper chain could never be resolved, and each level stores
        // its whole path (kernel memory quadratic in the depth).
        if (parentNs.Depth + 1 > NamespacePath.MaxDepth)
            return Errors.Of(ErrorCode.InvalidName, $"{childPath}: namespaces nest at most {NamespacePath.MaxDepth} deep");
        if (childPath.Length > NamespacePath.MaxPathLength)
            return Errors.Of(ErrorCode.InvalidName, $"namespace path longer than {NamespacePath.MaxPathLength} characters");
        var child = new Namespace(childPath, parentNs);
        var owner = actor.Name is null ? new Principal("kernel", childPath) : actor;
        var created = _caps.Create(child, Rights.All, owner);
        if (!created.IsOk) return created.Error;
        lock (parentNs.Bindings)
        {
            if (parentNs.IsClosed) { _caps.Revoke(created.Value); return Errors.Of(ErrorCode.Closed, $"{parentNs.Path} is destroyed"); }
            if (parentNs.Bindings.ContainsKey(name)) { _caps.Revoke(created.Value); return Errors.Of(ErrorCode.AlreadyExists, $"'{name}' already exists in {parentNs.Path}"); }
            if (parentNs.Bindings.Count >= MaxBindingsPerNamespace) { _caps.Revoke(created.Value); return Errors.Of(ErrorCode.QuotaExceeded, $"{parentNs.Path} is full"); }
            // The parent's binding is derived from the child's root capability: destroying the child kills it too.
            // A process's child is charged to that process, not to the parent namespace's tenant; one the kernel makes
            // is charged as before, to the binding's own namespace.
            var bound = _caps.DeriveForKernel(created.Value, Rights.All, new Principal("binding", parentNs.Path), actor,
                chargeTo: actor.Name is null ? null : actor);
            if (!bound.IsOk) { _caps.Revoke(created.Value); return bound.Error; }
            parentNs.Bindings[name] = new NamespaceBinding(name, bound.Value, null);
        }
        return created.Value;
    }

    /// <summary>
    /// Binds a capability derived from <paramref name="target"/> with <paramref name="rights"/> under
    /// <paramref name="name"/>. Needs <see cref="Rights.Bind"/> on the namespace and <see cref="Rights.Delegate"/> on
    /// the target (you can only hand out what you may delegate, and never more rights than you have).
    /// </summary>
    internal Result<CapabilityToken> Bind(CapabilityToken ns, string name, CapabilityToken target, Rights rights, Principal actor = default)
    {
        var v = NamespacePath.ValidateName(name);
        if (!v.IsOk) return v.Error;
        var n = _caps.Check<Namespace>(ns, Rights.Bind, actor);
        if (!n.IsOk) return n.Error;
        var space = n.Value;
        // The binding's capability is charged to the binder: Bind on another tenant's drop box must not spend that
        // tenant's capability quota.
        var holder = new Principal("binding", space.Path);
        var derived = actor.Name is null
            ? _caps.Derive(target, rights, holder, actor)
            : _caps.DeriveCharged(target, rights, holder, chargeTo: actor, actor);
        if (!derived.IsOk) return derived.Error;
        lock (space.Bindings)
        {
            var err = CheckInsert(space, name);
            if (err is { } e) { _caps.Revoke(derived.Value); return e; }
            space.Bindings[name] = new NamespaceBinding(name, derived.Value, null);
        }
        return derived.Value;
    }

    /// <summary>
    /// Binds <paramref name="name"/> as an alias for <paramref name="targetPath"/>, resolved later inside this same
    /// namespace (so an alias can never point outside it). Needs <see cref="Rights.Bind"/>.
    /// </summary>
    internal Result BindAlias(CapabilityToken ns, string name, string targetPath, Principal actor = default)
    {
        var v = NamespacePath.ValidateName(name);
        if (!v.IsOk) return v;
        var t = NamespacePath.Split(targetPath);
        if (!t.IsOk) return t.Error;
        if (t.Value.Length == 0) return Result.Fail(ErrorCode.InvalidName, "an alias must name something");
        var n = _caps.Check<Namespace>(ns, Rights.Bind, actor);
        if (!n.IsOk) return n.Error;
        var space = n.Value;
        var target = NamespacePath.Join(t.Value);
        long bytes = AliasOverheadBytes + 2L * (name.Length + target.Length);
        if (MemoryQuota is { } quota && actor.Name is not null)
        {
            var charged = quota(actor, bytes);
            if (!charged.IsOk) return charged;
        }
        lock (space.Bindings)
        {
            var err = CheckInsert(space, name);
            if (err is { } e) { Refund(actor, bytes); return e; }
            space.Bindings[name] = new NamespaceBinding(name, CapabilityToken.None, target) { ChargedTo = actor, ChargedBytes = actor.Name is null ? 0 : bytes };
        }
        return Result.Ok;
    }

    /// <summary>Removes a binding and revokes the capability it held (needs <see cref="Rights.Bind"/>).</summary>
    internal Result Unbind(CapabilityToken ns, string name, Principal actor = default)
    {
        var v = NamespacePath.ValidateName(name);
        if (!v.IsOk) return v;
        var n = _caps.Check<Namespace>(ns, Rights.Bind, actor);
        if (!n.IsOk) return n.Error;
        NamespaceBinding? removed;
        lock (n.Value.Bindings)
        {
            if (!n.Value.Bindings.Remove(name, out removed)) return Result.Fail(ErrorCode.NotFound, $"'{name}' is not bound in {n.Value.Path}");
        }
        if (removed.IsAlias) Refund(removed.ChargedTo, removed.ChargedBytes);
        else _caps.Revoke(removed.Token, actor);
        return Result.Ok;
    }

    private void Refund(Principal chargedTo, long bytes)
    {
        if (bytes > 0 && chargedTo.Name is not null) MemoryQuota?.Invoke(chargedTo, -bytes);
    }

    /// <summary>
    /// Resolves <paramref name="path"/> inside the namespace <paramref name="ns"/> names and returns the capability
    /// bound there, which must carry <paramref name="required"/>. Walking through a namespace needs
    /// <see cref="Rights.Read"/> on it.
    /// </summary>
    internal Result<CapabilityToken> Lookup(CapabilityToken ns, string path, Rights required = Rights.None, Principal actor = default)
    {
        var r = LookupCore(ns, path, required, actor);
        // Names that don't resolve (or can't be spelled) are refusals too: audit them like capability denials.
        if (!r.IsOk && r.Code is ErrorCode.NotFound or ErrorCode.InvalidName or ErrorCode.NotADirectory)
            _caps.RecordDenied(actor, ns, required, new KernelError(r.Code, $"lookup '{Truncate(path)}': {r.Error.Message}"));
        return r;
    }

    private static string Truncate(string? s) => s is null ? "" : s.Length <= 128 ? s : s[..128] + "…";

    private Result<CapabilityToken> LookupCore(CapabilityToken ns, string path, Rights required, Principal actor)
    {
        var parts = NamespacePath.Split(path);
        if (!parts.IsOk) return parts.Error;
        var start = _caps.Check<Namespace>(ns, Rights.Read, actor);
        if (!start.IsOk) return start.Error;
        if (parts.Value.Length == 0)
        {
            var self = _caps.Check(ns, required, actor);
            return self.IsOk ? ns : self.Error;
        }
        int budget = MaxAliasExpansionsPerLookup;
        var startInfo = _caps.Inspect(ns);
        var mask = startInfo.IsOk ? startInfo.Value.Rights : Rights.None;
        var found = Resolve(start.Value, parts.Value, 0, ref budget, ref mask, actor);
        if (!found.IsOk) return found.Error;
        // A namespace reached by walking is no more powerful than the capabilities walked through: a read-only view
        // of /tenant-a must not hand out Bind or Manage on /tenant-a/svc just because the parent binds it with All.
        // (Inspect, not Check: finding a file or a port is not a refused access to a namespace, and must not be
        // recorded as one.)
        if (_caps.Inspect(found.Value) is { IsOk: true, Value.Object: Namespace } && (required & ~mask) != 0)
            return _caps.RecordDenied(actor, found.Value, required, new KernelError(ErrorCode.AccessDenied,
                $"'{Truncate(path)}' was reached through capabilities without {(required & ~mask).ToShortString()}"));
        var check = _caps.Check(found.Value, required, actor);
        return check.IsOk ? found.Value : check.Error;
    }

    /// <summary>Lists a namespace's bindings (needs <see cref="Rights.Enumerate"/> on it).</summary>
    internal Result<IReadOnlyList<NamespaceEntry>> List(CapabilityToken ns, string path = "/", Principal actor = default)
    {
        var target = Lookup(ns, path, Rights.Enumerate, actor);
        if (!target.IsOk) return target.Error;
        var space = _caps.Check<Namespace>(target.Value, Rights.Enumerate, actor);
        if (!space.IsOk) return space.Error;
        NamespaceBinding[] bindings;
        lock (space.Value.Bindings) bindings = space.Value.Bindings.Values.ToArray();
        var rows = new List<NamespaceEntry>(bindings.Length);
        foreach (var b in bindings.OrderBy(b => b.Name, StringComparer.Ordinal))
        {
            if (b.IsAlias) { rows.Add(new NamespaceEntry(b.Name, ObjectKind.Generic, Rights.None, b.AliasTarget, true)); continue; }
            var info = _caps.Inspect(b.Token);
            rows.Add(info.IsOk
                ? new NamespaceEntry(b.Name, info.Value.Object.Kind, info.Value.Rights, null, true)
                : new NamespaceEntry(b.Name, ObjectKind.Generic, Rights.None, null, false));
        }
        return rows;
    }

    /// <summary>Destroys a namespace: revokes every capability to it (needs <see cref="Rights.Manage"/>) and every
    /// capability bound inside it, recursively for child namespaces.</summary>
    internal Result Destroy(CapabilityToken ns, Principal actor = default)
    {
        var n = _caps.Check<Namespace>(ns, Rights.Manage, actor);
        if (!n.IsOk) return n.Error;
        if (ReferenceEquals(n.Value, Root)) return Result.Fail(ErrorCode.AccessDenied, "the root namespace cannot be destroyed");
        DestroyContents(n.Value, actor);
        // Revoke the root of the namespace's derivation tree, so every capability to it dies.
        _caps.RevokeFromRoot(ns, actor);
        return Result.Ok;
    }

    /// <summary>The namespace tree as indented lines, for `photon ns tree`.</summary>
    public IReadOnlyList<(int Depth, string Name, NamespaceEntry Entry)> Tree()
    {
        var rows = new List<(int, string, NamespaceEntry)>();
        Walk(Root, 0);
        return rows;

        void Walk(Namespace space, int depth)
        {
            NamespaceBinding[] bindings;
            lock (space.Bindings) bindings = space.Bindings.Values.OrderBy(b => b.Name, StringComparer.Ordinal).ToArray();
            foreach (var b in bindings)
            {
                if (b.IsAlias) { rows.Add((depth, b.Name, new NamespaceEntry(b.Name, ObjectKind.Generic, Rights.None, b.AliasTarget, true))); continue; }
                var info = _caps.Inspect(b.Token);
                if (!info.IsOk) { rows.Add((depth, b.Name, new NamespaceEntry(b.Name, ObjectKind.Generic, Rights.None, null, false))); continue; }
                rows.Add((depth, b.Name, new NamespaceEntry(b.Name, info.Value.Object.Kind, info.Value.Rights, null, true)));
                if (info.Value.Object is Namespace child && ReferenceEquals(child.Parent, space) && depth < NamespacePath.MaxDepth)
                    Walk(child, depth + 1);
            }
        }
    }

    private Result<CapabilityToken> Resolve(Namespace space, string[] parts, int aliasHops, ref int budget, ref Rights mask, Principal actor)
    {
        for (int i = 0; i < parts.Length; i++)
        {
            if (space.IsClosed) return Errors.Of(ErrorCode.Closed, $"{space.Path} is destroyed");
            NamespaceBinding? b;
            lock (space.Bindings) space.Bindings.TryGetValue(parts[i], out b);
            if (b is null) return Errors.Of(ErrorCode.NotFound, $"'{parts[i]}' is not bound in {space.Path}");
            CapabilityToken token;
            if (b.IsAlias)
            {
                if (aliasHops >= MaxAliasHops) return Errors.Of(ErrorCode.InvalidName, $"too many alias hops resolving '{parts[i]}' (alias loop?)");
                if (--budget < 0) return Errors.Of(ErrorCode.InvalidName, $"lookup expands more than {MaxAliasExpansionsPerLookup} aliases");
                // Aliases resolve from the namespace that holds them: they can only name what it can.
                var r = Resolve(space, NamespacePath.Split(b.AliasTarget).Value, aliasHops + 1, ref budget, ref mask, actor);
                if (!r.IsOk) return r;
                token = r.Value;
            }
            else token = b.Token;
            if (i == parts.Length - 1) return token;
            var through = _caps.Inspect(token);
            mask &= through.IsOk ? through.Value.Rights : Rights.None;
            var next = _caps.Check<Namespace>(token, Rights.Read, actor);
            if (!next.IsOk)
                return next.Code == ErrorCode.WrongObjectType ? Errors.Of(ErrorCode.NotADirectory, $"'{parts[i]}' is not a namespace") : next.Error;
            space = next.Value;
        }
        return Errors.Of(ErrorCode.NotFound, "empty path");
    }

    private static KernelError? CheckInsert(Namespace space, string name)
    {
        if (space.IsClosed) return new KernelError(ErrorCode.Closed, $"{space.Path} is destroyed");
        if (space.Bindings.ContainsKey(name)) return new KernelError(ErrorCode.AlreadyExists, $"'{name}' already exists in {space.Path}");
        if (space.Bindings.Count >= MaxBindingsPerNamespace) return new KernelError(ErrorCode.QuotaExceeded, $"{space.Path} is full");
        return null;
    }

    /// <summary>Closes <paramref name="top"/> and every namespace created below it, revoking what they bind. An explicit
    /// stack, not recursion: how deep a tenant nests must never decide whether the kernel's stack holds.</summary>
    private void DestroyContents(Namespace top, Principal actor)
    {
        // Each frame: a closed namespace's bindings and how far through them; a child's contents go before its binding
        // is revoked (as the recursive walk did).
        var stack = new Stack<(Namespace Space, NamespaceBinding[] Bindings, int Next)>();
        if (Close(top) is { } first) stack.Push((top, first, 0));
        while (stack.Count > 0)
        {
            var (space, bindings, next) = stack.Pop();
            bool emptied = next < 0; // ~index: the child bound at index has been emptied, now revoke its binding
            int at = emptied ? ~next : next;
            if (at == bindings.Length) continue;
            var b = bindings[at];
            if (b.IsAlias)
            {
                Refund(b.ChargedTo, b.ChargedBytes);
                stack.Push((space, bindings, at + 1));
                continue;
            }
            if (!emptied && _caps.Inspect(b.Token) is { IsOk: true, Value.Object: Namespace child } && ReferenceEquals(child.Parent, space)
                && Close(child) is { } inner)
            {
                stack.Push((space, bindings, ~at));
                stack.Push((child, inner, 0));
                continue;
            }
            _caps.Revoke(b.Token, actor);
            stack.Push((space, bindings, at + 1));
        }
    }

    /// <summary>Marks a namespace destroyed and takes its bindings; null if it already was.</summary>
    private static NamespaceBinding[]? Close(Namespace space)
    {
        lock (space.Bindings)
        {
            if (space.IsClosed) return null;
            space.IsClosed = true;
            var bindings = space.Bindings.Values.ToArray();
            space.Bindings.Clear();
            return bindings;
        }
    }
}
