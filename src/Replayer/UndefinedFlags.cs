using VmReplay.Engine.Backend;
using VmReplay.Recorder.Events;

namespace VmReplay.Replayer;

/// <summary>
/// Status flags the SDM leaves undefined after an instruction, which processors set each their
/// own way: after a shift, an AMD EPYC (Zen 5, the PVM host of 2026-12-04) sets AF where vmreplay's
/// software CPU clears it.
/// A KVM recording holds its host processor's flags; replayed on the software CPU, registers are
/// compared without these bits, and where only they differ the recorded flags are taken, as a
/// snapshot's recorded memory is taken where data alone differs.
/// </summary>
internal static class UndefinedFlags
{
    /// <summary>AF: undefined after logic instructions, shifts, multiplies, BT*, BSF/BSR.</summary>
    public const ulong Mask = 0x10;

    /// <summary>Whether <paramref name="expected"/> and <paramref name="actual"/> (RegisterFile order) differ in <see cref="Mask"/> and nowhere else.</summary>
    public static bool OnlyDifference(ReadOnlySpan<ulong> expected, ReadOnlySpan<ulong> actual)
    {
        if (expected.Length != actual.Length || expected[RegisterFile.Rflags] == actual[RegisterFile.Rflags]) return false;
        for (int i = 0; i < expected.Length; i++)
        {
            ulong difference = expected[i] ^ actual[i];
            if (difference != 0 && (i != RegisterFile.Rflags || (difference & ~Mask) != 0)) return false;
        }
        return true;
    }

    /// <summary>Gives the vCPU the recorded RFLAGS.</summary>
    public static void Adopt(IVcpuBackend vcpu, ulong recordedRflags)
    {
        var state = vcpu.CaptureState();
        state.Regs.Rflags = recordedRflags;
        vcpu.RestoreState(state);
    }
}
