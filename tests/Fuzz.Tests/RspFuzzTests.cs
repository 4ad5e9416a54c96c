namespace VmReplay.Fuzz.Tests;

/// <summary>The gdb stub's decoder, parser and session on seeded mutations of client byte streams: nothing throws.</summary>
public sealed class RspFuzzTests(ITestOutputHelper output)
{
    [Fact]
    public void MutatedClientStreamsAreAnsweredWithoutAnException()
    {
        var corpus = Corpus.Load("rsp");
        var run = MutationalRun.Run("rsp", corpus, 40000, seed: 1, (random, input, other) => ByteMutator.Mutate(random, input, other), bytes => RspTarget.Run(bytes) >= 0);
        output.WriteLine(run.Report("rsp"));
        Assert.True(run.Findings.Count == 0, string.Join("\n", run.Findings));
        Assert.True(run.MaxAllocated <= MutationalRun.MemoryLimit, run.Report("rsp"));
    }
}
