using Photon.Kernel.Audit;
using Photon.Kernel.Hal.Host;
using Spectre.Console;

namespace Photon.Cli.Commands;

/// <summary>`photon audit verify &lt;log&gt; [--key FILE] [--anchor FILE]` and `photon audit query &lt;log&gt; [filters]`.</summary>
public static class AuditCommand
{
    public const string Usage = "photon audit verify <log> [--key FILE] [--anchor FILE] | photon audit query <log> [--namespace /tenant-a] [--since <ISO time>] [--action Revoke] [--subject name]";

    /// <summary>Exit codes of <c>verify</c>.</summary>
    public const int Intact = 0, Damaged = 1, BadUsage = 2, UnauthenticatedIntact = 3;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length < 2 || args[0] is not ("verify" or "query"))
        {
            AnsiConsole.MarkupLine($"usage: {Markup.Escape(Usage)}");
            return BadUsage;
        }
        if (args[0] == "verify") return await VerifyAsync(args[1], args[2..]);
        var opened = HostAppendLog.OpenExisting(args[1]);
        if (!opened.IsOk)
        {
            AnsiConsole.MarkupLine($"[red]{Markup.Escape(opened.Error.ToString())}[/]");
            return 1;
        }
        await using var storage = opened.Value;

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

    /// <summary>
    /// 0: the chain, head (and anchor) verify under the key — nobody without the key rewrote it, and with the anchor it
    /// was not rolled back. 3: no key given and no damage found — this only rules out accidental damage, since anyone
    /// who can write the file can recompute a SHA-256 chain. 1: damaged, forged, rolled back, wrong key, or unreadable.
    /// 2: bad usage.
    /// </summary>
    private static async Task<int> VerifyAsync(string log, string[] options)
    {
        string? keyPath = null, anchorPath = null;
        for (int i = 0; i < options.Length; i++)
        {
            switch (options[i])
            {
                case "--key" when i + 1 < options.Length: keyPath = options[++i]; break;
                case "--anchor" when i + 1 < options.Length: anchorPath = options[++i]; break;
                default:
                    AnsiConsole.MarkupLine($"[red]unknown or incomplete option[/] {Markup.Escape(options[i])}");
                    return BadUsage;
            }
        }
        byte[]? key = null;
        if (keyPath is not null)
        {
            var loaded = HostKeyFile.Load(keyPath);
            if (!loaded.IsOk)
            {
                AnsiConsole.MarkupLine($"[red]cannot use the key:[/] {Markup.Escape(loaded.Error.ToString())}");
                return Damaged;
            }
            key = loaded.Value;
        }
        var opened = HostAppendLog.OpenExisting(log);
        if (!opened.IsOk)
        {
            AnsiConsole.MarkupLine($"[red]{Markup.Escape(opened.Error.ToString())}[/]");
            return Damaged;
        }
        await using var storage = opened.Value;
        var report = await AuditLogVerifier.VerifyAsync(storage, key, anchorPath is null ? null : new HostAtomicFile(anchorPath));
        if (!report.IsIntact)
        {
            AnsiConsole.MarkupLine($"[red]{report.Problem}[/] at record {report.FirstBadRecord}: {Markup.Escape(report.Detail)}" +
                (key is null && report.Problem == AuditProblem.Edited ? " (if the log is keyed, as boot's logs are, pass --key FILE)" : ""));
            return Damaged;
        }
        var anchored = anchorPath is null
            ? "; no --anchor: a rollback to an older copy of the log is not detected"
            : ", not rolled back behind the anchor";
        if (key is null)
        {
            AnsiConsole.MarkupLine($"[yellow]no damage found, NOT authenticated[/]: {report.Records} records. Without --key this is a plain " +
                "SHA-256 chain, which only detects accidental damage: anyone who can write the file can edit it and recompute the chain." +
                (File.Exists(log + ".key") ? $" A key file exists: --key {Markup.Escape(log)}.key" : ""));
            return UnauthenticatedIntact;
        }
        AnsiConsole.MarkupLine($"[green]intact[/]: {report.Records} records, HMAC chain and head verify under the key{Markup.Escape(anchored)}");
        return Intact;
    }
}
