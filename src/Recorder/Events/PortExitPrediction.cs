using System.Runtime.CompilerServices;

namespace VmReplay.Recorder.Events;

/// <summary>
/// The next repetition of a port exit of one element, worked out from its shape: its RIP,
/// instruction count (0 where they are not counted), <see cref="ExitShape.PortKey"/> and data,
/// and the deltas that move the first two on to the one after. How a recording tells a polling
/// loop's every exit a repetition, and a replay takes one, by four compares of values kept
/// together, instead of by the exit's whole shape.
/// </summary>
public struct PortExitPrediction
{
    private ulong _ripStep;
    private long _instructionStep;

    /// <summary>The next repetition's RIP.</summary>
    public ulong Rip { get; private set; }

    /// <summary>The next repetition's instruction count; 0 where they are not counted.</summary>
    public long Instructions { get; private set; }

    /// <summary>The repetitions' <see cref="ExitShape.PortKey"/>.</summary>
    public ulong Key { get; private set; }

    /// <summary>The repetitions' element, packed as <see cref="ExitShape.Pack"/> packs it.</summary>
    public ulong Data { get; private set; }

    /// <summary>Whether the repetitions' instructions are counted.</summary>
    public readonly bool Counted => (Key & ExitShape.PortKeyCounted) != 0;

    /// <summary>The RIP of the repetition before the next (the last one taken).</summary>
    public readonly ulong LastRip => Rip - _ripStep;

    /// <summary>The instruction count of the repetition before the next.</summary>
    public readonly long LastInstructions => Instructions - _instructionStep;

    /// <summary>
    /// The repetition of an exit of <paramref name="shape"/> taken at <paramref name="prevRip"/>
    /// and <paramref name="prevScheduled"/> instructions; false if the shape is not that of a
    /// port exit of one element of at most 8 bytes.
    /// </summary>
    public static bool TryOf(in ExitShape shape, ulong prevRip, long prevScheduled, out PortExitPrediction next)
    {
        next = default;
        if (!shape.IsSmallPortExit(out ulong key)) return false;
        next._ripStep = shape.RipDelta;
        next._instructionStep = shape.InstructionsDelta;
        next.Key = key;
        next.Data = shape.Data0;
        next.Rip = prevRip + next._ripStep;
        next.Instructions = next.Counted ? prevScheduled + next._instructionStep : 0;
        return true;
    }

    /// <summary>Whether a port exit of one element with these values is the predicted repetition.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool Is(ulong rip, long instructions, ulong key, ulong data) =>
        rip == Rip && instructions == Instructions && key == Key && data == Data;

    /// <summary>The predicted repetition was taken: the next one follows it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void MoveOn()
    {
        // Where instructions are not counted, the count and its delta are both 0 and stay so.
        Rip += _ripStep;
        Instructions += _instructionStep;
    }
}
