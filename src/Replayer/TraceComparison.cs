using System.Text;
using VmReplay.Recorder;
using VmReplay.Recorder.Events;
using VmReplay.Recorder.Format;

namespace VmReplay.Replayer;

/// <summary>
/// Compares two recordings of the same guest event by event. Clock readings are compared by
/// position only: their values are host timing, which two recordings never share. The serial
/// output is rebuilt from the recorded writes to COM1's data port. The first difference is
/// classified (<see cref="DifferenceCause"/>), and the headers' differences are named.
/// </summary>
public sealed class TraceComparison
{
    private const int Context = 3;

    // Events kept from each side after the first difference: enough to reach the exit or
    // service point that follows a run of clock readings and input polls.
    private const int Lookahead = 32;

    private TraceComparison() { }

    /// <summary>Why the traces cannot be compared (different guest or machine), or null.</summary>
    public string? NotComparable { get; private init; }

    /// <summary>Index of the first differing event, or null when identical.</summary>
    public long? FirstDifference { get; private init; }

    /// <summary>
    /// The retired-instruction count of the last event both traces share before the first
    /// difference, where they count instructions (software CPU recordings): an input event has
    /// no count of its own, so this places it. Null without counts.
    /// </summary>
    public long? InstructionsBeforeDifference { get; private init; }

    public IReadOnlyList<(long Index, string A, string B)> ContextBefore { get; private init; } = [];
    public string? DifferenceA { get; private init; }
    public string? DifferenceB { get; private init; }
    public long EventsA { get; private init; }
    public long EventsB { get; private init; }
    public string SerialA { get; private init; } = "";
    public string SerialB { get; private init; } = "";

    /// <summary>What kind of difference comes first, or null when identical or not comparable.</summary>
    public DifferenceCause? Cause { get; private init; }

    /// <summary>How the two headers differ in what the guest was given (command line, initrd, CPU model, host), one line each.</summary>
    public IReadOnlyList<string> HeaderDifferences { get; private init; } = [];

    public bool Identical => NotComparable is null && FirstDifference is null;

    /// <summary>Offset of the first serial-output byte that differs, or null.</summary>
    public int? SerialDifference
    {
        get
        {
            int n = Math.Min(SerialA.Length, SerialB.Length);
            for (int i = 0; i < n; i++) if (SerialA[i] != SerialB[i]) return i;
            return SerialA.Length == SerialB.Length ? null : n;
        }
    }

    public static TraceComparison Compare(TraceReader a, TraceReader b) =>
        Compare(a.Header, a.Events(), b.Header, b.Events(), HashMemoryAlike(a.Version, b.Version));

    /// <param name="compareMemoryHashes">
    /// False when the two formats define the end event's memory hash differently (one before
    /// version 4, one from it): equal RAM then gives different hashes.
    /// </param>
    public static TraceComparison Compare(TraceHeader headerA, IEnumerable<TraceEvent> eventsA, TraceHeader headerB, IEnumerable<TraceEvent> eventsB,
        bool compareMemoryHashes = true)
    {
        if (headerA.ImageSha256 != headerB.ImageSha256)
            return new TraceComparison { NotComparable = $"different guest images ({headerA.GuestName} {headerA.ImageSha256[..12]} vs {headerB.GuestName} {headerB.ImageSha256[..12]})" };
        if (headerA.MemorySize != headerB.MemorySize || headerA.VcpuCount != headerB.VcpuCount)
            return new TraceComparison { NotComparable = "different machine configurations (memory or vCPUs)" };

        var headers = CompareHeaders(headerA, headerB);
        using var ea = eventsA.GetEnumerator();
        using var eb = eventsB.GetEnumerator();
        // Events, not their descriptions: describing every event of a long trace costs more than comparing it.
        var window = new Queue<(long Index, TraceEvent A, TraceEvent B)>();
        var aheadA = new List<TraceEvent>();
        var aheadB = new List<TraceEvent>();
        long? serviceSinceExit = null;
        var serialA = new SerialText();
        var serialB = new SerialText();
        long index = 0, countA = 0, countB = 0;
        long? first = null, counted = null;
        string? diffA = null, diffB = null;
        bool moreA = true, moreB = true;
        while (moreA || moreB)
        {
            moreA = moreA && ea.MoveNext();
            moreB = moreB && eb.MoveNext();
            var x = moreA ? ea.Current : null;
            var y = moreB ? eb.Current : null;
            if (x is not null) { countA++; serialA.Add(x); }
            if (y is not null) { countB++; serialB.Add(y); }
            if (x is null && y is null) break;
            if (first is null)
            {
                if (!Same(x, y, compareMemoryHashes))
                {
                    first = index;
                    diffA = x?.Describe() ?? "(end of trace)";
                    diffB = y?.Describe() ?? "(end of trace)";
                }
                else
                {
                    window.Enqueue((index, x!, y!));
                    if (window.Count > Context) window.Dequeue();
                    if (x is ExitEvent { Instructions: { } n }) counted = n;
                    else if (x is ScheduledServiceEvent s) counted = s.Instructions;
                    if (x is ExitEvent) serviceSinceExit = null;
                    else if (x is ServiceEvent or ForcedServiceEvent or ScheduledServiceEvent) serviceSinceExit = index;
                }
            }
            if (first is not null)
            {
                if (x is not null && aheadA.Count < Lookahead) aheadA.Add(x);
                if (y is not null && aheadB.Count < Lookahead) aheadB.Add(y);
            }
            index++;
        }
        return new TraceComparison
        {
            FirstDifference = first, DifferenceA = diffA, DifferenceB = diffB, InstructionsBeforeDifference = first is null ? null : counted,
            ContextBefore = window.Select(w => (w.Index, w.A.Describe(), w.B.Describe())).ToList(),
            EventsA = countA, EventsB = countB, SerialA = serialA.ToString(), SerialB = serialB.ToString(),
            HeaderDifferences = headers,
            Cause = first is { } at ? DifferenceCause.Classify(at, serviceSinceExit, aheadA, aheadB, headers.Count > 0) : null,
        };
    }

