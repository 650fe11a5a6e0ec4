using Photon.Cli.Demo;
using Photon.Kernel.Boot;
using Spectre.Console;

namespace Photon.Cli.Commands;

// The namespace Photon.Kernel would shadow the type inside Photon.*: name it explicitly.
using Kernel = Photon.Kernel.Boot.Kernel;

public static class BootCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        bool quiet = args.Contains("--quiet");
        AnsiConsole.MarkupLine("[bold]Photon[/] booting (hosted HAL backend)…");
        var booted = await Kernel.BootAsync(new KernelConfig { EchoLog = !quiet, CaptureSignals = true });
        if (!booted.IsOk)
        {
            AnsiConsole.MarkupLine($"[red]boot failed:[/] {Markup.Escape(booted.Error.ToString())}");
            return 1;
        }
        await using var kernel = booted.Value;
        using var images = DemoImages.Unpack();
        var report = await kernel.RunAsync(() => CoreDemo.RunAsync(kernel), "demo");
        await kernel.RunAsync(() => StorageDemo.RunAsync(kernel, images, report), "storage-demo");
        DemoReport.Render(kernel, report);
        return report.Failures.Count == 0 ? 0 : 1;
    }
}
