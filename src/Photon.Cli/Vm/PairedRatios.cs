using System.Globalization;

namespace Photon.Cli.Vm;

/// <summary>
/// Ratios of Photon to Linux taken pair by pair: each pair is one short Photon slice and one short Linux slice run back
/// to back (their order alternating from pair to pair, ABBA…, so a drift in the host's load favours neither), and the
/// figure is the median of the per-pair ratios with its spread. QEMU's device time under TCG moves with the shared
/// host's load by 10x between minutes; within one pair both sides see (nearly) the same host, so the per-pair ratio is
/// what stays put (issue #17, vm13).
/// </summary>
public sealed class PairedRatios
{
    private readonly List<double> _ratios = [];

    public int Count => _ratios.Count;

    /// <summary>Adds one pair's ratio (ignored when either side had no figure).</summary>
    public void Add(double photon, double linux, bool higherIsBetter = true)
    {
        if (photon <= 0 || linux <= 0 || double.IsNaN(photon) || double.IsNaN(linux)) return;
        _ratios.Add(higherIsBetter ? photon / linux : linux / photon);
    }

    public double Median => Quantile(0.5);

    /// <summary>The <paramref name="q"/>-quantile (linear between order statistics); 0 with no pairs.</summary>
    public double Quantile(double q)
    {
        if (_ratios.Count == 0) return 0;
        var sorted = _ratios.Order().ToList();
        double at = q * (sorted.Count - 1);
        int lo = (int)Math.Floor(at), hi = (int)Math.Ceiling(at);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
    }

    /// <summary>How many pairs reached <paramref name="target"/>.</summary>
    public int AtLeast(double target) => _ratios.Count(r => r >= target);

    /// <summary>"1.23x (IQR 0.95–1.61x, range 0.40–2.10x, 16 pairs, 12 ≥ 1.5x)".</summary>
    public string Describe(double target) => _ratios.Count == 0 ? "no pairs"
        : string.Create(CultureInfo.InvariantCulture,
            $"{Median:F2}x (IQR {Quantile(0.25):F2}–{Quantile(0.75):F2}x, range {_ratios.Min():F2}–{_ratios.Max():F2}x, {Count} pairs, {AtLeast(target)} ≥ {target:0.0#}x)");

    /// <summary>The one-line verdict per target the scripts print last: met when the median of the pairs reaches the
    /// target; "robustly" when the lower quartile does too.</summary>
    public string Verdict(double target) => _ratios.Count == 0 ? "NO DATA"
        : Quantile(0.25) >= target ? "MET (lower quartile too)" : Median >= target ? "MET as a median (not the lower quartile)" : "NOT MET";

    public IReadOnlyList<double> Values => _ratios;
}
