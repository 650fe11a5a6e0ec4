using Photon.Kernel;
using Photon.Kernel.Capabilities;

namespace Photon.Cli.Shell;

/// <summary>audit tail, quota: the recent audit events and the tenant quotas in the shell's namespace subtree.</summary>
public static class AuditCommands
{
    public static readonly IReadOnlyList<ShellCommand> All =
    [
        new("audit", "audit tail [N]", "The last N (default 20) capability audit events in the shell's namespace.", Audit),
        new("quota", "quota", "Memory, task and capability use against the limits of the tenant(s) the shell can see.", Quota),
    ];

    private static Task<Result> Audit(ShellSession s, string[] args)
    {
        int count = 20;
        if (args is not (["tail"] or ["tail", _]) || (args.Length == 2 && !int.TryParse(args[1], out count)))
            return Task.FromResult(ShellCommands.Usage("audit"));
        var events = s.Sys.Introspection.AuditTail(s.Self, count);
        if (!events.IsOk) return Task.FromResult(Result.Fail(events.Error));
        foreach (var e in events.Value)
            s.Out.WriteLine($"{e.Time:HH:mm:ss.fff} {e.Action,-8} {e.Subject,-20} {e.Namespace,-16} {e.ObjectKind}({e.ObjectLabel}) " +
                $"{e.Rights.ToShortString()}{(e.Error == ErrorCode.None ? "" : $" {e.Error}")}{(e.Detail.Length == 0 ? "" : $" — {e.Detail}")}");
        return Task.FromResult(Result.Ok);
    }

    private static Task<Result> Quota(ShellSession s, string[] args)
    {
        if (args.Length != 0) return Task.FromResult(ShellCommands.Usage("quota"));
        var q = s.Sys.Introspection.Quotas(s.Self);
        if (!q.IsOk) return Task.FromResult(Result.Fail(q.Error));
        s.Out.WriteLine($"{"TENANT",-16} {"MEMORY",24} {"TASKS",14} {"CAPABILITIES",18}");
        foreach (var (use, limits) in q.Value.Select(x => (x.Usage, x.Limits)))
            s.Out.WriteLine($"{use.Tenant,-16} {Of(use.MemoryBytes, limits.MemoryBytes),24} {Of(use.Tasks, limits.Tasks),14} {Of(use.Capabilities, limits.Capabilities),18}");
        return Task.FromResult(Result.Ok);
    }

    private static string Of(long used, long? limit) => limit is { } l ? $"{used}/{l}" : $"{used}/-";
}
