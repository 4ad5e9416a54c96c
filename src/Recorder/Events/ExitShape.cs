using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using VmReplay.Engine.Run;

namespace VmReplay.Recorder.Events;

/// <summary>
/// An exit as a batch encodes it (<see cref="EventCodec.WriteExit"/>): its fields, with the RIP
/// and the instruction count as deltas from the exit before it. Two exits encode to the same
/// bytes exactly when their shapes are equal (varints are one-to-one), so a recording tells a
/// repetition of the last exit, and a replay checks one, with a few compares instead of an
/// encoding and a byte compare each: a polling loop repeats one exit for every few
/// instructions. Only an exit that moves at most <see cref="MaxData"/> bytes has a shape.
/// </summary>
public readonly struct ExitShape : IEquatable<ExitShape>
{
    /// <summary>The most bytes an exit with a shape moves; string I/O moves more and is written out.</summary>
    public const int MaxData = 16;

    private readonly ulong _ripDelta, _address, _data0, _data1;
    private readonly long _instructionsDelta;
    private readonly uint _reason, _count;
    private readonly byte _size, _flags, _dataLength;
    private readonly bool _counted;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ExitShape(in ExitFields x, ulong prevRip, long prevScheduled)
    {
        _reason = x.Reason;
        _ripDelta = x.Rip - prevRip;
        _address = x.Address;
        _size = x.Size;
        _flags = x.Flags;
        _count = x.Count;
        var data = x.Data;
        _dataLength = (byte)data.Length;
        if (data.Length > 8)
        {
            _data0 = BinaryPrimitives.ReadUInt64LittleEndian(data);
            _data1 = PortExitPrediction.Pack(data[8..]);
        }
        else _data0 = PortExitPrediction.Pack(data);
        _counted = x.Instructions.HasValue;
        _instructionsDelta = x.Instructions is { } retired ? retired - prevScheduled : 0;
    }

    /// <summary>
    /// The shape of <paramref name="x"/> following an exit at <paramref name="prevRip"/> and
    /// <paramref name="prevScheduled"/> instructions; false for an exit moving more than <see cref="MaxData"/> bytes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryOf(in ExitFields x, ulong prevRip, long prevScheduled, out ExitShape shape)
    {
        if (x.Data.Length > MaxData)
        {
            shape = default;
            return false;
        }
        shape = new ExitShape(x, prevRip, prevScheduled);
        return true;
    }

    /// <summary>
    /// Whether a port exit moving one element of <paramref name="size"/> bytes (<paramref name="data"/>,
    /// little-endian), following an exit at <paramref name="prevRip"/> and
    /// <paramref name="prevScheduled"/> instructions, has this shape: what <see cref="TryOf"/>
    /// and <see cref="Equals(ExitShape)"/> would say, from values a caller reads straight from
    /// the exit. A polling loop's every exit is one, and building its fields and its shape as
    /// values was most of what a recording added to an exit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsPortExit(ulong rip, ulong prevRip, long? instructions, long prevScheduled, ushort port, int size, bool write, ulong data) =>
        _ripDelta == rip - prevRip && _data0 == data && _address == port && _counted == instructions.HasValue
        && _instructionsDelta == (instructions is { } retired ? retired - prevScheduled : 0)
        && _reason == (uint)ExitReason.Io && _count == 1 && _size == size && _dataLength == size
        && _flags == (write ? ExitEvent.FlagWrite : 0) && _data1 == 0;

    /// <summary>
    /// Whether this is the shape of a port exit of one element of at most 8 bytes, and if so its
    /// <see cref="PortExitPrediction.KeyOf"/>: the exits <see cref="IsPortExit"/> compares.
    /// </summary>
    internal bool IsSmallPortExit(out ulong key)
    {
        bool small = _reason == (uint)ExitReason.Io && _count == 1 && _size <= 8 && _dataLength == _size && _address <= ushort.MaxValue
            && (_flags & ~ExitEvent.FlagWrite) == 0 && _data1 == 0;
        key = small ? PortExitPrediction.KeyOf((ushort)_address, _size, _flags == ExitEvent.FlagWrite, _counted) : 0;
        return small;
    }

    /// <summary>
    /// The repetition of an exit of this shape taken at <paramref name="prevRip"/> and
    /// <paramref name="prevScheduled"/> instructions; false if this is not the shape of a port
    /// exit of one element of at most 8 bytes.
    /// </summary>
    public bool TryPredictPortExit(ulong prevRip, long prevScheduled, out PortExitPrediction next)
    {
        if (!IsSmallPortExit(out ulong key))
        {
            next = default;
            return false;
        }
        next = new PortExitPrediction(prevRip + _ripDelta, prevScheduled + _instructionsDelta, key, _data0, _ripDelta, _instructionsDelta);
        return true;
    }

    /// <summary>How far the RIP moved from the exit before.</summary>
    internal ulong RipDelta => _ripDelta;

    /// <summary>How many instructions were retired since the exit before (0 where they are not counted).</summary>
    internal long InstructionsDelta => _instructionsDelta;

    /// <summary>The first 8 bytes of the data, packed as <see cref="Pack"/> packs them.</summary>
    internal ulong Data0 => _data0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Equals(ExitShape other) =>
        _ripDelta == other._ripDelta && _data0 == other._data0 && _instructionsDelta == other._instructionsDelta && _address == other._address
        && _reason == other._reason && _count == other._count && _size == other._size && _flags == other._flags
        && _dataLength == other._dataLength && _counted == other._counted && _data1 == other._data1;

    public override bool Equals(object? obj) => obj is ExitShape other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_ripDelta, _address, _data0, _data1, _instructionsDelta, _reason, _count, HashCode.Combine(_size, _flags, _dataLength, _counted));

    public static bool operator ==(ExitShape a, ExitShape b) => a.Equals(b);

    public static bool operator !=(ExitShape a, ExitShape b) => !a.Equals(b);
}
