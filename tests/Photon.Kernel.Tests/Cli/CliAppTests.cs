using Photon.Cli;

namespace Photon.Kernel.Tests.Cli;

public class CliAppTests
{
    [Fact]
    public async Task Help_and_bad_usage_give_documented_exit_codes_without_crashing()
    {
        Assert.Equal(0, await CliApp.RunAsync(["--help"]));
        Assert.Equal(0, await CliApp.RunAsync(["boot", "--help"]));
        Assert.Equal(2, await CliApp.RunAsync(["no-such-command"]));
        Assert.Equal(2, await CliApp.RunAsync(["caps"]));
        Assert.Equal(2, await CliApp.RunAsync(["caps", "not-a-pid"]));
        Assert.Equal(2, await CliApp.RunAsync(["ns", "forest"]));
    }

    [Fact]
    public async Task State_commands_show_the_demo_state()
    {
        Assert.Equal(0, await CliApp.RunAsync(["ps"]));
        Assert.Equal(0, await CliApp.RunAsync(["ns", "tree"]));
        Assert.Equal(0, await CliApp.RunAsync(["caps", "2"]));
        Assert.Equal(1, await CliApp.RunAsync(["caps", "999"]));
    }
}
