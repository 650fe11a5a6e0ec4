namespace Photon.Cli.LineEditing;

/// <summary>What the line editor needs from a terminal: keys in, text out (a fake in tests, the console otherwise).</summary>
public interface ITerminal
{
    /// <summary>The next key, or null at end of input.</summary>
    ConsoleKeyInfo? ReadKey();
    void Write(string text);
}

/// <summary>The process's console in raw key mode.</summary>
public sealed class ConsoleTerminal : ITerminal
{
    public ConsoleKeyInfo? ReadKey()
    {
        try { return Console.ReadKey(intercept: true); }
        catch (InvalidOperationException) { return null; } // stdin closed or not a terminal
    }

    public void Write(string text) { Console.Out.Write(text); Console.Out.Flush(); }
}
