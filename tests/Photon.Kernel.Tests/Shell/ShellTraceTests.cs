using Photon.Kernel.Tests.Diagnostics;

namespace Photon.Kernel.Tests.Shell;

/// <summary>trace start|stop from the shell. The trace session is kernel-wide (one at a time), so these run in the
/// trace collection, never alongside other tests that start one.</summary>
[Collection(KernelTraceCollection.Name)]
public sealed class ShellTraceTests
{
    [Fact]
    public async Task The_root_shell_records_a_trace_and_writes_chrome_json_a_tenant_shell_cannot()
    {
        await using var k = await ShellKernel.BootAsync();
        var admin = k.Open("/");
        var tenant = k.Open("/tenant-a");
        var file = Path.Combine(Path.GetTempPath(), $"photon-shell-trace-{Guid.NewGuid():N}.json");
        try
        {
            Assert.Equal(ErrorCode.InvalidArgument, await admin.Fails("trace start 1")); // below the smallest ring
            await admin.Ok("trace start");
            Assert.Equal(ErrorCode.Busy, await admin.Fails("trace start")); // one session at a time
            Assert.Equal(ErrorCode.AccessDenied, await tenant.Fails("trace stop " + file));
            await tenant.Ok("ls /");
            Assert.Contains("events", await admin.Ok("trace stop " + file));
            using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
            Assert.True(json.RootElement.GetProperty("traceEvents").GetArrayLength() > 0);
            Assert.Equal(ErrorCode.NotFound, await admin.Fails("trace stop " + file)); // nothing records now
        }
        finally
        {
            File.Delete(file);
        }
    }
}
