using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;
using Photon.Kernel.FileSystems;
using Spectre.Console;

namespace Photon.Cli.Commands;

/// <summary>How `photon fs ls` prints: a table for people, one line per entry or JSON for scripts.</summary>
public enum FsListFormat { Table, Plain, Json }

/// <summary>
/// Writes the entries `photon fs ls` found. The table is for a terminal; when stdout is redirected the default is
/// <see cref="FsListFormat.Plain"/>, as ls(1) does, because a table wraps long names at the console width and breaks scripts.
/// </summary>
public static class FsListing
{
    /// <summary>An explicit --plain/--json wins; otherwise plain when stdout is not a terminal.</summary>
    public static FsListFormat Choose(bool plain, bool json, bool outputRedirected) =>
        json ? FsListFormat.Json : plain || outputRedirected ? FsListFormat.Plain : FsListFormat.Table;

    public static string TypeName(FileKind kind) => kind.ToString().ToLowerInvariant();

    public static void Write(FsListFormat format, IReadOnlyList<DirectoryEntry> entries)
    {
        switch (format)
        {
            case FsListFormat.Table: WriteTable(entries); break;
            case FsListFormat.Plain: WriteBytes(Encoding.UTF8.GetBytes(Plain(entries))); break;
            default: WriteBytes(Json(entries)); break;
        }
    }

    /// <summary>
    /// One line per entry: name TAB type TAB size-in-bytes. Sizes have no digit separators. A name holding a tab, a
    /// newline, another control character or a backslash is escaped (\t, \n, \xHH, \\) so every entry stays one line.
    /// </summary>
    public static string Plain(IReadOnlyList<DirectoryEntry> entries)
    {
        var sb = new StringBuilder();
        foreach (var e in entries) sb.Append(EscapeName(e.Name)).Append('\t').Append(TypeName(e.Kind)).Append('\t').Append(e.Length).Append('\n');
        return sb.ToString();
    }

    public static string EscapeName(string name)
    {
        if (!name.Any(c => c == '\\' || char.IsControl(c))) return name;
        var sb = new StringBuilder(name.Length + 8);
        foreach (char c in name)
        {
            switch (c)
            {
                case '\\': sb.Append(@"\\"); break;
                case '\t': sb.Append(@"\t"); break;
                case '\n': sb.Append(@"\n"); break;
                case var _ when char.IsControl(c): sb.Append(@"\x").Append(((int)c).ToString("x2")); break;
                default: sb.Append(c); break;
            }
        }
        return sb.ToString();
    }

    // Non-ASCII letters are written as themselves (readable UTF-8); quotes, controls and HTML-sensitive characters are escaped.
    private static readonly JsonWriterOptions JsonOptions = new() { Indented = false, Encoder = JavaScriptEncoder.Create(UnicodeRanges.All) };

    /// <summary>A JSON array of {"name", "type", "size"} objects, one line, UTF-8, with a trailing newline.</summary>
    public static byte[] Json(IReadOnlyList<DirectoryEntry> entries)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, JsonOptions))
        {
            json.WriteStartArray();
            foreach (var e in entries)
            {
                json.WriteStartObject();
                json.WriteString("name", e.Name);
                json.WriteString("type", TypeName(e.Kind));
                json.WriteNumber("size", e.Length);
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    private static void WriteBytes(byte[] bytes)
    {
        using var stdout = Console.OpenStandardOutput();
        stdout.Write(bytes);
    }

    private static void WriteTable(IReadOnlyList<DirectoryEntry> entries)
    {
        var table = new Table().Border(TableBorder.Simple).AddColumn("name").AddColumn("type").AddColumn(new TableColumn("size").RightAligned());
        foreach (var e in entries)
        {
            var name = e.Kind == FileKind.Directory ? $"[blue]{Markup.Escape(e.Name)}/[/]" : Markup.Escape(e.Name);
            table.AddRow(name, TypeName(e.Kind), e.Kind == FileKind.Directory ? "" : e.Length.ToString("N0"));
        }
        AnsiConsole.Write(table);
    }
}
