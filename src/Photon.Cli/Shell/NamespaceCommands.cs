using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;

namespace Photon.Cli.Shell;

/// <summary>
/// ns tree | bind | unbind: the shell's view of its namespace. A bind opens the target through the shell's own
/// namespace (so it can only bind what it can reach, with at most the rights it holds there) and needs Bind on the
/// namespace it binds into.
/// </summary>
public static class NamespaceCommands
{
    /// <summary>Deepest level <c>ns tree</c> descends, and most names it prints (a huge namespace is cut, not walked whole).</summary>
    public const int MaxTreeDepth = 8, MaxTreeEntries = 10_000;

    public static readonly IReadOnlyList<ShellCommand> All =
    [
        new("ns", "ns tree [PATH] | ns bind NAME TARGET [RIGHTS] | ns unbind NAME",
            "Show the namespace tree; bind TARGET (a name you can reach) under NAME with at most RIGHTS (default ro); remove a binding.", Ns),
    ];

    private static Task<Result> Ns(ShellSession s, string[] args) => Task.FromResult(args switch
    {
        ["tree"] => Tree(s, "/"),
        ["tree", var path] => Tree(s, ShellPaths.Absolute(path)),
        ["bind", var name, var target] => Bind(s, name, target, "ro"),
        ["bind", var name, var target, var rights] => Bind(s, name, target, rights),
        ["unbind", var name] => Unbind(s, name),
        _ => ShellCommands.Usage("ns"),
    });

    private static Result Tree(ShellSession s, string path)
    {
        var top = s.Sys.Namespaces.List(s.Self, path);
        if (!top.IsOk) return top.Error;
        s.Out.WriteLine(path);
        int printed = 0;
        return Walk(s, path, top.Value, 1, ref printed);
    }

    private static Result Walk(ShellSession s, string path, IReadOnlyList<NamespaceEntry> entries, int depth, ref int printed)
    {
        foreach (var e in entries.OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            if (++printed > MaxTreeEntries) { s.Out.WriteLine($"… (stopped after {MaxTreeEntries} names)"); return Result.Ok; }
            var indent = new string(' ', depth * 2);
            s.Out.WriteLine(e.AliasTarget is not null ? $"{indent}{e.Name} -> {e.AliasTarget}"
                : $"{indent}{e.Name}  {e.Kind} {(e.IsLive ? e.Rights.ToShortString() : "revoked")}");
            if (e.Kind != ObjectKind.Namespace || !e.IsLive || e.AliasTarget is not null) continue;
            var child = (path == "/" ? "" : path) + "/" + e.Name;
            if (depth >= MaxTreeDepth) { s.Out.WriteLine($"{indent}  …"); continue; }
            // A child the shell may not enumerate is shown with the error, not walked.
            var inner = s.Sys.Namespaces.List(s.Self, child);
            if (!inner.IsOk) { s.Out.WriteLine($"{indent}  ({inner.Code})"); continue; }
            var r = Walk(s, child, inner.Value, depth + 1, ref printed);
            if (!r.IsOk) return r;
        }
        return Result.Ok;
    }

    private static Result Bind(ShellSession s, string name, string target, string rightsText)
    {
        var rights = ShellRights.Parse(rightsText);
        if (!rights.IsOk) return rights.Error;
        var at = ShellPaths.SplitLeaf(name);
        if (!at.IsOk) return at.Error;
        var parent = OpenNamespace(s, at.Value.Parent, Rights.Bind);
        if (!parent.IsOk) return parent.Error;
        try
        {
            // Looked up with Delegate plus the rights the binding is to carry: asking for more than the shell holds fails here.
            var t = s.Sys.Namespaces.Open(s.Self, ShellPaths.Absolute(target), rights.Value | Rights.Delegate);
            if (!t.IsOk) return t.Error;
            // The binding is derived from this handle, so the shell keeps it (closing it would revoke the binding).
            var bound = s.Sys.Namespaces.Bind(s.Self, parent.Value, at.Value.Leaf, t.Value, rights.Value);
            if (!bound.IsOk) s.Sys.Handles.Close(s.Self, t.Value);
            return bound;
        }
        finally { s.Sys.Handles.Close(s.Self, parent.Value); }
    }

    private static Result Unbind(ShellSession s, string name)
    {
        var at = ShellPaths.SplitLeaf(name);
        if (!at.IsOk) return at.Error;
        var parent = OpenNamespace(s, at.Value.Parent, Rights.Bind);
        if (!parent.IsOk) return parent.Error;
        try { return s.Sys.Namespaces.Unbind(s.Self, parent.Value, at.Value.Leaf); }
        finally { s.Sys.Handles.Close(s.Self, parent.Value); }
    }

    /// <summary>A handle to the namespace at <paramref name="path"/> in the shell's namespace ("/" is the shell's own).</summary>
    public static Result<Handle> OpenNamespace(ShellSession s, string path, Rights rights) =>
        s.Sys.Namespaces.Open(s.Self, path == "/" ? "" : path, rights);
}
