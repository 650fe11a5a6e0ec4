namespace Photon.Fuzz;

/// <summary>
/// One kind of hostile input. <see cref="Run"/> feeds it to the real Photon code and returns normally when Photon
/// handled it as it must (success or a typed error); it throws — a crash for AFL — when Photon threw, or answered
/// with an error that means a bug (an "internal" failure, an access outside the device).
/// </summary>
public interface IFuzzTarget
{
    string Name { get; }

    void Run(byte[] input);
}

/// <summary>What a target throws when Photon's answer itself is the bug.</summary>
public sealed class FuzzFinding(string message) : Exception(message);