    /// <summary>
    /// What the two headers gave the guest or the VMM differently. The wall-clock base is left
    /// out: it is the host's time at the start, different in every recording, and only the
    /// CMOS clock reads it (a differing read names it).
    /// </summary>
    public static IReadOnlyList<string> CompareHeaders(TraceHeader a, TraceHeader b)
    {
        var lines = new List<string>();
        if (a.Cmdline != b.Cmdline) lines.Add($"command line differs: A '{a.Cmdline}' B '{b.Cmdline}'");
        if (a.InitrdSha256 != b.InitrdSha256) lines.Add($"initrd differs: A {Initrd(a)} B {Initrd(b)}");
        if (!a.CpuModel.SequenceEqual(b.CpuModel))
        {
            int leaves = a.CpuModel.Except(b.CpuModel).Concat(b.CpuModel.Except(a.CpuModel)).Select(l => (l.Function, l.Index)).Distinct().Count();
            lines.Add($"CPU model differs: {leaves} CPUID leaves (A {a.CpuModel.Length}, B {b.CpuModel.Length})");
        }
        if (a.Backend != b.Backend) lines.Add($"CPU backend differs: A {a.Backend} B {b.Backend}");
        if (a.Clock != b.Clock) lines.Add($"clock differs: A {a.Clock} B {b.Clock}");
        if (a.HostCapabilities != b.HostCapabilities) lines.Add($"host KVM capabilities differ: A {a.HostCapabilities} B {b.HostCapabilities}");
        if (a.HostKernel != b.HostKernel) lines.Add($"host kernel differs: A '{a.HostKernel}' B '{b.HostKernel}'");
        if (a.Recorder != b.Recorder) lines.Add($"recorder differs: A '{a.Recorder}' B '{b.Recorder}'");
        return lines;
    }

    private static string Initrd(TraceHeader h) => h.HasInitrd ? $"{h.InitrdName} ({h.InitrdSha256![..12]}, {h.InitrdSize} bytes)" : "none";

    // Whether two format versions define the end event's memory hash alike: over the same bytes
    // (all of RAM, or its non-zero pages) with the same function.
    private static bool HashMemoryAlike(uint versionA, uint versionB) =>
        (versionA >= TraceFormat.FirstVersionHashingNonZeroPages) == (versionB >= TraceFormat.FirstVersionHashingNonZeroPages)
        && TraceFormat.PageHashOf(versionA) == TraceFormat.PageHashOf(versionB);

    private static bool Same(TraceEvent? x, TraceEvent? y, bool compareMemoryHashes) => (x, y) switch
    {
        (ExitEvent p, ExitEvent q) => p.Matches(q),
        (ClockEvent, ClockEvent) => true,
        (ForcedServiceEvent p, ForcedServiceEvent q) => p.LinearRip == q.LinearRip && p.DirtyHash == q.DirtyHash && p.RegistersMatch(q.Registers),
        (ScheduledServiceEvent p, ScheduledServiceEvent q) => p.Instructions == q.Instructions,
        (EndEvent p, EndEvent q) => p.Kind == q.Kind && p.ExitStatus == q.ExitStatus && (p.MemoryHash == q.MemoryHash || !compareMemoryHashes) && p.RegisterHash == q.RegisterHash,
        (null, _) or (_, null) => false,
        _ => x == y,
    };

    /// <summary>COM1 output rebuilt from recorded port writes: THR writes while LCR.DLAB is clear.</summary>
    private sealed class SerialText
    {
        private readonly StringBuilder _text = new();
        private bool _dlab;

        public void Add(TraceEvent e)
        {
            if (e is not ExitEvent { Reason: 2, Flags: ExitEvent.FlagWrite } x || x.Data.Length == 0) return;
            if (x.Address == 0x3FB) _dlab = (x.Data[^1] & 0x80) != 0;
            else if (x.Address == 0x3F8 && !_dlab)
                foreach (byte b in x.Data) _text.Append((char)b);
        }

        public override string ToString() => _text.ToString();
    }
}
