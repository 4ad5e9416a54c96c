using VmReplay.Devices.Platform;
using VmReplay.Engine.Memory;
using VmReplay.Recorder;
using VmReplay.Recorder.Format;
using VmReplay.Recorder.Snapshots;

namespace VmReplay.Replayer;

/// <summary>
/// Puts a replay's machine back at one of the trace's snapshots: RAM, vCPU and device state, the
/// host-events source, the event cursor and the snapshot checks. It keeps the RAM image of the
/// snapshot restored last and tracks the pages written since, so that restoring the same snapshot
/// again (as reverse stepping does over and over) rewrites only those pages.
/// </summary>
internal sealed class SnapshotRestorer
{
    private readonly TraceReader _trace;
    private readonly PcMachine _machine;
    private readonly ReplaySources _sources;
    private readonly SnapshotVerifier _verifier;
    private RestoredImage? _image;
    private DirtyPageTracker? _writtenSinceRestore;
    private Task<StoredSnapshot>? _first;

    /// <summary>
    /// <paramref name="first"/>, when given, is snapshot 0 being read on another thread; the first
    /// restore that needs it waits for it.
    /// </summary>
    public SnapshotRestorer(TraceReader trace, PcMachine machine, ReplaySources sources, SnapshotVerifier verifier, Task<StoredSnapshot>? first = null)
    {
        _first = first;
        _trace = trace;
        _machine = machine;
        _sources = sources;
        _verifier = verifier;
        // The verifier writes recorded pages where the replay computed others (host writes,
        // which the dirty log does not see): the next restore must put those back too.
        verifier.PagesAdopted = pages => _writtenSinceRestore?.Add(pages.ToArray());
    }

    /// <summary>Snapshots restored so far.</summary>
    public int Restores { get; private set; }

    /// <summary>The last snapshot taken at or before <paramref name="eventIndex"/>, or -1.</summary>
    public int NearestSnapshot(long eventIndex)
    {
        var snaps = _trace.Snapshots;
        for (int i = snaps.Count - 1; i >= 0; i--)
            if ((long)snaps[i].FirstEvent <= eventIndex) return i;
        return -1;
    }

    /// <summary>
    /// Restores snapshot <paramref name="number"/>: its full base, then every incremental one up to
    /// it. Returns the snapshot's event index, where the replay goes on from.
    /// </summary>
    public long Restore(int number, bool counted = true)
    {
        var memory = _machine.Memory;
        if (_image?.Number == number && _writtenSinceRestore is not null)
            _image.Rewrite(memory, _writtenSinceRestore.Pages());
        else
        {
            var next = new RestoredImage(number, Chain(number));
            // RAM is the last image but for the pages written since: another image on the same
            // full snapshot differs from it only in those and in the pages of the snapshots one
            // chain holds beyond the other (going back one interval: the pages of one snapshot).
            if (_image is { } last && last.Base == next.Base && _writtenSinceRestore is not null)
                next.Rewrite(memory, new HashSet<ulong>(_writtenSinceRestore.Pages().Concat(next.PagesDifferingFrom(last))));
            else
                next.WriteAll(memory);
            _image = next;
        }
        var target = _image.Target;
        // A machine whose devices are already as the snapshot has them (a replay's start: the
        // machine is new, as it was when snapshot 0 was taken) keeps them; the recorded device
        // state is decoded only for a machine whose devices differ.
        var now = _machine.CaptureState();
        if (SnapshotCodec.SameDeviceState(now.Platform, now.Counters, target.DeviceState))
            _machine.RestoreState(now with { Vcpu = target.Vcpu });
        else
            _machine.RestoreState(_image.DecodedState ??= _trace.ReadMachineState(target, _trace.Snapshots[number]));
        var dirtyLog = _machine.Backend.DirtyLog!;
        _writtenSinceRestore ??= dirtyLog.CreateTracker();
        dirtyLog.Discard();
        // RAM is the image now, page for page: what the next restore rewrites is written from here.
        _writtenSinceRestore.Reset();
        var host = _sources.HostEvents!;
        host.ServiceTracker.Add(target.ServicePages);
        host.Restored();
        _sources.Events.Reset(_trace.Batches(target.EventIndex), target.EventIndex);
        _verifier.ContinueAfter(number);
        if (counted) Restores++;
        return target.EventIndex;
    }

    // The full snapshot at or before `number`, then every incremental one up to it.
    private List<StoredSnapshot> Chain(int number)
    {
        var chain = new List<StoredSnapshot>();
        for (int i = number; i >= 0; i--)
        {
            var s = i == 0 && _first is { } first ? first.GetAwaiter().GetResult() : Decoded(i);
            if (i == 0)
            {
                _first = null;
                Keep(0, s);
            }
            chain.Add(s);
            if (s.Kind == SnapshotKind.Full) break;
        }
        if (chain[^1].Kind != SnapshotKind.Full)
            throw new TraceFormatException($"{_trace.Path}: snapshot {number} has no full snapshot before it");
        chain.Reverse();
        return chain;
    }

    // Snapshots read and decoded (pages included) for earlier chains, up to KeptBytes of them:
    // restoring another snapshot than the last read its whole chain again, and a reverse-continue
    // on the Linux boot (45 snapshots) spent 10-19 ms in each restore, twice what replaying the
    // interval took. The ones used longest ago go first.
    private const long KeptBytes = 256L << 20;
    private readonly Dictionary<int, (StoredSnapshot Snapshot, long Used)> _kept = new();
    private long _keptBytes, _uses;

    private StoredSnapshot Decoded(int number)
    {
        if (_kept.TryGetValue(number, out var kept))
        {
            _kept[number] = (kept.Snapshot, ++_uses);
            return kept.Snapshot;
        }
        var s = _trace.ReadStoredSnapshot(_trace.Snapshots[number], withPages: true);
        Keep(number, s);
        return s;
    }

    private void Keep(int number, StoredSnapshot s)
    {
        if (_kept.ContainsKey(number)) return;
        _kept[number] = (s, ++_uses);
        _keptBytes += s.PageData.Length;
        while (_keptBytes > KeptBytes && _kept.Count > 1)
        {
            var oldest = _kept.MinBy(k => k.Value.Used);
            _kept.Remove(oldest.Key);
            _keptBytes -= oldest.Value.Snapshot.PageData.Length;
        }
    }
}
