using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using VmReplay.Engine.Backend;

namespace VmReplay.Engine.Run;

/// <summary>
/// The next repetition of a port exit of one element (a polling loop's: the same access, the
/// same data, the same distance in RIP and in instructions from the one before): its RIP,
/// instruction count (0 where they are not counted), access (<see cref="Key"/>) and data (as
/// <see cref="Pack"/> packs it), and the steps that move the first two on to the one after. How a
/// recording tells such an exit a repetition, and a replay takes one, by four compares of values
/// kept together instead of by the exit's whole fingerprint.
/// </summary>
public struct PortExitPrediction
{
    private ulong _ripStep;
    private long _instructionStep;

    /// <summary>The repetition at <paramref name="rip"/> and <paramref name="instructions"/>, the one after it <paramref name="ripStep"/> and <paramref name="instructionStep"/> on.</summary>
    public PortExitPrediction(ulong rip, long instructions, ulong key, ulong data, ulong ripStep, long instructionStep)
    {
        Rip = rip;
        Key = key;
        Data = data;
        _ripStep = ripStep;
        // Where instructions are not counted, the count and its step are both 0 and stay so.
        bool counted = (key & KeyCounted) != 0;
        Instructions = counted ? instructions : 0;
        _instructionStep = counted ? instructionStep : 0;
    }

    /// <summary>The next repetition's RIP.</summary>
    public ulong Rip { get; private set; }

    /// <summary>The next repetition's instruction count; 0 where they are not counted.</summary>
    public long Instructions { get; private set; }

    /// <summary>The repetitions' access, as <see cref="KeyOf"/> makes it.</summary>
    public ulong Key { get; }

    /// <summary>The repetitions' element, packed as <see cref="Pack"/> packs it.</summary>
    public ulong Data { get; }

    /// <summary>Whether the repetitions' instructions are counted.</summary>
    public readonly bool Counted => (Key & KeyCounted) != 0;

    /// <summary>The RIP of the repetition before the next (the last one taken).</summary>
    public readonly ulong LastRip => Rip - _ripStep;

    /// <summary>The instruction count of the repetition before the next.</summary>
    public readonly long LastInstructions => Instructions - _instructionStep;

    /// <summary>
    /// A port exit's access as one value: the port, the element's size, whether it wrote and
    /// whether its instructions are counted.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong KeyOf(ushort port, int size, bool write, bool counted) =>
        port | (ulong)(uint)size << 16 | (write ? KeyWrite : 0) | (counted ? KeyCounted : 0);

    // The bit of KeyOf that says the exit wrote.
    private const ulong KeyWrite = 1UL << 48;

    /// <summary>The bit of <see cref="KeyOf"/> that says the exit's instructions are counted.</summary>
    public const ulong KeyCounted = 1UL << 49;

    /// <summary>
    /// Up to 8 bytes as one value, little-endian; the length, compared beside it (in the key),
    /// tells [0] from [].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Pack(ReadOnlySpan<byte> bytes)
    {
        switch (bytes.Length)
        {
            case 1: return bytes[0];
            case 2: return BinaryPrimitives.ReadUInt16LittleEndian(bytes);
            case 4: return BinaryPrimitives.ReadUInt32LittleEndian(bytes);
            case 8: return BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        }
        ulong v = 0;
        for (int i = bytes.Length - 1; i >= 0; i--) v = v << 8 | bytes[i];
        return v;
    }

    /// <summary>Whether a port exit of one element with these values is the predicted repetition.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool Is(ulong rip, long instructions, ulong key, ulong data) =>
        rip == Rip && instructions == Instructions && key == Key && data == Data;

    /// <summary>
    /// Whether the exit a stopped vCPU just made is the predicted repetition: a port exit of one
    /// element that carries its position (the software CPU's do: see <see cref="VcpuExit.HasPosition"/>),
    /// its instructions counted.
    /// </summary>
    // The run loop asks at every exit of a polling loop: the access is compared field by field
    // with the key's parts, not made into a key (which took as many instructions again).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool IsExit(VcpuExit exit) =>
        exit.Rip == Rip && exit.Instructions == Instructions && exit.HasPosition && exit.Kind == VcpuExitKind.PortIo && exit.Count == 1
        && exit.Port == (ushort)Key && (ulong)exit.Size == (Key >> 16 & 0xffff_ffff) && exit.IsWrite == ((Key & KeyWrite) != 0) && (Key & KeyCounted) != 0
        && exit.Size <= 8 && exit.FirstElement == Data;

    /// <summary>The predicted repetition was taken: the next one follows it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void MoveOn()
    {
        Rip += _ripStep;
        Instructions += _instructionStep;
    }
}
