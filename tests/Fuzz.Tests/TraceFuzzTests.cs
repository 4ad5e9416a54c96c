namespace VmReplay.Fuzz.Tests;

/// <summary>
/// The trace reader (info, diff, and replay's decoding) on seeded mutations of the corpus: valid
/// traces of every format version and the hostile ones. Every input either reads or is
/// refused with one line; none allocates more than 256 MiB. Time is reported, not asserted.
/// </summary>
public sealed class TraceFuzzTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1, 40000)]
    [InlineData(2, 40000)]
    public void MutatedTracesReadOrAreRefusedInOneLine(int seed, int inputs)
    {
        var corpus = Corpus.Load("trace");
        var run = MutationalRun.Run("trace", corpus, inputs, seed, TraceMutator.Mutate, bytes => TraceTarget.Run(bytes) is null);
        output.WriteLine(run.Report($"trace seed {seed}"));
        Assert.True(run.Findings.Count == 0, string.Join("\n", run.Findings));
        Assert.True(run.MaxAllocated <= MutationalRun.MemoryLimit, run.Report("trace"));
        // Refusals and reads both happen: a run that only ever refused would not reach the decoders.
        Assert.InRange(run.Refused, 1, run.Inputs - 1);
    }
}
