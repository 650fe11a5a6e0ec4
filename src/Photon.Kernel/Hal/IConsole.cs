namespace Photon.Kernel.Hal;

/// <summary>The platform's console: where the kernel log and CLI reports go.</summary>
public interface IConsole
{
    void Write(string text);
    void WriteLine(string text);
}
