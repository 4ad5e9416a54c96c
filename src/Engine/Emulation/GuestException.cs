namespace VmReplay.Engine.Emulation;

/// <summary>An architectural exception raised while emulating; turned into an injected event.</summary>
internal sealed class GuestException(byte vector, uint? errorCode, ulong? faultAddress = null)
    : Exception($"exception {vector}")
{
    public const byte DivideError = 0, Breakpoint = 3, InvalidOpcode = 6, SegmentNotPresent = 11, StackFault = 12, GeneralProtection = 13, PageFault = 14;

    public byte Vector { get; } = vector;
    public uint? ErrorCode { get; } = errorCode;
    public ulong? FaultAddress { get; } = faultAddress;

    public static GuestException Gp(uint code = 0) => new(GeneralProtection, code);
}
