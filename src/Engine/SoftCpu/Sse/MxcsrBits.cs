namespace VmReplay.Engine.SoftCpu.SseFloat;

/// <summary>
/// The fields of MXCSR (SDM vol. 1, 10.2.3): six sticky exception flags, DAZ, six exception
/// masks, the rounding control and FTZ. Bits 16-31 are reserved; LDMXCSR and FXRSTOR raise
/// #GP(0) when one is set (this processor's MXCSR_MASK is <see cref="Writable"/>).
/// </summary>
internal static class MxcsrBits
{
    /// <summary>Invalid operation, denormal operand, divide by zero, overflow, underflow, precision.</summary>
    public const uint Ie = 1, De = 2, Ze = 4, Oe = 8, Ue = 0x10, Pe = 0x20;
    public const uint AllFlags = 0x3F;
    /// <summary>The exceptions detected before the computation (SDM vol. 1, 11.5.1): they stop it when unmasked.</summary>
    public const uint PreComputationFlags = Ie | De | Ze;
    /// <summary>Denormals are zeros: denormal source operands are read as zeros of their sign, without #D.</summary>
    public const uint Daz = 0x40;
    /// <summary>The mask of exception flag f is f shifted left by this.</summary>
    public const int MaskShift = 7;
    public const uint AllMasks = AllFlags << MaskShift;
    public const int RoundingShift = 13;
    public const uint RoundingControl = 3u << RoundingShift;
    /// <summary>Flush to zero: a tiny result is returned as zero when underflow is masked.</summary>
    public const uint Ftz = 0x8000;
    /// <summary>The bits software may set (the MXCSR_MASK FXSAVE reports); every other bit is reserved.</summary>
    public const uint Writable = 0xFFFF;
    /// <summary>The value after RESET and FNINIT-independent INIT: all exceptions masked, round to nearest.</summary>
    public const uint Default = 0x1F80;
}

/// <summary>MXCSR.RC and the rounding direction of the conversions with truncation.</summary>
internal enum Rounding : byte
{
    NearestEven = 0,
    Down = 1,
    Up = 2,
    TowardZero = 3,
}
