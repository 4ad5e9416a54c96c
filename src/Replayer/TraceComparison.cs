using System.Text;
using VmReplay.Recorder;
using VmReplay.Recorder.Events;

namespace VmReplay.Replayer;

/// <summary>
/// Compares two recordings of the same guest event by event. Clock readings are compared by
/// position only: their values are host timing, which two recordings never share. The serial
/// output is rebuilt from the recorded writes to COM1's data port.
/// </summary>
public sealed class TraceComparison
{
    private const int Context = 3;

    private TraceComparison() { }

    /// <summary>Why the traces cannot be compared (different guest or machine), or null.</summary>
    public string? NotComparable { get; private init; }

    /// <summary>Index of the first differing event, or null when identical.</summary>
    public long? FirstDifference { get; private init; }

    public IReadOnlyList<(long Index, string A, string B)> ContextBefore { get; private init; } = [];
    public string? DifferenceA { get; private init; }
    public string? DifferenceB { get; private init; }
    public long EventsA { get; private init; }
    public long EventsB { get; private init; }
    public string SerialA { get; private init; } = "";
    public string SerialB { get; private init; } = "";

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

    public static TraceComparison Compare(TraceReader a, TraceReader b)
    {
        if (a.Header.ImageSha256 != b.Header.ImageSha256)
            return new TraceComparison { NotComparable = $"different guest images ({a.Header.GuestName} {a.Header.ImageSha256[..12]} vs {b.Header.GuestName} {b.Header.ImageSha256[..12]})" };
        if (a.Header.MemorySize != b.Header.MemorySize || a.Header.VcpuCount != b.Header.VcpuCount)
            return new TraceComparison { NotComparable = "different machine configurations (memory or vCPUs)" };

        using var ea = a.Events().GetEnumerator();
        using var eb = b.Events().GetEnumerator();
        var window = new Queue<(long, string, string)>();
        var serialA = new SerialText();
        var serialB = new SerialText();
        long index = 0, countA = 0, countB = 0;
        long? first = null;
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
                if (!Same(x, y))
                {
                    first = index;
                    diffA = x?.Describe() ?? "(end of trace)";
                    diffB = y?.Describe() ?? "(end of trace)";
                }
                else
                {
                    window.Enqueue((index, x!.Describe(), y!.Describe()));
                    if (window.Count > Context) window.Dequeue();
                }
            }
            index++;
        }
        return new TraceComparison
        {
            FirstDifference = first, DifferenceA = diffA, DifferenceB = diffB, ContextBefore = window.ToList(),
            EventsA = countA, EventsB = countB, SerialA = serialA.ToString(), SerialB = serialB.ToString(),
        };
    }

    private static bool Same(TraceEvent? x, TraceEvent? y) => (x, y) switch
    {
        (ExitEvent p, ExitEvent q) => p.Matches(q),
        (ClockEvent, ClockEvent) => true,
        (ForcedServiceEvent p, ForcedServiceEvent q) => p.LinearRip == q.LinearRip && p.DirtyHash == q.DirtyHash && p.RegistersMatch(q.Registers),
        (EndEvent p, EndEvent q) => p.Kind == q.Kind && p.ExitStatus == q.ExitStatus && p.MemoryHash == q.MemoryHash && p.RegisterHash == q.RegisterHash,
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
