using System.Diagnostics;

namespace VmReplay.Fuzz.Tests;

/// <summary>
/// A seeded mutational fuzz run: a fixed number of inputs made from the corpus, each run through a
/// target with its time and allocation measured. An exception the target does not declare is a
/// finding; the input is kept in a temporary file named in the report.
/// </summary>
internal sealed class MutationalRun
{
    /// <summary>The issue's bound: no input under 1 MB may make a reader use more than 256 MiB.</summary>
    public const long MemoryLimit = 256L << 20;

    public int Inputs { get; private set; }
    public int Refused { get; private set; }
    public long MaxAllocated { get; private set; }
    public string MaxAllocatedInput { get; private set; } = "";
    public double MaxMilliseconds { get; private set; }
    public string SlowestInput { get; private set; } = "";
    public TimeSpan Elapsed { get; private set; }
    public List<string> Findings { get; } = [];

    /// <summary>
    /// Runs <paramref name="inputs"/> mutations (by <paramref name="mutate"/>, of entries of
    /// <paramref name="corpus"/>) through <paramref name="target"/>, which returns false for an
    /// input it refused as it should.
    /// </summary>
    public static MutationalRun Run(string name, IReadOnlyList<(string Name, byte[] Bytes)> corpus, int inputs, int seed,
        Func<Random, byte[], byte[], byte[]> mutate, Func<byte[], bool> target)
    {
        var run = new MutationalRun();
        var random = new Random(seed);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < inputs; i++)
        {
            var (seedName, seedBytes) = corpus[i % corpus.Count];
            var input = mutate(random, seedBytes, corpus[random.Next(corpus.Count)].Bytes);
            if (input.Length >= 1 << 20) continue;
            string label = $"input {i} (from {seedName})";
            long before = GC.GetAllocatedBytesForCurrentThread();
            var one = Stopwatch.StartNew();
            try
            {
                if (!target(input)) run.Refused++;
            }
            catch (Exception e)
            {
                string kept = Path.Combine(Path.GetTempPath(), $"vmreplay-fuzz-{name}-{seed}-{i}.bin");
                File.WriteAllBytes(kept, input);
                run.Findings.Add($"{label}, kept as {kept}: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")} at {e.StackTrace?.Split('\n')[0].Trim()}");
            }
            double ms = one.Elapsed.TotalMilliseconds;
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            run.Inputs++;
            if (allocated > run.MaxAllocated) (run.MaxAllocated, run.MaxAllocatedInput) = (allocated, label);
            if (ms > run.MaxMilliseconds) (run.MaxMilliseconds, run.SlowestInput) = (ms, label);
        }
        run.Elapsed = clock.Elapsed;
        return run;
    }

    public string Report(string name) =>
        $"{name}: {Inputs} inputs in {Elapsed.TotalSeconds:0.0} s ({Refused} refused with one line), {Findings.Count} findings; " +
        $"most allocated {MaxAllocated / 1048576.0:0.0} MiB ({MaxAllocatedInput}), slowest {MaxMilliseconds:0.0} ms ({SlowestInput})";
}
