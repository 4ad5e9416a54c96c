using System.Runtime.CompilerServices;
using VmReplay.Engine.Backend;

namespace VmReplay.Engine.Run;

/// <summary>
/// Repetitions of a port exit that the machine's sources (a recording, a replay) have
/// predicted and let the run loop take for them: while some are left, the run loop compares
/// each exit with <see cref="Next"/> and takes one that is it by moving the prediction on,
/// without calling the sources. The sources arm it after an exit they handled, and account for
/// the exits taken so (<see cref="Settle"/>) before anything else reads or changes what they
/// hold. A polling loop's every exit then costs the run loop a few compares instead of a call
/// through the sources and their own bookkeeping. Used on the vCPU's thread only.
/// </summary>
public sealed class PredictedPortExits
{
    private PortExitPrediction _next;
    private int _left, _armed;

    /// <summary>The next repetition (after the last taken).</summary>
    public PortExitPrediction Next => _next;

    /// <summary>How many more repetitions may be taken.</summary>
    public int Left
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _left;
    }

    /// <summary>Whether repetitions may be taken or were taken and not yet settled (armed and not since disarmed).</summary>
    public bool Armed
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _armed != 0;
    }

    /// <summary>Repetitions taken since the sources last armed or settled.</summary>
    public int Pending
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _armed - _left;
    }

    /// <summary>Up to <paramref name="count"/> repetitions from <paramref name="next"/> on may be taken; any pending must have been settled.</summary>
    public void Arm(in PortExitPrediction next, int count)
    {
        _next = next;
        _left = _armed = Math.Max(count, 0);
    }

    /// <summary>No more repetitions may be taken; any pending must have been settled.</summary>
    public void Disarm() => _left = _armed = 0;

    /// <summary>The repetitions taken since the sources last armed or settled; from here on they count as settled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Settle()
    {
        int taken = _armed - _left;
        _armed = _left;
        return taken;
    }

    /// <summary>Takes <paramref name="exit"/> if it is the next repetition (see <see cref="PortExitPrediction.IsExit"/>) and one is left.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryTake(VcpuExit exit) => _left > 0 && _next.IsExit(exit) && Take();

    /// <summary>Takes a port exit of one element with these values (as <see cref="PortExitPrediction.Is"/> compares them) if it is the next repetition and one is left.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryTake(ulong rip, long instructions, ulong key, ulong data) => _left > 0 && _next.Is(rip, instructions, key, data) && Take();

    // The next repetition was taken: the one after it is next.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Take()
    {
        _next.MoveOn();
        _left--;
        return true;
    }
}
