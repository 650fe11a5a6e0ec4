using Photon.Cli.Demo;
using Photon.Kernel.Boot;
using Photon.Kernel.Audit;
using Photon.Kernel.Hal.Host;
using Spectre.Console;

namespace Photon.Cli.Commands;

using Photon.Kernel.Boot;

public static class BootCommand
{
    public const string Usage = "photon boot [--quiet] [--audit-log FILE] [--audit-key FILE] [--audit-anchor FILE]";

    public static async Task<int> RunAsync(string[] args)
    {
        bool quiet = args.Contains("--quiet");
        string? Option(string name) { int at = Array.IndexOf(args, name); return at >= 0 && at + 1 < args.Length ? args[at + 1] : null; }
        var auditPath = Option("--audit-log")
            ?? Path.Combine(Path.GetTempPath(), $"photon-audit-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Environment.ProcessId}.log");
        // The key lives outside the log (created 0600 on first boot); the anchor should live where whoever can write the
        // log cannot put an old copy back — beside the log is only the default.
        var keyPath = Option("--audit-key") ?? auditPath + ".key";
        var anchorPath = Option("--audit-anchor") ?? auditPath + ".anchor";
        var key = HostKeyFile.LoadOrCreate(keyPath);
        if (!key.IsOk)
        {
            AnsiConsole.MarkupLine($"[red]cannot use the audit key:[/] {Markup.Escape(key.Error.ToString())}");
            return 1;
        }
        var auditStorage = HostAppendLog.Open(auditPath);
        if (!auditStorage.IsOk)
        {
            AnsiConsole.MarkupLine($"[red]cannot open the audit log:[/] {Markup.Escape(auditStorage.Error.ToString())}");
            return 1;
        }
        var anchor = new HostAtomicFile(anchorPath);
        AnsiConsole.MarkupLine("[bold]Photon[/] booting (hosted HAL backend)…");
        // The whole system — tenants, modules, block devices, mounts, sandbox, network — is described in the config and
        // brought up by the kernel at boot; the demos then only make system calls.
        using var images = DemoImages.Unpack();
        var noNetwork = NetworkDemo.SkipReason();
        var booted = await PhotonKernel.BootAsync(DemoSystem.Config(LinuxPlatform.Create(captureSignals: true), images,
            noNetwork is null ? [NetworkDemo.Component()] : []) with
        {
            EchoLog = !quiet, AuditStorage = auditStorage.Value,
            AuditOptions = new AuditLogOptions { Key = key.Value, Anchor = anchor },
            ModulePins = ShippedModules.Pins, BuiltInModules = ShippedModules.BuiltIns,
        });
        if (!booted.IsOk)
        {
            await auditStorage.Value.DisposeAsync();
            AnsiConsole.MarkupLine($"[red]boot failed:[/] {Markup.Escape(booted.Error.ToString())}");
            return 1;
        }
        await using var kernel = booted.Value;
        var report = await kernel.RunAsync(() => CoreDemo.RunAsync(kernel), "demo");
        await kernel.RunAsync(() => StorageDemo.RunAsync(kernel, images, report), "storage-demo");
        await kernel.RunAsync(() => TenantsDemo.RunAsync(kernel, report), "tenants-demo");
        await kernel.RunAsync(() => NetworkDemo.RunAsync(kernel, report, noNetwork), "network-demo");
        DemoReport.Render(kernel, report);
        await kernel.DisposeAsync(); // stops the components in reverse and commits the audit log
        NetworkDemo.Cleanup();
        await using (var check = HostAppendLog.OpenExisting(auditPath).Value)
        {
            var verdict = await AuditLogVerifier.VerifyAsync(check, key.Value, anchor);
            var denied = (await AuditLogVerifier.ReadAsync(check)) is { IsOk: true } all
                ? AuditLogVerifier.Query(all.Value, ns: "/tenant-b", action: AuditAction.Denied).Count() : 0;
            AnsiConsole.MarkupLine($"audit log: {Markup.Escape(auditPath)} — {(verdict.IsIntact ? "[green]" : "[red]")}{Markup.Escape(verdict.ToString())}[/] (HMAC key and anchor checked), " +
                $"{denied} denied accesses from /tenant-b");
            if (!verdict.IsIntact) report.Failures.Add($"audit log: {verdict}");
        }
        AnsiConsole.MarkupLine($"  verify:  photon audit verify {Markup.Escape(auditPath)} --key {Markup.Escape(keyPath)} --anchor {Markup.Escape(anchorPath)}");
        AnsiConsole.MarkupLine($"  inspect: photon audit query {Markup.Escape(auditPath)} --namespace /tenant-b --action Denied");
        return report.Failures.Count == 0 ? 0 : 1;
    }
}
