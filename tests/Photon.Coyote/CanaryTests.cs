using Microsoft.Coyote.SystematicTesting;
using Microsoft.Coyote.Specifications;

namespace Photon.Coyote;

/// <summary>
/// A deliberately racy counter (read, yield, write): Coyote must find the lost update. tests/coyote.sh runs it and
/// requires the bug to be found, so a silently non-exploring setup (e.g. a rewriting step that did nothing) fails CI.
/// </summary>
public static class CanaryTests
{
    [Test]
    public static async Task Canary_LostUpdate_IsFound()
    {
        int counter = 0;
        async Task Increment()
        {
            int seen = counter;
            await Task.Yield();
            counter = seen + 1;
        }
        var a = Task.Run(Increment);
        var b = Task.Run(Increment);
        await a; await b;
        Specification.Assert(counter == 2, $"lost update: counter is {counter}");
    }
}
