using Photon.Cli.Demo;
using Photon.Cli.Shell;
using Photon.Kernel.Boot;
using Photon.Kernel.Tests.Boot;

namespace Photon.Kernel.Tests.Shell;

/// <summary>The demo system (tenants, both disk images mounted, sandbox) booted for shell tests, with shells on it.</summary>
public sealed class ShellKernel : IAsyncDisposable
{
    private readonly DemoImages _images;
    public PhotonKernel Kernel { get; }

    private ShellKernel(DemoImages images, PhotonKernel kernel) { _images = images; Kernel = kernel; }

    public static async Task<ShellKernel> BootAsync()
    {
        var images = DemoImages.Unpack();
        var booted = await PhotonKernel.BootAsync(DemoSystem.Config(TestKernel.Platform, images) with { EchoLog = false });
        Assert.True(booted.IsOk, booted.IsOk ? "" : booted.Error.ToString());
        return new ShellKernel(images, booted.Value);
    }

    /// <summary>A shell in <paramref name="ns"/> writing into its own buffer.</summary>
    public Session Open(string ns = "/")
    {
        var output = new StringWriter();
        var s = ShellSession.Start(Kernel, ns, output);
        Assert.True(s.IsOk, s.IsOk ? "" : s.Error.ToString());
        return new Session(s.Value, output);
    }

    public sealed class Session(ShellSession shell, StringWriter output)
    {
        public ShellSession Shell { get; } = shell;

        /// <summary>Runs one command; returns its result and what it printed.</summary>
        public async Task<(Result Result, string Output)> Run(string line)
        {
            output.GetStringBuilder().Clear();
            var words = ShellCommandLine.Parse(line).Value.Single();
            var r = await ShellCommands.ExecuteAsync(Shell, words);
            return (r, output.ToString());
        }

        public async Task<string> Ok(string line)
        {
            var (r, text) = await Run(line);
            Assert.True(r.IsOk, $"{line}: {r}\n{text}");
            return text;
        }

        public async Task<ErrorCode> Fails(string line)
        {
            var (r, _) = await Run(line);
            Assert.False(r.IsOk, $"{line} should have failed");
            return r.Code;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Kernel.DisposeAsync();
        _images.Dispose();
    }
}
