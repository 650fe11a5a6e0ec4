using System.Text.RegularExpressions;

namespace Photon.Net.Tests;

/// <summary>Reads iputils ping's summary. With a deadline (<c>-w</c>) ping sends until <c>-c</c> requests are answered,
/// so it may send more than that when replies lag: "every request answered, at least N" is the check, not "N received".</summary>
public static partial class PingOutput
{
    [GeneratedRegex(@"(\d+) packets transmitted, (\d+) received")]
    private static partial Regex Summary();

    /// <summary>(transmitted, received), or (-1, -1) when the output has no summary line.</summary>
    public static (int Transmitted, int Received) Counts(string output)
    {
        var m = Summary().Match(output);
        return m.Success ? (int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value)) : (-1, -1);
    }

    /// <summary>Asserts that ping got an answer to every request it sent, and at least <paramref name="atLeast"/>.</summary>
    public static void AssertAllAnswered(string output, int atLeast)
    {
        var (sent, received) = Counts(output);
        Assert.True(received >= atLeast && received == sent, $"expected every echo answered (at least {atLeast}): {output}");
    }
}
