using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN, FSIN, FCOS, FSINCOS.</summary>
internal static unsafe partial class X87
{
    private static void RegisterTranscendentals(HandlerTable t)
    {
    }
}
