using System.Globalization;
using System.Text;

namespace Photon.Bench;

/// <summary>One scale curve: Photon's figure and its baseline at each point (x: size or concurrency).</summary>
public sealed record ScaleCurve(string Title, string XLabel, string YLabel, bool LogX, string PhotonName, string BaselineName)
{
    public List<(double X, double Photon, double Baseline)> Points { get; } = [];
}

/// <summary>
/// Writes the scale curves as one SVG image (one panel per curve, Photon solid, baseline dashed), so the README can
/// show the run's curves without a plotting dependency. Plain text: diffable, and any browser renders it.
/// </summary>
public static class ScalePlot
{
    private const int PanelWidth = 360, PanelHeight = 260, Left = 64, Right = 16, Top = 40, Bottom = 64;
    private const string PhotonColor = "#1f6feb", BaselineColor = "#d1242f";

    public static string Render(IReadOnlyList<ScaleCurve> curves, string caption)
    {
        var inv = CultureInfo.InvariantCulture;
        int width = Math.Max(1, curves.Count) * PanelWidth;
        int height = PanelHeight + 28;
        var svg = new StringBuilder();
        svg.Append(inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">\n");
        svg.Append(inv, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");
        for (int i = 0; i < curves.Count; i++) Panel(svg, curves[i], i * PanelWidth);
        svg.Append(inv, $"<text x=\"8\" y=\"{height - 8}\" fill=\"#555\">{Escape(caption)}</text>\n");
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    /// <summary>Writes the plot to <c>docs/scale-curves.svg</c> of the repository the bench runs from (found by walking up
    /// to Photon.sln); returns the path, or null when not run inside the repository.</summary>
    public static string? WriteToDocs(IReadOnlyList<ScaleCurve> curves, string caption)
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "Photon.sln"))) continue;
            var path = Path.Combine(dir.FullName, "docs", "scale-curves.svg");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, Render(curves, caption));
            return path;
        }
        return null;
    }

    private static void Panel(StringBuilder svg, ScaleCurve curve, int x0)
    {
        var inv = CultureInfo.InvariantCulture;
        double plotW = PanelWidth - Left - Right, plotH = PanelHeight - Top - Bottom;
        var pts = curve.Points.Where(p => double.IsFinite(p.Photon) && double.IsFinite(p.Baseline) && p.X > 0).ToList();
        svg.Append(inv, $"<text x=\"{x0 + PanelWidth / 2}\" y=\"18\" text-anchor=\"middle\" font-weight=\"bold\">{Escape(curve.Title)}</text>\n");
        if (pts.Count == 0) return;
        double Fx(double x) => curve.LogX ? Math.Log10(x) : x;
        double xMin = pts.Min(p => Fx(p.X)), xMax = pts.Max(p => Fx(p.X));
        if (xMax - xMin < 1e-9) { xMin -= 0.5; xMax += 0.5; }
        double yMax = NiceCeiling(pts.Max(p => Math.Max(p.Photon, p.Baseline)) * 1.05);
        double Px(double x) => x0 + Left + (Fx(x) - xMin) / (xMax - xMin) * plotW;
        double Py(double y) => Top + plotH - y / yMax * plotH;

        // Axes, horizontal grid lines with y labels, and x ticks at each measured point.
        svg.Append(inv, $"<line x1=\"{x0 + Left}\" y1=\"{Top + plotH}\" x2=\"{x0 + Left + plotW}\" y2=\"{Top + plotH}\" stroke=\"black\"/>\n");
        svg.Append(inv, $"<line x1=\"{x0 + Left}\" y1=\"{Top}\" x2=\"{x0 + Left}\" y2=\"{Top + plotH}\" stroke=\"black\"/>\n");
        for (int g = 0; g <= 4; g++)
        {
            double y = yMax * g / 4;
            svg.Append(inv, $"<line x1=\"{x0 + Left}\" y1=\"{Py(y):F1}\" x2=\"{x0 + Left + plotW}\" y2=\"{Py(y):F1}\" stroke=\"#ddd\"/>\n");
            svg.Append(inv, $"<text x=\"{x0 + Left - 4}\" y=\"{Py(y) + 4:F1}\" text-anchor=\"end\">{Short(y)}</text>\n");
        }
        foreach (var p in pts)
            svg.Append(inv, $"<text x=\"{Px(p.X):F1}\" y=\"{Top + plotH + 14}\" text-anchor=\"middle\">{Short(p.X)}</text>\n");
        svg.Append(inv, $"<text x=\"{x0 + Left + plotW / 2}\" y=\"{Top + plotH + 30}\" text-anchor=\"middle\">{Escape(curve.XLabel)}{(curve.LogX ? " (log scale)" : "")}</text>\n");
        svg.Append(inv, $"<text transform=\"translate({x0 + 14},{Top + plotH / 2}) rotate(-90)\" text-anchor=\"middle\">{Escape(curve.YLabel)}</text>\n");

        Series(svg, pts.Select(p => (Px(p.X), Py(p.Baseline))), BaselineColor, dashed: true);
        Series(svg, pts.Select(p => (Px(p.X), Py(p.Photon))), PhotonColor, dashed: false);

        // Legend under the x label.
        double ly = Top + plotH + 46;
        svg.Append(inv, $"<line x1=\"{x0 + Left}\" y1=\"{ly - 4}\" x2=\"{x0 + Left + 18}\" y2=\"{ly - 4}\" stroke=\"{PhotonColor}\" stroke-width=\"2\"/>\n");
        svg.Append(inv, $"<text x=\"{x0 + Left + 22}\" y=\"{ly}\">{Escape(curve.PhotonName)}</text>\n");
        svg.Append(inv, $"<line x1=\"{x0 + Left}\" y1=\"{ly + 10}\" x2=\"{x0 + Left + 18}\" y2=\"{ly + 10}\" stroke=\"{BaselineColor}\" stroke-width=\"2\" stroke-dasharray=\"4 3\"/>\n");
        svg.Append(inv, $"<text x=\"{x0 + Left + 22}\" y=\"{ly + 14}\">{Escape(curve.BaselineName)}</text>\n");
    }

    private static void Series(StringBuilder svg, IEnumerable<(double X, double Y)> points, string color, bool dashed)
    {
        var inv = CultureInfo.InvariantCulture;
        var list = points.ToList();
        var path = string.Join(" ", list.Select(p => string.Format(inv, "{0:F1},{1:F1}", p.X, p.Y)));
        svg.Append(inv, $"<polyline points=\"{path}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{(dashed ? " stroke-dasharray=\"4 3\"" : "")}/>\n");
        foreach (var (x, y) in list) svg.Append(inv, $"<circle cx=\"{x:F1}\" cy=\"{y:F1}\" r=\"3\" fill=\"{color}\"/>\n");
    }

    /// <summary>1, 2 or 5 times a power of ten at or above <paramref name="v"/>, so grid labels are round.</summary>
    private static double NiceCeiling(double v)
    {
        if (!(v > 0)) return 1;
        double pow = Math.Pow(10, Math.Floor(Math.Log10(v)));
        foreach (double m in new[] { 1.0, 2.0, 5.0, 10.0 })
            if (m * pow >= v) return m * pow;
        return 10 * pow;
    }

    private static string Short(double v) => v switch
    {
        >= 1e6 => (v / 1e6).ToString("0.#", CultureInfo.InvariantCulture) + "M",
        >= 1e3 => (v / 1e3).ToString("0.#", CultureInfo.InvariantCulture) + "k",
        _ => v.ToString("0.##", CultureInfo.InvariantCulture),
    };

    private static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
