using Photon.Kernel.Audit;
using Photon.Kernel.Hal.Host;
using Spectre.Console;

namespace Photon.Cli.Commands;

/// <summary>`photon audit verify &lt;log&gt;` and `photon audit query &lt;log&gt; [filters]`.</summary>
public static class AuditCommand
{
    public const string Usage = "photon audit verify <log> | photon audit query <log> [--namespace /tenant-a] [--since <ISO time>] [--action Revoke] [--subject name]";

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length < 2 || args[0] is not ("verify" or "query"))
        {
            AnsiConsole.MarkupLine($"usage: {Markup.Escape(Usage)}");
            return 2;
        }
        var opened = HostAppendLog.OpenExisting(args[1]);
        if (!opened.IsOk)
        {
            AnsiConsole.MarkupLine($"[red]{Markup.Escape(opened.Error.ToString())}[/]");
            return 1;
        }
        await using var storage = opened.Value;
        if (args[0] == "verify")
        {
            var report = await AuditLogVerifier.VerifyAsync(storage);
            if (report.IsIntact)
            {
                AnsiConsole.MarkupLine($"[green]intact[/]: {report.Records} records, hash chain and head agree{(report.Detail.Length > 0 ? $" ({Markup.Escape(report.Detail)})" : "")}");
                return 0;
            }
            AnsiConsole.MarkupLine($"[red]{report.Problem}[/] at record {report.FirstBadRecord}: {Markup.Escape(report.Detail)}");
            return 1;
        }

        string? ns = null, subject = null;
        DateTimeOffset? since = null;
        AuditAction? action = null;
        for (int i = 2; i < args.Length; i++)
        {
            string? Next() => i + 1 < args.Length ? args[++i] : null;
            switch (args[i])
            {
                case "--namespace": ns = Next(); break;
                case "--subject": subject = Next(); break;
                case "--since":
                    if (!DateTimeOffset.TryParse(Next(), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t))
                    { AnsiConsole.MarkupLine("[red]--since needs an ISO time[/]"); return 2; }
                    since = t;
                    break;
                case "--action":
                    if (!Enum.TryParse<AuditAction>(Next(), ignoreCase: true, out var a))
                    { AnsiConsole.MarkupLine($"[red]--action is one of {string.Join(", ", Enum.GetNames<AuditAction>())}[/]"); return 2; }
                    action = a;
                    break;
                default:
                    AnsiConsole.MarkupLine($"[red]unknown option[/] {Markup.Escape(args[i])}");
                    return 2;
            }
        }
        var records = await AuditLogVerifier.ReadAsync(storage);
        if (!records.IsOk)
        {
            AnsiConsole.MarkupLine($"[red]{Markup.Escape(records.Error.ToString())}[/]");
            return 1;
        }
        var rows = AuditLogVerifier.Query(records.Value, ns, since, action, subject).ToList();
        var table = new Table().AddColumn("#").AddColumn("time").AddColumn("action").AddColumn("subject").AddColumn("namespace")
            .AddColumn("object").AddColumn("rights").AddColumn("error").AddColumn("detail");
        foreach (var r in rows)
            table.AddRow(r.Seq.ToString(), r.Time.ToString("HH:mm:ss.fff"), r.Action.ToString(), Markup.Escape(r.Subject), Markup.Escape(r.Namespace),
                Markup.Escape($"{r.Kind} {r.Label}"), Markup.Escape(r.Rights), r.Error == "None" ? "" : Markup.Escape(r.Error), Markup.Escape(r.Detail));
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"{rows.Count} of {records.Value.Count} records");
        return 0;
    }
}
