using System.Diagnostics;
using SharpFuzz;
using VmReplay.Fuzz;

// vmreplay-fuzz trace|rsp         one input on stdin, run under afl-fuzz (SharpFuzz): tests/Fuzz/run;
//                                 trace makes every chunk's CRC right first
// vmreplay-fuzz corpus            writes the hostile traces under 1 MB and the client streams into tests/Fuzz/Corpus
// vmreplay-fuzz large DIR         writes the hostile traces over 1 MB into DIR
// vmreplay-fuzz measure FILE...   runs the trace target on each file and prints its time and allocation
return args switch
{
    // CRCs are made right first: AFL's mutations should reach the decoders behind them.
    ["trace"] => Fuzz(data => TraceTarget.Run(TraceBytes.WithCrcsFixed(data))),
    ["rsp"] => Fuzz(data => RspTarget.Run(data)),
    ["corpus"] => WriteCorpus(),
    ["large", var dir] => WriteLarge(dir),
    ["measure", .. var files] => Measure(files),
    _ => Usage(),
};

static int Fuzz(Action<byte[]> target)
{
    Fuzzer.OutOfProcess.Run(stream =>
    {
        using var input = new MemoryStream();
        stream.CopyTo(input);
        target(input.ToArray());
    });
    return 0;
}

static int WriteCorpus()
{
    string traces = Corpus.Directory("trace");
    foreach (var (name, make) in HostileTraces.All(Corpus.HelloV2))
    {
        var bytes = make();
        File.WriteAllBytes(Path.Combine(traces, name + ".vmtrace"), bytes);
        Console.WriteLine($"trace/{name}.vmtrace: {bytes.Length} bytes");
    }
    string rsp = Corpus.Directory("rsp");
    foreach (var (name, bytes) in RspCorpus.All())
    {
        File.WriteAllBytes(Path.Combine(rsp, name + ".bin"), bytes);
        Console.WriteLine($"rsp/{name}.bin: {bytes.Length} bytes");
    }
    return 0;
}

static int WriteLarge(string dir)
{
    foreach (var (name, make) in HostileTraces.Large(Corpus.HelloV2))
    {
        var bytes = make();
        File.WriteAllBytes(Path.Combine(dir, name + ".vmtrace"), bytes);
        Console.WriteLine($"{name}.vmtrace: {bytes.Length} bytes");
    }
    return 0;
}

static int Measure(string[] files)
{
    foreach (var file in files)
    {
        var bytes = File.ReadAllBytes(file);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        string outcome = TraceTarget.Run(bytes) ?? "read";
        Console.WriteLine($"{clock.Elapsed.TotalMilliseconds,9:0.0} ms {(GC.GetAllocatedBytesForCurrentThread() - before) / 1048576.0,9:0.0} MiB allocated  {Path.GetFileName(file)}: {outcome}");
    }
    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("usage: vmreplay-fuzz trace|rsp (an input on stdin, under afl-fuzz) | corpus | measure FILE...");
    return 2;
}
