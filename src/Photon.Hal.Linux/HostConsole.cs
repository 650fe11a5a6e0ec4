namespace Photon.Kernel.Hal.Host;

/// <summary>Host backend of <see cref="IConsole"/>: standard output.</summary>
public sealed class HostConsole : IConsole
{
    public void Write(string text) => Console.Out.Write(text);
    public void WriteLine(string text) => Console.Out.WriteLine(text);
}
