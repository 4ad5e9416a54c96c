using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// SSE and SSE2 in their legacy encodings (the CPU model offers nothing later): the families in
/// Instructions/Sse/, their floating-point arithmetic in SoftCpu/Sse/ (namespace SseFloat), the
/// registers in <c>Processor.Sse</c>. The MMX-register forms of the shared integer instructions
/// are registered by <see cref="Mmx"/>. PREFETCHh and the fences are <see cref="DataTransfer"/>'s.
/// </summary>
internal static class Sse
{
    public static void Register(HandlerTable t)
    {
        SseDataMovement.Register(t);
        SseFloatArithmetic.Register(t);
        SseFloatComparison.Register(t);
        SseConversion.Register(t);
        PackedInteger.Register(t, mmxForms: false);
        PackedShift.Register(t, mmxForms: false);
        SseShuffles.Register(t, mmxForms: false);
    }
}
