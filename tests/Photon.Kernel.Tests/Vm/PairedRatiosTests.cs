using Photon.Cli.Vm;

namespace Photon.Kernel.Tests.Vm;

/// <summary>The paired comparison's arithmetic (vm/bench.sh's SUMMARY lines): the median and quartiles of per-pair
/// ratios, latency taken the right way round, pairs where a side had no figure left out, and the verdict.</summary>
public sealed class PairedRatiosTests
{
    [Fact]
    public void The_median_and_quartiles_are_of_the_per_pair_ratios_not_of_the_sides()
    {
        var r = new PairedRatios();
        // Each pair on a very different host: the ratios are 2, 2, 2, 0.5 although the rates moved 1000x.
        r.Add(20, 10);
        r.Add(2_000, 1_000);
        r.Add(20_000, 10_000);
        r.Add(5, 10);
        Assert.Equal(4, r.Count);
        Assert.Equal(2.0, r.Median, 6);
        Assert.Equal(1.625, r.Quantile(0.25), 6);
        Assert.Equal(0.5, r.Quantile(0), 6);
        Assert.Equal(3, r.AtLeast(1.5));
        Assert.StartsWith("MET (lower quartile too)", r.Verdict(1.5));
        Assert.Equal("NOT MET", r.Verdict(2.5));
        Assert.Contains("4 pairs, 3 ≥ 1.5x", r.Describe(1.5));
    }

    [Fact]
    public void Latency_ratios_are_linux_over_photon_and_pairs_without_a_figure_are_left_out()
    {
        var r = new PairedRatios();
        r.Add(photon: 100, linux: 300, higherIsBetter: false); // Photon 3x faster
        r.Add(photon: 0, linux: 300, higherIsBetter: false);   // Photon's slice failed: no pair
        r.Add(photon: 100, linux: double.NaN);
        r.Add(photon: -1, linux: 5);
        Assert.Equal(1, r.Count);
        Assert.Equal(3.0, r.Median, 6);
        Assert.Equal("NO DATA", new PairedRatios().Verdict(1));
        Assert.Equal("no pairs", new PairedRatios().Describe(1));
    }

    [Fact]
    public void A_median_at_the_target_with_a_lower_quartile_below_it_is_met_only_as_a_median()
    {
        var r = new PairedRatios();
        foreach (var x in new[] { 0.2, 1.0, 1.1, 1.2 }) r.Add(x, 1);
        Assert.StartsWith("MET as a median", r.Verdict(1.0));
    }
}
