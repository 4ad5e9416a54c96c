using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>Not written yet: every form raises #UD.</summary>
internal static class ShiftRotate
{
    public static void Register(HandlerTable t)
    {
    }
}
